"""The scheduler tick at 100,000 and 1,000,000 enrollments with the same work due, against the
loop most code starts with (load every running enrollment, decide in Python).

    .venv/bin/python bench/scheduler.py                   # 100,000 then 1,000,000 enrollments
    .venv/bin/python bench/scheduler.py --rows 20000       # a quick run (20,000 then 200,000)

It recreates the database `fluenzr_bench_scheduler` (BENCH_DATABASE_URL overrides it; the name
must contain "bench", since it is dropped) and fills it with set-based SQL: 100 workspaces,
each with 10 mailboxes and 5 active two-step campaigns sending from all 10 of them (1,000
mailboxes, 500 campaigns); mailboxes and campaigns spread over 8 time zones, every campaign's
window open all week 00:00-23:59 in its zone, so it is open at the bench's NOW everywhere.
Each contact is enrolled in the 5 campaigns of its workspace.

Of the first --rows enrollments, 10% are due at NOW (70% not started yet, 30% waiting for
step 2 on the mailbox that wrote step 1), the rest are due later or completed. The tick is
then timed --repeat times (median), every run on the same state: between runs the messages
are deleted and the due enrollments and the mailboxes put back with UPDATEs (then VACUUM
ANALYZE, the steady state). Then --scale - 1 times as many enrollments are added, all of them
not due (due later, or completed), and the tick is timed again: its cost should follow the work
due, not the table's size (DESIGN.md §4). The baseline, run at the first size only, loads
every running enrollment with its campaign and contact and checks due time, campaign, window
and mailbox in Python, sending the same messages with the same per-send checks.

A tick claims one message per mailbox (spacing), so a tick creates at most 1,000 messages
however many are due. The claim query's plan (EXPLAIN ANALYZE of the exact SQL the tick runs
for its first batch of mailboxes), the `ready` query's, and the tick's queries by kind go to
stdout.

Prints one last line `scheduler: …`; growth = tick_s_10x / tick_s (≤ 1.5 is the target),
speedup_vs_naive = naive_s / tick_s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/fluenzr_bench_scheduler"

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
# The bench drops and recreates its database: never the one DATABASE_URL names for work.
os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
os.environ["DJANGO_SETTINGS_MODULE"] = "fluenzr.settings"
os.environ.setdefault("DEBUG", "1")  # the development secrets; the query log is off below
os.environ.pop("REDIS_URL", None)  # locmem cache, no broker: the tick's enqueue is a list

import django  # noqa: E402

django.setup()

from benchdb import drop_database, recreate_database  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from accounts.models import Workspace  # noqa: E402
from campaigns import schedule  # noqa: E402
from campaigns.engine import scheduler  # noqa: E402
from campaigns.engine.compose import choose_variant  # noqa: E402
from campaigns.mime import new_message_id  # noqa: E402
from campaigns.models import (  # noqa: E402
    ALL_WEEKDAYS,
    RUNNING_ENROLLMENT,
    Campaign,
    CampaignStatus,
    Enrollment,
    EnrollmentStatus,
    OutboundMessage,
    Step,
    Variant,
)
from campaigns.windows import campaign_window  # noqa: E402
from contacts.models import ContactStatus  # noqa: E402
from contacts.selectors import email_sendability  # noqa: E402
from email_accounts import selectors as mailbox_selectors  # noqa: E402
from email_accounts.models import Mailbox, MailboxStatus, Provider  # noqa: E402

# Timed code runs as in production: no per-query debug log.
settings.DEBUG = False

# A Tuesday, 12:00 UTC: 05:00 in Los Angeles … 22:00 in Sydney, inside every 00:00-23:59 window.
NOW = datetime(2026, 6, 2, 12, 0, tzinfo=UTC)
ZONES = (
    "UTC", "Europe/Paris", "America/New_York", "America/Los_Angeles", "Asia/Tokyo",
    "Australia/Sydney", "Asia/Kolkata", "America/Sao_Paulo",
)  # fmt: skip
WORKSPACES = 100
MAILBOXES_PER_WORKSPACE = 10
CAMPAIGNS_PER_WORKSPACE = 5
CAMPAIGNS = WORKSPACES * CAMPAIGNS_PER_WORKSPACE
DUE_EVERY = 10  # one enrollment in 10 of the first size is due
FOLLOW_UP_SHARE = 0.3  # of the due ones: step 2, on the mailbox that sent step 1
DAILY_LIMIT = 500


# The data ------------------------------------------------------------------------------------


def _sql(statement: str, params: Any = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def build_accounts() -> dict[str, list]:
    """Workspaces, mailboxes, campaigns (two steps, variant A each) and their senders."""
    workspaces = Workspace.objects.bulk_create(
        Workspace(name=f"Bench {w}", plan="pro") for w in range(WORKSPACES)
    )
    mailboxes = Mailbox.objects.unscoped().bulk_create(
        Mailbox(
            workspace=workspaces[w],
            provider=Provider.SMTP,
            email=f"sender{m}@w{w}.example.com",
            sender_name=f"Sender {m}",
            status=MailboxStatus.CONNECTED,
            status_since=NOW - timedelta(days=30),
            connected_at=NOW - timedelta(days=30),
            daily_limit=DAILY_LIMIT,
            daily_limit_max=2000,
            ramp_up_enabled=False,
            spacing_min_seconds=60,
            spacing_max_seconds=180,
            timezone=ZONES[(w * MAILBOXES_PER_WORKSPACE + m) % len(ZONES)],
        )
        for w in range(WORKSPACES)
        for m in range(MAILBOXES_PER_WORKSPACE)
    )
    campaigns = Campaign.objects.unscoped().bulk_create(
        Campaign(
            workspace=workspaces[k // CAMPAIGNS_PER_WORKSPACE],
            name=f"Campaign {k}",
            status=CampaignStatus.ACTIVE,
            launched_at=NOW - timedelta(days=7),
            timezone=ZONES[k % len(ZONES)],
            weekdays=list(ALL_WEEKDAYS),
            window_start=clock(0, 0),
            window_end=clock(23, 59),
            spacing_min_seconds=60,
            spacing_max_seconds=180,
        )
        for k in range(CAMPAIGNS)
    )
    through = Campaign.mailboxes.through
    through.objects.bulk_create(
        through(campaign=campaign, mailbox=mailboxes[k // CAMPAIGNS_PER_WORKSPACE * 10 + m])
        for k, campaign in enumerate(campaigns)
        for m in range(MAILBOXES_PER_WORKSPACE)
    )
    steps = Step.objects.unscoped().bulk_create(
        Step(
            workspace_id=campaign.workspace_id,
            campaign=campaign,
            position=position,
            delay_amount=2 * position,
            delay_unit="days",
        )
        for campaign in campaigns
        for position in (0, 1)
    )
    Variant.objects.unscoped().bulk_create(
        Variant(
            workspace_id=step.workspace_id,
            step=step,
            label="A",
            subject="Une question, {{firstName|there}}" if step.position == 0 else "",
            body="Bonjour {{firstName|there}},\n\n{Je vous écris|Je me permets} au sujet de "
            "{{company}}.\n\n{{sender.firstName}}",
        )
        for step in steps
    )
    return {
        "workspaces": [w.pk for w in workspaces],
        "mailboxes": [m.pk for m in mailboxes],
        "campaigns": [c.pk for c in campaigns],
    }


CONTACTS_SQL = """
INSERT INTO contacts_contact (
    id, workspace_id, created_at, updated_at, email, first_name, last_name, company, title,
    website, phone, linkedin_url, country, timezone, custom_fields, status, source,
    source_import_id
)
SELECT md5('contact:' || w || ':' || s)::uuid, (%(workspaces)s::uuid[])[w + 1],
       %(created)s, %(created)s, 'prospect' || s || '@company' || (s %% 997) || '.example.com',
       'Léa', 'Martin', 'Acme ' || (s %% 997), '', '', '', '', '', '', '{}'::jsonb,
       'active', 'import', NULL
