"""The sending-window math (campaigns/schedule.py): pure functions, no database.

Examples pin the DST nights of 2026 in Paris and New York, midnight-crossing windows and
delays; hypothesis then checks that is_open, next_open, window_close, opening_times and
add_delay agree with each other for random windows and moments in zones with odd DST rules.
"""

from __future__ import annotations

import functools
import itertools
import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.schedule import (
    SAME_TIMES,
    Window,
    add_delay,
    is_open,
    next_open,
    opening_times,
    validate_window,
    window_close,
)

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
MON_FRI = frozenset(range(5))
EVERY_DAY = frozenset(range(7))
TICK = timedelta(microseconds=1)


def paris(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=PARIS, fold=fold)


def new_york(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK, fold=fold)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def window(
    start: time, end: time, weekdays: frozenset[int] = MON_FRI, zone: str = "Europe/Paris"
) -> Window:
    return Window(timezone=zone, weekdays=weekdays, start=start, end=end)


OFFICE = window(time(9), time(17))
NIGHT = window(time(22), time(2))  # Mon-Fri nights, each ending the next morning


def intervals(w: Window, start: datetime, until: datetime) -> list[tuple[datetime, datetime]]:
    return list(opening_times(w, start, until))


# --- Plain weeks -------------------------------------------------------------------------


def test_office_hours_open_and_close_on_the_minute() -> None:
    assert not is_open(OFFICE, paris(2026, 6, 1, 8, 59, 59))
    assert is_open(OFFICE, paris(2026, 6, 1, 9))  # Monday
    assert is_open(OFFICE, paris(2026, 6, 1, 16, 59, 59, 999999))
    assert not is_open(OFFICE, paris(2026, 6, 1, 17))  # closing time is already closed
    assert window_close(OFFICE, paris(2026, 6, 1, 12)) == utc(2026, 6, 1, 15)


def test_next_open_returns_the_moment_itself_when_open_in_utc() -> None:
    moment = paris(2026, 6, 2, 10, 30)
    assert next_open(OFFICE, moment) == moment
    assert next_open(OFFICE, moment).tzinfo is UTC


def test_weekday_filter_skips_closed_days() -> None:
    tue_thu = window(time(9), time(17), frozenset({1, 3}))
    assert not is_open(tue_thu, paris(2026, 6, 1, 10))  # Monday
    assert is_open(tue_thu, paris(2026, 6, 2, 10))  # Tuesday
    assert next_open(tue_thu, paris(2026, 6, 2, 17)) == paris(2026, 6, 4, 9)  # Thursday
    assert next_open(tue_thu, paris(2026, 6, 4, 17)) == paris(2026, 6, 9, 9)  # next Tuesday


def test_friday_evening_waits_for_monday() -> None:
    assert next_open(OFFICE, paris(2026, 6, 5, 17)) == paris(2026, 6, 8, 9)
    assert next_open(OFFICE, paris(2026, 6, 6, 12)) == paris(2026, 6, 8, 9)  # Saturday


# --- Windows crossing midnight -------------------------------------------------------------


def test_a_night_window_belongs_to_the_day_it_starts() -> None:
    assert is_open(NIGHT, paris(2026, 6, 5, 23))  # Friday night
    assert is_open(NIGHT, paris(2026, 6, 6, 1, 59))  # ... until Saturday 02:00
    assert not is_open(NIGHT, paris(2026, 6, 6, 2))
    assert not is_open(NIGHT, paris(2026, 6, 6, 22, 30))  # Saturday night: closed
    assert not is_open(NIGHT, paris(2026, 6, 7, 23))  # Sunday night: closed
    assert not is_open(NIGHT, paris(2026, 6, 8, 0, 30))  # ... so Monday 00:30 is closed
    assert is_open(NIGHT, paris(2026, 6, 8, 22))  # Monday night opens
    assert next_open(NIGHT, paris(2026, 6, 6, 2)) == paris(2026, 6, 8, 22)
    assert window_close(NIGHT, paris(2026, 6, 5, 23)) == paris(2026, 6, 6, 2)


