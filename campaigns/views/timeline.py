"""Dashboard: one contact's timeline in one campaign — what was sent, what happens next — and
the two answers to an email whose outcome is unknown: send it again, or it was sent (POST)."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.decorators import workspace_required
from accounts.errors import ServiceError
from campaigns import selectors, services
from campaigns.models import Enrollment, MessageStatus, OutboundMessage
from campaigns.views.common import render_campaign


@workspace_required
def campaign_enrollment(request: HttpRequest, pk) -> HttpResponse:
    enrollment = get_object_or_404(
        Enrollment.objects.for_workspace(request.workspace).select_related(
            "campaign", "contact", "mailbox"
        ),
        pk=pk,
    )
    timeline = selectors.enrollment_timeline(enrollment)
    return render_campaign(
        request,
        enrollment.campaign,
        "contacts",
        "campaigns/enrollment.html",
        {
            "enrollment": enrollment,
            "contact": enrollment.contact,
            "explanation": selectors.explain(enrollment=enrollment),
            "timeline": timeline,
            "has_messages": any(entry.message for entry in timeline),
            # Nothing happens by itself after an unknown outcome: no "next" time to show.
            "has_unknown": any(
                entry.message and entry.message.status == MessageStatus.UNKNOWN
                for entry in timeline
            ),
        },
    )


def _decide(request: HttpRequest, pk, run: Callable[..., object], success: str) -> HttpResponse:
    message = get_object_or_404(
        OutboundMessage.objects.for_workspace(request.workspace).select_related("mailbox", "step"),
        pk=pk,
    )
    try:
        run(workspace=request.workspace, message=message)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, success)
    return redirect("campaign_enrollment", message.enrollment_id)


@workspace_required
@require_POST
def campaign_message_send_again(request: HttpRequest, pk) -> HttpResponse:
    return _decide(
        request,
        pk,
        services.message_send_again,
        _("It goes again within the sending window, under a new Message-ID."),
    )


@workspace_required
@require_POST
def campaign_message_mark_sent(request: HttpRequest, pk) -> HttpResponse:
    return _decide(
        request,
        pk,
        services.message_mark_sent,
        _("Marked as sent: the sequence moves on to the next email."),
    )
