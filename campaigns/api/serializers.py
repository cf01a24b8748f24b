"""Shapes of the campaigns API: serializers check them, the services carry the rules."""

from __future__ import annotations

import uuid
from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from campaigns import services
from campaigns.models import Campaign, DelayUnit, Enrollment, Step, Variant

MAX_IDS = 10_000


class MailboxIdsField(serializers.ListField):
    """Ids of the campaign's sender mailboxes (several: rotation)."""

    child = serializers.UUIDField()

    def get_attribute(self, instance: Campaign) -> list[uuid.UUID]:
        return [mailbox.pk for mailbox in instance.mailboxes.all()]


class CampaignSerializer(serializers.ModelSerializer):
    mailbox_ids = MailboxIdsField(
        required=False, max_length=100, help_text="Ids of the mailboxes it sends from."
    )
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6),
        required=False,
        max_length=7,
        help_text="Days the window opens, 0 = Monday … 6 = Sunday.",
    )

    class Meta:
        model = Campaign
        fields = [
            "id",
            "status",
            "status_reason",
            "warning",
            "launched_at",
            "mailbox_ids",
            *services.CAMPAIGN_SETTINGS,
            "created_at",
        ]
        read_only_fields = [
            "id",
            "status",
            "status_reason",
            "warning",
            "launched_at",
            "created_at",
        ]


class VariantSerializer(serializers.ModelSerializer):
    class Meta:
        model = Variant
        fields = ["id", "label", "subject", "body", "weight"]
        read_only_fields = ["id", "label"]
        extra_kwargs = {
            "weight": {
                "min_value": 0,
                "max_value": services.MAX_VARIANT_WEIGHT,
                "error_messages": {
                    "min_value": services.WEIGHT_RANGE_MESSAGE,
                    "max_value": services.WEIGHT_RANGE_MESSAGE,
                },
                "help_text": "Share of the step's new contacts against the other variants' "
                "weights; 0: no new contact gets it (its statistics stay).",
            }
        }


class StepSerializer(serializers.ModelSerializer):
    variants = VariantSerializer(many=True, read_only=True)

    class Meta:
        model = Step
        fields = ["id", "campaign", "position", "delay_amount", "delay_unit", "variants"]
        read_only_fields = fields


class StepWriteSerializer(serializers.Serializer):
    subject = serializers.CharField(
        max_length=300,
        required=False,
        allow_blank=True,
        help_text="Variant A's subject; a follow-up may leave it empty to reply in the thread.",
    )
    body = serializers.CharField(max_length=100_000, allow_blank=True, help_text="Variant A's.")
    delay_amount = serializers.IntegerField(min_value=0, max_value=10_000, required=False)
    delay_unit = serializers.ChoiceField(choices=DelayUnit.choices, required=False)


class EnrollmentSerializer(serializers.ModelSerializer):
    contact_email = serializers.EmailField(source="contact.email", read_only=True)

    class Meta:
        model = Enrollment
        fields = [
            "id",
            "campaign",
            "contact",
            "contact_email",
            "mailbox",
            "status",
            "stopped_reason",
            "next_position",
            "due_at",
            "started_at",
            "created_at",
        ]
        read_only_fields = fields


class EnrollRequestSerializer(serializers.Serializer):
    contact_ids = serializers.ListField(
        child=serializers.UUIDField(), required=False, max_length=MAX_IDS
    )
    list_ids = serializers.ListField(child=serializers.UUIDField(), required=False, max_length=100)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if not data.get("contact_ids") and not data.get("list_ids"):
            raise ValidationError(
                {"contact_ids": [_("Send contact_ids, list_ids or both (non-empty lists).")]}
            )
        return data


EnrollResultSerializer = inline_serializer(
    "CampaignEnrollResult",
    {
        "added": serializers.IntegerField(),
        "skipped": serializers.DictField(
            child=serializers.IntegerField(),
            help_text="Contacts not added, by reason: already_enrolled, suppressed, bounced, "
            "unsubscribed, not_found.",
        ),
    },
)


StatsSerializer = inline_serializer(
    "CampaignStats",
    {
        "contacts": serializers.DictField(
            child=serializers.IntegerField(), help_text="Enrollments by status."
        ),
        "steps": inline_serializer(
            "CampaignStepStats",
            {
                "step": serializers.IntegerField(help_text="1 = the first email."),
                "variant": serializers.CharField(),
                "sent": serializers.IntegerField(help_text="Emails that left, bounced or not."),
                "opened": serializers.IntegerField(help_text="Opened by a person (tracking on)."),
                "opened_flagged": serializers.IntegerField(
                    help_text="Opened only by machines: image proxies, the first seconds."
                ),
                "clicked": serializers.IntegerField(),
                "clicked_flagged": serializers.IntegerField(help_text="Link scanners."),
                "replied": serializers.IntegerField(help_text="Human replies."),
                "auto_replied": serializers.IntegerField(help_text="Out-of-office and others."),
                "bounced": serializers.IntegerField(help_text="Hard bounces."),
                "soft_bounced": serializers.IntegerField(),
                "blocked": serializers.IntegerField(help_text="Refused on policy (5.7.x)."),
                "unsubscribed": serializers.IntegerField(),
                "failed": serializers.IntegerField(),
                "unknown": serializers.IntegerField(),
                "reply_rate": serializers.FloatField(allow_null=True),
                "open_rate": serializers.FloatField(allow_null=True),
            },
            many=True,
        ),
        "totals": serializers.DictField(
            child=serializers.IntegerField(), help_text="The same columns for the campaign."
        ),
        "daily": inline_serializer(
            "CampaignDayStats",
            {
                "date": serializers.DateField(help_text="A local day of the campaign's time zone."),
                "sent": serializers.IntegerField(),
                "bounced": serializers.IntegerField(),
                "failed": serializers.IntegerField(),
            },
            many=True,
            help_text="The last 30 days (or since the launch), oldest first, zeros included.",
        ),
    },
)


ForecastSerializer = inline_serializer(
    "CampaignForecast",
    {
        "per_day": inline_serializer(
            "CampaignForecastDay",
            {"date": serializers.DateField(), "emails": serializers.IntegerField()},
            many=True,
        ),
        "last_email_at": serializers.DateTimeField(allow_null=True),
        "total": serializers.IntegerField(),
    },
)


ExplanationSerializer = inline_serializer(
    "EnrollmentExplanation",
    {
        "status": serializers.CharField(),
        "next_at": serializers.DateTimeField(allow_null=True),
        "reasons": serializers.ListField(child=serializers.CharField()),
    },
)


PreviewSerializer = inline_serializer(
    "EnrollmentPreview", {"subject": serializers.CharField(), "body": serializers.CharField()}
)