def test_a_window_until_midnight() -> None:
    evening = window(time(18), time(0))
    assert is_open(evening, paris(2026, 6, 5, 23, 59))
    assert window_close(evening, paris(2026, 6, 5, 18)) == paris(2026, 6, 6, 0)
    assert next_open(evening, paris(2026, 6, 6, 0)) == paris(2026, 6, 8, 18)


def test_night_window_across_spring_forward_is_shorter() -> None:
    # Saturday 28 March 2026, 22:00 CET, until Sunday 02:30, which does not exist in Paris:
    # the session closes at 03:00 CEST, the first instant after the gap.
    saturday_night = window(time(22), time(2, 30), frozenset({5}))
    assert window_close(saturday_night, paris(2026, 3, 28, 23)) == utc(2026, 3, 29, 1)
    assert intervals(saturday_night, utc(2026, 3, 28), utc(2026, 3, 30)) == [
        (utc(2026, 3, 28, 21), utc(2026, 3, 29, 1))  # 4 hours, not 4h30
    ]


def test_night_window_across_fall_back_is_longer() -> None:
    # New York, Saturday 31 October 2026 23:00 EDT to Sunday 02:30 EST: the clocks went
    # back at 02:00, so 5h30 pass.
    saturday_night = window(time(23), time(2, 30), frozenset({5}), "America/New_York")
    assert intervals(saturday_night, utc(2026, 10, 31), utc(2026, 11, 2)) == [
        (utc(2026, 11, 1, 3), utc(2026, 11, 1, 7, 30))
    ]
    assert is_open(saturday_night, new_york(2026, 11, 1, 1, 30, fold=1))  # second 01:30


# --- DST in Europe/Paris -------------------------------------------------------------------


def test_paris_office_hours_follow_the_clock_change() -> None:
    # 09:00 is 08:00 UTC before 29 March 2026 and 07:00 UTC after it.
    assert next_open(OFFICE, paris(2026, 3, 27, 17)) == utc(2026, 3, 30, 7)
    assert next_open(OFFICE, paris(2026, 10, 23, 17)) == utc(2026, 10, 26, 8)


def test_paris_spring_forward_shortens_a_window_over_the_gap() -> None:
    nightly = window(time(1), time(3), EVERY_DAY)
    assert intervals(nightly, utc(2026, 3, 28), utc(2026, 3, 30)) == [
        (utc(2026, 3, 28, 0), utc(2026, 3, 28, 2)),
        (utc(2026, 3, 29, 0), utc(2026, 3, 29, 1)),  # 01:00 CET to 03:00 CEST: one hour
        (utc(2026, 3, 29, 23), utc(2026, 3, 30, 0)),  # clipped at `until`
    ]


def test_paris_a_start_in_the_gap_moves_to_the_end_of_the_gap() -> None:
    w = window(time(2, 30), time(4), EVERY_DAY)
    assert next_open(w, utc(2026, 3, 29, 0)) == utc(2026, 3, 29, 1)  # 03:00 CEST
    assert not is_open(w, utc(2026, 3, 29, 0, 59, 59))
    assert is_open(w, utc(2026, 3, 29, 1))


def test_paris_a_window_inside_the_gap_skips_that_day() -> None:
    sundays = window(time(2, 10), time(2, 50), frozenset({6}))
    assert intervals(sundays, utc(2026, 3, 28), utc(2026, 3, 30)) == []
    assert next_open(sundays, paris(2026, 3, 29, 0)) == paris(2026, 4, 5, 2, 10)
    # Just after the session of 22 March the next one is two weeks away: still found.
    assert next_open(sundays, paris(2026, 3, 22, 2, 50)) == paris(2026, 4, 5, 2, 10)


