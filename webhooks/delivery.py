"""The delivery engine: outbox → one Delivery per subscribed endpoint → signed HTTP POSTs.

Three steps, each safe to run in several workers at once:

- `events_fan_out()` turns unprocessed events into deliveries (unique per endpoint and event,
  so a re-run writes nothing twice);
- `deliveries_claim()` leases due deliveries with FOR UPDATE SKIP LOCKED, never more per
  endpoint than its room (one slow receiver never takes every worker);
- `attempt()` posts one delivery outside any transaction and without touching the database,
  to the address the SSRF guard checked; `attempts_record()` then logs a batch of attempts
  and moves each delivery on (delivered, retried later, or given up).

`deliver_due()` drives them: worker threads make the requests, one thread claims and
records in batches. `delivery_send()` is the same for one delivery, now (test and replay).
"""

from __future__ import annotations

import json
import logging
import random
import ssl
import time
import typing
from collections import defaultdict
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpcore
from django.conf import settings
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from standardwebhooks import Webhook

from accounts.models import Membership, Role
from webhooks import failures, services
from webhooks.models import Delivery, DeliveryAttempt, DeliveryStatus, Endpoint, Event
from webhooks.ssrf import Destination, UnsafeDestination, check_url

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0  # seconds


def total_timeout() -> float:
    """Seconds a receiver has to answer (the documented promise: 30); a setting, so that a
    test need not wait 30 seconds to see one fail."""
    return float(settings.WEBHOOKS_TIMEOUT_SECONDS)


def _too_slow() -> str:
    return failures.TOO_SLOW % {"seconds": f"{total_timeout():g}"}


# The wait after the 1st, 2nd, … failed attempt; after the last one the delivery gives up.
RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=20),
    timedelta(hours=24),
)
JITTER = 0.1  # ±10 %
MAX_RETRY_AFTER = timedelta(hours=24)
# A run of failures this long disables the endpoint and tells the workspace's owners.
DISABLE_AFTER = timedelta(hours=72)
RESPONSE_BODY_LOG = 4096  # bytes of the response kept in the delivery log
USER_AGENT = "FluenzR-Webhooks/1.0"


# ---------------------------------------------------------------------------------------------
# Fan-out


def _subscribed(endpoint: Endpoint, event: Event) -> bool:
    if endpoint.created_at > event.created_at:
        return False
    if endpoint.event_types and event.type not in endpoint.event_types:
        return False
    if endpoint.campaign_id is not None:
        campaign = event.data.get("campaign") if isinstance(event.data, dict) else None
        campaign_id = campaign.get("id") if isinstance(campaign, dict) else None
        return str(campaign_id) == str(endpoint.campaign_id)
    return True


def events_fan_out(*, now: datetime | None = None, batch: int = 500) -> int:
    """Write the deliveries of up to `batch` unprocessed events (oldest first); their count.

    Four statements per batch whatever its size: lock the events, read the endpoints of their
    workspaces, insert the deliveries (conflicts ignored), mark the events.
    """
    now = now or timezone.now()
    with transaction.atomic():
        events = list(
            Event.objects.unscoped()
            .filter(fanned_out_at__isnull=True)
            .order_by("created_at")
            .select_for_update(skip_locked=True)[:batch]
        )
        if not events:
            return 0
        endpoints: dict[object, list[Endpoint]] = defaultdict(list)
        for endpoint in Endpoint.objects.unscoped().filter(
            workspace_id__in={event.workspace_id for event in events}, enabled=True
        ):
            endpoints[endpoint.workspace_id].append(endpoint)
        deliveries = [
            Delivery(
                workspace_id=event.workspace_id,
                endpoint=endpoint,
                event=event,
                next_attempt_at=now,
            )
            for event in events
            for endpoint in endpoints[event.workspace_id]
            if _subscribed(endpoint, event)
        ]
        Delivery.objects.unscoped().bulk_create(deliveries, ignore_conflicts=True, batch_size=1000)
        Event.objects.unscoped().filter(pk__in=[event.pk for event in events]).update(
            fanned_out_at=now
        )
    return len(events)


# ---------------------------------------------------------------------------------------------
# Claims


def leases_expire(*, now: datetime | None = None) -> int:
    """A dead worker's claims go back to the queue once their lease has run out."""
    now = now or timezone.now()
    return (
        Delivery.objects.unscoped()
        .filter(status=DeliveryStatus.DELIVERING, leased_until__lt=now)
        .update(status=DeliveryStatus.PENDING, leased_until=None, next_attempt_at=now)
    )


