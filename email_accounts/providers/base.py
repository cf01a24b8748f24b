"""The one interface campaigns, replies and warming use to talk to a mailbox.

Callers never learn which provider they hold (Gmail API or SMTP + IMAP). They hand over a
finished MIME message, read what arrived since a cursor they stored, and act on a small set of
typed errors: retry a transient one, bounce a rejected recipient, pause a mailbox whose sending
quota is spent, put a mailbox whose credentials were refused in error.

Providers know no campaign and no contact; they do not touch the database either: credentials
come in as plain values and refreshed OAuth tokens go out through a callback.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from typing import Any

# ----------------------------------------------------------------------------- credentials


@dataclass(frozen=True)
class OAuthTokens:
    # Secrets stay out of reprs, which error reports and debuggers print.
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: datetime | None  # UTC
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class ServerSettings:
    host: str
    port: int
    security: str  # see connection.Security
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class Folders:
    inbox: str
    sent: str | None
    junk: str | None


# ----------------------------------------------------------------------------- messages


@dataclass(frozen=True)
class OutgoingMessage:
    """A prepared RFC 5322 message. `raw` already carries our own Message-ID, and, for a
    follow-up, In-Reply-To/References; `thread_id` is the provider thread of the previous step
    (Gmail's threadId), empty for a first step or an SMTP mailbox."""

    raw: bytes
    message_id: str  # "<…@sender-domain>", as in the raw headers
    sender: str
    recipients: tuple[str, ...]
    thread_id: str = ""


@dataclass(frozen=True)
class SentMessage:
    provider_message_id: str  # Gmail message id; for SMTP, our Message-ID
    provider_thread_id: str  # Gmail threadId; empty for SMTP


@dataclass(frozen=True)
class MessageRef:
    """Where a message lives in the mailbox: a Gmail id, or an IMAP folder + UID."""

    provider_message_id: str
    folder: str = ""  # IMAP folder; "" for Gmail
    uid: int = 0  # IMAP UID; 0 for Gmail


@dataclass
class InboundMessage:
    """A message that arrived, headers first. `headers` holds the parsed header block only;
    the body is fetched on demand with `MailboxProvider.fetch_raw`."""

    ref: MessageRef
    thread_id: str  # Gmail threadId; "" for IMAP
    headers: Message
    folder_role: str  # "inbox" or "junk"
    received_at: datetime | None
    label_ids: tuple[str, ...] = ()


@dataclass
class FetchResult:
    messages: list[InboundMessage]
    cursor: dict[str, Any]  # store it and pass it back next time
    full_resync: bool = False  # the old cursor had expired: an initial window was read again


# ----------------------------------------------------------------------------- errors


class ProviderError(Exception):
    """Base of everything a provider raises; `message` is safe to show and to log (no secret)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TransientError(ProviderError):
    """Try again later (network, 5xx, 4xx SMTP reply, rate limit). Nothing was sent."""

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RecipientRejected(ProviderError):
    """The server refused the recipient at send time: a bounce (hard for 5xx, soft for 4xx)."""

    def __init__(self, message: str, *, code: int, enhanced_code: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.enhanced_code = enhanced_code

    @property
    def permanent(self) -> bool:
        return self.code >= 500


class SenderQuotaReached(ProviderError):
    """The provider's own daily sending quota is spent (Gmail 5.4.5, API 429 "User-rate limit
    exceeded"): pause the mailbox until tomorrow; not a bounce."""

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthenticationFailed(ProviderError):
    """Credentials refused or revoked (wrong password, `invalid_grant`): the mailbox goes to
    `error` with this message, and nothing retries until the user reconnects."""


class OutcomeUnknown(ProviderError):
    """The connection broke after the message was handed over: it may or may not have left.
    Never resend blindly — look for its Message-ID in Sent (`find_sent`)."""


# ----------------------------------------------------------------------------- the interface

TokenSaver = Callable[[OAuthTokens], None]


class MailboxProvider(abc.ABC):
    @abc.abstractmethod
    def verify(self) -> None:
        """Log in (or call the API) without sending; raise a ProviderError when refused."""

    @abc.abstractmethod
    def send(self, message: OutgoingMessage) -> SentMessage:
        """Send once. Never retries by itself: a retry is the caller's decision."""

    @abc.abstractmethod
    def fetch_new(self, cursor: dict[str, Any]) -> FetchResult:
        """Inbound messages (Inbox and Junk/Spam) since `cursor` ({} the first time: start from
        now and return a cursor, without reading the mailbox's history). Never marks mail read."""

    @abc.abstractmethod
    def fetch_raw(self, ref: MessageRef) -> bytes:
        """The whole message (RFC 5322 bytes), without marking it read."""

    @abc.abstractmethod
    def find_sent(self, message_id: str) -> SentMessage | None:
        """Our message with this Message-ID in the Sent folder, or None: how a send whose
        outcome is unknown is reconciled."""

    @abc.abstractmethod
    def move(self, ref: MessageRef, *, to: str) -> MessageRef:
        """Move to a folder role ("inbox", "junk") or a Gmail label id / IMAP folder name."""

    @abc.abstractmethod
    def mark(self, ref: MessageRef, *, read: bool | None = None, important: bool | None = None):
        """Set or clear read / important (flagged) on one message."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; providers are cheap to build again."""