def test_paris_fall_back_lengthens_a_window_over_the_repeated_hour() -> None:
    nightly = window(time(1), time(3), EVERY_DAY)
    assert intervals(nightly, utc(2026, 10, 24, 12), utc(2026, 10, 25, 12)) == [
        (utc(2026, 10, 24, 23), utc(2026, 10, 25, 2))  # 01:00 CEST to 03:00 CET: 3 hours
    ]
    assert is_open(nightly, paris(2026, 10, 25, 2, 30, fold=0))
    assert is_open(nightly, paris(2026, 10, 25, 2, 30, fold=1))


def test_paris_ambiguous_times_mean_the_first_occurrence() -> None:
    w = window(time(2), time(2, 30), EVERY_DAY)
    assert is_open(w, paris(2026, 10, 25, 2, 15, fold=0))  # 00:15 UTC
    assert not is_open(w, paris(2026, 10, 25, 2, 15, fold=1))  # 01:15 UTC: the repeat
    assert next_open(w, paris(2026, 10, 25, 2, 0, fold=1)) == paris(2026, 10, 26, 2)
    assert window_close(w, utc(2026, 10, 25, 0, 10)) == utc(2026, 10, 25, 0, 30)


# --- DST in America/New_York -----------------------------------------------------------------


def test_new_york_spring_forward() -> None:
    nightly = window(time(1, 30), time(2, 30), EVERY_DAY, "America/New_York")
    assert intervals(nightly, utc(2026, 3, 8), utc(2026, 3, 9)) == [
        (utc(2026, 3, 8, 6, 30), utc(2026, 3, 8, 7))  # 01:30 EST to 03:00 EDT
    ]
    office = window(time(9), time(17), MON_FRI, "America/New_York")
    assert next_open(office, new_york(2026, 3, 6, 17)) == utc(2026, 3, 9, 13)  # 09:00 EDT
    assert window_close(office, new_york(2026, 3, 9, 9)) == utc(2026, 3, 9, 21)


def test_new_york_fall_back() -> None:
    nightly = window(time(1, 30), time(2, 30), EVERY_DAY, "America/New_York")
    assert intervals(nightly, utc(2026, 11, 1), utc(2026, 11, 2)) == [
        (utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 7, 30))  # 01:30 EDT to 02:30 EST
    ]
    office = window(time(9), time(17), MON_FRI, "America/New_York")
    assert next_open(office, new_york(2026, 10, 30, 17)) == utc(2026, 11, 2, 14)  # 09:00 EST


# --- Delays ------------------------------------------------------------------------------


def test_days_count_only_open_days() -> None:
    friday = paris(2026, 6, 5, 10)
    assert add_delay(OFFICE, friday, 1, "days") == paris(2026, 6, 8, 10)  # Monday
    assert add_delay(OFFICE, paris(2026, 6, 4, 10), 2, "days") == paris(2026, 6, 8, 10)
    assert add_delay(OFFICE, friday, 5, "days") == paris(2026, 6, 12, 10)
    assert add_delay(OFFICE, friday, 11, "days") == paris(2026, 6, 22, 10)
    tue_thu = window(time(9), time(17), frozenset({1, 3}))
    assert add_delay(tue_thu, paris(2026, 6, 2, 11), 3, "days") == paris(2026, 6, 11, 11)


def test_days_outside_the_window_land_at_the_opening() -> None:
    assert add_delay(OFFICE, paris(2026, 6, 5, 18), 1, "days") == paris(2026, 6, 8, 9)
    assert add_delay(OFFICE, paris(2026, 6, 6, 8), 1, "days") == paris(2026, 6, 8, 9)  # Sat
    assert add_delay(OFFICE, paris(2026, 6, 2, 7), 1, "days") == paris(2026, 6, 3, 9)


