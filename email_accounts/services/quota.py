"""A mailbox's daily quota, counted per local day of the mailbox and shared by everything that
sends from it (campaigns, warming): reserved before a send, given back if it did not happen."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from email_accounts import selectors
from email_accounts.models import Mailbox, MailboxStatus


def mailbox_reserve_send(*, mailbox_id: uuid.UUID | str, now: datetime | None = None) -> bool:
    """Take one send from the mailbox's quota for its local day, or say there is none left.

    One conditional UPDATE: two workers reserving at once can never overshoot (PostgreSQL
    rechecks the condition on the locked row), and the counter restarts at the mailbox's own
    midnight. After a change of time zone that moves "today" back, the later day's count
    keeps counting: a time-zone change never hands out a second quota."""
    now = now or timezone.now()
    mailbox = (
        Mailbox.objects.unscoped()
        .only(
            "timezone",
            "daily_limit",
            "ramp_up_enabled",
            "ramp_up_start",
            "ramp_up_increase",
            "ramp_up_started_on",
        )
        .get(pk=mailbox_id)
    )
    today = mailbox.local_day(now)
    limit = selectors.limit_on(mailbox, today)
    new_day = Q(sent_day__lt=today) | Q(sent_day__isnull=True)
    updated = (
        Mailbox.objects.unscoped()
        .filter(pk=mailbox_id, status=MailboxStatus.CONNECTED)
        .filter(new_day | Q(sent_today__lt=limit))
        .update(
            sent_today=Case(When(new_day, then=Value(1)), default=F("sent_today") + 1),
            sent_day=Case(When(new_day, then=Value(today)), default=F("sent_day")),
            last_sent_at=now,
        )
    )
    return updated == 1


def mailbox_release_send(*, mailbox_id: uuid.UUID | str, day: date) -> None:
    """Give back a reserved send that did not leave (deferred, stopped, refused before sending)."""
    Mailbox.objects.unscoped().filter(pk=mailbox_id, sent_day=day, sent_today__gt=0).update(
        sent_today=F("sent_today") - 1
    )
