"""What an inbound message does, once classified and matched: a reply stops the sequence (and,
if the campaign says so, every contact of the same company), an out-of-office pauses it until
the person is back, a bounce stops it and suppresses the address (a hard one), counts (a soft
one), flags the sender (a policy block) or pauses the mailbox (its own sending quota), a
complaint unsubscribes. Each inbound message is recorded once: reading it again changes
nothing."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_noop

from campaigns import schedule
from campaigns.engine.bounces import Bounce, email_payload, message_hard_bounced
from campaigns.inbound import matching
from campaigns.models import (
    BounceClass,
    Campaign,
    Enrollment,
    EnrollmentStatus,
    InboundEmail,
    InboundKind,
    MessageStatus,
    OutboundMessage,
)
from campaigns.windows import campaign_window
from contacts.models import Contact, ContactStatus
from contacts.services.contacts import contact_unsubscribe
from email_accounts.inbound import Verdict, suggest_lead_status, verdict_json
from email_accounts.models import Mailbox
from email_accounts.services import mailbox_release_send
from email_accounts.services.status import REASON_QUOTA_PAUSE, mailbox_pause_until
from email_accounts.services.usage import next_local_midnight
from webhooks.events import emit

logger = logging.getLogger(__name__)

SOFT_BOUNCES_BEFORE_HARD = 3
STOPPABLE = (EnrollmentStatus.PENDING, EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED)
# A shared domain says nothing about a company: "stop for the whole company" skips these.
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "hotmail.fr",
        "live.com",
        "live.fr",
        "msn.com",
        "yahoo.com",
        "yahoo.fr",
        "ymail.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "gmx.fr",
        "gmx.de",
        "web.de",
        "orange.fr",
        "wanadoo.fr",
        "free.fr",
        "sfr.fr",
        "laposte.net",
        "bbox.fr",
        "yandex.com",
        "mail.com",
        "zoho.com",
    }
)
REASON_SENDER_BLOCKED = gettext_noop(
    "A recipient's server refused this campaign's mail as a policy matter (for instance "
    "DMARC or a blocklist): check the sending domain's SPF, DKIM and DMARC records."
)


@dataclass(frozen=True)
class Arrival:
    """One message the sync read, with what the classifier said of it."""

    mailbox: Mailbox
    key: str  # the provider's id for it: unique per mailbox
    thread_id: str
    folder: str
    received_at: datetime
    verdict: Verdict
    body: str  # the whole plain-text body


def inbound_record(arrival: Arrival) -> InboundEmail | None:
    """Record what this message is and act on it; None when it concerns no campaign."""
    verdict = arrival.verdict
    if verdict.kind == "own":
        return None  # our own message (sent to ourselves, warm-up): never a reply
    if verdict.kind in ("bounce", "complaint"):
        match = matching.by_bounced_recipient(
            arrival.mailbox, verdict.recipient, verdict.original_message_id
        )
    else:
        match = (
            matching.by_references(arrival.mailbox, verdict.references)
            or matching.by_thread(arrival.mailbox, arrival.thread_id)
            or matching.by_sender(
                arrival.mailbox, verdict.from_email, verdict.subject, arrival.received_at
            )
        )
    if match is None and verdict.kind not in ("bounce", "complaint"):
        return None
    if match is None and verdict.bounce_class not in (BounceClass.QUOTA, BounceClass.BLOCK):
        return None  # a bounce of a message we did not send (warm-up, the user's own mail)
    try:
        with transaction.atomic():
            inbound = _create(arrival, match)
            _act(inbound, match.message if match else None, arrival)
    except IntegrityError:  # read before (a retried sync): it already did what it does
        return None
    return inbound


def _create(arrival: Arrival, match: matching.Match | None) -> InboundEmail:
    verdict = arrival.verdict
    message = match.message if match else None
    enrollment = message.enrollment if message else None
    kind = verdict.kind if verdict.kind in InboundKind.values else InboundKind.OTHER
    low_confidence = bool(match and match.low_confidence)
    contact_id = enrollment.contact_id if enrollment else None
    if kind in (InboundKind.REPLY, InboundKind.AUTO_REPLY) and enrollment is not None:
        contact_email = Contact.objects.unscoped().get(pk=contact_id).email.lower()
        if verdict.from_email != contact_email:
            if _domain(verdict.from_email) == _domain(contact_email):
                low_confidence = True  # a colleague answering (a forward): flagged
            elif kind == InboundKind.REPLY:
                kind = InboundKind.OTHER  # someone else in the thread: not the contact's reply
    suggestion, rule = suggest_lead_status(verdict) if kind == InboundKind.REPLY else ("", "")
    return InboundEmail.objects.create(
        workspace_id=arrival.mailbox.workspace_id,
        mailbox=arrival.mailbox,
        provider_message_id=arrival.key[:300],
        provider_thread_id=arrival.thread_id[:100],
        folder=arrival.folder[:200],
        kind=kind,
        bounce_class=verdict.bounce_class if kind == InboundKind.BOUNCE else "",
        contact_id=contact_id,
        enrollment=enrollment,
        answers=message,
        matched_by=match.matched_by if match else "",
        low_confidence=low_confidence,
        message_id=verdict.message_id[:300],
        from_email=verdict.from_email[:320],
        from_name=verdict.from_name[:200],
        subject=verdict.subject[:500],
        received_at=arrival.received_at,
        text=verdict.reply_text,
        body=arrival.body,
        verdict=verdict_json(verdict),
        return_date=verdict.return_date,
        unsubscribe_request=verdict.unsubscribe_request,
        lead_suggestion=suggestion,
        lead_suggestion_rule=rule[:100],
    )


def _act(inbound: InboundEmail, message: OutboundMessage | None, arrival: Arrival) -> None:
    if inbound.kind == InboundKind.BOUNCE:
        _bounce(inbound, message, arrival)
    elif inbound.kind == InboundKind.COMPLAINT and message is not None:
        _unsubscribe(message.enrollment, source="Complaint (feedback report)")
    elif inbound.kind == InboundKind.AUTO_REPLY and message is not None:
        _auto_reply(inbound, message, arrival.received_at)
    elif inbound.kind == InboundKind.REPLY and message is not None:
        _reply(inbound, message)


# ----------------------------------------------------------------------------- replies


def _reply(inbound: InboundEmail, message: OutboundMessage) -> None:
    enrollment = _enrollment(message)
    campaign = enrollment.campaign
    if campaign.stop_on_reply:
        stop_enrollments([enrollment.pk], EnrollmentStatus.REPLIED, "replied")
    if campaign.stop_on_company_reply:
        domain = _domain(enrollment.contact.email)
        if domain and domain not in FREE_MAIL_DOMAINS:
            colleagues = (
                Enrollment.objects.unscoped()
                .filter(campaign=campaign, status__in=STOPPABLE)
                .exclude(pk=enrollment.pk)
                .filter(contact__email__iendswith=f"@{domain}")
                .values_list("pk", flat=True)
            )
            stop_enrollments(list(colleagues), EnrollmentStatus.REPLIED, "company_replied")
    if inbound.unsubscribe_request:
        _unsubscribe(enrollment, source="Reply asking to unsubscribe")
    emit(
        workspace=campaign.workspace,
        type="email.replied",
        data=email_payload(message, enrollment) | {"reply": _reply_payload(inbound)},
    )


def _auto_reply(inbound: InboundEmail, message: OutboundMessage, received_at: datetime) -> None:
    """Not a reply. An out-of-office pauses the contact until the day after it is back (read
    from the text), or for the campaign's default when no date could be read."""
    enrollment = _enrollment(message)
    campaign = enrollment.campaign
    until = None
    if inbound.verdict.get("out_of_office"):
        until = _back_on(campaign, enrollment, inbound.return_date, received_at)
        paused = (
            Enrollment.objects.unscoped()
            .filter(pk=enrollment.pk)
            .filter(status__in=(EnrollmentStatus.PENDING, EnrollmentStatus.ACTIVE))
            .update(
                status=EnrollmentStatus.PAUSED,
                paused_until=until,
                due_at=None,
                stopped_reason="out_of_office",
            )
        )
        if paused:
            _cancel_scheduled([enrollment.pk])
    emit(
        workspace=campaign.workspace,
        type="email.auto_replied",
        data=email_payload(message, enrollment)
        | {
            "auto_reply": _reply_payload(inbound)
            | {
                "out_of_office": bool(inbound.verdict.get("out_of_office")),
                "return_date": inbound.return_date.isoformat() if inbound.return_date else None,
                "paused_until": until.isoformat() if until else None,
            }
        },
    )


