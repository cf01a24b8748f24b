"""A mailbox's daily quota, counted per local day of the mailbox and shared by everything that
sends from it (campaigns, warming): reserved before a send, given back if it did not happen."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from django.db import connection
from django.db.models import F
from django.utils import timezone

from email_accounts import selectors
from email_accounts.models import Mailbox, MailboxStatus

# One statement, written once: the ORM's Case/When spends more time building it than the
# database spends running it (bench/mailbox_quota.py), and every send goes through here.
_RESERVE = """
    UPDATE email_accounts_mailbox SET
        sent_today = CASE WHEN sent_day IS NULL OR sent_day < %(today)s THEN 1
                          ELSE sent_today + 1 END,
        sent_day = CASE WHEN sent_day IS NULL OR sent_day < %(today)s THEN %(today)s
                        ELSE sent_day END,
        last_sent_at = %(now)s
    WHERE id = %(id)s AND status = %(connected)s
      AND (sent_day IS NULL OR sent_day < %(today)s OR sent_today < %(limit)s)
"""


def mailbox_reserve_send(*, mailbox_id: uuid.UUID | str, now: datetime | None = None) -> bool:
    """Take one send from the mailbox's quota for its local day, or say there is none left.

    One conditional UPDATE: two workers reserving at once can never overshoot (PostgreSQL
    rechecks the condition on the locked row), and the counter restarts at the mailbox's own
    midnight. After a change of time zone that moves "today" back, the later day's count
    keeps counting: a time-zone change never hands out a second quota."""
    now = now or timezone.now()
    fields = ("timezone", "daily_limit", "ramp_up_enabled", "ramp_up_start", "ramp_up_increase",
              "ramp_up_started_on")  # fmt: skip
    values = Mailbox.objects.unscoped().filter(pk=mailbox_id).values_list(*fields).first()
    if values is None:
        return False
    mailbox = Mailbox(**dict(zip(fields, values, strict=True)))
    today = mailbox.local_day(now)
    meta = Mailbox._meta
    params = {
        "id": meta.pk.get_db_prep_value(uuid.UUID(str(mailbox_id)), connection),
        "today": meta.get_field("sent_day").get_db_prep_value(today, connection),
        "now": meta.get_field("last_sent_at").get_db_prep_value(now, connection),
        "connected": MailboxStatus.CONNECTED.value,
        "limit": selectors.limit_on(mailbox, today),
    }
    with connection.cursor() as cursor:
        cursor.execute(_RESERVE, params)
        return cursor.rowcount == 1


# The same rule for many mailboxes at once (the scheduler's tick), each row with its own local
# day, limit and next send slot.
_RESERVE_MANY = """
    UPDATE email_accounts_mailbox AS m SET
        sent_today = CASE WHEN m.sent_day IS NULL OR m.sent_day < r.today THEN 1
                          ELSE m.sent_today + 1 END,
        sent_day = CASE WHEN m.sent_day IS NULL OR m.sent_day < r.today THEN r.today
                        ELSE m.sent_day END,
        last_sent_at = %(now)s,
        next_send_at = r.next_send_at
    FROM unnest(%(ids)s::uuid[], %(days)s::date[], %(limits)s::integer[],
                %(next)s::timestamptz[]) AS r(id, today, day_limit, next_send_at)
    WHERE m.id = r.id AND m.status = %(connected)s
      AND (m.sent_day IS NULL OR m.sent_day < r.today OR m.sent_today < r.day_limit)
    RETURNING m.id
"""


@dataclass(frozen=True)
class Reservation:
    mailbox_id: uuid.UUID
    day: date  # the mailbox's local day
    limit: int  # its limit that day (selectors.limit_on)
    next_send_at: datetime  # when it may send again (spacing)


def mailboxes_reserve_sends(reservations: list[Reservation], *, now: datetime) -> set[uuid.UUID]:
    """Take one send from each mailbox's quota (at most one reservation per mailbox) and move
    its next send slot, in one statement; returns the mailboxes that had one left."""
    if not reservations:
        return set()
    params = {
        "ids": [r.mailbox_id for r in reservations],
        "days": [r.day for r in reservations],
        "limits": [r.limit for r in reservations],
        "next": [r.next_send_at for r in reservations],
        "now": now,
        "connected": MailboxStatus.CONNECTED.value,
    }
    with connection.cursor() as cursor:
        cursor.execute(_RESERVE_MANY, params)
        return {row[0] for row in cursor.fetchall()}


def mailbox_release_send(*, mailbox_id: uuid.UUID | str, day: date) -> None:
    """Give back a reserved send that did not leave (deferred, stopped, refused before sending)."""
    Mailbox.objects.unscoped().filter(pk=mailbox_id, sent_day=day, sent_today__gt=0).update(
        sent_today=F("sent_today") - 1
    )
