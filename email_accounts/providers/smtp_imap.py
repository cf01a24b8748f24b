"""Any mailbox host with an (app) password: SMTP to send, IMAP to read, file and flag.

Sending never retries and never guesses: a refusal is mapped to the typed error that tells the
caller what to do (see `_refusal`), and a connection lost once the message content has started
to go out is `OutcomeUnknown`, reconciled with `find_sent`. Reading is incremental by UID per
folder (UIDVALIDITY-checked), headers first, read-only (EXAMINE + BODY.PEEK): \\Seen is never
set and never relied on.
"""

from __future__ import annotations

import logging
import re
import smtplib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesHeaderParser
from typing import Any

from django.utils.translation import gettext as _
from imapclient import DELETED, FLAGGED, SEEN, IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from email_accounts.providers.base import (
    AuthenticationFailed,
    FetchResult,
    Folders,
    InboundMessage,
    MailboxProvider,
    MessageRef,
    OutcomeUnknown,
    OutgoingMessage,
    ProviderError,
    SentMessage,
    ServerSettings,
    TransientError,
)
from email_accounts.providers.connection import (
    ConnectionProblem,
    imap_problem,
    open_imap,
    open_smtp,
    smtp_problem,
)
from email_accounts.providers.smtp_replies import smtp_refusal

logger = logging.getLogger(__name__)

FETCH_BATCH = 100  # UIDs per FETCH command: bounded responses, few round trips
RESYNC_DAYS = 7  # after a UIDVALIDITY change, the window read again…
RESYNC_LIMIT = 500  # …and at most this many messages of it per folder

_HEADERS = BytesHeaderParser(policy=policy.default)


def _provider_error(problem: ConnectionProblem) -> ProviderError:
    """A failure to connect or log in, worded as the connection test words it."""
    if problem.setting == "password":
        return AuthenticationFailed(problem.message)
    return TransientError(problem.message)


def _for_smtp(raw: bytes) -> bytes:
    """Dot-stuffed, with the end-of-data line, as smtplib's data() builds it: sent by hand so
    that we know whether the content had started to leave."""
    body = re.sub(rb"(?m)^\.", b"..", raw)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return body + b".\r\n"


