"""Reply sync on a big IMAP mailbox: an inbox of 10,000 messages of which 50 arrived since the
last sync, read by FluenzR's incremental sync (`campaigns.inbound.sync.mailbox_sync`) and by a
naive full fetch, in the same run, against the same local Dovecot.

    .venv/bin/python bench/reply_sync.py                       # 10,000 messages, 50 new
    .venv/bin/python bench/reply_sync.py --messages 2000       # a quick run

The mailbox is a real IMAP account on a private Dovecot (tests/mail/servers.py: run as root,
in a temporary directory, stopped at the end), connected through the services
(`smtp_imap_details` + `mailbox_connect_smtp`, with the test SMTP server up for the connection
test). A launched two-step campaign has sent step 1 to 2,000 contacts (rows written with
bulk_create, each with its Message-ID). The inbox gets 9,950 "old" messages, a realistic mix —
newsletters (HTML, half of them `Precedence: bulk`), notifications (some `Auto-Submitted`),
human mail (a few with a 100-300 KB attachment), and about 1% answers, out-of-office replies
and bounces to our messages — then one sync sets the cursor (it reads no history), then 50 new
messages arrive: 20 replies to our messages, 5 DSNs (3 hard, 2 soft), 5 out-of-office, 20
unrelated (newsletters, notifications, people).

- incremental: `mailbox_sync(mailbox_id=…)` — per folder UIDVALIDITY + last UID, the new
  messages' headers (BODY.PEEK[HEADER]), a header pre-filter, the whole message only for those
  that may concern a campaign, the classifier, and the recording (rows, enrollments stopped or
  paused, bounces, events). Between repeats the rows it wrote, the state it changed and the
  cursor are put back, so each repeat does the same work.
- full (the baseline): what a simple implementation does — log in, SELECT INBOX, FETCH every
  message whole (BODY.PEEK[], in batches of 500: nothing marked read) and run the same
  classifier (`email_accounts.inbound.classify`) on each, keeping those that answer one of our
  Message-IDs. It records nothing and checks "ours" against a set loaded once (no query per
  message): the baseline's cost is the reading alone, a floor under any real full sync.

Both are checked to find the same relevant messages among the 50 new (same Message-IDs, same
kinds: 20 replies, 5 bounces, 5 auto-replies), and the incremental sync's figures (new, read
whole, recorded) are asserted. Medians of 3 (the full fetch once if it takes over a minute).
IMAP commands (round trips) and bytes received are counted inside imaplib.

Dovecot's files go to a temporary directory (under $BENCH_TMP when set), removed at the end.
It recreates the database `fluenzr_bench_reply_sync` (BENCH_DATABASE_URL overrides it; the name
must contain "bench", since it is dropped). Prints one last line
`reply_sync: incremental_s=… full_s=… speedup=…` (speedup = full_s / incremental_s).
"""

from __future__ import annotations

import argparse
import imaplib
import logging
import os
import random
import statistics
import sys
import tempfile
import time
import warnings
from collections import Counter
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/fluenzr_bench_reply_sync"
ADDRESS = "sales@sender.example.com"
PASSWORD = "bench-app-password"  # noqa: S105 — the local Dovecot's, nothing else
FULL_FETCH_BATCH = 500

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
# The bench drops and recreates its database: never the one DATABASE_URL names for work.
os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
os.environ["DJANGO_SETTINGS_MODULE"] = "fluenzr.settings"
os.environ.setdefault("DEBUG", "1")  # the development secrets; the query log is off below
os.environ.pop("REDIS_URL", None)  # locmem cache, no broker: nothing is queued here

import django  # noqa: E402
from django.conf import settings  # noqa: E402

from tests.mail.servers import Dovecot, SmtpServer  # noqa: E402

warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
logging.getLogger("mail.log").setLevel(logging.ERROR)  # the test SMTP server's dialogue


