"""Dashboard home, the sections still to be built, and the health check."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache

from accounts.decorators import workspace_required
from fluenzr.celery import app as celery_app

SECTIONS = {
    "warming": {
        "title": _("Warming"),
        "what": _("Warm new mailboxes up so their emails reach the inbox."),
    },
}


@workspace_required
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/home.html", {"active": "dashboard"})


@workspace_required
def section_not_built(request: HttpRequest, section: str) -> HttpResponse:
    return render(
        request,
        "dashboard/not_built.html",
        {"active": section, "section": SECTIONS[section]},
    )


def _database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        return False


def _broker_answers() -> bool:
    try:
        with celery_app.connection_for_write() as broker:
            broker.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:
        return False


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {
        "database": "ok" if _database_answers() else "unavailable",
        "broker": "ok" if _broker_answers() else "unavailable",
    }
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status=200 if healthy else 503,
    )