def _quit(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except OSError:  # smtplib's errors are OSErrors too; the message is already decided
        client.close()


def _copied_uid(copyuid: list[bytes] | None) -> int:
    """The new UID from `COPYUID <uidvalidity> <source> <destination>` (RFC 4315)."""
    try:
        return int((copyuid or [b""])[-1].split()[2])
    except (IndexError, ValueError):
        return 0


def _gone(ref: MessageRef) -> ProviderError:
    return ProviderError(_("The message is no longer in “%(folder)s”.") % {"folder": ref.folder})


def _message_id(headers: Any) -> str:
    # Raw value: a malformed header in Junk must not break a sync through a parsing error.
    raw = next((v for k, v in headers.raw_items() if k.lower() == "message-id"), "")
    return " ".join(str(raw).split())


class SmtpImapProvider(MailboxProvider):
    def __init__(
        self, *, smtp: ServerSettings, imap: ServerSettings, folders: Folders, append_to_sent: bool
    ) -> None:
        self.smtp = smtp
        self.imap = imap
        self.folders = folders
        # Gmail and Microsoft 365 file what their SMTP server sends; other hosts do not.
        self.append_to_sent = append_to_sent
        self._client: IMAPClient | None = None
        self._selected: tuple[str, bool] | None = None  # the session's folder, read-only?

    # ------------------------------------------------------------------------- sending

    def verify(self) -> None:
        _quit(self._smtp())
        self._session()

    def send(self, message: OutgoingMessage) -> SentMessage:
        raw = re.sub(rb"\r?\n", b"\r\n", message.raw)  # CRLF, as SMTP and IMAP want
        client = self._smtp()
        try:
            self._envelope(client, message, raw)
            self._data(client, message, raw)
        except OutcomeUnknown:
            # It may have left: file the copy all the same, so that find_sent errs towards
            # "sent". A step missed costs little; a step sent twice costs the reputation.
            self._file_in_sent(raw)
            raise
        finally:
            _quit(client)
        self._file_in_sent(raw)
        return SentMessage(provider_message_id=message.message_id, provider_thread_id="")

    def _smtp(self) -> smtplib.SMTP:
        try:
            return open_smtp(self.smtp)
        except OSError as error:  # refused, DNS, TLS, login: nothing was sent
            raise _provider_error(smtp_problem(self.smtp, error)) from None

    def _envelope(self, client: smtplib.SMTP, message: OutgoingMessage, raw: bytes) -> None:
        options = [f"SIZE={len(raw)}"] if client.has_extn("size") else []
        if not raw.isascii() and client.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")
        if not "".join((message.sender, *message.recipients)).isascii():
            if not client.has_extn("smtputf8"):
                text = b"5.6.7 This server does not accept non-ASCII addresses"
                raise smtp_refusal(self.smtp.host, "rcpt", 553, text, message)
            options.append("SMTPUTF8")
        try:
            code, reply = client.mail(message.sender, options)
            if not 200 <= code < 300:
                raise smtp_refusal(self.smtp.host, "mail", code, reply, message)
            # Every recipient is accepted before DATA, or none gets it: a partial send that
            # raised would be resent to those who already had it.
            for recipient in message.recipients:
                code, reply = client.rcpt(recipient)
                if not 200 <= code < 300:
                    raise smtp_refusal(self.smtp.host, "rcpt", code, reply, message, recipient)
        except OSError as error:
            raise self._broken(error) from None

    def _data(self, client: smtplib.SMTP, message: OutgoingMessage, raw: bytes) -> None:
        started = False
        try:
            code, reply = client.docmd("DATA")
            if code != 354:
                raise smtp_refusal(self.smtp.host, "data", code, reply, message)
            # From the first byte of content on, the server may have accepted the message
            # whatever happens next: only find_sent can tell, never a resend.
            started = True
            client.send(_for_smtp(raw))
            code, reply = client.getreply()
        except OSError as error:
            if not started:
                raise self._broken(error) from None
            text = _(
                "SMTP: the connection to %(host)s broke during DATA (%(error)s): the message "
                "may have been sent."
            )
            raise OutcomeUnknown(text % {"host": self.smtp.host, "error": error}) from None
        if not 200 <= code < 300:
            raise smtp_refusal(self.smtp.host, "data", code, reply, message)

    def _broken(self, error: OSError) -> TransientError:
        return TransientError(
            _("SMTP: the connection to %(host)s broke before sending (%(error)s).")
            % {"host": self.smtp.host, "error": error}
        )

    def _file_in_sent(self, raw: bytes) -> None:
        """The copy in Sent that hosts other than Gmail and Microsoft 365 do not make. The mail
        has left: failing to file it is logged, never turned into a failed send."""
        if not (self.append_to_sent and self.folders.sent):
            return
        try:
            with self._imap() as client:
                client.append(self.folders.sent, raw, flags=[SEEN])
        except ProviderError as error:
            logger.warning("Sent, but not filed in %s: %s", self.folders.sent, error.message)
        except Exception:  # whatever it is, the mail has left: never report the send as failed
            logger.exception("Sent, but not filed in %s", self.folders.sent)

    # ------------------------------------------------------------------------- reading

    def _session(self) -> IMAPClient:
        """One IMAP session per provider, opened on first use and kept until close()."""
        if self._client is None:
            try:
                client = open_imap(self.imap)
            except (OSError, IMAPClientError) as error:
                raise _provider_error(imap_problem(self.imap, error)) from None
            client.normalise_times = False  # aware INTERNALDATEs, converted to UTC below
            self._client = client
        return self._client

    def _select(self, client: IMAPClient, folder: str, *, readonly: bool, fresh: bool = False):
        """SELECT (or EXAMINE) unless the session is already there: reading a batch of
        messages from one folder costs one round trip each, not two. `fresh` asks the server
        again (a sync needs the folder's current UIDNEXT)."""
        if fresh or self._selected != (folder, readonly):
            self._selected = None
            status = client.select_folder(folder, readonly=readonly)
            self._selected = (folder, readonly)
            return status
        return None

    @contextmanager
    def _imap(self) -> Iterator[IMAPClient]:
        client = self._session()
        try:
            yield client
        except (OSError, IMAPClientAbortError) as error:  # the session is gone: drop it
            self._client, self._selected = None, None
            with suppress(Exception):
                client.shutdown()
            text = _("IMAP: the connection to %(host)s broke (%(error)s).")
            raise TransientError(text % {"host": self.imap.host, "error": error}) from None
        except IMAPClientError as error:  # a NO or BAD answer; the session is still fine
            text = _("IMAP: %(host)s refused (%(error)s).")
            raise TransientError(text % {"host": self.imap.host, "error": error}) from None

    def fetch_new(self, cursor: dict[str, Any]) -> FetchResult:
        known: dict[str, Any] = cursor.get("folders", {})
        roles = {self.folders.inbox: "inbox"}
        if self.folders.junk and self.folders.junk != self.folders.inbox:
            roles[self.folders.junk] = "junk"
        messages: list[InboundMessage] = []
        state: dict[str, Any] = {}
        resync = False
        with self._imap() as client:
            for folder, role in roles.items():
                found, state[folder], reset = self._sync(client, folder, role, known.get(folder))
                messages += found
                resync = resync or reset
        return FetchResult(messages=messages, cursor={"folders": state}, full_resync=resync)

    def _sync(
        self, client: IMAPClient, folder: str, role: str, seen: dict[str, int] | None
    ) -> tuple[list[InboundMessage], dict[str, int], bool]:
        """One folder: EXAMINE, then UID SEARCH only when UIDNEXT says something arrived."""
        status = self._select(client, folder, readonly=True, fresh=True)
        validity = status[b"UIDVALIDITY"]
        if b"UIDNEXT" in status:
            top = status[b"UIDNEXT"] - 1
        else:  # required by RFC 3501, but cheap to do without: the highest UID there is
            top = max(client.fetch("*", ["UID"]), default=0)
        if seen is None:  # first sync of this folder: start from now, read no history
            return [], {"uidvalidity": validity, "last_uid": top}, False
        reset = seen["uidvalidity"] != validity
        last = 0 if reset else seen["last_uid"]
        if reset:  # the old UIDs mean nothing any more: read a bounded recent window again
            since = (datetime.now(UTC) - timedelta(days=RESYNC_DAYS)).date()
            uids = sorted(client.search(["SINCE", since]))[-RESYNC_LIMIT:]
        elif top <= last:
            uids = []
        else:  # "N:*" always matches the last message, even when its UID is below N
            uids = sorted(uid for uid in client.search(["UID", f"{last + 1}:*"]) if uid > last)
        found = self._headers(client, folder, role, uids)
        return found, {"uidvalidity": validity, "last_uid": max([last, top, *uids])}, reset

    def _headers(
        self, client: IMAPClient, folder: str, role: str, uids: list[int]
    ) -> list[InboundMessage]:
        found = []
        for start in range(0, len(uids), FETCH_BATCH):
            batch = uids[start : start + FETCH_BATCH]
            fetched = client.fetch(batch, ["BODY.PEEK[HEADER]", "INTERNALDATE"])
            for uid in batch:
                data = fetched.get(uid, {})
                if b"BODY[HEADER]" not in data:  # expunged meanwhile
                    continue
                headers = _HEADERS.parsebytes(data[b"BODY[HEADER]"])
                received: datetime | None = data.get(b"INTERNALDATE")
                found.append(
                    InboundMessage(
                        ref=MessageRef(_message_id(headers), folder=folder, uid=uid),
                        thread_id="",
                        headers=headers,
                        folder_role=role,
                        received_at=received.astimezone(UTC) if received else None,
                    )
                )
        return found

    def fetch_raw(self, ref: MessageRef) -> bytes:
        with self._imap() as client:
            self._select(client, ref.folder, readonly=True)
            data = client.fetch([ref.uid], ["BODY.PEEK[]"]).get(ref.uid, {})
        if b"BODY[]" not in data:
            raise _gone(ref)
        return data[b"BODY[]"]

    def find_sent(self, message_id: str) -> SentMessage | None:
        if not self.folders.sent:
            return None
        with self._imap() as client:
            self._select(client, self.folders.sent, readonly=True, fresh=True)
            found = client.search(["HEADER", "Message-ID", message_id])
        return SentMessage(provider_message_id=message_id, provider_thread_id="") if found else None

    # ------------------------------------------------------------------------- filing

    def move(self, ref: MessageRef, *, to: str) -> MessageRef:
        target = {"inbox": self.folders.inbox, "junk": self.folders.junk}.get(to, to)
        if not target:
            raise ProviderError(_("This mailbox has no Junk folder."))
        if target == ref.folder:
            return ref
        with self._imap() as client:
            self._select(client, ref.folder, readonly=False)
            # imapclient does not parse COPYUID (RFC 4315); imaplib keeps it among the
            # untagged responses, whether it came tagged (COPY) or untagged (MOVE).
            responses = client._imap.untagged_responses
            responses.pop("COPYUID", None)
            if client.has_capability("MOVE"):
                client.move([ref.uid], target)
            else:
                client.copy([ref.uid], target)
                client.add_flags([ref.uid], [DELETED], silent=True)
                # Without UIDPLUS, EXPUNGE would also erase what the user marked deleted:
                # the original then stays, flagged \Deleted, as in clients that "mark as deleted".
                if client.has_capability("UIDPLUS"):
                    client.uid_expunge([ref.uid])
            uid = _copied_uid(responses.pop("COPYUID", None))
            if not uid and ref.provider_message_id:  # no COPYUID: look for it where it went
                self._select(client, target, readonly=True, fresh=True)
                found = client.search(["HEADER", "Message-ID", ref.provider_message_id])
                if not found:
                    raise _gone(ref)
                uid = max(found)
        return MessageRef(ref.provider_message_id, folder=target, uid=uid)

    def mark(
        self, ref: MessageRef, *, read: bool | None = None, important: bool | None = None
    ) -> None:
        wanted = ((SEEN, read), (FLAGGED, important))
        changes = [(flag, on) for flag, on in wanted if on is not None]
        if not changes:
            return
        with self._imap() as client:
            self._select(client, ref.folder, readonly=False)
            for flag, on in changes:
                if on:
                    client.add_flags([ref.uid], [flag], silent=True)
                else:
                    client.remove_flags([ref.uid], [flag], silent=True)

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with suppress(Exception):  # LOGOUT closes the socket even when it fails
                client.logout()
