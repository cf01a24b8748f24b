"""API: the suppression list."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from contacts import selectors, services
from contacts.models import Suppression, SuppressionReason
from fluenzr.api.base import WorkspaceViewSet


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