def configure(dovecot: Dovecot) -> None:
    """The project's settings, trusting the local Dovecot: set before django.setup()."""
    settings.EMAIL_ACCOUNTS_EXTRA_CA_FILE = str(dovecot.cert)
    settings.EMAIL_ACCOUNTS_ALLOW_PRIVATE_HOSTS = True  # the servers are on loopback
    settings.EMAIL_ACCOUNTS_STEP_TIMEOUT = 60
    settings.DEBUG = False  # timed code runs as in production: no per-query debug log
    django.setup()
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # the test SMTP server's dialogue


# Counting what goes over IMAP --------------------------------------------------------------


class Wire:
    """Commands sent (each one a round trip: imaplib and imapclient both take a new tag for
    every command) and bytes received, counted inside imaplib for every session."""

    commands = 0
    received = 0

    @classmethod
    def install(cls) -> None:
        new_tag, read, readline = imaplib.IMAP4._new_tag, imaplib.IMAP4.read, imaplib.IMAP4.readline

        def counted_tag(self):
            cls.commands += 1
            return new_tag(self)

        def counted_read(self, size):
            data = read(self, size)
            cls.received += len(data)
            return data

        def counted_readline(self):
            line = readline(self)
            cls.received += len(line)
            return line

        imaplib.IMAP4._new_tag = counted_tag
        imaplib.IMAP4.read = counted_read
        imaplib.IMAP4.readline = counted_readline

    @classmethod
    def reset(cls) -> None:
        cls.commands = cls.received = 0


# The mailbox's content ---------------------------------------------------------------------

WORDS = [
    "projet", "réunion", "demain", "offre", "client", "équipe", "rapport", "budget", "semaine",
    "merci", "question", "planning", "update", "meeting", "invoice", "delivery", "product",
    "launch", "review", "draft", "contract", "team", "schedule", "feedback", "proposal",
    "numbers", "quarter", "roadmap", "design", "support", "release", "customer", "partner",
    "agenda", "notes", "follow", "call", "week", "month", "price", "order", "account",
    "service",
]  # fmt: skip


