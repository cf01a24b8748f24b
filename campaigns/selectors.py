"""Reads about campaigns: stats, previews, "why not yet", forecasts, launch checks.

Explanations and forecasts are deterministic: they read the stored state and the hard earliest
times, never the randomised spacing, so the answer does not change on every reload.
"""

from __future__ import annotations

import email
import operator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email import policy
from functools import reduce
from typing import NamedTuple
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import (
    Count,
    F,
    Func,
    IntegerField,
    Q,
    QuerySet,
    TextField,
    Value,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce, TruncDate
from django.db.models.lookups import Exact, In
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from campaigns import schedule, templating
from campaigns.engine.compose import choose_variant, compose, render_context, sender_values
from campaigns.models import (
    RUNNING_ENROLLMENT,
    Campaign,
    CampaignStatus,
    Enrollment,
    EnrollmentStatus,
    MessageStatus,
    OutboundMessage,
    Step,
    Variant,
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
    at_least: bool = False  # more contacts lacked a value than were checked: a lower bound


# What str.strip() removes (the renderer trims values with it), for PostgreSQL's btrim(): a
# value of only these characters is empty to the renderer, so SQL must call it blank too.
PYTHON_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_WHITESPACE_CODES = sorted(ord(c) for c in PYTHON_WHITESPACE)
_CHUNK = 2_000
# What render_context reads of a contact (the rest of the row is not fetched).
_CONTACT_VALUES = (
    *(f"contact__{field}" for field in templating.CONTACT_FIELDS.values()),
    "contact__custom_fields",
)


class _Trim(Func):
    """btrim(value, characters); SQLite (the embedded default) spells it trim()."""

    function = "btrim"
    output_field = TextField()

    def as_sqlite(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, function="trim", **extra)


class _FirstCodePoint(Func):
    function = "ascii"  # PostgreSQL: the first character's code point in UTF-8
    output_field = IntegerField()

    def as_sqlite(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, function="unicode", **extra)


def _blank(expression) -> Q:
    """SQL: the value is missing, or nothing but whitespace. Only a value starting with a
    space is trimmed: most are not, and trimming with this set is the scan's main cost."""
    empty = Exact(Coalesce(expression, Value(""), output_field=TextField()), "")
    trimmed = _Trim(expression, Value(PYTHON_WHITESPACE))
    return Q(empty) | (
        Q(In(_FirstCodePoint(expression), _WHITESPACE_CODES)) & Q(Exact(trimmed, ""))
    )


def _lacks(name: str) -> Q:
    """SQL: the enrollment's contact may have no value for the contact variable `name` (the
    names render_context gives the renderer: camelCase contact fields, else a custom-field
    key). A superset is harmless: the renderer decides (a key like "2024" reads as an array
    index here, so such contacts are all candidates)."""
    if name in templating.CONTACT_FIELDS:
        return _blank(F(f"contact__{templating.CONTACT_FIELDS[name]}"))
    return _blank(KeyTextTransform(name, "contact__custom_fields"))


def _sender_gaps(variant: Variant, mailbox: Mailbox) -> set[str]:
    """The sender variables of this variant that this mailbox has no value for, as the
    renderer says (the contact half of the context is left empty and ignored)."""
    ctx = templating.RenderContext(contact={}, custom={}, sender=sender_values(mailbox), seed="")
    names = templating.undefined_variables(variant.subject, ctx)
    names += templating.undefined_variables(variant.body, ctx)
    return {name for name in names if templating.is_sender_variable(name)}


def undefined_variables_report(
    campaign: Campaign, *, limit: int | None = None
) -> list[UndefinedReport]:
    """Which steps use a variable that some running contacts have no value for (and no
    fallback): a launch is blocked until each is given a fallback or the data is filled.

    Every running contact counts, at the cost of the ones lacking a value: SQL picks the
    enrollments whose contact is blank in a variable some variant needs, and only those are
    checked by the renderer (it has the last word). With `limit`, the check stops once that many
    contacts lacking a value are found, and a variant's count is then a lower bound
    (`at_least`). Sender variables are
    checked once per mailbox, and counted exactly: an enrollment depends on the mailbox that
    wrote to it or, before its first email, on any of the campaign's (rotation may pick any)."""
    running = campaign.enrollments.filter(status__in=RUNNING_ENROLLMENT)
    variants = [
        (step, variant)
        for step in campaign.steps.prefetch_related("variants")
        for variant in step.variants.all()
    ]
    # Running enrollments per sending mailbox (None: not written to yet), in one query.
    per_mailbox = dict(
        running.order_by()
        .values_list("mailbox_id")
        .annotate(n=Count("pk"))
        .values_list("mailbox_id", "n")
    )
    if not variants or not per_mailbox:
        return []
    senders = list(campaign.mailboxes.all())
    assigned = {pk for pk in per_mailbox if pk is not None} - {m.pk for m in senders}
    mailboxes = senders + list(
        Mailbox.objects.for_workspace(campaign.workspace).filter(pk__in=assigned)
    )

    missing: list[set[str]] = [set() for _ in variants]
    affected = [0] * len(variants)
    # Mailbox id (None: not written to yet) → the variants its contacts lack a sender value in.
    sender_hit: dict = {}
    for index, (_step, variant) in enumerate(variants):
        for mailbox in mailboxes:
            gaps = _sender_gaps(variant, mailbox)
            slots = [mailbox.pk, *([None] if mailbox in senders else [])]
            for slot in (slot for slot in slots if gaps and slot in per_mailbox):
                missing[index] |= gaps
                if index not in sender_hit.setdefault(slot, set()):
                    sender_hit[slot].add(index)
                    affected[index] += per_mailbox[slot]

    # Each variant's contact variables without a fallback, parsed once; then, per contact,
    # the renderer's own verdict (templating.undefined_variables is these two functions).
    needs = [
        sorted(
            name
            for text in (variant.subject, variant.body)
            for name in templating.required_variables(text)
            if not templating.is_sender_variable(name)
        )
        for _step, variant in variants
    ]
    contact_names = sorted({name for names in needs for name in names})
    truncated, found = False, 0
    if contact_names:
        candidates = (
            running.filter(reduce(operator.or_, (_lacks(name) for name in contact_names)))
            .select_related("contact")
            .only("pk", "mailbox", "contact", *_CONTACT_VALUES)
            .order_by()
        )
        # Contact values depend neither on the step nor on the mailbox: one context each.
        any_mailbox, first_step = (mailboxes[0] if mailboxes else Mailbox()), variants[0][0]
        checks = list(enumerate(needs))
        # In a transaction the server-side cursor is read as it goes (in autocommit, Django
        # declares it WITH HOLD and PostgreSQL computes every row first, even past `limit`).
        with transaction.atomic():
            for enrollment in candidates.iterator(chunk_size=_CHUNK):
                if found == limit:
                    truncated = True
                    break
                ctx = render_context(enrollment, first_step, any_mailbox)
                counted = sender_hit.get(enrollment.mailbox_id, ())
                lacks_any = False
                for index, names in checks:
                    lacking = templating.missing_values(names, ctx)
                    if lacking:
                        lacks_any = True
                        missing[index].update(lacking)
                        if index not in counted:
                            affected[index] += 1
                found += lacks_any
    return [
        UndefinedReport(
            step.position + 1,
            variant.label,
            sorted(missing[index]),
            affected[index],
            at_least=truncated and bool(needs[index]),
        )
        for index, (step, variant) in enumerate(variants)
        if affected[index]
    ]


def undefined_problem_sentences(campaign: Campaign, *, limit: int | None = None) -> list[str]:
    sentences = []
    for report in undefined_variables_report(campaign, limit=limit):
        if report.at_least:
            sentence = ngettext(
                "Email %(step)d (%(variant)s) uses %(names)s, with no value for at least "
                "%(count)d contact: give a fallback like {{firstName|there}}, or fill it in.",
                "Email %(step)d (%(variant)s) uses %(names)s, with no value for at least "
                "%(count)d contacts: give a fallback like {{firstName|there}}, or fill it in.",
                report.contacts,
            )
        else:
            sentence = ngettext(
                "Email %(step)d (%(variant)s) uses %(names)s, with no value for %(count)d "
                "contact: give a fallback like {{firstName|there}}, or fill it in.",
                "Email %(step)d (%(variant)s) uses %(names)s, with no value for %(count)d "
                "contacts: give a fallback like {{firstName|there}}, or fill it in.",
                report.contacts,
            )
        names = ", ".join(f"{{{{{name}}}}}" for name in report.names)
        sentences.append(
            sentence
            % {
                "step": report.step,
                "variant": report.variant,
                "names": names,
                "count": report.contacts,
            }
        )
    return sentences


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


# ------------------------------------------------------------------------------- daily numbers

# What the daily chart counts: emails that left (or were refused) and those that gave up.
DAILY_OUTCOMES = (MessageStatus.SENT, MessageStatus.BOUNCED, MessageStatus.FAILED)


class DayCount(NamedTuple):
    day: date  # a local day of the campaign (its window's time zone)
    sent: int
    bounced: int
    failed: int


def campaign_daily(
    campaign: Campaign, *, days: int = 30, now: datetime | None = None
) -> list[DayCount]:
    """Emails sent, bounced and failed on each local day of the campaign (its window's time
    zone), over the last `days` days or since the launch when that is later; days without an
    email are there with zeros. One query.

    A sent email counts on the day it was sent; a bounce or a failure on the day of its last
    attempt (the send that the server refused, or the last retry)."""
    if campaign.launched_at is None:
        return []
    now = now or timezone.now()
    zone = ZoneInfo(campaign.timezone)
    today = now.astimezone(zone).date()
    first = max(today - timedelta(days=days - 1), campaign.launched_at.astimezone(zone).date())
    if first > today:
        return []
    since = datetime.combine(first, datetime.min.time(), tzinfo=zone)
    rows = (
        OutboundMessage.objects.for_workspace(campaign.workspace)
        .filter(enrollment__campaign=campaign, status__in=DAILY_OUTCOMES)
        .alias(at=Coalesce("sent_at", "sending_started_at", "next_attempt_at"))
        .filter(at__gte=since)
        .annotate(day=TruncDate("at", tzinfo=zone))
        .values("day")
        .annotate(
            sent=Count("pk", filter=Q(status=MessageStatus.SENT)),
            bounced=Count("pk", filter=Q(status=MessageStatus.BOUNCED)),
            failed=Count("pk", filter=Q(status=MessageStatus.FAILED)),
        )
        .order_by("day")
    )
    found = {row["day"]: row for row in rows}
    result = []
    for offset in range((today - first).days + 1):
        day = first + timedelta(days=offset)
        row = found.get(day)
        result.append(
            DayCount(day, row["sent"], row["bounced"], row["failed"])
            if row
            else DayCount(day, 0, 0, 0)
        )
    return result


def unknown_messages(campaign: Campaign, *, limit: int = 20) -> list[OutboundMessage]:
    """The campaign's emails whose outcome is unknown (not found in the mailbox's Sent folder):
    a person decides, on the contact's timeline, whether each goes again."""
    return list(
        OutboundMessage.objects.for_workspace(campaign.workspace)
        .filter(enrollment__campaign=campaign, status=MessageStatus.UNKNOWN)
        .select_related("enrollment__contact", "step")
        .order_by("sending_started_at", "pk")[:limit]
    )


# ------------------------------------------------------------------------------- timeline


@dataclass
class TimelineEntry:
    kind: str  # "enrolled", "email", "stopped" or "finished"
    at: datetime | None  # None: the time is not recorded (a stop)
    message: OutboundMessage | None = None
    text: str = ""


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
    if enrollment.status == EnrollmentStatus.COMPLETED:
        entries.append(TimelineEntry("finished", None, text=_("Finished: every email was sent.")))
    elif enrollment.status not in RUNNING_ENROLLMENT:
        text = _("Stopped: %(status)s.") % {"status": EnrollmentStatus(enrollment.status).label}
        if " " in enrollment.stopped_reason:  # a server's own words, not an engine code
            text += f" {enrollment.stopped_reason}"
        entries.append(TimelineEntry("stopped", None, text=text))
    return entries
