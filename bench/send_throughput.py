"""Sending throughput: N campaign messages through FluenzR's real send path (`message_send`:
claim, recheck every stop condition, build the MIME, send through the mailbox's SMTP provider,
record the send and move the enrollment on), and the same N emails through django-post-office
(the usual Django mail queue: `send_queued_mail_until_done`, what its `send_queued_mail`
command runs, with Django's SMTP backend), to the same local SMTP sink, in the same run.

    .venv/bin/python bench/send_throughput.py                          # N = 300
    .venv/bin/python bench/send_throughput.py -n 100                   # a quick run
    .venv/bin/python bench/send_throughput.py -n 100 --latency-ms 100  # a distant server

The sink is aiosmtpd in a child process on loopback (a mail server is another machine: it
must not share this process's interpreter): implicit TLS (as on 465) with a self-signed
certificate, AUTH LOGIN/PLAIN required, accepts everything and counts what it gets (after
--latency-ms, 0 by default: loopback answers at once, so the figures are the senders' own
costs; a real provider takes 50-300 ms per message). Both sides trust the certificate the
same way (FluenzR's `tls_context()` with EMAIL_ACCOUNTS_EXTRA_CA_FILE; post-office's backend
is Django's SMTP backend with that same context), and connect to 127.0.0.1 with one login.

FluenzR opens one SMTP connection per message (the provider's design: a send task is one
message, and a connection is never held across tasks). post-office's default reuses one
connection per worker thread for a whole batch (5 threads, batches of 100), so it runs twice:

- peer (the ratio's baseline): one connection per message, one thread — as our path runs in
  one worker;
- peer_default: post-office as it ships (5 threads, a connection per thread and batch).

Ours also runs with 5 threads (`ours_5threads`), as 5 send workers would. Every run is checked:
the sink got exactly N messages with N distinct Message-IDs, every row says sent. An untimed
first pass of each side warms it up; ours's counts its queries per message by kind and splits
its time between the database, the SMTP session (and the TLS context it makes) and the rest.

It recreates the database `fluenzr_bench_send` (BENCH_DATABASE_URL overrides it; the name must
contain "bench", since it is dropped). Prints one last line `send_throughput: …`;
ratio = ours_per_s / peer_per_s (≥ 1 is the target).
"""

from __future__ import annotations

import os
import re
import sys
import threading
from pathlib import Path


def run_sink(port: int, cert: str, key: str, login: str, password: str, latency: float) -> None:
    """The SMTP sink (child process): serves until stdin closes; to each "stats" line on stdin
    it answers `received=<n> distinct=<m>` and starts counting again. `latency` (seconds) is
    waited before accepting each message, as a distant server's queueing and scanning take."""
    import asyncio
    import logging
    import ssl
    import warnings

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # the same, as a log line
    message_id = re.compile(rb"^Message-ID:[ \t]*(\S+)", re.IGNORECASE | re.MULTILINE)
    received: list[bytes] = []

    class Sink:
        async def handle_DATA(self, server, session, envelope):
            match = message_id.search(envelope.original_content or envelope.content)
            received.append(match.group(1) if match else b"")
            if latency:
                await asyncio.sleep(latency)
            return "250 2.0.0 Message accepted for delivery"

    def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == login
            and auth_data.password.decode() == password
        )
        return AuthResult(success=ok, handled=ok)  # refused: aiosmtpd answers 535

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    controller = Controller(
        Sink(),
        hostname="127.0.0.1",
        port=port,
        ssl_context=context,
        authenticator=authenticate,
        auth_required=True,
        auth_require_tls=False,  # TLS from the first byte: aiosmtpd only counts STARTTLS
    )
    controller.start()
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "stats":
            batch = list(received)
            del received[: len(batch)]
            print(f"received={len(batch)} distinct={len(set(batch))}", flush=True)
    controller.stop()


if __name__ == "__main__" and sys.argv[1:2] == ["--sink"]:
    port, cert, key, login, password, latency = sys.argv[2:8]
    run_sink(int(port), cert, key, login, password, float(latency))
    sys.exit(0)


