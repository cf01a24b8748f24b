"""The sending engine under crashes, races and a lost broker (issue 5, "Reliability tests";
DESIGN.md §1 promises 1, 3 and 4).

Everything is real and separate: PostgreSQL, Redis, the loopback SMTP and IMAP servers, and
Celery workers started as their own processes (tests/celery_workers.py) and killed with
SIGKILL. What each test proves:

- a worker killed after the tick claimed a step (the nudge taken off the queue, the row still
  `scheduled`): the sweeper queues it again and it goes out once;
- a worker killed after committing `sending`, before the server saw any of the message: it is
  never sent again by itself; past the lease it becomes `unknown`, is not found in Sent, and
  stays `unknown` for a person to decide;
- a worker killed after the server accepted the message, before `sent` was recorded: the
  recipient has it exactly once, and it is never sent again; past the lease it is `unknown`,
  and the Sent-folder lookup by Message-ID turns it `sent` when a copy is there: filed by the
  host (Gmail, Microsoft 365), or by FluenzR when the worker died after filing it. When the
  worker died before FluenzR filed the copy (it does so after the server's 250), there is
  nothing to find and it stays `unknown`, for a person to decide;
- two beats ticking in lockstep and three sending workers over 1,100 due enrollments on 25
  mailboxes: each (enrollment, step) is sent once, no mailbox goes over its daily cap or
  under its 20 s spacing, and the contacts the caps leave out are still due;
- Redis flushed while nudges were queued (a worker frozen with SIGSTOP meanwhile): the nudge
  the worker already held goes when it wakes, the lost ones stay `scheduled` until the
  sweeper's requeue, and then every one goes out, once.

The beat's clock is walked by hand (the tick takes `now`; 20 s of spacing per mailbox would
otherwise take minutes), always in the recent past so that the workers, which use the real
clock, find the work due. The sending window is 06:00-18:00 in a time zone where it is about
noon now, so that no window edge or local midnight falls inside a test.
"""

from __future__ import annotations

import itertools
import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from campaigns import services, tasks
from campaigns.engine import scheduler, sweeper
from campaigns.models import (
    ALL_WEEKDAYS,
    Campaign,
    Enrollment,
    EnrollmentStatus,
    MessageStatus,
    OutboundMessage,
)
from contacts.models import Contact, ContactSource
from email_accounts.models import Mailbox
from email_accounts.services import ServerInput, mailbox_connect_smtp, smtp_imap_details
from fluenzr.celery import app
from tests.celery_workers import ForkServer, Worker, Workers, database_url
from tests.mail.servers import MailServers
from tests.mailboxes import read_inbox
from webhooks.models import Event

pytestmark = pytest.mark.django_db(transaction=True)

SPACING = 20  # seconds: the floor of a mailbox's spacing
AFTER_THE_LEASE = sweeper.SENDING_LEASE + timedelta(seconds=1)
SEND = "campaigns.message_send"
SWEEP = "campaigns.sweep"
RECORD_SENT = "campaigns.engine.sender._record_sent"  # what message_send calls once it left


def broker() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


