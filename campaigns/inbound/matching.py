"""Which of our outbound messages an inbound one answers or reports on.

In order of confidence (DESIGN.md §5): its In-Reply-To/References against our Message-IDs,
then the Gmail thread, then — flagged as low confidence — the sender and the subject after one
of our sends. Only the mailbox that wrote to the contact counts: there is no fallback to "the
contact's latest campaign".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from email.utils import getaddresses

from campaigns.models import MatchedBy, MessageStatus, OutboundMessage, OutboundReply
from email_accounts.models import Mailbox

_ID = re.compile(r"<[^<>\s]+>")
_SUBJECT_PREFIX = re.compile(r"^\s*((re|tr|fw|fwd|aw|wg|sv|rv)\s*(\[\d+\])?\s*:\s*)+", re.I)
_SENT = (MessageStatus.SENT, MessageStatus.BOUNCED, MessageStatus.UNKNOWN)


@dataclass(frozen=True)
class Match:
    message: OutboundMessage
    matched_by: str
    low_confidence: bool = False


def referenced_ids(headers: Message) -> list[str]:
    """Every Message-ID in In-Reply-To and References, nearest first."""
    found: list[str] = []
    for name in ("In-Reply-To", "References"):
        for value in headers.get_all(name, []):
            found += _ID.findall(str(value))
    return list(dict.fromkeys(found))


def sender_address(headers: Message) -> str:
    pairs = getaddresses([str(value) for value in headers.get_all("From", [])])
    return pairs[0][1].strip().lower() if pairs else ""


def normalised_subject(subject: str) -> str:
    """ "RE: TR: Une question" → "une question": how a reply's subject compares to ours."""
    return " ".join(_SUBJECT_PREFIX.sub("", subject or "").split()).casefold()


def _ours(mailbox: Mailbox) -> object:
    return OutboundMessage.objects.unscoped().filter(mailbox=mailbox, status__in=_SENT)


def by_references(mailbox: Mailbox, ids: Iterable[str]) -> Match | None:
    ids = list(ids)
    if not ids:
        return None
    found = {
        m.message_id: m
        for m in _ours(mailbox).filter(message_id__in=ids).select_related("enrollment")
    }
    for message_id in ids:  # the nearest reference wins (a reply to step 2 names step 1 too)
        if message_id in found:
            return Match(found[message_id], MatchedBy.HEADERS)
    # An answer to an answer written in the unified inbox: the thread's campaign message.
    reply = (
        OutboundReply.objects.unscoped()
        .filter(mailbox=mailbox, message_id__in=ids)
        .select_related("inbound__answers__enrollment")
        .first()
    )
    if reply is not None and reply.inbound.answers is not None:
        return Match(reply.inbound.answers, MatchedBy.HEADERS)
    return None


def by_thread(mailbox: Mailbox, thread_id: str) -> Match | None:
    if not thread_id:
        return None
    message = (
        _ours(mailbox)
        .filter(provider_thread_id=thread_id)
        .select_related("enrollment")
        .order_by("-sent_at")
        .first()
    )
    return Match(message, MatchedBy.THREAD) if message else None


def by_sender(mailbox: Mailbox, address: str, subject: str, received_at: datetime) -> Match | None:
    """Low confidence: the latest message this mailbox sent to this address before the reply
    arrived, when the reply's subject is ours (with or without "Re:")."""
    if not address:
        return None
    candidates = (
        _ours(mailbox)
        .filter(enrollment__contact__email__iexact=address, sent_at__lte=received_at)
        .select_related("enrollment")
        .order_by("-sent_at")[:10]
    )
    wanted = normalised_subject(subject)
    for message in candidates:
        ours = normalised_subject(message.subject)
        if wanted and ours and (wanted == ours or ours in wanted):
            return Match(message, MatchedBy.SENDER, low_confidence=True)
    return None


def by_bounced_recipient(mailbox: Mailbox, recipient: str, original_id: str) -> Match | None:
    """A bounce report: the original's Message-ID when the report quotes it, else the latest
    message this mailbox sent to the failed recipient."""
    if original_id:
        match = by_references(mailbox, [original_id])
        if match is not None:
            return Match(match.message, MatchedBy.DSN)
    if not recipient:
        return None
    message = (
        _ours(mailbox)
        .filter(enrollment__contact__email__iexact=recipient)
        .select_related("enrollment")
        .order_by("-sent_at")
        .first()
    )
    return Match(message, MatchedBy.DSN) if message else None


def is_ours(message_id: str) -> bool:
    """The registry of every Message-ID FluenzR wrote (campaign steps, inbox answers)."""
    if not message_id:
        return False
    return (
        OutboundMessage.objects.unscoped().filter(message_id=message_id).exists()
        or OutboundReply.objects.unscoped().filter(message_id=message_id).exists()
    )
