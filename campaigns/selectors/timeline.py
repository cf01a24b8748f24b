"""One contact's story in one campaign, for its timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django.utils.formats import date_format
from django.utils.translation import gettext as _

from campaigns.models import RUNNING_ENROLLMENT, Enrollment, EnrollmentStatus, OutboundMessage


@dataclass
class TimelineEntry:
    kind: str  # "enrolled", "email", "stopped" or "finished"
    at: datetime | None  # None: the time is not recorded (a stop)
    message: OutboundMessage | None = None
    text: str = ""


def end_sentence(enrollment: Enrollment) -> str | None:
    """Why a sequence is over ("Finished: …" or "Stopped: …"); None while it runs."""
    if enrollment.status == EnrollmentStatus.COMPLETED:
        return _("Finished: every email was sent.")
    if enrollment.status in RUNNING_ENROLLMENT:
        return None
    if enrollment.status == EnrollmentStatus.PAUSED and enrollment.paused_until:
        zone = enrollment.campaign.timezone
        when = enrollment.paused_until.astimezone(ZoneInfo(zone))
        return _("Paused: an out-of-office reply. The sequence resumes %(when)s (%(zone)s).") % {
            "when": date_format(when, "SHORT_DATETIME_FORMAT"),
            "zone": zone,
        }
    if enrollment.stopped_reason == "company_replied":
        return _("Stopped: someone else at the same company replied.")
    text = _("Stopped: %(status)s.") % {"status": EnrollmentStatus(enrollment.status).label}
    # A server's or provider's own words add detail; the engine's bare codes do not.
    if " " in enrollment.stopped_reason:
        text += f" {enrollment.stopped_reason}"
    return text


def message_time(message: OutboundMessage) -> datetime:
    """When an email happened: sent, else its last attempt, else when it is due."""
    return message.sent_at or message.sending_started_at or message.next_attempt_at


def enrollment_timeline(enrollment: Enrollment) -> list[TimelineEntry]:
    """One contact's story in one campaign, oldest first: enrolled, each email (scheduled,
    sent, bounced, failed or of unknown outcome), then why the sequence stopped or that it
    finished."""
    entries = [TimelineEntry("enrolled", enrollment.created_at)]
    messages = enrollment.messages.select_related("step", "variant", "mailbox").order_by(
        "step__position", "created_at"
    )
    entries += sorted(
        (TimelineEntry("email", message_time(m), message=m) for m in messages),
        key=lambda entry: entry.at,
    )
    ended = end_sentence(enrollment)
    if ended is not None:
        kind = "finished" if enrollment.status == EnrollmentStatus.COMPLETED else "stopped"
        entries.append(TimelineEntry(kind, None, text=ended))
    return entries
