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


PAGE_RENDER_CONTACTS = 2_000


def render_campaign(
    request: HttpRequest, campaign: Campaign, tab: str, template: str, context: dict
) -> HttpResponse:
    """A tab of the campaign's page: the header (status, launch/pause/resume) and what stops
    a launch, then the tab itself."""
    problems = []
    if campaign.status in (CampaignStatus.DRAFT, CampaignStatus.PAUSED):
        # Every contact is checked; past PAGE_RENDER_CONTACTS lacking a value (a fallback is
        # clearly missing), counts say "at least" and the page stays fast. The launch is exact.
        problems = services.launch_problems(campaign, contacts_rendered=PAGE_RENDER_CONTACTS)
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
