"""A hard bounce, whether the server refused the recipient at send time (SMTP 5xx) or a
delivery status notification said so later: the message is marked bounced, the enrollment
stops, the contact is marked bounced and suppressed (no campaign writes to it again), and the
campaign pauses itself when its recent hard-bounce rate passes its threshold."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from campaigns.models import (
    Campaign,
    CampaignStatus,
    Enrollment,
    EnrollmentStatus,
    MessageStatus,
    OutboundMessage,
)
from campaigns.payloads import campaign_payload
from contacts.models import ContactStatus
from contacts.services.contacts import contact_payload
from contacts.services.suppressions import suppression_add
from webhooks.events import emit

RECENT_SENDS = 50  # the window of the bounce-rate protection
MIN_SENDS_FOR_RATE = 20  # fewer sends say too little: 1 bounce in 3 is not a 33% rate
REASON_BOUNCE_PROTECTION = gettext_noop(
    "Paused by bounce protection: too many of the last emails bounced. Check the bounced "
    "contacts on the Stats tab, clean the list, then resume."
)


@dataclass(frozen=True)
class Bounce:
    kind: str  # "hard" | "soft" | "block" | "quota"
    code: int | None  # the SMTP reply code, when known
    enhanced_code: str  # e.g. "5.1.1"
    diagnostic: str
    source: str  # "smtp" (at send time) or "dsn"

    def payload(self) -> dict[str, Any]:
        return {
            "type": self.kind,
            "code": self.code,
            "enhanced_code": self.enhanced_code,
            "diagnostic": self.diagnostic[:500],
            "source": self.source,
        }


@transaction.atomic
def message_hard_bounced(message: OutboundMessage, bounce: Bounce) -> None:
    updated = (
        OutboundMessage.objects.unscoped()
        .filter(pk=message.pk)
        .exclude(status=MessageStatus.BOUNCED)
        .update(
            status=MessageStatus.BOUNCED,
            error=bounce.diagnostic[:1000],
            error_code=(bounce.enhanced_code or str(bounce.code or ""))[:20],
        )
    )
    if not updated:  # already recorded (a DSN read twice, or after the send-time refusal)
        return
    enrollment = (
        Enrollment.objects.unscoped()
        .select_for_update(of=("self",))
        .select_related("campaign__workspace", "contact")
        .get(pk=message.enrollment_id)
    )
    if enrollment.status in (
        EnrollmentStatus.PENDING,
        EnrollmentStatus.ACTIVE,
        EnrollmentStatus.PAUSED,
    ):
        enrollment.status, enrollment.due_at = EnrollmentStatus.BOUNCED, None
        enrollment.stopped_reason = bounce.diagnostic[:300]
        enrollment.save(update_fields=["status", "due_at", "stopped_reason"])
    campaign, contact = enrollment.campaign, enrollment.contact
    workspace = campaign.workspace
    type(contact).objects.unscoped().filter(pk=contact.pk).update(
        status=ContactStatus.BOUNCED, soft_bounces=0
    )
    suppression_add(
        workspace=workspace,
        value=contact.email,
        reason="bounced",
        source=f"Bounce: {bounce.enhanced_code or bounce.code or bounce.source}",
    )
    emit(
        workspace=workspace,
        type="email.bounced",
        data=email_payload(message, enrollment) | {"bounce": bounce.payload()},
    )
    pause_on_bounce_rate(campaign)


def pause_on_bounce_rate(campaign: Campaign) -> bool:
    """Bounce protection: pause the campaign when hard bounces pass its threshold over its
    last sends (emits campaign.paused with the reason); True when it paused."""
    limit = campaign.bounce_pause_percent
    if not limit or campaign.status != CampaignStatus.ACTIVE:
        return False
    recent = list(
        OutboundMessage.objects.unscoped()
        .filter(
            enrollment__campaign=campaign,
            status__in=(MessageStatus.SENT, MessageStatus.BOUNCED),
            sent_at__isnull=False,
        )
        .order_by("-sent_at")
        .values_list("status", flat=True)[:RECENT_SENDS]
    )
    if len(recent) < MIN_SENDS_FOR_RATE:
        return False
    rate = 100 * recent.count(MessageStatus.BOUNCED) / len(recent)
    if rate <= limit:
        return False
    paused = (
        Campaign.objects.unscoped()
        .filter(pk=campaign.pk, status=CampaignStatus.ACTIVE)
        .update(status=CampaignStatus.PAUSED, status_reason=REASON_BOUNCE_PROTECTION)
    )
    if paused:
        campaign.status, campaign.status_reason = CampaignStatus.PAUSED, REASON_BOUNCE_PROTECTION
        emit(
            workspace=campaign.workspace,
            type="campaign.paused",
            data={
                "campaign": campaign_payload(campaign),
                "reason": "bounce_protection",
                "bounce_rate_percent": round(rate, 1),
                "limit_percent": limit,
                "sends": len(recent),
                "at": timezone.now().isoformat(),
            },
        )
    return bool(paused)


def email_payload(message: OutboundMessage, enrollment: Enrollment) -> dict[str, Any]:
    return {
        "email": {
            "id": str(message.pk),
            "message_id": message.message_id,
            "step": message.step.position + 1,
            "variant": message.variant.label,
            "mailbox": message.mailbox.email,
        },
        "campaign": campaign_payload(enrollment.campaign),
        "contact": contact_payload(enrollment.contact),
    }
