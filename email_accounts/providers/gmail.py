"""A Gmail mailbox through the Gmail API v1, with the user's OAuth tokens.

The real `google-auth` credentials refresh the access token when it expires; the new token goes
out through `on_refresh`. Requests travel through `requests` (google-auth's AuthorizedSession)
rather than httplib2: httplib2 sends a request again by itself when the connection drops before
the answer (`_conn_request`), which for messages.send could deliver the same email twice.
`requests` never retries a request it has written, so a dropped send is reported as
`OutcomeUnknown` and reconciled through `find_sent`.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email import policy
from email.parser import HeaderParser
from typing import Any

import google.auth.exceptions
import httplib2
import requests
from django.conf import settings
from django.utils.translation import gettext as _
from google.auth.transport.requests import AuthorizedSession
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import HttpRequest
from urllib3.exceptions import NewConnectionError

from email_accounts.providers.base import (
    AuthenticationFailed,
    FetchResult,
    InboundMessage,
    MailboxProvider,
    MessageRef,
    OAuthTokens,
    OutcomeUnknown,
    OutgoingMessage,
    ProviderError,
    RecipientRejected,
    SenderQuotaReached,
    SentMessage,
    TokenSaver,
    TransientError,
)

TIMEOUT = (10, 60)  # seconds: connect, then read
RESYNC_QUERY = "in:inbox OR in:spam newer_than:7d"
RESYNC_LIMIT = 500
_RETRY_AFTER = re.compile(r"Retry after (\d{4}-\d\d-\d\dT[\d:.]+Z)")
_RECIPIENT_ERRORS = ("Invalid To header", "Invalid Cc header", "Invalid Bcc header", "recipient")
# 403 reasons that mean "later", not "never" (per-user, per-project and daily quotas).
_RATE_REASONS = {
    "rateLimitExceeded",
    "userRateLimitExceeded",
    "dailyLimitExceeded",
    "quotaExceeded",
}
# How Gmail words a spent sending quota: 429 "User-rate limit exceeded. Retry after … (Mail
# sending)", or "Daily user sending limit exceeded".
_SENDING_QUOTA = re.compile(
    r"\(Mail sending\)|User-rate limit exceeded|sending (limit|quota)", re.I
)


class _NotFound(ProviderError):
    """Gmail answered 404: the message is gone, or a history id has expired."""


class _RequestsHttp:
    """The httplib2 interface googleapiclient calls, over google-auth's AuthorizedSession
    (which also refreshes the token before it expires and after a 401)."""

    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials
        self.session = AuthorizedSession(credentials)

    def request(
        self,
        uri: str,
        method: str = "GET",
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        **_ignored: Any,
    ) -> tuple[httplib2.Response, bytes]:
        answer = self.session.request(
            method, uri, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False
        )
        # requests already decoded the body: its encoding and length headers no longer apply.
        fields = {
            k.lower(): v
            for k, v in answer.headers.items()
            if k.lower() not in ("content-encoding", "content-length")
        }
        response = httplib2.Response({**fields, "status": str(answer.status_code)})
        response.reason = answer.reason
        return response, answer.content

    def close(self) -> None:
        self.session.close()


class GmailProvider(MailboxProvider):
    def __init__(self, tokens: OAuthTokens, *, on_refresh: TokenSaver) -> None:
        self._tokens = tokens
        self._on_refresh = on_refresh
        expiry = tokens.expires_at
        self._credentials = Credentials(
            tokens.access_token,
            refresh_token=tokens.refresh_token or None,
            token_uri=settings.GOOGLE_TOKEN_URI,
            client_id=settings.GOOGLE_OAUTH_CLIENT_ID,
            client_secret=settings.GOOGLE_OAUTH_CLIENT_SECRET,
            scopes=list(tokens.scopes) or None,
            # google-auth compares expiry with a naive UTC "now".
            expiry=expiry.astimezone(UTC).replace(tzinfo=None) if expiry else None,
        )
        self._http = _RequestsHttp(self._credentials)
        service = build(
            "gmail",
            "v1",
            http=self._http,
            static_discovery=True,
            cache_discovery=False,
            # The discovery document's methods carry "gmail/v1/users/…" and its servicePath is
            # empty: the endpoint is only the host, and paths land on /gmail/v1/users/….
            client_options={"api_endpoint": settings.GOOGLE_GMAIL_API_ENDPOINT},
        )
        self._users = service.users()

    # ------------------------------------------------------------------ the interface

    def verify(self) -> None:
        self._execute(self._users.getProfile(userId="me"))

    def send(self, message: OutgoingMessage) -> SentMessage:
        body = {"raw": base64.urlsafe_b64encode(message.raw).decode()}
        if message.thread_id:
            body["threadId"] = message.thread_id
        sent = self._execute(self._users.messages().send(userId="me", body=body), sending=True)
        return SentMessage(provider_message_id=sent["id"], provider_thread_id=sent["threadId"])

    def fetch_new(self, cursor: dict[str, Any]) -> FetchResult:
        start = cursor.get("history_id")
        if not start:  # the first time: from now on, without reading the past
            return FetchResult(messages=[], cursor={"history_id": self._history_id()})
        try:
            ids, history_id = self._added_since(str(start))
        except _NotFound:  # history ids expire after about a week
            return self._resync()
        return FetchResult(messages=self._inbound(ids), cursor={"history_id": history_id})

    def fetch_raw(self, ref: MessageRef) -> bytes:
        request = self._users.messages().get(userId="me", id=ref.provider_message_id, format="raw")
        return base64.urlsafe_b64decode(_padded(self._execute(request)["raw"]))

    def find_sent(self, message_id: str) -> SentMessage | None:
        query = f"rfc822msgid:{message_id.strip().strip('<>')} in:sent"
        found = self._execute(self._users.messages().list(userId="me", q=query, maxResults=1))
        for item in found.get("messages", []):
            return SentMessage(provider_message_id=item["id"], provider_thread_id=item["threadId"])
        return None

    def move(self, ref: MessageRef, *, to: str) -> MessageRef:
        folders = {"inbox": "INBOX", "junk": "SPAM"}
        if to in folders:
            add = [folders[to]]
            remove = [label for label in folders.values() if label != folders[to]]
        else:
            add, remove = [to], []
        self._modify(ref, add=add, remove=remove)
        return ref  # a Gmail id survives label changes

    def mark(
        self, ref: MessageRef, *, read: bool | None = None, important: bool | None = None
    ) -> None:
        add: list[str] = []
        remove: list[str] = []
        if read is not None:
            (remove if read else add).append("UNREAD")
        if important is not None:
            (add if important else remove).append("IMPORTANT")
        if add or remove:
            self._modify(ref, add=add, remove=remove)

    def close(self) -> None:
        self._http.close()

    # ------------------------------------------------------------------ reading

    def _history_id(self) -> str:
        return self._execute(self._users.getProfile(userId="me"))["historyId"]

    def _added_since(self, start: str) -> tuple[list[str], str]:
        """Ids of inbound messages added since `start`, oldest first, and the new cursor."""
        history = self._users.history()
        request = history.list(
            userId="me", startHistoryId=start, historyTypes="messageAdded", maxResults=500
        )
        ids: dict[str, None] = {}
        cursor = ""
        while request is not None:
            page = self._execute(request)
            # The first page's historyId: mail that arrives while paging is read again next
            # time rather than skipped.
            cursor = cursor or page["historyId"]
            for record in page.get("history", []):
                for added in record.get("messagesAdded", []):
                    if _inbound(added["message"].get("labelIds", [])):
                        ids[added["message"]["id"]] = None
            request = history.list_next(request, page)
        return list(ids), cursor

    def _resync(self) -> FetchResult:
        history_id = self._history_id()  # first: what arrives during the resync comes next time
        messages = self._users.messages()
        request = messages.list(userId="me", q=RESYNC_QUERY, maxResults=RESYNC_LIMIT)
        ids: list[str] = []
        while request is not None and len(ids) < RESYNC_LIMIT:
            page = self._execute(request)
            ids += [item["id"] for item in page.get("messages", [])]
            request = messages.list_next(request, page)
        ids = ids[:RESYNC_LIMIT][::-1]  # the list is newest first; callers read oldest first
        return FetchResult(self._inbound(ids), {"history_id": history_id}, full_resync=True)

    def _inbound(self, ids: list[str]) -> list[InboundMessage]:
        found = []
        for message_id in ids:
            request = self._users.messages().get(userId="me", id=message_id, format="metadata")
            try:
                message = self._execute(request)
            except _NotFound:
                continue  # deleted since it arrived
            labels = message.get("labelIds", [])
            if _inbound(labels):
                found.append(_inbound_message(message, labels))
        return found

    def _modify(self, ref: MessageRef, *, add: list[str], remove: list[str]) -> None:
        body = {"addLabelIds": add, "removeLabelIds": remove}
        self._execute(
            self._users.messages().modify(userId="me", id=ref.provider_message_id, body=body)
        )

    # ------------------------------------------------------------------ calls and errors

    def _execute(self, request: HttpRequest, *, sending: bool = False) -> dict[str, Any]:
        try:
            # num_retries=0: the library's own retries could send an email twice.
            return request.execute(num_retries=0)
        except google.auth.exceptions.RefreshError as error:
            if getattr(error, "retryable", False):
                message = _("Google could not renew the access token; retrying later.")
                raise TransientError(message) from error
            raise AuthenticationFailed(_("Token expired — reconnect")) from error
        except google.auth.exceptions.TransportError as error:  # while renewing the token
            raise TransientError(_("Google could not be reached; retrying later.")) from error
        except HttpError as error:
            raise _http_error(error, sending=sending) from error
        except (requests.RequestException, OSError) as error:
            raise _network_error(error, sending=sending) from error
        finally:
            self._save_refreshed_token()

    def _save_refreshed_token(self) -> None:
        credentials = self._credentials
        if not credentials.token or credentials.token == self._tokens.access_token:
            return
        expiry = credentials.expiry
        self._tokens = OAuthTokens(
            access_token=credentials.token,
            refresh_token=credentials.refresh_token or self._tokens.refresh_token,
            expires_at=expiry.replace(tzinfo=UTC) if expiry else None,
            scopes=tuple(credentials.granted_scopes or self._tokens.scopes),
        )
        self._on_refresh(self._tokens)


def _inbound(labels: list[str]) -> bool:
    """Only Inbox and Spam hold replies; our own sends and drafts never count."""
    return not {"SENT", "DRAFT"} & set(labels) and bool({"INBOX", "SPAM"} & set(labels))


def _inbound_message(message: dict[str, Any], labels: list[str]) -> InboundMessage:
    lines = (
        f"{header['name']}: {' '.join(header['value'].splitlines())}\n"
        for header in message.get("payload", {}).get("headers", [])
    )
    headers = HeaderParser(policy=policy.default).parsestr("".join(lines) + "\n")
    internal_date = message.get("internalDate")
    received_at = datetime.fromtimestamp(int(internal_date) / 1000, UTC) if internal_date else None
    return InboundMessage(
        ref=MessageRef(provider_message_id=message["id"]),
        thread_id=message.get("threadId", ""),
        headers=headers,
        folder_role="junk" if "SPAM" in labels else "inbox",
        received_at=received_at,
        label_ids=tuple(labels),
    )


def _padded(text: str) -> str:
    return text + "=" * (-len(text) % 4)


def _error_body(error: HttpError) -> tuple[str, list[str]]:
    """Google's error message and reasons ({"error": {"message", "errors": [{"reason"}]}})."""
    try:
        detail = json.loads(error.content)["error"]
        reasons = [item.get("reason", "") for item in detail.get("errors", [])]
        return str(detail.get("message", "")), reasons
    except (ValueError, KeyError, TypeError, AttributeError):
        return error.content.decode("utf-8", "replace")[:200], []


