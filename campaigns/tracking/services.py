"""Every write of tracking and unsubscribing: opens, clicks, one-click unsubscribe, and the
workspace's custom tracking domain.

The pixel and the redirect answer every request, fast, without the database: they push the
open or click onto a Redis list (campaigns.tracking.buffer), and `tracking_flush` writes the
list every few seconds, a chunk per transaction. `email.opened`/`email.clicked` is written for
the first human open (or click of a URL) of a message only, exactly once. Without Redis (the
embedded `make run`, or Redis down) each request writes directly, in one SQL statement (a
second for a first human one). A token that is not ours, or a message that no longer exists,
records nothing and never raises.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, Lookup, OuterRef, Q
from django.utils import timezone

from accounts.models import Workspace
from accounts.services import require_in_workspace
from campaigns.inbound.effects import unsubscribe_everywhere
from campaigns.models import (
    Campaign,
    Enrollment,
    OutboundMessage,
    TrackingEvent,
    TrackingKind,
)
from campaigns.payloads import campaign_payload
from campaigns.tracking import buffer, machines
from campaigns.tracking.tokens import PREVIEW_MESSAGE_ID, Purpose, read_token
from contacts.models import Contact, ContactStatus
from contacts.services.contacts import contact_payload
from webhooks.events import emit

# What an open's or click's event shows: the same shape as `email.sent`'s, so a receiver
# parses every email.* event alike.
_PAYLOAD_FIELDS = (
    "message_id",
    "step__position",
    "variant__label",
    "mailbox__email",
    *(f"enrollment__campaign__{name}" for name in ("id", "name", "status", "status_reason")),
    *(
        f"enrollment__contact__{name}"
        for name in ("id", "email", "first_name", "last_name", "company", "status")
    ),
)


def _email_payload(message_pk: uuid.UUID) -> dict[str, Any]:
    """Read only for a message's first human open or click (a mailbox's encrypted credentials,
    for one, are never loaded)."""
    row = OutboundMessage.objects.unscoped().filter(pk=message_pk).values_list(*_PAYLOAD_FIELDS)
    (message_id, position, label, mailbox_email, *rest) = row.get()
    campaign = Campaign(pk=rest[0], name=rest[1], status=rest[2], status_reason=rest[3])
    contact = Contact(
        pk=rest[4],
        email=rest[5],
        first_name=rest[6],
        last_name=rest[7],
        company=rest[8],
        status=rest[9],
    )
    return {
        "email": {
            "id": str(message_pk),
            "message_id": message_id,
            "step": position + 1,
            "variant": label,
            "mailbox": mailbox_email,
        },
        "campaign": campaign_payload(campaign),
        "contact": contact_payload(contact),
    }


# One statement does an open's or click's whole write on PostgreSQL: read the message, decide
# "too soon" against its sent_at, INSERT the event, and tell whether a human one was there
# before (the outer SELECT sees the table as it was before this INSERT). Kept to one table so
# that planning it (a statement Django cannot prepare) costs less than running it.
# `set_config(…, true)` turns synchronous_commit off for this transaction only: the commit does
# not wait for the disk. A database crash may lose the last fraction of a second of opens and
# clicks (never half of one: the event and its outbox row commit together), fine for telemetry
# and for nothing else.
_RECORD_SQL = """
WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true)),
message AS (
    SELECT id, workspace_id, (sent_at IS NULL OR sent_at > %(soon)s) AS too_soon
    FROM campaigns_outboundmessage WHERE id = %(message)s
),
written AS (
    INSERT INTO campaigns_trackingevent
        (id, workspace_id, created_at, message_id, kind, url, flagged, flag_reason, user_agent)
    SELECT %(id)s, message.workspace_id, %(now)s, message.id, %(kind)s, %(url)s,
        %(reason)s <> '' OR message.too_soon,
        CASE WHEN %(reason)s <> '' THEN %(reason)s WHEN message.too_soon THEN 'too_soon'
            ELSE '' END,
        %(agent)s
    FROM message, relaxed
    RETURNING flagged, workspace_id
)
SELECT written.flagged, written.workspace_id, EXISTS (
    SELECT 1 FROM campaigns_trackingevent earlier
    WHERE earlier.message_id = %(message)s AND earlier.kind = %(kind)s AND NOT earlier.flagged
        AND earlier.url = %(url)s
) FROM written
"""


@dataclass(frozen=True)
class _Written:
    id: uuid.UUID
    flagged: bool
    workspace_id: uuid.UUID
    seen: bool  # a human event of this kind (and URL) was there before


def _write_event(
    *, message_id: uuid.UUID, kind: str, url: str, user_agent: str, reason: str, now: datetime
) -> _Written | None:
    """Writes the event; None when the message does not exist."""
    event_id = uuid.uuid4()
    if connection.vendor == "postgresql":
        params = {
            "id": event_id,
            "message": message_id,
            "soon": now - timedelta(seconds=settings.TRACKING_MACHINE_SECONDS),
            "now": now,
            "kind": kind,
            "url": url,
            "reason": reason,
            "agent": user_agent[:300],
        }
        with connection.cursor() as cursor:
            cursor.execute(_RECORD_SQL, params)
            row = cursor.fetchone()
        if row is None:
            return None
        return _Written(id=event_id, flagged=row[0], workspace_id=row[1], seen=row[2])
    # Elsewhere (the embedded SQLite of `make run`), the same in two statements.
    earlier_human = TrackingEvent.objects.unscoped().filter(
        message=OuterRef("pk"), kind=kind, flagged=False, url=url
    )
    found = (
        OutboundMessage.objects.unscoped()
        .filter(pk=message_id)
        .annotate(seen=Exists(earlier_human))
        .values_list("workspace_id", "sent_at", "seen")
        .first()
    )
    if found is None:
        return None
    workspace_id, sent_at, seen = found
    reason = reason or ("too_soon" if machines.too_soon(sent_at, now) else "")
    TrackingEvent(
        id=event_id,
        workspace_id=workspace_id,
        message_id=message_id,
        kind=kind,
        url=url,
        flagged=bool(reason),
        flag_reason=reason,
        user_agent=user_agent[:300],
    ).save(force_insert=True)
    return _Written(id=event_id, flagged=bool(reason), workspace_id=workspace_id, seen=seen)


# Opens and clicks ---------------------------------------------------------------------------


@transaction.atomic
def _record(
    *, message_id: uuid.UUID, kind: str, url: str, user_agent: str, reason: str, now: datetime
) -> bool:
    """Writes one TrackingEvent and, when it is the message's first human one (of this URL,
    for clicks), emits `email.opened`/`email.clicked` in the same transaction. Returns False
    when the message does not exist."""
    written = _write_event(
        message_id=message_id, kind=kind, url=url, user_agent=user_agent, reason=reason, now=now
    )
    if written is None:
        return False
    if written.flagged or written.seen:  # the common case: one statement, no event
        return True
    # Perhaps the first: two first opens at the same instant queue here, and the second sees the
    # first's committed row. (FOR NO KEY UPDATE leaves the opens' foreign-key locks alone.)
    _lock_messages([message_id])
    if (message_id, kind, url) in _human_seen(message_ids=[message_id], excluding=[written.id]):
        return True
    _emit_first(workspace_id=written.workspace_id, message_id=message_id, kind=kind, url=url)
    return True


class _AnyOf(Lookup):
    """`field = ANY(%s)` with one array: a flush's thousand ids as a thousand placeholders
    cost more to send than the query costs to run (PostgreSQL)."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", [*params, list(self.rhs)]


