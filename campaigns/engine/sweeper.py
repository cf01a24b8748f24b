"""What a lost nudge, a dead worker or a flushed Redis leaves behind, found again from
PostgreSQL: scheduled messages whose task never ran are queued again; messages stuck in
`sending` past their lease become `unknown`; `unknown` ones are looked up in the mailbox's Sent
folder by Message-ID — found means sent, not found stays `unknown` for a person to decide.
Nothing is ever resent automatically."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db.models import F, Q
from django.utils import timezone

from campaigns.engine.sender import record_sent
from campaigns.models import MessageStatus, OutboundMessage
from email_accounts.providers.base import ProviderError
from email_accounts.services import open_provider

logger = logging.getLogger(__name__)

SENDING_LEASE = timedelta(minutes=10)  # far above a send's own timeouts (15 s a step)
REQUEUE_AFTER = timedelta(seconds=60)  # a scheduled message whose nudge should have run by now
BATCH = 500
RECHECK_AFTER = timedelta(minutes=15)  # between two Sent-folder lookups of one message


def requeue_scheduled(*, enqueue: Callable[[uuid.UUID], None], now: datetime | None = None) -> int:
    now = now or timezone.now()
    due = (
        OutboundMessage.objects.unscoped()
        .filter(status=MessageStatus.SCHEDULED, next_attempt_at__lte=now - REQUEUE_AFTER)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:BATCH]
    )
    count = 0
    for message_id in due:  # a duplicate nudge is harmless: the send task claims first
        enqueue(message_id)
        count += 1
    return count


def expire_sending(*, now: datetime | None = None) -> int:
    now = now or timezone.now()
    return (
        OutboundMessage.objects.unscoped()
        .filter(status=MessageStatus.SENDING, sending_started_at__lt=now - SENDING_LEASE)
        .update(status=MessageStatus.UNKNOWN, error="The worker stopped while sending.")
    )


def reconcile_unknown(*, limit: int = 50, now: datetime | None = None) -> int:
    """Look `unknown` messages up in their mailbox's Sent folder, the least recently checked
    first and each at most every RECHECK_AFTER; returns how many were found (and recorded as
    sent, which moves their enrollment on)."""
    now = now or timezone.now()
    found = 0
    unknown = (
        OutboundMessage.objects.unscoped()
        .filter(status=MessageStatus.UNKNOWN)
        .filter(Q(reconciled_at__isnull=True) | Q(reconciled_at__lte=now - RECHECK_AFTER))
        .select_related("mailbox", "step", "variant", "enrollment")
        .order_by(F("reconciled_at").asc(nulls_first=True), "created_at")[:limit]
    )
    for message in unknown:
        OutboundMessage.objects.unscoped().filter(pk=message.pk).update(reconciled_at=now)
        try:
            with open_provider(mailbox=message.mailbox) as provider:
                sent = provider.find_sent(message.message_id)
        except ProviderError as error:
            logger.info("Cannot reconcile %s yet: %s", message.pk, error.message)
            continue
        if sent is not None:
            record_sent(
                message, sent, message.subject, message.sending_started_at or timezone.now()
            )
            found += 1
    return found
