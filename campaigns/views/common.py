"""Shared by the modules of this package."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from campaigns import services
from campaigns.models import Campaign, CampaignStatus, Step


def get_campaign(request: HttpRequest, pk) -> Campaign:
    return get_object_or_404(Campaign.objects.for_workspace(request.workspace), pk=pk)


def get_step(request: HttpRequest, pk) -> Step:
    return get_object_or_404(
        Step.objects.for_workspace(request.workspace).select_related("campaign"), pk=pk
    )


PAGE_CHECK_CONTACTS = 200


def render_campaign(
    request: HttpRequest, campaign: Campaign, tab: str, template: str, context: dict
) -> HttpResponse:
    """A tab of the campaign's page: the header (status, launch/pause/resume) and what stops
    a launch, then the tab itself."""
    problems = []
    if campaign.status in (CampaignStatus.DRAFT, CampaignStatus.PAUSED):
        # A sample of the contacts on every page view; the launch checks them all.
        problems = services.launch_problems(campaign, contacts_checked=PAGE_CHECK_CONTACTS)
    return render(
        request,
        template,
        {
            "active": "campaigns",
            "campaign": campaign,
            "campaign_tab": tab,
            "launch_problems": problems,
            **context,
        },
    )
