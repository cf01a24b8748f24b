"""Campaigns themselves: create, change their settings, check, launch, pause and resume."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.errors import ServiceError
from accounts.models import Workspace
from accounts.services import require_in_workspace
from campaigns import schedule
from campaigns.models import (
    RUNNING_ENROLLMENT,
    SPACING_FLOOR_SECONDS,
    Campaign,
    CampaignStatus,
    EnrollmentStatus,
)
from campaigns.payloads import campaign_payload
from campaigns.selectors import undefined_problem_sentences
from campaigns.windows import campaign_window
from email_accounts.models import Mailbox
from webhooks.events import emit


def _clean_window(campaign: Campaign) -> None:
    try:
        schedule.validate_window(campaign_window(campaign))
    except ValueError as error:
        raise ServiceError(str(error), field="window_end") from None


@transaction.atomic
def campaign_create(
    *,
    workspace: Workspace,
    name: str,
    mailboxes: Iterable[Mailbox] = (),
    **options: Any,
) -> Campaign:
    name = name.strip()
    if not name:
        raise ServiceError(_("Give the campaign a name."), field="name")
    options.setdefault("timezone", workspace.timezone)
    campaign = Campaign(workspace=workspace, name=name, **options)
    _clean_settings(campaign)
    campaign.save()
    _set_mailboxes(campaign, workspace, mailboxes)
    return campaign


def _set_mailboxes(campaign: Campaign, workspace: Workspace, mailboxes: Iterable[Mailbox]) -> None:
    """The campaign's senders become these (rotation), each checked to be the workspace's."""
    senders = list(mailboxes)
    for mailbox in senders:
        require_in_workspace(mailbox, workspace)
    campaign.mailboxes.set(senders)


def launch_problems(campaign: Campaign, *, contacts_rendered: int | None = None) -> list[str]:
    """What stops a launch, each problem a sentence saying what to do. Variables are checked
    against every running contact: SQL finds those lacking a value, and the renderer checks
    them — all of them, or (pages) until `contacts_rendered` are found, then "at least"."""
    problems = []
    if not campaign.steps.exists():
        problems.append(_("Write at least one email."))
    if not campaign.mailboxes.exists():
        problems.append(_("Choose at least one mailbox to send from."))
    if not campaign.enrollments.filter(status__in=RUNNING_ENROLLMENT).exists():
        problems.append(_("Add contacts to the campaign."))
    try:
        schedule.validate_window(campaign_window(campaign))
    except ValueError as error:
        problems.append(str(error))
    if not problems:
        problems += undefined_problem_sentences(campaign, limit=contacts_rendered)
    return problems


def _refuse_launch_problems(campaign: Campaign) -> None:
    problems = launch_problems(campaign)
    if problems:
        raise ServiceError(" ".join(problems))


@transaction.atomic
def campaign_launch(
    *, workspace: Workspace, campaign: Campaign, now: datetime | None = None
) -> Campaign:
    require_in_workspace(campaign, workspace)
    campaign = Campaign.objects.for_workspace(workspace).select_for_update().get(pk=campaign.pk)
    if campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.PAUSED):
        raise ServiceError(_("Only a draft or paused campaign can be launched."))
    _refuse_launch_problems(campaign)
    now = now or timezone.now()
    campaign.status, campaign.status_reason = CampaignStatus.ACTIVE, ""
    campaign.launched_at = campaign.launched_at or now
    campaign.save()
    # Everyone who has not been written to yet is due now; the tick applies the window.
    campaign.enrollments.filter(status=EnrollmentStatus.PENDING, due_at__isnull=True).update(
        due_at=now
    )
    emit(
        workspace=workspace, type="campaign.launched", data={"campaign": campaign_payload(campaign)}
    )
    return campaign


@transaction.atomic
def campaign_pause(*, workspace: Workspace, campaign: Campaign, reason: str = "") -> Campaign:
    """Nothing is sent after this commits: the send task rechecks the campaign's status."""
    require_in_workspace(campaign, workspace)
    campaign = Campaign.objects.for_workspace(workspace).select_for_update().get(pk=campaign.pk)
    if campaign.status != CampaignStatus.ACTIVE:
        raise ServiceError(_("Only an active campaign can be paused."))
    campaign.status, campaign.status_reason = CampaignStatus.PAUSED, reason
    campaign.save()
    emit(workspace=workspace, type="campaign.paused", data={"campaign": campaign_payload(campaign)})
    return campaign


