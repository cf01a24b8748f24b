"""The event outbox: every state change a customer may care about, written in the same
transaction as the change itself. Webhook deliveries, timelines and stats read from here."""

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from accounts.tenancy import WorkspaceOwnedModel


class Event(WorkspaceOwnedModel):
    type = models.CharField(max_length=64, db_index=True)
    data = models.JSONField(default=dict, encoder=DjangoJSONEncoder)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["workspace", "-created_at"], name="event_ws_created")]

    def __str__(self) -> str:
        return f"{self.type} {self.pk}"
