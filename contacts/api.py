"""API: contacts, lists, the suppression list and CSV imports."""

from __future__ import annotations

import json
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

from accounts.errors import ServiceError
from contacts import exporting, selectors, services
from contacts.importing import service as imports
from contacts.importing.columns import CUSTOM_PREFIX, IGNORE, IMPORT_FIELDS
from contacts.models import (
    Contact,
    ContactList,
    ContactStatus,
    Import,
    OnDuplicate,
    Suppression,
    SuppressionReason,
)
from fluenzr.api.base import WorkspaceViewSet

CONTACT_WRITE_FIELDS = [*IMPORT_FIELDS, "custom_fields"]


def _uuid_list(value: Any, field: str) -> list[uuid.UUID]:
    if not isinstance(value, list):
        raise ValidationError({field: [_("Send a list of ids.")]})
    try:
        return [uuid.UUID(str(item)) for item in value]
    except ValueError:
        raise ValidationError({field: [_("Every item must be an id (a UUID).")]}) from None


def _lists_by_id(request: Request, ids: list[uuid.UUID], field: str) -> list[ContactList]:
    found = {
        c.pk: c for c in ContactList.objects.for_workspace(request.workspace).filter(pk__in=ids)
    }
    missing = [str(pk) for pk in ids if pk not in found]
    if missing:
        raise ValidationError(
            {field: [_("No list with id %(ids)s in this workspace.") % {"ids": ", ".join(missing)}]}
        )
    return [found[pk] for pk in ids]


