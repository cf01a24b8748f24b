"""A mailbox's daily quota, counted per local day of the mailbox and shared by everything that
sends from it (campaigns, warming): reserved before a send, given back if it did not happen."""

from __future__ import annotations

import uuid
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


def mailbox_release_send(*, mailbox_id: uuid.UUID | str, day: date) -> None:
    """Give back a reserved send that did not leave (deferred, stopped, refused before sending)."""
    Mailbox.objects.unscoped().filter(pk=mailbox_id, sent_day=day, sent_today__gt=0).update(
        sent_today=F("sent_today") - 1
    )