def _back_on(
    campaign: Campaign, enrollment: Enrollment, return_date, received_at: datetime
) -> datetime:
    window = campaign_window(campaign, enrollment.contact)
    zone = ZoneInfo(window.timezone)
    if return_date is None:
        day = (received_at + timedelta(days=campaign.out_of_office_days)).astimezone(zone).date()
    else:
        day = return_date + timedelta(days=1)  # let them read their inbox first
    return schedule.next_open(window, datetime.combine(day, time.min, tzinfo=zone))


def enrollments_resume_due(*, now: datetime | None = None) -> int:
    """Out-of-office pauses that have run out: back in the sequence, due at once (the tick
    applies the window)."""
    now = now or timezone.now()
    return (
        Enrollment.objects.unscoped()
        .filter(status=EnrollmentStatus.PAUSED, paused_until__lte=now)
        .update(status=EnrollmentStatus.ACTIVE, paused_until=None, due_at=now, stopped_reason="")
    )


# ----------------------------------------------------------------------------- bounces


def _bounce(inbound: InboundEmail, message: OutboundMessage | None, arrival: Arrival) -> None:
    verdict = arrival.verdict
    bounce = Bounce(
        kind=verdict.bounce_class or BounceClass.HARD,
        code=None,
        enhanced_code=verdict.status,
        diagnostic=verdict.diagnostic or verdict.subject,
        source="dsn",
    )
    mailbox = arrival.mailbox
    if bounce.kind == BounceClass.QUOTA:
        now = timezone.now()
        until = next_local_midnight(mailbox, now)
        mailbox_pause_until(mailbox_id=mailbox.pk, until=until, reason=REASON_QUOTA_PAUSE)
        return
    if bounce.kind == BounceClass.BLOCK:
        _sender_blocked(mailbox, message, bounce)
        return
    if message is None:
        return
    if bounce.kind == BounceClass.SOFT:
        contact_id = message.enrollment.contact_id
        Contact.objects.unscoped().filter(pk=contact_id).update(soft_bounces=F("soft_bounces") + 1)
        count = Contact.objects.unscoped().values_list("soft_bounces", flat=True).get(pk=contact_id)
        if count < SOFT_BOUNCES_BEFORE_HARD:
            _emit_bounce(message, bounce)
            return
        bounce = Bounce(
            kind=BounceClass.HARD,
            code=None,
            enhanced_code=bounce.enhanced_code,
            diagnostic=f"{count} soft bounces in a row; the last: {bounce.diagnostic}",
            source="dsn",
        )
    message_hard_bounced(_loaded(message), bounce)


