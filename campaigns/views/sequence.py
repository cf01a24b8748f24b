"""Dashboard: the campaign's sequence — steps, their variants, the variable menu."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Count, Prefetch, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.decorators import workspace_required
from accounts.errors import ServiceError, form_error
from campaigns import services, templating
from campaigns.forms import StepForm, VariantForm
from campaigns.models import Campaign, MessageStatus, Step, Variant
from campaigns.views.common import get_campaign, get_step, render_campaign
from contacts import selectors as contact_selectors

VARIANT_LABELS = "ABCDEFGHIJ"


def _step_initial(step: Step) -> dict:
    variant = next(v for v in step.variants.all() if v.label == "A")
    return {
        "delay_amount": step.delay_amount,
        "delay_unit": step.delay_unit,
        "subject": variant.subject,
        "body": variant.body,
    }


def _variant_prefix(variant: Variant) -> str:
    return f"e{str(variant.pk)[:8]}"


def _variant_rows(
    variants: list[Variant], edit_variant: tuple[str, VariantForm] | None
) -> list[dict]:
    """Each variant with its share of the email's new contacts and its edit form."""
    total = sum(v.weight for v in variants)
    rows = []
    for v in variants:
        editing = bool(edit_variant and edit_variant[0] == str(v.pk))
        form = (
            edit_variant[1]
            if editing
            else VariantForm(
                initial={"subject": v.subject, "body": v.body, "weight": v.weight},
                prefix=_variant_prefix(v),
            )
        )
        share = round(100 * v.weight / total) if total else 0
        rows.append({"variant": v, "share": share, "form": form, "editing": editing})
    return rows


def _sequence(
    request: HttpRequest,
    campaign: Campaign,
    *,
    edit: tuple[str, StepForm] | None = None,
    variant: tuple[str, VariantForm] | None = None,
    edit_variant: tuple[str, VariantForm] | None = None,
    add: StepForm | None = None,
) -> HttpResponse:
    """The sequence tab; a form that failed is passed back bound, with its errors."""
    sent = Count("messages", filter=Q(messages__status=MessageStatus.SENT))
    steps = list(
        campaign.steps.prefetch_related(
            Prefetch(
                "variants",
                queryset=Variant.objects.for_workspace(request.workspace).annotate(sent=sent),
            )
        )
    )
    rows = []
    for step in steps:
        key = str(step.pk)
        variants = list(step.variants.all())
        labels = {v.label for v in variants}
        rows.append(
            {
                "step": step,
                "variants": _variant_rows(variants, edit_variant),
                "next_label": next((c for c in VARIANT_LABELS if c not in labels), None),
                "form": edit[1]
                if edit and edit[0] == key
                else StepForm(
                    initial=_step_initial(step), first=step.position == 0, prefix=f"s{key[:8]}"
                ),
                "editing": bool(edit and edit[0] == key),
                "variant_form": variant[1]
                if variant and variant[0] == key
                else VariantForm(prefix=f"v{key[:8]}", initial={"weight": 50}),
                "adding_variant": bool(variant and variant[0] == key),
            }
        )
    variables = templating.known_variable_names() + contact_selectors.custom_field_keys(
        workspace=request.workspace
    )
    return render_campaign(
        request,
        campaign,
        "sequence",
        "campaigns/sequence.html",
        {
            "rows": rows,
            "add_form": add or StepForm(first=not steps, prefix="new"),
            "adding": add is not None,
            "variables": variables,
        },
    )


@workspace_required
def campaign_detail(request: HttpRequest, pk) -> HttpResponse:
    return _sequence(request, get_campaign(request, pk))


def _to_step(step_or_campaign_pk, anchor: str = "") -> HttpResponse:
    return redirect(reverse("campaign_detail", args=[step_or_campaign_pk]) + anchor)


@workspace_required
@require_POST
def campaign_step_add(request: HttpRequest, pk) -> HttpResponse:
    campaign = get_campaign(request, pk)
    first = not campaign.steps.exists()
    form = StepForm(request.POST, first=first, prefix="new")
    if form.is_valid():
        try:
            step = services.step_add(
                workspace=request.workspace,
                campaign=campaign,
                subject=form.cleaned_data["subject"],
                body=form.cleaned_data["body"],
                delay_amount=form.cleaned_data.get("delay_amount") or 0,
                delay_unit=form.cleaned_data.get("delay_unit") or "days",
            )
        except ServiceError as error:
            form_error(form, error)
        else:
            messages.success(request, _("Email %(n)d added.") % {"n": step.position + 1})
            return _to_step(campaign.pk, f"#step-{step.pk}")
    return _sequence(request, campaign, add=form)


