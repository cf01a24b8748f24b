"""The delivery engine against a real HTTP receiver on loopback: signatures, retries, outages,
410, redirects, per-endpoint concurrency, fan-out idempotence, leases, the 3-day cut-off."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from standardwebhooks import Webhook

from campaigns import services as campaign_services
from tests.campaign_support import TUESDAY_10, prospects, run_until_quiet, two_step_campaign
from webhooks import delivery as engine
from webhooks import services
from webhooks.events import emit
from webhooks.models import Delivery, DeliveryAttempt, DeliveryStatus, Endpoint, Event

pytestmark = pytest.mark.django_db(transaction=True)


# ---------------------------------------------------------------------------------------------
# The receiver


@dataclass
class Behaviour:
    status: int = 200
    delay: float = 0.0
    retry_after: str = ""
    location: str = ""


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    status: int


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True  # restarted on the same port after an outage

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (the timeout test) is expected


@dataclass
class Receiver:
    port: int = 0
    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def on(self, path: str, **behaviour: Any) -> str:
        self.behaviours[path] = Behaviour(**behaviour)
        return self.url(path)

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                behaviour = receiver.behaviours.get(self.path, Behaviour(status=404))
                if behaviour.delay:
                    time.sleep(behaviour.delay)
                with receiver.lock:
                    receiver.received.append(
                        Received(
                            path=self.path,
                            headers={k.lower(): v for k, v in self.headers.items()},
                            body=body,
                            at=time.monotonic(),
                            status=behaviour.status,
                        )
                    )
                self.send_response(behaviour.status)
                if behaviour.retry_after:
                    self.send_header("Retry-After", behaviour.retry_after)
                if behaviour.location:
                    self.send_header("Location", behaviour.location)
                answer = b'{"ok": true}'
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = _Server(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def receiver(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    settings.WEBHOOKS_ALLOW_HTTP = True
    settings.WEBHOOKS_ALLOW_ANY_PORT = True
    server = Receiver()
    server.start()
    yield server
    server.stop()


def _secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _endpoint(workspace, url: str, **fields: Any) -> Endpoint:
    fields.setdefault("secret", _secret())
    return Endpoint.objects.create(workspace=workspace, url=url, **fields)


def _contact_event(workspace, **extra: Any) -> Event:
    contact_id = str(uuid.uuid4())
    data = {"contact": {"id": contact_id, "url": f"/api/v1/contacts/{contact_id}"}, **extra}
    return emit(workspace=workspace, type="contact.created", data=data)


def _deliver(now: datetime | None = None, **kwargs: Any) -> int:
    kwargs.setdefault("duration", 5.0)
    return engine.deliver_due(now=now, **kwargs)


def _deliveries(endpoint: Endpoint) -> list[Delivery]:
    return list(Delivery.objects.for_workspace(endpoint.workspace).filter(endpoint=endpoint))


# ---------------------------------------------------------------------------------------------
# Signatures and payload


def test_a_delivery_is_signed_and_carries_the_event(alice, receiver):
    endpoint = _endpoint(alice.workspace, receiver.on("/hook"))
    event = _contact_event(alice.workspace)

    engine.events_fan_out()  # this event, and the fixtures' (from before the endpoint)
    assert _deliver() == 1

    [request] = receiver.at("/hook")
    body = Webhook(endpoint.secret).verify(request.body, request.headers)
    assert body["id"] == str(event.pk) == request.headers["webhook-id"]
    assert body["type"] == "contact.created"
    assert body["workspace"] == {"id": str(alice.workspace.pk)}
    assert body["data"] == event.data
    assert body["created_at"].endswith("Z")
    assert request.headers["content-type"] == "application/json"

    [done] = _deliveries(endpoint)
    assert done.status == DeliveryStatus.SUCCEEDED
    assert done.attempts == 1 and done.delivered_at is not None
    [attempt] = DeliveryAttempt.objects.for_workspace(alice.workspace).filter(delivery=done)
    assert attempt.succeeded and attempt.status_code == 200
    assert attempt.latency_ms is not None and attempt.response_body == '{"ok": true}'
    assert attempt.request_headers["webhook-id"] == str(event.pk)
    assert attempt.request_headers["webhook-signature"].startswith("v1,")
    assert endpoint.secret not in json.dumps(attempt.request_headers)


def test_during_a_rotation_both_secrets_sign(alice, receiver):
    old, new = _secret(), _secret()
    endpoint = _endpoint(
        alice.workspace,
        receiver.on("/rotating"),
        secret=new,
        previous_secret=old,
        previous_secret_expires_at=timezone.now() + timedelta(hours=24),
    )
    _contact_event(alice.workspace)
    engine.events_fan_out()
    _deliver()

    [request] = receiver.at("/rotating")
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    # A receiver still on the old secret and one already on the new both verify.
    assert Webhook(old).verify(request.body, request.headers)["type"] == "contact.created"
    assert Webhook(new).verify(request.body, request.headers)["type"] == "contact.created"

    # Once the window is over, only the current secret signs.
    endpoint.previous_secret_expires_at = timezone.now() - timedelta(seconds=1)
    endpoint.save()
    _contact_event(alice.workspace)
    engine.events_fan_out()
    _deliver()
    latest = receiver.at("/rotating")[-1]
    assert len(latest.headers["webhook-signature"].split(" ")) == 1
    Webhook(new).verify(latest.body, latest.headers)
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(old).verify(latest.body, latest.headers)


# ---------------------------------------------------------------------------------------------
# Retries


def test_failures_follow_the_retry_schedule_then_give_up(alice, receiver):
    endpoint = _endpoint(alice.workspace, receiver.on("/down", status=500))
    _contact_event(alice.workspace)
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    engine.events_fan_out(now=now)

    for number, delay in enumerate(engine.RETRY_DELAYS, start=1):
        [claimed] = engine.deliveries_claim(now=now, limit=10)
        sent = engine.delivery_send(claimed.pk, now=now)
        assert sent.attempts == number and sent.status == DeliveryStatus.PENDING
        assert sent.last_status_code == 500
        waited = sent.next_attempt_at - now
        assert delay * 0.9 <= waited <= delay * 1.1, (number, waited)
        # Not due a moment before its time.
        assert (
            engine.deliveries_claim(now=sent.next_attempt_at - timedelta(seconds=1), limit=10) == []
        )
        now = sent.next_attempt_at

    [last] = engine.deliveries_claim(now=now, limit=10)
    final = engine.delivery_send(last.pk, now=now)
    assert final.status == DeliveryStatus.FAILED
    assert final.attempts == len(engine.RETRY_DELAYS) + 1
    assert len(receiver.at("/down")) == len(engine.RETRY_DELAYS) + 1
    assert engine.deliveries_claim(now=now + timedelta(days=30), limit=10) == []
    assert (
        DeliveryAttempt.objects.for_workspace(alice.workspace)
        .filter(delivery__endpoint=endpoint, succeeded=False)
        .count()
        == len(engine.RETRY_DELAYS) + 1
    )


def test_retry_after_is_honoured_and_capped(alice, receiver):
    _endpoint(alice.workspace, receiver.on("/busy", status=503, retry_after="3600"))
    _endpoint(alice.workspace, receiver.on("/very-busy", status=429, retry_after="999999"))
    _contact_event(alice.workspace)
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    engine.events_fan_out(now=now)
    for claimed in engine.deliveries_claim(now=now, limit=10):
        engine.delivery_send(claimed.pk, now=now)

    waits = {
        d.endpoint.url.rsplit("/", 1)[1]: d.next_attempt_at - now
        for d in Delivery.objects.for_workspace(alice.workspace).select_related("endpoint")
    }
    assert waits["busy"] == timedelta(hours=1)  # not the 5 s of the schedule
    assert waits["very-busy"] == timedelta(hours=24)  # capped

    # An HTTP date works too.
    later = format_datetime(now + timedelta(minutes=20), usegmt=True)
    assert engine.next_retry(attempts=1, now=now, retry_after=later) == now + timedelta(minutes=20)


def test_a_receiver_down_then_back_gets_every_event_once_per_endpoint(alice, receiver):
    first = _endpoint(alice.workspace, receiver.on("/a"))
    second = _endpoint(alice.workspace, receiver.on("/b"))
    events = [_contact_event(alice.workspace) for _ in range(5)]
    now = timezone.now()
    engine.events_fan_out(now=now)

    receiver.stop()  # the outage: connections are refused
    assert _deliver(now=now) == 10
    failed = Delivery.objects.for_workspace(alice.workspace)
    assert all(d.status == DeliveryStatus.PENDING and d.attempts == 1 for d in failed)
    assert all("connect" in d.last_error.lower() for d in failed)
    first.refresh_from_db()
    assert first.failing_since == now

    receiver.start()  # back, on the same port
    assert _deliver(now=now + timedelta(minutes=1)) == 10
    assert _deliver(now=now + timedelta(days=2)) == 0
    assert engine.events_fan_out() == 0

    for endpoint, path in ((first, "/a"), (second, "/b")):
        ids = Counter(r.headers["webhook-id"] for r in receiver.at(path))
        assert ids == Counter({str(e.pk): 1 for e in events})
        assert all(d.status == DeliveryStatus.SUCCEEDED for d in _deliveries(endpoint))
    first.refresh_from_db()
    assert first.failing_since is None  # a success ends the run of failures


# ---------------------------------------------------------------------------------------------
# Answers that end or fail a delivery


def test_410_gone_disables_the_endpoint(alice, receiver):
    endpoint = _endpoint(alice.workspace, receiver.on("/gone", status=410))
    _contact_event(alice.workspace)
    _contact_event(alice.workspace)
    engine.events_fan_out()
    engine.delivery_send(_deliveries(endpoint)[0].pk)

    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert endpoint.disabled_reason == services.DISABLED_GONE
    statuses = Counter(d.status for d in _deliveries(endpoint))
    assert statuses == Counter({DeliveryStatus.FAILED: 1, DeliveryStatus.PENDING: 1})
    # A disabled endpoint is sent nothing more.
    assert _deliver(now=timezone.now() + timedelta(days=1)) == 0
    assert len(receiver.at("/gone")) == 1


def test_a_redirect_is_a_failure_and_is_not_followed(alice, receiver):
    target = receiver.on("/target")
    endpoint = _endpoint(alice.workspace, receiver.on("/moved", status=302, location=target))
    _contact_event(alice.workspace)
    engine.events_fan_out()
    _deliver()

    [delivery] = _deliveries(endpoint)
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    assert delivery.last_status_code == 302
    assert "redirect" in delivery.last_error
    assert len(receiver.at("/moved")) == 1
    assert receiver.at("/target") == []


def test_an_unsafe_destination_is_refused_at_send_time(alice, receiver, settings):
    endpoint = _endpoint(alice.workspace, receiver.on("/internal"))
    _contact_event(alice.workspace)
    engine.events_fan_out()
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False  # e.g. the DNS answer changed
    _deliver()

    [delivery] = _deliveries(endpoint)
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    assert delivery.last_status_code is None and delivery.last_error
    [attempt] = DeliveryAttempt.objects.for_workspace(alice.workspace)
    assert attempt.error == delivery.last_error and attempt.status_code is None
    assert receiver.at("/internal") == []


def test_three_days_of_failures_disable_the_endpoint_and_email_the_owners(
    alice, bob, receiver, mailoutbox
):
    endpoint = _endpoint(alice.workspace, receiver.on("/broken", status=500))
    now = timezone.now()
    _contact_event(alice.workspace)
    engine.events_fan_out(now=now)

    _deliver(now=now)
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.failing_since == now
    assert mailoutbox == []

    # Still failing three days later.
    later = now + timedelta(hours=72, minutes=1)
    Delivery.objects.for_workspace(alice.workspace).update(next_attempt_at=later)
    _deliver(now=later)
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert endpoint.disabled_reason == services.DISABLED_FAILING
    [mail] = mailoutbox
    assert mail.to == ["alice@example.test"]  # the owner, not bob (a member)
    assert endpoint.url in mail.body and "re-enable" in mail.body


# ---------------------------------------------------------------------------------------------
# Concurrency, fan-out and leases


def test_a_slow_endpoint_does_not_delay_a_fast_one(alice, receiver):
    slow = _endpoint(alice.workspace, receiver.on("/slow", delay=2.0), max_in_flight=2)
    fast = _endpoint(alice.workspace, receiver.on("/fast"))
    for _ in range(12):
        _contact_event(alice.workspace)
    engine.events_fan_out()

    # One claim never gives an endpoint more than its share.
    claimed = Counter(d.endpoint_id for d in engine.deliveries_claim(limit=100))
    assert claimed == Counter({slow.pk: 2, fast.pk: 4})
    Delivery.objects.for_workspace(alice.workspace).update(
        status=DeliveryStatus.PENDING, leased_until=None
    )

    _deliver(workers=6, duration=2.0)
    assert len(receiver.at("/fast")) == 12
    assert all(d.status == DeliveryStatus.SUCCEEDED for d in _deliveries(fast))
    slow_received = receiver.at("/slow")  # recorded when each slow answer is given
    assert 2 <= len(slow_received) < 12
    # Every fast delivery landed while the slow receiver still held its first two.
    assert max(r.at for r in receiver.at("/fast")) < min(r.at for r in slow_received)


def test_a_failing_endpoint_is_probed_one_request_at_a_time(alice, receiver):
    endpoint = _endpoint(alice.workspace, receiver.on("/flaky", status=500), max_in_flight=4)
    for _ in range(8):
        _contact_event(alice.workspace)
    now = timezone.now()
    engine.events_fan_out(now=now)

    healthy = engine.deliveries_claim(now=now, limit=100)
    assert len(healthy) == 4  # its full share
    engine.attempts_record([engine.attempt(d) for d in healthy], now=now)
    endpoint.refresh_from_db()
    assert endpoint.failing_since == now

    # Failing: one request at a time, whatever its share.
    [probe] = engine.deliveries_claim(now=now, limit=100)
    assert engine.deliveries_claim(now=now, limit=100) == []
    engine.attempts_record([engine.attempt(probe)], now=now)
    [probe] = engine.deliveries_claim(now=now, limit=100)

    # The receiver is back: its first 2xx gives the endpoint its full share again.
    receiver.on("/flaky")
    engine.attempts_record([engine.attempt(probe)], now=now)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None
    assert len(engine.deliveries_claim(now=now, limit=100)) == 2  # the last two, together


def test_recording_a_batch_of_answers_costs_the_same_statements_as_recording_two(alice, receiver):
    endpoint = _endpoint(alice.workspace, receiver.on("/ok"), max_in_flight=20)
    for _ in range(22):
        _contact_event(alice.workspace)
    engine.events_fan_out()

    def statements_to_record(limit: int) -> int:
        answers = [engine.attempt(d) for d in engine.deliveries_claim(limit=limit)]
        assert len(answers) == limit
        with CaptureQueriesContext(connection) as queries:
            engine.attempts_record(answers)
        return len(queries)

    assert statements_to_record(2) == statements_to_record(20)
    assert Counter(d.status for d in _deliveries(endpoint)) == {DeliveryStatus.SUCCEEDED: 22}
    assert DeliveryAttempt.objects.for_workspace(alice.workspace).count() == 22


def test_fan_out_matches_subscriptions_and_a_rerun_writes_nothing_twice(alice, charlie):
    engine.events_fan_out()  # the fixtures' own events (member.joined, api_key.created…)
    everything = _endpoint(alice.workspace, "https://hooks.example.com/all")
    replies = _endpoint(
        alice.workspace, "https://hooks.example.com/replies", event_types=["email.replied"]
    )
    _endpoint(alice.workspace, "https://hooks.example.com/off", enabled=False)
    _endpoint(charlie.workspace, "https://hooks.example.com/charlie")
    events = [_contact_event(alice.workspace) for _ in range(3)]
    events.append(
        emit(workspace=alice.workspace, type="email.replied", data={"reply": {"id": "r1"}})
    )
    late = _endpoint(alice.workspace, "https://hooks.example.com/late")

    assert engine.events_fan_out(batch=2) == 2
    assert engine.events_fan_out(batch=2) == 2
    assert engine.events_fan_out() == 0
    rows = Delivery.objects.for_workspace(alice.workspace)
    assert Counter(d.endpoint_id for d in rows) == Counter({everything.pk: 4, replies.pk: 1})
    assert not Delivery.objects.for_workspace(alice.workspace).filter(endpoint=late).exists()
    assert not Delivery.objects.for_workspace(charlie.workspace).exists()

    # A crash after the insert but before the events were marked: the re-run duplicates nothing.
    Event.objects.for_workspace(alice.workspace).filter(pk__in=[e.pk for e in events]).update(
        fanned_out_at=None
    )
    assert engine.events_fan_out() == 4
    assert Delivery.objects.for_workspace(alice.workspace).count() == 5
    assert {d.event_id for d in rows.filter(endpoint=everything)} == {e.pk for e in events}


def test_a_campaign_filter_only_lets_that_campaigns_events_through(alice, receiver):
    campaign, other = uuid.uuid4(), uuid.uuid4()
    endpoint = _endpoint(alice.workspace, receiver.on("/campaign"), campaign_id=campaign)
    mine = emit(
        workspace=alice.workspace,
        type="campaign.launched",
        data={"campaign": {"id": str(campaign), "url": f"/api/v1/campaigns/{campaign}"}},
    )
    emit(workspace=alice.workspace, type="campaign.launched", data={"campaign": {"id": str(other)}})
    _contact_event(alice.workspace)  # no campaign at all
    engine.events_fan_out()
    _deliver()

    assert [d.event_id for d in _deliveries(endpoint)] == [mine.pk]
    assert [r.headers["webhook-id"] for r in receiver.at("/campaign")] == [str(mine.pk)]


def test_a_dead_workers_lease_expires_and_the_delivery_goes_again(alice, receiver, settings):
    endpoint = _endpoint(alice.workspace, receiver.on("/hook"))
    _contact_event(alice.workspace)
    now = timezone.now()
    engine.events_fan_out(now=now)

    [claimed] = engine.deliveries_claim(now=now, limit=10)  # …and the worker dies here
    assert claimed.status == DeliveryStatus.DELIVERING
    assert engine.deliveries_claim(now=now + timedelta(seconds=30), limit=10) == []

    after = now + timedelta(seconds=settings.WEBHOOKS_TIMEOUT_SECONDS + 15 + 1)  # the lease
    [again] = engine.deliveries_claim(now=after, limit=10)
    assert again.pk == claimed.pk
    assert engine.delivery_send(again.pk, now=after).status == DeliveryStatus.SUCCEEDED
    assert len(receiver.at("/hook")) == 1
    assert _deliveries(endpoint)[0].attempts == 1


def test_a_receiver_slower_than_the_total_timeout_is_a_failure(alice, receiver, settings):
    # The 30-second budget, shortened so the test does not wait 30 seconds.
    settings.WEBHOOKS_TIMEOUT_SECONDS = 0.5
    endpoint = _endpoint(alice.workspace, receiver.on("/sleepy", delay=1.5))
    _contact_event(alice.workspace)
    engine.events_fan_out()
    _deliver()

    [delivery] = _deliveries(endpoint)  # cut off at 0.5 s: the 1.5 s answer never counted
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    assert delivery.last_status_code is None
    assert "within 0.5 seconds" in delivery.last_error


def test_a_launched_campaigns_events_arrive_signed_through_an_outage(
    alice, receiver, trusted_mail_servers, sender_mailbox
):
    """The issue's "done means": a campaign launched and sent through the local SMTP server;
    its events reach the customer's receiver, signed and deduplicable, although the receiver
    was down when they were first tried."""
    secret = _secret()
    endpoint = _endpoint(
        alice.workspace,
        receiver.on("/crm"),
        secret=secret,
        event_types=["campaign.launched", "email.sent"],
    )
    contacts = prospects(alice, trusted_mail_servers, 2, domain="webhooks.example.com")
    campaign = two_step_campaign(alice, sender_mailbox, contacts)
    campaign_services.campaign_launch(workspace=alice.workspace, campaign=campaign, now=TUESDAY_10)
    assert run_until_quiet(TUESDAY_10) == ["sent", "sent"]
    assert engine.events_fan_out() == Event.objects.for_workspace(alice.workspace).count()

    receiver.stop()
    now = timezone.now()
    assert _deliver(now=now) == 3  # refused: they wait for their retry
    receiver.start()
    assert _deliver(now=now + timedelta(minutes=1)) == 3

    arrived = receiver.at("/crm")
    assert Counter(json.loads(r.body)["type"] for r in arrived) == {
        "campaign.launched": 1,
        "email.sent": 2,
    }
    for request in arrived:  # the library's own verifier accepts every one
        Webhook(secret).verify(request.body, request.headers)
    sent = {
        json.loads(r.body)["data"]["contact"]["email"] for r in arrived if b"email.sent" in r.body
    }
    assert sent == {c.email for c in contacts}
    assert all(d.status == DeliveryStatus.SUCCEEDED for d in _deliveries(endpoint))
