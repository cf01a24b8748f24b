"""/api/v1/enrollments: one contact in one campaign, why it waits, and its preview."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.errors import ServiceError
from campaigns import selectors
from campaigns.api.serializers import EnrollmentSerializer, ExplanationSerializer, PreviewSerializer
from campaigns.models import Enrollment
from fluenzr.api.base import WorkspaceViewSet


class EnrollmentViewSet(mixins.RetrieveModelMixin, WorkspaceViewSet):
    """One contact in one campaign."""

    model = Enrollment
    serializer_class = EnrollmentSerializer

    def scope_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset.select_related("contact", "campaign", "mailbox")

    @extend_schema(responses=ExplanationSerializer)
    @action(detail=True, methods=["get"])
    def explain(self, request: Request, pk: str | None = None) -> Response:
        """Why this contact has not been emailed yet: the next due time and what holds it."""
        result = selectors.explain(enrollment=self.get_object())
        return Response(
            {"status": result.status, "next_at": result.next_at, "reasons": result.reasons}
        )

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "step",
                OpenApiTypes.INT,
                description="The step's position (0 = the first email); default: its next.",
            )
        ],
        responses=PreviewSerializer,
    )
    @action(detail=True, methods=["get"])
    def preview(self, request: Request, pk: str | None = None) -> Response:
        """The exact email this contact gets for a step (same variant, same spintax)."""
        enrollment = self.get_object()
        steps = enrollment.campaign.steps.prefetch_related("variants")
        raw = request.query_params.get("step")
        try:
            position = enrollment.next_position if raw is None else int(raw)
        except ValueError:
            position = -1
        step = steps.filter(position=position).first() if position >= 0 else None
        if step is None and raw is None:
            step = steps.order_by("-position").first()
        if step is None:
            raise ValidationError({"step": [_("No email at this position in the campaign.")]})
        if enrollment.mailbox is None and not enrollment.campaign.mailboxes.exists():
            raise ServiceError(_("Choose a mailbox to send from first."))
        result = selectors.preview(enrollment=enrollment, step=step)
        return Response({"subject": result.subject, "body": result.body})
