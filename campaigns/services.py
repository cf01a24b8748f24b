"""Every write to a campaign outside the engine: create, steps, enroll, launch, pause, resume."""

from __future__ import annotations

import email
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, ProtectedError, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from accounts.errors import ServiceError
from accounts.models import User, Workspace
from accounts.services import require_in_workspace
from campaigns import mime, schedule
from campaigns.engine.compose import choose_variant, compose
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
from campaigns.tasks import enqueue_send
from campaigns.templating import UndefinedVariable
from campaigns.windows import campaign_window
from contacts.models import Contact, ContactList, ContactStatus
from contacts.selectors import suppressed_emails
from email_accounts.models import Mailbox, MailboxStatus
from email_accounts.providers.base import (
    OutcomeUnknown,
    OutgoingMessage,
    ProviderError,
    SentMessage,
)
from email_accounts.selectors import limit_today
from email_accounts.services import mailbox_release_send, mailbox_reserve_send, open_provider
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


# A variant's share of its email's new contacts is weight / (sum of the email's weights).
MAX_VARIANT_WEIGHT = 100
WEIGHT_RANGE_MESSAGE = gettext_lazy(
    "Give a weight between 0 and 100 (0: no new contact gets this variant)."
)


def _check_weight(weight: int) -> None:
    if not 0 <= weight <= MAX_VARIANT_WEIGHT:
        raise ServiceError(str(WEIGHT_RANGE_MESSAGE), field="weight")


def _check_variant_subject(step: Step, subject: str) -> None:
    # Like the step rule: every version of the first email needs a subject; a follow-up may
    # leave it empty to reply in the thread ("Re: …").
    if step.position == 0 and not subject.strip():
        raise ServiceError(_("The first email needs a subject."), field="subject")


def _locked_step(workspace: Workspace, step_id: Any) -> Step:
    """The step, locked: weight rules look at all its variants at once."""
    return Step.objects.for_workspace(workspace).select_for_update().get(pk=step_id)


@transaction.atomic
def variant_add(
    *, workspace: Workspace, step: Step, subject: str, body: str, weight: int = 50
) -> Variant:
    require_in_workspace(step, workspace)
    step = _locked_step(workspace, step.pk)
    labels = set(step.variants.values_list("label", flat=True))
    label = next((c for c in "ABCDEFGHIJ" if c not in labels), None)
    if label is None:
        raise ServiceError(_("An email of the sequence has at most 10 variants."))
    if not body.strip():
        raise ServiceError(_("Write the email's body."), field="body")
    _check_variant_subject(step, subject)
    _check_weight(weight)
    return Variant.objects.create(
        workspace=workspace, step=step, label=label, subject=subject, body=body, weight=weight
    )


@transaction.atomic
def variant_update(
    *,
    workspace: Workspace,
    variant: Variant,
    subject: str | None = None,
    body: str | None = None,
    weight: int | None = None,
) -> Variant:
    """Edit one version of an email, also while the campaign runs: emails already written keep
    their content, the contacts still to get it get the new version. Weight 0 stops giving it
    to new contacts (its statistics stay); one variant of the email must keep a weight above 0."""
    require_in_workspace(variant, workspace)
    step = _locked_step(workspace, variant.step_id)
    variant = Variant.objects.for_workspace(workspace).get(pk=variant.pk)
    if subject is not None:
        _check_variant_subject(step, subject)
        variant.subject = subject
    if body is not None:
        if not body.strip():
            raise ServiceError(_("Write the email's body."), field="body")
        variant.body = body
    if weight is not None:
        _check_weight(weight)
        if weight == 0 and not step.variants.exclude(pk=variant.pk).filter(weight__gt=0).exists():
            raise ServiceError(
                _(
                    "At least one variant of an email must keep a weight above 0: give another "
                    "variant a weight first."
                ),
                field="weight",
            )
        variant.weight = weight
    variant.save()
    return variant


