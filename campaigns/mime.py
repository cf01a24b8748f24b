"""Outgoing campaign emails as RFC 5322 bytes, ready for SMTP or the Gmail API (`raw`).

:func:`build` turns a rendered :class:`Draft` into CRLF-terminated bytes: encoded display names
and subject (RFC 2047), our own Message-ID, threading headers for follow-ups, and either a
text/plain body or multipart/alternative (plain text generated from sanitised HTML).

Two deliberate departures from the stdlib defaults:

- Bodies are 7-bit clean (``cte_type="7bit"``): non-ASCII text goes out quoted-printable or
  base64 (whichever the stdlib finds shorter) instead of raw 8bit, so the bytes survive any
  relay unchanged and DKIM signatures stay valid.
- ASCII headers made of long tokens (Message-IDs in In-Reply-To/References, URLs in
  List-Unsubscribe) are folded at spaces only. The stdlib folds such tokens into RFC 2047
  encoded-words, which no client decodes in those headers: threading and one-click
  unsubscribe would silently break.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy as email_policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import Policy
from email.utils import format_datetime
from types import MappingProxyType

import idna

from campaigns.html_body import html_to_text, sanitize_html

__all__ = ["Draft", "build", "html_to_text", "new_message_id", "reply_subject", "sanitize_html"]

POLICY = email_policy.SMTP.clone(cte_type="7bit")
_MAX_LINE = 998  # RFC 5322 §2.1.1, without CRLF

# Headers build() writes itself; extra headers may not replace them.
_MANAGED_HEADERS = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "subject",
        "date",
        "message-id",
        "in-reply-to",
        "references",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
    }
)
_HEADER_NAME_RE = re.compile(r"[!-9;-~]+")  # RFC 5322 ftext: printable ASCII except ':'
_MSG_ID_RE = re.compile(r"<[!-;=?-~]+@[!-;=?-~]+>")  # `<left@right>`, no spaces or brackets
# "Re:", "RE :" (French Outlook), "Ré:", "AW:" (German), "SV:" (Nordic), "Antw:" (Dutch),
# "Re[2]:", repeated any number of times.
_REPLY_PREFIX_RE = re.compile(r"^(?:\s*(?:re|ré|aw|sv|antw)\s*(?:\[\d+\])?\s*:)+\s*", re.I)


@dataclass(frozen=True)
class Draft:
    sender_email: str
    sender_name: str
    to_email: str
    to_name: str
    subject: str  # already rendered; "" on a follow-up that continues the thread
    previous_subject: str = ""  # with an empty subject → "Re: <previous_subject>"
    text: str = ""  # plain-text body; with html, overrides the generated alternative
    html: str = ""  # sanitised before sending; a text alternative is generated from it
    in_reply_to: str = ""  # the previous step's Message-ID, "<…>"
    references: tuple[str, ...] = ()
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    date: datetime | None = None  # timezone-aware; now (UTC) when None


# --- identifiers and subjects ------------------------------------------------------------------


def _domain_of(email: str) -> str:
    local, at, domain = email.strip().rpartition("@")
    if not at or not local or not domain:
        raise ValueError(f"Not an email address: {email!r}")
    try:
        return idna.encode(domain.rstrip("."), uts46=True).decode("ascii")
    except idna.IDNAError as error:
        raise ValueError(f"Invalid domain in {email!r}: {error}") from error


def new_message_id(sender_email: str) -> str:
    """A fresh `<random@sender-domain>`.

    The sender's own domain, not ours: a Message-ID from a foreign domain is a spam signal and
    the id is what reconciliation looks for in the Sent folder. 160 random bits make
    collisions irrelevant; base32 keeps it to RFC 5322 atext.
    """
    token = base64.b32encode(secrets.token_bytes(20)).decode("ascii").lower()
    return f"<{token}@{_domain_of(sender_email)}>"


def reply_subject(previous_subject: str) -> str:
    """`Re: <subject>`, never `Re: Re:`: existing reply prefixes are folded into one."""
    base = _REPLY_PREFIX_RE.sub("", previous_subject).strip()
    return f"Re: {base}" if base else ""


def _one_line(value: str) -> str:
    # Rendered values can carry newlines or tabs; a header must be one line (and a CR/LF in
    # it would be header injection), so collapse all whitespace runs.
    return " ".join(value.split())


# --- headers -----------------------------------------------------------------------------------


class _AsciiHeader(str):
    """An ASCII header value the policy writes folded at spaces, never as encoded-words."""

    __slots__ = ("name",)
    name: str

    def __new__(cls, name: str, value: str) -> _AsciiHeader:
        header = super().__new__(cls, value)
        header.name = name
        return header

    def fold(self, *, policy: Policy) -> str:
        limit = policy.max_line_length or _MAX_LINE
        lines = [f"{self.name}:"]
        for word in self.split():
            if len(lines[-1]) + 1 + len(word) > limit and lines[-1] != f"{self.name}:":
                lines.append("")
            lines[-1] += f" {word}"
        if any(len(line) > _MAX_LINE for line in lines):
            raise ValueError(f"{self.name} has a token longer than {_MAX_LINE} characters")
        return policy.linesep.join(lines) + policy.linesep


def _set_header(msg: EmailMessage, name: str, value: str) -> None:
    value = _one_line(value)
    if value.isascii():
        msg[name] = _AsciiHeader(name, value)
    else:
        msg[name] = value  # the policy encodes it (RFC 2047)


def _address(name: str, email: str) -> Address:
    local = email.strip().rpartition("@")[0]
    if not local.isascii():
        # Would need SMTPUTF8, which we cannot count on at every recipient's server.
        raise ValueError(f"Non-ASCII local part is not supported: {email!r}")
    return Address(display_name=_one_line(name), username=local, domain=_domain_of(email))


def _check_msg_id(value: str, what: str) -> str:
    if not _MSG_ID_RE.fullmatch(value):
        raise ValueError(f"{what} is not a Message-ID (<left@right>): {value!r}")
    return value


# --- build -------------------------------------------------------------------------------------


def build(draft: Draft, *, message_id: str) -> bytes:
    """The message as bytes with CRLF line endings, every line ≤ 998 characters."""
    msg = EmailMessage(policy=POLICY)
    msg["From"] = _address(draft.sender_name, draft.sender_email)
    msg["To"] = _address(draft.to_name, draft.to_email)
    subject = _one_line(draft.subject)
    if not subject and draft.previous_subject:
        subject = reply_subject(_one_line(draft.previous_subject))
    _set_header(msg, "Subject", subject)
    date = draft.date or datetime.now(UTC)
    if date.tzinfo is None or date.utcoffset() is None:
        raise ValueError("Draft.date must be timezone-aware")
    msg["Date"] = _AsciiHeader("Date", format_datetime(date))
    msg["Message-ID"] = _AsciiHeader("Message-ID", _check_msg_id(message_id, "message_id"))

    references = [_check_msg_id(ref, "references") for ref in draft.references]
    if draft.in_reply_to:
        parent = _check_msg_id(draft.in_reply_to, "in_reply_to")
        msg["In-Reply-To"] = _AsciiHeader("In-Reply-To", parent)
        # RFC 5322 §3.6.4: References ends with the parent's id.
        if parent in references:
            references.remove(parent)
        references.append(parent)
    if references:
        msg["References"] = _AsciiHeader("References", " ".join(dict.fromkeys(references)))

    for name, value in draft.headers.items():
        if not _HEADER_NAME_RE.fullmatch(name) or name.lower() in _MANAGED_HEADERS:
            raise ValueError(f"Header {name!r} cannot be set as an extra header")
        _set_header(msg, name, value)

    if draft.html:
        clean = sanitize_html(draft.html)
        msg.set_content(_text_body(draft.text or html_to_text(clean)))
        msg.add_alternative(_html_document(clean), subtype="html")
        for part in msg.iter_parts():
            del part["MIME-Version"]  # stdlib adds it to sub-parts; it belongs on top only
    else:
        msg.set_content(_text_body(draft.text))
    return msg.as_bytes()


def _text_body(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text if text.endswith("\n") else text + "\n"


def _html_document(fragment: str) -> str:
    # A full document with its charset: some clients render bare fragments in quirks mode.
    return (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n</head>\n'
        f"<body>\n{fragment}\n</body>\n</html>\n"
    )
