"""Testing an SMTP + IMAP mailbox before it is saved: connect, TLS, log in, find the folders.

Every failure becomes a `ConnectionProblem` whose message says what to change (the password,
the port, the security setting, the firewall…). Nothing is sent.
"""

from __future__ import annotations

import imaplib
import smtplib
import socket
import ssl
from dataclasses import dataclass
from enum import StrEnum

import imapclient
from django.conf import settings
from django.utils.translation import gettext as _
from imapclient.exceptions import IMAPClientError, LoginError


class Security(StrEnum):
    SSL = "ssl"  # TLS from the first byte (465 for SMTP, 993 for IMAP)
    STARTTLS = "starttls"  # plain, then upgraded (587 / 143)
    NONE = "none"


@dataclass(frozen=True)
class ServerSettings:
    host: str
    port: int
    security: str
    username: str
    password: str


@dataclass(frozen=True)
class Folders:
    inbox: str
    sent: str | None
    junk: str | None


class ConnectionProblem(Exception):
    """What went wrong, in words that say what to do; `step` is "smtp" or "imap"."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(message)
        self.step = step
        self.message = message


def tls_context() -> ssl.SSLContext:
    """The system's trusted certificates, plus EMAIL_ACCOUNTS_EXTRA_CA_FILE when set (a
    company's own CA, or the test servers')."""
    context = ssl.create_default_context()
    if settings.EMAIL_ACCOUNTS_EXTRA_CA_FILE:
        context.load_verify_locations(cafile=settings.EMAIL_ACCOUNTS_EXTRA_CA_FILE)
    return context


def _network_problem(step: str, server: ServerSettings, error: BaseException) -> ConnectionProblem:
    name = "SMTP" if step == "smtp" else "IMAP"
    where = {"protocol": name, "host": server.host, "port": server.port}
    if isinstance(error, socket.gaierror):
        text = _("The %(protocol)s server “%(host)s” was not found. Check the host name.")
    elif isinstance(error, ConnectionRefusedError):
        text = _(
            "%(protocol)s: %(host)s refused the connection on port %(port)s. Check the port "
            "(usually 465 or 587 for SMTP, 993 for IMAP)."
        )
    elif isinstance(error, ssl.SSLCertVerificationError):
        text = _(
            "%(protocol)s: the certificate of %(host)s is not valid for this name, or not "
            "trusted. Use the host name your provider gives (not an IP address)."
        )
    elif isinstance(error, (ssl.SSLError, smtplib.SMTPServerDisconnected, imaplib.IMAP4.abort)):
        text = _(
            "%(protocol)s: the security setting does not match port %(port)s. Use SSL/TLS "
            "with 465 (SMTP) or 993 (IMAP), STARTTLS with 587 (SMTP) or 143 (IMAP)."
        )
    elif isinstance(error, (TimeoutError, socket.timeout)):
        text = _(
            "%(protocol)s: %(host)s did not answer on port %(port)s. A firewall may block it, "
            "or the port is wrong."
        )
    else:
        text = _("%(protocol)s: could not connect to %(host)s:%(port)s (%(error)s).")
        where["error"] = str(error) or error.__class__.__name__
    return ConnectionProblem(step, text % where)


def _wrong_password(step: str, host: str) -> ConnectionProblem:
    text = _(
        "The username or password was refused. Check them; for Gmail or Google Workspace, use a "
        "16-character App Password (2-Step Verification must be on)."
    )
    if "outlook" in host or "office365" in host:
        text = _(
            "The username or password was refused. Check them; with Microsoft 365, SMTP AUTH "
            "must be enabled for this mailbox by your administrator."
        )
    return ConnectionProblem(step, text)


def check_smtp(server: ServerSettings) -> None:
    """Connect, secure and log in; send nothing."""
    context = tls_context()
    timeout = settings.EMAIL_ACCOUNTS_STEP_TIMEOUT
    try:
        if server.security == Security.SSL:
            client = smtplib.SMTP_SSL(server.host, server.port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(server.host, server.port, timeout=timeout)
        with client:
            if server.security == Security.STARTTLS:
                client.starttls(context=context)
            client.login(server.username, server.password)
    except smtplib.SMTPAuthenticationError:
        raise _wrong_password("smtp", server.host) from None
    except smtplib.SMTPNotSupportedError:
        raise ConnectionProblem(
            "smtp",
            _(
                "SMTP: the server does not offer to log in on this connection. Choose STARTTLS "
                "(port 587) or SSL/TLS (port 465)."
            ),
        ) from None
    except (OSError, smtplib.SMTPException) as error:
        raise _network_problem("smtp", server, error) from None


# Folder names when the server does not flag them (RFC 6154 SPECIAL-USE), English and French.
_SENT_NAMES = ("sent", "sent items", "sent mail", "[gmail]/sent mail", "éléments envoyés",
               "messages envoyés", "envoyés")  # fmt: skip
_JUNK_NAMES = ("junk", "spam", "junk e-mail", "junk email", "[gmail]/spam", "courrier indésirable",
               "indésirables", "pourriel")  # fmt: skip


def _folders(listed: list[tuple[tuple[bytes, ...], bytes, str]]) -> Folders:
    by_flag: dict[bytes, str] = {}
    names = []
    for flags, _delimiter, name in listed:
        names.append(name)
        for flag in flags:
            by_flag.setdefault(flag.lower(), name)

    def named(candidates: tuple[str, ...]) -> str | None:
        return next((n for n in names if n.lower() in candidates), None)

    inbox = next((n for n in names if n.upper() == "INBOX"), "INBOX")
    return Folders(
        inbox=inbox,
        sent=by_flag.get(b"\\sent") or named(_SENT_NAMES),
        junk=by_flag.get(b"\\junk") or named(_JUNK_NAMES),
    )


def check_imap(server: ServerSettings) -> Folders:
    """Connect, secure, log in and find Inbox, Sent and Junk."""
    try:
        client = imapclient.IMAPClient(
            server.host,
            port=server.port,
            ssl=server.security == Security.SSL,
            ssl_context=tls_context(),
            timeout=settings.EMAIL_ACCOUNTS_STEP_TIMEOUT,
        )
        with client:
            if server.security == Security.STARTTLS:
                client.starttls(tls_context())
            client.login(server.username, server.password)
            return _folders(client.list_folders())
    except LoginError:
        raise _wrong_password("imap", server.host) from None
    except (OSError, IMAPClientError, imaplib.IMAP4.error) as error:
        raise _network_problem("imap", server, error) from None
