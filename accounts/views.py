"""Dashboard: workspace settings, members, invitations, API keys, plan, language."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.decorators import workspace_required
from accounts.errors import ServiceError, form_error
from accounts.forms import (
    ApiKeyForm,
    InvitationForm,
    LanguageForm,
    NewWorkspaceForm,
    RoleForm,
    WorkspaceForm,
)
from accounts.models import ApiKey, Invitation, Membership, Role
from accounts.plans import PLAN_ORDER, PLANS


def _membership(request: HttpRequest) -> Membership:
    membership = selectors.membership_of(workspace=request.workspace, user=request.user)
    if membership is None:  # removed between resolution and now
        raise Http404
    return membership


@workspace_required
def workspace_settings(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace
    form = WorkspaceForm(
        request.POST or None, initial={"name": workspace.name, "timezone": workspace.timezone}
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.workspace_update(
                workspace=workspace,
                actor=request.user,
                name=form.cleaned_data["name"],
                timezone_name=form.cleaned_data["timezone"],
            )
        except ServiceError as error:
            form_error(form, error)
        else:
            messages.success(request, _("Workspace settings saved."))
            return redirect("settings_workspace")
    return render(
        request,
        "accounts/settings_workspace.html",
        {"form": form, "membership": _membership(request), "settings_tab": "workspace"},
    )


@login_required
def workspace_new(request: HttpRequest) -> HttpResponse:
    form = NewWorkspaceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            workspace = services.workspace_create(
                owner=request.user, name=form.cleaned_data["name"]
            )
        except ServiceError as error:
            form_error(form, error)
        else:
            messages.success(request, _("Workspace “%(name)s” created.") % {"name": workspace.name})
            return redirect("dashboard")
    return render(request, "accounts/workspace_new.html", {"form": form})


@login_required
@require_POST
def workspace_switch(request: HttpRequest) -> HttpResponse:
    try:
        workspace = services.workspace_switch(
            user=request.user, workspace_id=request.POST.get("workspace", "")
        )
    except ServiceError:
        raise Http404 from None
    messages.info(request, _("You are now in %(name)s.") % {"name": workspace.name})
    return redirect("dashboard")


@workspace_required
def members(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace
    membership = _membership(request)
    form = InvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitation = services.invitation_create(
                workspace=workspace,
                invited_by=request.user,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
            )
        except ServiceError as error:
            form_error(form, error)
        else:
            messages.success(
                request, _("Invitation sent to %(email)s.") % {"email": invitation.email}
            )
            return redirect("settings_members")
    return render(
        request,
        "accounts/settings_members.html",
        {
            "form": form,
            "membership": membership,
            "members": selectors.members_of(workspace=workspace),
            "invitations": selectors.pending_invitations_of(workspace=workspace),
            "roles": Role.choices,
            "settings_tab": "members",
        },
    )


@workspace_required
@require_POST
def member_role(request: HttpRequest, pk: str) -> HttpResponse:
    target = get_object_or_404(Membership.objects.for_workspace(request.workspace), pk=pk)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a role: owner, admin or member."))
        return redirect("settings_members")
    try:
        services.membership_change_role(
            workspace=request.workspace,
            actor=request.user,
            membership=target,
            role=form.cleaned_data["role"],
        )
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Role of %(email)s updated.") % {"email": target.user.email})
    return redirect("settings_members")


@workspace_required
@require_POST
def member_remove(request: HttpRequest, pk: str) -> HttpResponse:
    target = get_object_or_404(Membership.objects.for_workspace(request.workspace), pk=pk)
    leaving = target.user_id == request.user.pk
    try:
        services.membership_remove(
            workspace=request.workspace, actor=request.user, membership=target
        )
    except ServiceError as error:
        messages.error(request, error.message)
        return redirect("settings_members")
    if leaving:
        messages.success(request, _("You left %(name)s.") % {"name": request.workspace.name})
        return redirect("dashboard")
    messages.success(request, _("%(email)s was removed.") % {"email": target.user.email})
    return redirect("settings_members")


@workspace_required
@require_POST
def invitation_revoke(request: HttpRequest, pk: str) -> HttpResponse:
    invitation = get_object_or_404(Invitation.objects.for_workspace(request.workspace), pk=pk)
    try:
        services.invitation_revoke(
            workspace=request.workspace, actor=request.user, invitation=invitation
        )
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, _("Invitation to %(email)s revoked.") % {"email": invitation.email}
        )
    return redirect("settings_members")


@login_required
def invitation_respond(request: HttpRequest, token: str) -> HttpResponse:
    invitation = services.invitation_for_token(token=token, user=request.user)
    if invitation is None:
        raise Http404(
            _("This invitation does not exist, was already answered, or is for another address.")
        )
    if request.method == "POST":
        if request.POST.get("answer") == "accept":
            try:
                services.invitation_accept(invitation=invitation, user=request.user)
            except ServiceError as error:
                messages.error(request, error.message)
                return redirect("dashboard")
            messages.success(
                request, _("Welcome to %(name)s.") % {"name": invitation.workspace.name}
            )
        else:
            services.invitation_decline(invitation=invitation)
            messages.info(request, _("Invitation declined."))
        return redirect("dashboard")
    return render(request, "accounts/invitation_respond.html", {"invitation": invitation})


@workspace_required
@never_cache  # the response may carry a new key's secret: no cache may keep it
def api_keys(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace
    form = ApiKeyForm(request.POST or None)
    new_token = None
    if request.method == "POST" and form.is_valid():
        try:
            _api_key, new_token = services.api_key_create(
                workspace=workspace, created_by=request.user, name=form.cleaned_data["name"]
            )
        except ServiceError as error:
            form_error(form, error)
        else:
            form = ApiKeyForm()
    # The secret is shown in this response only; it is stored nowhere but as a hash.
    return render(
        request,
        "accounts/settings_api_keys.html",
        {
            "form": form,
            "new_token": new_token,
            "api_keys": selectors.api_keys_of(workspace=workspace),
            "api_included": workspace.plan_limits.api,
            "membership": _membership(request),
            "settings_tab": "api_keys",
        },
    )


@workspace_required
@require_POST
def api_key_revoke(request: HttpRequest, pk: str) -> HttpResponse:
    api_key = get_object_or_404(ApiKey.objects.for_workspace(request.workspace), pk=pk)
    try:
        services.api_key_revoke(workspace=request.workspace, actor=request.user, api_key=api_key)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Key “%(name)s” revoked.") % {"name": api_key.name})
    return redirect("settings_api_keys")


@workspace_required
def plan(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "accounts/settings_plan.html",
        {
            "plans": [PLANS[code] for code in PLAN_ORDER],
            "usage": selectors.workspace_usage(workspace=request.workspace),
            "settings_tab": "plan",
        },
    )


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Switch language: saved on the user when signed in, in a cookie either way."""
    form = LanguageForm(request.POST)
    next_url = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        next_url = "/"
    response = redirect(next_url)
    if form.is_valid():
        language = form.cleaned_data["language"]
        if request.user.is_authenticated:
            services.user_set_language(user=request.user, language=language)
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            samesite="Lax",
            secure=request.is_secure(),
        )
    return response
