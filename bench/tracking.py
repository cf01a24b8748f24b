"""The open pixel and the click redirect under load, beside a bare Django view that returns the
same GIF, in the same run, on the same gunicorn, at the same concurrency.

    .venv/bin/python bench/tracking.py                  # 3 gunicorn workers, 32 in flight
    .venv/bin/python bench/tracking.py --seconds 5 --rounds 1

It recreates the PostgreSQL database `fluenzr_bench_tracking` (BENCH_DATABASE_URL overrides
it; the name must hold "bench", since it is dropped), migrates it, writes one campaign whose
--messages emails were sent an hour ago, and starts gunicorn (sync workers, as in
docker-compose.yml) on loopback with this very module as its settings and URLconf: the app's
own URLs plus `/bare/<token>.gif`, the baseline, defined here and not in the app. Nothing is
sent anywhere but 127.0.0.1.

The load generator is Debian's `wrk` when installed (apt-get install wrk), else httpx +
asyncio (--client chooses): --concurrency requests in flight, each target in turn for
--seconds, --rounds times (bare, pixel, click, bare, pixel, click…) so drift hits all three
alike. Every request
uses a token of a random message with a browser's user agent, so the pixel and redirect do
their real work: verify the signature, flag the agent, and queue the open or click in Redis
(BENCH_REDIS_URL, default redis://127.0.0.1:6379/15; only its `tracking:*` keys are touched).
Afterwards this process runs the flush the scheduler runs every few seconds (INSERT the
events, emit `email.opened`/`email.clicked` on a message's first human open or click), times
it, and counts the events written against the requests answered.

Prints one last line `tracking: pixel_rps=… bare_rps=… ratio=… p99_ms=… click_rps=…
click_ratio=… click_p99_ms=… bare_p99_ms=…`; ratio = pixel_rps / bare_rps (target ≥ 0.7).
"""

from __future__ import annotations

import os

if __name__ != "__main__":
    # Imported by gunicorn's workers (DJANGO_SETTINGS_MODULE=tracking): the settings are the
    # app's own, read from the environment the bench gives them, with this module as URLconf.
    from django.http import HttpRequest, HttpResponse
    from django.urls import include, path

    from fluenzr.settings import *  # noqa: F403

    DEBUG = False  # as in production: no per-query debug log
    ROOT_URLCONF = __name__
    LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}

    def bare_pixel(request: HttpRequest, token: str) -> HttpResponse:
        """The baseline: the same GIF and headers, no work, through the app's middleware."""
        from campaigns.tracking.views import PIXEL_GIF

        response = HttpResponse(PIXEL_GIF, content_type="image/gif")
        response["Cache-Control"] = "no-store, no-cache, must-revalidate, max-age=0, private"
        response["Pragma"] = "no-cache"
        response["Expires"] = "0"
        return response

    def __getattr__(name: str) -> list:
        # The URLconf, built when Django first asks (the app's URLs import models, which
        # cannot load while this module is still being read as the settings).
        if name == "urlpatterns":
            return [path("bare/<str:token>.gif", bare_pixel), path("", include("fluenzr.urls"))]
        raise AttributeError(name)

else:
    import argparse
    import asyncio
    import random
    import shutil
    import signal
    import socket
    import statistics
    import subprocess
    import sys
    import tempfile
    import time
    from pathlib import Path

    ROOT = Path(__file__).resolve().parent.parent
    DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/fluenzr_bench_tracking"
    DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
    BROWSER_UA = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36"
    )
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ["DJANGO_SETTINGS_MODULE"] = "fluenzr.settings"
    os.environ["DEBUG"] = "1"  # development secrets; the workers turn DEBUG off (see above)
    # The buffer the pixel and redirect push to (and the cache, as in production).
    os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)

    import logging

    import django

    django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # no line per request

    from benchdb import drop_database, recreate_database
    from django.core.management import call_command
    from django.db import connection