FROM generate_series(0, %(workspace_count)s - 1) AS w,
     generate_series(%(first_slot)s, %(last_slot)s - 1) AS s
"""

# Enrollment i: campaign k = i % CAMPAIGNS (workspace k / 5), contact slot s = i / CAMPAIGNS in
# that workspace; so (campaign, contact) is unique and each contact is in its workspace's 5
# campaigns. Due: (s + k) % 10 = 0 among the first `due_below` — exactly 10%, in every campaign.
ENROLLMENTS_SQL = """
WITH picks AS (
    SELECT i, i %% %(campaign_count)s AS k, i / %(campaign_count)s AS s,
           i < %(due_below)s
               AND (i / %(campaign_count)s + i %% %(campaign_count)s) %% %(due_every)s = 0 AS due,
           random() AS kind, random() AS offset_draw, (i / 7) %% %(mailboxes_per)s AS m
    FROM generate_series(%(first)s, %(last)s - 1) AS i
), shaped AS (
    SELECT p.*, p.k / %(campaigns_per)s AS w,
           CASE WHEN p.due THEN (CASE WHEN p.kind < %(follow_up)s THEN 'due_follow_up'
                                      ELSE 'due_first' END)
                WHEN p.kind < 1.0 / 3 THEN 'later_first'
                WHEN p.kind < 2.0 / 3 THEN 'later_follow_up'
                ELSE 'completed' END AS state
    FROM picks AS p
)
INSERT INTO campaigns_enrollment (
    id, created_at, status, stopped_reason, next_position, due_at, started_at, last_message_id,
    last_subject, thread_id, campaign_id, contact_id, mailbox_id, workspace_id
)
SELECT md5('enrollment:' || s.i)::uuid,
       %(now)s::timestamptz - interval '8 days',
       CASE s.state WHEN 'due_first' THEN 'pending' WHEN 'later_first' THEN 'pending'
                    WHEN 'completed' THEN 'completed' ELSE 'active' END,
       '',
       CASE s.state WHEN 'due_first' THEN 0 WHEN 'later_first' THEN 0
                    WHEN 'completed' THEN 2 ELSE 1 END,
       CASE s.state
           WHEN 'completed' THEN NULL
           WHEN 'due_first' THEN %(now)s::timestamptz - s.offset_draw * interval '6 hours'
           WHEN 'due_follow_up' THEN %(now)s::timestamptz - s.offset_draw * interval '6 hours'
           ELSE %(now)s::timestamptz + interval '1 minute' + s.offset_draw * interval '7 days'
       END,
       CASE WHEN s.state IN ('due_first', 'later_first') THEN NULL
            ELSE %(now)s::timestamptz - interval '3 days' END,
       CASE WHEN s.state IN ('due_first', 'later_first') THEN ''
            ELSE '<' || md5('message:' || s.i) || '@w' || s.w || '.example.com>' END,
       CASE WHEN s.state IN ('due_first', 'later_first') THEN '' ELSE 'Une question, Léa' END,
       '',
       (%(campaigns)s::uuid[])[s.k + 1],
       md5('contact:' || s.w || ':' || s.s)::uuid,
       CASE WHEN s.state IN ('due_first', 'later_first') THEN NULL
            ELSE (%(mailboxes)s::uuid[])[s.w * %(mailboxes_per)s + s.m + 1] END,
       (%(workspaces)s::uuid[])[s.w + 1]
