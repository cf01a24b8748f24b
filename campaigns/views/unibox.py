"""Dashboard: the unified inbox — every conversation of the workspace, one conversation with
our emails, their replies and our answers in order, its lead status, and an answer sent from
FluenzR. Thin: reads in campaigns.unibox.selectors, writes in campaigns.unibox.services."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.decorators import workspace_required
from accounts.errors import ServiceError, form_error
from campaigns.models import Campaign, InboundEmail
from campaigns.selectors.timeline import end_sentence
from campaigns.unibox import selectors, services
from campaigns.unibox.forms import AnswerForm, InboxFilterForm, LeadStatusForm
from email_accounts.models import Mailbox


@workspace_required
def inbox(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace
    filter_form = InboxFilterForm(request.GET, workspace=workspace)
    filters = filter_form.filters()
    page = selectors.inbox_page(
        workspace=workspace, filters=filters, cursor=request.GET.get("cursor", "")
    )
    query = request.GET.copy()
    query.pop("cursor", None)
    filtered = filters != selectors.InboxFilters()
    context = {
        "active": "inbox",
        "filter_form": filter_form,
        "page": page,
        "filtered": filtered,
        "query": query.urlencode(),
        "first_page": not request.GET.get("cursor"),
    }
    if not page.rows and not filtered:
        # The empty state teaches what fills the inbox, and which step is missing.
        context["has_mailbox"] = Mailbox.objects.for_workspace(workspace).exists()
        context["has_campaign"] = Campaign.objects.for_workspace(workspace).exists()
    return render(request, "campaigns/unibox/index.html", context)


def _get_inbound(request: HttpRequest, pk) -> InboundEmail:
    return get_object_or_404(
        InboundEmail.objects.for_workspace(request.workspace)
        .filter(kind__in=selectors.CONVERSATION_KINDS)
        .select_related("contact", "mailbox", "enrollment__campaign"),
        pk=pk,
    )


def _render_conversation(
    request: HttpRequest,
    inbound: InboundEmail,
    *,
    answer_form: AnswerForm | None = None,
) -> HttpResponse:
    workspace = request.workspace
    conversation = selectors.conversation(workspace=workspace, inbound=inbound)
    contact = inbound.contact
    suggested = conversation.suggested
    enrollment = inbound.enrollment
    return render(
        request,
        "campaigns/unibox/conversation.html",
        {
            "active": "inbox",
            "inbound": inbound,
            "latest": conversation.latest,
            "conversation": conversation,
            "contact": contact,
            "enrollment": enrollment,
            "campaign": enrollment.campaign if enrollment else None,
            "stop_sentence": end_sentence(enrollment) if enrollment else None,
            "lead_form": LeadStatusForm(initial={"status": contact.lead_status if contact else ""}),
            "suggested": suggested,
            "suggestion_reason": conversation.suggestion_reason,
            "suggestion_applies": suggested is not None
            and contact is not None
            and contact.lead_status != suggested.value,
            "answer_form": answer_form or AnswerForm(),
        },
    )


@workspace_required
def inbox_conversation(request: HttpRequest, pk) -> HttpResponse:
    inbound = _get_inbound(request, pk)
    services.inbound_mark_read(workspace=request.workspace, inbound=inbound)
    return _render_conversation(request, inbound)


@workspace_required
@require_POST
def inbox_lead_status(request: HttpRequest, pk) -> HttpResponse:
    inbound = _get_inbound(request, pk)
    if inbound.contact is None:
        messages.error(request, _("This reply matched no contact: there is no lead to mark."))
        return redirect("inbox_conversation", inbound.pk)
    form = LeadStatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose one of the lead statuses in the list."))
        return redirect("inbox_conversation", inbound.pk)
    try:
        contact = services.lead_status_set(
            workspace=request.workspace,
            contact=inbound.contact,
            status=form.cleaned_data["status"],
            user=request.user,
        )
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        if contact.lead_status:
            messages.success(
                request,
                _("%(email)s is now marked “%(status)s”.")
                % {"email": contact.email, "status": contact.get_lead_status_display()},
            )
        else:
            messages.success(request, _("The lead status was cleared."))
    return redirect("inbox_conversation", inbound.pk)


@workspace_required
@require_POST
def inbox_reply(request: HttpRequest, pk) -> HttpResponse:
    inbound = _get_inbound(request, pk)
    form = AnswerForm(request.POST)
    if form.is_valid():
        try:
            answer = services.reply_send(
                workspace=request.workspace,
                inbound=inbound,
                body=form.cleaned_data["body"],
                user=request.user,
            )
        except ServiceError as error:
            form_error(form, error)
        else:
            messages.success(
                request,
                _("Answer sent to %(email)s from %(mailbox)s, in the same thread.")
                % {"email": inbound.from_email, "mailbox": answer.mailbox.email},
            )
            return redirect("inbox_conversation", inbound.pk)
    return _render_conversation(request, inbound, answer_form=form)
