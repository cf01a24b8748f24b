"""The Redis list that opens and clicks wait in between the request and the database.

The pixel and the redirect RPUSH one compact JSON item each and answer; `tracking_flush`
(every few seconds, on the scheduler queue) takes the whole list at once and writes it in
chunks. Taking is a RENAME to a key of its own, so a flusher that dies leaves its key behind
for the next one to adopt, and items pushed meanwhile start a new list. Writing an item twice
is harmless (its event id comes with it), so a key is deleted only after all of it is written.
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

BUFFER_KEY = "tracking:buffer"
FLUSHING_PREFIX = "tracking:flushing:"
_LOCK_KEY = "tracking:flush-lock"
_LOCK_SECONDS = 300  # a flusher that died frees the buffer after this long
_TIMEOUT_SECONDS = 0.25  # a slow or absent Redis costs the request this much, then direct write
_CHUNK = 1000

# One client (one connection pool) per URL and process, made on first use: the URL is read at
# each call, so a process without REDIS_URL (the embedded `make run`) never buffers.
_clients: dict[str, redis.Redis] = {}


def client() -> redis.Redis | None:
    url = settings.REDIS_URL
    if not url:
        return None
    found = _clients.get(url)
    if found is None:
        found = _clients[url] = redis.Redis.from_url(
            url, socket_timeout=_TIMEOUT_SECONDS, socket_connect_timeout=_TIMEOUT_SECONDS
        )
    return found


def push(item: dict[str, Any]) -> bool:
    """Queues one open or click; False when there is no Redis to queue it in (the caller then
    writes it directly)."""
    redis_client = client()
    if redis_client is None:
        return False
    try:
        redis_client.rpush(BUFFER_KEY, json.dumps(item, separators=(",", ":")))
    except redis.RedisError:
        logger.warning("tracking buffer unavailable, writing directly", exc_info=True)
        return False
    return True


def _chunks(redis_client: redis.Redis, key: str) -> Iterator[list[dict[str, Any]]]:
    start = 0
    while raw := redis_client.lrange(key, start, start + _CHUNK - 1):
        yield [json.loads(line) for line in raw]
        start += len(raw)


def drain(write: Callable[[list[dict[str, Any]]], None]) -> int:
    """Hands every queued item to `write`, a chunk at a time (each chunk written, or not,
    as a whole), and returns how many there were. Keys a dead flusher left are taken first.
    One flusher at a time: another one running makes this a no-op."""
    redis_client = client()
    if redis_client is None:
        return 0
    lock = redis_client.lock(_LOCK_KEY, timeout=_LOCK_SECONDS)
    if not lock.acquire(blocking=False):
        return 0
    try:
        taken = f"{FLUSHING_PREFIX}{uuid.uuid4()}"
        with contextlib.suppress(redis.ResponseError):  # no such key: nothing new was pushed
            redis_client.rename(BUFFER_KEY, taken)
        count = 0
        # Holding the lock, every flushing key is a dead flusher's or the one just taken.
        for key in sorted(redis_client.scan_iter(match=f"{FLUSHING_PREFIX}*", count=100)):
            for chunk in _chunks(redis_client, key):
                write(chunk)
                count += len(chunk)
            redis_client.delete(key)
        return count
    finally:
        # Expired meanwhile (another flusher may hold it now): nothing to release.
        with contextlib.suppress(redis.exceptions.LockError):
            lock.release()
