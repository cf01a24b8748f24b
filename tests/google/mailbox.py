"""One Gmail account inside the fake Google server: its messages, labels, history records and
the subset of Gmail's search syntax FluenzR relies on, rendered as the Gmail API v1 renders
them (schemas `Message`, `MessagePart`, `History`, `Label` of the gmail v1 discovery document).

Not thread-safe by itself: `FakeGoogle` holds its lock around every call.
"""

from __future__ import annotations

import base64
import hashlib
import html
import itertools
import re
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from email.utils import getaddresses
from functools import cached_property
from typing import Any

SYSTEM_LABELS = (
    "INBOX", "SENT", "DRAFT", "SPAM", "TRASH", "UNREAD", "STARRED", "IMPORTANT", "CHAT",
    "CATEGORY_PERSONAL", "CATEGORY_SOCIAL", "CATEGORY_PROMOTIONS", "CATEGORY_UPDATES",
    "CATEGORY_FORUMS",
)  # fmt: skip
# What `in:` / `label:` names mean in a search.
_SEARCH_LABELS = {
    "inbox": "INBOX", "sent": "SENT", "draft": "DRAFT", "drafts": "DRAFT", "spam": "SPAM",
    "trash": "TRASH", "unread": "UNREAD", "starred": "STARRED", "important": "IMPORTANT",
}  # fmt: skip
_AGE_UNITS = {"d": 86_400, "m": 30 * 86_400, "y": 365 * 86_400}
_ids = itertools.count(int(time.time() * 1000) << 20)


def new_id() -> str:
    """Gmail ids are 16 hex digits that grow over time."""
    return f"{next(_ids):016x}"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def bare_message_id(value: str) -> str:
    return value.strip().strip("<>").strip()


def _unfold(value: str) -> str:
    return re.sub(r"\r?\n(?=[ \t])", "", str(value))


@dataclass
class StoredMessage:
    id: str
    thread_id: str
    raw: bytes
    label_ids: list[str]
    internal_date: int  # epoch milliseconds, when Gmail accepted the message
    history_id: int = 0

    @cached_property
    def parsed(self) -> Message:
        return message_from_bytes(self.raw, policy=policy.compat32)

    def header(self, name: str) -> str:
        return _unfold(self.parsed.get(name, ""))

    @property
    def message_id(self) -> str:
        return bare_message_id(self.header("Message-ID"))

    def snippet(self) -> str:
        for part in self.parsed.walk():
            if part.get_content_type() == "text/plain":
                payload = part.get_payload(decode=True) or b""
                text = payload.decode(part.get_content_charset() or "utf-8", "replace")
                return html.escape(" ".join(text.split())[:200])
        return ""

    def render(self, fmt: str = "full", metadata_headers: list[str] | None = None) -> dict:
        """The `Message` resource as users.messages.get returns it for `format`."""
        body: dict[str, Any] = {
            "id": self.id,
            "threadId": self.thread_id,
            "labelIds": list(self.label_ids),
            "snippet": self.snippet(),
            "sizeEstimate": len(self.raw),
            "historyId": str(self.history_id),
            "internalDate": str(self.internal_date),
        }
        if fmt == "raw":
            body["raw"] = b64url(self.raw)
        elif fmt == "metadata":
            wanted = {name.lower() for name in metadata_headers or ()}
            headers = [
                {"name": name, "value": _unfold(value)}
                for name, value in self.parsed.items()
                if not wanted or name.lower() in wanted
            ]
            body["payload"] = {"mimeType": self.parsed.get_content_type(), "headers": headers}
        elif fmt == "full":
            body["payload"] = _part(self.parsed, "")
        return body


def _part(part: Message, part_id: str) -> dict:
    rendered: dict[str, Any] = {
        "partId": part_id,
        "mimeType": part.get_content_type(),
        "filename": part.get_filename() or "",
        "headers": [{"name": n, "value": _unfold(v)} for n, v in part.items()],
    }
    if part.is_multipart():
        children = part.get_payload()
        rendered["body"] = {"size": 0}
        rendered["parts"] = [
            _part(child, f"{part_id}.{i}" if part_id else str(i))
            for i, child in enumerate(children)
        ]
    else:
        data = part.get_payload(decode=True) or b""
        rendered["body"] = {"size": len(data), "data": b64url(data)}
    return rendered


