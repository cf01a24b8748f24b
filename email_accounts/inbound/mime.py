"""Reading raw RFC 5322 bytes without ever raising: headers, charsets, text bodies, HTML."""

from __future__ import annotations

import email
import email.utils
import re
from email.header import decode_header, make_header
from email.message import Message
from email.parser import HeaderParser
from html.parser import HTMLParser

from charset_normalizer import from_bytes

MESSAGE_ID_RE = re.compile(r"<[^<>\s]+@[^<>\s]+>")
_WS_RE = re.compile(r"[ \t\u00a0\u202f\u2007]+")


def parse(raw: bytes, problems: list[str]) -> Message:
    """Parse raw bytes into a (compat32) Message; MIME defects are noted in ``problems``."""
    try:
        message = email.message_from_bytes(raw)
    except Exception as exc:  # the stdlib parser is lenient, but never let it escape
        problems.append(f"mime:unparseable ({type(exc).__name__})")
        return email.message_from_string("")
    seen: set[str] = set()
    for part in _all_parts(message):
        for defect in getattr(part, "defects", []) or []:
            name = type(defect).__name__
            if name not in seen:
                seen.add(name)
                problems.append(f"mime:{name}")
    return message


def _all_parts(message: Message):
    stack = [message]
    while stack:
        part = stack.pop()
        yield part
        payload = part.get_payload()
        if isinstance(payload, list):
            stack.extend(p for p in payload if isinstance(p, Message))


def header(message: Message, name: str, problems: list[str] | None = None) -> str:
    """A header's decoded value (RFC 2047), unfolded; "" when absent."""
    value = message.get(name)
    if value is None:
        return ""
    return decode_header_value(str(value), problems)


def decode_header_value(value: str, problems: list[str] | None = None) -> str:
    try:
        text = str(make_header(decode_header(value)))
    except (LookupError, UnicodeError, ValueError, TypeError):
        text = _decode_header_leniently(value, problems)
    return _WS_RE.sub(" ", text.replace("\r", "").replace("\n", "")).strip()


def _decode_header_leniently(value: str, problems: list[str] | None) -> str:
    if problems is not None:
        problems.append("header:undecodable encoded-word, guessed its charset")
    chunks: list[str] = []
    try:
        parts = decode_header(value)
    except Exception:
        return value
    for chunk, _charset in parts:
        if isinstance(chunk, bytes):
            chunks.append(guess_decode(chunk))
        else:
            chunks.append(chunk)
    return "".join(chunks)


def guess_decode(data: bytes) -> str:
    """Bytes of unknown charset → text: UTF-8, else charset-normalizer's guess, else Latin-1."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best = from_bytes(data).best()
    if best is not None:
        return str(best)
    return data.decode("latin-1")


def address(message: Message, name: str, problems: list[str]) -> tuple[str, str]:
    """(display name, lowercased address) of a header such as From."""
    value = header(message, name, problems)
    if not value:
        return "", ""
    display, addr = email.utils.parseaddr(value)
    return display.strip().strip('"'), addr.strip().lower()


def message_ids(value: str) -> list[str]:
    return MESSAGE_ID_RE.findall(value or "")


def part_text(part: Message, problems: list[str]) -> str:
    """A leaf part's payload decoded to text with its declared charset (guessing when it lies)."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        problems.append("mime:undecodable transfer encoding")
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    if payload is None:
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    charset = part.get_content_charset() or part.get_param("charset") or ""
    if isinstance(charset, tuple):  # RFC 2231 value
        charset = charset[2] if len(charset) > 2 else ""
    charset = str(charset).strip().lower()
    if charset:
        try:
            return payload.decode(charset)
        except LookupError:
            problems.append(f"charset:unknown charset {charset!r}, guessed")
        except UnicodeDecodeError:
            problems.append(f"charset:text is not valid {charset}, guessed")
    else:
        try:
            return payload.decode("utf-8")
        except UnicodeDecodeError:
            problems.append("charset:none declared and the text is not UTF-8, guessed")
    return guess_decode(payload)


def is_attachment(part: Message) -> bool:
    disposition = (part.get("Content-Disposition") or "").split(";")[0].strip().lower()
    return disposition == "attachment"


def text_body(message: Message, problems: list[str]) -> str:
    """The message's readable text: its first text/plain part, else its HTML as text.

    Attached messages (message/rfc822) and attachments are not descended into.
    """
    plain, html = _find_text(message, problems)
    if plain is not None and plain.strip():
        return normalise_newlines(plain)
    if html is not None:
        return html_to_text(html)
    return normalise_newlines(plain or "")


def _find_text(part: Message, problems: list[str]) -> tuple[str | None, str | None]:
    ctype = part.get_content_type()
    if ctype.startswith("message/"):
        return None, None
    if part.is_multipart():
        plain = html = None
        payload = part.get_payload()
        for sub in payload if isinstance(payload, list) else []:
            if not isinstance(sub, Message) or is_attachment(sub):
                continue
            sub_plain, sub_html = _find_text(sub, problems)
            if plain is None and sub_plain is not None:
                plain = sub_plain
            if html is None and sub_html is not None:
                html = sub_html
            if plain is not None and html is not None:
                break
        return plain, html
    if ctype.startswith("multipart/"):
        # A multipart whose boundary never appears: salvage its body as plain text.
        problems.append("mime:multipart body without its boundary, read as text")
        text = part_text(part, problems)
        kept = [
            line
            for line in text.splitlines()
            if not line.startswith("--") and not re.match(r"(?i)content-[\w-]+:", line)
        ]
        return "\n".join(kept).strip(), None
    if ctype == "text/plain":
        return part_text(part, problems), None
    if ctype == "text/html":
        return None, part_text(part, problems)
    if ctype == "text/rfc822-headers":
        return None, None
    return None, None


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_headers_text(text: str) -> Message:
    """Headers given as text (text/rfc822-headers, or a quoted copy) → a Message."""
    return HeaderParser().parsestr(text.lstrip())


_BLOCK_TAGS = {
    "p", "div", "br", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "pre", "section", "article", "header", "footer",
}  # fmt: skip
_SKIP_TAGS = {"script", "style", "head", "title"}
_QUOTE_OPEN = "\x01"
_QUOTE_CLOSE = "\x02"


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self.skip += 1
        elif tag == "blockquote":
            self.out.append(f"\n{_QUOTE_OPEN}\n")
        elif tag in _BLOCK_TAGS:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip = max(0, self.skip - 1)
        elif tag == "blockquote":
            self.out.append(f"\n{_QUOTE_CLOSE}\n")
        elif tag in _BLOCK_TAGS:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.out.append(data.replace("\n", " "))


def html_to_text(html: str) -> str:
    """HTML → plain text; <blockquote> content comes out "> "-quoted like a text reply."""
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
    except Exception:
        return re.sub(r"<[^>]+>", " ", html)
    depth = 0
    lines: list[str] = []
    for line in "".join(parser.out).split("\n"):
        if line.strip() == _QUOTE_OPEN:
            depth += 1
            continue
        if line.strip() == _QUOTE_CLOSE:
            depth = max(0, depth - 1)
            continue
        line = _WS_RE.sub(" ", line).strip()
        lines.append(("> " * depth + line) if depth else line)
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
