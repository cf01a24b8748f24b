"""API: lists of contacts."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from contacts import services
from contacts.models import Contact, ContactList
from fluenzr.api.base import WorkspaceViewSet


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
