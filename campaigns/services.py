"""Every write to a campaign outside the engine: create, steps, enroll, launch, pause, resume."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.errors import ServiceError
from accounts.models import Workspace
from accounts.services import require_in_workspace
from campaigns import schedule
from campaigns.engine.sender import record_sent
from campaigns.mime import new_message_id
from campaigns.models import (
    RUNNING_ENROLLMENT,
    SPACING_FLOOR_SECONDS,
    Campaign,
    CampaignStatus,
    DelayUnit,
    Enrollment,
    EnrollmentStatus,
    MessageStatus,
    OutboundMessage,
    Step,
    Variant,
)
from campaigns.payloads import campaign_payload
from campaigns.selectors import undefined_problem_sentences
from campaigns.windows import campaign_window
from contacts.models import Contact, ContactList, ContactStatus
from contacts.selectors import suppressed_emails
from email_accounts.models import Mailbox
from email_accounts.providers.base import SentMessage
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
    candidates = list(contacts.filter(workspace=workspace))
    suppressed = suppressed_emails(workspace=workspace, emails=(c.email for c in candidates))
    new = []
    for contact in candidates:
        if contact.pk in already:
            result.skipped["already_enrolled"] += 1
            continue
        if contact.status != ContactStatus.ACTIVE:
            result.skipped[contact.status] += 1
            continue
        if contact.email.lower() in suppressed:
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


def launch_problems(campaign: Campaign, *, contacts_checked: int = 10_000) -> list[str]:
    """What stops a launch, each problem a sentence saying what to do. Variables are checked
    against the first `contacts_checked` contacts (pages show a quick sample; the launch itself
    checks them all, up to its cap)."""
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
        problems += undefined_problem_sentences(campaign, limit=contacts_checked)
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


@transaction.atomic
def campaign_resume(*, workspace: Workspace, campaign: Campaign) -> Campaign:
    require_in_workspace(campaign, workspace)
    campaign = Campaign.objects.for_workspace(workspace).select_for_update().get(pk=campaign.pk)
    if campaign.status != CampaignStatus.PAUSED:
        raise ServiceError(_("Only a paused campaign can be resumed."))
    problems = launch_problems(campaign)
    if problems:
        raise ServiceError(" ".join(problems))
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
)


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
        senders = list(mailboxes)
        for mailbox in senders:
            require_in_workspace(mailbox, workspace)
        campaign.mailboxes.set(senders)
    return campaign


def _waiting_on(step: Step) -> int:
    """Contacts whose next email is this step (or who have one in flight for it)."""
    waiting = step.campaign.enrollments.filter(
        status__in=RUNNING_ENROLLMENT, next_position=step.position
    ).count()
    return (
        waiting
        + step.messages.filter(status__in=(MessageStatus.SCHEDULED, MessageStatus.SENDING)).count()
    )


@transaction.atomic
def step_update(
    *,
    workspace: Workspace,
    step: Step,
    subject: str | None = None,
    body: str | None = None,
    delay_amount: int | None = None,
    delay_unit: str | None = None,
) -> Step:
    """Edit a step, also while the campaign runs: contacts past it are not affected, the
    ones still to get it get the new version."""
    require_in_workspace(step, workspace)
    step = Step.objects.for_workspace(workspace).select_for_update().get(pk=step.pk)
    if delay_amount is not None:
        step.delay_amount = delay_amount
    if delay_unit is not None:
        if delay_unit not in DelayUnit.values:
            raise ServiceError(_("Choose minutes, hours or days."), field="delay_unit")
        step.delay_unit = delay_unit
    step.save()
    variant = step.variants.get(label="A")
    if subject is not None:
        if step.position == 0 and not subject.strip():
            raise ServiceError(_("The first email needs a subject."), field="subject")
        variant.subject = subject
    if body is not None:
        if not body.strip():
            raise ServiceError(_("Write the email's body."), field="body")
        variant.body = body
    variant.save()
    return step


@transaction.atomic
def step_delete(*, workspace: Workspace, step: Step) -> None:
    """Remove a step nobody is waiting on; later steps move up one place."""
    require_in_workspace(step, workspace)
    campaign = (
        Campaign.objects.for_workspace(workspace).select_for_update().get(pk=step.campaign_id)
    )
    step = Step.objects.for_workspace(workspace).get(pk=step.pk)
    waiting = _waiting_on(step)
    if waiting:
        raise ServiceError(
            ngettext(
                "%(count)d contact is waiting for this email: it cannot be removed. Pause the "
                "campaign and edit the email instead.",
                "%(count)d contacts are waiting for this email: it cannot be removed. Pause the "
                "campaign and edit the email instead.",
                waiting,
            )
            % {"count": waiting}
        )
    if step.messages.exists():
        raise ServiceError(
            _("This email has already been sent to some contacts: edit it instead of removing it.")
        )
    position = step.position
    step.delete()
    # Contacts already past the removed position keep their place in what follows.
    for later in campaign.steps.filter(position__gt=position).order_by("position"):
        later.position -= 1
        later.save(update_fields=["position"])
    campaign.enrollments.filter(status__in=RUNNING_ENROLLMENT, next_position__gt=position).update(
        next_position=F("next_position") - 1
    )


@transaction.atomic
def variant_add(
    *, workspace: Workspace, step: Step, subject: str, body: str, weight: int = 50
) -> Variant:
    require_in_workspace(step, workspace)
    labels = set(step.variants.values_list("label", flat=True))
    label = next((c for c in "ABCDEFGHIJ" if c not in labels), None)
    if label is None:
        raise ServiceError(_("An email of the sequence has at most 10 variants."))
    if not body.strip():
        raise ServiceError(_("Write the email's body."), field="body")
    return Variant.objects.create(
        workspace=workspace, step=step, label=label, subject=subject, body=body, weight=weight
    )


def campaign_enroll_lists(
    *, workspace: Workspace, campaign: Campaign, lists: Iterable[ContactList]
) -> EnrollResult:
    ids = [contact_list.pk for contact_list in lists]
    for contact_list in lists:
        require_in_workspace(contact_list, workspace)
    contacts = Contact.objects.for_workspace(workspace).filter(lists__in=ids).distinct()
    return campaign_enroll(workspace=workspace, campaign=campaign, contacts=contacts)


@transaction.atomic
def message_send_again(
    *, workspace: Workspace, message: OutboundMessage, now: datetime | None = None
) -> OutboundMessage:
    """A person decided that a message whose outcome is unknown (not found in Sent) did not
    leave: it goes again, under a new Message-ID (the first one is kept in its error note)."""
    require_in_workspace(message, workspace)
    message = (
        OutboundMessage.objects.for_workspace(workspace).select_for_update().get(pk=message.pk)
    )
    if message.status != MessageStatus.UNKNOWN:
        raise ServiceError(_("Only an email whose outcome is unknown can be sent again."))
    first_id = message.message_id
    message.message_id = new_message_id(message.mailbox.email)
    message.status = MessageStatus.SCHEDULED
    message.next_attempt_at = now or timezone.now()
    message.sending_started_at = None
    message.error = f"Sent again by a user; the first attempt was {first_id}."
    message.save()
    return message


def message_mark_sent(*, workspace: Workspace, message: OutboundMessage) -> None:
    """A person found an `unknown` email in the mailbox: record it as sent, and the sequence
    moves on."""
    require_in_workspace(message, workspace)
    if message.status != MessageStatus.UNKNOWN:
        raise ServiceError(_("Only an email whose outcome is unknown can be marked as sent."))
    sent = SentMessage(provider_message_id=message.message_id, provider_thread_id="")
    record_sent(message, sent, message.subject, message.sending_started_at or timezone.now())
