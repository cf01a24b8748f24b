"""The recipient-facing endpoints: open pixel, click redirect, unsubscribe page and RFC 8058
one-click POST. No session, no sign-in, no cookie, no CSRF token (a mail provider's POST has
none); TrackingMiddleware serves them before the dashboard's middleware runs, and they never
answer 500: a bad token gets the pixel anyway, or a page saying the link is broken."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt

from campaigns.tracking import services

logger = logging.getLogger(__name__)

# A transparent 1x1 GIF (43 bytes).
PIXEL_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
_PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def client_ip(request: HttpRequest) -> str:
    """The visitor's address: behind N trusted proxies, the Nth from the right of
    X-Forwarded-For (the same rule as sign-in rate limits)."""
    proxies = settings.ALLAUTH_TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",")]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")


def _no_cache(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store, no-cache, must-revalidate, max-age=0, private"
    response["Pragma"] = "no-cache"
    response["Expires"] = "0"
    return response


def _page(request: HttpRequest, state: str, *, token: str = "", status: int = 200) -> HttpResponse:
    """The standalone page (not the dashboard's layout), in the visitor's language."""
    language = translation.get_language_from_request(request)
    with translation.override(language):
        # No request: no context processor may touch a session or a user that is not there.
        content = render_to_string(
            "tracking/page.html", {"state": state, "token": token, "language": language}
        )
    response = HttpResponse(content, status=status)
    response["Content-Security-Policy"] = _PAGE_CSP
    response["X-Frame-Options"] = "DENY"
    response["X-Content-Type-Options"] = "nosniff"
    response["Referrer-Policy"] = "no-referrer"
    response["Content-Language"] = language
    return _no_cache(response)


def pixel(request: HttpRequest, token: str) -> HttpResponse:
    try:
        services.open_record(
            token=token,
            user_agent=request.headers.get("User-Agent", ""),
            ip=client_ip(request),
        )
    except DatabaseError:  # the image is returned whatever happens to the record
        logger.exception("open not recorded")
    response = HttpResponse(PIXEL_GIF, content_type="image/gif")
    response["Referrer-Policy"] = "no-referrer"
    return _no_cache(response)


def click(request: HttpRequest, token: str) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return _page(request, "broken", status=405)
    try:
        url = services.click_record(
            token=token,
            user_agent=request.headers.get("User-Agent", ""),
            ip=client_ip(request),
            method=request.method,
        )
    except DatabaseError:
        logger.exception("click not recorded")
        url = services.click_target(token=token)
    if url is None:
        return _page(request, "broken_link")
    response = HttpResponseRedirect(url)
    response["Referrer-Policy"] = "no-referrer"
    return _no_cache(response)


@csrf_exempt
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET: the confirmation page (link scanners fetch GETs, so a GET changes nothing).
    POST: unsubscribe now — the page's button, or a mail provider's RFC 8058 one-click POST
    (`List-Unsubscribe=One-Click`). Idempotent."""
    if request.method == "POST":
        outcome = services.unsubscribe_by_token(token=token)
        if outcome == services.Unsubscribe.BROKEN:
            return _page(request, "broken", status=404)
        return _page(request, "preview" if outcome == services.Unsubscribe.PREVIEW else "done")
    if request.method not in ("GET", "HEAD"):
        return _page(request, "broken", status=405)
    state = services.unsubscribe_token_state(token=token)
    if state == services.Unsubscribe.BROKEN:
        return _page(request, "broken", status=404)
    if state == services.Unsubscribe.PREVIEW:
        return _page(request, "preview")
    return _page(request, "confirm", token=token)
