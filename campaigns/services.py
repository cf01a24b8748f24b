"""Every write to a campaign outside the engine: create, steps, enroll, launch, pause, resume."""

from __future__ import annotations

import zoneinfo
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.errors import ServiceError
from accounts.models import Workspace
from accounts.services import require_in_workspace
from campaigns import schedule
from campaigns.models import (
    RUNNING_ENROLLMENT,
    Campaign,
    CampaignStatus,
    DelayUnit,
    Enrollment,
    EnrollmentStatus,
    Step,
    Variant,
)
from contacts.models import Contact, ContactStatus
from contacts.selectors import email_sendability
from email_accounts.models import Mailbox
from webhooks.events import emit


def campaign_payload(campaign: Campaign) -> dict[str, Any]:
    return {
        "id": str(campaign.pk),
        "url": f"/api/v1/campaigns/{campaign.pk}/",
        "name": campaign.name,
        "status": campaign.status,
        "status_reason": campaign.status_reason,
    }


def campaign_window(campaign: Campaign, contact: Contact | None = None) -> schedule.Window:
    """The campaign's window, in the contact's own time zone when the campaign sends in the
    recipient's local time and the contact has a valid one."""
    zone = campaign.timezone
    own = contact.timezone if contact is not None else ""
    if campaign.recipient_local_time and own in zoneinfo.available_timezones():
        zone = own
    return schedule.Window(
        timezone=zone,
        weekdays=frozenset(campaign.weekdays),
        start=campaign.window_start,
        end=campaign.window_end,
    )


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
    _clean_window(campaign)
    campaign.save()
    senders = list(mailboxes)
    for mailbox in senders:
        require_in_workspace(mailbox, workspace)
    campaign.mailboxes.set(senders)
    return campaign


@transaction.atomic
def step_add(
    *,
    workspace: Workspace,
    campaign: Campaign,
    body: str,
    subject: str = "",
    delay_amount: int = 0,
    delay_unit: str = DelayUnit.DAYS,
) -> Step:
    """Append a step (variant A holds its content)."""
    require_in_workspace(campaign, workspace)
    campaign = Campaign.objects.for_workspace(workspace).select_for_update().get(pk=campaign.pk)
    position = campaign.steps.count()
    if position == 0 and not subject.strip():
        raise ServiceError(_("The first email needs a subject."), field="subject")
    if not body.strip():
        raise ServiceError(_("Write the email's body."), field="body")
    step = Step.objects.create(
        workspace=workspace,
        campaign=campaign,
        position=position,
        delay_amount=delay_amount,
        delay_unit=delay_unit,
    )
    Variant.objects.create(workspace=workspace, step=step, label="A", subject=subject, body=body)
    return step


@dataclass
class EnrollResult:
    added: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason → count


def campaign_enroll(
    *,
    workspace: Workspace,
    campaign: Campaign,
    contacts: QuerySet[Contact],
    now: datetime | None = None,
) -> EnrollResult:
    """Add contacts; suppressed, bounced, unsubscribed and already-enrolled ones are skipped
    with a count per reason. One enrollment per (campaign, contact), enforced by the DB."""
    require_in_workspace(campaign, workspace)
    now = now or timezone.now()
    result = EnrollResult()
    already = set(
        Enrollment.objects.for_workspace(workspace)
        .filter(campaign=campaign)
        .values_list("contact_id", flat=True)
    )
    running = campaign.status == CampaignStatus.ACTIVE
    new = []
    for contact in contacts.filter(workspace=workspace):
        if contact.pk in already:
            result.skipped["already_enrolled"] += 1
            continue
        if contact.status != ContactStatus.ACTIVE:
            result.skipped[contact.status] += 1
            continue
        if not email_sendability(workspace=workspace, email=contact.email).allowed:
            result.skipped["suppressed"] += 1
            continue
        new.append(
            Enrollment(
                workspace=workspace,
                campaign=campaign,
                contact=contact,
                due_at=now if running else None,
            )
        )
    created = Enrollment.objects.for_workspace(workspace).bulk_create(
        new, ignore_conflicts=True, batch_size=1000
    )
    result.added = len(created)
    return result


def launch_problems(campaign: Campaign) -> list[str]:
    """What stops a launch, each problem a sentence saying what to do."""
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
    return problems


@transaction.atomic
def campaign_launch(
    *, workspace: Workspace, campaign: Campaign, now: datetime | None = None
) -> Campaign:
    require_in_workspace(campaign, workspace)
    campaign = Campaign.objects.for_workspace(workspace).select_for_update().get(pk=campaign.pk)
    if campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.PAUSED):
        raise ServiceError(_("Only a draft or paused campaign can be launched."))
    problems = launch_problems(campaign)
    if problems:
        raise ServiceError(" ".join(problems))
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
