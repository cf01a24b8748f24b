"""The launch check for undefined template variables, at 100,000 enrolled contacts, against the
loop it replaces (render every contact with every variant in Python).

    .venv/bin/python bench/launch_check.py                  # 100,000 contacts
    .venv/bin/python bench/launch_check.py --contacts 20000 # a quick run

It recreates the database `fluenzr_bench_launch_check` (BENCH_DATABASE_URL overrides it; the
name must contain "bench", since it is dropped) and fills it with set-based SQL: one workspace,
one mailbox with a sender name, one draft campaign of 2 steps x 2 variants that use
{{firstName}}, {{company}} and the custom field {{industry}} without fallback (some inside
spintax, beside variables that have one), and --contacts contacts each enrolled once. One
contact in 100 lacks a value: an empty first name, a company of spaces, or no `industry` key,
in turn.

Timed, in the same run and on the same data: the baseline (a copy of the loop the app had:
every running enrollment loaded with its contact, every variant's subject and body checked by
the renderer, for each contact) once, and `selectors.undefined_variables_report` (SQL finds the
contacts lacking a value, only those are checked by the renderer) --repeat times, median. The
baseline runs on today's templating, whose parse cache it shares (before, it reparsed each text
for each contact): a conservative baseline. Both must give the
same reports (asserted). Then every contact's first name is emptied and the new check timed
again: its worst case, when it must render everyone; and as a campaign page runs it, stopping
once PAGE_RENDER_CONTACTS contacts lacking a value are found and saying "at least".

Prints one last line `launch_check: contacts=… old_s=… new_s=… speedup=…`, speedup =
old_s / new_s against the render-everyone baseline.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/fluenzr_bench_launch_check"

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
# The bench drops and recreates its database: never the one DATABASE_URL names for work.
os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
os.environ["DJANGO_SETTINGS_MODULE"] = "fluenzr.settings"
os.environ.setdefault("DEBUG", "1")  # the development secrets; the query log is off below
os.environ.pop("REDIS_URL", None)

import django  # noqa: E402

django.setup()

from benchdb import drop_database, recreate_database  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Workspace  # noqa: E402
from campaigns import selectors, templating  # noqa: E402
from campaigns.engine.compose import render_context  # noqa: E402
from campaigns.models import (  # noqa: E402
    RUNNING_ENROLLMENT,
    Campaign,
    CampaignStatus,
    Step,
    Variant,
)
from campaigns.views.common import PAGE_RENDER_CONTACTS  # noqa: E402
from email_accounts.models import Mailbox, MailboxStatus, Provider  # noqa: E402

settings.DEBUG = False  # timed code runs as in production: no per-query debug log

MISSING_EVERY = 100  # one contact in 100 lacks a value

# 2 steps x 2 variants; {{firstName}}, {{company}} and {{industry}} never have a fallback.
VARIANTS = {
    0: [
        (
            "A",
            "{Quick|Short} question, {{firstName}}",
            "Bonjour {{firstName}},\n\n{Je vous écris|Je me permets} au sujet de {{company}} "
            "et du secteur {{industry}}.\n\n{{sender.firstName|L'équipe}}",
        ),
        (
            "B",
            "{{company}}: {{ title | une idée }}",
            "{Hi {{firstName}}|Hello {{firstName}}}, {{company}} in {{industry}}?\n"
            "{{sender.name|}}",
        ),
    ],
    1: [
        ("A", "", "{{firstName}}, un suivi pour {{company}} ({{industry}})."),
        ("B", "", "{Re|Suite}: {{company}} / {{industry}} — {{firstName|}} {{firstName}}"),
    ],
}


def _sql(statement: str, params: Any = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def build(contacts: int) -> Campaign:
    workspace = Workspace.objects.create(name="Bench", plan="pro")
    mailbox = Mailbox.objects.for_workspace(workspace).create(
        workspace=workspace,
        provider=Provider.SMTP,
        email="claire@sender.example.com",
        sender_name="Claire Martin",
        status=MailboxStatus.CONNECTED,
        status_since=timezone.now(),
        connected_at=timezone.now(),
        daily_limit=500,
        daily_limit_max=2000,
        ramp_up_enabled=False,
    )
    campaign = Campaign.objects.for_workspace(workspace).create(
        workspace=workspace, name="Launch check", status=CampaignStatus.DRAFT
    )
    campaign.mailboxes.set([mailbox])
    for position, variants in VARIANTS.items():
        step = Step.objects.for_workspace(workspace).create(
            workspace=workspace, campaign=campaign, position=position, delay_amount=position
        )
        for label, subject, body in variants:
            Variant.objects.for_workspace(workspace).create(
                workspace=workspace, step=step, label=label, subject=subject, body=body, weight=50
            )
    params = {"workspace": workspace.pk, "campaign": campaign.pk, "n": contacts}
    params["every"] = MISSING_EVERY
    _sql(
        """
        INSERT INTO contacts_contact (
            id, workspace_id, created_at, updated_at, email, first_name, last_name, company,
            title, website, phone, linkedin_url, country, timezone, custom_fields, status,
            source, source_import_id
        )
        SELECT md5('contact:' || i)::uuid, %(workspace)s, now(), now(),
               'prospect' || i || '@company' || (i %% 997) || '.example.com',
               CASE WHEN i %% (3 * %(every)s) = 0 THEN '' ELSE 'Léa' END,
               'Martin',
               CASE WHEN i %% (3 * %(every)s) = %(every)s THEN '   ' ELSE 'Acme ' || i END,
               '', '', '', '', '', '',
               CASE WHEN i %% (3 * %(every)s) = 2 * %(every)s THEN '{"size": "50"}'::jsonb
                    ELSE jsonb_build_object('industry', 'SaaS', 'size', '50') END,
               'active', 'import', NULL
        FROM generate_series(0, %(n)s - 1) AS i
        """,
        params,
    )
    _sql(
        """
        INSERT INTO campaigns_enrollment (
            id, created_at, status, stopped_reason, next_position, due_at, started_at,
            last_message_id, last_subject, thread_id, campaign_id, contact_id, mailbox_id,
            workspace_id
        )
        SELECT md5('enrollment:' || i)::uuid, now(), 'pending', '', 0, NULL, NULL, '', '', '',
               %(campaign)s, md5('contact:' || i)::uuid, NULL, %(workspace)s
        FROM generate_series(0, %(n)s - 1) AS i
        """,
        params,
    )
    _sql("VACUUM (ANALYZE)")
    return campaign


def old_report(campaign: Campaign) -> list[selectors.UndefinedReport]:
    """The loop the app had (campaigns/selectors.py before the SQL pre-filter), with no cap:
    every running contact rendered with every variant."""
    reports = []
    enrollments = list(
        campaign.enrollments.filter(status__in=RUNNING_ENROLLMENT).select_related("contact")
    )
    mailbox = campaign.mailboxes.first()
    for step in campaign.steps.prefetch_related("variants"):
        for variant in step.variants.all():
            missing: set[str] = set()
            affected = 0
            for enrollment in enrollments:
                ctx = render_context(enrollment, step, mailbox) if mailbox else None
                if ctx is None:
                    break
                names = templating.undefined_variables(variant.subject, ctx)
                names += templating.undefined_variables(variant.body, ctx)
                if names:
                    affected += 1
                    missing.update(set(names))
            if affected:
                reports.append(
                    selectors.UndefinedReport(
                        step.position + 1, variant.label, sorted(missing), affected
                    )
                )
    return reports


def page_report(campaign: Campaign) -> list[selectors.UndefinedReport]:
    return selectors.undefined_variables_report(campaign, limit=PAGE_RENDER_CONTACTS)


def timed(fn, campaign: Campaign, repeat: int) -> tuple[float, list, list[float]]:
    samples, result = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn(campaign)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), result, samples


def _fmt(samples: list[float]) -> str:
    return ", ".join(f"{s:.3f}" for s in samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of the new check (median)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    load = os.getloadavg()
    print(f"load average at start: {load[0]:.1f} (cores: {os.cpu_count()})")
    recreate_database()
    try:
        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        campaign = build(args.contacts)
        print(f"built {args.contacts:,} enrolled contacts in {time.perf_counter() - started:.1f} s")

        new_report = selectors.undefined_variables_report  # warm: connection, caches
        new_report(campaign)
        new_s, new, new_samples = timed(new_report, campaign, args.repeat)
        print(f"new (SQL pre-filter, render the candidates): {_fmt(new_samples)} s")
        old_s, old, old_samples = timed(old_report, campaign, 1)
        print(f"old (render everyone): {_fmt(old_samples)} s")
        for report in new:
            print(f"    {report}")
        assert new == old, f"the checks disagree:\n  new {new}\n  old {old}"
        affected = max(report.contacts for report in new)
        expected = sum(1 for i in range(args.contacts) if i % MISSING_EVERY == 0)
        assert affected == expected, (affected, expected)

        _sql("UPDATE contacts_contact SET first_name = ''")
        _sql("VACUUM (ANALYZE)")
        worst_s, worst, worst_samples = timed(new_report, campaign, 1)
        print(f"new, worst case (every contact lacks a first name): {_fmt(worst_samples)} s")
        assert all(report.contacts == args.contacts for report in worst), worst
        page_s, page, page_samples = timed(page_report, campaign, args.repeat)
        print(
            f"new, worst case as a page checks it (stops at {PAGE_RENDER_CONTACTS:,} found, "
            f"'at least'): {_fmt(page_samples)} s"
        )
        assert all(r.at_least and r.contacts == PAGE_RENDER_CONTACTS for r in page), page
    finally:
        if not args.keep:
            drop_database()
    print(
        f"\nload_average_end={os.getloadavg()[0]:.1f} (2 cores, shared: absolute times vary); "
        f"baseline: the old render-everyone loop, same data, same run"
    )
    print(
        f"launch_check: contacts={args.contacts} old_s={old_s:.3f} new_s={new_s:.3f} "
        f"speedup={old_s / new_s:.1f} affected={affected} worst_new_s={worst_s:.3f} "
        f"worst_page_s={page_s:.3f}"
    )


if __name__ == "__main__":
    main()