@transaction.atomic
def campaign_resume(*, workspace: Workspace, campaign: Campaign) -> Campaign:
    require_in_workspace(campaign, workspace)
    campaign = Campaign.objects.for_workspace(workspace).select_for_update().get(pk=campaign.pk)
    if campaign.status != CampaignStatus.PAUSED:
        raise ServiceError(_("Only a paused campaign can be resumed."))
    _refuse_launch_problems(campaign)
    campaign.status, campaign.status_reason = CampaignStatus.ACTIVE, ""
    campaign.save()
    emit(
        workspace=workspace, type="campaign.resumed", data={"campaign": campaign_payload(campaign)}
    )
    return campaign


# Settings a campaign's owner may change, draft or running (the engine rereads them each time).
CAMPAIGN_SETTINGS = (
    "name",
    "timezone",
    "weekdays",
    "window_start",
    "window_end",
    "recipient_local_time",
    "daily_new_contacts",
    "spacing_min_seconds",
    "spacing_max_seconds",
    "stop_on_reply",
    "stop_on_company_reply",
    "track_opens",
    "track_clicks",
    "unsubscribe_link",
    "body_format",
    "bounce_pause_percent",
    "out_of_office_days",
)
MAX_BOUNCE_PAUSE_PERCENT = 50
MAX_OUT_OF_OFFICE_DAYS = 60


def _clean_settings(campaign: Campaign) -> None:
    if not campaign.name.strip():
        raise ServiceError(_("Give the campaign a name."), field="name")
    if campaign.spacing_min_seconds < SPACING_FLOOR_SECONDS:
        raise ServiceError(
            _("Leave at least %(floor)d seconds between two emails of a mailbox.")
            % {"floor": SPACING_FLOOR_SECONDS},
            field="spacing_min_seconds",
        )
    if campaign.spacing_max_seconds < campaign.spacing_min_seconds:
        raise ServiceError(
            _("The maximum gap must be at least the minimum gap."), field="spacing_max_seconds"
        )
    if not 0 <= campaign.bounce_pause_percent <= MAX_BOUNCE_PAUSE_PERCENT:
        raise ServiceError(
            _("Give a bounce rate between 0 (never pause) and %(max)d%%.")
            % {"max": MAX_BOUNCE_PAUSE_PERCENT},
            field="bounce_pause_percent",
        )
    if not 1 <= campaign.out_of_office_days <= MAX_OUT_OF_OFFICE_DAYS:
        raise ServiceError(
            _("Give between 1 and %(max)d days.") % {"max": MAX_OUT_OF_OFFICE_DAYS},
            field="out_of_office_days",
        )
    _clean_window(campaign)


@transaction.atomic
def campaign_update(
    *,
    workspace: Workspace,
    campaign: Campaign,
    mailboxes: Iterable[Mailbox] | None = None,
    **changes: Any,
) -> Campaign:
    require_in_workspace(campaign, workspace)
    unknown = set(changes) - set(CAMPAIGN_SETTINGS)
    if unknown:
        raise ValueError(f"Not campaign settings: {sorted(unknown)}")
    campaign = Campaign.objects.for_workspace(workspace).select_for_update().get(pk=campaign.pk)
    for name, value in changes.items():
        setattr(campaign, name, value.strip() if isinstance(value, str) else value)
    _clean_settings(campaign)
    campaign.save()
    if mailboxes is not None:
        _set_mailboxes(campaign, workspace, mailboxes)
    return campaign
