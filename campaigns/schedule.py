"""Sending-window math for the campaign engine: pure, DB-free, UTC in and UTC out.

It keeps promise 3 of DESIGN.md: no email leaves outside the sending window. The scheduler,
the sender and the forecast all ask these functions, so they have to give the same answers.

The rules
---------
* A window is a wall-clock range in one IANA timezone (the campaign's, or the contact's own
  when "recipient's local time" is on) on a set of weekdays (0 = Monday ... 6 = Sunday).
* Each local date ``d`` whose weekday is in ``weekdays`` opens one *session*:
  ``[d start, d end)``, or ``[d start, d+1 end)`` when ``end < start`` (the window crosses
  midnight). The weekday is the one of the day the session STARTS: with Mon-Fri and
  22:00-02:00, Friday night runs until Saturday 02:00, and Sunday night is closed, so
  Monday 00:30 is closed.
* Sessions are half-open: open at ``start``, closed again at ``end``.
* Wall clock to instant:
  - a time that does not exist (spring-forward gap, e.g. 02:30 on 2026-03-29 in Paris) moves
    forward to the first instant after the gap (03:00 CEST);
  - an ambiguous time (fall-back) means its first occurrence (``fold=0``).
  So 01:00-03:00 lasts one hour on the spring-forward night and three on the fall-back
  night; a session that lies wholly inside a gap (02:10-02:50 in Paris on that Sunday) is
  empty, so that day does not send; on the fall-back night 02:10-02:50 sends during the
  first pass through those wall-clock times only.
* ``start == end`` is rejected: it would read both as "never open" and as "always open"
  (00:00-23:59 means all day; 09:00-00:00 means until midnight).
* Every answer comes from one ordered list of sessions (touching sessions merged), so
  ``is_open``, ``next_open``, ``window_close`` and ``opening_times`` cannot disagree.
* Delays: ``minutes`` and ``hours`` are elapsed time; ``days`` count open days only (like
  lemlist), keep the local time of day when it falls inside the target day's session, and
  otherwise start at that session's opening. For a window that crosses midnight, the small
  hours before ``end`` belong to the session of the evening before.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

DELAY_UNITS = ("minutes", "hours", "days")

# Users read these (launch problems, the settings form): translated when raised.
SAME_TIMES = gettext_lazy(
    "The start and end times are the same: the window would never open (or never close). "
    "Choose different times."
)

_ONE_DAY = timedelta(days=1)
_ONE_SECOND = timedelta(seconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# A moment can still be inside the session of the day before yesterday (local): a
# midnight-crossing session started the evening before, plus a fall-back that turns the
# clock back over midnight.
_LOOKBACK_DAYS = 2
# A week holds every weekday once, so 8 days always reach an open day. A session that lies
# wholly inside a DST gap is empty, though, and the same weekday a week later is the next
# chance: two weeks bound the scan.
_MAX_SCAN_DAYS = 15

Session = tuple[datetime, datetime]


@dataclass(frozen=True)
class Window:
    timezone: str  # IANA name, e.g. "Europe/Paris"
    weekdays: frozenset[int]  # 0 = Monday ... 6 = Sunday: the weekday of a session's START
    start: time  # local wall-clock opening
    end: time  # local wall-clock closing; end < start crosses midnight

    @property
    def crosses_midnight(self) -> bool:
        return self.end < self.start


def validate_window(window: Window) -> None:
    """Raise ValueError, with a message fit for the user, when the window cannot work."""
    _zone(window.timezone)
    if not window.weekdays:
        raise ValueError(_("Choose at least one day of the week: the window would never open."))
    if not all(type(day) is int and 0 <= day <= 6 for day in window.weekdays):
        raise ValueError("Days of the week go from 0 (Monday) to 6 (Sunday).")
    if not (isinstance(window.start, time) and isinstance(window.end, time)):
        raise ValueError("The start and end of the window must be times of day.")
    if window.start.tzinfo is not None or window.end.tzinfo is not None:
        raise ValueError(
            "The start and end times are read in the window's timezone: "
            "give them without a timezone of their own."
        )
    if window.start == window.end:
        raise ValueError(str(SAME_TIMES))


def is_open(window: Window, moment: datetime) -> bool:
    """Whether an email may leave at `moment`."""
    moment, opens, _ = _session_closing_after(window, moment)
    return opens <= moment


def next_open(window: Window, moment: datetime) -> datetime:
    """`moment` itself (in UTC) if the window is open then, else the next opening instant."""
    moment, opens, _ = _session_closing_after(window, moment)
    return max(opens, moment)


def window_close(window: Window, moment: datetime) -> datetime:
    """When the open window containing `moment` closes; `moment` must be inside it."""
    moment, opens, closes = _session_closing_after(window, moment)
    if opens > moment:
        raise ValueError(f"The window is closed at {moment.isoformat()}.")
    return closes


def add_delay(window: Window, after: datetime, amount: int, unit: str) -> datetime:
    """The earliest instant a step waiting `amount` `unit`s after `after` may be sent."""
    validate_window(window)
    after = _as_utc(after)
    if type(amount) is not int or amount < 0:
        raise ValueError("A delay is a whole number, zero or more.")
    if unit == "minutes":
        return next_open(window, after + timedelta(minutes=amount))
    if unit == "hours":
        return next_open(window, after + timedelta(hours=amount))
    if unit != "days":
        raise ValueError(f"Unknown delay unit {unit!r}: use minutes, hours or days.")
    if amount == 0:
        return next_open(window, after)

    zone = ZoneInfo(window.timezone)
    local = after.astimezone(zone)
    wall = local.time().replace(fold=0)
    session_day = local.date()
    if window.crosses_midnight and wall < window.end:
        session_day -= _ONE_DAY  # 01:00 in a 22:00-02:00 window belongs to last night
    day = _nth_open_day(window.weekdays, session_day, amount)
    if window.crosses_midnight and wall >= window.start:
        candidate = _resolve(zone, day, wall)
    elif window.crosses_midnight and wall < window.end:
        candidate = _resolve(zone, day + _ONE_DAY, wall)
    elif window.start <= wall < window.end:
        candidate = _resolve(zone, day, wall)
    else:
        candidate = _resolve(zone, day, window.start)
    # The target session may be empty (DST gap) or the time may have slid out of it.
    return next_open(window, candidate)


def opening_times(window: Window, start: datetime, until: datetime) -> Iterator[Session]:
    """The open intervals (UTC start, UTC end) overlapping [start, until), in order, each
    clipped to [start, until): their union is exactly the open part of that range."""
    validate_window(window)
    return _opening_times(window, ZoneInfo(window.timezone), _as_utc(start), _as_utc(until))


def _opening_times(
    window: Window, zone: ZoneInfo, start: datetime, until: datetime
) -> Iterator[Session]:
    if until <= start:
        return
    first = start.astimezone(zone).date() - timedelta(days=_LOOKBACK_DAYS)
    last = until.astimezone(zone).date() + timedelta(days=2)
    for opens, closes in _merged(_sessions(window, zone, first, last)):
        if closes <= start:
            continue
        if opens >= until:
            return
        yield max(opens, start), min(closes, until)


def _session_closing_after(window: Window, moment: datetime) -> tuple[datetime, datetime, datetime]:
    """(moment in UTC, opens, closes) of the first session that closes after `moment`: the
    one containing it, or else the next one. The single source of every answer."""
    validate_window(window)
    moment = _as_utc(moment)
    zone = ZoneInfo(window.timezone)
    today = moment.astimezone(zone).date()
    first = today - timedelta(days=_LOOKBACK_DAYS)
    last = today + timedelta(days=_MAX_SCAN_DAYS)
    for opens, closes in _merged(_sessions(window, zone, first, last)):
        if closes > moment:
            return moment, opens, closes
    raise ValueError(f"The window does not open in the {_MAX_SCAN_DAYS} days after {today}.")


def _sessions(window: Window, zone: ZoneInfo, first: date, last: date) -> Iterator[Session]:
    """Non-empty sessions of the open days from `first` to `last` (inclusive), in order.
    They never overlap: resolving wall-clock times never goes backwards in time."""
    day = first
    while day <= last:
        if day.weekday() in window.weekdays:
            opens = _resolve(zone, day, window.start)
            closing_day = day + _ONE_DAY if window.crosses_midnight else day
            closes = _resolve(zone, closing_day, window.end)
            if opens < closes:  # a session wholly inside a DST gap never opens
                yield opens, closes
        day += _ONE_DAY


def _merged(sessions: Iterable[Session]) -> Iterator[Session]:
    # Sessions touch only around a skipped calendar day (Pacific/Apia, 2011-12-30); merged,
    # window_close() names the real end of the open stretch.
    current: Session | None = None
    for opens, closes in sessions:
        if current is not None and opens <= current[1]:
            current = (current[0], max(current[1], closes))
            continue
        if current is not None:
            yield current
        current = (opens, closes)
    if current is not None:
        yield current


def _resolve(zone: ZoneInfo, day: date, wall: time) -> datetime:
    """The UTC instant of a local wall-clock time: first occurrence when ambiguous, the end
    of the gap when it does not exist."""
    naive = datetime.combine(day, wall.replace(fold=0))
    instant = naive.replace(tzinfo=zone).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == naive:
        return instant  # exists; fold=0 already chose the first occurrence
    # In a gap the two folds straddle the transition; it is the first instant after the gap.
    other = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return _transition(zone, min(instant, other), max(instant, other))


def _transition(zone: ZoneInfo, before: datetime, after: datetime) -> datetime:
    """The instant in (before, after] where the UTC offset changes; tz transitions fall on
    whole seconds, so a bisection over seconds finds it exactly (at most ~17 steps)."""
    target = after.astimezone(zone).utcoffset()
    low = (before - _EPOCH) // _ONE_SECOND  # still the old offset
    high = -((_EPOCH - after) // _ONE_SECOND)  # ceiling: already the new offset
    while high - low > 1:
        middle = (low + high) // 2
        if (_EPOCH + middle * _ONE_SECOND).astimezone(zone).utcoffset() == target:
            high = middle
        else:
            low = middle
    return _EPOCH + high * _ONE_SECOND


def _nth_open_day(weekdays: frozenset[int], day: date, amount: int) -> date:
    """The `amount`-th day after `day` whose weekday is open (amount >= 1)."""
    # Any 7 consecutive days hold each open weekday once: jump whole weeks, then walk.
    weeks = (amount - 1) // len(weekdays)
    day += timedelta(weeks=weeks)
    remaining = amount - weeks * len(weekdays)
    while remaining:
        day += _ONE_DAY
        if day.weekday() in weekdays:
            remaining -= 1
    return day


def _zone(key: str) -> ZoneInfo:
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        raise ValueError(
            _("Unknown time zone “%(zone)s”: use a name such as Europe/Paris or America/New_York.")
            % {"zone": key}
        ) from None


def _as_utc(moment: datetime) -> datetime:
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise ValueError("Times must be timezone-aware datetimes (UTC).")
    return moment.astimezone(UTC)
