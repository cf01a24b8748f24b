"""Testing an SMTP + IMAP mailbox before it is saved: connect, TLS, log in, find the folders.

Every failure becomes a `ConnectionProblem` whose message says what to change (the password,
the port, the security setting, the firewall…). Nothing is sent.
"""

from __future__ import annotations

import contextlib
import functools
import imaplib
import ipaddress
import re
import smtplib
import socket
import ssl
from enum import StrEnum

import imapclient
from django.conf import settings
from django.utils.translation import gettext as _
from imapclient.exceptions import IMAPClientError, LoginError

from email_accounts.providers.base import Folders, ServerSettings


class Security(StrEnum):
    SSL = "ssl"  # TLS from the first byte (465 for SMTP, 993 for IMAP)
    STARTTLS = "starttls"  # plain, then upgraded (587 / 143)
    # Passwords in clear text: accepted from the code (tests of old servers), never offered
    # by the form or the API.
    NONE = "none"


# A host name as users type it: no scheme, no port, no path.
HOST_PATTERN = r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$"


class PrivateHostRefused(OSError):
    """The host resolves to a loopback, private, link-local or reserved address."""


def require_public_host(host: str, port: int) -> None:
    """Customers' mail servers are on the internet. A host that resolves to an internal address
    (loopback, private networks, link-local cloud metadata…) would let the connection test
    probe FluenzR's own network, so it is refused unless EMAIL_ACCOUNTS_ALLOW_PRIVATE_HOSTS is
    on (self-hosting next to one's mail server, and the tests' loopback servers)."""
    if settings.EMAIL_ACCOUNTS_ALLOW_PRIVATE_HOSTS:
        return
    for *_ignored, address in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP):
        ip = ipaddress.ip_address(address[0].split("%")[0])
        mapped = getattr(ip, "ipv4_mapped", None)
        if not (mapped or ip).is_global:
            raise PrivateHostRefused(host)


class ConnectionProblem(Exception):
    """What went wrong, in words that say what to do; `step` is "smtp" or "imap", `setting`
    the one to change: "host", "port", "security" or "password"."""

    def __init__(self, step: str, message: str, setting: str = "host") -> None:
        super().__init__(message)
        self.step = step
        self.message = message
        self.setting = setting


def tls_context() -> ssl.SSLContext:
    """The system's trusted certificates, plus EMAIL_ACCOUNTS_EXTRA_CA_FILE when set (a
    company's own CA, or the test servers')."""
    return _tls_context_for(settings.EMAIL_ACCOUNTS_EXTRA_CA_FILE or "")


@functools.cache
def _tls_context_for(extra_ca_file: str) -> ssl.SSLContext:
    # Loading the system's CA store costs ~80 ms; a context is safe to share between
    # connections and threads, so every send reuses one.
    context = ssl.create_default_context()
    if extra_ca_file:
        context.load_verify_locations(cafile=extra_ca_file)
    return context


def _network_problem(step: str, server: ServerSettings, error: BaseException) -> ConnectionProblem:
    name = "SMTP" if step == "smtp" else "IMAP"
    where = {"protocol": name, "host": server.host, "port": server.port}
    setting = "port"
    if isinstance(error, PrivateHostRefused):
        text = _(
            "%(protocol)s: %(host)s is a private or local address. FluenzR connects only to "
            "mail servers on the internet: use the host name your provider gives."
        )
        setting = "host"
    elif isinstance(error, socket.gaierror):
        text = _("The %(protocol)s server “%(host)s” was not found. Check the host name.")
        setting = "host"
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
        setting = "host"
    elif isinstance(error, (ssl.SSLError, smtplib.SMTPServerDisconnected, imaplib.IMAP4.abort)):
        text = _(
            "%(protocol)s: the security setting does not match port %(port)s. Use SSL/TLS "
            "with 465 (SMTP) or 993 (IMAP), STARTTLS with 587 (SMTP) or 143 (IMAP)."
        )
        setting = "security"
    elif isinstance(error, (TimeoutError, socket.timeout)) and server.security != "ssl":
        # A server that expects TLS from the first byte waits silently for a handshake.
        text = _(
            "%(protocol)s: %(host)s did not answer on port %(port)s. If this port expects "
            "SSL/TLS from the start (465 for SMTP, 993 for IMAP), choose SSL/TLS; otherwise a "
            "firewall may block it, or the port is wrong."
        )
        setting = "security"
    elif isinstance(error, (TimeoutError, socket.timeout)):
        text = _(
            "%(protocol)s: %(host)s did not answer on port %(port)s. A firewall may block it, "
            "or the port is wrong."
        )
    else:
        text = _("%(protocol)s: could not connect to %(host)s:%(port)s (%(error)s).")
        where["error"] = str(error) or error.__class__.__name__
    return ConnectionProblem(step, text % where, setting)


