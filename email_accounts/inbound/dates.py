"""Reading when an absent person is back, from an out-of-office notice in English or French.

Rules (each match gives a rule id such as ``date:fr:de-retour``):

- "back on / returning / de retour le / à partir du / dès le DATE" → that date.
- "until / through / jusqu'au DATE", and the end of a range ("du 2 au 14 mars", "from March 2
  to March 14") → the last day of absence, so the return date is the next working day
  (a Friday gives the Monday after).
- A "back/return" phrase wins over an "until" phrase; otherwise the first phrase in the text.
- Without a year, the year is inferred: the next occurrence on or after the day the message
  was received. Two-digit years are 20xx.
- Numeric dates: ISO ``2027-03-12`` is unambiguous. ``12/03`` after a French phrase is always
  day/month. After an English phrase it is day/month too, unless only month/day is possible
  (``3/25``) or the sender is in the Americas (its ``Date:`` header has a UTC offset between
  -10:00 and -03:00), where US English writes month/day: "returning 3/12" from -0500 is
  12 March, from +0100 it is 3 December.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta

MONTHS = {
    "janvier": 1, "janv": 1, "january": 1, "jan": 1,
    "fevrier": 2, "fevr": 2, "fev": 2, "february": 2, "feb": 2,
    "mars": 3, "march": 3, "mar": 3,
    "avril": 4, "avr": 4, "april": 4, "apr": 4,
    "mai": 5, "may": 5,
    "juin": 6, "june": 6, "jun": 6,
    "juillet": 7, "juil": 7, "july": 7, "jul": 7,
    "aout": 8, "august": 8, "aug": 8,
    "septembre": 9, "sept": 9, "september": 9, "sep": 9,
    "octobre": 10, "oct": 10, "october": 10,
    "novembre": 11, "nov": 11, "november": 11,
    "decembre": 12, "dec": 12, "december": 12,
}  # fmt: skip
_MONTH = "(?P<{}>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_WEEKDAY = (
    r"(?:(?:lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|monday|tuesday|wednesday|"
    r"thursday|friday|saturday|sunday|mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)\.?,?\s+)?"
)
_YEAR = r"(?:,?\s+(?P<{}>\d{{4}}))?"


def _date_pattern() -> str:
    iso = r"(?P<iy>\d{4})-(?P<im>\d{1,2})-(?P<id>\d{1,2})"
    numeric = r"(?P<na>\d{1,2})[/.](?P<nb>\d{1,2})(?:[/.](?P<ny>\d{4}|\d{2}))?(?![\d/])"
    day_month = (
        r"(?:the\s+)?(?P<dd>\d{1,2})(?:st|nd|rd|th|er|e)?\s+(?:of\s+)?"
        + _MONTH.format("dm")
        + _YEAR.format("dy")
    )
    month_day = (
        _MONTH.format("mm") + r"\s+(?:the\s+)?(?P<md>\d{1,2})(?:st|nd|rd|th)?" + _YEAR.format("my")
    )
    return _WEEKDAY + "(?:" + "|".join((iso, numeric, day_month, month_day)) + r")\b"


DATE = _date_pattern()

# (rule id, language, meaning, trigger regex); the date follows the trigger.
_TRIGGERS: list[tuple[str, str, str, str]] = [
    ("date:fr:de-retour", "fr", "back", r"\b(?:de\s+)?retour\s+(?:au\s+bureau\s+|prevu\s+)?"
     r"(?:le\s+|a\s+partir\s+du\s+|des\s+le\s+|lundi\s+)?"),
    ("date:fr:a-partir-du", "fr", "back", r"\b(?:a\s+partir\s+du|des\s+le)\s+"),
    ("date:fr:joignable", "fr", "back", r"\bjoignable\s+(?:a\s+nouveau\s+)?(?:le\s+)?"),
    ("date:en:back-on", "en", "back", r"\bback\s+(?:in\s+(?:the\s+)?office\s+|at\s+work\s+|"
     r"in\s+office\s+)?(?:on\s+)?"),
    ("date:en:returning", "en", "back", r"\breturn(?:ing)?\s+(?:to\s+(?:the\s+)?office\s+|"
     r"to\s+work\s+)?(?:on\s+)?"),
    ("date:fr:jusqu-au", "fr", "until", r"\bjusqu'?\s*(?:au|a|a\s+le)\s+(?:et\s+y\s+compris\s+)?"),
    ("date:fr:du-au", "fr", "until", r"\bdu\s+(?:[\w.]+\s+){1,4}?au\s+"),
    ("date:en:until", "en", "until", r"\b(?:until|till|through|thru)\s+(?:and\s+including\s+)?"),
    ("date:en:from-to", "en", "until", r"\bfrom\s+(?:[\w.,]+\s+){1,4}?(?:to|until|-)\s+"),
]  # fmt: skip
_COMPILED = [(rule, lang, meaning, re.compile(trigger + DATE)) for rule, lang, meaning, trigger in
             _TRIGGERS]  # fmt: skip
_ISO_ALONE = re.compile(r"\b(?P<iy>\d{4})-(?P<im>\d{2})-(?P<id>\d{2})\b")


def normalise(text: str) -> str:
    """Lowercase, no accents, straight apostrophes, single spaces."""
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"\s+", " ", text.lower())


def read_return_date(text: str, *, received: date, us_order: bool) -> tuple[date | None, str]:
    """(return date, rule id) read from an absence notice, or (None, "")."""
    haystack = normalise(text)
    found: list[tuple[int, int, date, str]] = []  # (priority, position, date, rule)
    for rule, lang, meaning, pattern in _COMPILED:
        for match in pattern.finditer(haystack):
            when = _to_date(match, lang=lang, received=received, us_order=us_order)
            if when is None:
                continue
            if meaning == "until":
                when = _next_working_day(when)
            found.append((0 if meaning == "back" else 1, match.start(), when, rule))
            break
    if not found:
        match = _ISO_ALONE.search(haystack)
        when = _to_date(match, lang="en", received=received, us_order=False) if match else None
        if when is not None and when >= received:
            return when, "date:iso"
        return None, ""
    found.sort(key=lambda item: (item[0], item[1]))
    _, _, when, rule = found[0]
    return when, rule


def _next_working_day(last_day_away: date) -> date:
    day = last_day_away + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _to_date(match: re.Match, *, lang: str, received: date, us_order: bool) -> date | None:
    groups = match.groupdict()
    year: int | None = None
    if groups.get("iy"):
        year, month, day = int(groups["iy"]), int(groups["im"]), int(groups["id"])
    elif groups.get("na"):
        first, second = int(groups["na"]), int(groups["nb"])
        month_first = lang == "en" and (second > 12 or (us_order and first <= 12))
        if first > 12:
            month_first = False
        month, day = (first, second) if month_first else (second, first)
        if groups.get("ny"):
            year = int(groups["ny"])
    elif groups.get("dm"):
        day, month = int(groups["dd"]), MONTHS[groups["dm"]]
        year = int(groups["dy"]) if groups.get("dy") else None
    elif groups.get("mm"):
        day, month = int(groups["md"]), MONTHS[groups["mm"]]
        year = int(groups["my"]) if groups.get("my") else None
    else:
        return None
    if year is not None and year < 100:
        year += 2000
    try:
        if year is not None:
            return date(year, month, day)
        candidate = date(received.year, month, day)
        if candidate < received:
            candidate = date(received.year + 1, month, day)
        return candidate
    except ValueError:
        return None
