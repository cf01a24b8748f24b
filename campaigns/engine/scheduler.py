"""The beat tick: for each mailbox that may send now, claim one due enrollment, reserve the
mailbox's quota, write the outbound message, and hand its id to the `sending` queue.

The tick works on batches of mailboxes, a fixed number of statements per batch whatever its
size: one locks the batch's mailboxes (FOR UPDATE SKIP LOCKED) and finds each one's first due
enrollments (a LATERAL join per mailbox), a few read what the checks need, one locks the
enrollments it decided on (SKIP LOCKED, rechecking they are still due), one reserves every
quota (a multi-row conditional UPDATE), one inserts the messages and one moves the
enrollments on. Its cost follows the work that is due (partial indexes on `due_at`), not the
number of enrollments, and a tick of 1,000 mailboxes costs a few dozen statements.

Safe to run twice at once: the other tick skips what this one has locked, the quota is a
conditional UPDATE, and the message is unique per (enrollment, step).
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from campaigns import schedule
from campaigns.engine.compose import choose_variant
from campaigns.mime import new_message_id
from campaigns.models import (
    Campaign,
    CampaignStatus,
    Enrollment,
    EnrollmentStatus,
    OutboundMessage,
    Step,
    Variant,
)
from campaigns.windows import campaign_window
from contacts.models import ContactStatus
from contacts.selectors import suppressed_pairs
from email_accounts import selectors as mailbox_selectors
from email_accounts.models import Mailbox, MailboxStatus
from email_accounts.services.quota import Reservation, mailboxes_reserve_sends

CANDIDATES_PER_MAILBOX = 20  # due enrollments examined per mailbox and tick
MAILBOXES_PER_BATCH = 250  # one transaction each: locks are held for a batch, not the tick
LOCK_ROUNDS = 3  # a mailbox whose pick a concurrent tick took tries its next candidate

Enqueue = Callable[[uuid.UUID], None]

# Locks the batch's mailboxes that may still send, and finds for each its first due
# enrollments in its active campaigns (its own follow-ups, or new contacts nobody has written
# to yet). The enrollments are locked later, only those the tick decides on: locking every
# candidate would leave a concurrent tick's mailboxes nothing to take.
_CLAIM_SQL = """
WITH ready AS (
    SELECT id FROM email_accounts_mailbox
    WHERE id = ANY(%(ids)s) AND status = %(connected)s
      AND (next_send_at IS NULL OR next_send_at <= %(now)s)
    FOR UPDATE SKIP LOCKED
)
SELECT ready.id, due.id
FROM ready CROSS JOIN LATERAL (
    SELECT e.id, e.due_at, md5(e.id::text || ready.id::text) AS tiebreak
    FROM campaigns_enrollment e
    JOIN campaigns_campaign_mailboxes cm
      ON cm.campaign_id = e.campaign_id AND cm.mailbox_id = ready.id
    JOIN campaigns_campaign c ON c.id = e.campaign_id AND c.status = %(active)s
    WHERE e.status = ANY(%(running)s) AND e.due_at IS NOT NULL AND e.due_at <= %(now)s
      AND (e.mailbox_id = ready.id OR e.mailbox_id IS NULL)
    -- Ties (a launch makes a whole list due at once) in an order of each mailbox's own: two
    -- ticks, or two mailboxes sharing new contacts, rarely pick the same one.
    ORDER BY e.due_at, tiebreak
    LIMIT %(per_mailbox)s
) AS due
ORDER BY ready.id, due.due_at, due.tiebreak
"""

# Every enrollment the batch decided on, written back at once: claimed (mailbox, in flight),
# deferred (a later due time) or finished (a final status and why).
_WRITE_ENROLLMENTS_SQL = """
UPDATE campaigns_enrollment AS e SET
    mailbox_id = u.mailbox_id, status = u.status, due_at = u.due_at,
    started_at = u.started_at, stopped_reason = u.stopped_reason