import argparse  # noqa: E402
import logging  # noqa: E402
import queue  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from datetime import time as clock  # noqa: E402
from datetime import timedelta  # noqa: E402
from functools import cached_property  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/fluenzr_bench_send"
LOGIN = "sales@sender.example.com"
PASSWORD = "bench-app-password"  # noqa: S105 — the local sink's, nothing else
THREADS = 5  # post-office's THREADS_PER_PROCESS default

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
# The bench drops and recreates its database: never the one DATABASE_URL names for work.
os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
os.environ["DJANGO_SETTINGS_MODULE"] = "fluenzr.settings"
os.environ.setdefault("DEBUG", "1")  # the development secrets; the query log is off below
os.environ.pop("REDIS_URL", None)  # locmem cache, no broker


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(  # noqa: S603
        [
            shutil.which("openssl") or "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
            "-days", "2", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


class SinkProcess:
    def __init__(self, directory: Path, latency_ms: int = 0) -> None:
        self.cert, self.key = _certificate(directory)
        self.port = _free_port()
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, __file__, "--sink", str(self.port), str(self.cert), str(self.key),
             LOGIN, PASSWORD, str(latency_ms / 1000)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        if self.process.stdout.readline().strip() != "ready":
            raise SystemExit("the SMTP sink did not start")

    def stats(self) -> tuple[int, int]:
        """(messages, distinct Message-IDs) received since the last call."""
        self.process.stdin.write("stats\n")
        self.process.stdin.flush()
        answer = dict(
            part.split("=") for part in self.process.stdout.readline().split()
        )  # received=… distinct=…
        return int(answer["received"]), int(answer["distinct"])

    def stop(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=15)


# Django, with post-office installed for this run only ------------------------------------

import django  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend  # noqa: E402


class TrustedSmtpBackend(SmtpBackend):
    """Django's SMTP backend, trusting the sink's certificate exactly as FluenzR's provider
    does (the same `tls_context()`)."""

    @cached_property
    def ssl_context(self):
        from email_accounts.providers.connection import tls_context

        return tls_context()


class OneConnectionPerMessageBackend(TrustedSmtpBackend):
    """The same, closing its connection after each message, as FluenzR's provider does."""

    def send_messages(self, email_messages):
        try:
            return super().send_messages(email_messages)
        finally:
            self.close()


def configure(sink: SinkProcess) -> None:
    """The project's settings, plus post-office and the sink: set before django.setup()."""
    smtp = {
        "host": "127.0.0.1",
        "port": sink.port,
        "username": LOGIN,
        "password": PASSWORD,
        "use_ssl": True,
        "timeout": 15,
    }
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "post_office"]
    settings.MAILERS = {
        "default": {"BACKEND": "post_office.EmailBackend"},
        "sink": {"BACKEND": f"{__name__}.TrustedSmtpBackend", "OPTIONS": smtp},
        "sink_one_per_message": {
            "BACKEND": f"{__name__}.OneConnectionPerMessageBackend",
            "OPTIONS": smtp,
        },
    }
    settings.POST_OFFICE = {"DEFAULT_MAILER": "sink"}  # its defaults otherwise
    settings.EMAIL_ACCOUNTS_EXTRA_CA_FILE = str(sink.cert)
    settings.EMAIL_ACCOUNTS_ALLOW_PRIVATE_HOSTS = True  # the sink is on loopback
    settings.EMAIL_ACCOUNTS_STEP_TIMEOUT = 15
    settings.DEBUG = False  # timed code runs as in production: no per-query debug log
    settings.LOGGING_CONFIG = None  # post-office logs every batch at INFO: keep stdout clean
    django.setup()
    logging.basicConfig(level=logging.WARNING)


# The data ----------------------------------------------------------------------------------


def make_campaign(n: int, sink: SinkProcess):
    """One mailbox on the sink, a two-step campaign, N contacts each with step 1 scheduled
    (what the tick leaves behind: the message row, the quota taken)."""
    from django.utils import timezone

    from accounts.models import Workspace
    from campaigns.mime import new_message_id
    from campaigns.models import (
        ALL_WEEKDAYS,
        Campaign,
        CampaignStatus,
        Enrollment,
        EnrollmentStatus,
        OutboundMessage,
        Step,
        Variant,
    )
    from contacts.models import Contact
    from email_accounts.models import Mailbox, MailboxStatus, Provider
    from email_accounts.providers.base import ServerSettings

    now = timezone.now()
    workspace = Workspace.objects.create(name="Bench send", plan="pro")
    mailbox = Mailbox(
        workspace=workspace,
        provider=Provider.SMTP,
        email=LOGIN,
        sender_name="Claire Martin",
        status=MailboxStatus.CONNECTED,
        status_since=now,
        connected_at=now,
        daily_limit=2000,
        daily_limit_max=2000,
        ramp_up_enabled=False,
        timezone="UTC",
        append_to_sent=False,  # a host that files its own copy: no IMAP in this bench
        sent_day=now.date(),
        sent_today=n,
    )
    mailbox.set_servers(
        smtp=ServerSettings("127.0.0.1", sink.port, "ssl", LOGIN, PASSWORD),
        imap=ServerSettings("127.0.0.1", 993, "ssl", LOGIN, PASSWORD),
    )
    mailbox.save()
    # Open all day, in a zone where it is not 23:59 now (the window's one closed minute).
    zone = "UTC" if now.hour != 23 else "Asia/Tokyo"
    campaign = Campaign.objects.for_workspace(workspace).create(
        workspace=workspace,
        name="Spring outreach",
        status=CampaignStatus.ACTIVE,
        launched_at=now,
        timezone=zone,
        weekdays=list(ALL_WEEKDAYS),
        window_start=clock(0, 0),
        window_end=clock(23, 59),
        spacing_min_seconds=20,
        spacing_max_seconds=20,
    )
    campaign.mailboxes.set([mailbox])
    first = Step.objects.for_workspace(workspace).create(
        workspace=workspace, campaign=campaign, position=0
    )
    Step.objects.for_workspace(workspace).create(
        workspace=workspace, campaign=campaign, position=1, delay_amount=2, delay_unit="days"
    )
    variant = Variant.objects.for_workspace(workspace).create(
        workspace=workspace,
        step=first,
        label="A",
        subject="Une question, {{firstName|there}}",
        body="Bonjour {{firstName|there}},\n\n{Je vous écris|Je me permets de vous écrire} au "
        "sujet de {{company}}.\n\nBonne journée,\n{{sender.firstName}}",
    )
    contacts = Contact.objects.for_workspace(workspace).bulk_create(
        Contact(
            workspace=workspace,
            email=f"prospect{i}@reader.example.com",
            first_name=f"Léa{i}",
            last_name="Dubois",
            company="Acme",
        )
        for i in range(n)
    )
    enrollments = Enrollment.objects.for_workspace(workspace).bulk_create(
        Enrollment(
            workspace=workspace,
            campaign=campaign,
            contact=contact,
            mailbox=mailbox,
            status=EnrollmentStatus.ACTIVE,
            started_at=now,
        )
        for contact in contacts
    )
    quota_day = mailbox.local_day(now)
    messages = OutboundMessage.objects.for_workspace(workspace).bulk_create(
        OutboundMessage(
            workspace=workspace,
            enrollment=enrollment,
            step=first,
            variant=variant,
            mailbox=mailbox,
            message_id=new_message_id(mailbox.email),
            quota_day=quota_day,
            next_attempt_at=now - timedelta(seconds=1),
        )
        for enrollment in enrollments
    )
    return mailbox, first, variant, enrollments, [m.pk for m in messages]


def reset_ours(message_ids: list) -> None:
    """Back to scheduled: messages, enrollments, and no events (each run sends the same N)."""
    from django.utils import timezone

    from campaigns.models import Enrollment, EnrollmentStatus, MessageStatus, OutboundMessage
    from webhooks.models import Event

    OutboundMessage.objects.unscoped().filter(pk__in=message_ids).update(
        status=MessageStatus.SCHEDULED,
        attempts=0,
        sending_started_at=None,
        sent_at=None,
        subject="",
        provider_message_id="",
        next_attempt_at=timezone.now() - timedelta(seconds=1),
    )
    Enrollment.objects.unscoped().update(
        status=EnrollmentStatus.ACTIVE,
        next_position=0,
        due_at=None,
        last_message_id="",
        last_subject="",
    )
    Event.objects.unscoped().delete()
    _vacuum()


def queue_peer(mailbox, step, variant, enrollments) -> None:
    """The same N emails in post-office's queue: the same sender, recipient, subject and text
    (rendered by our templating, untimed), each with a Message-ID of its own."""
    from dataclasses import replace

    from post_office import mail
    from post_office.models import Email

    from campaigns import templating
    from campaigns.engine.compose import render_context

    Email.objects.all().delete()
    for enrollment in enrollments:
        ctx = render_context(enrollment, step, mailbox)
        subject = templating.render(variant.subject, replace(ctx, seed=f"{ctx.seed}:subject"))
        body = templating.render(variant.body, replace(ctx, seed=f"{ctx.seed}:body"))
        mail.send(
            recipients=[enrollment.contact.email],
            sender=f"{mailbox.sender_name} <{mailbox.email}>",
            subject=subject,
            message=body,
        )
    _vacuum()


def _vacuum() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")


# The runs ----------------------------------------------------------------------------------


def send_ours(message_ids: list, threads: int = 1) -> list[str]:
    """Each message through `message_send`, by `threads` workers taking the next id in turn
    (each worker with its own database connection, as a send worker has)."""
    from django.db import connection

    from campaigns.engine.sender import message_send

    if threads == 1:
        return [message_send(message_id=pk) for pk in message_ids]
    todo: queue.SimpleQueue = queue.SimpleQueue()
    for pk in message_ids:
        todo.put(pk)
    outcomes: list[str] = []

    def worker() -> None:
        try:
            while True:
                try:
                    pk = todo.get_nowait()
                except queue.Empty:
                    return
                outcomes.append(message_send(message_id=pk))
        finally:
            connection.close()  # this thread's own

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return outcomes


def send_peer(*, mailer: str, threads: int) -> None:
    from post_office.mail import send_queued_mail_until_done

    settings.POST_OFFICE = {"DEFAULT_MAILER": mailer, "THREADS_PER_PROCESS": threads}
    logging.getLogger("post_office").setLevel(logging.WARNING)  # a line per batch otherwise
    send_queued_mail_until_done(
        lockfile=str(Path(tempfile.gettempdir()) / "fluenzr-bench-post-office")
    )


def check(sink: SinkProcess, n: int, label: str) -> None:
    received, distinct = sink.stats()
    if received != n or distinct != n:
        raise SystemExit(
            f"{label}: the sink got {received} messages ({distinct} distinct), not {n}"
        )


def run_ours(sink, message_ids, *, threads: int = 1) -> float:
    from campaigns.models import MessageStatus, OutboundMessage

    reset_ours(message_ids)
    sink.stats()
    started = time.perf_counter()
    outcomes = send_ours(message_ids, threads)
    seconds = time.perf_counter() - started
    if Counter(outcomes) != {"sent": len(message_ids)}:
        raise SystemExit(f"ours: {Counter(outcomes)}")
    sent = OutboundMessage.objects.unscoped().filter(status=MessageStatus.SENT).count()
    if sent != len(message_ids):
        raise SystemExit(f"ours: {sent} rows sent")
    check(sink, len(message_ids), "ours")
    return seconds


def run_peer(sink, data, n: int, *, mailer: str, threads: int) -> float:
    from post_office.models import STATUS, Email

    queue_peer(*data)
    sink.stats()
    started = time.perf_counter()
    send_peer(mailer=mailer, threads=threads)
    seconds = time.perf_counter() - started
    sent = Email.objects.filter(status=STATUS.sent).count()
    if sent != n:
        raise SystemExit(f"post-office ({mailer}, {threads} threads): {sent} sent of {n}")
    check(sink, n, f"post-office ({mailer})")
    return seconds


def _kind(sql: str) -> str:
    """A short name for a query: its verb and first table."""
    verb = sql.split(None, 1)[0].upper()
    match = re.search(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', sql, re.IGNORECASE)
    if verb == "SELECT" and "FOR UPDATE" in sql:
        verb = "SELECT … FOR UPDATE"
    return f"{verb} {match.group(1) if match else '(no table)'}"


def breakdown(sink, message_ids: list) -> dict[str, float]:
    """One untimed pass of ours with every query and every SMTP session timed: per message,
    queries, database seconds, SMTP seconds (connect, TLS, login, send, quit), the rest."""
    from django.db import connection

    from email_accounts.providers import connection as providers_connection
    from email_accounts.providers.smtp_imap import SmtpImapProvider

    reset_ours(message_ids)
    sink.stats()
    spent = Counter()
    kinds = Counter()

    def on_query(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent["db"] += time.perf_counter() - started
            spent["queries"] += 1
            kinds[_kind(sql)] += 1

    original = SmtpImapProvider.send

    def timed_send(self, message):
        started = time.perf_counter()
        try:
            return original(self, message)
        finally:
            spent["smtp"] += time.perf_counter() - started

    original_context = providers_connection.tls_context

    def timed_context():
        started = time.perf_counter()
        try:
            return original_context()
        finally:
            spent["tls_context"] += time.perf_counter() - started

    SmtpImapProvider.send = timed_send
    providers_connection.tls_context = timed_context
    try:
        started = time.perf_counter()
        with connection.execute_wrapper(on_query):
            send_ours(message_ids)
        spent["total"] = time.perf_counter() - started
    finally:
        SmtpImapProvider.send = original
        providers_connection.tls_context = original_context
    check(sink, len(message_ids), "ours (breakdown)")
    n = len(message_ids)
    print("ours, queries per message by kind:")
    for kind, count in kinds.most_common():
        print(f"    {count / n:4.1f}  {kind}")
    return {
        "queries": spent["queries"] / n,
        "db_ms": spent["db"] / n * 1000,
        "smtp_ms": spent["smtp"] / n * 1000,
        "tls_context_ms": spent["tls_context"] / n * 1000,
        "other_ms": (spent["total"] - spent["db"] - spent["smtp"]) / n * 1000,
        "total_ms": spent["total"] / n * 1000,
    }


def smtp_session_ms(sink, *, new_context: bool, rounds: int = 30) -> float:
    """A bare smtplib session to the sink (connect, TLS, login, one message, quit): the floor
    under any one-connection-per-message sender; with a new TLS context per session (as
    FluenzR's `open_smtp` makes one) or one context reused (as Django's backend keeps one)."""
    import smtplib

    from email_accounts.providers.connection import tls_context

    raw = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: x\r\nMessage-ID: <%d@x>\r\n\r\n"
    shared = tls_context()
    started = time.perf_counter()
    for i in range(rounds):
        context = tls_context() if new_context else shared
        with smtplib.SMTP_SSL("127.0.0.1", sink.port, context=context, timeout=15) as client:
            client.login(LOGIN, PASSWORD)
            client.sendmail(LOGIN, ["b@example.com"], raw % i)
    seconds = time.perf_counter() - started
    check(sink, rounds, "bare smtplib")
    return seconds / rounds * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=300, help="messages per run")
    parser.add_argument(
        "--latency-ms",
        type=int,
        default=0,
        help="the sink waits this long before accepting each message (a distant server)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    n = args.n

    with tempfile.TemporaryDirectory(prefix="fluenzr-bench-send-") as directory:
        sink = SinkProcess(Path(directory), args.latency_ms)
        try:
            configure(sink)
            from benchdb import drop_database, recreate_database
            from django.core.management import call_command

            recreate_database()
            try:
                call_command("migrate", verbosity=0)
                mailbox, step, variant, enrollments, message_ids = make_campaign(n, sink)
                data = (mailbox, step, variant, enrollments)
                print(f"load average: {os.getloadavg()[0]:.1f} (cores: {os.cpu_count()})")
                fresh_ms = smtp_session_ms(sink, new_context=True)
                reused_ms = smtp_session_ms(sink, new_context=False)
                print(
                    f"bare smtplib session (connect, TLS, login, send, quit): {fresh_ms:.1f} ms "
                    f"with a new TLS context each time, {reused_ms:.1f} ms with one reused"
                )

                # Untimed first passes, which also warm both sides up (imports, caches, the
                # database's buffers): ours with every query and SMTP session timed, then
                # post-office once.
                parts = breakdown(sink, message_ids)
                print(
                    "ours per message: {queries:.1f} queries, {db_ms:.1f} ms database, "
                    "{smtp_ms:.1f} ms SMTP session (of which {tls_context_ms:.1f} ms making its "
                    "TLS context), {other_ms:.1f} ms the rest "
                    "(compose, ORM, crypto), {total_ms:.1f} ms in all".format(**parts)
                )
                run_peer(sink, data, n, mailer="sink_one_per_message", threads=1)
                results = {}
                # Alternate, so that drifting load on the machine hits both sides alike.
                results["ours"] = run_ours(sink, message_ids)
                results["peer"] = run_peer(sink, data, n, mailer="sink_one_per_message", threads=1)
                results["ours_5threads"] = run_ours(sink, message_ids, threads=THREADS)
                results["peer_default"] = run_peer(sink, data, n, mailer="sink", threads=THREADS)
                for label, seconds in results.items():
                    print(f"{label:>14}: {n} messages in {seconds:.2f} s ({n / seconds:.1f}/s)")
                from django.db import connections

                connections.close_all()
            finally:
                if not args.keep:
                    drop_database()
        finally:
            sink.stop()

    per_s = {label: n / seconds for label, seconds in results.items()}
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (2 cores, shared with other work)")
    print(
        f"peer: post-office, one connection per message, 1 thread; peer_default: post-office "
        f"as it ships ({THREADS} threads, one connection per thread and batch of 100)"
    )
    print(
        f"send_throughput: n={n} ours_per_s={per_s['ours']:.1f} peer_per_s={per_s['peer']:.1f} "
        f"ratio={per_s['ours'] / per_s['peer']:.2f} "
        f"ours_5threads_per_s={per_s['ours_5threads']:.1f} "
        f"peer_default_per_s={per_s['peer_default']:.1f} "
        f"ratio_default={per_s['ours_5threads'] / per_s['peer_default']:.2f} "
        f"latency_ms={args.latency_ms}"
    )


if __name__ == "__main__":
    main()
