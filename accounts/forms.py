from __future__ import annotations

import zoneinfo

from django import forms
from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from accounts import selectors, services
from accounts.models import Role, User


class WorkspaceSignupForm(forms.Form):
    """Extra sign-up field: the name of the first workspace (allauth calls `signup`)."""

    workspace_name = forms.CharField(
        label=_("Workspace name"),
        max_length=100,
        required=False,
        help_text=_("Usually your company. You can change it later."),
        widget=forms.TextInput(
            attrs={"placeholder": _("Acme Inc."), "autocomplete": "organization"}
        ),
    )

    def signup(self, request: HttpRequest, user: User) -> None:
        name = self.cleaned_data.get("workspace_name")
        if not name and selectors.has_pending_invitation(email=user.email):
            return  # joining a team: the invitation page comes next, no empty workspace
        name = name or _("%(email)s's workspace") % {"email": user.email.split("@")[0]}
        services.workspace_create(owner=user, name=str(name))


class WorkspaceForm(forms.Form):
    name = forms.CharField(label=_("Workspace name"), max_length=100)
    timezone = forms.ChoiceField(
        label=_("Time zone"),
        help_text=_("Dates and times in the dashboard are shown in this zone."),
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["timezone"].choices = [
            (tz, tz) for tz in sorted(zoneinfo.available_timezones())
        ]


class NewWorkspaceForm(forms.Form):
    name = forms.CharField(label=_("Workspace name"), max_length=100)


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("Email address"))
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.MEMBER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=_("Key name"),
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": _("CRM sync")}),
        help_text=_("To recognise it later, e.g. the integration that uses it."),
    )


class LanguageForm(forms.Form):
    language = forms.ChoiceField(choices=settings.LANGUAGES)
