"""API rate limits per key and per workspace: fixed windows counted atomically in the cache
(INCR in Redis). Every API response carries X-RateLimit-Limit/Remaining/Reset for the
tighter of the two; over either limit the answer is 429 with Retry-After."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from accounts.models import ApiKey

if TYPE_CHECKING:
    from rest_framework.views import APIView


@dataclass(frozen=True)
class RateLimitState:
    limit: int
    remaining: int
    reset_at: int  # Unix time when the window ends


def _current_window(key: str, window: int, now: float) -> tuple[str, int]:
    window_start = int(now // window * window)
    return f"ratelimit:{key}:{window_start}", window_start + window


def peek_in_window(key: str, window: int, now: float) -> tuple[int, int]:
    """The counter of the current window, unchanged, and when the window ends."""
    cache_key, reset_at = _current_window(key, window, now)
    return cache.get(cache_key) or 0, reset_at


def count_in_window(key: str, window: int, now: float) -> tuple[int, int]:
    """Increment and return the counter of the current window, and when the window ends."""
    cache_key, reset_at = _current_window(key, window, now)
    cache.add(cache_key, 0, timeout=window + 1)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, timeout=window + 1)
        count = 1
    return count, reset_at


class _FixedWindowThrottle(BaseThrottle):
    scope = ""

    def limit(self) -> int:
        raise NotImplementedError

    def identity(self, api_key: ApiKey) -> str:
        raise NotImplementedError

    def allow_request(self, request: Request, view: APIView) -> bool:
        if not isinstance(request.auth, ApiKey):
            return True
        now = time.time()
        window = settings.API_RATE_LIMIT_WINDOW_SECONDS
        limit = self.limit()
        count, reset_at = count_in_window(
            f"{self.scope}:{self.identity(request.auth)}", window, now
        )
        state = RateLimitState(limit=limit, remaining=max(0, limit - count), reset_at=reset_at)
        http_request = request._request
        previous: RateLimitState | None = getattr(http_request, "ratelimit", None)
        if previous is None or state.remaining < previous.remaining:
            http_request.ratelimit = state
        self._wait = max(1, math.ceil(reset_at - now))
        return count <= limit

    def wait(self) -> float:
        return self._wait


class ApiKeyRateThrottle(_FixedWindowThrottle):
    scope = "key"

    def limit(self) -> int:
        return settings.API_RATE_LIMIT_PER_KEY

    def identity(self, api_key: ApiKey) -> str:
        return str(api_key.pk)


class WorkspaceRateThrottle(_FixedWindowThrottle):
    scope = "workspace"

    def limit(self) -> int:
        return settings.API_RATE_LIMIT_PER_WORKSPACE

    def identity(self, api_key: ApiKey) -> str:
        return str(api_key.workspace_id)


class RateLimitHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        state: RateLimitState | None = getattr(request, "ratelimit", None)
        if state is not None:
            response["X-RateLimit-Limit"] = str(state.limit)
            response["X-RateLimit-Remaining"] = str(state.remaining)
            response["X-RateLimit-Reset"] = str(state.reset_at)
        return response