class Content:
    """Deterministic, realistic-looking mail: blocks of text made once, assembled per message
    (generating 200 MB word by word would dominate the bench's set-up)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.sentences = [
            " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 20))).capitalize() + "."
            for _ in range(400)
        ]
        self.attachment = os.urandom(300_000)

    def paragraph(self, sentences: int) -> str:
        return " ".join(self.rng.choice(self.sentences) for _ in range(sentences))

    def text(self, paragraphs: int) -> str:
        return "\n\n".join(self.paragraph(self.rng.randint(2, 6)) for _ in range(paragraphs))

    def html(self, blocks: int) -> str:
        cells = "".join(
            f'<tr><td style="padding:12px;font-family:Arial,sans-serif;font-size:15px;'
            f'color:#333333;line-height:22px"><h2 style="margin:0 0 8px">'
            f"{self.rng.choice(self.sentences)[:40]}</h2><p>{self.paragraph(4)}</p>"
            f'<a href="https://shop.example.org/p/{self.rng.randint(1, 10**6)}?utm_source='
            f'newsletter&amp;utm_medium=email" style="color:#0a66c2">Voir</a>'
            f'<img src="https://cdn.shop.example.org/img/{self.rng.randint(1, 10**6)}.jpg" '
            f'width="560" alt=""></td></tr>'
            for _ in range(blocks)
        )
        return (
            '<!DOCTYPE html><html><head><meta charset="utf-8"><style>body{margin:0}'
            "table{border-collapse:collapse}</style></head><body>"
            f'<table width="600" align="center">{cells}</table></body></html>'
        )


def _base(frm: str, subject: str, when: datetime, domain: str) -> EmailMessage:
    message = EmailMessage()
    message["Return-Path"] = f"<bounces@{domain}>"
    message["Received"] = (
        f"from mx.{domain} (mx.{domain} [192.0.2.10]) by mail.sender.example.com "
        f"with ESMTPS id {random.getrandbits(40):x}; {format_datetime(when)}"
    )
    message["From"] = frm
    message["To"] = f"Claire Martin <{ADDRESS}>"
    message["Subject"] = subject
    message["Date"] = format_datetime(when)
    message["Message-ID"] = make_msgid(domain=domain)
    message["MIME-Version"] = "1.0"
    return message


def newsletter(content: Content, when: datetime, i: int) -> EmailMessage:
    domain = f"shop{i % 40}.example.org"
    message = _base(f"Shop {i % 40} <news@{domain}>", f"Offres de la semaine n°{i}", when, domain)
    message["List-Id"] = f"<news.{domain}>"
    message["List-Unsubscribe"] = f"<https://{domain}/u/{i}>, <mailto:unsub@{domain}>"
    if i % 2:
        message["Precedence"] = "bulk"
    message.set_content(content.text(content.rng.randint(3, 8)))
    message.add_alternative(content.html(content.rng.randint(10, 40)), subtype="html")
    return message


def notification(content: Content, when: datetime, i: int) -> EmailMessage:
    domain = ("github.example.com", "jira.example.net", "bank.example.fr", "drive.example.com")[
        i % 4
    ]
    message = _base(f"Notifications <noreply@{domain}>", f"[Ticket #{i}] mis à jour", when, domain)
    if i % 3 == 0:
        message["Auto-Submitted"] = "auto-generated"
    message.set_content(content.text(2))
    message.add_alternative(f"<html><body><p>{content.paragraph(3)}</p></body></html>", "html")
    return message


def person(content: Content, when: datetime, i: int) -> EmailMessage:
    domain = f"partner{i % 200}.example.com"
    message = _base(f"Jean Collègue{i % 200} <jean{i % 200}@{domain}>", f"Point {i}", when, domain)
    message.set_content(f"Bonjour Claire,\n\n{content.text(content.rng.randint(1, 4))}\n\nJean")
    if i % 20 == 0:  # a document attached, as people do
        size = content.rng.randint(100_000, 300_000)
        message.add_attachment(
            content.attachment[:size],
            maintype="application",
            subtype="pdf",
            filename=f"document-{i}.pdf",
        )
    return message


def unrelated(content: Content, when: datetime, i: int) -> EmailMessage:
    kind = i % 10
    if kind < 4:
        return newsletter(content, when, i)
    if kind < 7:
        return notification(content, when, i)
    return person(content, when, i)


def reply_to(content: Content, ours: dict, when: datetime, i: int) -> EmailMessage:
    """A contact's answer: Re: our subject, In-Reply-To/References, our text quoted."""
    message = _base(f"{ours['first_name']} <{ours['email']}>", f"Re: {ours['subject']}", when,
                    ours["email"].rpartition("@")[2])  # fmt: skip
    message["In-Reply-To"] = ours["message_id"]
    message["References"] = ours["message_id"]
    answers = (
        "Oui, volontiers : appelez-moi jeudi après-midi.",
        "Thanks, this looks interesting. Could you send me your pricing?",
        "Pas intéressé pour le moment, merci.",
        "I'm not the right person, please contact our purchasing team.",
    )
    message.set_content(
        f"{answers[i % len(answers)]}\n\n"
        f"Le mar. 2 juin 2026 à 10:00, Claire Martin <{ADDRESS}> a écrit :\n"
        f"> Bonjour {ours['first_name']},\n> Je me permets de vous écrire au sujet de Acme.\n"
    )
    return message


def out_of_office(ours: dict, when: datetime, i: int) -> EmailMessage:
    message = _base(f"{ours['first_name']} <{ours['email']}>",
                    f"Réponse automatique : {ours['subject']}", when,
                    ours["email"].rpartition("@")[2])  # fmt: skip
    message["Auto-Submitted"] = "auto-replied"
    message["X-Autoreply"] = "yes"
    message["In-Reply-To"] = ours["message_id"]
    back = (when + timedelta(days=7)).date()
    message.set_content(
        f"Bonjour,\n\nJe suis absent du bureau, de retour le {back.day} "
        f"{FRENCH_MONTHS[back.month - 1]}.\nJe vous répondrai à mon retour.\n"
    )
    return message


