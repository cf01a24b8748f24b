"""Dashboard: the campaign's contacts (enroll a list, who is where and why) and the preview."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from accounts.decorators import workspace_required
from accounts.errors import ServiceError, form_error
from campaigns import selectors, services
from campaigns.forms import EnrollForm, PreviewForm
from campaigns.models import Campaign, Enrollment, Step
from campaigns.templating import UndefinedVariable
from campaigns.views.common import get_campaign, render_campaign
from contacts import selectors as contact_selectors
from contacts.models import ContactStatus

PAGE_SIZE = 25
PREVIEW_CHOICES = 200


def _skip_reason(key: str) -> str:
    if key == "already_enrolled":
        return _("already in the campaign")
    if key == "suppressed":
        return _("on the suppression list")
    if key in ContactStatus.values:
        return str(ContactStatus(key).label).lower()
    return key


def _contacts(request: HttpRequest, campaign: Campaign, form: EnrollForm) -> HttpResponse:
    enrollments = campaign.enrollments.select_related("contact", "mailbox", "campaign").order_by(
        "created_at", "pk"
    )
    page = Paginator(enrollments, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [{"enrollment": e, "explanation": selectors.explain(enrollment=e)} for e in page]
    return render_campaign(
        request,
        campaign,
        "contacts",
        "campaigns/contacts.html",
        {"form": form, "page": page, "rows": rows},
    )


def _enroll_form(request: HttpRequest, data=None) -> EnrollForm:
    return EnrollForm(data, lists=contact_selectors.lists_with_counts(workspace=request.workspace))


@workspace_required
def campaign_contacts(request: HttpRequest, pk) -> HttpResponse:
    return _contacts(request, get_campaign(request, pk), _enroll_form(request))


@workspace_required
@require_POST
def campaign_enroll(request: HttpRequest, pk) -> HttpResponse:
    campaign = get_campaign(request, pk)
    form = _enroll_form(request, request.POST)
    if form.is_valid():
        try:
            result = services.campaign_enroll_lists(
                workspace=request.workspace,
                campaign=campaign,
                lists=[form.cleaned_data["contact_list"]],
            )
        except ServiceError as error:
            form_error(form, error)
        else:
            text = ngettext("%(n)d contact added.", "%(n)d contacts added.", result.added) % {
                "n": result.added
            }
            if result.skipped:
                skipped = ", ".join(
                    f"{_skip_reason(reason)} ({count})" for reason, count in result.skipped.items()
                )
                text += " " + _("Skipped: %(skipped)s.") % {"skipped": skipped}
            messages.success(request, text)
            return redirect("campaign_contacts", campaign.pk)
    return _contacts(request, campaign, form)


def _preview_choices(campaign: Campaign) -> tuple[list[Step], list[Enrollment]]:
    steps = list(campaign.steps.prefetch_related("variants"))
    enrollments = list(
        campaign.enrollments.select_related("contact", "mailbox", "campaign").order_by(
            "created_at", "pk"
        )[:PREVIEW_CHOICES]
    )
    return steps, enrollments


def _chosen(form: PreviewForm, steps, enrollments) -> tuple[Enrollment, Step]:
    enrollment = next(e for e in enrollments if str(e.pk) == form.cleaned_data["enrollment"])
    step = next(s for s in steps if str(s.pk) == form.cleaned_data["step"])
    return enrollment, step


@workspace_required
def campaign_preview(request: HttpRequest, pk) -> HttpResponse:
    campaign = get_campaign(request, pk)
    steps, enrollments = _preview_choices(campaign)
    data = request.GET if "enrollment" in request.GET else None
    if data is None and enrollments and steps:
        data = {"enrollment": str(enrollments[0].pk), "step": str(steps[0].pk)}
    form = PreviewForm(data, enrollments=enrollments, steps=steps)
    shown, problem, mailbox = None, "", None
    if data is not None and form.is_valid():
        enrollment, step = _chosen(form, steps, enrollments)
        mailbox = services.preview_mailbox(enrollment)
        if mailbox is None:
            problem = _("Choose a mailbox to send from first (Schedule & options).")
        else:
            try:
                shown = selectors.preview(enrollment=enrollment, step=step, mailbox=mailbox)
            except UndefinedVariable as error:
                problem = services.undefined_sentence(error)
    return render_campaign(
        request,
        campaign,
        "preview",
        "campaigns/preview.html",
        {
            "form": form,
            "preview": shown,
            "problem": problem,
            "mailbox": mailbox,
            "has_steps": bool(steps),
            "has_enrollments": bool(enrollments),
        },
    )


@workspace_required
@require_POST
def campaign_preview_send(request: HttpRequest, pk) -> HttpResponse:
    """ "Send me this test": the previewed email, to the signed-in user's own address only."""
    campaign = get_campaign(request, pk)
    steps, enrollments = _preview_choices(campaign)
    form = PreviewForm(request.POST, enrollments=enrollments, steps=steps)
    if not form.is_valid():
        messages.error(request, _("Choose a contact and an email to preview, then send the test."))
        return redirect("campaign_preview", campaign.pk)
    enrollment, step = _chosen(form, steps, enrollments)
    try:
        mailbox = services.preview_send_test(
            workspace=request.workspace, user=request.user, enrollment=enrollment, step=step
        )
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("Test sent to %(to)s from %(mailbox)s: check your inbox.")
            % {"to": request.user.email, "mailbox": mailbox.email},
        )
    query = urlencode({"enrollment": str(enrollment.pk), "step": str(step.pk)})
    return redirect(f"{reverse('campaign_preview', args=[campaign.pk])}?{query}")
