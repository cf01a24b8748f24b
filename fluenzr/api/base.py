"""The API's base classes. Every endpoint inherits one of these.

`WorkspaceViewSet` does the tenant scoping once: its queryset is always the model's rows
of the key's workspace, and another workspace's id answers 404. Subclasses cannot replace
`get_queryset`/`get_object` (class creation fails); they may narrow with `scope_queryset`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import QuerySet
from rest_framework import viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.tenancy import WorkspaceOwnedModel
from fluenzr.api import idempotency


class WorkspaceAPIMixin:
    """Rate limits before plan checks, and Idempotency-Key, for every workspace endpoint."""

    _idempotency_record = None

    def check_permissions(self, request: Request) -> None:
        # DRF checks permissions, then rate limits. Counting first means a request refused
        # for its plan still counts, and carries the X-RateLimit-* headers like any other.
        super().check_throttles(request)
        super().check_permissions(request)

    def check_throttles(self, request: Request) -> None:
        """Done in check_permissions, before the plan check."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # authentication, rate limits, permissions
        self._idempotency_record = idempotency.begin(request)

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, idempotency.IdempotentReplay):
            return idempotency.replay(exc.record)
        try:
            return super().handle_exception(exc)
        except Exception:
            # An unexpected error: DRF re-raises it and never reaches finalize_response.
            if self._idempotency_record is not None:
                idempotency.release(self._idempotency_record)
                self._idempotency_record = None
            raise

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any):
        record = self._idempotency_record
        if record is not None:
            self._idempotency_record = None
            idempotency.finish(record, response)
        return super().finalize_response(request, response, *args, **kwargs)


class WorkspaceAPIView(WorkspaceAPIMixin, APIView):
    """A non-model endpoint about the key's workspace."""


_SCOPING_ATTRIBUTES = ("get_queryset", "get_object", "filter_queryset", "queryset")


class WorkspaceViewSet(WorkspaceAPIMixin, viewsets.GenericViewSet):
    model: ClassVar[type[WorkspaceOwnedModel]]
    lookup_field = "pk"
    lookup_value_converter = "uuid"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Compare what the class resolves to (mixins included) with this base's own.
        overridden = [
            name
            for name in _SCOPING_ATTRIBUTES
            if getattr(cls, name, None) is not getattr(WorkspaceViewSet, name, None)
        ]
        if overridden:
            raise TypeError(
                f"{cls.__name__} overrides {', '.join(overridden)}: workspace scoping lives in "
                "WorkspaceViewSet. Set `model` and narrow with scope_queryset() instead."
            )
        model = cls.__dict__.get("model")
        if model is not None and not issubclass(model, WorkspaceOwnedModel):
            raise TypeError(f"{cls.__name__}.model must be a WorkspaceOwnedModel.")

    def scope_queryset(self, queryset: QuerySet) -> QuerySet:
        """Narrow (filter, select_related, order) the workspace's rows. Never widen."""
        return queryset

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the schema
            return self.model.objects.unscoped().none()
        workspace = self.request.workspace
        return self.scope_queryset(self.model.objects.for_workspace(workspace)).filter(
            workspace=workspace
        )

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        # Filter backends narrow; the workspace filter is applied again after them.
        return super().filter_queryset(queryset).filter(workspace=self.request.workspace)
