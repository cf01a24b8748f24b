"""API: contacts, their filters, bulk create, unsubscribe and export."""

from __future__ import annotations

import uuid
from typing import Any

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from contacts import exporting, selectors, services
from contacts.api.common import lists_by_id, uuid_list
from contacts.importing.columns import IMPORT_FIELDS
from contacts.models import Contact, ContactSource, ContactStatus, OnDuplicate
from fluenzr.api.base import WorkspaceViewSet


class ContactSerializer(serializers.ModelSerializer):
    # Written as names and ids; read back by to_representation.
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50),
        required=False,
        write_only=True,
        help_text="Tag names.",
    )
    lists = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        write_only=True,
        help_text="Ids of the lists it belongs to.",
    )
    custom_fields = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=1000), required=False
    )
    status = serializers.ChoiceField(choices=ContactStatus.choices, required=False)

    class Meta:
        model = Contact
        fields = [
            "id",
            *IMPORT_FIELDS,
            "custom_fields",
            "status",
            "source",
            "source_import",
            "tags",
            "lists",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "source", "source_import", "created_at", "updated_at"]
        extra_kwargs = {"email": {"required": True}}

    def to_representation(self, contact: Contact) -> dict[str, Any]:
        data = super().to_representation(contact)
        data["tags"] = [tag.name for tag in contact.tags.all()]
        data["lists"] = [str(contact_list.pk) for contact_list in contact.lists.all()]
        return data


class ContactViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    WorkspaceViewSet,
):
    """Contacts. Filters: `list`, `tag`, `status`, `search` (email, name, company),
    `created_since` (ISO 8601)."""

    model = Contact
    serializer_class = ContactSerializer

    def scope_queryset(self, queryset):
        return selectors.contacts_filtered(
            workspace=self.request.workspace, filters=self._filters(), contacts=queryset
        ).prefetch_related("tags", "lists")

    def _filters(self) -> selectors.ContactFilters:
        if self.action not in ("list", "export"):
            return selectors.ContactFilters()
        params = self.request.query_params
        errors: dict[str, list[str]] = {}
        status_value = params.get("status", "")
        if status_value and status_value not in ContactStatus.values:
            errors["status"] = [
                _("Use one of: %(values)s.") % {"values": ", ".join(ContactStatus.values)}
            ]
        list_id = params.get("list", "")
        if list_id:
            try:
                uuid.UUID(list_id)
            except ValueError:
                errors["list"] = [_("Give the list's id (a UUID).")]
        created_since = None
        if params.get("created_since"):
            created_since = parse_datetime(params["created_since"])
            if created_since is None:
                errors["created_since"] = [
                    _("Use an ISO 8601 date and time, such as 2026-01-31T09:00:00Z.")
                ]
        if errors:
            raise ValidationError(errors)
        return selectors.ContactFilters(
            search=params.get("search", "")[:200],
            status=status_value,
            list_id=list_id,
            tag=params.get("tag", "")[:50],
            created_since=created_since,
        )

    def _write(self, request: Request, contact: Contact | None, partial: bool) -> Contact:
        serializer = self.get_serializer(contact, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        tags = data.pop("tags", None)
        list_ids = data.pop("lists", None)
        lists = None if list_ids is None else lists_by_id(request, list_ids, "lists")
        if contact is None:
            return services.contact_create(
                workspace=request.workspace,
                data=data,
                source=ContactSource.API,
                tags=tags or (),
                lists=lists or (),
            )
        return services.contact_update(
            workspace=request.workspace, contact=contact, data=data, tags=tags, lists=lists
        )

    def create(self, request: Request, *args: object, **kwargs: object) -> Response:
        contact = self._write(request, None, partial=False)
        return Response(self.get_serializer(contact).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: object, **kwargs: object) -> Response:
        partial = kwargs.get("partial", False)
        contact = self._write(request, self.get_object(), partial=bool(partial))
        return Response(self.get_serializer(contact).data)

    def destroy(self, request: Request, *args: object, **kwargs: object) -> Response:
        contact = self.get_object()
        services.contacts_delete(
            workspace=request.workspace,
            contacts=Contact.objects.for_workspace(request.workspace).filter(pk=contact.pk),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=inline_serializer(
            "ContactBulkCreateRequest",
            {
                "contacts": ContactSerializer(many=True),
                "on_duplicate": serializers.ChoiceField(
                    choices=OnDuplicate.choices, default=OnDuplicate.SKIP
                ),
                "list": serializers.UUIDField(required=False),
            },
        ),
        responses=inline_serializer(
            "ContactBulkCreateResult",
            {
                "created": serializers.IntegerField(),
                "updated": serializers.IntegerField(),
                "skipped": serializers.IntegerField(),
                "failed": serializers.IntegerField(),
                "results": serializers.ListField(child=serializers.DictField()),
            },
        ),
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        """Create up to 1,000 contacts; each item reports created, updated, skipped or its
        errors. `on_duplicate`: `skip` (default) or `update` existing contacts."""
        body = request.data
        if not isinstance(body, dict):
            raise ValidationError(
                {"contacts": [_('Send an object: {"contacts": [...], "on_duplicate": "skip"}.')]}
            )
        items = body.get("contacts")
        if not isinstance(items, list) or not items:
            raise ValidationError({"contacts": [_("Send a non-empty list of contacts.")]})
        on_duplicate = body.get("on_duplicate", OnDuplicate.SKIP)
        if on_duplicate not in OnDuplicate.values:
            raise ValidationError({"on_duplicate": [_("Use skip or update.")]})
        contact_list = None
        if body.get("list"):
            (contact_list,) = lists_by_id(request, uuid_list([body["list"]], "list"), "list")
        if len(items) > services.BULK_CREATE_MAX:
            raise ValidationError(
                {
                    "contacts": [
                        _("Send at most %(max)d contacts per request.")
                        % {"max": services.BULK_CREATE_MAX}
                    ]
                }
            )
        # Each item is checked by the service, so one bad item fails alone.
        outcome = services.contacts_bulk_create(
            workspace=request.workspace,
            items=items,
            update_existing=on_duplicate == OnDuplicate.UPDATE,
            contact_list=contact_list,
        )
        return Response(
            {
                "created": outcome.created,
                "updated": outcome.updated,
                "skipped": outcome.skipped,
                "failed": outcome.failed,
                "results": outcome.items,
            }
        )

    @extend_schema(request=None, responses=ContactSerializer)
    @action(detail=True, methods=["post"])
    def unsubscribe(self, request: Request, pk: str | None = None) -> Response:
        """Mark the contact unsubscribed and add the address to the suppression list."""
        contact = self.get_object()
        services.contact_unsubscribe(workspace=request.workspace, contact=contact, source="API")
        return Response(self.get_serializer(contact).data)

    @extend_schema(
        responses={(200, "text/csv"): OpenApiTypes.BINARY},
        parameters=[
            OpenApiParameter(name, str, required=False)
            for name in ("list", "tag", "status", "search", "created_since")
        ],
    )
    @action(detail=False, methods=["get"])
    def export(self, request: Request):
        """The contacts matching the filters, as CSV (UTF-8 with BOM, safe for Excel)."""
        contacts = selectors.contacts_filtered(workspace=request.workspace, filters=self._filters())
        return exporting.contacts_csv_response(
            workspace=request.workspace,
            contacts=contacts,
            custom_keys=selectors.custom_field_keys(workspace=request.workspace),
            filename="contacts.csv",
        )