def _among(field: str, ids: list[uuid.UUID]) -> Q | _AnyOf:
    if connection.vendor != "postgresql":
        return Q(**{f"{field}__in": ids})
    return _AnyOf(F(field), ids)


def _lock_messages(message_ids: list[uuid.UUID]) -> None:
    """Serialises the first-human decision per message (in id order: no deadlock between two
    writers locking several)."""
    list(
        OutboundMessage.objects.unscoped()
        .select_for_update(no_key=True)
        .filter(_among("pk", message_ids))
        .order_by("pk")
        .values_list("pk")
    )


def _human_seen(
    *, message_ids: list[uuid.UUID], excluding: list[uuid.UUID]
) -> set[tuple[uuid.UUID, str, str]]:
    """(message, kind, url) of the human events these messages already had."""
    return set(
        TrackingEvent.objects.unscoped()
        .filter(_among("message_id", message_ids), flagged=False)
        .exclude(_among("pk", excluding))
        .order_by()  # not by created_at: DISTINCT would then keep every row
        .values_list("message_id", "kind", "url")
        .distinct()
    )


def _emit_first(*, workspace_id: uuid.UUID, message_id: uuid.UUID, kind: str, url: str) -> None:
    data = _email_payload(message_id)
    if kind == TrackingKind.CLICK:
        data["url"] = url
    emit(
        workspace=Workspace(pk=workspace_id),
        type="email.opened" if kind == TrackingKind.OPEN else "email.clicked",
        data=data,
    )