FRENCH_MONTHS = [
    "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
    "octobre", "novembre", "décembre",
]  # fmt: skip


def bounce(ours: dict, when: datetime, *, hard: bool) -> bytes:
    """An RFC 3464 delivery status notification, as Postfix writes one."""
    status, diagnostic = (
        ("5.1.1", "550 5.1.1 <{r}>: Recipient address rejected: User unknown")
        if hard
        else ("4.2.2", "452 4.2.2 <{r}>: Mailbox full")
    )
    recipient = ours["email"]
    action = "failed" if hard else "delayed"
    boundary = f"{random.getrandbits(48):X}.{int(when.timestamp())}/mx.example.net"
    return f"""\
Return-Path: <>
From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: {ADDRESS}
Subject: {"Undelivered Mail Returned to Sender" if hard else "Delayed Mail (still being retried)"}
Date: {format_datetime(when)}
Message-ID: {make_msgid(domain="mx.example.net")}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="{boundary}"

--{boundary}
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.net.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

--{boundary}
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
Arrival-Date: {format_datetime(when - timedelta(minutes=1))}

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; {diagnostic.format(r=recipient)}

--{boundary}
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: Claire Martin <{ADDRESS}>
To: {recipient}
Subject: {ours["subject"]}
Message-ID: {ours["message_id"]}

--{boundary}--
""".replace("\n", "\r\n").encode()


# The data ----------------------------------------------------------------------------------


def make_mailbox(dovecot: Dovecot, smtp: SmtpServer):
    """The workspace and its sending mailbox, connected through the services (the connection
    test logs in to both servers)."""
    from accounts.models import Workspace
    from email_accounts.models import Mailbox
    from email_accounts.services import ServerInput, mailbox_connect_smtp, smtp_imap_details

    dovecot.add_user(ADDRESS, PASSWORD)
    workspace = Workspace.objects.create(name="Bench reply sync", plan="pro")
    details = smtp_imap_details(
        email=ADDRESS,
        sender_name="Claire Martin",
        smtp=ServerInput("localhost", smtp.port, "starttls", password=PASSWORD),
        imap=ServerInput("localhost", dovecot.imaps_port, "ssl"),
        append_to_sent=False,
    )
    mailbox = mailbox_connect_smtp(workspace=workspace, details=details)
    Mailbox.objects.for_workspace(workspace).filter(pk=mailbox.pk).update(
        daily_limit=2000, daily_limit_max=2000, ramp_up_enabled=False
    )
    mailbox.refresh_from_db()
    return workspace, mailbox