def wrong_password(step: str, host: str) -> ConnectionProblem:
    text = _(
        "The username or password was refused. Check them; for Gmail or Google Workspace, use a "
        "16-character App Password (2-Step Verification must be on)."
    )
    if "outlook" in host or "office365" in host:
        text = _(
            "The username or password was refused. Check them; with Microsoft 365, SMTP AUTH "
            "must be enabled for this mailbox by your administrator."
        )
    return ConnectionProblem(step, text, "password")


def _password_unchecked(step: str, host: str) -> ConnectionProblem:
    """The server could not check the password (SMTP 454, IMAP [UNAVAILABLE]): the password
    may well be right, so this is not a wrong-password verdict."""
    name = "SMTP" if step == "smtp" else "IMAP"
    text = _("%(protocol)s: %(host)s could not check the password just now; try again later.")
    return ConnectionProblem(step, text % {"protocol": name, "host": host})


def open_smtp(server: ServerSettings) -> smtplib.SMTP:
    """An SMTP session, connected, secured and logged in, for the connection test and the
    provider; the caller closes it. Failures are raised as smtplib and socket raise them."""
    require_public_host(server.host, server.port)
    context = tls_context()
    timeout = settings.EMAIL_ACCOUNTS_STEP_TIMEOUT
    if server.security == Security.SSL:
        client = smtplib.SMTP_SSL(server.host, server.port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(server.host, server.port, timeout=timeout)
    try:
        if server.security == Security.STARTTLS:
            client.starttls(context=context)
        client.login(server.username, server.password)
    except BaseException:
        client.close()
        raise
    return client


def smtp_problem(server: ServerSettings, error: OSError) -> ConnectionProblem:
    """What a failure of `open_smtp` means, in words that say what to change."""
    if isinstance(error, smtplib.SMTPAuthenticationError):
        if error.smtp_code < 500:  # "454 4.7.0 Temporary authentication failure"
            return _password_unchecked("smtp", server.host)
        return wrong_password("smtp", server.host)
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return ConnectionProblem(
            "smtp",
            _(
                "SMTP: the server does not offer to log in on this connection. Choose STARTTLS "
                "(port 587) or SSL/TLS (port 465)."
            ),
            "security",
        )
    return _network_problem("smtp", server, error)


def check_smtp(server: ServerSettings) -> None:
    """Connect, secure and log in; send nothing."""
    try:
        with open_smtp(server):
            pass
    except OSError as error:  # smtplib's errors are OSErrors too
        raise smtp_problem(server, error) from None


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


def open_imap(server: ServerSettings) -> imapclient.IMAPClient:
    """An IMAP session, connected, secured and logged in, for the connection test and the
    provider; the caller logs out. Failures are raised as imapclient and socket raise them."""
    require_public_host(server.host, server.port)
    client = imapclient.IMAPClient(
        server.host,
        port=server.port,
        ssl=server.security == Security.SSL,
        ssl_context=tls_context(),
        timeout=settings.EMAIL_ACCOUNTS_STEP_TIMEOUT,
    )
    try:
        if server.security == Security.STARTTLS:
            client.starttls(tls_context())
        client.login(server.username, server.password)
    except BaseException:
        with contextlib.suppress(Exception):  # LOGOUT closes the socket even when it fails
            client.logout()
        raise
    return client


def imap_problem(server: ServerSettings, error: Exception) -> ConnectionProblem:
    """What a failure of `open_imap` means, in words that say what to change."""
    if isinstance(error, LoginError):
        if "[UNAVAILABLE]" in str(error):  # RFC 5530: the authentication backend is down
            return _password_unchecked("imap", server.host)
        words = " ".join(re.split(r"[\W_]+", str(error).lower()))
        if "not enabled for imap" in words:  # Gmail's answer when IMAP is off
            return ConnectionProblem(
                "imap",
                _(
                    "IMAP is turned off for this mailbox. In Gmail: Settings → See all settings → "
                    "Forwarding and POP/IMAP → Enable IMAP, then save and try again."
                ),
                "password",
            )
        return wrong_password("imap", server.host)
    return _network_problem("imap", server, error)


def check_imap(server: ServerSettings) -> Folders:
    """Connect, secure, log in and find Inbox, Sent and Junk."""
    try:
        with open_imap(server) as client:
            return _folders(client.list_folders())
    except (OSError, IMAPClientError) as error:
        raise imap_problem(server, error) from None
