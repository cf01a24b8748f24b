"""The event outbox: every state change a customer may care about, written in the same
transaction as the change itself. Webhook deliveries, timelines and stats read from here."""

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from accounts.tenancy import WorkspaceOwnedModel

# The id of the contact an event is about, as text: indexed, and what timelines filter on.
# (The cast makes the comparison a text one on SQLite too.)
EVENT_CONTACT_ID = Cast(KT("data__contact__id"), models.TextField())


class Event(WorkspaceOwnedModel):
    type = models.CharField(max_length=64, db_index=True)
    data = models.JSONField(default=dict, encoder=DjangoJSONEncoder)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["workspace", "-created_at"], name="event_ws_created"),
            # A contact's activity timeline (contacts.selectors.contact_timeline).
            models.Index("workspace", EVENT_CONTACT_ID, "created_at", name="event_ws_contact"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.pk}"
