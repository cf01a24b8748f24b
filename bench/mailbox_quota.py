"""Reserving a mailbox's daily quota under contention: FluenzR's single conditional UPDATE
(`mailbox_reserve_send`) against the baseline most code starts with — lock the row with
SELECT … FOR UPDATE, read the counter, decide in Python, save.

    .venv/bin/python bench/mailbox_quota.py

Both run the same work: WORKERS threads (BENCH_WORKERS, 8 by default), each with its own
PostgreSQL connection, reserving
from the same few mailboxes until every quota is used up. Both must hand out exactly the quota
(checked); the figure is reservations per second. It recreates the database
`fluenzr_bench_quota` (BENCH_DATABASE_URL overrides it; the name must contain "bench", since
it is dropped). Prints one last line `mailbox_quota: …` with the ratio.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fluenzr.settings")
os.environ.setdefault("DEBUG", "1")
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/fluenzr_bench_quota"
# The bench drops and recreates its database: never the one DATABASE_URL names for work.
os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)

import django  # noqa: E402

django.setup()

from benchdb import drop_database, recreate_database  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import User  # noqa: E402
from accounts.services import workspace_create  # noqa: E402
from email_accounts.models import Mailbox, MailboxStatus  # noqa: E402
from email_accounts.selectors import limit_on  # noqa: E402
from email_accounts.services import mailbox_reserve_send  # noqa: E402

WORKERS = int(os.environ.get("BENCH_WORKERS", "8"))
MAILBOXES = 4
DAILY_LIMIT = 1500


def reserve_with_row_lock(*, mailbox_id, now) -> bool:
    """The baseline: lock, read, decide in Python, write."""
    with transaction.atomic():
        mailbox = Mailbox.objects.unscoped().select_for_update().get(pk=mailbox_id)
        today = mailbox.local_day(now)
        if mailbox.status != MailboxStatus.CONNECTED:
            return False
        used = mailbox.sent_today if mailbox.sent_day == today else 0
        if used >= limit_on(mailbox, today):
            return False
        mailbox.sent_today, mailbox.sent_day, mailbox.last_sent_at = used + 1, today, now
        mailbox.save(update_fields=["sent_today", "sent_day", "last_sent_at"])
        return True


def run(reserve, mailbox_ids: list) -> tuple[float, int]:
    Mailbox.objects.unscoped().update(sent_today=0, sent_day=None)
    granted = [0] * WORKERS
    start_line = threading.Barrier(WORKERS + 1)

    def worker(index: int) -> None:
        open_ids = list(mailbox_ids)
        start_line.wait()
        try:
            turn = index
            while open_ids:
                mailbox_id = open_ids[turn % len(open_ids)]
                if reserve(mailbox_id=mailbox_id, now=timezone.now()):
                    granted[index] += 1
                else:
                    open_ids.remove(mailbox_id)
                turn += 1
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(WORKERS)]
    for thread in threads:
        thread.start()
    start_line.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, sum(granted)


def main() -> None:
    recreate_database()
    try:
        call_command("migrate", verbosity=0)
        owner = User.objects.create_user(email="bench@example.com", password=None)
        workspace = workspace_create(owner=owner, name="Bench", plan="pro")
        now = timezone.now()
        ids = [
            Mailbox.objects.create(
                workspace=workspace,
                provider="smtp",
                email=f"sender{i}@example.com",
                status_since=now,
                daily_limit=DAILY_LIMIT,
                daily_limit_max=2000,
                ramp_up_enabled=False,
                timezone="Europe/Paris",
            ).pk
            for i in range(MAILBOXES)
        ]
        expected = MAILBOXES * DAILY_LIMIT
        results = {}
        for name, reserve in (
            ("row_lock", reserve_with_row_lock),
            ("conditional_update", mailbox_reserve_send),
        ):
            seconds, granted = run(reserve, ids)
            if granted != expected:
                raise SystemExit(f"{name} handed out {granted} sends for a quota of {expected}")
            results[name] = granted / seconds
            print(f"{name}: {granted} reservations in {seconds:.2f} s ({results[name]:.0f}/s)")
        ratio = results["conditional_update"] / results["row_lock"]
        connections.close_all()
    finally:
        drop_database()
    print(
        f"mailbox_quota: workers={WORKERS} mailboxes={MAILBOXES} quota={expected} "
        f"row_lock_per_s={results['row_lock']:.0f} "
        f"conditional_update_per_s={results['conditional_update']:.0f} ratio={ratio:.2f}"
    )


if __name__ == "__main__":
    main()
