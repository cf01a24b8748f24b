"""Auto-replies (RFC 3834 and the common servers' own markers) and absence notices."""

from __future__ import annotations

import re
from email.message import Message

from .dates import normalise

_SUBJECT_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("subject:automatic-reply(en)", re.compile(
        r"^\s*(?:automatic reply|auto(?:matic)?[- ]?(?:reply|response)|autoreply|auto:)",
        re.IGNORECASE)),
    ("subject:automatic-reply(fr)", re.compile(
        r"^\s*(?:r[ée]ponse automatique|r[ée]ponse auto\b|message automatique)", re.IGNORECASE)),
    ("subject:out-of-office(en)", re.compile(
        r"\bout of (?:the )?office\b|^\s*(?:ooo|away|on vacation|on leave)\b", re.IGNORECASE)),
    ("subject:out-of-office(fr)", re.compile(
        r"\babsence du bureau\b|\bhors du bureau\b|^\s*(?:absente?s?|absence|en cong[ée]s?)\b",
        re.IGNORECASE)),
]  # fmt: skip

# Absence phrases, matched on normalised text (lowercase, no accents).
_OUT_OF_OFFICE = re.compile(
    r"out of (?:the )?office|\bon (?:annual |parental |maternity |sick )?leave\b|"
    r"\bon (?:vacation|holiday|holidays)\b|\baway from (?:the office|my desk|work)|"
    r"\blimited access to (?:my )?e-?mail|\bback (?:in the office )?on\b|\bi am away\b|"
    r"\bi'?m away\b|\bi will be away\b|\bi'?m currently away\b|\babsente?s?\b|\babsence\b|"
    r"\ben conges?\b|\ben vacances\b|\bde retour\b|\bhors du bureau\b|\ben deplacement\b|"
    r"\bconge (?:maternite|paternite|parental)\b|\bje ne suis pas disponible\b",
)
_PRECEDENCE = {"auto_reply", "bulk", "junk"}


def header_rules(message: Message) -> list[str]:
    """RFC 3834 and vendor header markers of an automatic message."""
    rules: list[str] = []
    auto_submitted = str(message.get("Auto-Submitted", "") or "").strip().lower()
    if auto_submitted and auto_submitted.split(";")[0].split()[0] != "no":
        rules.append(f"header:auto-submitted={auto_submitted.split(';')[0].split()[0]}")
    if message.get("X-Autoreply") is not None:
        rules.append("header:x-autoreply")
    if message.get("X-Autorespond") is not None:
        rules.append("header:x-autorespond")
    precedence = str(message.get("Precedence", "") or "").strip().lower()
    if precedence in _PRECEDENCE:
        rules.append(f"header:precedence={precedence}")
    if (
        message.get("X-Auto-Response-Suppress") is not None
        and message.get("X-MS-Exchange-Inbox-Rules-Loop") is not None
    ):
        rules.append("header:x-ms-exchange-inbox-rules-loop")
    return rules


def subject_rules(subject: str) -> list[str]:
    return [rule for rule, pattern in _SUBJECT_RULES if pattern.search(subject or "")]


def is_out_of_office(subject: str, body: str, rules: list[str]) -> bool:
    if any(rule.startswith("subject:out-of-office") for rule in rules):
        return True
    return bool(_OUT_OF_OFFICE.search(normalise(f"{subject}\n{body}")))
