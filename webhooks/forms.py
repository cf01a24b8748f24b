"""Dashboard forms. Shapes only: the services own the rules (SSRF guard, event types, plan)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from webhooks import selectors
from webhooks.models import Endpoint


class EndpointForm(forms.Form):
    url = forms.CharField(
        label=_("URL"),
        max_length=2000,
        help_text=_("An HTTPS address on the public internet, such as https://hooks.example.com."),
        widget=forms.URLInput(attrs={"placeholder": "https://", "autocomplete": "off"}),
    )
    description = forms.CharField(label=_("Description"), max_length=300, required=False)
    all_events = forms.BooleanField(label=_("Every event"), required=False, initial=True)
    event_types = forms.MultipleChoiceField(
        label=_("Events"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Leave “Every event” ticked, or untick it and choose the events to receive."),
    )
    campaign_id = forms.ChoiceField(label=_("Campaign"), required=False)

    def __init__(self, *args, campaigns: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["event_types"].choices = [(t, t) for t in selectors.subscribable_event_types()]
        self.fields["campaign_id"].choices = [("", _("Every campaign")), *campaigns]

    @staticmethod
    def initial_for(endpoint: Endpoint) -> dict:
        return {
            "url": endpoint.url,
            "description": endpoint.description,
            "all_events": not endpoint.event_types,
            "event_types": endpoint.event_types,
            "campaign_id": str(endpoint.campaign_id) if endpoint.campaign_id else "",
        }

    def values(self) -> dict:
        data = self.cleaned_data
        return {
            "url": data["url"],
            "description": data["description"],
            "event_types": [] if data["all_events"] else data["event_types"],
            "campaign_id": data["campaign_id"] or None,
        }


class DeliveryFilterForm(forms.Form):
    event_type = forms.ChoiceField(label=_("Event"), required=False)
    outcome = forms.ChoiceField(
        label=_("Outcome"),
        required=False,
        choices=[
            ("", _("Any outcome")),
            ("succeeded", _("Delivered")),
            ("failed", _("Failed (gave up)")),
            ("pending", _("Pending")),
        ],
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        types = ["webhook.test", *selectors.subscribable_event_types()]
        self.fields["event_type"].choices = [("", _("Every event")), *((t, t) for t in types)]
