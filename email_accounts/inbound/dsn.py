"""Delivery status notifications (RFC 3464), non-standard bounces and ARF complaints.

The bounce class is read from the enhanced status code (RFC 3463) first, then from the
server's words when the code is missing or unspecific:

- ``quota``: 5.4.5, or "sending quota/limit exceeded" — our mailbox hit its sending limit;
  the contact is not to blame.
- ``soft``: 4.x.x, ``Action: delayed``, 5.2.2 (mailbox full), 5.2.3 (message too large).
- ``block``: 5.7.x (policy, spam, DMARC 5.7.26, Microsoft 5.7.515…) — the mailbox or domain
  is blocked, the contact is not to blame.
- ``hard``: 5.1.x, 5.2.1, 5.4.4 (and Microsoft's 5.4.1 "recipient address rejected"); a
  plain 550 "user unknown"; any other permanent 5.x.x failure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import Message

from flufl.bounce import all_failures

from .mime import (
    message_ids,
    parse_headers_text,
    part_text,
)

ENHANCED_RE = re.compile(r"(?<![\d.])([245]\.\d{1,3}\.\d{1,3})(?![\d.])")
BASIC_RE = re.compile(r"(?<!\d)([45]\d\d)(?:[ -]|$)")
ADDRESS_RE = re.compile(r"[A-Za-z0-9._%+'=-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")

QUOTA_RE = re.compile(
    r"sending quota|sending limit|daily user sending|submissionquotaexceeded|"
    r"limit for sending mail|message rate limit exceeded|too many messages sent",
    re.IGNORECASE,
)
BLOCK_RE = re.compile(
    r"\bspam\b|blocked|blacklist|blocklist|block list|\bdmarc\b|\bspf\b|\bdkim\b|"
    r"reputation|policy|spamhaus|not authori[sz]ed|banned|\brbl\b|listed at|"
    r"unauthenticated|authentication level",
    re.IGNORECASE,
)
UNKNOWN_USER_RE = re.compile(
    r"user unknown|unknown user|no such user|does not exist|doesn't exist|not exist|"
    r"recipient not found|recipientnotfound|address rejected|invalid recipient|"
    r"mailbox unavailable|mailbox not found|no mailbox|unknown recipient|"
    r"account (?:has been )?disabled|inactive|n'existe pas|inconnu|introuvable",
    re.IGNORECASE,
)
MAILBOX_FULL_RE = re.compile(
    r"mailbox (?:is )?full|over quota|quota exceeded|insufficient storage|boite pleine|"
    r"boîte (?:aux lettres )?pleine",
    re.IGNORECASE,
)
DELAY_RE = re.compile(
    r"delivery (?:has been )?delayed|has not yet been delivered|will (?:continue to )?retry|"
    r"temporary (?:failure|error|problem)|delay(?:ed)? notification|"
    r"Delivery Status Notification \(Delay\)|remise différée|n'a pas encore été remis",
    re.IGNORECASE,
)

BOUNCE_SENDER_RE = re.compile(
    r"^(?:mailer-daemon|mail-daemon|postmaster|maildaemon|mail\.daemon)@", re.IGNORECASE
)
BOUNCE_SUBJECT_RE = re.compile(
    r"undeliver|undelivered mail|mail delivery (?:failed|failure|system)|"
    r"delivery status notification|returned mail|failure notice|delivery failure|"
    r"non remis|non délivré|échec de (?:la )?remise|notification d'état de (?:la )?remise|"
    r"could not be delivered|message not delivered|delivery has failed|"
    r"warning: could not send message|delayed mail",
    re.IGNORECASE,
)
BOUNCE_BODY_RE = re.compile(
    r"could not be delivered|couldn't be delivered|wasn't able to deliver|"
    r"was not delivered|permanent (?:fatal )?error|delivery to the following recipients? "
    r"failed|following address(?:es)?\W+failed|undeliverable|"
    r"n'a pas pu être remis|votre message n'a pas pu|delivery has failed",
    re.IGNORECASE,
)
COPY_MARKERS_RE = re.compile(
    r"^(?:-{2,}\s*)?(?:This is a copy of the message|Below this line is a copy|"
    r"Original message follows|Original message headers|"
    r"-+ ?Original message ?-+|Undelivered message headers)",
    re.IGNORECASE | re.MULTILINE,
)
# "<jo@example.org>: host mx said: 550 …" (Postfix, qmail) and an address alone on its line (Exim)
FAILED_LINE_RE = re.compile(r"^\s*<([^<>\s]+@[^<>\s]+)>:", re.MULTILINE)
ALONE_ON_LINE_RE = re.compile(
    r"^(?:\s+<?|\s*<)([^<>\s]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})>?\s*$", re.MULTILINE
)
HEADER_MESSAGE_ID_RE = re.compile(r"^\s*Message-I[Dd]\s*:\s*(<[^<>\s]+@[^<>\s]+>)", re.MULTILINE)


@dataclass
class Report:
    """What a delivery report or complaint says (kind is "bounce", "complaint" or "other")."""

    kind: str
    rules: list[str] = field(default_factory=list)
    bounce_class: str = ""
    recipient: str = ""
    status: str = ""
    diagnostic: str = ""
    action: str = ""
    original_message_id: str = ""
    failed_recipients: list[str] = field(default_factory=list)

    def unique_rules(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.rules))


def classify_failure(status: str, diagnostic: str, action: str) -> tuple[str, str]:
    """(bounce class, rule id) for one failed or delayed recipient."""
    text = diagnostic or ""
    if status == "5.4.5":
        return "quota", "status:5.4.5"
    if QUOTA_RE.search(text):
        return "quota", "text:sending-quota"
    if action == "delayed":
        return "soft", "dsn:action=delayed"
    if status.startswith("4."):
        return "soft", "status:4.x.x"
    if status.startswith("5.7."):
        return "block", f"status:{status}"
    if status.startswith("5.1.") or status in ("5.2.1", "5.4.4"):
        return "hard", f"status:{status}"
    if status == "5.4.1" and UNKNOWN_USER_RE.search(text):
        return "hard", "status:5.4.1+text:recipient-rejected"
    if status in ("5.2.2", "5.2.3"):
        return "soft", f"status:{status}"
    if BLOCK_RE.search(text):
        return "block", "text:policy-or-spam"
    if UNKNOWN_USER_RE.search(text):
        return "hard", "text:user-unknown"
    if MAILBOX_FULL_RE.search(text):
        return "soft", "text:mailbox-full"
    if status.startswith("5."):
        return "hard", "status:5.x.x"
    basic = BASIC_RE.search(text)
    if basic:
        return ("soft", "smtp:4xx") if basic.group(1).startswith("4") else ("hard", "smtp:5xx")
    if DELAY_RE.search(text):
        return "soft", "text:delayed"
    return "hard", "dsn:action=failed"


def detect(
    message: Message, body: str, *, from_email: str, subject: str, problems: list[str]
) -> Report | None:
    """The delivery/complaint report this message is, or None when it is not one."""
    report_part = _find_report(message)
    if report_part is not None:
        report_type = (report_part.get_param("report-type") or "").lower()
        if report_type == "delivery-status":
            return _from_dsn(report_part, body, problems)
        if report_type == "feedback-report":
            return _from_arf(report_part, problems)
        if report_type == "disposition-notification":
            return Report(kind="other", rules=["mdn:report-type=disposition-notification"])
    return _from_text(message, body, from_email=from_email, subject=subject, problems=problems)


def _find_report(message: Message) -> Message | None:
    if message.get_content_type() == "multipart/report":
        return message
    payload = message.get_payload() if message.is_multipart() else []
    for part in payload if isinstance(payload, list) else []:
        if isinstance(part, Message) and part.get_content_type() == "multipart/report":
            return part
    return None


def _children(part: Message) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    return []


def _field_blocks(part: Message, problems: list[str]) -> list[Message]:
    """The header blocks of a message/delivery-status or message/feedback-report part."""
    blocks = _children(part)
    if blocks:
        return blocks
    text = part_text(part, problems)
    return [parse_headers_text(chunk) for chunk in re.split(r"\n\s*\n", text) if chunk.strip()]


def _original_message_id(report: Message, problems: list[str]) -> str:
    for part in _children(report):
        ctype = part.get_content_type()
        if ctype in ("message/rfc822", "message/global"):
            inner = _children(part)
            if inner:
                ids = message_ids(str(inner[0].get("Message-ID", "")))
                if ids:
                    return ids[0]
        elif ctype in ("text/rfc822-headers", "message/global-headers"):
            headers = parse_headers_text(part_text(part, problems))
            ids = message_ids(str(headers.get("Message-ID", "")))
            if ids:
                return ids[0]
    return ""


def _strip_type(value: str) -> str:
    """ "rfc822; Jo@Example.org" → "jo@example.org"; "smtp; 550 …" → "550 …"."""
    value = re.sub(r"\s+", " ", value or "").strip()
    if ";" in value:
        value = value.split(";", 1)[1].strip()
    return value


def _from_dsn(report: Message, body: str, problems: list[str]) -> Report:
    rules = ["dsn:report-type=delivery-status"]
    status_part = next(
        (
            p
            for p in _children(report)
            if p.get_content_type() in ("message/delivery-status", "message/global-delivery-status")
        ),
        None,
    )
    records: list[dict[str, str]] = []
    if status_part is None:
        problems.append("dsn:no message/delivery-status part")
    else:
        for block in _field_blocks(status_part, problems):
            if not (block.get("Action") or block.get("Status") or block.get("Final-Recipient")):
                continue
            recipient = _strip_type(str(block.get("Final-Recipient", ""))) or _strip_type(
                str(block.get("Original-Recipient", ""))
            )
            records.append(
                {
                    "recipient": recipient.strip("<>").lower(),
                    "action": str(block.get("Action", "")).strip().lower(),
                    "status": str(block.get("Status", "")).strip(),
                    "diagnostic": _strip_type(str(block.get("Diagnostic-Code", "")))
                    or re.sub(r"\s+", " ", str(block.get("X-Supplementary-Info", ""))).strip(),
                }
            )
    original = _original_message_id(report, problems)
    failing = [r for r in records if r["action"] in ("failed", "delayed", "")]
    if records and not failing:
        actions = sorted({r["action"] for r in records})
        return Report(
            kind="other",
            rules=[*rules, "dsn:action=" + "+".join(actions)],
            recipient=records[0]["recipient"],
            status=records[0]["status"],
            action=records[0]["action"],
            original_message_id=original,
        )
    if not records:
        # A report part without readable fields: read the human-readable text instead.
        text_report = _from_text_body(body)
        text_report.rules = [*rules, "dsn:unreadable-fields", *text_report.rules]
        text_report.original_message_id = original or text_report.original_message_id
        return text_report
    chosen = next((r for r in failing if r["action"] == "failed"), failing[0])
    status = _enhanced(chosen["status"])
    diagnostic = chosen["diagnostic"]
    from_diagnostic = ENHANCED_RE.search(diagnostic)
    better = from_diagnostic.group(1) if from_diagnostic else ""
    if (
        better
        and better != status
        and (not status or (status.endswith(".0.0") and better[0] == status[0]))
    ):
        rules.append("dsn:status-from-diagnostic")
        status = better
    if not chosen["status"]:
        problems.append("dsn:no Status field")
    bounce_class, rule = classify_failure(status, diagnostic, chosen["action"])
    if chosen["action"]:
        rules.append(f"dsn:action={chosen['action']}")
    rules.append(rule)
    return Report(
        kind="bounce",
        rules=rules,
        bounce_class=bounce_class,
        recipient=chosen["recipient"],
        status=status,
        diagnostic=diagnostic,
        action=chosen["action"] or "failed",
        original_message_id=original,
        failed_recipients=[r["recipient"] for r in failing if r["recipient"]],
    )


def _enhanced(value: str) -> str:
    match = ENHANCED_RE.search(value or "")
    return match.group(1) if match else ""


def _from_arf(report: Message, problems: list[str]) -> Report:
    rules = ["arf:report-type=feedback-report"]
    recipient = ""
    for part in _children(report):
        if part.get_content_type() != "message/feedback-report":
            continue
        for block in _field_blocks(part, problems):
            feedback_type = str(block.get("Feedback-Type", "")).strip().lower()
            if feedback_type:
                rules.append(f"arf:feedback-type={feedback_type}")
            for name in ("Original-Rcpt-To", "Removal-Recipient"):
                if not recipient and block.get(name):
                    recipient = _strip_type(str(block.get(name))).strip("<>").lower()
    original = _original_message_id(report, problems)
    if not recipient:
        for part in _children(report):
            if part.get_content_type() == "message/rfc822" and _children(part):
                found = ADDRESS_RE.search(str(_children(part)[0].get("To", "")))
                recipient = found.group(0).lower() if found else ""
    return Report(
        kind="complaint",
        rules=rules,
        recipient=recipient,
        original_message_id=original,
        action="complained",
    )


def _from_text(
    message: Message, body: str, *, from_email: str, subject: str, problems: list[str]
) -> Report | None:
    """Non-standard bounces (Exim, qmail, old Postfix/Exchange): read the words."""
    rules: list[str] = []
    failed_header = str(message.get("X-Failed-Recipients", "") or "")
    if failed_header:
        rules.append("header:x-failed-recipients")
    if BOUNCE_SENDER_RE.search(from_email or ""):
        if BOUNCE_SUBJECT_RE.search(subject) or BOUNCE_BODY_RE.search(body):
            rules.append("from:mailer-daemon")
    elif BOUNCE_SUBJECT_RE.search(subject) and BOUNCE_BODY_RE.search(body):
        rules.append("subject+body:bounce-words")
    if not rules:
        return None
    report = _from_text_body(body)
    report.rules = [*rules, *report.rules]
    header_recipients = [a.lower() for a in ADDRESS_RE.findall(failed_header)]
    recipients = header_recipients or report.failed_recipients
    if not recipients:
        try:
            temporary, permanent = all_failures(message)
        except Exception:
            temporary, permanent = frozenset(), frozenset()
            problems.append("bounce:flufl.bounce could not read it")
        found = sorted(_as_text(a) for a in (*permanent, *temporary))
        if found:
            recipients = found
            report.rules.append("flufl.bounce")
    report.failed_recipients = recipients
    report.recipient = recipients[0] if recipients else ""
    if not report.recipient:
        problems.append("bounce:failed recipient not found")
    if not report.original_message_id:
        report.original_message_id = _original_message_id(message, problems)
    if not report.original_message_id:
        for part in _children(message):
            if part.get_content_type() == "message/rfc822" and _children(part):
                ids = message_ids(str(_children(part)[0].get("Message-ID", "")))
                if ids:
                    report.original_message_id = ids[0]
                    break
    return report


def _as_text(value: bytes | str) -> str:
    return (value.decode("utf-8", "replace") if isinstance(value, bytes) else value).lower()


def _from_text_body(body: str) -> Report:
    """Status, recipients and diagnostic read from a bounce's human-readable text."""
    copy = COPY_MARKERS_RE.search(body)
    notice = body[: copy.start()] if copy else body
    quoted_copy = body[copy.start() :] if copy else ""
    original = ""
    match = HEADER_MESSAGE_ID_RE.search(quoted_copy or body)
    if match:
        original = match.group(1)
    recipients: list[str] = []
    for pattern in (FAILED_LINE_RE, ALONE_ON_LINE_RE, ADDRESS_RE):
        for addr in pattern.findall(notice):
            addr = addr.lower()
            if addr not in recipients and not BOUNCE_SENDER_RE.search(addr):
                recipients.append(addr)
        if recipients:
            break
    diagnostic = ""
    status = ""
    for line in notice.splitlines():
        if ENHANCED_RE.search(line) or BASIC_RE.search(line.strip()):
            diagnostic = line.strip()
            status = _enhanced(line)
            break
    if diagnostic:
        # Keep the server's words together: the line with the code and its continuations.
        start = notice.find(diagnostic)
        tail = notice[start:].split("\n\n", 1)[0]
        diagnostic = re.sub(r"\s+", " ", tail).strip()
    delayed = bool(DELAY_RE.search(notice)) and not re.search(
        r"permanent (?:fatal )?error|given up|failed permanently", notice, re.IGNORECASE
    )
    action = "delayed" if delayed else "failed"
    bounce_class, rule = classify_failure(status, diagnostic or notice, action)
    return Report(
        kind="bounce",
        rules=[f"text:action={action}", rule],
        bounce_class=bounce_class,
        status=status,
        diagnostic=diagnostic,
        action=action,
        original_message_id=original,
        failed_recipients=recipients,
    )
