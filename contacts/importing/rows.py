"""Stream an uploaded CSV into validated rows and row problems, one record at a time."""

from __future__ import annotations

import csv
import json
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import BinaryIO

from django.utils.formats import number_format
from django.utils.translation import gettext as _

from contacts.emails import EmailChecker
from contacts.exporting import unneutralise
from contacts.importing.columns import CUSTOM_PREFIX, IMPORT_FIELDS
from contacts.importing.sniff import is_blank, open_text, unbalanced_quotes
from contacts.models import CUSTOM_VALUE_MAX_LENGTH, FIELD_MAX_LENGTHS, RowErrorCode

# The staged columns after `line`, in order; `email` first.
STAGED_FIELDS: tuple[str, ...] = tuple(IMPORT_FIELDS)


class ImportAborted(Exception):
    """The whole file is refused (too many rows, broken quoting); the message says why."""


@dataclass(slots=True)
class RowProblem:
    line: int
    email: str
    code: str
    detail: str = ""


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def read_rows(
    raw: BinaryIO,
    *,
    encoding: str,
    delimiter: str,
    mapping: list[str],
    checker: EmailChecker,
    max_rows: int,
) -> Iterator[tuple | RowProblem]:
    """Yield, per data row, a staging tuple `(line, email, first_name, …, timezone, custom_json)`
    or a RowProblem. Blank lines are skipped; the header row is the first non-blank record."""
    positions = [mapping.index(field) if field in mapping else -1 for field in STAGED_FIELDS]
    custom = [
        (i, target[len(CUSTOM_PREFIX) :])
        for i, target in enumerate(mapping)
        if target.startswith(CUSTOM_PREFIX)
    ]
    limits = [FIELD_MAX_LENGTHS[field] for field in STAGED_FIELDS]
    zones = _time_zones()
    timezone_slot = STAGED_FIELDS.index("timezone")

    text = open_text(raw, encoding)
    # Strict: a quote that never closes is an error at its line, not the rest of the file
    # swallowed into one cell. NUL characters (which PostgreSQL text refuses) are dropped.
    lines = (line.replace("\x00", "") if "\x00" in line else line for line in text)
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    header_seen = False
    rows = 0
    line_after_previous = 0
    try:
        for record in reader:
            line = line_after_previous + 1
            line_after_previous = reader.line_num
            if is_blank(record):
                continue
            if not header_seen:
                header_seen = True
                continue
            rows += 1
            if rows > max_rows:
                raise ImportAborted(
                    _(
                        "The file has more than %(max)s contacts, the most one import takes. "
                        "Split it into several files."
                    )
                    % {"max": number_format(max_rows, force_grouping=True)}
                )
            width = len(record)
            values = [unneutralise(record[p].strip()) if 0 <= p < width else "" for p in positions]
            email = values[0]
            if not email:
                yield RowProblem(line, "", RowErrorCode.MISSING_EMAIL)
                continue
            verdict = checker.check(email)
            if verdict.normalized is None:
                yield RowProblem(line, email[:500], RowErrorCode.INVALID_EMAIL, verdict.error or "")
                continue
            values[0] = verdict.normalized
            too_long = [
                field
                for field, value, most in zip(STAGED_FIELDS, values, limits, strict=True)
                if len(value) > most
            ]
            if too_long:
                yield RowProblem(line, email, RowErrorCode.TOO_LONG, too_long[0])
                continue
            zone = values[timezone_slot]
            if zone and zone not in zones:
                yield RowProblem(line, email, RowErrorCode.INVALID_TIMEZONE, zone[:100])
                continue
            extra = {}
            for index, key in custom:
                if index < width:
                    value = unneutralise(record[index].strip())
                    if value:
                        if len(value) > CUSTOM_VALUE_MAX_LENGTH:
                            extra = None
                            yield RowProblem(line, email, RowErrorCode.TOO_LONG, key)
                            break
                        extra[key] = value
            if extra is None:
                continue
            yield (line, *values, json.dumps(extra, ensure_ascii=False) if extra else "{}")
    except csv.Error:
        raise ImportAborted(unbalanced_quotes(line_after_previous + 1)) from None
    except UnicodeDecodeError:
        raise ImportAborted(
            _(
                "Near line %(line)s the file stops being valid %(encoding)s text. Save the "
                "whole file as “CSV UTF-8” and upload it again."
            )
            % {"line": reader.line_num + 1, "encoding": encoding}
        ) from None
    finally:
        text.detach()  # the caller's file stays open (it reads progress from it)