def test_days_keep_the_local_time_across_dst() -> None:
    assert add_delay(OFFICE, paris(2026, 3, 27, 10), 1, "days") == utc(2026, 3, 30, 8)
    assert add_delay(OFFICE, paris(2026, 10, 23, 10), 1, "days") == utc(2026, 10, 26, 9)


def test_days_in_a_night_window_count_nights() -> None:
    # 01:00 on Saturday belongs to Friday night; one day later is Monday night.
    assert add_delay(NIGHT, paris(2026, 6, 6, 1), 1, "days") == paris(2026, 6, 9, 1)
    assert add_delay(NIGHT, paris(2026, 6, 5, 23), 1, "days") == paris(2026, 6, 8, 23)
    assert add_delay(NIGHT, paris(2026, 6, 5, 12), 1, "days") == paris(2026, 6, 8, 22)


def test_zero_days_is_the_next_opening() -> None:
    assert add_delay(OFFICE, paris(2026, 6, 5, 18), 0, "days") == paris(2026, 6, 8, 9)
    assert add_delay(OFFICE, paris(2026, 6, 5, 10), 0, "days") == paris(2026, 6, 5, 10)


def test_minutes_and_hours_are_elapsed_time_then_the_next_opening() -> None:
    monday = paris(2026, 6, 1, 16, 30)
    assert add_delay(OFFICE, monday, 20, "minutes") == paris(2026, 6, 1, 16, 50)
    assert add_delay(OFFICE, monday, 45, "minutes") == paris(2026, 6, 2, 9)  # after close
    assert add_delay(OFFICE, paris(2026, 6, 5, 16), 2, "hours") == paris(2026, 6, 8, 9)
    assert add_delay(OFFICE, monday, 24, "hours") == paris(2026, 6, 2, 16, 30)


def test_hours_across_spring_forward_are_real_hours() -> None:
    all_day = window(time(0), time(23, 59), EVERY_DAY)
    assert add_delay(all_day, paris(2026, 3, 29, 0), 3, "hours") == paris(2026, 3, 29, 4)