def make_campaign(workspace, mailbox, sent: int, now: datetime, due: datetime) -> list[dict]:
    """A launched two-step campaign whose step 1 went to `sent` contacts over the last three
    days (each contact at a company of its own); returns what each sent message looks like."""
    from campaigns.mime import new_message_id
    from campaigns.models import (
        ALL_WEEKDAYS,
        Campaign,
        CampaignStatus,
        Enrollment,
        EnrollmentStatus,
        MessageStatus,
        OutboundMessage,
        Step,
        Variant,
    )
    from contacts.models import Contact

    campaign = Campaign.objects.for_workspace(workspace).create(
        workspace=workspace,
        name="Spring outreach",
        status=CampaignStatus.ACTIVE,
        launched_at=now - timedelta(days=3),
        timezone="Europe/Paris",
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
        workspace=workspace, campaign=campaign, position=1, delay_amount=4, delay_unit="days"
    )
    variant = Variant.objects.for_workspace(workspace).create(
        workspace=workspace,
        step=first,
        label="A",
        subject="Une question, {{firstName|there}}",
        body="Bonjour {{firstName|there}},\n\nJe me permets de vous écrire au sujet de "
        "{{company}}.\n\nBonne journée,\n{{sender.firstName}}",
    )
    contacts = Contact.objects.for_workspace(workspace).bulk_create(
        Contact(
            workspace=workspace,
            email=f"lea{i}@company{i}.example.com",
            first_name=f"Léa{i}",
            last_name="Dubois",
            company=f"Company {i}",
            source="manual",
        )
        for i in range(sent)
    )
    enrollments = Enrollment.objects.for_workspace(workspace).bulk_create(
        Enrollment(
            workspace=workspace,
            campaign=campaign,
            contact=contact,
            mailbox=mailbox,
            status=EnrollmentStatus.ACTIVE,
            started_at=now - timedelta(days=3),
            next_position=1,
            due_at=due,
        )
        for contact in contacts
    )
    spread = timedelta(days=3) / max(sent, 1)
    rows = []
    for i, (contact, enrollment) in enumerate(zip(contacts, enrollments, strict=True)):
        sent_at = now - timedelta(days=3) + spread * i
        rows.append(
            OutboundMessage(
                workspace=workspace,
                enrollment=enrollment,
                step=first,
                variant=variant,
                mailbox=mailbox,
                message_id=new_message_id(mailbox.email),
                subject=f"Une question, {contact.first_name}",
                status=MessageStatus.SENT,
                sent_at=sent_at,
                quota_day=sent_at.date(),
                next_attempt_at=sent_at,
            )
        )
    OutboundMessage.objects.for_workspace(workspace).bulk_create(rows, batch_size=1000)
    Enrollment.objects.unscoped().filter(campaign=campaign).update(last_subject="Une question")
    return [
        {
            "email": contact.email,
            "first_name": contact.first_name,
            "subject": row.subject,
            "message_id": row.message_id,
            "sent_at": row.sent_at,
        }
        for contact, row in zip(contacts, rows, strict=True)
    ]


