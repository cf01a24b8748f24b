"""API: the workspace's event log (the outbox), newest first; webhook endpoints.

An endpoint's secret is in the response to its creation and to a rotation, never again.
The services in webhooks.services carry every rule (Pro plan, SSRF guard, event types).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from fluenzr.api import idempotency
from fluenzr.api.base import WorkspaceViewSet
from webhooks import selectors, services
from webhooks.models import Delivery, DeliveryAttempt, Endpoint, Event


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = Event
        fields = ["id", "type", "created_at", "data"]


class EventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceViewSet):
    """Everything that happened in the workspace, as webhooks will deliver it."""

    model = Event
    serializer_class = EventSerializer


class EndpointSerializer(serializers.ModelSerializer):
    url = serializers.CharField(
        max_length=services.URL_MAX_LENGTH,
        help_text="HTTPS URL on a public address, port 443 (or 80).",
    )
    event_types = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        max_length=100,
        help_text="Event types delivered; empty = every type.",
    )
    campaign_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="Only this campaign's events; null = all."
    )
    disabled_reason = serializers.SerializerMethodField()

    class Meta:
        model = Endpoint
        fields = [
            "id",
            "url",
            "description",
            "event_types",
            "campaign_id",
            "enabled",
            "disabled_reason",
            "status_since",
            "failing_since",
            "previous_secret_expires_at",
            "created_at",
        ]
        read_only_fields = [
            "id",
            "enabled",
            "status_since",
            "failing_since",
            "previous_secret_expires_at",
            "created_at",
        ]

    def get_disabled_reason(self, endpoint: Endpoint) -> str:
        return services.disabled_reason_text(endpoint)


class EndpointWithSecretSerializer(EndpointSerializer):
    secret = serializers.CharField(
        read_only=True,
        help_text="Signs every delivery (Standard Webhooks). Shown only in this response.",
    )

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]


def _with_secret(endpoint: Endpoint, secret: str) -> dict[str, Any]:
    return {**EndpointSerializer(endpoint).data, "secret": secret}


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = [
            "id",
            "created_at",
            "request_headers",
            "status_code",
            "latency_ms",
            "response_body",
            "error",
            "succeeded",
        ]


class DeliverySerializer(serializers.ModelSerializer):
    endpoint_id = serializers.UUIDField(read_only=True)
    event = EventSerializer(read_only=True)
    attempts_log = DeliveryAttemptSerializer(
        source="log", many=True, read_only=True, help_text="Every attempt, newest first."
    )

    class Meta:
        model = Delivery
        fields = [
            "id",
            "endpoint_id",
            "event",
            "status",
            "attempts",
            "next_attempt_at",
            "delivered_at",
            "last_status_code",
            "last_error",
            "created_at",
            "attempts_log",
        ]


DELIVERY_FILTERS = [
    OpenApiParameter("event_type", str, description="Only deliveries of this event type."),
    OpenApiParameter(
        "outcome",
        str,
        enum=sorted(selectors.OUTCOMES),
        description="succeeded, failed (gave up) or pending (still being retried).",
    ),
]


class EndpointViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    WorkspaceViewSet,
):
    """Webhook endpoints (Pro). Each receives the workspace's events, signed with its secret
    (Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`)."""

    model = Endpoint
    serializer_class = EndpointSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any):
        # The secret is never stored in clear: an Idempotency-Key replay answers secret=null
        # (rotate the secret if the first response was lost).
        record = self._idempotency_record
        if record is not None and isinstance(response.data, dict) and "secret" in response.data:
            self._idempotency_record = None
            redacted = Response({**response.data, "secret": None}, status=response.status_code)
            idempotency.finish(record, redacted)
        return super().finalize_response(request, response, *args, **kwargs)

    @extend_schema(request=EndpointSerializer, responses={201: EndpointWithSecretSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Add an endpoint. The response holds its secret (`whsec_…`): keep it, it is never
        shown again."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        endpoint, secret = services.endpoint_create(
            workspace=request.workspace,
            url=data["url"],
            description=data.get("description", ""),
            event_types=data.get("event_types", ()),
            campaign_id=data.get("campaign_id"),
        )
        return Response(_with_secret(endpoint, secret), status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        endpoint = self.get_object()
        serializer = self.get_serializer(endpoint, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        endpoint = services.endpoint_update(
            workspace=request.workspace, endpoint=endpoint, **changes
        )
        return Response(self.get_serializer(endpoint).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Delete the endpoint, with its deliveries and their log."""
        services.endpoint_delete(workspace=request.workspace, endpoint=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=EndpointWithSecretSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk: str | None = None) -> Response:
        """A new secret, in this response only. For 24 hours the previous one signs too
        (both signatures are sent), so your receiver can switch without missing a delivery."""
        endpoint = self.get_object()
        secret = services.endpoint_rotate_secret(workspace=request.workspace, endpoint=endpoint)
        return Response(_with_secret(endpoint, secret))

    @extend_schema(request=None, responses=EndpointSerializer)
    @action(detail=True, methods=["post"])
    def enable(self, request: Request, pk: str | None = None) -> Response:
        """Re-enable an endpoint FluenzR disabled (410 Gone, or days of failures)."""
        endpoint = services.endpoint_enable(workspace=request.workspace, endpoint=self.get_object())
        return Response(self.get_serializer(endpoint).data)

    @extend_schema(parameters=DELIVERY_FILTERS, responses=DeliverySerializer(many=True))
    @action(detail=True, methods=["get"])
    def deliveries(self, request: Request, pk: str | None = None) -> Response:
        """The endpoint's delivery log, newest first: each delivery with its attempts (request
        headers, status code, latency, the first 4 KB of the response, error)."""
        return endpoint_deliveries(self, request)

    @extend_schema(request=None, responses=DeliverySerializer)
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: str | None = None) -> Response:
        """Send a `webhook.test` event to this endpoint only, now; the delivery and its
        attempt."""
        delivery = services.endpoint_send_test(
            workspace=request.workspace, endpoint=self.get_object()
        )
        delivery = selectors.endpoint_deliveries(
            workspace=request.workspace, endpoint=delivery.endpoint
        ).get(pk=delivery.pk)
        return Response(DeliverySerializer(delivery).data)


class DeliveryViewSet(mixins.RetrieveModelMixin, WorkspaceViewSet):
    """One delivery of an event to an endpoint, with its attempts (the delivery log)."""

    model = Delivery
    serializer_class = DeliverySerializer

    def scope_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset.select_related("event").prefetch_related("log")

    @extend_schema(request=None, responses=DeliverySerializer)
    @action(detail=True, methods=["post"])
    def replay(self, request: Request, pk: str | None = None) -> Response:
        """Send this delivery again now, whatever its status: a new attempt with the same
        `webhook-id`, so a receiver that already has it can ignore it."""
        delivery = services.delivery_replay(workspace=request.workspace, delivery=self.get_object())
        return Response(self._full(delivery))

    def _full(self, delivery: Delivery) -> dict[str, Any]:
        return self.get_serializer(self.get_queryset().get(pk=delivery.pk)).data


def endpoint_deliveries(viewset: EndpointViewSet, request: Request) -> Response:
    endpoint = viewset.get_object()
    deliveries = selectors.endpoint_deliveries(
        workspace=request.workspace,
        endpoint=endpoint,
        event_type=request.query_params.get("event_type", ""),
        outcome=request.query_params.get("outcome", ""),
    )
    page = viewset.paginate_queryset(deliveries)
    return viewset.get_paginated_response(DeliverySerializer(page, many=True).data)
