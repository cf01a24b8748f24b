"""Real mail servers on loopback for the tests: Dovecot (IMAP, IMAPS) and an SMTP server
(aiosmtpd, with AUTH, STARTTLS and implicit TLS) that delivers into Dovecot's maildirs and
can be told to refuse given senders or recipients with scripted replies, to hold a session at
a given point of the dialogue, or to file copies in the sender's Sent folder as Gmail does.

Dovecot runs from `dovecot.conf.template` (Debian bookworm's 2.3) with its own run, state, log
and mail folders under one temporary directory, as root, without touching the system's own
mail setup. `make test` installs it when missing (scripts/ensure-test-services.sh).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.net import free_port

TEMPLATE = Path(__file__).with_name("dovecot.conf.template")
NOBODY = 65534  # Dovecot's mail and auth processes run as nobody (see the template)


def _wait_for_port(port: int, what: str, log: Path | None = None, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    detail = log.read_text() if log and log.exists() else ""
    raise RuntimeError(f"{what} did not answer on 127.0.0.1:{port}. {detail}")


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


class Dovecot:
    """One private Dovecot instance: plain IMAP and IMAPS on free loopback ports."""

    def __init__(self, root: Path) -> None:
        if shutil.which("dovecot") is None:
            raise RuntimeError("dovecot is missing: run `make test`, which installs dovecot-imapd.")
        if os.geteuid() != 0:
            raise RuntimeError("The test Dovecot runs as root (its processes drop to nobody).")
        self.root = root
        self.imap_port, self.imaps_port = free_port(), free_port()
        self.passwords: dict[str, str] = {}
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        for name in ("run", "state", "mail", "users"):
            (self.root / name).mkdir(parents=True, exist_ok=True)
        self.cert, _key = self_signed_certificate(self.root)
        config = (
            TEMPLATE.read_text()
            .replace("@DIR@", str(self.root))
            .replace("@IMAPS_PORT@", str(self.imaps_port))
            .replace("@IMAP_PORT@", str(self.imap_port))
        )
        (self.root / "dovecot.conf").write_text(config)
        # The auth process (nobody) must reach users/: every parent directory must be enterable.
        for directory in [self.root, *self.root.parents]:
            directory.chmod(directory.stat().st_mode | 0o755)
        os.chown(self.root / "mail", NOBODY, NOBODY)
        self.process = subprocess.Popen(
            ["dovecot", "-F", "-c", str(self.root / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        _wait_for_port(self.imap_port, "Dovecot", self.root / "dovecot.log")
        _wait_for_port(self.imaps_port, "Dovecot (IMAPS)", self.root / "dovecot.log")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=15)

    @property
    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text() if path.exists() else ""

    def add_user(
        self, address: str, password: str, imap_capability: str = "", refuse_login: str = ""
    ) -> None:
        """A mailbox Dovecot accepts logins for (its own file under users/). `imap_capability`
        replaces the capabilities it announces after login (one word, e.g. "UIDPLUS": a server
        without MOVE); the commands themselves keep working. `refuse_login` refuses even the
        right password with that text (as Gmail does when IMAP is off); a passwd-file field
        cannot hold spaces, so they become underscores."""
        extra = f"userdb_imap_capability={imap_capability}" if imap_capability else ""
        if refuse_login:
            extra += " nologin reason=" + refuse_login.replace(" ", "_")
        path = self.root / "users" / address
        changed = path.exists() and self.passwords.get(address) != password
        path.write_text(f"{address}:{{PLAIN}}{password}::::::{extra}\n")
        if changed:
            # Dovecot checks a passwd-file at most once a second, and rereads it only when its
            # mtime moved, to the second: let both happen before the next login.
            mtime = time.time() + 1
            os.utime(path, (mtime, mtime))
            time.sleep(1.1)
        self.passwords[address] = password

    def _maildir(self, address: str, folder: str) -> Path:
        home = self.root / "mail" / address
        path = home if folder == "INBOX" else home / f".{folder}"
        for directory in (home, path, path / "tmp", path / "new", path / "cur"):
            directory.mkdir(exist_ok=True)
            os.chown(directory, NOBODY, NOBODY)
        return path

    def deliver(self, address: str, raw: bytes, folder: str = "INBOX") -> None:
        """Put a message straight into a mailbox folder, as a local delivery agent would."""
        maildir = self._maildir(address, folder)
        name = f"{time.time_ns()}.{uuid.uuid4().hex}.fluenzr-test"
        staged = maildir / "tmp" / name
        staged.write_bytes(raw)
        os.chown(staged, NOBODY, NOBODY)
        staged.rename(maildir / "new" / name)


@dataclass
class Received:
    sender: str
    recipients: list[str]
    raw: bytes
    login: str | None

    @property
    def message(self) -> Message:
        return message_from_bytes(self.raw)


@dataclass
class Hold:
    """One SMTP session stopped at a point of the dialogue until the test releases it (see
    `SmtpServer.hold`). `reached` is set once a session is held there."""

    at: str
    reached: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    def wait_reached(self, timeout: float) -> None:
        if not self.reached.wait(timeout):
            raise AssertionError(f"No SMTP session reached {self.at!r} in {timeout} s.")

    def release(self) -> None:
        self.released.set()


HOLD_POINTS = ("mail", "data")


@dataclass
class _Handler:
    dovecot: Dovecot
    received: list[Received] = field(default_factory=list)
    sender_replies: dict[str, str] = field(default_factory=dict)
    recipient_replies: dict[str, str] = field(default_factory=dict)
    data_reply: str | None = None
    drop_after_data: bool = False
    hold: Hold | None = None
    file_sent_copies: bool = False

    async def _held(self, point: str) -> None:
        """Wait here (without blocking the server's other sessions) if the pending hold is for
        this point; a hold applies to the first session that reaches it, once."""
        hold = self.hold
        if hold is None or hold.at != point or hold.reached.is_set():
            return
        hold.reached.set()
        while not hold.released.is_set():  # cancelled if the client's connection goes away
            await asyncio.sleep(0.01)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        await self._held("mail")
        reply = self.sender_replies.get(address.lower())
        if reply:
            return reply
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.recipient_replies.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        raw = envelope.original_content or envelope.content
        login = session.auth_data if isinstance(session.auth_data, str) else None
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), raw, login))
        for recipient in envelope.rcpt_tos:
            if recipient.lower() in self.dovecot.passwords:
                self.dovecot.deliver(recipient.lower(), raw)
        sender = (envelope.mail_from or "").lower()
        if self.file_sent_copies and sender in self.dovecot.passwords:
            self.dovecot.deliver(sender, raw, folder="Sent")
        await self._held("data")  # accepted and delivered; the client has not heard so yet
        if self.drop_after_data:
            server.transport.close()  # delivered, but the client never hears so
        return "250 2.0.0 Message accepted for delivery"


class SmtpServer:
    """SMTP submission on two loopback ports, both requiring AUTH with Dovecot's users over
    TLS: `port` (STARTTLS first, as on 587) and `tls_port` (implicit TLS, as on 465)."""

    def __init__(self, dovecot: Dovecot) -> None:
        self.dovecot = dovecot
        self.handler = _Handler(dovecot)
        self.port, self.tls_port = free_port(), free_port()
        self._controllers: list[Controller] = []

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        expected = self.dovecot.passwords.get(login.lower())
        if expected is None or password != expected:
            return AuthResult(success=False, handled=False)  # aiosmtpd then answers 535
        return AuthResult(success=True, auth_data=login)  # kept as session.auth_data

    def start(self) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.dovecot.cert, self.dovecot.root / "key.pem")
        common = {
            "hostname": "127.0.0.1",
            "authenticator": self._authenticate,
            "auth_required": True,
        }
        self._controllers = [
            # As real submission servers: STARTTLS, then AUTH.
            Controller(
                self.handler, port=self.port, tls_context=context, auth_require_tls=True, **common
            ),
            # Already TLS from the first byte (aiosmtpd only counts STARTTLS as TLS).
            Controller(
                self.handler,
                port=self.tls_port,
                ssl_context=context,
                auth_require_tls=False,
                **common,
            ),
        ]
        for controller in self._controllers:
            controller.start()

    def stop(self) -> None:
        for controller in self._controllers:
            controller.stop()

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def refuse_sender(self, address: str, reply: str) -> None:
        """Answer MAIL FROM:<address> with `reply`, e.g. "550 5.4.5 Daily user sending quota
        exceeded"."""
        self.handler.sender_replies[address.lower()] = reply

    def refuse_recipient(self, address: str, reply: str) -> None:
        """Answer RCPT TO:<address> with `reply`, e.g. "550 5.1.1 User unknown"."""
        self.handler.recipient_replies[address.lower()] = reply

    def refuse_data(self, reply: str) -> None:
        """Answer the end of every message's content with `reply`, e.g. "554 5.7.1 Message
        rejected as spam"."""
        self.handler.data_reply = reply

    def drop_after_data(self) -> None:
        """Accept and deliver every message, then close the connection before the final
        reply: the client cannot know whether its message left."""
        self.handler.drop_after_data = True

    def hold(self, at: str) -> Hold:
        """Stop the next session that reaches `at` until `Hold.release()`: "mail" holds the
        MAIL FROM command (nothing of the message has arrived), "data" holds the reply to
        the end of the content, after the message was accepted and delivered (the client
        cannot know it left). A test kills the sending worker while it waits there."""
        if at not in HOLD_POINTS:
            raise ValueError(f"Hold at one of {HOLD_POINTS}, not {at!r}.")
        self.handler.hold = Hold(at)
        return self.handler.hold

    def file_sent_copies(self) -> None:
        """File a copy of every accepted message in its sender's Sent folder, as Gmail's and
        Microsoft 365's SMTP servers do (the sender must be one of Dovecot's users)."""
        self.handler.file_sent_copies = True

    def reset(self) -> None:
        if self.handler.hold is not None:
            self.handler.hold.release()
        self.handler.received.clear()
        self.handler.sender_replies.clear()
        self.handler.recipient_replies.clear()
        self.handler.data_reply = None
        self.handler.drop_after_data = False
        self.handler.hold = None
        self.handler.file_sent_copies = False


@dataclass
class MailServers:
    dovecot: Dovecot
    smtp: SmtpServer

    def mailbox(
        self, address: str, password: str = "app-password-123", imap_capability: str = ""
    ) -> tuple[str, str]:
        """A fresh mailbox on both servers; returns (address, password)."""
        self.dovecot.add_user(address.lower(), password, imap_capability)
        return address, password

    def client_tls_context(self) -> ssl.SSLContext:
        """Trusts the servers' self-signed certificate (as a customer's CA store trusts theirs)."""
        return ssl.create_default_context(cafile=str(self.dovecot.cert))