FROM shaped AS s
"""


def add_enrollments(ids: dict[str, list], first: int, last: int, due_below: int) -> float:
    """Enrollments [first, last) and the contacts they need; returns the seconds it took."""
    started = time.perf_counter()
    _sql(
        CONTACTS_SQL,
        {
            "workspaces": ids["workspaces"],
            "workspace_count": WORKSPACES,
            "first_slot": first // CAMPAIGNS,
            "last_slot": -(-last // CAMPAIGNS),
            "created": NOW - timedelta(days=30),
        },
    )
    _sql(
        ENROLLMENTS_SQL,
        {
            "first": first,
            "last": last,
            "due_below": due_below,
            "due_every": DUE_EVERY,
            "campaign_count": CAMPAIGNS,
            "campaigns_per": CAMPAIGNS_PER_WORKSPACE,
            "mailboxes_per": MAILBOXES_PER_WORKSPACE,
            "follow_up": FOLLOW_UP_SHARE,
            "now": NOW,
            "campaigns": ids["campaigns"],
            "mailboxes": ids["mailboxes"],
            "workspaces": ids["workspaces"],
        },
    )
    _sql("SELECT gin_clean_pending_list('contact_search')")
    steady_state()
    return time.perf_counter() - started


def steady_state() -> None:
    """What autovacuum would have done by the next tick: dead rows gone, statistics fresh."""
    _sql("VACUUM (ANALYZE)")


def due_count() -> int:
    return (
        Enrollment.objects.unscoped().filter(status__in=RUNNING_ENROLLMENT, due_at__lte=NOW).count()
    )


def snapshot_due() -> None:
    """What a tick changes, kept so that every measured tick starts from the same state."""
    _sql("DROP TABLE IF EXISTS bench_due_snapshot")
    _sql(
        "CREATE TABLE bench_due_snapshot AS SELECT id, status, mailbox_id, due_at, started_at "
        "FROM campaigns_enrollment WHERE status IN ('pending', 'active') AND due_at <= %s",
        (NOW,),
    )


def reset() -> None:
    """Back to the snapshot: no messages, the due enrollments due again, the mailboxes idle."""
    _sql("DELETE FROM campaigns_outboundmessage")
    _sql(
        "UPDATE campaigns_enrollment AS e SET status = s.status, mailbox_id = s.mailbox_id, "
        "due_at = s.due_at, started_at = s.started_at FROM bench_due_snapshot AS s "
        "WHERE e.id = s.id AND (e.status, e.mailbox_id, e.due_at, e.started_at) "
        "IS DISTINCT FROM (s.status, s.mailbox_id, s.due_at, s.started_at)"
    )
    _sql(
        "UPDATE email_accounts_mailbox SET sent_today = 0, sent_day = NULL, last_sent_at = NULL, "
        "next_send_at = NULL"
    )
    steady_state()


# The tick and the baseline ------------------------------------------------------------------


def ours() -> tuple[int, list]:
    queued: list = []
    created = scheduler.scheduler_tick(enqueue=queued.append, now=NOW)
    return created, queued


def naive() -> tuple[int, list]:
    """The per-enrollment loop: every running enrollment comes into Python, which checks due
    time, campaign, window and contact, then picks a sender with quota and spacing left; a
    mailbox sends at most once per tick, as in the real tick. Each send does what the real
    tick does per send (suppressions, quota, message, enrollment, spacing)."""
    now = NOW
    mailboxes = {m.pk: m for m in Mailbox.objects.unscoped().filter(status=MailboxStatus.CONNECTED)}
    senders: dict[Any, list] = defaultdict(list)
    for campaign_id, mailbox_id in Campaign.mailboxes.through.objects.values_list(
        "campaign_id", "mailbox_id"
    ):
        senders[campaign_id].append(mailbox_id)
    steps = {(s.campaign_id, s.position): s for s in Step.objects.unscoped()}
    variants: dict[Any, list] = defaultdict(list)
    for variant in Variant.objects.unscoped():
        variants[variant.step_id].append(variant)
    used: set = set()
    queued: list = []

    def may_send(mailbox: Mailbox) -> bool:
        return (
            mailbox.pk not in used
            and (mailbox.next_send_at is None or mailbox.next_send_at <= now)
            and mailbox_selectors.sent_today(mailbox, now)
            < mailbox_selectors.limit_today(mailbox, now)
        )

    running = (
        Enrollment.objects.unscoped()
        .select_related("campaign", "contact")
        .filter(status__in=RUNNING_ENROLLMENT)
    )
    for enrollment in running:
        if enrollment.due_at is None or enrollment.due_at > now:
            continue
        campaign, contact = enrollment.campaign, enrollment.contact
        if campaign.status != CampaignStatus.ACTIVE:
            continue
        if not schedule.is_open(campaign_window(campaign, contact), now):
            continue
        if contact.status != ContactStatus.ACTIVE:
            continue
        choices = [enrollment.mailbox_id] if enrollment.mailbox_id else senders[campaign.pk]
        open_ones = [mailboxes[m] for m in choices if m in mailboxes and may_send(mailboxes[m])]
        if not open_ones:
            continue
        mailbox = max(
            open_ones,
            key=lambda m: (
                mailbox_selectors.limit_today(m, now) - mailbox_selectors.sent_today(m, now)
            ),
        )
        step = steps.get((campaign.pk, enrollment.next_position))
        if step is None:
            continue
        if not email_sendability(workspace=campaign.workspace, email=contact.email).allowed:
            continue
        with transaction.atomic():
            today = mailbox.local_day(now)
            mailbox.sent_today = mailbox_selectors.sent_today(mailbox, now) + 1
            mailbox.sent_day, mailbox.last_sent_at = today, now
            low = max(mailbox.spacing_min_seconds, campaign.spacing_min_seconds)
            high = max(mailbox.spacing_max_seconds, campaign.spacing_max_seconds, low)
            gap = random.randint(low, high)
            mailbox.next_send_at = now + timedelta(seconds=gap)
            mailbox.save(update_fields=["sent_today", "sent_day", "last_sent_at", "next_send_at"])
            message = OutboundMessage.objects.create(
                workspace=campaign.workspace,
                enrollment=enrollment,
                step=step,
                variant=choose_variant(enrollment, step, variants[step.pk]),
                mailbox=mailbox,
                message_id=new_message_id(mailbox.email),
                quota_day=today,
                next_attempt_at=now,
            )
            enrollment.mailbox, enrollment.status = mailbox, EnrollmentStatus.ACTIVE
            enrollment.due_at = None
            enrollment.started_at = enrollment.started_at or now
            enrollment.save(update_fields=["mailbox", "status", "due_at", "started_at"])
        used.add(mailbox.pk)
        queued.append(message.pk)
    return len(queued), queued


def timed(fn, repeat: int) -> tuple[float, int, list[float]]:
    """Median seconds of `repeat` runs, each from the snapshot state; messages created."""
    samples, created = [], 0
    for _ in range(repeat):
        reset()
        started = time.perf_counter()
        created, queued = fn()
        samples.append(time.perf_counter() - started)
        if created != len(queued) or created != OutboundMessage.objects.unscoped().count():
            raise SystemExit(f"{fn.__name__}: created {created}, queued {len(queued)}")
    return statistics.median(samples), created, samples


# Looking inside ----------------------------------------------------------------------------


def _kind(sql: str) -> str:
    """A short name for a query: its verb and first table."""
    verb = sql.split(None, 1)[0].upper()
    match = re.search(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', sql, re.IGNORECASE)
    table = match.group(1) if match else "?"
    if verb == "SELECT" and "FOR UPDATE" in sql:
        verb = "SELECT … FOR UPDATE"
    return f"{verb} {table}"


def tick_queries() -> tuple[Counter, Counter, str, float]:
    """One untimed tick with every query counted and timed by kind (execute and fetch, on the
    client: round trip included); also the tick's first SQL (the `ready` query) and its whole
    time."""
    reset()
    counts: Counter = Counter()
    spent: Counter = Counter()
    first: list[str] = []

    def wrapper(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            kind = _kind(sql)
            counts[kind] += 1
            spent[kind] += time.perf_counter() - started
            if not first:
                cursor = context["cursor"].cursor
                first.append(connection.ops.last_executed_query(cursor, sql, params))

    started = time.perf_counter()
    with connection.execute_wrapper(wrapper):
        ours()
    return counts, spent, first[0], time.perf_counter() - started


def explain(sql: str, label: str) -> tuple[str, dict]:
    """EXPLAIN (ANALYZE, BUFFERS) of one query, in a transaction rolled back (it may lock)."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
            text = "\n".join(row[0] for row in cursor.fetchall())
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}")
            (raw,) = cursor.fetchone()
        transaction.set_rollback(True)
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]
    print(f"\n=== {label}\n{sql}\n{text}", file=sys.stderr)
    return text, plan