def _track(
    *, message_id: uuid.UUID, kind: str, url: str, user_agent: str, reason: str, now: datetime
) -> None:
    """Queues the open or click for `tracking_flush`; written at once when it cannot be."""
    item = {
        "id": str(uuid.uuid4()),
        "message": str(message_id),
        "kind": kind,
        "url": url,
        "agent": user_agent[:300],
        "reason": reason,
        "at": now.isoformat(),
    }
    # The flush's INSERT is PostgreSQL's; elsewhere (the embedded SQLite) always direct.
    if connection.vendor != "postgresql" or not buffer.push(item):
        _record(
            message_id=message_id, kind=kind, url=url, user_agent=user_agent, reason=reason, now=now
        )


# The buffer's chunk in one statement, one array per column (PostgreSQL): an event already
# written (a chunk written twice) is left alone, and RETURNING names only the new ones.
_INSERT_SQL = """
INSERT INTO campaigns_trackingevent
    (id, workspace_id, created_at, message_id, kind, url, flagged, flag_reason, user_agent)
SELECT * FROM unnest(%s::uuid[], %s::uuid[], %s::timestamptz[], %s::uuid[], %s::text[],
    %s::text[], %s::boolean[], %s::text[], %s::text[])
ON CONFLICT (id) DO NOTHING
RETURNING id
"""
_INSERT_COLUMNS = (
    "id",
    "workspace_id",
    "created_at",
    "message_id",
    "kind",
    "url",
    "flagged",
    "flag_reason",
    "user_agent",
)


def _insert_new(events: list[TrackingEvent]) -> set[uuid.UUID]:
    """INSERTs the events (created_at as given, not now) and returns the ids that were new."""
    columns = [[getattr(event, name) for event in events] for name in _INSERT_COLUMNS]
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_SQL, columns)
        return {value for (value,) in cursor.fetchall()}


@transaction.atomic
def _flush_chunk(items: list[dict[str, Any]]) -> None:
    """Writes one chunk of the buffer: events of messages that still exist, each flagged as
    `_record` would have, and `email.opened`/`email.clicked` for the first human ones."""
    messages = {
        pk: (workspace_id, sent_at)
        for pk, workspace_id, sent_at in OutboundMessage.objects.unscoped()
        .filter(_among("pk", list({uuid.UUID(item["message"]) for item in items})))
        .values_list("pk", "workspace_id", "sent_at")
    }
    events = []
    for item in items:
        message_id = uuid.UUID(item["message"])
        if message_id not in messages:
            continue
        workspace_id, sent_at = messages[message_id]
        at = datetime.fromisoformat(item["at"])
        reason = item["reason"] or ("too_soon" if machines.too_soon(sent_at, at) else "")
        events.append(
            TrackingEvent(
                id=uuid.UUID(item["id"]),
                workspace_id=workspace_id,
                created_at=at,
                message_id=message_id,
                kind=item["kind"],
                url=item["url"],
                flagged=bool(reason),
                flag_reason=reason,
                user_agent=item["agent"][:300],
            )
        )
    if not events:
        return
    new = _insert_new(events)
    # The first human ones of this chunk per (message, kind, url), in the order they came.
    firsts: dict[tuple[uuid.UUID, str, str], uuid.UUID] = {}
    for event in events:
        if event.pk in new and not event.flagged:
            firsts.setdefault((event.message_id, event.kind, event.url), event.workspace_id)
    if not firsts:
        return
    concerned = sorted({message_id for message_id, _kind, _url in firsts})
    _lock_messages(concerned)
    seen = _human_seen(message_ids=concerned, excluding=list(new))
    for (message_id, kind, url), workspace_id in firsts.items():
        if (message_id, kind, url) not in seen:
            _emit_first(workspace_id=workspace_id, message_id=message_id, kind=kind, url=url)


