"""Dashboard forms of the unified inbox: the list's filters, the lead status and an answer."""

from __future__ import annotations

import uuid

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from campaigns.models import Campaign, InboundKind
from campaigns.unibox.selectors import NO_LEAD_STATUS, InboxFilters
from campaigns.unibox.services import MAX_ANSWER_LENGTH
from contacts.models import LeadStatus
from email_accounts.models import Mailbox

_NOTHING = uuid.UUID(int=0)
KIND_CHOICES = [
    ("", pgettext_lazy("inbox kind filter", "Replies and auto-replies")),
    (InboundKind.REPLY.value, pgettext_lazy("inbox kind filter", "Replies")),
    (InboundKind.AUTO_REPLY.value, pgettext_lazy("inbox kind filter", "Auto-replies")),
]


class InboxFilterForm(forms.Form):
    lead_status = forms.ChoiceField(
        required=False,
        label=_("Lead status"),
        choices=[
            ("", pgettext_lazy("inbox filter", "Any lead status")),
            (NO_LEAD_STATUS, pgettext_lazy("inbox filter", "Not set")),
            *LeadStatus.choices,
        ],
    )
    kind = forms.ChoiceField(required=False, label=_("Show"), choices=KIND_CHOICES)
    unread = forms.BooleanField(required=False, label=_("Unread only"))

    def __init__(self, *args, workspace, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # First in the form, each scoped to the workspace.
        mailbox = forms.ModelChoiceField(
            queryset=Mailbox.objects.for_workspace(workspace).order_by("email"),
            required=False,
            label=_("Mailbox"),
            empty_label=pgettext_lazy("inbox filter", "All mailboxes"),
        )
        mailbox.label_from_instance = lambda obj: obj.email
        campaign = forms.ModelChoiceField(
            queryset=Campaign.objects.for_workspace(workspace).order_by("name"),
            required=False,
            label=_("Campaign"),
            empty_label=pgettext_lazy("inbox filter", "All campaigns"),
        )
        self.fields = {"campaign": campaign, "mailbox": mailbox, **self.fields}

    def filters(self) -> InboxFilters:
        """The filters the form holds. A campaign or mailbox that no longer exists (an old link)
        matches nothing, never everything; the other fields still apply."""
        self.is_valid()
        data = self.cleaned_data
        campaign = data.get("campaign")
        mailbox = data.get("mailbox")
        return InboxFilters(
            campaign=_NOTHING if "campaign" in self.errors else campaign and campaign.pk,
            mailbox=_NOTHING if "mailbox" in self.errors else mailbox and mailbox.pk,
            lead_status=data.get("lead_status") or "",
            unread=bool(data.get("unread")),
            kind=data.get("kind") or "",
        )


class LeadStatusForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Lead status"),
        required=False,
        choices=[("", pgettext_lazy("lead status", "Not set")), *LeadStatus.choices],
    )


class AnswerForm(forms.Form):
    body = forms.CharField(
        label=_("Your answer"),
        max_length=MAX_ANSWER_LENGTH,
        widget=forms.Textarea(attrs={"rows": 7}),
        help_text=_(
            "Plain text. Your signature and their message (quoted) are added below it; it goes "
            "from the mailbox that received the reply, in the same thread."
        ),
    )