def fill_history(dovecot, content, sent_messages, count, rng, now) -> tuple[Counter, int]:
    """`count` old messages straight into the maildir; about 1% concern our campaign."""
    kinds: Counter = Counter()
    size = 0
    ours = iter(sent_messages[: len(sent_messages) // 2])  # the new ones answer the other half
    start = now - timedelta(days=60)
    step = (now - timedelta(hours=2) - start) / max(count, 1)
    for i in range(count):
        when = start + step * i
        roll = rng.random()
        if roll < 0.006:
            raw, kind = reply_to(content, next(ours), when, i).as_bytes(), "reply"
        elif roll < 0.008:
            raw, kind = out_of_office(next(ours), when, i).as_bytes(), "out-of-office"
        elif roll < 0.010:
            raw, kind = bounce(next(ours), when, hard=rng.random() < 0.7), "bounce"
        else:
            message = unrelated(content, when, i)
            raw = message.as_bytes()
            kind = ("newsletter", "notification", "person")[
                0 if i % 10 < 4 else 1 if i % 10 < 7 else 2
            ]
        kinds[kind] += 1
        size += len(raw)
        dovecot.deliver(ADDRESS, raw)
    return kinds, size


def deliver_new(dovecot, content, sent_messages, rng, now) -> tuple[dict[str, str], int]:
    """The 50 new messages (in a shuffled order); returns {Message-ID: expected kind} of the
    relevant ones, and the bytes delivered."""
    targets = iter(sent_messages[len(sent_messages) // 2 :])
    plan = ["reply"] * 20 + ["hard"] * 3 + ["soft"] * 2 + ["ooo"] * 5 + ["unrelated"] * 20
    rng.shuffle(plan)
    expected: dict[str, str] = {}
    size = 0
    for i, what in enumerate(plan):
        when = now - timedelta(minutes=50 - i)
        if what == "reply":
            message = reply_to(content, next(targets), when, i)
            raw, kind = message.as_bytes(), "reply"
        elif what == "ooo":
            message = out_of_office(next(targets), when, i)
            raw, kind = message.as_bytes(), "auto_reply"
        elif what in ("hard", "soft"):
            raw, kind = bounce(next(targets), when, hard=what == "hard"), "bounce"
        else:
            raw, kind = unrelated(content, when, 100_000 + i).as_bytes(), ""
        if kind:
            from email import message_from_bytes

            expected[str(message_from_bytes(raw)["Message-ID"]).strip()] = kind
        size += len(raw)
        dovecot.deliver(ADDRESS, raw)
    return expected, size


# The two readers ---------------------------------------------------------------------------


def reset(mailbox, cursor: dict, due: datetime) -> None:
    """What one incremental sync changed, put back: its rows, the enrollments it stopped or
    paused, the bounces, suppressions and events, the campaign, and the mailbox's cursor."""
    from campaigns.models import (
        Campaign,
        CampaignStatus,
        Enrollment,
        EnrollmentStatus,
        InboundEmail,
        MessageStatus,
        OutboundMessage,
    )
    from contacts.models import Contact, ContactStatus, Suppression
    from email_accounts.models import Mailbox, MailboxStatus
    from webhooks.models import Event

    InboundEmail.objects.unscoped().all().delete()
    Event.objects.unscoped().all().delete()
    Suppression.objects.unscoped().all().delete()
    Contact.objects.unscoped().exclude(status=ContactStatus.ACTIVE, soft_bounces=0).update(
        status=ContactStatus.ACTIVE, soft_bounces=0, lead_status=""
    )
    Enrollment.objects.unscoped().exclude(status=EnrollmentStatus.ACTIVE).update(
        status=EnrollmentStatus.ACTIVE, stopped_reason="", paused_until=None, due_at=due
    )
    OutboundMessage.objects.unscoped().exclude(status=MessageStatus.SENT).update(
        status=MessageStatus.SENT, error="", error_code=""
    )
    Campaign.objects.unscoped().update(
        status=CampaignStatus.ACTIVE, status_reason="", warning="", warning_at=None
    )
    Mailbox.objects.unscoped().filter(pk=mailbox.pk).update(
        sync_cursor=cursor,
        sync_error="",
        status=MailboxStatus.CONNECTED,
        paused_until=None,
        blocked_at=None,
        blocked_reason="",
    )


PARTS = {
    "imap_new": "IMAP login, EXAMINE, UID SEARCH, headers",
    "prefilter": "header pre-filter (4 queries)",
    "imap_bodies": "IMAP whole messages (EXAMINE + FETCH each)",
    "classify": "classifier (with its Message-ID registry lookups)",
    "record": "recording (rows, enrollments, bounces, events)",
}


def incremental(mailbox, parts: Counter | None = None) -> tuple[float, object]:
    """One `mailbox_sync`; with `parts`, the time spent in each of its stages is added there
    (the stages are wrapped where sync.py calls them; "other" is the rest)."""
    from campaigns.inbound import sync
    from email_accounts.providers.smtp_imap import SmtpImapProvider

    if parts is None:
        started = time.perf_counter()
        result = sync.mailbox_sync(mailbox_id=mailbox.pk)
        return time.perf_counter() - started, result

    def timed(part, function):
        def wrapper(*args, **kwargs):
            begun = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                parts[part] += time.perf_counter() - begun

        return wrapper

    patches = [
        (SmtpImapProvider, "fetch_new", "imap_new"),
        (SmtpImapProvider, "fetch_raw", "imap_bodies"),
        (sync, "_worth_reading", "prefilter"),
        (sync, "classify", "classify"),
        (sync, "plain_body", "classify"),
        (sync, "inbound_record", "record"),
    ]
    originals = [(owner, name, getattr(owner, name)) for owner, name, _part in patches]
    for (owner, name, part), (_o, _n, original) in zip(patches, originals, strict=True):
        setattr(owner, name, timed(part, original))
    try:
        started = time.perf_counter()
        result = sync.mailbox_sync(mailbox_id=mailbox.pk)
        seconds = time.perf_counter() - started
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)
    parts["other"] += seconds - sum(parts[part] for part in PARTS)
    return seconds, result


def full_fetch(dovecot: Dovecot, ours: set[str]) -> tuple[float, dict[str, str], int]:
    """The naive reader: every message whole, every one classified. Returns its time, the
    relevant messages it found ({Message-ID: kind}) and how many it read."""
    from imapclient import IMAPClient

    from email_accounts.inbound import classify
    from email_accounts.providers.connection import tls_context

    relevant: dict[str, str] = {}
    started = time.perf_counter()
    client = IMAPClient("localhost", port=dovecot.imaps_port, ssl_context=tls_context())
    client.normalise_times = False
    client.login(ADDRESS, PASSWORD)
    try:
        client.select_folder("INBOX")
        uids = client.search("ALL")
        for start in range(0, len(uids), FULL_FETCH_BATCH):
            batch = uids[start : start + FULL_FETCH_BATCH]
            for data in client.fetch(batch, ["BODY.PEEK[]", "INTERNALDATE"]).values():
                received = data.get(b"INTERNALDATE")
                verdict = classify(
                    data[b"BODY[]"],
                    received_at=received.astimezone(UTC) if received else None,
                    is_ours=ours.__contains__,
                )
                if verdict.kind not in ("reply", "auto_reply", "bounce", "complaint"):
                    continue
                cited = {verdict.original_message_id, *verdict.references}
                if cited & ours:
                    relevant[verdict.message_id] = verdict.kind
    finally:
        client.logout()
    return time.perf_counter() - started, relevant, len(uids)


def round_trips(dovecot: Dovecot, uids: int = 20) -> tuple[float, float]:
    """What one whole message costs the incremental sync on this folder, as bare commands:
    EXAMINE INBOX (milliseconds) and one UID FETCH BODY.PEEK[] of a small message."""
    from imapclient import IMAPClient

    from email_accounts.providers.connection import tls_context

    with IMAPClient("localhost", port=dovecot.imaps_port, ssl_context=tls_context()) as client:
        client.login(ADDRESS, PASSWORD)
        top = client.select_folder("INBOX", readonly=True)[b"UIDNEXT"] - 1
        started = time.perf_counter()
        for _ in range(uids):
            client.select_folder("INBOX", readonly=True)
        examine = (time.perf_counter() - started) / uids
        started = time.perf_counter()
        for uid in range(top - uids + 1, top + 1):
            client.fetch([uid], ["BODY.PEEK[]"])
        fetch = (time.perf_counter() - started) / uids
    return examine * 1000, fetch * 1000


def _fmt(samples: list[float]) -> str:
    return ", ".join(f"{s:.3f}" for s in samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000, help="messages in the inbox")
    parser.add_argument("--sent", type=int, default=2000, help="campaign messages sent")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    new_count = 50
    old_count = args.messages - new_count
    rng = random.Random(6)
    random.seed(6)

    # Dovecot's folders: under BENCH_TMP when set, else the system's temporary directory.
    with tempfile.TemporaryDirectory(
        prefix="reply-sync-", dir=os.environ.get("BENCH_TMP")
    ) as directory:
        dovecot = Dovecot(Path(directory))
        dovecot.start()
        smtp = SmtpServer(dovecot)
        smtp.start()
        try:
            configure(dovecot)
            Wire.install()
            from benchdb import drop_database, recreate_database
            from django.core.management import call_command
            from django.utils import timezone

            recreate_database()
            try:
                call_command("migrate", verbosity=0)
                figures = run(args, dovecot, smtp, rng, old_count, new_count, timezone.now())
                from django.db import connections

                connections.close_all()
            finally:
                if not args.keep:
                    drop_database()
        finally:
            smtp.stop()
            dovecot.stop()

    inc, full = figures
    print(
        f"reply_sync: incremental_s={inc:.3f} full_s={full:.3f} speedup={full / inc:.1f} "
        f"messages={args.messages} new={new_count}"
    )


def run(args, dovecot, smtp, rng, old_count, new_count, now) -> tuple[float, float]:
    from campaigns.models import InboundEmail
    from email_accounts.models import Mailbox

    print(f"load average: {os.getloadavg()[0]:.1f} (cores: {os.cpu_count()})")
    started = time.perf_counter()
    workspace, mailbox = make_mailbox(dovecot, smtp)
    due = now + timedelta(days=4)
    sent_messages = make_campaign(workspace, mailbox, args.sent, now, due)
    ours = {m["message_id"] for m in sent_messages}
    content = Content(rng)
    history, history_bytes = fill_history(dovecot, content, sent_messages, old_count, rng, now)
    print(
        f"set-up: {args.sent} campaign messages sent; {old_count} old messages in INBOX "
        f"({history_bytes / 1e6:.1f} MB: "
        + ", ".join(f"{n} {kind}" for kind, n in history.most_common())
        + f") in {time.perf_counter() - started:.1f} s"
    )

    # The first sync sets the starting point (reads no history); Dovecot indexes the folder.
    Wire.reset()
    first = incremental(mailbox)[1]
    assert first.error == "" and first.new == 0, first
    print(f"first sync (sets the cursor): {Wire.commands} IMAP commands")
    cursor = Mailbox.objects.unscoped().get(pk=mailbox.pk).sync_cursor
    expected, new_bytes = deliver_new(dovecot, content, sent_messages, rng, now)
    print(
        f"new: {new_count} messages ({new_bytes / 1e3:.0f} kB), of which {len(expected)} "
        f"concern the campaign: {dict(Counter(expected.values()))}"
    )

    # Incremental: the same work every repeat.
    samples, wire, breakdowns = [], [], []
    for _ in range(args.repeat):
        reset(mailbox, cursor, due)
        Wire.reset()
        breakdowns.append(Counter())
        seconds, result = incremental(mailbox, breakdowns[-1])
        wire.append((Wire.commands, Wire.received))
        samples.append(seconds)
        assert result.error == "", result.error
        assert (result.new, result.recorded) == (new_count, len(expected)), result
    recorded = dict(
        InboundEmail.objects.unscoped().filter(mailbox=mailbox).values_list("message_id", "kind")
    )
    inc = statistics.median(samples)
    print(
        f"incremental: {_fmt(samples)} s (median {inc:.3f}); {result.new} new, "
        f"{result.read} read whole, {result.recorded} recorded; "
        f"{wire[-1][0]} IMAP commands, {wire[-1][1] / 1e3:.0f} kB received"
    )
    for part, label in [*PARTS.items(), ("other", "the rest (mailbox row, cursor, session)")]:
        median = statistics.median(b[part] for b in breakdowns)
        print(f"    {median:6.3f} s  {label}")

    examine_ms, fetch_ms = round_trips(dovecot)
    print(
        f"bare IMAP on this folder, back to back: EXAMINE INBOX {examine_ms:.1f} ms, one UID "
        f"FETCH BODY.PEEK[] {fetch_ms:.1f} ms (the sync does both for each message it reads "
        "whole)"
    )

    # Full fetch: the naive reader, same classifier.
    full_samples, found = [], {}
    for attempt in range(args.repeat):
        Wire.reset()
        seconds, found, read = full_fetch(dovecot, ours)
        full_samples.append(seconds)
        full_wire = (Wire.commands, Wire.received)
        if attempt == 0 and seconds > 60:
            break
    full = statistics.median(full_samples)
    found_new = {mid: kind for mid, kind in found.items() if mid in expected}
    print(
        f"full fetch: {_fmt(full_samples)} s (median {full:.3f}); {read} read whole and "
        f"classified; {len(found)} answer our messages ({len(found) - len(found_new)} in the "
        f"history, {len(found_new)} new); {full_wire[0]} IMAP commands, "
        f"{full_wire[1] / 1e6:.1f} MB received"
    )

    # Both found the same relevant messages among the new ones, and what was planted.
    assert found_new == expected, (Counter(found_new.values()), Counter(expected.values()))
    assert recorded == expected, (Counter(recorded.values()), Counter(expected.values()))
    print(
        "check: incremental recorded and full fetch found the same "
        f"{len(expected)} messages among the new ({dict(Counter(recorded.values()))})"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (2 cores, shared with other work)")
    return inc, full


if __name__ == "__main__":
    main()
