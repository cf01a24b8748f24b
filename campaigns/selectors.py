"""Reads about campaigns: stats, previews, "why not yet", forecasts, launch checks.

Explanations and forecasts are deterministic: they read the stored state and the hard earliest
times, never the randomised spacing, so the answer does not change on every reload.
"""

from __future__ import annotations

import email
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email import policy
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from campaigns import schedule, templating
from campaigns.engine.compose import choose_variant, compose, render_context
from campaigns.models import (
    RUNNING_ENROLLMENT,
    Campaign,
    CampaignStatus,
    Enrollment,
    EnrollmentStatus,
    MessageStatus,
    OutboundMessage,
    Step,
)
from campaigns.windows import campaign_window
from email_accounts import selectors as mailbox_selectors
from email_accounts.models import Mailbox, MailboxStatus

PREVIEW_MESSAGE_ID = "<preview@fluenzr.invalid>"


# ------------------------------------------------------------------------------- launch checks


@dataclass
class UndefinedReport:
    step: int  # 1-based, as users count
    variant: str
    names: list[str]
    contacts: int


def undefined_variables_report(campaign: Campaign, *, limit: int = 10_000) -> list[UndefinedReport]:
    """Which steps use a variable that some enrolled contacts have no value for (and no
    fallback): a launch is blocked until each is given a fallback or the data is filled."""
    reports = []
    enrollments = list(
        campaign.enrollments.filter(status__in=RUNNING_ENROLLMENT).select_related("contact")[:limit]
    )
    mailbox = campaign.mailboxes.first()
    for step in campaign.steps.prefetch_related("variants"):
        for variant in step.variants.all():
            missing: Counter = Counter()
            affected = 0
            for enrollment in enrollments:
                ctx = render_context(enrollment, step, mailbox) if mailbox else None
                if ctx is None:
                    break
                names = templating.undefined_variables(variant.subject, ctx)
                names += templating.undefined_variables(variant.body, ctx)
                if names:
                    affected += 1
                    missing.update(set(names))
            if affected:
                reports.append(
                    UndefinedReport(step.position + 1, variant.label, sorted(missing), affected)
                )
    return reports


def undefined_problem_sentences(campaign: Campaign, *, limit: int = 10_000) -> list[str]:
    return [
        ngettext(
            "Email %(step)d (%(variant)s) uses %(names)s, with no value for %(count)d contact: "
            "give a fallback like {{firstName|there}}, or fill it in.",
            "Email %(step)d (%(variant)s) uses %(names)s, with no value for %(count)d contacts: "
            "give a fallback like {{firstName|there}}, or fill it in.",
            report.contacts,
        )
        % {
            "step": report.step,
            "variant": report.variant,
            "names": ", ".join(f"{{{{{name}}}}}" for name in report.names),
            "count": report.contacts,
        }
        for report in undefined_variables_report(campaign, limit=limit)
    ]


# ------------------------------------------------------------------------------- preview


@dataclass(frozen=True)
class Preview:
    subject: str
    body: str  # the text/plain part, as the contact will read it
    raw: bytes


def preview(*, enrollment: Enrollment, step: Step, mailbox: Mailbox | None = None) -> Preview:
    """The exact email this enrollment gets for this step (same variant, same spintax)."""
    mailbox = mailbox or enrollment.mailbox or step.campaign.mailboxes.first()
    variant = choose_variant(enrollment, step, list(step.variants.all()))
    composed = compose(
        enrollment=enrollment,
        step=step,
        variant=variant,
        mailbox=mailbox,
        message_id=PREVIEW_MESSAGE_ID,
    )
    parsed = email.message_from_bytes(composed.raw, policy=policy.default)
    part = parsed.get_body(preferencelist=("plain",))
    return Preview(
        subject=str(parsed["Subject"] or ""),
        body=part.get_content() if part else "",
        raw=composed.raw,
    )


# ------------------------------------------------------------------------------- why not yet


@dataclass
class Explanation:
    status: str
    next_at: datetime | None
    reasons: list[str] = field(default_factory=list)


def explain(*, enrollment: Enrollment, now: datetime | None = None) -> Explanation:
    """Why this contact has not been emailed (yet): the next due time and what holds it."""
    now = now or timezone.now()
    campaign, reasons = enrollment.campaign, []
    if enrollment.status == EnrollmentStatus.COMPLETED:
        return Explanation(enrollment.status, None, [_("Finished: every email was sent.")])
    if enrollment.status not in RUNNING_ENROLLMENT:
        label = EnrollmentStatus(enrollment.status).label
        text = _("Stopped: %(status)s.") % {"status": label}
        # A server's or provider's own words add detail; the engine's bare codes do not.
        if " " in enrollment.stopped_reason:
            text += f" {enrollment.stopped_reason}"
        return Explanation(enrollment.status, None, [text])
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


# ------------------------------------------------------------------------------- forecast


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


# ------------------------------------------------------------------------------- stats


def campaigns_with_numbers(*, workspace) -> QuerySet[Campaign]:
    """The campaign list's numbers in one query: contacts, emails that left (sent or bounced
    at send time), bounced."""
    left = (MessageStatus.SENT, MessageStatus.BOUNCED)
    return Campaign.objects.for_workspace(workspace).annotate(
        contact_count=Count("enrollments", distinct=True),
        sent_count=Count("enrollments__messages", filter=Q(enrollments__messages__status__in=left)),
        bounced_count=Count(
            "enrollments__messages",
            filter=Q(enrollments__messages__status=MessageStatus.BOUNCED),
        ),
    )


def campaign_stats(campaign: Campaign) -> dict:
    """Contacts by state, and emails by outcome per step and variant."""
    by_state = dict(
        campaign.enrollments.values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    rows = (
        OutboundMessage.objects.for_workspace(campaign.workspace)
        .filter(enrollment__campaign=campaign)
        .values("step__position", "variant__label")
        .annotate(
            sent=Count("pk", filter=Q(status=MessageStatus.SENT)),
            bounced=Count("pk", filter=Q(status=MessageStatus.BOUNCED)),
            failed=Count("pk", filter=Q(status=MessageStatus.FAILED)),
            unknown=Count("pk", filter=Q(status=MessageStatus.UNKNOWN)),
        )
        .order_by("step__position", "variant__label")
    )
    return {
        "contacts": {status: by_state.get(status, 0) for status in EnrollmentStatus.values},
        "steps": [
            {
                "step": row["step__position"] + 1,
                "variant": row["variant__label"],
                "sent": row["sent"],
                "bounced": row["bounced"],
                "failed": row["failed"],
                "unknown": row["unknown"],
            }
            for row in rows
        ],
    }
