"""`emit()`: the outbox's contract. Callers hand over finished data; the outbox builds none.

The row is written in the caller's transaction, so an event exists if and only if the change
it describes was committed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from webhooks.models import Event

if TYPE_CHECKING:
    from accounts.models import Workspace

# The catalogue. An unknown type is a programming error (a typo would silently never match
# a customer's subscription), so emit() refuses it.
EVENT_TYPES: frozenset[str] = frozenset(
    {
        "member.invited",
        "member.joined",
        "member.removed",
        "api_key.created",
        "api_key.revoked",
        "contact.created",
        "contact.unsubscribed",
        "import.completed",
        "account.connected",
        "account.error",
        "account.paused",
        "account.resumed",
        "account.disconnected",
        "account.deleted",
        "campaign.launched",
        "campaign.paused",
        "campaign.resumed",
        "campaign.completed",
        "email.sent",
        "email.bounced",
        "email.failed",
        "email.opened",
        "email.clicked",
        "email.replied",
        "email.auto_replied",
        "lead.status_changed",
        "webhook.test",
    }
)
# Sent by "Send test event" to one endpoint only (never fanned out to the others).
TEST_EVENT_TYPE = "webhook.test"


class UnknownEventType(ValueError):
    pass


def _require_known(type: str) -> None:
    if type not in EVENT_TYPES:
        raise UnknownEventType(f"{type!r} is not in webhooks.events.EVENT_TYPES; add it there.")


def emit(*, workspace: Workspace, type: str, data: dict[str, Any]) -> Event:
    _require_known(type)
    return Event.objects.create(workspace=workspace, type=type, data=data)


def emit_many(*, workspace: Workspace, type: str, data: list[dict[str, Any]]) -> list[Event]:
    """One event per item of `data`, in one INSERT (bulk writes emit one event per object)."""
    _require_known(type)
    return Event.objects.for_workspace(workspace).bulk_create(
        [Event(workspace=workspace, type=type, data=item) for item in data]
    )