# Contacts ------------------------------------------------------------------------------------


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
        lists = None if list_ids is None else _lists_by_id(request, list_ids, "lists")
        if contact is None:
            return services.contact_create(
                workspace=request.workspace,
                data=data,
                source="api",
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
        items = body.get("contacts")
        if not isinstance(items, list) or not items:
            raise ValidationError({"contacts": [_("Send a non-empty list of contacts.")]})
        on_duplicate = body.get("on_duplicate", OnDuplicate.SKIP)
        if on_duplicate not in OnDuplicate.values:
            raise ValidationError({"on_duplicate": [_("Use skip or update.")]})
        contact_list = None
        if body.get("list"):
            (contact_list,) = _lists_by_id(request, _uuid_list([body["list"]], "list"), "list")
        if len(items) > services.BULK_CREATE_MAX:
            raise ValidationError(
                {
                    "contacts": [
                        _("Send at most %(max)d contacts per request.")
                        % {"max": services.BULK_CREATE_MAX}
                    ]
                }
            )
        valid_items, results = [], {}
        for index, item in enumerate(items):
            serializer = ContactSerializer(data=item if isinstance(item, dict) else {})
            if serializer.is_valid():
                data = dict(serializer.validated_data)
                data.pop("lists", None)
                valid_items.append((index, data))
            else:
                results[index] = {"index": index, "status": "error", "errors": serializer.errors}
        outcome = services.contacts_bulk_create(
            workspace=request.workspace,
            items=[data for _index, data in valid_items],
            update_existing=on_duplicate == OnDuplicate.UPDATE,
            contact_list=contact_list,
        )
        for (index, _data), item in zip(valid_items, outcome.items, strict=True):
            results[index] = {**item, "index": index}
        return Response(
            {
                "created": outcome.created,
                "updated": outcome.updated,
                "skipped": outcome.skipped,
                "failed": outcome.failed + len(items) - len(valid_items),
                "results": [results[i] for i in range(len(items))],
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


# Lists ---------------------------------------------------------------------------------------


class ContactListSerializer(serializers.ModelSerializer):
    contact_count = serializers.SerializerMethodField()

    class Meta:
        model = ContactList
        fields = ["id", "name", "description", "contact_count", "created_at"]
        read_only_fields = ["id", "created_at"]

    def get_contact_count(self, contact_list: ContactList) -> int:
        size = getattr(contact_list, "size", None)
        return size if size is not None else contact_list.contacts.count()


class ContactIdsSerializer(serializers.Serializer):
    contact_ids = serializers.ListField(child=serializers.UUIDField(), max_length=10_000)


class ContactListViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    WorkspaceViewSet,
):
    """Lists of contacts. Deleting a list never deletes its contacts."""

    model = ContactList
    serializer_class = ContactListSerializer

    def perform_create(self, serializer: ContactListSerializer) -> None:
        serializer.instance = services.list_create(
            workspace=self.request.workspace, **serializer.validated_data
        )

    def perform_update(self, serializer: ContactListSerializer) -> None:
        instance = serializer.instance
        serializer.instance = services.list_update(
            workspace=self.request.workspace,
            contact_list=instance,
            name=serializer.validated_data.get("name", instance.name),
            description=serializer.validated_data.get("description", instance.description),
        )

    def perform_destroy(self, instance: ContactList) -> None:
        services.list_delete(workspace=self.request.workspace, contact_list=instance)

    @extend_schema(
        request=ContactIdsSerializer,
        responses=inline_serializer("ListMembershipResult", {"count": serializers.IntegerField()}),
    )
    @action(detail=True, methods=["post", "delete"], url_path="contacts")
    def contacts(self, request: Request, pk: str | None = None) -> Response:
        """POST adds the contacts to the list, DELETE removes them (the contacts stay)."""
        contact_list = self.get_object()
        serializer = ContactIdsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        contacts = Contact.objects.for_workspace(request.workspace).filter(
            pk__in=serializer.validated_data["contact_ids"]
        )
        change = (
            services.list_add_contacts
            if request.method == "POST"
            else services.list_remove_contacts
        )
        count = change(workspace=request.workspace, contact_list=contact_list, contacts=contacts)
        return Response({"count": count})


# Suppression list ---------------------------------------------------------------------------


class SuppressionSerializer(serializers.ModelSerializer):
    value = serializers.CharField(
        max_length=254, help_text="An email address, or a domain such as acme.com."
    )
    reason = serializers.ChoiceField(
        choices=SuppressionReason.choices, default=SuppressionReason.MANUAL
    )

    class Meta:
        model = Suppression
        fields = ["id", "kind", "value", "reason", "source", "created_at"]
        read_only_fields = ["id", "kind", "source", "created_at"]


class SuppressionViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    WorkspaceViewSet,
):
    """Addresses and domains never emailed. Entries outlive the contacts they came from."""

    model = Suppression
    serializer_class = SuppressionSerializer

    def create(self, request: Request, *args: object, **kwargs: object) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        suppression, created = services.suppression_add(
            workspace=request.workspace,
            value=serializer.validated_data["value"],
            reason=serializer.validated_data["reason"],
            source="API",
        )
        return Response(
            self.get_serializer(suppression).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    def perform_destroy(self, instance: Suppression) -> None:
        services.suppression_remove(workspace=self.request.workspace, suppression=instance)

    @extend_schema(
        parameters=[OpenApiParameter("email", str, required=True)],
        responses=inline_serializer(
            "SuppressionCheck",
            {
                "email": serializers.CharField(),
                "allowed": serializers.BooleanField(),
                "reason": serializers.CharField(),
                "suppression": serializers.UUIDField(allow_null=True),
            },
        ),
    )
    @action(detail=False, methods=["get"])
    def check(self, request: Request) -> Response:
        """May this address be emailed? No when it, its domain, or its contact's status
        (bounced, unsubscribed, archived) says so."""
        email = request.query_params.get("email", "").strip()
        if not email:
            raise ValidationError({"email": [_("Give the address to check: ?email=…")]})
        if "@" not in email:
            raise ValidationError(
                {"email": [_("“%(email)s” is not an email address.") % {"email": email}]}
            )
        verdict = selectors.email_sendability(workspace=request.workspace, email=email)
        return Response(
            {
                "email": email,
                "allowed": verdict.allowed,
                "reason": verdict.reason,
                "suppression": verdict.suppression.pk if verdict.suppression else None,
            }
        )


# Imports -------------------------------------------------------------------------------------


class ImportSerializer(serializers.ModelSerializer):
    created = serializers.IntegerField(source="created_count", read_only=True)
    updated = serializers.IntegerField(source="updated_count", read_only=True)
    skipped_duplicates = serializers.IntegerField(source="duplicate_count", read_only=True)
    invalid = serializers.IntegerField(source="invalid_count", read_only=True)
    list = serializers.UUIDField(source="target_list_id", read_only=True, allow_null=True)
    errors_url = serializers.SerializerMethodField()

    class Meta:
        model = Import
        fields = [
            "id",
            "number",
            "filename",
            "status",
            "progress_percent",
            "rows_read",
            "created",
            "updated",
            "skipped_duplicates",
            "invalid",
            "error",
            "encoding",
            "delimiter",
            "headers",
            "mapping",
            "list",
            "on_duplicate",
            "errors_url",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_errors_url(self, source_import: Import) -> str:
        return f"/api/v1/imports/{source_import.pk}/errors/"


class ImportCreateSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A CSV file with a header row.")
    mapping = serializers.CharField(
        required=False,
        help_text=(
            "JSON object of column header → contact field (email, first_name, …), "
            '"custom:<key>", or "" to ignore. Columns left out keep the automatic choice.'
        ),
    )
    list = serializers.UUIDField(required=False, help_text="Add every imported contact to it.")
    on_duplicate = serializers.ChoiceField(choices=OnDuplicate.choices, default=OnDuplicate.SKIP)


def _mapping_from(raw: str | None, source_import: Import) -> list[str]:
    mapping = list(source_import.mapping)
    if not raw:
        return mapping
    try:
        chosen = json.loads(raw)
    except ValueError:
        chosen = None
    if not isinstance(chosen, dict):
        raise ServiceError(
            _('Send the mapping as a JSON object, such as {"Courriel": "email"}.'), field="mapping"
        )
    headers = source_import.headers
    for header, target in chosen.items():
        if header not in headers:
            raise ServiceError(
                _("There is no column “%(header)s” in the file. Its columns are: %(headers)s.")
                % {"header": header, "headers": ", ".join(headers)},
                field="mapping",
            )
        target = str(target or IGNORE)
        if target and target not in IMPORT_FIELDS and not target.startswith(CUSTOM_PREFIX):
            raise ServiceError(
                _(
                    "“%(target)s” is not a contact field. Use one of %(fields)s, "
                    '“custom:<name>” for a custom field, or "" to skip the column.'
                )
                % {"target": target, "fields": ", ".join(IMPORT_FIELDS)},
                field="mapping",
            )
        mapping[headers.index(header)] = target
    return mapping


class ImportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceViewSet):
    """CSV imports. POST (multipart) uploads a file and starts importing it in the background;
    poll GET /imports/{id}/ for `status` and `progress_percent`."""

    model = Import
    serializer_class = ImportSerializer

    @extend_schema(
        request={"multipart/form-data": ImportCreateSerializer}, responses=ImportSerializer
    )
    def create(self, request: Request) -> Response:
        form = ImportCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        target_list = None
        if data.get("list"):
            (target_list,) = _lists_by_id(request, [data["list"]], "list")
        draft = imports.import_create(workspace=request.workspace, actor=None, upload=data["file"])
        try:
            started = imports.import_start(
                workspace=request.workspace,
                source_import=draft,
                mapping=_mapping_from(data.get("mapping"), draft),
                target_list=target_list,
                on_duplicate=data["on_duplicate"],
            )
        except ServiceError:
            imports.import_discard(workspace=request.workspace, source_import=draft)
            raise
        return Response(ImportSerializer(started).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def errors(self, request: Request, pk: str | None = None):
        """The skipped rows, as CSV: line number, email, reason."""
        return exporting.import_errors_csv_response(self.get_object())