@dataclass
class Mailbox:
    email: str
    hd: str | None
    history_id: int = 1000
    messages: dict[str, StoredMessage] = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    user_labels: dict[str, str] = field(default_factory=dict)  # id -> name

    @property
    def sub(self) -> str:
        """Google's stable numeric account id."""
        return str(int(hashlib.sha256(self.email.encode()).hexdigest(), 16) % 10**21)

    # ------------------------------------------------------------------ changes

    def add(
        self,
        raw: bytes,
        labels: list[str],
        thread_id: str | None = None,
        internal_date: int | None = None,
        *,
        follow_references: bool = True,
    ) -> StoredMessage:
        message = StoredMessage(
            id=new_id(),
            thread_id="",
            raw=raw,
            label_ids=list(labels),
            internal_date=internal_date or int(time.time() * 1000),
        )
        # Delivered mail joins the conversation it references; a send joins only the thread
        # it names.
        found = self._thread_of(message) if follow_references else None
        message.thread_id = thread_id or found or message.id
        self.messages[message.id] = message
        self._record("messagesAdded", message)
        return message

    def modify(self, message: StoredMessage, add: list[str], remove: list[str]) -> None:
        added = [label for label in add if label not in message.label_ids]
        removed = [label for label in remove if label in message.label_ids and label not in add]
        message.label_ids = [l for l in message.label_ids if l not in removed] + added  # noqa: E741
        if added:
            self._record("labelsAdded", message, added)
        if removed:
            self._record("labelsRemoved", message, removed)

    def add_label(self, name: str) -> str:
        label_id = f"Label_{len(self.user_labels) + 1}"
        self.user_labels[label_id] = name
        return label_id

    def knows_label(self, label_id: str) -> bool:
        return label_id in SYSTEM_LABELS or label_id in self.user_labels

    def _thread_of(self, message: StoredMessage) -> str | None:
        # Gmail threads a message onto the conversation its In-Reply-To/References name.
        refs = f"{message.header('In-Reply-To')} {message.header('References')}"
        wanted = {bare_message_id(ref) for ref in re.findall(r"<[^>]+>", refs)}
        for known in reversed(list(self.messages.values())):
            if known.message_id in wanted:
                return known.thread_id
        return None

    def _record(self, kind: str, message: StoredMessage, labels: list[str] | None = None) -> None:
        self.history_id += 1
        message.history_id = self.history_id
        entry: dict[str, Any] = {
            "message": {
                "id": message.id,
                "threadId": message.thread_id,
                "labelIds": list(message.label_ids),
            }
        }
        if labels is not None:
            entry["labelIds"] = labels
        self.history.append(
            {
                "id": str(self.history_id),
                "messages": [{"id": message.id, "threadId": message.thread_id}],
                kind: [entry],
            }
        )

    # ------------------------------------------------------------------ reads

    def history_since(self, start: int, kinds: list[str], label_id: str | None) -> list[dict]:
        records = []
        for record in self.history:
            if int(record["id"]) <= start:
                continue
            kept = {
                kind: [
                    e for e in record[kind] if not label_id or label_id in e["message"]["labelIds"]
                ]
                for kind in kinds
                if kind in record
            }
            kept = {kind: entries for kind, entries in kept.items() if entries}
            if kept:
                records.append({"id": record["id"], "messages": record["messages"], **kept})
        return records

    def search(
        self, query: str, label_ids: list[str], include_spam_trash: bool
    ) -> list[StoredMessage]:
        """Newest first, as users.messages.list answers."""
        groups = _parse_query(query)
        names = " ".join(term for group in groups for term in group).lower()
        if any(label in ("SPAM", "TRASH") for label in label_ids) or re.search(
            r"\b(in|label):(spam|trash|anywhere)\b", names
        ):
            include_spam_trash = True
        found = []
        for message in self.messages.values():
            labels = set(message.label_ids)
            if not include_spam_trash and labels & {"SPAM", "TRASH"}:
                continue
            if not set(label_ids) <= labels:
                continue
            if all(any(self._matches(message, term) for term in group) for group in groups):
                found.append(message)
        return sorted(found, key=lambda m: m.internal_date, reverse=True)

    def _matches(self, message: StoredMessage, term: str) -> bool:
        if term.startswith("-") and len(term) > 1:
            return not self._matches(message, term[1:])
        key, _, value = term.partition(":")
        key, value = key.lower(), value.strip('"')
        if key in ("in", "label"):
            if value.lower() == "anywhere":
                return True
            label = _SEARCH_LABELS.get(value.lower()) or next(
                (
                    i
                    for i, name in self.user_labels.items()
                    if value.lower() in (i.lower(), name.lower())
                ),
                value.upper(),
            )
            return label in message.label_ids
        if key == "is":
            if value.lower() == "read":
                return "UNREAD" not in message.label_ids
            return _SEARCH_LABELS.get(value.lower(), value.upper()) in message.label_ids
        if key == "rfc822msgid":
            return message.message_id == bare_message_id(value)
        if key in ("newer_than", "older_than") and re.fullmatch(r"\d+[dmy]", value):
            age = int(value[:-1]) * _AGE_UNITS[value[-1]] * 1000
            cutoff = time.time() * 1000 - age
            newer = message.internal_date >= cutoff
            return newer if key == "newer_than" else not newer
        if key in ("from", "to", "cc", "subject"):
            names = {"to": ("To", "Cc", "Bcc")}.get(key, (key.capitalize(),))
            if key == "subject":
                return value.lower() in message.header("Subject").lower()
            addresses = getaddresses([message.header(name) for name in names])
            return any(value.lower() in f"{n} {a}".lower() for n, a in addresses)
        return term.lower() in message.raw.decode("utf-8", "replace").lower()


def _parse_query(query: str) -> list[list[str]]:
    """Gmail's `a b OR c` as AND-groups of OR-alternatives: [[a], [b, c]]."""
    groups: list[list[str]] = []
    tokens = re.findall(r'-?\w+:"[^"]*"|\S+', query)
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token == "OR" and groups and index + 1 < len(tokens):
            groups[-1].append(tokens[index + 1])
            index += 2
            continue
        groups.append([token])
        index += 1
    return groups