def make_messages(n: int) -> list:
    """One workspace, one campaign, N contacts each sent its first email an hour ago."""
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import Workspace
    from campaigns.mime import new_message_id
    from campaigns.models import (
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
    from email_accounts.models import Mailbox, MailboxStatus, Provider

    now = timezone.now()
    sent_at = now - timedelta(hours=1)
    workspace = Workspace.objects.create(name="Bench tracking", plan="pro")
    mailbox = Mailbox.objects.for_workspace(workspace).create(
        workspace=workspace,
        provider=Provider.SMTP,
        email="claire@sender.example.com",
        sender_name="Claire Martin",
        status=MailboxStatus.CONNECTED,
        status_since=now,
        connected_at=now,
        daily_limit=n,
        daily_limit_max=n,
        timezone="UTC",
    )
    campaign = Campaign.objects.for_workspace(workspace).create(
        workspace=workspace,
        name="Spring outreach",
        status=CampaignStatus.ACTIVE,
        launched_at=sent_at,
        track_opens=True,
        track_clicks=True,
    )
    campaign.mailboxes.set([mailbox])
    step = Step.objects.for_workspace(workspace).create(
        workspace=workspace, campaign=campaign, position=0
    )
    variant = Variant.objects.for_workspace(workspace).create(
        workspace=workspace, step=step, label="A", subject="Hello", body="Hi."
    )
    contacts = Contact.objects.for_workspace(workspace).bulk_create(
        Contact(workspace=workspace, email=f"prospect{i}@reader.example.com") for i in range(n)
    )
    enrollments = Enrollment.objects.for_workspace(workspace).bulk_create(
        Enrollment(
            workspace=workspace,
            campaign=campaign,
            contact=contact,
            mailbox=mailbox,
            status=EnrollmentStatus.COMPLETED,
            next_position=1,
            started_at=sent_at,
        )
        for contact in contacts
    )
    return OutboundMessage.objects.for_workspace(workspace).bulk_create(
        OutboundMessage(
            workspace=workspace,
            enrollment=enrollment,
            step=step,
            variant=variant,
            mailbox=mailbox,
            status=MessageStatus.SENT,
            message_id=new_message_id(mailbox.email),
            subject="Hello",
            quota_day=sent_at.date(),
            next_attempt_at=sent_at,
            sending_started_at=sent_at,
            sent_at=sent_at,
            attempts=1,
        )
        for enrollment in enrollments
    )


def settle() -> None:
    """VACUUM ANALYZE: the steady state of emails sent an hour ago, not the second after a bulk
    insert (whose first reads would set every row's hint bits, a cost real opens never pay)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def clear_buffer() -> None:
    from campaigns.tracking import buffer

    server = buffer.client()
    keys = list(server.scan_iter(match="tracking:*"))
    if keys:
        server.delete(*keys)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(port: int, workers: int) -> subprocess.Popen:
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="tracking", PYTHONPATH=f"{ROOT}:{ROOT / 'bench'}")
    gunicorn = Path(sys.executable).parent / "gunicorn"
    process = subprocess.Popen(  # noqa: S603
        [
            str(gunicorn),
            "fluenzr.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--backlog",
            "2048",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("gunicorn exited before answering")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"GET /bare/ready.gif HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                if b" 200 " in sock.recv(64):
                    return process
        except OSError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit("gunicorn did not start within 30 s")


def stop_gunicorn(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # gunicorn's master stops its workers
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _load(base: str, paths: list[str], seconds: float, concurrency: int, expect: int):
    import httpx

    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=base, limits=limits, timeout=30, headers={"user-agent": BROWSER_UA}
    ) as client:

        async def worker(seed: int) -> None:
            nonlocal errors
            rng = random.Random(seed)
            while time.perf_counter() < stop_at:
                start = time.perf_counter()
                response = await client.get(rng.choice(paths))
                latencies.append(time.perf_counter() - start)
                if response.status_code != expect:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker(seed) for seed in range(concurrency)))
        elapsed = time.perf_counter() - started
    return len(latencies), elapsed, latencies, errors


def run_httpx(base, paths, seconds, concurrency, expect):
    return asyncio.run(_load(base, paths, seconds, concurrency, expect))


_WRK_SCRIPT = """
local paths = {}
for line in io.lines("%s") do paths[#paths + 1] = line end
math.randomseed(os.time())
wrk.headers["User-Agent"] = "%s"
request = function() return wrk.format("GET", paths[math.random(#paths)]) end
done = function(summary, latency, requests)
  io.stderr:write(string.format("WRK %%d %%f %%f %%d\\n", summary.requests,
    summary.duration / 1e6, latency:percentile(99) / 1e3,
    summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout))
end
"""


def run_wrk(base, paths, seconds, concurrency, expect):
    with tempfile.TemporaryDirectory() as folder:
        listing = Path(folder, "paths.txt")
        listing.write_text("\n".join(paths) + "\n")
        script = Path(folder, "paths.lua")
        script.write_text(_WRK_SCRIPT % (listing, BROWSER_UA))
        result = subprocess.run(  # noqa: S603
            [
                shutil.which("wrk") or "wrk",
                "-t2",
                f"-c{concurrency}",
                f"-d{int(seconds)}s",
                "-s",
                str(script),
                base,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    line = next(x for x in result.stderr.splitlines() if x.startswith("WRK "))
    count, elapsed, p99_ms, errors = line.split()[1:]
    # wrk reports p99 itself; one synthetic latency list keeps the summary code the same.
    return int(count), float(elapsed), [float(p99_ms) / 1000], int(errors)


def p99(latencies: list[float]) -> float:
    if len(latencies) == 1:
        return latencies[0] * 1000
    return statistics.quantiles(latencies, n=100)[98] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--client", choices=("auto", "httpx", "wrk"), default="auto")
    args = parser.parse_args()
    if args.client == "auto":
        # wrk (C, Debian's package) leaves the CPU to the server; the Python client, on the
        # same two cores, is itself the bottleneck of the bare view and flatters the ratio.
        args.client = "wrk" if shutil.which("wrk") else "httpx"
    if args.client == "wrk" and not shutil.which("wrk"):
        raise SystemExit("--client wrk needs Debian's wrk (apt-get install wrk)")
    load = run_wrk if args.client == "wrk" else run_httpx

    from campaigns.models import TrackingEvent
    from campaigns.tracking.services import tracking_flush
    from campaigns.tracking.tokens import Purpose, make_token
    from webhooks.models import Event

    recreate_database()
    clear_buffer()
    call_command("migrate", verbosity=0)
    messages = make_messages(args.messages)
    settle()
    opens = [f"/o/{make_token(Purpose.OPEN, m.pk)}.gif" for m in messages]
    clicks = [
        f"/c/{make_token(Purpose.CLICK, m.pk, f'https://acme.example.com/p?i={i}')}/"
        for i, m in enumerate(messages)
    ]
    bares = [f"/bare/{make_token(Purpose.OPEN, m.pk)}.gif" for m in messages]
    connection.close()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_gunicorn(port, args.workers)
    targets = {"bare": (bares, 200), "pixel": (opens, 200), "click": (clicks, 302)}
    totals = {name: [0, 0.0, [], 0] for name in targets}
    try:
        for paths, expect in targets.values():  # warm every worker's imports and pools
            load(base, paths, 3.0, args.concurrency, expect)
        tracking_flush()
        warm_events = TrackingEvent.objects.unscoped().count()
        for _round in range(args.rounds):
            for name, (paths, expect) in targets.items():
                count, elapsed, latencies, errors = load(
                    base, paths, args.seconds, args.concurrency, expect
                )
                total = totals[name]
                total[0] += count
                total[1] += elapsed
                total[2].extend(latencies)
                total[3] += errors
                print(
                    f"  {name:5} round {_round + 1}: {count / elapsed:8.0f} req/s, "
                    f"p99 {p99(latencies):6.1f} ms, {errors} unexpected",
                    flush=True,
                )
    finally:
        stop_gunicorn(server)

    started = time.perf_counter()
    flushed = tracking_flush()
    flush_s = time.perf_counter() - started
    print(f"flush: {flushed} queued opens and clicks written in {flush_s:.2f} s", flush=True)
    written = TrackingEvent.objects.unscoped().count() - warm_events
    answered = totals["pixel"][0] + totals["click"][0]
    opened = Event.objects.unscoped().filter(type="email.opened").count()
    clicked = Event.objects.unscoped().filter(type="email.clicked").count()
    human = TrackingEvent.objects.unscoped().filter(flagged=False)
    first_opens = human.filter(kind="open").values("message").distinct().count()
    first_clicks = human.filter(kind="click").values("message", "url").distinct().count()
    print(
        f"events written {written} for {answered} tracked requests answered; "
        f"email.opened {opened} for {first_opens} messages opened, email.clicked {clicked} "
        f"for {first_clicks} links clicked (once each)"
    )
    exact = opened == first_opens and clicked == first_clicks
    connection.close()
    drop_database()
    clear_buffer()

    rps = {name: t[0] / t[1] for name, t in totals.items()}
    if any(t[3] for t in totals.values()) or written < answered or not exact:
        print("WARNING: unexpected answers, rows missing or events not once", file=sys.stderr)
    print(
        f"tracking: pixel_rps={rps['pixel']:.0f} bare_rps={rps['bare']:.0f} "
        f"ratio={rps['pixel'] / rps['bare']:.2f} p99_ms={p99(totals['pixel'][2]):.1f} "
        f"click_rps={rps['click']:.0f} click_ratio={rps['click'] / rps['bare']:.2f} "
        f"click_p99_ms={p99(totals['click'][2]):.1f} bare_p99_ms={p99(totals['bare'][2]):.1f} "
        f"flush_rps={flushed / flush_s:.0f} "
        f"workers={args.workers} concurrency={args.concurrency} client={args.client}"
    )


if __name__ == "__main__":
    main()
