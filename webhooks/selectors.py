"""Read side of webhooks: endpoints, and an endpoint's delivery log with its attempts."""

from __future__ import annotations

from django.apps import apps
from django.db.models import Prefetch, QuerySet

from accounts.models import Workspace
from webhooks.events import EVENT_TYPES, TEST_EVENT_TYPE
from webhooks.models import Delivery, DeliveryAttempt, DeliveryStatus, Endpoint

# The outcome filter of the delivery log: what a reader asks, mapped onto statuses.
OUTCOMES: dict[str, tuple[str, ...]] = {
    "succeeded": (DeliveryStatus.SUCCEEDED,),
    "failed": (DeliveryStatus.FAILED,),
    "pending": (DeliveryStatus.PENDING, DeliveryStatus.DELIVERING),
}


def subscribable_event_types() -> list[str]:
    """The event types an endpoint can choose, sorted (the test event goes to one endpoint
    on demand only)."""
    return sorted(EVENT_TYPES - {TEST_EVENT_TYPE})


def endpoints(*, workspace: Workspace) -> QuerySet[Endpoint]:
    return Endpoint.objects.for_workspace(workspace).order_by("created_at")


def endpoint_deliveries(
    *,
    workspace: Workspace,
    endpoint: Endpoint,
    event_type: str = "",
    outcome: str = "",
) -> QuerySet[Delivery]:
    """The endpoint's deliveries, newest first, each with its event and its attempts (newest
    first) prefetched; filtered by event type and outcome (succeeded/failed/pending)."""
    deliveries = (
        Delivery.objects.for_workspace(workspace)
        .filter(endpoint=endpoint)
        .select_related("event")
        .prefetch_related(
            Prefetch(
                "log",
                queryset=DeliveryAttempt.objects.for_workspace(workspace).order_by("-created_at"),
            )
        )
        .order_by("-created_at", "-pk")
    )
    if event_type:
        deliveries = deliveries.filter(event__type=event_type)
    if outcome in OUTCOMES:
        deliveries = deliveries.filter(status__in=OUTCOMES[outcome])
    return deliveries


def campaign_choices(*, workspace: Workspace) -> list[tuple[str, str]]:
    """(id, name) of the workspace's campaigns, for an endpoint's campaign filter. Looked up
    by name: webhooks sits below campaigns and never imports it."""
    campaign = apps.get_model("campaigns", "Campaign")
    return [
        (str(pk), name)
        for pk, name in campaign.objects.for_workspace(workspace)
        .order_by("name")
        .values_list("pk", "name")
    ]
