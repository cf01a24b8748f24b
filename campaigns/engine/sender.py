"""The send task's work: claim the message (scheduled → sending), recheck every stop condition,
send through the mailbox's provider outside any transaction, then record what happened.

A contact never gets the same step twice: the claim is a conditional UPDATE (a second worker
gets 0 rows and returns), nothing is ever resent once `sending` is committed (a crash leaves it
`sending`, which the sweeper turns `unknown` and reconciles from the Sent folder), and the
message row is unique per (enrollment, step).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, OuterRef, QuerySet, Subquery
from django.utils import timezone

from campaigns import schedule
from campaigns.engine.bounces import Bounce, email_payload, message_hard_bounced
from campaigns.engine.compose import compose
from campaigns.models import (
    Campaign,
    CampaignStatus,
    DelayUnit,
    Enrollment,
    EnrollmentStatus,
    MessageStatus,
    OutboundMessage,
    Step,
)
from campaigns.payloads import campaign_payload
from campaigns.windows import campaign_window
from contacts.models import ContactStatus
from contacts.selectors import suppressed_emails
from email_accounts.models import MailboxStatus
from email_accounts.providers.base import (
    AuthenticationFailed,
    OutcomeUnknown,
    OutgoingMessage,
    RecipientRejected,
    SenderQuotaReached,
    SentMessage,
    TransientError,
)
from email_accounts.services import mailbox_release_send, mailbox_reserve_send, open_provider
from email_accounts.services.usage import next_local_midnight
from webhooks.events import emit

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
RETRY_DELAYS = (60, 300, 1800, 7200)  # seconds before attempts 2, 3, 4, 5
AUTH_RETRY = timedelta(hours=1)  # a mailbox in error is retried once it is reconnected


def message_send(*, message_id: uuid.UUID | str, now: datetime | None = None) -> str:
    """Send one outbound message if it is still due and allowed; returns what happened."""
    now = now or timezone.now()
    claimed = (
        OutboundMessage.objects.unscoped()
        .filter(pk=message_id, status=MessageStatus.SCHEDULED, next_attempt_at__lte=now)
        .update(status=MessageStatus.SENDING, sending_started_at=now, attempts=F("attempts") + 1)
    )
    if not claimed:
        return "not_mine"
    # Read once, after the claim: the stop conditions below are as fresh as the claim, and
    # the rest of the send needs nothing more from the database until it is recorded.
    message = _with_next_step(OutboundMessage.objects.unscoped()).get(pk=message_id)
    stop = _stop_reason(message, now)
    if stop is not None:
        _withdraw(message, stop, now)
        return f"withdrawn:{stop}"
    if not message.quota_held and not _take_quota_again(message, now):
        return "quota_wait"
    composed = compose(
        enrollment=message.enrollment,
        step=message.step,
        variant=message.variant,
        mailbox=message.mailbox,
        message_id=message.message_id,
        tracking_id=message.pk,
    )
    message.subject = composed.subject  # written with whatever happens next
    outgoing = OutgoingMessage(
        raw=composed.raw,
        message_id=message.message_id,
        sender=message.mailbox.email,
        recipients=(message.enrollment.contact.email,),
        thread_id=message.enrollment.thread_id,
    )
    try:  # outside any transaction: never hold a lock while talking to a mail server
        with open_provider(mailbox=message.mailbox) as provider:
            sent = provider.send(outgoing)
    except OutcomeUnknown as error:
        _set(message, status=MessageStatus.UNKNOWN, error=error.message)
        return "unknown"
    except RecipientRejected as error:
        if error.permanent:
            _bounce(message, error)
            return "bounced"
        return _retry_later(message, error.message, code=str(error.code), now=now)
    except SenderQuotaReached as error:  # the mailbox is paused until its next day
        message.mailbox.refresh_from_db(fields=["paused_until"])
        when = message.mailbox.paused_until or now + timedelta(hours=1)
        _reschedule(message, when, error.message, count_attempt=False)
        return "quota"
    except AuthenticationFailed as error:  # the mailbox is now in error
        if message.step.position == 0 and not message.enrollment.last_message_id:
            # No thread to keep yet: the contact may start from another healthy sender of
            # the campaign (the tick picks one); later steps wait for this mailbox.
            _withdraw(message, "mailbox_error", now, release_sender=True)
            return "moved"
        _reschedule(message, now + AUTH_RETRY, error.message, count_attempt=False)
        return "auth"
    except TransientError as error:
        return _retry_later(message, error.message, code="transient", now=now)
    _record_sent(message, sent, composed.subject, now)
    return "sent"


def _with_next_step(messages: QuerySet[OutboundMessage]) -> QuerySet[OutboundMessage]:
    """Messages with everything a send and its record need, in one query: the enrollment, its
    contact, campaign and workspace, the step, variant and mailbox, and the step after this
    one (its id and delay), for the enrollment's next due time."""
    following = Step.objects.unscoped().filter(
        campaign_id=OuterRef("step__campaign_id"), position=OuterRef("step__position") + 1
    )
    return messages.select_related(
        "enrollment__contact",
        "enrollment__campaign__workspace",
        "step",
        "variant",
        "mailbox",
    ).annotate(
        next_step_id=Subquery(following.values("pk")[:1]),
        next_delay_amount=Subquery(following.values("delay_amount")[:1]),
        next_delay_unit=Subquery(following.values("delay_unit")[:1]),
    )