def _sender_blocked(mailbox: Mailbox, message: OutboundMessage | None, bounce: Bounce) -> None:
    """The recipient's server refused the sender, not the address: the contact is not blamed;
    the mailbox and the campaign say so until someone fixes the domain."""
    now = timezone.now()
    Mailbox.objects.unscoped().filter(pk=mailbox.pk).update(
        blocked_at=now, blocked_reason=bounce.diagnostic[:500]
    )
    if message is not None:
        Campaign.objects.unscoped().filter(pk=message.enrollment.campaign_id).update(
            warning=REASON_SENDER_BLOCKED, warning_at=now
        )
        _emit_bounce(message, bounce)


def _emit_bounce(message: OutboundMessage, bounce: Bounce) -> None:
    message = _loaded(message)
    emit(
        workspace=message.enrollment.campaign.workspace,
        type="email.bounced",
        data=email_payload(message, message.enrollment) | {"bounce": bounce.payload()},
    )


# ----------------------------------------------------------------------------- stopping


def stop_enrollments(ids: list, status: str, reason: str) -> int:
    """Stop these enrollments (those still running or paused) and withdraw their emails not
    yet handed to a server."""
    if not ids:
        return 0
    stopped = list(
        Enrollment.objects.unscoped()
        .filter(pk__in=ids, status__in=STOPPABLE)
        .values_list("pk", flat=True)
    )
    Enrollment.objects.unscoped().filter(pk__in=stopped).update(
        status=status, due_at=None, paused_until=None, stopped_reason=reason
    )
    _cancel_scheduled(stopped)
    return len(stopped)