def lease_until(now: datetime) -> datetime:
    """When a claim made at `now` expires: after the longest request, so only a dead worker's
    lease ever runs out."""
    return now + timedelta(seconds=total_timeout() + 15)


# The claim, in one statement: each enabled endpoint's oldest due deliveries, at most its
# room, are leased and their ids returned. A LATERAL probe per endpoint on the (endpoint,
# next_attempt_at, id) index, so a backlog at one slow endpoint costs the others nothing.
# The room is max_in_flight minus the leases alive — and one request at a time while the
# endpoint is failing: a receiver that is down is probed, not flooded with retries, and its
# retries never take the workers healthy endpoints need. Its first 2xx gives it its full
# share back. `id = ANY(ARRAY(…))` asks the inner question once, then finds the rows by
# primary key, whatever the statistics say.
_LEASE_SQL = """
UPDATE webhooks_delivery SET status = %(delivering)s, leased_until = %(until)s
WHERE id = ANY(ARRAY(
    SELECT due.id
    FROM webhooks_endpoint e
    CROSS JOIN LATERAL (
        SELECT d.id, d.next_attempt_at
        FROM webhooks_delivery d
        WHERE d.endpoint_id = e.id
            AND d.status = %(pending)s
            AND d.next_attempt_at <= %(now)s
        ORDER BY d.next_attempt_at, d.id
        LIMIT GREATEST(
            CASE WHEN e.failing_since IS NULL THEN e.max_in_flight ELSE 1 END - (
                SELECT count(*) FROM webhooks_delivery f
                WHERE f.endpoint_id = e.id
                    AND f.status = %(delivering)s
                    AND f.leased_until >= %(now)s
            ),
            0
        )
        -- A row someone else holds (a replay) is skipped, not waited for.
        FOR UPDATE SKIP LOCKED
    ) AS due
    WHERE e.enabled
    ORDER BY due.next_attempt_at, due.id
    LIMIT %(limit)s
))
RETURNING id
"""


def endpoint_room(endpoint: Endpoint) -> int:
    """How many requests may be in flight to this endpoint at once."""
    return endpoint.max_in_flight if endpoint.failing_since is None else 1


def _lease(now: datetime, limit: int) -> list:
    """Lease up to `limit` due deliveries (see _LEASE_SQL); their ids."""
    until = lease_until(now)
    pending, delivering = DeliveryStatus.PENDING.value, DeliveryStatus.DELIVERING.value
    if connection.vendor == "postgresql":
        params = {
            "now": now,
            "until": until,
            "limit": limit,
            "pending": pending,
            "delivering": delivering,
        }
        with connection.cursor() as cursor:
            cursor.execute(_LEASE_SQL, params)
            return [row[0] for row in cursor.fetchall()]
    # The embedded SQLite of `make run` has no LATERAL: the same question, endpoint by
    # endpoint. (It has one writer at a time, so nothing to skip.)
    due = []
    deliveries = Delivery.objects.unscoped()
    for endpoint in Endpoint.objects.unscoped().filter(enabled=True):
        busy = deliveries.filter(
            endpoint=endpoint, status=delivering, leased_until__gte=now
        ).count()
        room = max(endpoint_room(endpoint) - busy, 0)
        due += deliveries.filter(
            endpoint=endpoint, status=pending, next_attempt_at__lte=now
        ).values_list("next_attempt_at", "id")[:room]
    ids = [pk for _at, pk in sorted(due)[:limit]]
    deliveries.filter(pk__in=ids).update(status=delivering, leased_until=until)
    return ids


def _with_endpoints_and_events(ids: list) -> list[Delivery]:
    """The deliveries with their events, and each endpoint read (and its secret decrypted)
    once however many of its deliveries there are: all a request needs, so the threads that
    send never touch the database."""
    deliveries = list(
        Delivery.objects.unscoped()
        .filter(pk__in=ids)
        .select_related("event")
        .order_by("next_attempt_at", "id")
    )
    endpoints = Endpoint.objects.unscoped().in_bulk({d.endpoint_id for d in deliveries})
    for delivery in deliveries:
        delivery.endpoint = endpoints[delivery.endpoint_id]
    return deliveries