def _take_quota_again(message: OutboundMessage, now: datetime) -> bool:
    """A retry takes a send from the quota of the day it actually goes out; a full day moves
    it to the mailbox's next day."""
    if mailbox_reserve_send(mailbox_id=message.mailbox_id, now=now):
        message.quota_held, message.quota_day = True, message.mailbox.local_day(now)
        _set(message, quota_held=True, quota_day=message.quota_day)
        return True
    _reschedule(message, next_local_midnight(message.mailbox, now), "", count_attempt=False)
    return False


def _give_back_quota(message: OutboundMessage) -> None:
    if message.quota_held:
        mailbox_release_send(mailbox_id=message.mailbox_id, day=message.quota_day)
        message.quota_held = False
        _set(message, quota_held=False)


def _stop_reason(message: OutboundMessage, now: datetime) -> str | None:
    """Every stop condition, as read right after the claim (a reply may have arrived since
    the tick wrote the message)."""
    enrollment, mailbox = message.enrollment, message.mailbox
    if enrollment.status not in (EnrollmentStatus.ACTIVE, EnrollmentStatus.PENDING):
        return f"enrollment_{enrollment.status}"
    if enrollment.campaign.status != CampaignStatus.ACTIVE:
        return "campaign_not_active"
    contact = enrollment.contact
    if contact.status != ContactStatus.ACTIVE:
        return f"contact_{contact.status}"
    if suppressed_emails(workspace=enrollment.campaign.workspace, emails=[contact.email]):
        return "suppressed"
    if mailbox.status != MailboxStatus.CONNECTED:
        return "mailbox_not_connected"
    if not schedule.is_open(campaign_window(enrollment.campaign, contact), now):
        return "window_closed"
    return None


@transaction.atomic
def _withdraw(
    message: OutboundMessage, reason: str, now: datetime, *, release_sender: bool = False
) -> None:
    """It never left (we hold the claim and have not called the provider): delete it, give the
    quota back, and let the enrollment be claimed again later if it still runs."""
    enrollment = Enrollment.objects.unscoped().select_for_update().get(pk=message.enrollment_id)
    _give_back_quota(message)
    OutboundMessage.objects.unscoped().filter(pk=message.pk).delete()
    if enrollment.status in (EnrollmentStatus.ACTIVE, EnrollmentStatus.PENDING):
        window = campaign_window(enrollment.campaign, enrollment.contact)
        enrollment.due_at = schedule.next_open(window, now)
        if release_sender:
            enrollment.mailbox = None
        enrollment.save(update_fields=["due_at", "mailbox"])
    logger.info("Message %s withdrawn before sending: %s", message.pk, reason)


def _set(message: OutboundMessage, **fields: Any) -> None:
    if "error" in fields:
        fields["error"] = fields["error"][:1000]
    if message.subject:  # composed: the timeline shows what was (or was about to be) sent
        fields.setdefault("subject", message.subject)
    OutboundMessage.objects.unscoped().filter(pk=message.pk).update(**fields)


def _reschedule(
    message: OutboundMessage, when: datetime, error: str, *, count_attempt: bool = True
) -> None:
    """Back to `scheduled` for a later attempt; the quota it took is given back (it did not
    leave), and taken again when it goes."""
    with transaction.atomic():
        _set(
            message,
            status=MessageStatus.SCHEDULED,
            next_attempt_at=when,
            sending_started_at=None,
            error=error,
            **({} if count_attempt else {"attempts": F("attempts") - 1}),
        )
        _give_back_quota(message)


def _retry_later(message: OutboundMessage, error: str, *, code: str, now: datetime) -> str:
    attempts = message.attempts  # the claim counted this one
    if attempts >= MAX_ATTEMPTS:
        _fail(message, error, code)
        return "failed"
    delay = RETRY_DELAYS[min(attempts - 1, len(RETRY_DELAYS) - 1)]
    _reschedule(message, now + timedelta(seconds=delay), error)
    return "retry"