def _cancel_scheduled(enrollment_ids: list) -> None:
    """Scheduled emails of stopped enrollments never leave; their quota goes back. One being
    sent right now is stopped by the send task's own recheck."""
    scheduled = list(
        OutboundMessage.objects.unscoped()
        .select_for_update()
        .filter(enrollment_id__in=enrollment_ids, status=MessageStatus.SCHEDULED)
    )
    for message in scheduled:
        if message.quota_held:
            mailbox_release_send(mailbox_id=message.mailbox_id, day=message.quota_day)
    OutboundMessage.objects.unscoped().filter(pk__in=[m.pk for m in scheduled]).update(
        status=MessageStatus.CANCELLED, quota_held=False
    )


def _unsubscribe(enrollment: Enrollment, *, source: str) -> None:
    contact = Contact.objects.unscoped().get(pk=enrollment.contact_id)
    unsubscribe_everywhere(workspace=enrollment.campaign.workspace, contact=contact, source=source)


def unsubscribe_everywhere(*, workspace, contact: Contact, source: str) -> None:
    """The contact asked to hear no more (a reply, a complaint, the unsubscribe link): marked
    unsubscribed and suppressed (`contact.unsubscribed` once), and every sequence it is in
    stops, its emails not yet handed to a server withdrawn."""
    if contact.status != ContactStatus.UNSUBSCRIBED:
        contact_unsubscribe(workspace=workspace, contact=contact, source=source)
    running = Enrollment.objects.unscoped().filter(
        workspace=workspace, contact=contact, status__in=STOPPABLE
    )
    stop_enrollments(
        list(running.values_list("pk", flat=True)), EnrollmentStatus.UNSUBSCRIBED, "unsubscribed"
    )


# ----------------------------------------------------------------------------- helpers


def _enrollment(message: OutboundMessage) -> Enrollment:
    return (
        Enrollment.objects.unscoped()
        .select_related("campaign__workspace", "contact")
        .get(pk=message.enrollment_id)
    )


def _loaded(message: OutboundMessage) -> OutboundMessage:
    return (
        OutboundMessage.objects.unscoped()
        .select_related(
            "enrollment__campaign__workspace", "enrollment__contact", "step", "variant", "mailbox"
        )
        .get(pk=message.pk)
    )


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower()


def _reply_payload(inbound: InboundEmail) -> dict[str, Any]:
    return {
        "id": str(inbound.pk),
        "url": f"/api/v1/replies/{inbound.pk}/",
        "from": inbound.from_email,
        "subject": inbound.subject,
        "text": inbound.text[:2000],
        "received_at": inbound.received_at.isoformat(),
        "low_confidence": inbound.low_confidence,
    }
