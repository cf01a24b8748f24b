"""The beat tick: for each mailbox that may send now, claim one due enrollment, reserve the
mailbox's quota, write the outbound message, and hand its id to the `sending` queue.

Safe to run twice at once: a mailbox is claimed with FOR UPDATE SKIP LOCKED (the other tick
moves on), enrollments likewise, the quota is a conditional UPDATE, and the message is unique
per (enrollment, step). Its cost follows the work that is due (the partial index on
`due_at`), not the number of enrollments.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from campaigns import schedule
from campaigns.engine.compose import choose_variant
from campaigns.mime import new_message_id
from campaigns.models import (
    RUNNING_ENROLLMENT,
    Campaign,
    CampaignStatus,
    Enrollment,
    EnrollmentStatus,
    OutboundMessage,
    Step,
)
from campaigns.windows import campaign_window
from contacts.models import ContactStatus
from contacts.selectors import email_sendability
from email_accounts import selectors as mailbox_selectors
from email_accounts.models import Mailbox, MailboxStatus
from email_accounts.services import mailbox_reserve_send

CANDIDATES_PER_MAILBOX = 20  # due enrollments examined per mailbox and tick

Enqueue = Callable[[uuid.UUID], None]


def scheduler_tick(*, enqueue: Enqueue, now: datetime | None = None) -> int:
    """One pass over the mailboxes that may send now; returns the messages created."""
    now = now or timezone.now()
    ready = (
        Mailbox.objects.unscoped()
        .filter(status=MailboxStatus.CONNECTED, campaigns__status=CampaignStatus.ACTIVE)
        .filter(Q(next_send_at__isnull=True) | Q(next_send_at__lte=now))
        .distinct()
    )
    # Rotation: the mailbox with the most quota left today picks new contacts first.
    mailboxes = sorted(
        ready, key=lambda m: mailbox_selectors.quota_left_today(m, now), reverse=True
    )
    created = 0
    for mailbox in mailboxes:
        if mailbox_selectors.quota_left_today(mailbox, now) <= 0:
            continue
        with transaction.atomic():
            message = _claim_one(mailbox.pk, now)
            if message is not None:
                transaction.on_commit(lambda pk=message.pk: enqueue(pk))
                created += 1
    return created


def _claim_one(mailbox_id: uuid.UUID, now: datetime) -> OutboundMessage | None:
    mailbox = (
        Mailbox.objects.unscoped()
        .select_for_update(skip_locked=True)
        .filter(pk=mailbox_id, status=MailboxStatus.CONNECTED)
        .filter(Q(next_send_at__isnull=True) | Q(next_send_at__lte=now))
        .first()
    )
    if mailbox is None:  # another tick has it, or it changed meanwhile
        return None
    due = Q(status__in=RUNNING_ENROLLMENT, due_at__lte=now)
    candidate_ids = list(
        Enrollment.objects.unscoped()
        .filter(due, campaign__status=CampaignStatus.ACTIVE, campaign__mailboxes=mailbox)
        .filter(Q(mailbox=mailbox) | Q(mailbox__isnull=True))
        .order_by("due_at")
        .values_list("pk", flat=True)[:CANDIDATES_PER_MAILBOX]
    )
    started_today: dict[uuid.UUID, int] = {}
    for enrollment_id in candidate_ids:
        # Locked one at a time, and re-read under the lock: a tick working on another mailbox
        # only ever holds the enrollment it is deciding on, never the whole batch.
        enrollment = (
            Enrollment.objects.unscoped()
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("campaign", "contact")
            .filter(due, pk=enrollment_id)
            .filter(Q(mailbox=mailbox) | Q(mailbox__isnull=True))
            .first()
        )
        if enrollment is None:  # claimed or changed meanwhile
            continue
        message = _try_enrollment(enrollment, mailbox, now, started_today)
        if message is not None:
            return message
    return None


def _try_enrollment(
    enrollment: Enrollment, mailbox: Mailbox, now: datetime, started_today: dict
) -> OutboundMessage | None:
    """Recheck everything for this enrollment now; defer it (costing no quota) when its
    window is closed or its campaign's daily cap of new contacts is reached."""
    campaign, contact = enrollment.campaign, enrollment.contact
    step = (
        Step.objects.unscoped().filter(campaign=campaign, position=enrollment.next_position).first()
    )
    if step is None:  # the sequence is over (a step was removed or never written)
        _finish(enrollment, EnrollmentStatus.COMPLETED)
        return None
    window = campaign_window(campaign, contact)
    if not schedule.is_open(window, now):
        enrollment.due_at = schedule.next_open(window, now)
        enrollment.save(update_fields=["due_at"])
        return None
    if contact.status != ContactStatus.ACTIVE:
        _finish(enrollment, _stopped_status(contact.status), reason=contact.status)
        return None
    if not email_sendability(workspace=campaign.workspace, email=contact.email).allowed:
        _finish(enrollment, EnrollmentStatus.UNSUBSCRIBED, reason="suppressed")
        return None
    if enrollment.next_position == 0 and not _may_start_another(campaign, now, started_today):
        enrollment.due_at = _tomorrow_in_window(window, now)
        enrollment.save(update_fields=["due_at"])
        return None
    if not mailbox_reserve_send(mailbox_id=mailbox.pk, now=now):
        return None  # the mailbox's day is full: its enrollments wait, no one else's
    variant = choose_variant(enrollment, step, list(step.variants.all()))
    message = OutboundMessage.objects.create(
        workspace=campaign.workspace,
        enrollment=enrollment,
        step=step,
        variant=variant,
        mailbox=mailbox,
        message_id=new_message_id(mailbox.email),
        quota_day=mailbox.local_day(now),
        next_attempt_at=now,
    )
    first_send = enrollment.next_position == 0
    enrollment.mailbox = mailbox
    enrollment.status = EnrollmentStatus.ACTIVE
    enrollment.due_at = None  # in flight: the message row carries it from here
    enrollment.started_at = enrollment.started_at or (now if first_send else None)
    enrollment.save(update_fields=["mailbox", "status", "due_at", "started_at"])
    if first_send:
        started_today[campaign.pk] = started_today.get(campaign.pk, 0) + 1
    gap = random.randint(*_gap_range(mailbox, campaign))
    mailbox.next_send_at = now + timedelta(seconds=gap)
    mailbox.save(update_fields=["next_send_at"])
    return message