FROM unnest(%s::uuid[], %s::uuid[], %s::text[], %s::timestamptz[], %s::timestamptz[],
            %s::text[]) AS u(id, mailbox_id, status, due_at, started_at, stopped_reason)
WHERE e.id = u.id
"""


def scheduler_tick(*, enqueue: Enqueue, now: datetime | None = None) -> int:
    """One pass over the mailboxes that may send now; returns the messages created."""
    now = now or timezone.now()
    created = 0
    for batch in _batches(_ready_mailboxes(now), MAILBOXES_PER_BATCH):
        with transaction.atomic():
            messages = _claim_batch(batch, now)
            for message in messages:
                transaction.on_commit(lambda pk=message.pk: enqueue(pk))
        created += len(messages)
    return created


def _ready_mailboxes(now: datetime) -> list[Mailbox]:
    """Mailboxes of active campaigns that are connected, past their spacing and with quota
    left today — the one with the most quota left first (rotation: it picks new contacts
    before the others do)."""
    in_active_campaign = Campaign.mailboxes.through.objects.filter(
        mailbox_id=OuterRef("pk"), campaign__status=CampaignStatus.ACTIVE
    )
    ready = (
        Mailbox.objects.unscoped()
        .filter(status=MailboxStatus.CONNECTED)
        .filter(Q(next_send_at__isnull=True) | Q(next_send_at__lte=now))
        .filter(Exists(in_active_campaign))
    )
    left = {m.pk: mailbox_selectors.quota_left_today(m, now) for m in ready}
    return sorted((m for m in ready if left[m.pk] > 0), key=lambda m: -left[m.pk])


def _batches(items: list[Mailbox], size: int) -> Iterable[list[Mailbox]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass
class _Pick:
    mailbox: Mailbox
    enrollment: Enrollment
    step: Step
    variants: list[Variant]


class _Batch:
    """What one batch's decisions need, read in a fixed number of queries."""

    def __init__(self, enrollment_ids: Sequence[uuid.UUID], now: datetime) -> None:
        self.now = now
        self.enrollments = {
            e.pk: e
            for e in Enrollment.objects.unscoped()
            .select_related("campaign", "contact")
            .filter(pk__in=_any_of(enrollment_ids))
        }
        campaigns = {e.campaign_id: e.campaign for e in self.enrollments.values()}
        self.steps: dict[tuple[uuid.UUID, int], Step] = {}
        self.variants: dict[uuid.UUID, list[Variant]] = defaultdict(list)
        variants = (
            Variant.objects.unscoped()
            .select_related("step")
            .filter(step__campaign_id__in=_any_of(campaigns))
            .order_by("step_id", "label")
        )
        for variant in variants:
            step = self.steps.setdefault(
                (variant.step.campaign_id, variant.step.position), variant.step
            )
            self.variants[step.pk].append(variant)
        self.suppressed = suppressed_pairs(
            (e.workspace_id, e.contact.email) for e in self.enrollments.values()
        )
        self.started_today = _started_today([c for c in campaigns.values()], now)

    def may_start_another(self, campaign: Campaign) -> bool:
        if campaign.daily_new_contacts is None:
            return True
        return self.started_today.get(campaign.pk, 0) < campaign.daily_new_contacts


def _any_of(ids: Iterable[uuid.UUID]) -> RawSQL:
    """`pk__in` with one array parameter: thousands of `%s` cost more to build than to run."""
    return RawSQL("SELECT unnest(%s::uuid[])", (list(ids),))


