"""A campaign's sequence: its emails (steps) and their A/B variants, also while it runs."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import F, ProtectedError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from accounts.errors import ServiceError
from accounts.models import Workspace
from accounts.services import require_in_workspace
from campaigns.models import RUNNING_ENROLLMENT, Campaign, DelayUnit, MessageStatus, Step, Variant


def _check_subject(position: int, subject: str) -> None:
    # Every version of the first email needs a subject; a follow-up may leave it empty to reply
    # in the thread ("Re: …").
    if position == 0 and not subject.strip():
        raise ServiceError(_("The first email needs a subject."), field="subject")


def _check_body(body: str) -> None:
    if not body.strip():
        raise ServiceError(_("Write the email's body."), field="body")


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
    _check_subject(position, subject)
    _check_body(body)
    step = Step.objects.create(
        workspace=workspace,
        campaign=campaign,
        position=position,
        delay_amount=delay_amount,
        delay_unit=delay_unit,
    )
    Variant.objects.create(workspace=workspace, step=step, label="A", subject=subject, body=body)
    return step


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
        _check_subject(step.position, subject)
        variant.subject = subject
    if body is not None:
        _check_body(body)
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
    _check_body(body)
    _check_subject(step.position, subject)
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
        _check_subject(step.position, subject)
        variant.subject = subject
    if body is not None:
        _check_body(body)
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
