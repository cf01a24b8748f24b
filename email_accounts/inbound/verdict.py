"""The classifier's answer about one inbound message, and its JSON form."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from typing import Any

KINDS = ("reply", "auto_reply", "bounce", "complaint", "own", "other")
BOUNCE_CLASSES = ("hard", "soft", "block", "quota")


@dataclass(frozen=True)
class Verdict:
    """What an inbound message is, why, and what was read from it (no database, no campaign)."""

    kind: str
    rules: tuple[str, ...]
    bounce_class: str = ""
    recipient: str = ""
    status: str = ""
    diagnostic: str = ""
    action: str = ""
    original_message_id: str = ""
    references: tuple[str, ...] = ()
    out_of_office: bool = False
    return_date: date | None = None
    unsubscribe_request: bool = False
    reply_text: str = ""
    from_email: str = ""
    from_name: str = ""
    subject: str = ""
    message_id: str = ""
    problems: tuple[str, ...] = ()
    # Added after the agreed interface (defaults keep it compatible):
    failed_recipients: tuple[str, ...] = ()  # bounces: every recipient the report says failed


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    """The verdict as a JSON-ready dict: dates in ISO format, tuples as lists."""
    data: dict[str, Any] = {}
    for field in dataclasses.fields(verdict):
        value = getattr(verdict, field.name)
        if isinstance(value, date):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = list(value)
        data[field.name] = value
    return data
