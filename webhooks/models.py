"""The event outbox: every state change a customer may care about, written in the same
transaction as the change itself. Webhook deliveries, timelines and stats read from here."""

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.tenancy import WorkspaceOwnedModel
from fluenzr.fields import EncryptedTextField
from webhooks.failures import failure_for_reader

# The id of the contact an event is about, as text: indexed, and what timelines filter on.
# (The cast makes the comparison a text one on SQLite too.)
EVENT_CONTACT_ID = Cast(KT("data__contact__id"), models.TextField())


class Event(WorkspaceOwnedModel):
    type = models.CharField(max_length=64, db_index=True)
    data = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    # Set once its deliveries (one per subscribed endpoint) are written: the fan-out's queue.
    fanned_out_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["created_at"],
                name="event_to_fan_out",
                condition=models.Q(fanned_out_at__isnull=True),
            ),
            models.Index(fields=["workspace", "-created_at"], name="event_ws_created"),
            # A contact's activity timeline (contacts.selectors.contact_timeline).
            models.Index("workspace", EVENT_CONTACT_ID, "created_at", name="event_ws_contact"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.pk}"


class Endpoint(WorkspaceOwnedModel):
    """A customer's HTTPS receiver. Its secret (`whsec_…`) signs every delivery (Standard
    Webhooks); during a rotation the previous one signs too, until it expires."""

    url = models.URLField(_("URL"), max_length=2000)
    description = models.CharField(_("description"), max_length=300, blank=True)
    event_types = models.JSONField(default=list, blank=True)  # [] = every event type
    # Only this campaign's events (its id in the event's data); null = every campaign.
    campaign_id = models.UUIDField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True)  # FluenzR's English text
    status_since = models.DateTimeField(null=True, blank=True)
    secret = EncryptedTextField(editable=False)
    previous_secret = EncryptedTextField(blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    # The first failure of the current run of failures: after about three days of them the
    # endpoint is disabled and the workspace's owners are told.
    failing_since = models.DateTimeField(null=True, blank=True)
    max_in_flight = models.PositiveSmallIntegerField(default=4)  # one slow receiver's share

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("delivery", "Pending")
    DELIVERING = "delivering", pgettext_lazy("delivery", "Delivering")
    SUCCEEDED = "succeeded", pgettext_lazy("delivery", "Delivered")
    FAILED = "failed", pgettext_lazy("delivery", "Failed (gave up)")


class Delivery(WorkspaceOwnedModel):
    """One event for one endpoint: written once (unique), so a re-run of the fan-out never
    duplicates; claimed with FOR UPDATE SKIP LOCKED and a lease a dead worker's claim expires
    from."""

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    leased_until = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["endpoint", "event"], name="delivery_once")]
        indexes = [
            # The claim's per-endpoint question: its oldest due deliveries. With the id, the
            # index alone gives them in the claim's order: a fan-out writes a thousand
            # deliveries with the same time, which would otherwise be sorted at every claim.
            # It is the only index on pending deliveries, so that statistics taken while
            # nothing was pending (a quiet night before a burst) cannot steer the planner to
            # scanning every pending delivery of every endpoint instead.
            models.Index(
                fields=["endpoint", "next_attempt_at", "id"],
                name="delivery_endpoint_due",
                condition=models.Q(status="pending"),
            ),
            models.Index(
                fields=["endpoint", "leased_until"],
                name="delivery_in_flight",
                condition=models.Q(status="delivering"),
            ),
        ]

    @property
    def last_error_display(self) -> str:
        """The last failure in the reader's language (stored in English)."""
        return failure_for_reader(self.last_error)


class DeliveryAttempt(WorkspaceOwnedModel):
    """One HTTP request and what came back: the delivery log."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="log")
    request_headers = models.JSONField(default=dict)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)  # the first 4 KB
    error = models.CharField(max_length=500, blank=True)
    succeeded = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]

    @property
    def error_display(self) -> str:
        """The failure in the reader's language (stored in English)."""
        return failure_for_reader(self.error)
