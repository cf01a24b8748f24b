"""API: CSV imports."""

from __future__ import annotations

import json

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.errors import ServiceError
from contacts import exporting
from contacts.api.common import lists_by_id
from contacts.importing import service as imports
from contacts.importing.columns import CUSTOM_PREFIX, IGNORE, IMPORT_FIELDS
from contacts.models import Import, OnDuplicate
from fluenzr.api.base import WorkspaceViewSet


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
            (target_list,) = lists_by_id(request, [data["list"]], "list")
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