@pytest.fixture(scope="session")
def fork_server(django_db_setup, _mail_servers_session, tmp_path_factory) -> Iterator[ForkServer]:
    """Forks the workers, on the test database, this Redis, and trusting the mail servers."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": settings.REDIS_URL,
        "EMAIL_ACCOUNTS_EXTRA_CA_FILE": str(_mail_servers_session.dovecot.cert),
        "EMAIL_ACCOUNTS_STEP_TIMEOUT": "10",  # two loaded cores; loopback answers, or never
    }
    server = ForkServer(env, tmp_path_factory.mktemp("workers") / "fork-server.log")
    yield server
    server.close()


@pytest.fixture
def workers(transactional_db, trusted_mail_servers, fork_server, tmp_path) -> Iterator[Workers]:
    """Starts Celery workers; stops them all at the end of the test (their logs are printed,
    so that a failing test shows them)."""
    broker().flushdb()  # no stale nudges from another test
    pool = Workers(server=fork_server, log_dir=tmp_path)
    yield pool
    pool.stop_all()
    print(pool.logs())


def zone_near_noon(now: datetime) -> str:
    """A fixed-offset zone where it is 12:xx now: far from the window's edges and midnight.
    (POSIX signs: Etc/GMT-5 is UTC+5.)"""
    offset = 12 - now.astimezone(UTC).hour
    return f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"


@dataclass
class Outreach:
    campaign: Campaign
    mailboxes: list[Mailbox]
    contacts: list[Contact]
    password: str


def outreach(
    alice,
    servers: MailServers,
    *,
    launched_at: datetime,
    mailboxes: int = 1,
    contacts: int = 1,
    daily_limit: int = 100,
    append_to_sent: bool = True,
) -> Outreach:
    """A launched two-step campaign (the follow-up two days later) whose first step is due for
    every contact at `launched_at`. The first mailbox is connected through the real service
    (it is a Dovecot user, with a Sent folder); the others are copies of it with their own
    addresses (same login, which the SMTP server accepts)."""
    zone = zone_near_noon(timezone.now())
    label = uuid.uuid4().hex[:8]
    address, password = servers.mailbox(f"sales-{label}@sender.example.com")
    details = smtp_imap_details(
        email=address,
        sender_name="Claire Martin",
        smtp=ServerInput("localhost", servers.smtp.port, "starttls", password=password),
        imap=ServerInput("localhost", servers.dovecot.imaps_port, "ssl"),
        append_to_sent=append_to_sent,
    )
    first = mailbox_connect_smtp(workspace=alice.workspace, details=details)
    Mailbox.objects.unscoped().filter(pk=first.pk).update(
        daily_limit=daily_limit,
        ramp_up_enabled=False,
        spacing_min_seconds=SPACING,
        spacing_max_seconds=SPACING,
        timezone=zone,
    )
    senders = [Mailbox.objects.unscoped().get(pk=first.pk)]
    for index in range(1, mailboxes):
        copy = Mailbox.objects.unscoped().get(pk=first.pk)
        copy.pk, copy.email = None, f"sales-{label}-{index}@sender.example.com"
        copy.save()
        senders.append(copy)
    people = Contact.objects.for_workspace(alice.workspace).bulk_create(
        Contact(
            workspace=alice.workspace,
            email=f"prospect{index}-{label}@reader{index % 7}.example.net",
            first_name=f"Léa{index}",
            company="Acme",
            source=ContactSource.MANUAL,
        )
        for index in range(contacts)
    )
    campaign = services.campaign_create(
        workspace=alice.workspace,
        name="Reliability",
        mailboxes=senders,
        timezone=zone,
        weekdays=ALL_WEEKDAYS,
        window_start=clock_time(6),
        window_end=clock_time(18),
        spacing_min_seconds=SPACING,
        spacing_max_seconds=SPACING,
    )
    services.step_add(
        workspace=alice.workspace,
        campaign=campaign,
        subject="Une question, {{firstName|there}}",
        body="Bonjour {{firstName|there}},\n\nUn mot au sujet de {{company}}.",
    )
    services.step_add(
        workspace=alice.workspace,
        campaign=campaign,
        body="Je relance, {{firstName}}.",
        delay_amount=2,
        delay_unit="days",
    )
    result = services.campaign_enroll(
        workspace=alice.workspace,
        campaign=campaign,
        contacts=Contact.objects.for_workspace(alice.workspace).filter(
            pk__in=[c.pk for c in people]
        ),
    )
    assert result.added == contacts
    campaign = services.campaign_launch(
        workspace=alice.workspace, campaign=campaign, now=launched_at
    )
    return Outreach(campaign, senders, people, password)


def tick(now: datetime) -> list[OutboundMessage]:
    """One beat tick in this process, enqueueing for real (to Redis, on commit)."""
    before = set(OutboundMessage.objects.unscoped().values_list("pk", flat=True))
    scheduler.scheduler_tick(enqueue=tasks.enqueue_send, now=now)
    return list(OutboundMessage.objects.unscoped().exclude(pk__in=before))


def received(servers: MailServers) -> Counter:
    """How many times the SMTP server accepted each Message-ID."""
    return Counter(r.message["Message-ID"] for r in servers.smtp.received)


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str, pool: Workers) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"Not reached in {timeout} s: {what}\n{pool.logs()}")
        time.sleep(0.1)


def run(worker: Worker, task_name: str, **options) -> object:
    """Publish a task and return what `worker` answered."""
    result = app.send_task(task_name, **options)
    return worker.result(task_name, result.id)


def status_of(message: OutboundMessage) -> str:
    return OutboundMessage.objects.unscoped().values_list("status", flat=True).get(pk=message.pk)


# ---------------------------------------------------------------- 1. kill -9 at each point


def test_killed_after_the_claim_the_sweeper_requeues_and_it_goes_out_once(
    alice, trusted_mail_servers, workers
):
    servers = trusted_mail_servers
    clock = timezone.now() - timedelta(minutes=2)  # the nudge is overdue for the sweeper
    plan = outreach(alice, servers, launched_at=clock)
    [message] = tick(clock)
    assert broker().llen("sending") == 1  # claimed, quota reserved, nudge queued

    # The worker takes the nudge off the queue (acknowledged: sends are not acks_late), then
    # dies before running it.
    doomed = workers.start("doomed", "sending", pause_before=SEND)
    doomed.wait_for(rf"FLUENZR-TEST paused before {SEND}\[", timeout=60)
    assert broker().llen("sending") == 0
    doomed.kill()
    assert status_of(message) == MessageStatus.SCHEDULED
    assert servers.smtp.received == []

    # A new worker; the next sweep finds the row whose nudge never ran, and queues it again.
    restarted = workers.start("restarted", "sending,scheduler").wait_ready()
    assert run(restarted, SWEEP) == {"requeued": 1, "unknown": 0, "reconciled": 0}
    restarted.wait_for(rf"Task {SEND}\[[^\]]+\] succeeded in \S+: 'sent'")
    assert restarted.results(SEND) == ["sent"]
    assert status_of(message) == MessageStatus.SENT
    # A late duplicate nudge (a sweep racing the worker) is harmless: the claim refuses it.
    assert run(restarted, SEND, args=[str(message.pk)]) == "not_mine"
    assert run(restarted, SWEEP) == {"requeued": 0, "unknown": 0, "reconciled": 0}

    assert received(servers) == {message.message_id: 1}
    assert servers.smtp.received[0].recipients == [plan.contacts[0].email]
    enrollment = Enrollment.objects.unscoped().get()
    assert enrollment.next_position == 1  # on to the follow-up, due two days later
    assert enrollment.due_at is not None and enrollment.due_at > timezone.now()
    assert Event.objects.for_workspace(alice.workspace).filter(type="email.sent").count() == 1


def test_killed_after_sending_was_committed_before_data_it_is_never_resent(
    alice, trusted_mail_servers, workers
):
    servers = trusted_mail_servers
    clock = timezone.now() - timedelta(minutes=2)
    plan = outreach(alice, servers, launched_at=clock)
    hold = servers.smtp.hold("mail")  # the server stops the dialogue at MAIL FROM
    doomed = workers.start("doomed", "sending")
    [message] = tick(clock)
    hold.wait_reached(timeout=60)
    assert status_of(message) == MessageStatus.SENDING  # committed before the provider call
    doomed.kill()
    hold.release()
    assert received(servers) == {}

    restarted = workers.start("restarted", "sending,scheduler").wait_ready()
    # Within its lease a `sending` message is left alone: not requeued, not resent.
    assert run(restarted, SWEEP) == {"requeued": 0, "unknown": 0, "reconciled": 0}
    assert run(restarted, SEND, args=[str(message.pk)]) == "not_mine"
    assert status_of(message) == MessageStatus.SENDING
    # Past the lease (the sweeper ten minutes later) it is `unknown`; it is not in Sent.
    assert sweeper.expire_sending(now=timezone.now() + AFTER_THE_LEASE) == 1
    assert run(restarted, SWEEP) == {"requeued": 0, "unknown": 0, "reconciled": 0}

    message.refresh_from_db()
    assert message.status == MessageStatus.UNKNOWN  # shown to the user, never resent by itself
    assert message.error
    assert received(servers) == {}
    assert read_inbox(servers, plan.mailboxes[0].email, plan.password, folder="Sent") == []
    enrollment = Enrollment.objects.unscoped().get()
    assert (enrollment.status, enrollment.next_position, enrollment.due_at) == (
        EnrollmentStatus.ACTIVE,
        0,
        None,
    )
    assert not Event.objects.for_workspace(alice.workspace).filter(type="email.sent").exists()


@pytest.mark.parametrize(
    ("copy_in_sent_by", "killed"),
    [
        # Gmail, Microsoft 365: their SMTP server files the copy in Sent as it accepts.
        ("host", "awaiting the reply"),
        # Other hosts: FluenzR files the copy itself, once the server has said 250.
        ("fluenzr", "awaiting the reply"),
        ("fluenzr", "after the reply"),
    ],
)
def test_killed_after_the_server_accepted_it_it_is_unknown_then_reconciled_never_resent(
    alice, trusted_mail_servers, workers, copy_in_sent_by, killed
):
    servers = trusted_mail_servers
    clock = timezone.now() - timedelta(minutes=2)
    if copy_in_sent_by == "host":
        servers.smtp.file_sent_copies()
    plan = outreach(alice, servers, launched_at=clock, append_to_sent=copy_in_sent_by != "host")
    hold = None
    if killed == "awaiting the reply":  # accepted and delivered; the 250 is held back
        hold = servers.smtp.hold("data")
        doomed = workers.start("doomed", "sending")
        [message] = tick(clock)
        hold.wait_reached(timeout=60)
    else:  # the 250 came, the copy is filed; the worker dies before recording `sent`
        doomed = workers.start("doomed", "sending", pause_at=RECORD_SENT)
        [message] = tick(clock)
        doomed.wait_for(f"FLUENZR-TEST paused at {RECORD_SENT}", timeout=60)
    assert received(servers) == {message.message_id: 1}
    assert status_of(message) == MessageStatus.SENDING
    doomed.kill()
    if hold is not None:
        hold.release()

    restarted = workers.start("restarted", "sending,scheduler").wait_ready()
    assert run(restarted, SWEEP) == {"requeued": 0, "unknown": 0, "reconciled": 0}
    assert run(restarted, SEND, args=[str(message.pk)]) == "not_mine"
    assert sweeper.expire_sending(now=timezone.now() + AFTER_THE_LEASE) == 1
    assert status_of(message) == MessageStatus.UNKNOWN
    swept = run(restarted, SWEEP)

    enrollment = Enrollment.objects.unscoped().get()
    sent_events = Event.objects.for_workspace(alice.workspace).filter(type="email.sent")
    in_sent = read_inbox(servers, plan.mailboxes[0].email, plan.password, folder="Sent")
    if copy_in_sent_by == "host" or killed == "after the reply":
        # Found in Sent by its Message-ID: recorded as sent, the contact moves on.
        assert len(in_sent) == 1
        assert swept == {"requeued": 0, "unknown": 0, "reconciled": 1}
        assert status_of(message) == MessageStatus.SENT
        assert enrollment.next_position == 1 and enrollment.due_at is not None
        assert sent_events.count() == 1
    else:
        # The worker that would have filed the copy died first: nothing in Sent to find, so
        # it stays `unknown` (with its error) for a person to decide, and is never resent.
        assert in_sent == []
        assert swept == {"requeued": 0, "unknown": 0, "reconciled": 0}
        assert status_of(message) == MessageStatus.UNKNOWN
        assert (enrollment.next_position, enrollment.due_at) == (0, None)
        assert not sent_events.exists()
    # Either way, the recipient got it exactly once.
    assert received(servers) == {message.message_id: 1}
    assert servers.smtp.received[0].recipients == [plan.contacts[0].email]
    assert run(restarted, SWEEP) == {"requeued": 0, "unknown": 0, "reconciled": 0}


# ---------------------------------------------------------------- 2. two beats, many workers


def test_two_beats_and_three_workers_send_each_step_once_within_every_cap(
    alice, trusted_mail_servers, workers
):
    servers = trusted_mail_servers
    # 1,100 enrollments due at once, far more than the mailboxes may send today: each tick
    # works through due work, the caps decide. (A send costs about 0.3 s of CPU here, so the
    # caps are small: 100 sends keep the test well under a minute on two cores.)
    mailboxes, cap, contacts = 25, 4, 1100
    rounds = cap + 2  # two more ticks once every cap is full
    start = timezone.now() - timedelta(seconds=SPACING * rounds + 30)
    plan = outreach(
        alice,
        servers,
        launched_at=start,
        mailboxes=mailboxes,
        contacts=contacts,
        daily_limit=cap,
        append_to_sent=False,  # a fast sink: no IMAP copy per send
    )
    beats = [workers.start(f"beat{n}", f"beat{n}") for n in (1, 2)]
    senders = [workers.start(f"sender{n}", "sending") for n in (1, 2, 3)]
    for worker in beats + senders:
        worker.wait_ready()

    created = Counter()
    for round_ in range(rounds):  # both beats tick the same instant at the same time
        at = (start + timedelta(seconds=SPACING * round_)).isoformat()
        published = [(b, app.send_task("tests.tick_at", args=[at], queue=b.queues)) for b in beats]
        for beat, result in published:
            created[beat.name] += beat.result("tests.tick_at", result.id)
    messages = OutboundMessage.objects.unscoped()
    wait_until(
        lambda: (
            not messages.filter(
                status__in=(MessageStatus.SCHEDULED, MessageStatus.SENDING)
            ).exists()
        ),
        timeout=90,
        what="every claimed message is sent",
        pool=workers,
    )

    # Every mailbox filled its cap exactly, from both beats, and not one send more.
    assert created.total() == messages.count() == mailboxes * cap
    assert all(created[b.name] > 0 for b in beats), created
    assert Counter(messages.values_list("status", flat=True)) == {
        MessageStatus.SENT: mailboxes * cap
    }
    per_mailbox = Counter(messages.values_list("mailbox_id", "quota_day"))
    assert len(per_mailbox) == mailboxes and set(per_mailbox.values()) == {cap}
    for mailbox in Mailbox.objects.unscoped().filter(pk__in=[m.pk for m in plan.mailboxes]):
        assert mailbox.sent_today == cap <= mailbox.daily_limit
        claims = sorted(messages.filter(mailbox=mailbox).values_list("next_attempt_at", flat=True))
        assert all(b - a >= timedelta(seconds=SPACING) for a, b in itertools.pairwise(claims))
    # One message per (enrollment, step), and the server saw each exactly once.
    assert messages.values("enrollment_id", "step_id").distinct().count() == mailboxes * cap
    at_server = received(servers)
    assert set(at_server.values()) == {1}
    assert set(at_server) == set(messages.values_list("message_id", flat=True))
    recipients = Counter(r.recipients[0] for r in servers.smtp.received)
    assert len(recipients) == mailboxes * cap and set(recipients.values()) == {1}
    # Sent ones wait for the follow-up; the ones the caps left out are still due, not lost.
    enrollments = Enrollment.objects.unscoped()
    assert enrollments.filter(next_position=1, due_at__gt=timezone.now()).count() == (
        mailboxes * cap
    )
    waiting = enrollments.filter(next_position=0)
    assert waiting.count() == contacts - mailboxes * cap
    assert not waiting.filter(due_at__isnull=True).exists()
    assert not waiting.filter(messages__isnull=False).exists()
    for worker in beats + senders:
        assert "Traceback" not in worker.output(), worker.output()


# ---------------------------------------------------------------- 3. Redis flushed mid-run


def test_a_redis_flush_mid_run_loses_no_send(alice, trusted_mail_servers, workers):
    servers = trusted_mail_servers
    mailboxes = 12
    start = timezone.now() - timedelta(minutes=2)
    plan = outreach(
        alice,
        servers,
        launched_at=start,
        mailboxes=mailboxes,
        contacts=2 * mailboxes,
        append_to_sent=False,
    )
    beat = workers.start("beat", "scheduler")
    sender = workers.start("sender", "sending")
    beat.wait_ready()
    sender.wait_ready()
    messages = OutboundMessage.objects.unscoped()

    def sent() -> int:
        return messages.filter(status=MessageStatus.SENT).count()

    # First round: claimed by the beat process, sent by the worker.
    assert run(beat, "tests.tick_at", args=[start.isoformat()], queue="scheduler") == mailboxes
    wait_until(lambda: sent() == mailboxes, timeout=30, what="round 1 sent", pool=workers)

    # Second round: claimed and queued while the worker is frozen, then Redis loses it all.
    sender.signal(signal.SIGSTOP)
    try:
        later = (start + timedelta(seconds=SPACING)).isoformat()
        assert run(beat, "tests.tick_at", args=[later], queue="scheduler") == mailboxes
        lost = broker().llen("sending")
        # At most one nudge had already reached the frozen worker (its pending BRPOP).
        assert lost >= mailboxes - 1
        broker().flushdb()
    finally:
        sender.signal(signal.SIGCONT)
    held = mailboxes - lost  # goes out when the worker wakes; the others' nudges are gone
    wait_until(
        lambda: len(sender.results(SEND)) == mailboxes + held,
        timeout=30,
        what="the worker sent what it held",
        pool=workers,
    )
    assert broker().llen("sending") == 0
    assert messages.filter(status=MessageStatus.SCHEDULED).count() == lost
    assert sent() == mailboxes + held

    # The sweep (from the same beat process that queued before the flush) requeues them.
    assert run(beat, SWEEP) == {"requeued": lost, "unknown": 0, "reconciled": 0}
    wait_until(
        lambda: sent() == 2 * mailboxes,
        timeout=30,
        what="every requeued message is sent",
        pool=workers,
    )
    at_server = received(servers)
    assert set(at_server.values()) == {1} and len(at_server) == 2 * mailboxes
    recipients = Counter(r.recipients[0] for r in servers.smtp.received)
    assert set(recipients) == {c.email for c in plan.contacts}
    assert set(recipients.values()) == {1}