def _retry_after(message: str, error: HttpError) -> int | None:
    found = _RETRY_AFTER.search(message)
    if found:
        when = datetime.fromisoformat(found.group(1).replace("Z", "+00:00"))
        return max(0, math.ceil((when - datetime.now(UTC)).total_seconds()))
    header = error.resp.get("retry-after", "")
    return int(header) if header.isdigit() else None


def _http_error(error: HttpError, *, sending: bool) -> ProviderError:
    status = error.resp.status
    message, reasons = _error_body(error)
    if status == 401:
        return AuthenticationFailed(_("Google refused the mailbox's authorisation — reconnect"))
    if status == 429 or (status == 403 and _RATE_REASONS & set(reasons)):
        retry_after = _retry_after(message, error)
        if sending and _SENDING_QUOTA.search(message):
            return SenderQuotaReached(
                _("Gmail's daily sending limit is reached for this mailbox."),
                retry_after=retry_after,
            )
        return TransientError(
            _("Gmail is limiting requests; retrying later."), retry_after=retry_after
        )
    if status == 403 and "insufficientPermissions" in reasons:
        return AuthenticationFailed(
            _("FluenzR lacks a Gmail permission — reconnect and tick every box")
        )
    if status >= 500:
        if sending:
            return OutcomeUnknown(_("Gmail failed while sending; the email may have left."))
        return TransientError(_("Gmail is unavailable (error %(status)s).") % {"status": status})
    if status == 400 and sending and any(text in message for text in _RECIPIENT_ERRORS):
        return RecipientRejected(
            _("Gmail refused the recipient: %(reason)s") % {"reason": message},
            code=553,
            enhanced_code="5.1.3",
        )
    if status == 404:
        return _NotFound(_("Gmail did not find it (it may have been deleted)."))
    return ProviderError(
        _("Gmail answered %(status)s: %(reason)s") % {"status": status, "reason": message}
    )


def _causes(error: BaseException | None) -> Iterator[BaseException]:
    for _depth in range(10):  # exception chains can loop
        if error is None:
            return
        yield error
        error = error.__cause__ or error.__context__ or _first_arg(error)


def _first_arg(error: BaseException) -> BaseException | None:
    # requests wraps urllib3's MaxRetryError in args, whose `reason` is the real failure.
    inner = error.args[0] if error.args and isinstance(error.args[0], BaseException) else None
    return getattr(inner, "reason", inner) if inner is not None else None


def _network_error(error: Exception, *, sending: bool) -> ProviderError:
    # A connection that was never made carried nothing: only then is a send known not to have
    # left. A timeout, a reset or a TLS error (requests reports one while reading the answer
    # the same way as one in the handshake) after the request may have been written leaves it
    # unknown.
    never_connected = isinstance(error, requests.ConnectTimeout) or any(
        isinstance(cause, NewConnectionError | ConnectionRefusedError) for cause in _causes(error)
    )
    if sending and not never_connected:
        return OutcomeUnknown(
            _("The connection to Gmail broke while sending; the email may have left.")
        )
    return TransientError(_("Gmail could not be reached; retrying later."))
