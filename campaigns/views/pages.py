"""Dashboard: the campaign list, a new campaign, schedule & options, stats (with the daily
chart)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from accounts.decorators import workspace_required
from accounts.errors import ServiceError, form_error
from campaigns import selectors, services
from campaigns.forms import CampaignNewForm, CampaignSettingsForm
from campaigns.models import Campaign, EnrollmentStatus
from campaigns.views.common import get_campaign, render_campaign
from contacts.models import Contact
from email_accounts import selectors as mailbox_selectors

FORECAST_DAYS = 14
DAILY_DAYS = 30


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _numbers(campaign: Campaign) -> dict:
    return {
        "campaign": campaign,
        "contacts": campaign.contact_count,
        "sent": campaign.sent_count,
        "bounced_percent": _percent(campaign.bounced_count, campaign.sent_count),
    }


@workspace_required
def campaign_index(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace
    rows = [_numbers(c) for c in selectors.campaigns_with_numbers(workspace=workspace)]
    return render(
        request,
        "campaigns/index.html",
        {
            "active": "campaigns",
            "rows": rows,
            "has_mailbox": mailbox_selectors.mailboxes(workspace=workspace).exists(),
            "has_contacts": Contact.objects.for_workspace(workspace).exists(),
        },
    )


@workspace_required
def campaign_new(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace
    mailboxes = mailbox_selectors.mailboxes(workspace=workspace)
    form = CampaignNewForm(request.POST or None, mailboxes=mailboxes)
    if request.method == "POST" and form.is_valid():
        try:
            campaign = services.campaign_create(
                workspace=workspace,
                name=form.cleaned_data["name"],
                mailboxes=form.cleaned_data["mailboxes"],
            )
        except ServiceError as error:
            form_error(form, error)
        else:
            messages.success(request, _("Campaign created. Now write its first email."))
            return redirect("campaign_detail", campaign.pk)
    return render(
        request,
        "campaigns/new.html",
        {"active": "campaigns", "form": form, "has_mailbox": mailboxes.exists()},
    )


@workspace_required
def campaign_settings(request: HttpRequest, pk) -> HttpResponse:
    workspace = request.workspace
    campaign = get_campaign(request, pk)
    form = CampaignSettingsForm(
        request.POST or None,
        mailboxes=mailbox_selectors.mailboxes(workspace=workspace),
        initial=CampaignSettingsForm.initial_for(campaign),
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.campaign_update(
                workspace=workspace,
                campaign=campaign,
                mailboxes=form.cleaned_data["mailboxes"],
                **form.changes(),
            )
        except ServiceError as error:
            form_error(form, error)
        else:
            messages.success(request, _("Schedule and options saved."))
            return redirect("campaign_settings", campaign.pk)
    return render_campaign(request, campaign, "settings", "campaigns/settings.html", {"form": form})


@workspace_required
def campaign_stats(request: HttpRequest, pk) -> HttpResponse:
    campaign = get_campaign(request, pk)
    stats = selectors.campaign_stats(campaign)
    by_state = [
        (status, label, stats["contacts"].get(status, 0))
        for status, label in EnrollmentStatus.choices
    ]
    forecast = selectors.forecast(campaign=campaign)
    per_day = forecast.per_day[:FORECAST_DAYS]
    peak = max((n for _day, n in per_day), default=0)
    daily = selectors.campaign_daily(campaign, days=DAILY_DAYS)
    unknown = sum(row["unknown"] for row in stats["steps"])
    return render_campaign(
        request,
        campaign,
        "stats",
        "campaigns/stats.html",
        {
            "by_state": by_state,
            "step_rows": stats["steps"],
            "forecast": forecast,
            "per_day": [(day, n, round(100 * n / peak) if peak else 0) for day, n in per_day],
            "more_days": len(forecast.per_day) - len(per_day),
            "daily": daily,
            "daily_chart": _daily_chart(daily),
            "daily_days": DAILY_DAYS,
            "has_daily": any(row.sent or row.bounced or row.failed for row in daily),
            "daily_total": {
                "sent": sum(row.sent for row in daily),
                "bounced": sum(row.bounced for row in daily),
                "failed": sum(row.failed for row in daily),
            },
            "unknown_count": unknown,
            "unknown_messages": selectors.unknown_messages(campaign) if unknown else [],
        },
    )


def _daily_chart(daily: list[selectors.DayCount]) -> dict:
    """What static/js/campaign-stats.js draws: one label per local day, one series per
    outcome with the CSS variable of its colour (static/css/app.css)."""
    return {
        "labels": [date_format(row.day, "j M") for row in daily],
        "series": [
            {"label": _("Sent"), "color": "--accent", "data": [row.sent for row in daily]},
            {"label": _("Bounced"), "color": "--danger", "data": [row.bounced for row in daily]},
            {"label": _("Failed"), "color": "--warning", "data": [row.failed for row in daily]},
        ],
    }
