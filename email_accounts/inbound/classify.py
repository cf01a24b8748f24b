"""classify(): raw RFC 5322 bytes → Verdict, in the issue's order.

1. delivery status notifications and complaints (a bounce also carries Auto-Submitted);
2. our own messages (Message-ID registry, warm-up header) — never a reply;
3. auto-replies (RFC 3834 and vendor markers, subjects), with the return date when read;
4. otherwise a human reply: its new text, references, and whether it asks to unsubscribe.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import Message

from . import autoreply, dsn
from .dates import read_return_date
from .leads import is_unsubscribe_request
from .mime import address, header, message_ids, parse, text_body
from .quotes import extract_reply
from .verdict import Verdict

WARMUP_HEADER = "X-FluenzR-Warmup"
_BOUNCE_FROM = re.compile(r"^(?:mailer-daemon|mail-daemon|postmaster)@", re.IGNORECASE)


def looks_automated(headers: Message) -> bool:
    """Cheap header-only test for bounce or auto-reply markers (the sync's pre-filter)."""
    try:
        if autoreply.header_rules(headers):
            return True
        if headers.get("X-Failed-Recipients") is not None:
            return True
        content_type = str(headers.get("Content-Type", "") or "").lower()
        if "multipart/report" in content_type:
            return True
        return_path = str(headers.get("Return-Path", "") or "").strip()
        if return_path == "<>":
            return True
        _, sender = email.utils.parseaddr(header(headers, "From"))
        if _BOUNCE_FROM.search(sender):
            return True
        subject = header(headers, "Subject")
        return bool(autoreply.subject_rules(subject) or dsn.BOUNCE_SUBJECT_RE.search(subject))
    except Exception:
        return False


def classify(
    raw: bytes,
    *,
    received_at: datetime | None = None,
    is_ours: Callable[[str], bool] | None = None,
) -> Verdict:
    """What this inbound message is. Never raises: what it cannot read goes to ``problems``."""
    problems: list[str] = []
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogateescape")
    try:
        return _classify(bytes(raw or b""), received_at, is_ours, problems)
    except Exception as exc:  # last resort: a verdict, never a crash
        problems.append(f"classifier:{type(exc).__name__}: {exc}")
        return Verdict(kind="other", rules=("classifier:error",), problems=tuple(problems))


def _classify(
    raw: bytes,
    received_at: datetime | None,
    is_ours: Callable[[str], bool] | None,
    problems: list[str],
) -> Verdict:
    message = parse(raw, problems)
    subject = header(message, "Subject", problems)
    from_name, from_email = address(message, "From", problems)
    own_ids = message_ids(header(message, "Message-ID"))
    message_id = own_ids[0] if own_ids else ""
    in_reply_to = message_ids(header(message, "In-Reply-To"))
    references: list[str] = []
    for value in (*in_reply_to, *message_ids(header(message, "References"))):
        if value not in references:
            references.append(value)
    if not raw.strip():
        problems.append("message:empty")
    if not from_email:
        problems.append("header:no From address")
    if not message_id:
        problems.append("header:no Message-ID")
    received, us_sender = _received(message, received_at, problems)
    body = text_body(message, problems)

    common = {
        "from_email": from_email,
        "from_name": from_name,
        "subject": subject,
        "message_id": message_id,
        "references": tuple(references),
    }

    # 1. Delivery reports and complaints.
    report = dsn.detect(message, body, from_email=from_email, subject=subject, problems=problems)
    if report is not None:
        return Verdict(
            kind=report.kind,
            rules=report.unique_rules(),
            bounce_class=report.bounce_class,
            recipient=report.recipient,
            status=report.status,
            diagnostic=report.diagnostic,
            action=report.action,
            original_message_id=report.original_message_id
            or (in_reply_to[0] if in_reply_to else ""),
            failed_recipients=tuple(report.failed_recipients),
            problems=tuple(problems),
            **common,
        )

    # 2. Our own messages and warm-up mail.
    own_rules: list[str] = []
    if message_id and is_ours is not None:
        try:
            if is_ours(message_id):
                own_rules.append("registry:own-message-id")
        except Exception as exc:
            problems.append(f"is_ours:{type(exc).__name__}")
    if message.get(WARMUP_HEADER) is not None:
        own_rules.append("header:x-fluenzr-warmup")
    original = in_reply_to[0] if in_reply_to else ""
    if own_rules:
        return Verdict(
            kind="own",
            rules=tuple(own_rules),
            original_message_id=original,
            problems=tuple(problems),
            **common,
        )

    # 3. Auto-replies.
    auto_rules = autoreply.header_rules(message) + autoreply.subject_rules(subject)
    if auto_rules:
        out_of_office = autoreply.is_out_of_office(subject, body, auto_rules)
        return_date = None
        if out_of_office:
            return_date, date_rule = read_return_date(
                f"{subject}\n{body}", received=received, us_order=us_sender
            )
            auto_rules.append("text:out-of-office")
            if date_rule:
                auto_rules.append(date_rule)
        return Verdict(
            kind="auto_reply",
            rules=tuple(auto_rules),
            original_message_id=original,
            out_of_office=out_of_office,
            return_date=return_date,
            reply_text=extract_reply(body),
            problems=tuple(problems),
            **common,
        )

    # 4. A human reply (or, with no sender and no text, nothing we can use).
    reply_text = extract_reply(body)
    if not from_email:
        return Verdict(kind="other", rules=("message:no-sender",), problems=tuple(problems),
                       **common)  # fmt: skip
    rules = ["reply:thread-headers" if references else "reply:no-thread-headers"]
    unsubscribe = is_unsubscribe_request(f"{_strip_prefixes(subject)}\n{reply_text}")
    if unsubscribe:
        rules.append("text:unsubscribe-request")
    return Verdict(
        kind="reply",
        rules=tuple(rules),
        original_message_id=original,
        unsubscribe_request=unsubscribe,
        reply_text=reply_text,
        problems=tuple(problems),
        **common,
    )


def _strip_prefixes(subject: str) -> str:
    """The subject without "Re:", "TR:", "Fwd:" prefixes (our own subject can say anything)."""
    previous = None
    while previous != subject:
        previous = subject
        subject = re.sub(r"^\s*(?:re|tr|fw|fwd|réf|aw)\s*:\s*", "", subject, flags=re.IGNORECASE)
    return subject if subject.strip().lower() in ("unsubscribe", "stop", "désabonner") else ""


def _received(
    message: Message, received_at: datetime | None, problems: list[str]
) -> tuple[datetime.date, bool]:
    """(the day the message was received, whether its sender writes US month/day dates)."""
    sent: datetime | None = None
    value = str(message.get("Date", "") or "")
    if value:
        try:
            sent = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            problems.append("header:Date unreadable")
    us_sender = bool(
        sent is not None
        and sent.utcoffset() is not None
        and timedelta(hours=-10) <= sent.utcoffset() <= timedelta(hours=-3)
    )
    when = received_at or sent or datetime.now(tz=UTC)
    return when.date(), us_sender
