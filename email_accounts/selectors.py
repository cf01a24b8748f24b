"""Reads about mailboxes: the limit in force today, what has been sent, what is missing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Workspace
from email_accounts.models import Mailbox, Provider

SCOPE_OPENID = "openid"
SCOPE_EMAIL = "https://www.googleapis.com/auth/userinfo.email"
SCOPE_GMAIL = "https://www.googleapis.com/auth/gmail.modify"
GMAIL_SCOPES = (SCOPE_OPENID, SCOPE_EMAIL, SCOPE_GMAIL)


def mailboxes(*, workspace: Workspace) -> QuerySet[Mailbox]:
    return Mailbox.objects.for_workspace(workspace).order_by("email")


def ramp_volume(start: int, increase: int, day_index: int) -> int:
    """The ramp-up curve: `start` emails on day 0, then `increase` more each day in week 1,
    twice that each day in week 2, three times in week 3… So the defaults (20, +2) give the
    usual warm-up: 20 → 32 a day in week 1, 48 → 72 in week 2, 104 → 140 in week 3."""
    return start + increase * day_index * (day_index // 7 + 1)


def ramp_up_limit(mailbox: Mailbox, day: date) -> int | None:
    """What the ramp-up allows on `day` (None when it is off or has reached the daily limit)."""
    if not mailbox.ramp_up_enabled or mailbox.ramp_up_started_on is None:
        return None
    days = max((day - mailbox.ramp_up_started_on).days, 0)
    allowed = ramp_volume(mailbox.ramp_up_start, mailbox.ramp_up_increase, days)
    return allowed if allowed < mailbox.daily_limit else None


def limit_on(mailbox: Mailbox, day: date) -> int:
    """The mailbox's own limit for one of its local days: limits compose by min()."""
    ramp = ramp_up_limit(mailbox, day)
    return mailbox.daily_limit if ramp is None else min(mailbox.daily_limit, ramp)


def limit_today(mailbox: Mailbox, now: datetime | None = None) -> int:
    return limit_on(mailbox, mailbox.local_day(now or timezone.now()))


def ramping_today(mailbox: Mailbox, now: datetime | None = None) -> bool:
    return ramp_up_limit(mailbox, mailbox.local_day(now or timezone.now())) is not None


def sent_today(mailbox: Mailbox, now: datetime | None = None) -> int:
    """Sends counted on the mailbox's current local day (the counter resets at its midnight)."""
    today = mailbox.local_day(now or timezone.now())
    return mailbox.sent_today if mailbox.sent_day == today else 0


@dataclass(frozen=True)
class RampWeek:
    week: int
    first: int
    last: int


def ramp_up_forecast(mailbox: Mailbox, weeks: int = 4) -> list[RampWeek]:
    """The daily volume at the start and end of each of the first weeks of the ramp-up (what
    the settings page shows while the user tunes the numbers)."""
    if not mailbox.ramp_up_enabled:
        return []
    forecast = []
    for week in range(weeks):
        first, last = (
            min(
                mailbox.daily_limit, ramp_volume(mailbox.ramp_up_start, mailbox.ramp_up_increase, d)
            )
            for d in (7 * week, 7 * week + 6)
        )
        forecast.append(RampWeek(week + 1, first, last))
        if last >= mailbox.daily_limit:
            break
    return forecast


def ramp_up_full_on_day(mailbox: Mailbox) -> int | None:
    """The ramp-up's day number (1 = its first day) from which the whole daily limit applies;
    None when it is off, or never gets there (no increase)."""
    if not mailbox.ramp_up_enabled:
        return None
    if mailbox.ramp_up_start < mailbox.daily_limit and mailbox.ramp_up_increase == 0:
        return None
    day = 0
    while ramp_volume(mailbox.ramp_up_start, mailbox.ramp_up_increase, day) < mailbox.daily_limit:
        day += 1  # at most a few hundred steps: the curve grows quadratically
    return day + 1


def missing_gmail_features(scopes: tuple[str, ...] | list[str]) -> list[str]:
    """What will not work because the user unticked a scope on Google's consent screen."""
    missing = []
    if SCOPE_GMAIL not in scopes:
        missing.append(
            _(
                "Sending, reading replies and labelling need “Read, compose, and send emails from "
                "your Gmail account” (gmail.modify). Reconnect and leave that box ticked."
            )
        )
    if SCOPE_EMAIL not in scopes:
        missing.append(
            _(
                "FluenzR cannot read the mailbox's address without “See your primary Google "
                "Account email address”. Reconnect and leave that box ticked."
            )
        )
    return missing


def mailbox_missing_features(mailbox: Mailbox) -> list[str]:
    tokens = mailbox.oauth_tokens if mailbox.provider == Provider.GMAIL else None
    return missing_gmail_features(tokens.scopes) if tokens else []


def quota_left_today(mailbox: Mailbox, now: datetime | None = None) -> int:
    now = now or timezone.now()
    return limit_today(mailbox, now) - sent_today(mailbox, now)