def _claim_batch(mailboxes: list[Mailbox], now: datetime) -> list[OutboundMessage]:
    candidates = _lock_candidates([m.pk for m in mailboxes], now)
    if not candidates:
        return []
    batch = _Batch([pk for ids in candidates.values() for pk in ids], now)
    decided: set[uuid.UUID] = set()
    held: list[Enrollment] = []  # deferred or finished: written back without a message
    picks: list[_Pick] = []
    waiting = [m for m in mailboxes if m.pk in candidates]  # rotation order
    for _round in range(LOCK_ROUNDS):
        round_picks: list[_Pick] = []
        round_held: list[Enrollment] = []
        for mailbox in waiting:
            pick = _next_pick(mailbox, candidates[mailbox.pk], batch, decided, round_held)
            if pick is not None:
                round_picks.append(pick)
        wanted = [p.enrollment.pk for p in round_picks] + [e.pk for e in round_held]
        locked = _lock_enrollments(wanted, now)
        held += [e for e in round_held if e.pk in locked]
        picks += [p for p in round_picks if p.enrollment.pk in locked]
        # A pick another tick took first: its mailbox tries its next candidate.
        lost = [p for p in round_picks if p.enrollment.pk not in locked]
        for pick in lost:
            if pick.enrollment.next_position == 0:
                batch.started_today[pick.enrollment.campaign_id] -= 1
        waiting = [p.mailbox for p in lost]
        if not waiting:
            break
    messages, claimed = _write_messages(picks, now)
    _write_enrollments(held + claimed)
    return messages


def _next_pick(
    mailbox: Mailbox,
    candidate_ids: list[uuid.UUID],
    batch: _Batch,
    decided: set[uuid.UUID],
    held: list[Enrollment],
) -> _Pick | None:
    """The mailbox's first candidate that may be sent now; those it passes on the way are
    deferred or finished (added to `held`)."""
    for enrollment_id in candidate_ids:
        if enrollment_id in decided:
            continue
        decided.add(enrollment_id)
        enrollment = batch.enrollments[enrollment_id]
        step = _decide(enrollment, batch)
        if step is None:
            held.append(enrollment)
            continue
        if enrollment.next_position == 0:
            campaign_id = enrollment.campaign_id
            batch.started_today[campaign_id] = batch.started_today.get(campaign_id, 0) + 1
        return _Pick(mailbox, enrollment, step, batch.variants[step.pk])
    return None


def _lock_enrollments(ids: list[uuid.UUID], now: datetime) -> set[uuid.UUID]:
    """Lock the enrollments this tick decided on, if they are still due and nobody else holds
    them: a concurrent tick that claimed or deferred one first has moved its due time, and
    one holding it right now is skipped."""
    if not ids:
        return set()
    return set(
        Enrollment.objects.unscoped()
        .select_for_update(skip_locked=True)
        .filter(
            pk__in=_any_of(ids),
            status__in=(EnrollmentStatus.PENDING, EnrollmentStatus.ACTIVE),
            due_at__lte=now,
        )
        .values_list("pk", flat=True)
    )


def _lock_candidates(
    mailbox_ids: list[uuid.UUID], now: datetime
) -> dict[uuid.UUID, list[uuid.UUID]]:
    params = {
        "ids": mailbox_ids,
        "connected": MailboxStatus.CONNECTED.value,
        "active": CampaignStatus.ACTIVE.value,
        "running": [s.value for s in (EnrollmentStatus.PENDING, EnrollmentStatus.ACTIVE)],
        "now": now,
        "per_mailbox": CANDIDATES_PER_MAILBOX,
    }
    candidates: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL, params)
        for mailbox_id, enrollment_id in cursor.fetchall():
            candidates[mailbox_id].append(enrollment_id)
    return candidates


