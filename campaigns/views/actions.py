"""Dashboard: launch, pause and resume a campaign (POST only)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.decorators import workspace_required
from accounts.errors import ServiceError
from campaigns import services
from campaigns.views.common import get_campaign


def _act(request: HttpRequest, pk, run, success: str) -> HttpResponse:
    campaign = get_campaign(request, pk)
    try:
        run(workspace=request.workspace, campaign=campaign)
    except ServiceError as error:
        # What to fix is listed on the page itself (launch problems), one line each.
        if not services.launch_problems(campaign):
            messages.error(request, error.message)
        else:
            messages.error(request, _("Not yet: fix what is listed below first."))
    else:
        messages.success(request, success)
    return redirect("campaign_detail", campaign.pk)


@workspace_required
@require_POST
def campaign_launch(request: HttpRequest, pk) -> HttpResponse:
    return _act(
        request,
        pk,
        services.campaign_launch,
        _("Launched: the first emails go out within the sending window."),
    )


@workspace_required
@require_POST
def campaign_pause(request: HttpRequest, pk) -> HttpResponse:
    return _act(
        request, pk, services.campaign_pause, _("Paused: nothing more is sent until you resume.")
    )


@workspace_required
@require_POST
def campaign_resume(request: HttpRequest, pk) -> HttpResponse:
    return _act(request, pk, services.campaign_resume, _("Resumed."))
