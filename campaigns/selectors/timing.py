"""When emails go: why a contact has not been emailed yet, and a campaign's forecast.

Both are deterministic: they read the stored state and the hard earliest times, never the
randomised spacing, so the answer does not change on every reload.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns import schedule
from campaigns.models import (
    RUNNING_ENROLLMENT,
    Campaign,
    CampaignStatus,
    Enrollment,
    MessageStatus,
)
from campaigns.selectors.timeline import end_sentence
from campaigns.windows import campaign_window
from email_accounts import selectors as mailbox_selectors
from email_accounts.models import MailboxStatus


@dataclass
class Explanation:
    status: str
    next_at: datetime | None
    reasons: list[str] = field(default_factory=list)


def explain(*, enrollment: Enrollment, now: datetime | None = None) -> Explanation:
    """Why this contact has not been emailed (yet): the next due time and what holds it."""
    now = now or timezone.now()
    campaign, reasons = enrollment.campaign, []
    ended = end_sentence(enrollment)
    if ended is not None:
        return Explanation(enrollment.status, None, [ended])
    in_flight = enrollment.messages.filter(
        status__in=(MessageStatus.SCHEDULED, MessageStatus.SENDING, MessageStatus.UNKNOWN)
    ).first()
    if in_flight is not None:
        if in_flight.status == MessageStatus.UNKNOWN:
            reasons.append(
                _(
                    "The last send's outcome is unknown (the connection broke): check the "
                    "mailbox's Sent folder, then send again or mark it sent."
                )
            )
        else:
            reasons.append(_("Being sent now (attempt %(n)d).") % {"n": in_flight.attempts + 1})
        return Explanation(enrollment.status, in_flight.next_attempt_at, reasons)
    if campaign.status != CampaignStatus.ACTIVE:
        reasons.append(
            _("The campaign is %(status)s.") % {"status": campaign.get_status_display().lower()}
        )
    due = enrollment.due_at
    if due is None:
        reasons.append(_("Not scheduled: the campaign has not been launched."))
        return Explanation(enrollment.status, None, reasons)
    window = campaign_window(campaign, enrollment.contact)
    earliest = max(due, now)
    if not schedule.is_open(window, earliest):
        earliest = schedule.next_open(window, earliest)
        reasons.append(
            _("Outside the sending window (%(zone)s); it opens %(when)s.")
            % {"zone": window.timezone, "when": _local(earliest, window.timezone)}
        )
    elif due > now:
        reasons.append(_("Waiting for the delay after the previous email."))
    mailbox = enrollment.mailbox
    if mailbox is not None:
        if mailbox.status != MailboxStatus.CONNECTED:
            reasons.append(
                _("Its mailbox %(email)s is %(status)s: %(reason)s")
                % {
                    "email": mailbox.email,
                    "status": mailbox.get_status_display().lower(),
                    "reason": mailbox.reason_display,
                }
            )
        elif mailbox_selectors.quota_left_today(mailbox, now) <= 0:
            reasons.append(
                _("Its mailbox %(email)s has reached today's limit (%(limit)d).")
                % {"email": mailbox.email, "limit": mailbox_selectors.limit_today(mailbox, now)}
            )
        elif mailbox.next_send_at and mailbox.next_send_at > earliest:
            earliest = mailbox.next_send_at
            reasons.append(_("Spacing: its mailbox waits between two emails."))
    if not reasons:
        reasons.append(_("Due now: it goes with the next send of its mailbox."))
    return Explanation(enrollment.status, earliest, reasons)


def _local(moment: datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


@dataclass
class Forecast:
    per_day: list[tuple[date, int]]  # local days of the campaign, emails sent
    last_email_at: datetime | None
    total: int


def forecast(
    *, campaign: Campaign, now: datetime | None = None, horizon_days: int = 120
) -> Forecast:
    """How many emails go out each day and when the last step of the last contact is expected,
    simulated day by day from the stored state with each mailbox's limit and the largest gap
    (never a random draw). Approximate by design: replies and bounces end sequences early."""
    now = now or timezone.now()
    steps = list(campaign.steps.order_by("position"))
    mailboxes = [m for m in campaign.mailboxes.all() if m.status == MailboxStatus.CONNECTED]
    if not steps or not mailboxes:
        return Forecast([], None, 0)
    window = campaign_window(campaign)
    # Each running contact: (next step index, earliest time).
    queue = [
        (e.next_position, max(e.due_at or now, now))
        for e in campaign.enrollments.filter(status__in=RUNNING_ENROLLMENT).only(
            "next_position", "due_at"
        )
    ]
    per_day: dict[date, int] = {}
    last: datetime | None = None
    total = 0
    zone = ZoneInfo(window.timezone)
    sessions = schedule.opening_times(window, now, now + timedelta(days=horizon_days))
    for session_start, session_end in sessions:
        seconds = (session_end - session_start).total_seconds()
        capacity = 0
        for mailbox in mailboxes:
            gap = max(mailbox.spacing_max_seconds, campaign.spacing_max_seconds)
            day = session_start.astimezone(ZoneInfo(mailbox.timezone)).date()
            capacity += min(mailbox_selectors.limit_on(mailbox, day), int(seconds // gap) + 1)
        if campaign.daily_new_contacts is not None:
            new_allowed = campaign.daily_new_contacts
        else:
            new_allowed = capacity
        queue.sort(key=lambda item: item[1])
        sent_now, remaining = 0, []
        for position, due in queue:
            if sent_now < capacity and due < session_end and (position > 0 or new_allowed > 0):
                sent_now += 1
                if position == 0:
                    new_allowed -= 1
                at = max(due, session_start)
                last = at
                if position + 1 < len(steps):
                    following = steps[position + 1]
                    remaining.append(
                        (
                            position + 1,
                            schedule.add_delay(
                                window, at, following.delay_amount, following.delay_unit
                            ),
                        )
                    )
            else:
                remaining.append((position, due))
        queue = remaining
        if sent_now:
            day = session_start.astimezone(zone).date()
            per_day[day] = per_day.get(day, 0) + sent_now
            total += sent_now
        if not queue:
            break
    return Forecast(sorted(per_day.items()), last, total)