def candidate_sql(mailbox_ids: list) -> str:
    """The exact claim query the tick runs for one batch of mailboxes: it locks them and, per
    mailbox (LATERAL), its first due enrollments."""
    connection.queries_log.clear()  # a full log would capture nothing
    with transaction.atomic():
        with CaptureQueriesContext(connection) as captured:
            scheduler._lock_candidates(mailbox_ids, NOW)
        transaction.set_rollback(True)
    return captured.captured_queries[0]["sql"]


def show_plan(label: str, sql: str, lines: int = 14) -> dict:
    text, plan = explain(sql, label)
    print(f"\n{label}: {plan['Execution Time']:.2f} ms")
    for line in text.splitlines()[:lines]:
        print(f"    {line[:160]}")  # a batch's id list would fill the screen
    return plan


def look_inside(label: str, mailbox_ids: list) -> dict[str, Any]:
    counts, spent, ready, whole = tick_queries()
    reset()
    sql = candidate_sql(mailbox_ids)
    plan = show_plan(f"{label} claim query ({len(mailbox_ids)} mailboxes)", sql, lines=24)
    uses_due_index = '"Index Name": "enrollment_campaign_due"' in json.dumps(plan)
    buffers = plan["Plan"].get("Shared Hit Blocks", 0) + plan["Plan"].get("Shared Read Blocks", 0)
    indexes = sorted(set(re.findall(r'"Index Name": "(\w+)"', json.dumps(plan))))
    print(
        f"    partial index enrollment_campaign_due used: {uses_due_index} (indexes: "
        f"{', '.join(indexes)}; {buffers:,} buffers)"
    )
    show_plan(f"{label} ready query (the tick's first)", ready, lines=12)
    total, in_db = sum(counts.values()), sum(spent.values())
    print(
        f"\n{label} one tick (untimed pass): {whole:.2f} s, {total} queries "
        f"({total / len(MAILBOX_IDS):.2f} per mailbox), "
        f"{in_db:.2f} s in them (round trips), {whole - in_db:.2f} s in Python (ORM, engine)"
    )
    for kind, count in counts.most_common():
        print(f"    {count:6d}  {spent[kind]:7.3f} s  {kind}")
    return {
        "uses_due_index": uses_due_index,
        "queries": total,
        "candidate_ms": plan["Execution Time"],
    }