@transaction.atomic
def variant_delete(*, workspace: Workspace, variant: Variant) -> None:
    """Remove a variant no email was written with yet. Variant A is the email itself (the
    step's content): it stays; weight 0 stops using it."""
    require_in_workspace(variant, workspace)
    step = _locked_step(workspace, variant.step_id)
    variant = Variant.objects.for_workspace(workspace).get(pk=variant.pk)
    others = step.variants.exclude(pk=variant.pk)
    if not others.exists():
        raise ServiceError(
            _("This is the email's only version: remove the email from the sequence instead.")
        )
    if variant.label == "A":
        raise ServiceError(
            _(
                "Variant A is the email itself and cannot be removed: set its weight to 0 to "
                "stop sending it to new contacts."
            )
        )
    used = variant.messages.count()
    if used:
        raise ServiceError(
            ngettext(
                "Variant %(label)s was already used for %(count)d email: set its weight to 0 to "
                "stop using it while keeping its statistics.",
                "Variant %(label)s was already used for %(count)d emails: set its weight to 0 to "
                "stop using it while keeping its statistics.",
                used,
            )
            % {"label": variant.label, "count": used}
        )
    if not others.filter(weight__gt=0).exists():
        raise ServiceError(
            _(
                "The other variants of this email all have a weight of 0: give one of them a "
                "weight above 0 first."
            )
        )
    try:
        variant.delete()
    except ProtectedError:  # an email was written with it in the meantime
        raise ServiceError(
            _(
                "Variant %(label)s was just used for an email: set its weight to 0 to stop "
                "using it while keeping its statistics."
            )
            % {"label": variant.label}
        ) from None


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
    # Straight to the sending queue: the sweeper would find it too, but only minutes later.
    transaction.on_commit(lambda: enqueue_send(message.pk))
    return message


def message_mark_sent(*, workspace: Workspace, message: OutboundMessage) -> None:
    """A person found an `unknown` email in the mailbox: record it as sent, and the sequence
    moves on."""
    require_in_workspace(message, workspace)
    if message.status != MessageStatus.UNKNOWN:
        raise ServiceError(_("Only an email whose outcome is unknown can be marked as sent."))
    sent = SentMessage(provider_message_id=message.message_id, provider_thread_id="")
    record_sent(message, sent, message.subject, message.sending_started_at or timezone.now())


# ------------------------------------------------------------------------------- test emails


def undefined_sentence(error: UndefinedVariable) -> str:
    return _(
        "This contact has no value for %(names)s: give a fallback like {{firstName|there}}, or "
        "fill it in."
    ) % {"names": ", ".join(f"{{{{{name}}}}}" for name in error.names)}


def preview_mailbox(enrollment: Enrollment) -> Mailbox | None:
    """The mailbox a preview (and its test email) is written from: the contact's own (follow-ups
    stay on it), else the campaign's first connected sender, else its first sender."""
    if enrollment.mailbox is not None:
        return enrollment.mailbox
    senders = enrollment.campaign.mailboxes.all()
    return senders.filter(status=MailboxStatus.CONNECTED).first() or senders.first()


def _count_test_email(workspace: Workspace) -> None:
    """Each test dials a mail server and lands in a real inbox: a workspace gets the same hourly
    budget as connection tests (counted apart), not an open-ended mailer."""
    limit = settings.EMAIL_ACCOUNTS_CONNECTION_TESTS_PER_HOUR
    key = f"campaign-test-emails:{workspace.pk}:{int(time.time() // 3600)}"
    cache.add(key, 0, timeout=3600)
    if cache.incr(key) > limit:
        raise ServiceError(
            ngettext(
                "This workspace has sent its %(limit)d test email this hour: try again next hour.",
                "This workspace has sent its %(limit)d test emails this hour: try again next hour.",
                limit,
            )
            % {"limit": limit}
        )


