"""Settings → Tracking domain: set the workspace's custom tracking domain and see its status."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.decorators import workspace_required
from accounts.errors import ServiceError, form_error
from accounts.models import Role
from accounts.selectors import membership_of
from campaigns.models import TrackingDomain
from campaigns.tracking import domains


class TrackingDomainForm(forms.Form):
    hostname = forms.CharField(
        label=gettext_lazy("Tracking domain"),
        max_length=253,
        widget=forms.TextInput(attrs={"placeholder": "track.yourdomain.com"}),
    )


@workspace_required
def tracking_domain(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace
    domain = TrackingDomain.objects.for_workspace(workspace).first()
    action = request.POST.get("action", "save") if request.method == "POST" else ""
    form = TrackingDomainForm(
        request.POST if action == "save" else None,
        initial={"hostname": domain.hostname if domain else ""},
    )
    try:
        if action == "save" and form.is_valid():
            domain = domains.tracking_domain_set(
                workspace=workspace, actor=request.user, hostname=form.cleaned_data["hostname"]
            )
            domain = domains.tracking_domain_check(workspace=workspace)
            messages.success(request, _("Tracking domain saved."))
            return redirect("settings_tracking_domain")
        if action == "check":
            domains.tracking_domain_check(workspace=workspace)
            return redirect("settings_tracking_domain")
        if action == "remove":
            domains.tracking_domain_remove(workspace=workspace, actor=request.user)
            messages.success(request, _("Tracking domain removed: links use FluenzR's host."))
            return redirect("settings_tracking_domain")
    except ServiceError as error:
        form_error(form, error)
    membership = membership_of(workspace=workspace, user=request.user)
    return render(
        request,
        "tracking/settings_tracking_domain.html",
        {
            "form": form,
            "domain": domain,
            "target": domains.tracking_host(),
            "allowed": workspace.plan_limits.custom_tracking_domain,
            "can_edit": membership is not None and membership.has_role(Role.ADMIN),
            "settings_tab": "tracking",
        },
    )
