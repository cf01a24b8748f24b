"""Dashboard: Email accounts — connect Gmail or SMTP/IMAP, limits and ramp-up, test, pause."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_POST

from accounts.decorators import workspace_required
from accounts.errors import ServiceError, form_error
from email_accounts import selectors, services
from email_accounts.forms import MailboxSettingsForm, SmtpImapForm
from email_accounts.models import Mailbox, Provider

SESSION_KEY = "gmail_consent"


def _mailbox(request: HttpRequest, pk) -> Mailbox:
    try:
        pk = uuid.UUID(str(pk))
    except ValueError:  # a mangled ?mailbox= link: not found, rather than an error page
        raise Http404 from None
    return get_object_or_404(Mailbox.objects.for_workspace(request.workspace), pk=pk)


def _render(request: HttpRequest, template: str, context: dict) -> HttpResponse:
    return render(request, template, {"active": "email_accounts", **context})


@workspace_required
def mailbox_index(request: HttpRequest) -> HttpResponse:
    rows = [
        {
            "mailbox": mailbox,
            "sent_today": selectors.sent_today(mailbox),
            "limit_today": selectors.limit_today(mailbox),
            "ramping": selectors.ramping_today(mailbox),
            "missing": selectors.mailbox_missing_features(mailbox),
        }
        for mailbox in selectors.mailboxes(workspace=request.workspace)
    ]
    return _render(request, "email_accounts/index.html", {"rows": rows})


@workspace_required
def gmail_connect(request: HttpRequest) -> HttpResponse:
    """The page before Google's: what to expect (the "unverified app" screen), or what the
    operator must set up first."""
    reconnect = request.GET.get("mailbox")
    mailbox = _mailbox(request, reconnect) if reconnect else None
    response = _render(
        request,
        "email_accounts/gmail_connect.html",
        {
            "configured": services.gmail_configured(),
            "redirect_uri": services.gmail_redirect_uri(),
            "mailbox": mailbox,
        },
    )
    # This page's form ends in a redirect to Google's consent screen, which the browser
    # checks against form-action: allow that one origin, here only.
    google = urlsplit(settings.GOOGLE_AUTH_URI)
    policy = dict(settings.SECURE_CSP)
    policy["form-action"] = [*policy["form-action"], f"{google.scheme}://{google.netloc}"]
    response._csp_config = policy  # what django.views.decorators.csp.csp_override sets
    return response


@workspace_required
@require_POST
def gmail_start(request: HttpRequest) -> HttpResponse:
    mailbox_id = request.POST.get("mailbox")
    mailbox = _mailbox(request, mailbox_id) if mailbox_id else None
    try:
        url, pending = services.gmail_oauth_start(
            workspace=request.workspace, redirect_uri=services.gmail_redirect_uri(), mailbox=mailbox
        )
    except ServiceError as error:
        messages.error(request, error.message)
        return redirect("email_accounts")
    request.session[SESSION_KEY] = pending.as_session()
    return redirect(url)


@workspace_required
@sensitive_variables("pending")  # innermost: it marks this function's own frame
def gmail_callback(request: HttpRequest) -> HttpResponse:
    pending = services.PendingConsent.from_session(request.session.pop(SESSION_KEY, None))
    try:
        mailbox = services.gmail_oauth_complete(
            workspace=request.workspace,
            pending=pending,
            redirect_uri=services.gmail_redirect_uri(),
            params=request.GET.dict(),
        )
    except ServiceError as error:
        messages.error(request, error.message)
        return redirect("email_accounts")
    messages.success(request, _("%(email)s is connected.") % {"email": mailbox.email})
    for missing in selectors.mailbox_missing_features(mailbox):
        messages.warning(request, missing)
    return redirect("mailbox_detail", mailbox.pk)


@workspace_required
@sensitive_post_parameters("smtp_password", "imap_password")
def smtp_new(request: HttpRequest) -> HttpResponse:
    preset = request.GET.get("preset", "")
    form = SmtpImapForm(request.POST or None, initial={"append_to_sent": True, "preset": preset})
    if request.method == "POST" and form.is_valid():
        try:
            mailbox = services.mailbox_connect_smtp(
                workspace=request.workspace, details=form.details()
            )
        except ServiceError as error:
            form_error(form, error)
        else:
            messages.success(
                request, _("%(email)s is connected: both servers answered.") % {"email": mailbox}
            )
            return redirect("mailbox_detail", mailbox.pk)
    return _render(request, "email_accounts/smtp_form.html", {"form": form, "mailbox": None})


@workspace_required
@sensitive_post_parameters("smtp_password", "imap_password")
def smtp_edit(request: HttpRequest, pk) -> HttpResponse:
    mailbox = _mailbox(request, pk)
    if mailbox.provider != Provider.SMTP:
        return redirect(reverse("gmail_connect") + f"?mailbox={mailbox.pk}")
    form = SmtpImapForm(
        request.POST or None, mailbox=mailbox, initial=SmtpImapForm.initial_for(mailbox)
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.mailbox_update_servers(
                workspace=request.workspace, mailbox=mailbox, details=form.details()
            )
        except ServiceError as error:
            form_error(form, error)
        else:
            messages.success(request, _("Saved: both servers answered."))
            return redirect("mailbox_detail", mailbox.pk)
    return _render(request, "email_accounts/smtp_form.html", {"form": form, "mailbox": mailbox})


@workspace_required
def mailbox_detail(request: HttpRequest, pk) -> HttpResponse:
    mailbox = _mailbox(request, pk)
    form = MailboxSettingsForm(
        request.POST or None, mailbox=mailbox, initial=MailboxSettingsForm.initial_for(mailbox)
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.mailbox_update_settings(
                workspace=request.workspace, mailbox=mailbox, values=form.values()
            )
        except ServiceError as error:
            form_error(form, error)
        else:
            messages.success(request, _("Settings saved."))
            return redirect("mailbox_detail", mailbox.pk)
    return _render(
        request,
        "email_accounts/detail.html",
        {
            "mailbox": mailbox,
            "form": form,
            "sent_today": selectors.sent_today(mailbox),
            "limit_today": selectors.limit_today(mailbox),
            "forecast": selectors.ramp_up_forecast(mailbox),
            "ramp_full_on": selectors.ramp_up_full_on_day(mailbox),
            "missing": selectors.mailbox_missing_features(mailbox),
            "servers": (mailbox.smtp_settings, mailbox.imap_settings)
            if mailbox.provider == Provider.SMTP
            else None,
        },
    )


def _action(request: HttpRequest, pk, run, success: str) -> HttpResponse:
    mailbox = _mailbox(request, pk)
    try:
        run(workspace=request.workspace, mailbox=mailbox)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, success % {"email": mailbox.email})
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = reverse("mailbox_detail", args=[mailbox.pk])  # never an outside address
    return redirect(back)


@workspace_required
@require_POST
def mailbox_pause(request: HttpRequest, pk) -> HttpResponse:
    return _action(request, pk, services.mailbox_pause, _("%(email)s is paused: it sends nothing."))


@workspace_required
@require_POST
def mailbox_resume(request: HttpRequest, pk) -> HttpResponse:
    return _action(request, pk, services.mailbox_resume, _("%(email)s sends again."))


@workspace_required
@require_POST
def mailbox_test_connection(request: HttpRequest, pk) -> HttpResponse:
    return _action(
        request, pk, services.mailbox_test_connection, _("%(email)s answered: it is connected.")
    )


@workspace_required
@require_POST
def mailbox_disconnect(request: HttpRequest, pk) -> HttpResponse:
    return _action(
        request,
        pk,
        services.mailbox_disconnect,
        _("%(email)s is disconnected and its credentials deleted. Reconnect it any time."),
    )


@workspace_required
@require_POST
def mailbox_delete(request: HttpRequest, pk) -> HttpResponse:
    mailbox = _mailbox(request, pk)
    services.mailbox_delete(workspace=request.workspace, mailbox=mailbox)
    messages.success(request, _("Mailbox %(email)s removed.") % {"email": mailbox.email})
    return redirect("email_accounts")


@workspace_required
@require_POST
def mailbox_send_test(request: HttpRequest, pk) -> HttpResponse:
    mailbox = _mailbox(request, pk)
    try:
        services.mailbox_send_test(workspace=request.workspace, mailbox=mailbox, user=request.user)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("Test email sent from %(email)s to %(to)s: check that inbox.")
            % {"email": mailbox.email, "to": request.user.email},
        )
    return redirect("mailbox_detail", mailbox.pk)
