"""Serves the tracking routes ahead of the dashboard's middleware.

The pixel, the redirect and the unsubscribe page belong to no session and no user: sessions,
CSRF, authentication, the workspace resolver and messages would only cost time on the busiest
endpoints FluenzR has. They also answer on customers' tracking domains (CNAMEs), which are not in
ALLOWED_HOSTS; these views never build a URL from the Host header, so that is safe. Placed right
after SecurityMiddleware (HTTPS redirect and HSTS still apply). Anything else, including a
malformed tracking path, goes through the whole stack as usual.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

_PREFIXES = ("/o/", "/c/", "/u/")
_URLCONF = "campaigns.tracking.urls"


class TrackingMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path[:3] in _PREFIXES:
            try:
                match = resolve(path, urlconf=_URLCONF)
            except Resolver404:
                pass
            else:
                request.resolver_match = match
                return match.func(request, *match.args, **match.kwargs)
        return self.get_response(request)