def _decide(enrollment: Enrollment, batch: _Batch) -> Step | None:
    """The step to send now, or None after deferring the enrollment (its window is closed, or
    its campaign has started enough contacts today: no quota spent) or finishing it (its
    sequence is over, or its contact may no longer be written to)."""
    campaign, contact, now = enrollment.campaign, enrollment.contact, batch.now
    step = batch.steps.get((campaign.pk, enrollment.next_position))
    if step is None:  # the sequence is over (a step was removed or never written)
        _finish(enrollment, EnrollmentStatus.COMPLETED)
        return None
    window = campaign_window(campaign, contact)
    if not schedule.is_open(window, now):
        enrollment.due_at = schedule.next_open(window, now)
        return None
    if contact.status != ContactStatus.ACTIVE:
        _finish(enrollment, _stopped_status(contact.status), reason=contact.status)
        return None
    if (enrollment.workspace_id, contact.email.strip().lower()) in batch.suppressed:
        _finish(enrollment, EnrollmentStatus.UNSUBSCRIBED, reason="suppressed")
        return None
    if enrollment.next_position == 0 and not batch.may_start_another(campaign):
        enrollment.due_at = _tomorrow_in_window(window, now)
        return None
    return step


def _write_messages(
    picks: list[_Pick], now: datetime
) -> tuple[list[OutboundMessage], list[Enrollment]]:
    """Reserve each pick's quota (and its mailbox's next slot) in one statement, then write the
    messages of those that got one; returns them and their enrollments, now in flight."""
    if not picks:
        return [], []
    reservations = [
        Reservation(
            mailbox_id=pick.mailbox.pk,
            day=pick.mailbox.local_day(now),
            limit=mailbox_selectors.limit_today(pick.mailbox, now),
            next_send_at=now + timedelta(seconds=random.randint(*_gap_range(pick))),
        )
        for pick in picks
    ]
    reserved = mailboxes_reserve_sends(reservations, now=now)
    messages, enrollments = [], []
    for pick, reservation in zip(picks, reservations, strict=True):
        if pick.mailbox.pk not in reserved:
            continue  # the mailbox's day filled up meanwhile: its enrollment stays due
        enrollment, step = pick.enrollment, pick.step
        messages.append(
            OutboundMessage(
                workspace_id=enrollment.workspace_id,
                enrollment=enrollment,
                step=step,
                variant=choose_variant(enrollment, step, pick.variants),
                mailbox=pick.mailbox,
                message_id=new_message_id(pick.mailbox.email),
                quota_day=reservation.day,
                next_attempt_at=now,
            )
        )
        if enrollment.next_position == 0 and enrollment.started_at is None:
            enrollment.started_at = now
        enrollment.mailbox = pick.mailbox
        enrollment.status = EnrollmentStatus.ACTIVE
        enrollment.due_at = None  # in flight: the message row carries it from here
        enrollments.append(enrollment)
    OutboundMessage.objects.unscoped().bulk_create(messages)
    return messages, enrollments


def _write_enrollments(enrollments: list[Enrollment]) -> None:
    if not enrollments:
        return
    columns = ("pk", "mailbox_id", "status", "due_at", "started_at", "stopped_reason")
    params = [[getattr(e, column) for e in enrollments] for column in columns]
    with connection.cursor() as cursor:
        cursor.execute(_WRITE_ENROLLMENTS_SQL, params)


def _gap_range(pick: _Pick) -> tuple[int, int]:
    """Spacing composes by max(): a setting can slow a mailbox down, never speed it up."""
    mailbox, campaign = pick.mailbox, pick.enrollment.campaign
    low = max(mailbox.spacing_min_seconds, campaign.spacing_min_seconds)
    high = max(mailbox.spacing_max_seconds, campaign.spacing_max_seconds, low)
    return low, high


def _started_today(campaigns: list[Campaign], now: datetime) -> dict[uuid.UUID, int]:
    """Contacts each capped campaign has started on its current local day, in one query."""
    capped = [c for c in campaigns if c.daily_new_contacts is not None]
    if not capped:
        return {}
    since = Q()
    for campaign in capped:
        day_start = _local_day_start(campaign_window(campaign), now)
        since |= Q(campaign_id=campaign.pk, started_at__gte=day_start)
    counts = (
        Enrollment.objects.unscoped()
        .filter(since)
        .values("campaign_id")
        .annotate(started=Count("pk"))
        .values_list("campaign_id", "started")
    )
    return dict(counts)


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