def _gap_range(mailbox: Mailbox, campaign: Campaign) -> tuple[int, int]:
    """Spacing composes by max(): a setting can slow a mailbox down, never speed it up."""
    low = max(mailbox.spacing_min_seconds, campaign.spacing_min_seconds)
    high = max(mailbox.spacing_max_seconds, campaign.spacing_max_seconds, low)
    return low, high


def _may_start_another(campaign: Campaign, now: datetime, started_today: dict) -> bool:
    if campaign.daily_new_contacts is None:
        return True
    window = campaign_window(campaign)
    day_start = _local_day_start(window, now)
    count = started_today.get(campaign.pk)
    if count is None:
        count = campaign.enrollments.filter(started_at__gte=day_start).count()
    return count < campaign.daily_new_contacts


def _local_day_start(window: schedule.Window, now: datetime) -> datetime:
    zone = ZoneInfo(window.timezone)
    return datetime.combine(now.astimezone(zone).date(), time.min, tzinfo=zone)


def _tomorrow_in_window(window: schedule.Window, now: datetime) -> datetime:
    return schedule.next_open(window, _local_day_start(window, now) + timedelta(days=1))


def _stopped_status(contact_status: str) -> str:
    return {
        ContactStatus.BOUNCED: EnrollmentStatus.BOUNCED,
        ContactStatus.UNSUBSCRIBED: EnrollmentStatus.UNSUBSCRIBED,
    }.get(contact_status, EnrollmentStatus.FAILED)


def _finish(enrollment: Enrollment, status: str, reason: str = "") -> None:
    enrollment.status, enrollment.due_at, enrollment.stopped_reason = status, None, reason
    enrollment.save(update_fields=["status", "due_at", "stopped_reason"])