def tracking_flush() -> int:
    """Writes the opens and clicks waiting in Redis; returns how many were taken."""
    return buffer.drain(_flush_chunk)


def open_record(*, token: str, user_agent: str, ip: str, now: datetime | None = None) -> None:
    """The pixel was loaded. Bad tokens and unknown messages are ignored."""
    signed = read_token(Purpose.OPEN, token)
    if signed is None or signed.message_id == PREVIEW_MESSAGE_ID:
        return
    _track(
        message_id=signed.message_id,
        kind=TrackingKind.OPEN,
        url="",
        user_agent=user_agent,
        reason=machines.open_agent_flag(user_agent=user_agent, ip=ip),
        now=now or timezone.now(),
    )


def click_record(
    *, token: str, user_agent: str, ip: str, method: str = "GET", now: datetime | None = None
) -> str | None:
    """A tracked link was followed: returns where to send the browser (the URL inside the
    signature, nothing else), or None for a token that is not ours. A valid token whose
    message is gone (or a preview's) still redirects: the URL was signed by us."""
    signed = read_token(Purpose.CLICK, token)
    if signed is None:
        return None
    if signed.message_id != PREVIEW_MESSAGE_ID:
        _track(
            message_id=signed.message_id,
            kind=TrackingKind.CLICK,
            url=signed.url,
            user_agent=user_agent,
            reason=machines.click_agent_flag(user_agent=user_agent, ip=ip, method=method),
            now=now or timezone.now(),
        )
    return signed.url


def click_target(*, token: str) -> str | None:
    """Where a click token points, without recording anything (the database is down)."""
    signed = read_token(Purpose.CLICK, token)
    return signed.url if signed is not None else None


# Unsubscribe --------------------------------------------------------------------------------


class Unsubscribe(enum.Enum):
    DONE = "done"  # unsubscribed now, or already before (the answer is the same)
    PREVIEW = "preview"  # a test email's link: nobody to unsubscribe
    BROKEN = "broken"  # not our token, or the email it came from no longer exists


@transaction.atomic
def contact_unsubscribe_from_message(*, workspace: Workspace, message: OutboundMessage) -> bool:
    """The recipient of `message` asked to hear no more from this workspace: the address is
    suppressed, the contact marked unsubscribed (`contact.unsubscribed` once), and every
    sequence it is in stops. Idempotent; returns True when this call changed the contact."""
    require_in_workspace(message, workspace)
    enrollment = Enrollment.objects.for_workspace(workspace).get(pk=message.enrollment_id)
    contact = (
        Contact.objects.for_workspace(workspace).select_for_update().get(pk=enrollment.contact_id)
    )
    changed = contact.status != ContactStatus.UNSUBSCRIBED
    unsubscribe_everywhere(
        workspace=workspace, contact=contact, source="Unsubscribe link in an email"
    )
    return changed


def unsubscribe_by_token(*, token: str) -> Unsubscribe:
    """The unsubscribe link's POST (RFC 8058 one-click, or the confirmation page's button)."""
    signed = read_token(Purpose.UNSUBSCRIBE, token)
    if signed is None:
        return Unsubscribe.BROKEN
    if signed.message_id == PREVIEW_MESSAGE_ID:
        return Unsubscribe.PREVIEW
    message = (
        OutboundMessage.objects.unscoped()
        .select_related("workspace")
        .filter(pk=signed.message_id)
        .first()
    )
    if message is None:
        return Unsubscribe.BROKEN
    contact_unsubscribe_from_message(workspace=message.workspace, message=message)
    return Unsubscribe.DONE


def unsubscribe_token_state(*, token: str) -> Unsubscribe | None:
    """For the confirmation page (a GET changes nothing): None while the link can be used."""
    signed = read_token(Purpose.UNSUBSCRIBE, token)
    if signed is None:
        return Unsubscribe.BROKEN
    if signed.message_id == PREVIEW_MESSAGE_ID:
        return Unsubscribe.PREVIEW
    if not OutboundMessage.objects.unscoped().filter(pk=signed.message_id).exists():
        return Unsubscribe.BROKEN
    return None