@transaction.atomic
def _fail(message: OutboundMessage, error: str, code: str) -> None:
    _set(message, status=MessageStatus.FAILED, error=error, error_code=code)
    _give_back_quota(message)
    enrollment = Enrollment.objects.unscoped().select_for_update().get(pk=message.enrollment_id)
    enrollment.status, enrollment.stopped_reason = EnrollmentStatus.FAILED, error[:300]
    enrollment.save(update_fields=["status", "stopped_reason"])
    emit(
        workspace=enrollment.campaign.workspace,
        type="email.failed",
        data=email_payload(message, enrollment) | {"error": error[:500]},
    )
    _complete_campaign_if_done(enrollment.campaign)


def _bounce(message: OutboundMessage, error: RecipientRejected) -> None:
    """A permanent refusal at send time: a hard bounce."""
    message_hard_bounced(
        message,
        Bounce(
            kind="hard",
            code=error.code,
            enhanced_code=error.enhanced_code,
            diagnostic=error.message,
            source="smtp",
        ),
    )
    _complete_campaign_if_done(message.enrollment.campaign)


@transaction.atomic
def record_sent(message: OutboundMessage, sent: SentMessage, subject: str, at: datetime) -> None:
    """The provider accepted it: record it and move the enrollment to its next step."""
    updated = (
        OutboundMessage.objects.unscoped()
        .filter(pk=message.pk, status__in=(MessageStatus.SENDING, MessageStatus.UNKNOWN))
        .update(
            status=MessageStatus.SENT,
            sent_at=at,
            subject=subject,
            provider_message_id=sent.provider_message_id,
            provider_thread_id=sent.provider_thread_id,
            error="",
        )
    )
    if not updated:
        return
    if not hasattr(message, "next_step_id"):  # from the sweeper or a user: read it all now
        message = _with_next_step(OutboundMessage.objects.unscoped()).get(pk=message.pk)
    enrollment, campaign = message.enrollment, message.enrollment.campaign
    threading = {
        "last_message_id": message.message_id,
        "last_subject": subject.removeprefix("Re: ") or enrollment.last_subject,
        "thread_id": sent.provider_thread_id or enrollment.thread_id,
        "next_position": message.step.position + 1,
    }
    if message.next_step_id is None:
        moves = {"status": EnrollmentStatus.COMPLETED, "due_at": None}
    else:
        due = due_after(
            campaign, enrollment, message.next_delay_amount, message.next_delay_unit, at
        )
        moves = {"due_at": due}
    # A conditional UPDATE rather than a locked read: an enrollment stopped meanwhile (a reply,
    # an unsubscribe) keeps its status and only learns about the thread.
    running = Enrollment.objects.unscoped().filter(
        pk=enrollment.pk, status__in=(EnrollmentStatus.ACTIVE, EnrollmentStatus.PENDING)
    )
    finished = message.next_step_id is None
    if not running.update(**threading, **moves):
        Enrollment.objects.unscoped().filter(pk=enrollment.pk).update(**threading)
        moves, finished = {}, True  # stopped meanwhile: the campaign may be over
    for field, value in (threading | moves).items():
        setattr(enrollment, field, value)
    emit(workspace=campaign.workspace, type="email.sent", data=email_payload(message, enrollment))
    if finished:
        _complete_campaign_if_done(campaign)


_record_sent = record_sent


def due_after(
    campaign: Campaign, enrollment: Enrollment, amount: int, unit: str, sent_at: datetime
) -> datetime:
    """When the next step may go after the previous one left: its delay, in the window's time
    zone (days count only open days), landing inside the window."""
    window = campaign_window(campaign, enrollment.contact)
    unit = unit if unit in DelayUnit.values else DelayUnit.DAYS
    return schedule.add_delay(window, sent_at, amount, unit)


def _complete_campaign_if_done(campaign: Campaign) -> None:
    still_running = campaign.enrollments.filter(
        status__in=(EnrollmentStatus.PENDING, EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED)
    ).exists()
    in_flight = (
        OutboundMessage.objects.unscoped()
        .filter(
            enrollment__campaign=campaign,
            status__in=(MessageStatus.SCHEDULED, MessageStatus.SENDING),
        )
        .exists()
    )
    if still_running or in_flight:
        return
    updated = (
        Campaign.objects.unscoped()
        .filter(pk=campaign.pk, status=CampaignStatus.ACTIVE)
        .update(status=CampaignStatus.COMPLETED)
    )
    if updated:
        campaign.status = CampaignStatus.COMPLETED
        emit(
            workspace=campaign.workspace,
            type="campaign.completed",
            data={"campaign": campaign_payload(campaign)},
        )