# One claimer at a time, so the per-endpoint caps hold exactly across workers. The commit
# does not wait for the disk: a claim (and whatever the same transaction recorded, see
# `_turn`) that a database crash forgets only means a delivery goes again, which receivers
# deduplicate on webhook-id. Events are committed with the changes that emit them, so none
# is ever lost.
_CLAIM_LOCK_SQL = """
SELECT pg_advisory_xact_lock(hashtext('webhooks.deliveries_claim')),
    set_config('synchronous_commit', 'off', true)
"""


def deliveries_claim(
    *, now: datetime | None = None, limit: int, expire_leases: bool = True
) -> list[Delivery]:
    """Lease up to `limit` due deliveries, oldest first, never more per endpoint than its room
    (see `endpoint_room`) minus what is already in flight to it; with their endpoints and
    events loaded. Dead workers' leases expire first, unless the caller has just done so."""
    now = now or timezone.now()
    if limit <= 0:
        return []
    with transaction.atomic(savepoint=False):
        # (The embedded SQLite of `make run` allows one writer at a time anyway.)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(_CLAIM_LOCK_SQL)
        if expire_leases:
            leases_expire(now=now)
        claimed = _lease(now, limit)
        return _with_endpoints_and_events(claimed) if claimed else []


# ---------------------------------------------------------------------------------------------
# The request


def payload(event: Event) -> dict[str, typing.Any]:
    """The JSON body: the event's id (receivers deduplicate on it), type, time, workspace and
    the objects concerned (the event's data, with their ids and API URLs)."""
    return {
        "id": str(event.pk),
        "type": event.type,
        "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
        "workspace": {"id": str(event.workspace_id)},
        "data": event.data,
    }


def signing_secrets(endpoint: Endpoint, now: datetime) -> list[str]:
    """The current secret, and the previous one while its rotation window lasts."""
    secrets = [endpoint.secret]
    if (
        endpoint.previous_secret
        and endpoint.previous_secret_expires_at
        and endpoint.previous_secret_expires_at > now
    ):
        secrets.append(endpoint.previous_secret)
    return secrets


def signed_headers(
    *, message_id: str, body: str, secrets: list[str], timestamp: datetime
) -> dict[str, str]:
    signatures = " ".join(
        Webhook(secret).sign(msg_id=message_id, timestamp=timestamp, data=body)
        for secret in secrets
    )
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signatures,
    }