@workspace_required
@require_POST
def campaign_step_edit(request: HttpRequest, pk) -> HttpResponse:
    step = get_step(request, pk)
    key = str(step.pk)
    form = StepForm(request.POST, first=step.position == 0, prefix=f"s{key[:8]}")
    if form.is_valid():
        try:
            services.step_update(
                workspace=request.workspace,
                step=step,
                subject=form.cleaned_data["subject"],
                body=form.cleaned_data["body"],
                delay_amount=form.cleaned_data.get("delay_amount"),
                delay_unit=form.cleaned_data.get("delay_unit"),
            )
        except ServiceError as error:
            form_error(form, error)
        else:
            messages.success(request, _("Email %(n)d saved.") % {"n": step.position + 1})
            return _to_step(step.campaign_id, f"#step-{step.pk}")
    return _sequence(request, step.campaign, edit=(key, form))


@workspace_required
@require_POST
def campaign_step_delete(request: HttpRequest, pk) -> HttpResponse:
    step = get_step(request, pk)
    try:
        services.step_delete(workspace=request.workspace, step=step)
    except ServiceError as error:
        messages.error(request, error.message)
        return _to_step(step.campaign_id, f"#step-{step.pk}")
    messages.success(request, _("Email %(n)d removed.") % {"n": step.position + 1})
    return _to_step(step.campaign_id)


@workspace_required
@require_POST
def campaign_variant_add(request: HttpRequest, pk) -> HttpResponse:
    step = get_step(request, pk)
    key = str(step.pk)
    form = VariantForm(request.POST, prefix=f"v{key[:8]}")
    if form.is_valid():
        try:
            variant = services.variant_add(
                workspace=request.workspace,
                step=step,
                subject=form.cleaned_data["subject"],
                body=form.cleaned_data["body"],
                weight=50 if form.cleaned_data["weight"] is None else form.cleaned_data["weight"],
            )
        except ServiceError as error:
            form_error(form, error)
        else:
            messages.success(
                request,
                _("Variant %(label)s added to email %(n)d.")
                % {"label": variant.label, "n": step.position + 1},
            )
            return _to_step(step.campaign_id, f"#step-{step.pk}")
    return _sequence(request, step.campaign, variant=(key, form))


def _get_variant(request: HttpRequest, pk) -> Variant:
    return get_object_or_404(
        Variant.objects.for_workspace(request.workspace).select_related("step__campaign"), pk=pk
    )


@workspace_required
@require_POST
def campaign_variant_edit(request: HttpRequest, pk) -> HttpResponse:
    variant = _get_variant(request, pk)
    step = variant.step
    form = VariantForm(request.POST, prefix=_variant_prefix(variant))
    if form.is_valid():
        try:
            services.variant_update(
                workspace=request.workspace,
                variant=variant,
                subject=form.cleaned_data["subject"],
                body=form.cleaned_data["body"],
                weight=form.cleaned_data["weight"],
            )
        except ServiceError as error:
            form_error(form, error)
        else:
            messages.success(
                request,
                _("Variant %(label)s of email %(n)d saved.")
                % {"label": variant.label, "n": step.position + 1},
            )
            return _to_step(step.campaign_id, f"#variant-{variant.pk}")
    return _sequence(request, step.campaign, edit_variant=(str(variant.pk), form))


@workspace_required
@require_POST
def campaign_variant_delete(request: HttpRequest, pk) -> HttpResponse:
    variant = _get_variant(request, pk)
    step = variant.step
    try:
        services.variant_delete(workspace=request.workspace, variant=variant)
    except ServiceError as error:
        messages.error(request, error.message)
        return _to_step(step.campaign_id, f"#variant-{variant.pk}")
    messages.success(
        request,
        _("Variant %(label)s removed from email %(n)d.")
        % {"label": variant.label, "n": step.position + 1},
    )
    return _to_step(step.campaign_id, f"#step-{step.pk}")