MAILBOX_IDS: list = []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="enrollments, first size")
    parser.add_argument("--scale", type=int, default=10, help="the second size, in --rows")
    parser.add_argument("--repeat", type=int, default=2, help="ticks timed per size (median)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    rows, big = args.rows, args.rows * args.scale
    if rows % (CAMPAIGNS * DUE_EVERY):
        raise SystemExit(f"--rows: a multiple of {CAMPAIGNS * DUE_EVERY:,}")

    load = os.getloadavg()
    print(f"load average at start: {load[0]:.1f} (cores: {os.cpu_count()})")
    recreate_database()
    try:
        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        ids = build_accounts()
        MAILBOX_IDS.extend(ids["mailboxes"])
        seconds = add_enrollments(ids, 0, rows, due_below=rows)
        print(f"built {rows:,} enrollments in {time.perf_counter() - started:.1f} s")
        due = due_count()
        snapshot_due()
        print(f"due at {NOW.isoformat()}: {due:,}; mailboxes {len(MAILBOX_IDS):,}")

        probe = MAILBOX_IDS[: scheduler.MAILBOXES_PER_BATCH]
        small = look_inside(f"[{rows:,}]", probe)

        tick_s, created, samples = timed(ours, args.repeat)
        print(f"\n[{rows:,}] tick: {created} messages, {_fmt(samples)} s → median {tick_s:.3f} s")
        naive_s, naive_created, naive_samples = timed(naive, 1)
        print(f"[{rows:,}] naive: {naive_created} messages, {_fmt(naive_samples)} s")
        if naive_created != created:
            print(f"  (the naive loop created {naive_created}, the tick {created})")
        reset()

        seconds = add_enrollments(ids, rows, big, due_below=rows)
        print(f"\nadded {big - rows:,} enrollments (none due) in {seconds:.1f} s")
        due_10x = due_count()
        if due_10x != due:
            raise SystemExit(f"the due count changed: {due} → {due_10x}")
        large = look_inside(f"[{big:,}]", probe)
        tick_10x, created_10x, samples_10x = timed(ours, args.repeat)
        print(
            f"\n[{big:,}] tick: {created_10x} messages, {_fmt(samples_10x)} s "
            f"→ median {tick_10x:.3f} s"
        )
        if created_10x != created:
            raise SystemExit(f"the tick created {created} then {created_10x} messages")
        reset()
    finally:
        if not args.keep:
            drop_database()
    print(
        f"\nenrollments={rows} enrollments_10x={big} mailboxes={len(MAILBOX_IDS)} "
        f"queries_per_tick={small['queries']} candidate_ms={small['candidate_ms']:.2f} "
        f"candidate_ms_10x={large['candidate_ms']:.2f} "
        f"index_used={small['uses_due_index'] and large['uses_due_index']} "
        f"naive_s={naive_s:.3f} load_average_start={load[0]:.1f} "
        f"load_average_end={os.getloadavg()[0]:.1f} (2 cores, shared: absolute times are high)"
    )
    print(
        f"scheduler: due={due} created={created} tick_s={tick_s:.3f} tick_s_10x={tick_10x:.3f} "
        f"growth={tick_10x / tick_s:.2f} speedup_vs_naive={naive_s / tick_s:.2f}"
    )


def _fmt(samples: list[float]) -> str:
    return ", ".join(f"{s:.3f}" for s in samples)


if __name__ == "__main__":
    main()