class _DeadlineStream(httpcore.NetworkStream):
    """A socket whose every read and write stops at one overall deadline."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: float) -> None:
        self._stream = stream
        self._deadline = deadline

    def _timeout(self, timeout: float | None, error: type[Exception]) -> float:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise error(_too_slow())
        return remaining if timeout is None else min(timeout, remaining)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._timeout(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._timeout(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._stream.start_tls(
            ssl_context, server_hostname, self._timeout(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(stream, self._deadline)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._stream.get_extra_info(info)


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects to the addresses the SSRF guard checked, never resolving the name again. TLS
    still verifies the certificate against the URL's host name (httpcore's SNI)."""

    def __init__(self, destination: Destination, deadline: float) -> None:
        self._destination = destination
        self._deadline = deadline
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        error: Exception = httpcore.ConnectError("The destination has no address.")
        for address in self._destination.addresses:
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                raise httpcore.ConnectTimeout(_too_slow())
            try:
                stream = self._backend.connect_tcp(
                    address,
                    self._destination.port,
                    timeout=min(timeout or CONNECT_TIMEOUT, remaining),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
                continue
            return _DeadlineStream(stream, self._deadline)
        raise error

    def connect_unix_socket(self, *args: typing.Any, **kwargs: typing.Any) -> typing.NoReturn:
        raise httpcore.ConnectError("Webhooks are never sent to a Unix socket.")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass
class Response:
    status_code: int | None = None
    retry_after: str = ""
    body: str = ""
    error: str = ""
    latency_ms: int | None = None


def _post(destination: Destination, url: str, headers: dict[str, str], body: bytes) -> Response:
    started = time.monotonic()
    deadline = started + total_timeout()
    timeouts = {
        "connect": CONNECT_TIMEOUT,
        "read": total_timeout(),
        "write": total_timeout(),
        "pool": CONNECT_TIMEOUT,
    }
    response = Response()
    try:
        with (
            httpcore.ConnectionPool(
                network_backend=_PinnedBackend(destination, deadline), retries=0
            ) as pool,
            pool.stream(
                "POST",
                url,
                headers=list(headers.items()),
                content=body,
                extensions={"timeout": timeouts},
            ) as answer,
        ):
            response.status_code = answer.status
            for name, value in answer.headers:
                if name.lower() == b"retry-after":
                    response.retry_after = value.decode("latin-1").strip()
            kept = b""
            for chunk in answer.iter_stream():
                kept += chunk
                if len(kept) >= RESPONSE_BODY_LOG:
                    break
            response.body = kept[:RESPONSE_BODY_LOG].decode("utf-8", errors="replace")
    except httpcore.TimeoutException:
        response.error = _too_slow()
    except httpcore.ConnectError as exc:
        response.error = (failures.NO_CONNECTION % {"detail": exc})[:500]
    except (httpcore.NetworkError, httpcore.ProtocolError) as exc:
        response.error = (failures.CONNECTION_FAILED % {"detail": exc})[:500]
    except (httpcore.UnsupportedProtocol, httpcore.LocalProtocolError, ssl.SSLError) as exc:
        response.error = (failures.REQUEST_NOT_MADE % {"detail": exc})[:500]
    response.latency_ms = int((time.monotonic() - started) * 1000)
    return response


# ---------------------------------------------------------------------------------------------
# Outcomes


def _retry_after(value: str, now: datetime) -> timedelta | None:
    """`Retry-After` in seconds or as an HTTP date, capped at 24 hours."""
    if not value:
        return None
    if value.isdigit():
        wait_for = timedelta(seconds=int(value))
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        wait_for = when - now
    return max(timedelta(0), min(wait_for, MAX_RETRY_AFTER))


def next_retry(
    *, attempts: int, now: datetime, retry_after: str = "", rng: random.Random | None = None
) -> datetime | None:
    """When to try again after `attempts` failed attempts, or None once the schedule is over.
    Jitter (±10 %) spreads the retries of an outage; `Retry-After` is honoured as a minimum."""
    if attempts > len(RETRY_DELAYS):
        return None
    delay = RETRY_DELAYS[attempts - 1] * (1 + (rng or random).uniform(-JITTER, JITTER))
    asked = _retry_after(retry_after, now)
    if asked is not None:
        delay = max(delay, asked)
    return now + delay


def _email_owners_disabled(endpoint: Endpoint) -> None:
    owners = (
        Membership.objects.for_workspace(endpoint.workspace_id)
        .filter(role=Role.OWNER)
        .select_related("user")
    )
    recipients = [membership.user.email for membership in owners if membership.user.email]
    if not recipients:
        return
    subject = _("Your webhook endpoint %(url)s was disabled") % {"url": endpoint.url}
    message = _(
        "Every delivery to %(url)s has failed for three days, so FluenzR has disabled this "
        "endpoint and stopped sending to it. Its undelivered events are kept.\n\n"
        "Check that your server answers with a 2xx status within 30 seconds, then re-enable "
        "the endpoint in Settings → Webhooks; the delivery log shows each failed attempt."
    ) % {"url": endpoint.url}
    try:
        send_mail(subject=subject, message=message, from_email=None, recipient_list=recipients)
    except OSError:
        logger.exception("Could not email the owners about endpoint %s", endpoint.pk)


@dataclass
class Attempt:
    """One request a worker thread made, and what came back: recorded later, in a batch."""

    delivery: Delivery
    headers: dict[str, str]
    response: Response


def attempt(delivery: Delivery) -> Attempt:
    """Sign and post one claimed delivery. No database access (its endpoint and event come
    loaded with the claim), no lock held: the request may take 30 seconds."""
    endpoint, event = delivery.endpoint, delivery.event
    body = json.dumps(payload(event), cls=DjangoJSONEncoder, separators=(",", ":"))
    headers = signed_headers(
        message_id=str(event.pk),
        body=body,
        secrets=signing_secrets(endpoint, timezone.now()),
        timestamp=timezone.now(),
    )
    try:
        destination = check_url(endpoint.url)
    except UnsafeDestination as exc:
        response = Response(error=exc.english[:500])
    else:
        response = _post(destination, endpoint.url, headers, body.encode())
    return Attempt(delivery=delivery, headers=headers, response=response)


def _explain(response: Response) -> bool:
    """Whether the answer was a 2xx; any other status gets an error saying why it failed."""
    status = response.status_code
    succeeded = status is not None and 200 <= status < 300
    if status is not None and not succeeded and not response.error:
        failure = failures.REDIRECT if 300 <= status < 400 else failures.NOT_2XX
        response.error = failure % {"status": status}
    return succeeded


_RECORDED_FIELDS = [
    "attempts",
    "last_status_code",
    "last_error",
    "leased_until",
    "status",
    "delivered_at",
    "next_attempt_at",
]


def _columns(rows: list[tuple]) -> list[list]:
    """Rows as one list per column: the arrays an unnest() reads back as rows."""
    return [list(column) for column in zip(*rows, strict=True)]


# The delivery log of a batch in one INSERT, its values as arrays (Django's bulk_create spent
# more on building the rows than PostgreSQL on writing them).
_LOG_SQL = """
INSERT INTO webhooks_deliveryattempt (
    id, workspace_id, created_at, delivery_id, request_headers, status_code, latency_ms,
    response_body, error, succeeded
)
SELECT gen_random_uuid(), v.workspace_id, %s, v.delivery_id, v.request_headers::jsonb,
    v.status_code, v.latency_ms, v.response_body, v.error, v.succeeded
FROM unnest(
    %s::uuid[], %s::uuid[], %s::text[], %s::integer[], %s::integer[], %s::text[], %s::text[],
    %s::boolean[]
) AS v(workspace_id, delivery_id, request_headers, status_code, latency_ms, response_body,
    error, succeeded)
"""


def _attempts_insert(log: list[DeliveryAttempt]) -> None:
    if connection.vendor != "postgresql":  # the embedded SQLite of `make run`
        DeliveryAttempt.objects.unscoped().bulk_create(log)
        return
    rows = [
        (
            a.workspace_id,
            a.delivery_id,
            json.dumps(a.request_headers),
            a.status_code,
            a.latency_ms,
            a.response_body,
            a.error,
            a.succeeded,
        )
        for a in log
    ]
    with connection.cursor() as cursor:
        cursor.execute(_LOG_SQL, [timezone.now(), *_columns(rows)])


# A batch of deliveries moved on in one UPDATE, their values as arrays. (Django's
# bulk_update writes a CASE per field and row: building it cost more than the requests.)
_RECORD_SQL = """
UPDATE webhooks_delivery AS d
SET attempts = v.attempts, last_status_code = v.last_status_code, last_error = v.last_error,
    leased_until = NULL, status = v.status, delivered_at = v.delivered_at,
    next_attempt_at = v.next_attempt_at
FROM unnest(
    %s::uuid[], %s::integer[], %s::integer[], %s::text[], %s::text[], %s::timestamptz[],
    %s::timestamptz[]
) AS v(id, attempts, last_status_code, last_error, status, delivered_at, next_attempt_at)
WHERE d.id = v.id
"""


def _deliveries_save(deliveries: list[Delivery]) -> None:
    if connection.vendor != "postgresql":  # the embedded SQLite of `make run`
        Delivery.objects.unscoped().bulk_update(deliveries, _RECORDED_FIELDS)
        return
    rows = [
        (
            d.pk,
            d.attempts,
            d.last_status_code,
            d.last_error,
            d.status,
            d.delivered_at,
            d.next_attempt_at,
        )
        for d in deliveries
    ]
    with connection.cursor() as cursor:
        cursor.execute(_RECORD_SQL, _columns(rows))


def attempts_record(attempts: list[Attempt], *, now: datetime | None = None) -> None:
    """Log a batch of attempts and move their deliveries and endpoints on, in one transaction
    of a few statements whatever the batch's size: one INSERT for the log, one UPDATE for the
    deliveries, and an UPDATE per endpoint only when its state changes (the first failure of
    a run, the first success after one, a 410 or three days of failures disabling it)."""
    if not attempts:
        return
    now = now or timezone.now()
    outcome_by_endpoint: dict[object, tuple[Endpoint, bool]] = {}
    disable: dict[object, tuple[Endpoint, str]] = {}
    log = []
    for done in attempts:
        delivery, response = done.delivery, done.response
        endpoint = delivery.endpoint
        succeeded = _explain(response)
        log.append(
            DeliveryAttempt(
                workspace_id=delivery.workspace_id,
                delivery=delivery,
                request_headers=done.headers,
                status_code=response.status_code,
                latency_ms=response.latency_ms,
                response_body=response.body,
                error=response.error[:500],
                succeeded=succeeded,
            )
        )
        delivery.attempts += 1
        delivery.last_status_code = response.status_code
        delivery.last_error = response.error[:500]
        delivery.leased_until = None
        if succeeded:
            delivery.status = DeliveryStatus.SUCCEEDED
            delivery.delivered_at = now
        elif response.status_code == 410:
            delivery.status = DeliveryStatus.FAILED
            disable[endpoint.pk] = (endpoint, services.DISABLED_GONE)
        else:
            retry_at = next_retry(
                attempts=delivery.attempts, now=now, retry_after=response.retry_after
            )
            if retry_at is None:
                delivery.status = DeliveryStatus.FAILED
            else:
                delivery.status = DeliveryStatus.PENDING
                delivery.next_attempt_at = retry_at
        # The batch is in the order the answers came: an endpoint's last one says its state.
        outcome_by_endpoint[endpoint.pk] = (endpoint, succeeded)

    with transaction.atomic(savepoint=False):
        _attempts_insert(log)
        _deliveries_save([done.delivery for done in attempts])
        for endpoint_pk, (endpoint, succeeded) in outcome_by_endpoint.items():
            endpoints = Endpoint.objects.unscoped().filter(pk=endpoint_pk)
            if succeeded:
                if endpoint.failing_since is not None:
                    endpoints.filter(failing_since__isnull=False).update(failing_since=None)
                    endpoint.failing_since = None
            elif endpoint.failing_since is None:
                endpoints.filter(failing_since__isnull=True).update(failing_since=now)
                endpoint.failing_since = now
            elif endpoint.enabled and now - endpoint.failing_since >= DISABLE_AFTER:
                disable.setdefault(endpoint_pk, (endpoint, services.DISABLED_FAILING))
        for endpoint, reason in disable.values():
            disabled = services.endpoint_disable(endpoint, reason)
            if disabled and reason == services.DISABLED_FAILING:
                transaction.on_commit(lambda endpoint=endpoint: _email_owners_disabled(endpoint))


def delivery_send(delivery_id: object, *, now: datetime | None = None) -> Delivery:
    """Post one claimed (or leased) delivery now and record what happened; the delivery, moved
    on. One that has already succeeded or given up is returned as it is."""
    [delivery] = _with_endpoints_and_events([delivery_id])
    if delivery.status in (DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED):
        return delivery
    attempts_record([attempt(delivery)], now=now)
    return delivery


# ---------------------------------------------------------------------------------------------
# The driver


def _attempt_in_thread(delivery: Delivery) -> Attempt | None:
    try:
        return attempt(delivery)
    except Exception:
        # The lease expires and the delivery goes again; the failure is in the logs.
        logger.exception("Webhook delivery %s failed unexpectedly", delivery.pk)
        return None


LEASES_EXPIRY_EVERY = 1.0  # seconds


def _turn(
    answers: list[Attempt], *, room: int, now: datetime | None, expire_leases: bool
) -> list[Delivery]:
    """Record the answers that came back and claim up to `room` more, in one transaction
    (which, with a claim, does not wait for the disk: see _CLAIM_LOCK_SQL)."""
    if not answers and room <= 0:
        return []
    with transaction.atomic():
        attempts_record(answers, now=now)
        return deliveries_claim(now=now, limit=room, expire_leases=expire_leases)


def deliver_due(
    *,
    now: datetime | None = None,
    workers: int = 16,
    duration: float = 10.0,
) -> int:
    """Claim and send due deliveries for about `duration` seconds; how many were sent.

    `workers` threads only make requests. This thread does all the database work, in
    batches: each turn records every answer that came back since the last one and claims as
    many deliveries as there are idle threads, in one transaction. The busier the receivers,
    the bigger the batches. A slow receiver holds at most its `max_in_flight` threads while
    the rest keep sending to every other endpoint."""
    stop_claiming = time.monotonic() + duration
    running: set[Future[Attempt | None]] = set()
    done: set[Future[Attempt | None]] = set()
    sent = 0
    leases_expired_at = -LEASES_EXPIRY_EVERY
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="webhooks") as pool:
        while True:
            answers = [a for a in (future.result() for future in done) if a is not None]
            room = workers - len(running) if time.monotonic() < stop_claiming else 0
            # Dead workers' leases are rare: looked for once a second, not at every turn.
            expire_leases = time.monotonic() - leases_expired_at >= LEASES_EXPIRY_EVERY
            if expire_leases and room > 0:
                leases_expired_at = time.monotonic()
            claimed = _turn(answers, room=room, now=now, expire_leases=expire_leases)
            running.update(pool.submit(_attempt_in_thread, d) for d in claimed)
            sent += len(claimed)
            if not running:
                if not claimed:
                    return sent
                done = set()
                continue
            # Past the claiming time, the requests still running are waited for to the end.
            timeout = 0.2 if time.monotonic() < stop_claiming else None
            done, running = wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
