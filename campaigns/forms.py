"""Dashboard forms for campaigns: the services validate again; these check shapes inline."""

from __future__ import annotations

import zoneinfo

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from campaigns.models import SPACING_FLOOR_SECONDS, BodyFormat, DelayUnit
from campaigns.services import CAMPAIGN_SETTINGS, MAX_VARIANT_WEIGHT, WEIGHT_RANGE_MESSAGE

WEEKDAYS = [
    (0, pgettext_lazy("weekday", "Mon")),
    (1, pgettext_lazy("weekday", "Tue")),
    (2, pgettext_lazy("weekday", "Wed")),
    (3, pgettext_lazy("weekday", "Thu")),
    (4, pgettext_lazy("weekday", "Fri")),
    (5, pgettext_lazy("weekday", "Sat")),
    (6, pgettext_lazy("weekday", "Sun")),
]


class SendersField(forms.ModelMultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def label_from_instance(self, obj) -> str:
        if obj.status == "connected":
            return obj.email
        return f"{obj.email} ({obj.get_status_display()})"


def _senders(mailboxes) -> SendersField:
    return SendersField(
        queryset=mailboxes,
        required=False,
        label=_("Send from"),
        help_text=_("Contacts are spread across these mailboxes; follow-ups stay on the same one."),
    )


class CampaignNewForm(forms.Form):
    name = forms.CharField(label=_("Campaign name"), max_length=200)

    def __init__(self, *args, mailboxes, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["mailboxes"] = _senders(mailboxes)


class StepForm(forms.Form):
    delay_amount = forms.IntegerField(label=_("Wait"), min_value=0, max_value=365, initial=2)
    delay_unit = forms.ChoiceField(
        label=_("Unit"), choices=DelayUnit.choices, initial=DelayUnit.DAYS
    )
    subject = forms.CharField(
        label=_("Subject"),
        max_length=300,
        required=False,
        help_text=_("Leave it empty on a follow-up to reply in the same thread."),
    )
    body = forms.CharField(
        label=_("Body"), widget=forms.Textarea(attrs={"rows": 7, "data-variable-target": ""})
    )

    def __init__(self, *args, first: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["subject"].widget.attrs["data-variable-target"] = ""
        if first:
            # The first email goes as soon as the campaign starts: no delay to ask for.
            del self.fields["delay_amount"], self.fields["delay_unit"]
            self.fields["subject"].required = True
            self.fields["subject"].help_text = ""


class VariantForm(forms.Form):
    """Add or edit one A/B version of an email; `weight` empty keeps it (50 for a new one)."""

    subject = forms.CharField(label=_("Subject"), max_length=300, required=False)
    body = forms.CharField(
        label=_("Body"), widget=forms.Textarea(attrs={"rows": 6, "data-variable-target": ""})
    )
    weight = forms.IntegerField(
        label=_("Weight"),
        required=False,
        min_value=0,
        max_value=MAX_VARIANT_WEIGHT,
        error_messages={
            "min_value": WEIGHT_RANGE_MESSAGE,
            "max_value": WEIGHT_RANGE_MESSAGE,
            "invalid": WEIGHT_RANGE_MESSAGE,
        },
        help_text=_(
            "Its share of the email's new contacts, against the other variants' weights. 0 stops "
            "giving it to new contacts and keeps its statistics."
        ),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["subject"].widget.attrs["data-variable-target"] = ""


class EnrollForm(forms.Form):
    contact_list = forms.ModelChoiceField(
        queryset=None, label=_("List"), empty_label=_("Choose a list…")
    )

    def __init__(self, *args, lists, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["contact_list"].queryset = lists
        self.fields["contact_list"].label_from_instance = lambda c: (
            f"{c.name} ({c.size})" if hasattr(c, "size") else c.name
        )


class PreviewForm(forms.Form):
    enrollment = forms.ChoiceField(label=_("Contact"))
    step = forms.ChoiceField(label=_("Email"))

    def __init__(self, *args, enrollments, steps, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["enrollment"].choices = [(str(e.pk), e.contact.email) for e in enrollments]
        self.fields["step"].choices = [
            (str(s.pk), _("Email %(n)d") % {"n": s.position + 1}) for s in steps
        ]


class CampaignSettingsForm(forms.Form):
    name = forms.CharField(label=_("Campaign name"), max_length=200)
    timezone = forms.ChoiceField(label=_("Time zone"))
    weekdays = forms.TypedMultipleChoiceField(
        label=_("Sending days"),
        choices=WEEKDAYS,
        coerce=int,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "weekday-list"}),
        error_messages={"required": _("Choose at least one sending day.")},
    )
    window_start = forms.TimeField(
        label=_("From"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    window_end = forms.TimeField(
        label=_("Until"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    recipient_local_time = forms.BooleanField(
        label=_("Send in each contact's own time zone (when known)"), required=False
    )
    daily_new_contacts = forms.IntegerField(
        label=_("New contacts per day"),
        min_value=1,
        required=False,
        help_text=_("Empty: as many as the mailboxes' limits allow."),
    )
    spacing_min_seconds = forms.IntegerField(
        label=_("Minimum gap between two emails (seconds)"), min_value=SPACING_FLOOR_SECONDS
    )
    spacing_max_seconds = forms.IntegerField(
        label=_("Maximum gap between two emails (seconds)"), min_value=SPACING_FLOOR_SECONDS
    )
    stop_on_reply = forms.BooleanField(label=_("Stop for a contact who replies"), required=False)
    stop_on_company_reply = forms.BooleanField(
        label=_("Stop for everyone at a company when one of them replies"), required=False
    )
    track_opens = forms.BooleanField(label=_("Track opens"), required=False)
    track_clicks = forms.BooleanField(label=_("Track clicks"), required=False)
    unsubscribe_link = forms.BooleanField(label=_("Add an unsubscribe link"), required=False)
    body_format = forms.ChoiceField(label=_("Format"), choices=BodyFormat.choices)
    bounce_pause_percent = forms.IntegerField(
        label=_("Pause the campaign above this hard-bounce rate (%)"),
        min_value=0,
        max_value=50,
        help_text=_("Over the last 50 emails; 0 never pauses. 5% protects the sending domain."),
    )
    out_of_office_days = forms.IntegerField(
        label=_("After an out-of-office reply, wait (days)"),
        min_value=1,
        max_value=60,
        help_text=_("Used when the reply gives no return date FluenzR can read."),
    )

    def __init__(self, *args, mailboxes, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["timezone"].choices = [
            (tz, tz) for tz in sorted(zoneinfo.available_timezones())
        ]
        self.fields["mailboxes"] = _senders(mailboxes)

    @classmethod
    def initial_for(cls, campaign) -> dict:
        initial = {name: getattr(campaign, name) for name in CAMPAIGN_SETTINGS}
        initial["mailboxes"] = list(campaign.mailboxes.all())
        return initial

    def clean(self):
        data = super().clean()
        low, high = data.get("spacing_min_seconds"), data.get("spacing_max_seconds")
        if low is not None and high is not None and high < low:
            self.add_error(
                "spacing_max_seconds", _("The maximum gap must be at least the minimum gap.")
            )
        return data

    def changes(self) -> dict:
        return {name: self.cleaned_data[name] for name in CAMPAIGN_SETTINGS}