def _thread_subject(enrollment: Enrollment, step: Step, mailbox: Mailbox) -> str:
    """A follow-up without a subject replies "Re: …" to the thread; for a contact not written to
    yet, that is the nearest earlier email with a subject, as this contact gets it."""
    earlier = (
        step.campaign.steps.filter(position__lt=step.position)
        .order_by("-position")
        .prefetch_related("variants")
    )
    for previous in earlier:
        variant = choose_variant(enrollment, previous, list(previous.variants.all()))
        if variant.subject.strip():
            composed = compose(
                enrollment=enrollment,
                step=previous,
                variant=variant,
                mailbox=mailbox,
                message_id=new_message_id(mailbox.email),
            )
            return mime.reply_subject(composed.subject)
    return ""


def _as_test(raw: bytes, *, to: str, subject: str) -> bytes:
    """The composed email, addressed to the tester, "[Test] " before its subject and outside
    any thread (no In-Reply-To or References): the body is left byte for byte."""
    message = email.message_from_bytes(raw, policy=mime.POLICY)
    message.replace_header("To", to)
    message.replace_header("Subject", f"[Test] {subject}".strip())
    del message["In-Reply-To"]
    del message["References"]
    return message.as_bytes()


def preview_send_test(
    *, workspace: Workspace, user: User, enrollment: Enrollment, step: Step
) -> Mailbox:
    """Send the email `enrollment` gets for `step`, exactly as the preview shows it, to the
    signed-in user's own address — never one typed in. "[Test] " before the subject, a fresh
    Message-ID, no thread. It goes through the contact's mailbox (else the campaign's first
    connected one), counts in that mailbox's daily quota like any send and in the workspace's
    hourly budget of tests, and is never retried. No outbound message is recorded and the
    enrollment is left as it was. Returns the mailbox it went through."""
    require_in_workspace(enrollment, workspace)
    require_in_workspace(step, workspace)
    if step.campaign_id != enrollment.campaign_id:
        raise ServiceError(_("This email is not part of this contact's campaign."))
    if not user.email:
        raise ServiceError(_("Your account has no email address: add one to receive tests."))
    mailbox = preview_mailbox(enrollment)
    if mailbox is None:
        raise ServiceError(_("Choose a mailbox to send from first (Schedule & options)."))
    if mailbox.status != MailboxStatus.CONNECTED:
        sentence = _(
            "The test goes out through %(mailbox)s, whose status is “%(status)s”: fix it in "
            "Email accounts first."
        ) % {"mailbox": mailbox.email, "status": mailbox.get_status_display()}
        if mailbox.reason_display:
            sentence += " " + mailbox.reason_display
        raise ServiceError(sentence)
    message_id = new_message_id(mailbox.email)
    variant = choose_variant(enrollment, step, list(step.variants.all()))
    try:
        composed = compose(
            enrollment=enrollment,
            step=step,
            variant=variant,
            mailbox=mailbox,
            message_id=message_id,
        )
        subject = composed.subject or _thread_subject(enrollment, step, mailbox)
    except UndefinedVariable as error:
        raise ServiceError(undefined_sentence(error)) from None
    raw = _as_test(composed.raw, to=user.email, subject=subject)
    _count_test_email(workspace)
    now = timezone.now()
    if not mailbox_reserve_send(mailbox_id=mailbox.pk, now=now):
        raise ServiceError(
            _("%(mailbox)s has sent its %(limit)d emails for today; try again tomorrow.")
            % {"mailbox": mailbox.email, "limit": limit_today(mailbox, now)}
        )
    outgoing = OutgoingMessage(
        raw=raw, message_id=message_id, sender=mailbox.email, recipients=(user.email,)
    )
    try:
        with open_provider(mailbox=mailbox) as provider:
            provider.send(outgoing)
    except ProviderError as error:
        if not isinstance(error, OutcomeUnknown):  # it did not leave: give the send back
            mailbox_release_send(mailbox_id=mailbox.pk, day=mailbox.local_day(now))
        raise ServiceError(
            _("The test email was not sent: %(reason)s") % {"reason": error.message}
        ) from None
    return mailbox