@pytest.mark.parametrize(
    ("amount", "unit", "message"),
    [
        (1, "weeks", "Unknown delay unit 'weeks'"),
        (-1, "days", "A delay is a whole number"),
        (1.5, "hours", "A delay is a whole number"),
    ],
)
def test_bad_delays_are_refused(amount: object, unit: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        add_delay(OFFICE, paris(2026, 6, 1, 10), amount, unit)  # type: ignore[arg-type]


# --- Validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("w", "message"),
    [
        (window(time(9), time(9)), re.escape(str(SAME_TIMES))),
        (window(time(9), time(17), zone="Mars/Olympus"), "Unknown time zone “Mars/Olympus”"),
        (window(time(9), time(17), zone=""), "Unknown time zone “”"),
        (window(time(9), time(17), zone="../etc/passwd"), "Unknown time zone"),
        (window(time(9), time(17), frozenset()), "Choose at least one day of the week"),
        (window(time(9), time(17), frozenset({7})), r"from 0 \(Monday\) to 6 \(Sunday\)"),
        (window(time(9, tzinfo=UTC), time(17)), "without a timezone"),
    ],
)
def test_validate_window_explains_the_problem(w: Window, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_window(w)
    with pytest.raises(ValueError, match=message):
        next_open(w, utc(2026, 6, 1))  # every entry point refuses it too


def test_same_times_message_is_exact() -> None:
    with pytest.raises(ValueError) as error:
        validate_window(window(time(22), time(22)))
    assert str(error.value) == (
        "The start and end times are the same: the window would never open (or never "
        "close). Choose different times."
    )


def test_valid_windows_pass() -> None:
    validate_window(OFFICE)
    validate_window(NIGHT)
    validate_window(window(time(0), time(0, 1), frozenset({6}), "UTC"))


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        is_open(OFFICE, datetime(2026, 6, 1, 10))


def test_window_close_needs_an_open_moment() -> None:
    with pytest.raises(ValueError, match="The window is closed"):
        window_close(OFFICE, paris(2026, 6, 6, 10))


def test_answers_do_not_depend_on_the_clock() -> None:
    # Forecasts must be deterministic: nothing here may read "now".
    moment = paris(2026, 3, 27, 16, 30)
    before = (next_open(OFFICE, moment), add_delay(OFFICE, moment, 2, "days"))
    with time_machine.travel(utc(2031, 1, 1), tick=False):
        assert (next_open(OFFICE, moment), add_delay(OFFICE, moment, 2, "days")) == before


# --- Properties --------------------------------------------------------------------------

ZONES = (
    "Europe/Paris",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Lord_Howe",  # DST moves the clock by 30 minutes
    "Pacific/Apia",  # skipped 30 December 2011 entirely; DST until 2021
    "UTC",
)
FIRST, LAST = datetime(2005, 1, 1), datetime(2035, 12, 31)  # naive: hypothesis bounds


@functools.cache
def transitions(zone: str) -> tuple[datetime, ...]:
    """Offset changes in the zone, to within six hours: where the bugs live."""
    tz, found = ZoneInfo(zone), []
    moment = FIRST.replace(tzinfo=UTC)
    offset = moment.astimezone(tz).utcoffset()
    while moment < LAST.replace(tzinfo=UTC):
        moment += timedelta(hours=6)
        if (new := moment.astimezone(tz).utcoffset()) != offset:
            found.append(moment)
            offset = new
    return tuple(found)


wall_times = st.one_of(
    st.builds(time, st.integers(0, 23), st.sampled_from([0, 10, 15, 30, 45, 50])),
    st.times(),
)
windows = st.builds(
    Window,
    timezone=st.sampled_from(ZONES),
    weekdays=st.frozensets(st.integers(0, 6), min_size=1),
    start=wall_times,
    end=wall_times,
).filter(lambda w: w.start != w.end)
uniform_moments = st.datetimes(min_value=FIRST, max_value=LAST, timezones=st.just(UTC))


@st.composite
def cases(draw: st.DrawFn) -> tuple[Window, datetime]:
    """A window and a moment: anywhere, near a DST change, or near an opening or closing."""
    w = draw(windows)
    kind = draw(st.sampled_from(["uniform", "transition", "edge"]))
    if kind == "transition" and transitions(w.timezone):
        near = draw(st.sampled_from(transitions(w.timezone)))
        return w, near + timedelta(seconds=draw(st.integers(-3 * 86400, 3 * 86400)))
    if kind == "edge":
        day = draw(st.dates(min_value=FIRST.date(), max_value=LAST.date()))
        wall = datetime.combine(day, draw(st.sampled_from([w.start, w.end])))
        wall += timedelta(seconds=draw(st.sampled_from([0, 0, -1, 1, -1800, 1800, -3600])))
        local = wall.replace(tzinfo=ZoneInfo(w.timezone), fold=draw(st.integers(0, 1)))
        return w, local.astimezone(UTC)
    return w, draw(uniform_moments)


PROPERTY = settings(
    max_examples=250,
    deadline=None,
    # The suite's autouse fixtures (cache, language) do not touch these pure functions.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@PROPERTY
@given(case=cases(), fraction=st.floats(0, 1, exclude_max=True))
def test_next_open_is_the_first_open_instant(
    case: tuple[Window, datetime], fraction: float
) -> None:
    w, moment = case
    opening = next_open(w, moment)
    assert opening.tzinfo is UTC
    assert opening >= moment
    assert is_open(w, opening)
    assert is_open(w, moment) == (opening == moment)
    if opening > moment:
        assert not is_open(w, opening - TICK)
        assert not is_open(w, moment + (opening - moment - TICK) * fraction)
        assert opening - moment <= timedelta(days=15)


@PROPERTY
@given(case=cases(), fraction=st.floats(0, 1, exclude_max=True))
def test_window_close_ends_the_open_stretch(case: tuple[Window, datetime], fraction: float) -> None:
    w, moment = case
    if not is_open(w, moment):
        with pytest.raises(ValueError, match="closed"):
            window_close(w, moment)
        return
    closes = window_close(w, moment)
    assert closes > moment
    assert is_open(w, closes - TICK)
    assert not is_open(w, closes)
    assert is_open(w, moment + (closes - moment - TICK) * fraction)


@PROPERTY
@given(case=cases(), hours=st.integers(0, 24 * 10), probe=st.floats(0, 1, exclude_max=True))
def test_opening_times_are_exactly_the_open_instants(
    case: tuple[Window, datetime], hours: int, probe: float
) -> None:
    w, start = case
    until = start + timedelta(hours=hours, minutes=7)
    found = list(opening_times(w, start, until))
    for opens, closes in found:
        assert start <= opens < closes <= until
        assert is_open(w, opens)
        assert is_open(w, closes - TICK)
        assert closes == until or not is_open(w, closes)
        assert opens == start or not is_open(w, opens - TICK)
    for (_, closes), (opens, _) in itertools.pairwise(found):
        assert closes < opens  # ordered, disjoint, never touching
    moment = start + (until - start - TICK) * probe
    assert is_open(w, moment) == any(o <= moment < c for o, c in found)


@PROPERTY
@given(case=cases())
def test_is_open_matches_the_wall_clock_away_from_dst_changes(
    case: tuple[Window, datetime],
) -> None:
    w, moment = case
    tz = ZoneInfo(w.timezone)
    offsets = {(moment + timedelta(days=d)).astimezone(tz).utcoffset() for d in (-2, 0, 2)}
    if len(offsets) > 1:
        return  # the DST examples above pin those days down
    local = moment.astimezone(tz)
    wall, today = local.time(), local.date()
    yesterday = today - timedelta(days=1)
    if w.crosses_midnight:
        expected = (wall >= w.start and today.weekday() in w.weekdays) or (
            wall < w.end and yesterday.weekday() in w.weekdays
        )
    else:
        expected = w.start <= wall < w.end and today.weekday() in w.weekdays
    assert is_open(w, moment) == expected


@PROPERTY
@given(
    case=cases(),
    amount=st.integers(0, 40),
    unit=st.sampled_from(["minutes", "hours", "days"]),
)
def test_delays_always_land_inside_the_window(
    case: tuple[Window, datetime], amount: int, unit: str
) -> None:
    w, after = case
    due = add_delay(w, after, amount, unit)
    assert is_open(w, due)
    if unit == "days":
        assert due > after if amount else due == next_open(w, after)
    else:
        assert due == next_open(w, after + timedelta(**{unit: amount}))


@PROPERTY
@given(case=cases(), offset_minutes=st.integers(-14 * 60, 14 * 60))
def test_the_moments_own_timezone_does_not_matter(
    case: tuple[Window, datetime], offset_minutes: int
) -> None:
    w, moment = case
    elsewhere = moment.astimezone(timezone(timedelta(minutes=offset_minutes)))
    assert next_open(w, elsewhere) == next_open(w, moment)
    assert is_open(w, elsewhere) == is_open(w, moment)


def test_days_delay_lands_on_the_nth_open_day() -> None:
    # Counted by hand: Wednesday 3 June 2026 + n open days in a Mon/Wed/Fri window.
    mwf = window(time(9), time(17), frozenset({0, 2, 4}))
    expected = [date(2026, 6, d) for d in (5, 8, 10, 12, 15, 17, 19)]
    got = [add_delay(mwf, paris(2026, 6, 3, 12), n, "days") for n in range(1, 8)]
    assert [d.astimezone(PARIS).date() for d in got] == expected
    assert all(d.astimezone(PARIS).time() == time(12) for d in got)
