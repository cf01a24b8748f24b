"""API: /api/v1/campaigns, /api/v1/steps, /api/v1/enrollments.

Serializers check shapes; the services in campaigns.services carry every rule (windows, spacing,
launch checks, steps contacts wait on) and emit the events. Another workspace's id is a 404.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.db.models import ProtectedError, Q, QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.errors import ServiceError
from campaigns import selectors, services
from campaigns.models import (
    Campaign,
    CampaignStatus,
    DelayUnit,
    Enrollment,
    EnrollmentStatus,
    Step,
    Variant,
)
from contacts.api.common import lists_by_id
from contacts.models import Contact
from email_accounts.models import Mailbox
from fluenzr.api.base import WorkspaceViewSet

MAX_IDS = 10_000


# ------------------------------------------------------------------------------- serializers


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
            "launched_at",
            "mailbox_ids",
            *services.CAMPAIGN_SETTINGS,
            "created_at",
        ]
        read_only_fields = ["id", "status", "status_reason", "launched_at", "created_at"]


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
                "sent": serializers.IntegerField(),
                "bounced": serializers.IntegerField(),
                "failed": serializers.IntegerField(),
                "unknown": serializers.IntegerField(),
            },
            many=True,
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


def _mailboxes(request: Request, ids: list[uuid.UUID]) -> list[Mailbox]:
    found = {m.pk: m for m in Mailbox.objects.for_workspace(request.workspace).filter(pk__in=ids)}
    missing = [str(pk) for pk in ids if pk not in found]
    if missing:
        raise ValidationError(
            {
                "mailbox_ids": [
                    _("No mailbox with id %(ids)s in this workspace.") % {"ids": ", ".join(missing)}
                ]
            }
        )
    return [found[pk] for pk in dict.fromkeys(ids)]


def _status_filter(request: Request, values: list[str]) -> str:
    value = request.query_params.get("status", "")
    if value and value not in values:
        raise ValidationError(
            {"status": [_("Use one of: %(values)s.") % {"values": ", ".join(values)}]}
        )
    return value


STATUS_PARAMETER = OpenApiParameter("status", OpenApiTypes.STR, description="Only this status.")


# ------------------------------------------------------------------------------- campaigns


class CampaignViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    WorkspaceViewSet,
):
    """Campaigns. Settings may change while a campaign runs; an active campaign must be paused
    before it is deleted, and one that has sent emails keeps its history (cannot be deleted)."""

    model = Campaign
    serializer_class = CampaignSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def scope_queryset(self, queryset: QuerySet) -> QuerySet:
        queryset = queryset.prefetch_related("mailboxes")
        if self.action == "list":
            value = _status_filter(self.request, CampaignStatus.values)
            if value:
                queryset = queryset.filter(status=value)
        return queryset

    @extend_schema(parameters=[STATUS_PARAMETER])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Filter: `status` (draft, active, paused, completed, archived)."""
        return super().list(request, *args, **kwargs)

    def _settings(self, serializer: CampaignSerializer) -> tuple[dict, list[Mailbox] | None]:
        data = dict(serializer.validated_data)
        ids = data.pop("mailbox_ids", None)
        mailboxes = None if ids is None else _mailboxes(self.request, ids)
        return {k: v for k, v in data.items() if k in services.CAMPAIGN_SETTINGS}, mailboxes

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        settings, mailboxes = self._settings(serializer)
        with transaction.atomic():
            # campaign_update checks every setting (spacing included), so it applies them.
            campaign = services.campaign_create(
                workspace=request.workspace, name=settings.pop("name"), mailboxes=mailboxes or ()
            )
            if settings:
                campaign = services.campaign_update(
                    workspace=request.workspace, campaign=campaign, **settings
                )
        return Response(self.get_serializer(campaign).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        campaign = self.get_object()
        serializer = self.get_serializer(campaign, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        settings, mailboxes = self._settings(serializer)
        campaign = services.campaign_update(
            workspace=request.workspace, campaign=campaign, mailboxes=mailboxes, **settings
        )
        return Response(self.get_serializer(campaign).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        campaign = self.get_object()
        with transaction.atomic():
            campaign = (
                Campaign.objects.for_workspace(request.workspace)
                .select_for_update()
                .get(pk=campaign.pk)
            )
            if campaign.status == CampaignStatus.ACTIVE:
                raise ServiceError(_("This campaign is sending: pause it before deleting it."))
            try:
                campaign.delete()
            except ProtectedError:
                raise ServiceError(
                    _(
                        "This campaign has sent emails and keeps their history: it cannot be "
                        "deleted."
                    )
                ) from None
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _change(self, request: Request, change: Any) -> Response:
        campaign = change(workspace=request.workspace, campaign=self.get_object())
        return Response(CampaignSerializer(campaign).data)

    @extend_schema(request=None, responses=CampaignSerializer)
    @action(detail=True, methods=["post"])
    def launch(self, request: Request, pk: str | None = None) -> Response:
        """Start sending. A 400 lists what to fix first (emails, mailboxes, contacts, window,
        variables some contacts have no value for)."""
        return self._change(request, services.campaign_launch)

    @extend_schema(request=None, responses=CampaignSerializer)
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str | None = None) -> Response:
        """Stop sending; nothing leaves after this answers."""
        return self._change(request, services.campaign_pause)

    @extend_schema(request=None, responses=CampaignSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        return self._change(request, services.campaign_resume)

    @extend_schema(responses=StatsSerializer)
    @action(detail=True, methods=["get"])
    def stats(self, request: Request, pk: str | None = None) -> Response:
        """Contacts by state; emails by outcome per step and variant, and per day."""
        campaign = self.get_object()
        daily = [
            {"date": day, "sent": sent, "bounced": bounced, "failed": failed}
            for day, sent, bounced, failed in selectors.campaign_daily(campaign)
        ]
        return Response(selectors.campaign_stats(campaign) | {"daily": daily})

    @extend_schema(responses=ForecastSerializer)
    @action(detail=True, methods=["get"])
    def forecast(self, request: Request, pk: str | None = None) -> Response:
        """Emails per day (the campaign's local days) and when the last one is expected, from
        the mailboxes' limits, the spacing and the window. An estimate: replies end early."""
        result = selectors.forecast(campaign=self.get_object())
        return Response(
            {
                "per_day": [{"date": day, "emails": count} for day, count in result.per_day],
                "last_email_at": result.last_email_at,
                "total": result.total,
            }
        )

    @extend_schema(request=EnrollRequestSerializer, responses=EnrollResultSerializer)
    @action(detail=True, methods=["post"])
    def enroll(self, request: Request, pk: str | None = None) -> Response:
        """Add contacts (by id) and the contacts of lists. Suppressed, bounced, unsubscribed,
        already enrolled and unknown contacts are skipped, counted by reason."""
        campaign = self.get_object()
        serializer = EnrollRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        contact_ids = list(dict.fromkeys(serializer.validated_data.get("contact_ids", [])))
        list_ids = serializer.validated_data.get("list_ids", [])
        lists = lists_by_id(request, list_ids, "list_ids") if list_ids else []
        contacts = Contact.objects.for_workspace(request.workspace)
        known = set(contacts.filter(pk__in=contact_ids).values_list("pk", flat=True))
        if lists and contact_ids:
            chosen = contacts.filter(Q(pk__in=known) | Q(lists__in=lists)).distinct()
            result = services.campaign_enroll(
                workspace=request.workspace, campaign=campaign, contacts=chosen
            )
        elif lists:
            result = services.campaign_enroll_lists(
                workspace=request.workspace, campaign=campaign, lists=lists
            )
        else:
            result = services.campaign_enroll(
                workspace=request.workspace,
                campaign=campaign,
                contacts=contacts.filter(pk__in=known),
            )
        skipped = dict(result.skipped)
        if len(known) < len(contact_ids):
            skipped["not_found"] = len(contact_ids) - len(known)
        return Response({"added": result.added, "skipped": skipped})

    @extend_schema(methods=["GET"], request=None, responses=StepSerializer(many=True))
    @extend_schema(methods=["POST"], request=StepWriteSerializer, responses={201: StepSerializer})
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def steps(self, request: Request, pk: str | None = None) -> Response:
        """GET: the sequence, in order, with each step's variants. POST: append a step (its
        content becomes variant A); only the first email must have a subject."""
        campaign = self.get_object()
        if request.method == "GET":
            steps = campaign.steps.order_by("position").prefetch_related("variants")
            return Response(StepSerializer(steps, many=True).data)
        serializer = StepWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        step = services.step_add(
            workspace=request.workspace, campaign=campaign, **serializer.validated_data
        )
        return Response(StepSerializer(step).data, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[STATUS_PARAMETER], responses=EnrollmentSerializer(many=True))
    @action(detail=True, methods=["get"])
    def enrollments(self, request: Request, pk: str | None = None) -> Response:
        """The campaign's contacts and where each stands. Filter: `status`."""
        campaign = self.get_object()
        value = _status_filter(request, EnrollmentStatus.values)
        queryset = (
            Enrollment.objects.for_workspace(request.workspace)
            .filter(campaign=campaign)
            .select_related("contact")
        )
        if value:
            queryset = queryset.filter(status=value)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(EnrollmentSerializer(page, many=True).data)


# ------------------------------------------------------------------------------- steps


class StepViewSet(mixins.RetrieveModelMixin, WorkspaceViewSet):
    """One email of a sequence. PATCH edits variant A and the delay, also while the campaign
    runs (contacts past the step are not affected). DELETE is refused while contacts wait on
    the step or once it has been sent."""

    model = Step
    serializer_class = StepSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def scope_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset.prefetch_related("variants")

    @extend_schema(request=StepWriteSerializer, responses=StepSerializer)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        step = self.get_object()
        serializer = StepWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        step = services.step_update(
            workspace=request.workspace, step=step, **serializer.validated_data
        )
        return Response(StepSerializer(self.get_queryset().get(pk=step.pk)).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.step_delete(workspace=request.workspace, step=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=VariantSerializer, responses={201: VariantSerializer})
    @action(detail=True, methods=["post"])
    def variants(self, request: Request, pk: str | None = None) -> Response:
        """Add an A/B variant; `weight` is its share of the step's contacts."""
        step = self.get_object()
        serializer = VariantSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        variant = services.variant_add(
            workspace=request.workspace, step=step, **serializer.validated_data
        )
        return Response(VariantSerializer(variant).data, status=status.HTTP_201_CREATED)


# ------------------------------------------------------------------------------- variants


class VariantViewSet(mixins.RetrieveModelMixin, WorkspaceViewSet):
    """One A/B version of a step. PATCH edits its subject, body or weight, also while the
    campaign runs (emails already written keep their content); weight 0 stops giving it to new
    contacts, and one variant of a step keeps a weight above 0. DELETE is refused for a step's
    only variant (delete the step instead), for variant A (the step itself) and for a variant
    already used for emails: set their weight to 0 instead, and their statistics stay."""

    model = Variant
    serializer_class = VariantSerializer
    http_method_names = ["get", "patch", "delete", "head", "options"]

    @extend_schema(request=VariantSerializer, responses=VariantSerializer)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        variant = self.get_object()
        serializer = VariantSerializer(variant, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        variant = services.variant_update(
            workspace=request.workspace, variant=variant, **serializer.validated_data
        )
        return Response(VariantSerializer(variant).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.variant_delete(workspace=request.workspace, variant=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


# ------------------------------------------------------------------------------- enrollments


class EnrollmentViewSet(mixins.RetrieveModelMixin, WorkspaceViewSet):
    """One contact in one campaign."""

    model = Enrollment
    serializer_class = EnrollmentSerializer

    def scope_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset.select_related("contact", "campaign", "mailbox")

    @extend_schema(responses=ExplanationSerializer)
    @action(detail=True, methods=["get"])
    def explain(self, request: Request, pk: str | None = None) -> Response:
        """Why this contact has not been emailed yet: the next due time and what holds it."""
        result = selectors.explain(enrollment=self.get_object())
        return Response(
            {"status": result.status, "next_at": result.next_at, "reasons": result.reasons}
        )

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "step",
                OpenApiTypes.INT,
                description="The step's position (0 = the first email); default: its next.",
            )
        ],
        responses=PreviewSerializer,
    )
    @action(detail=True, methods=["get"])
    def preview(self, request: Request, pk: str | None = None) -> Response:
        """The exact email this contact gets for a step (same variant, same spintax)."""
        enrollment = self.get_object()
        steps = enrollment.campaign.steps.prefetch_related("variants")
        raw = request.query_params.get("step")
        try:
            position = enrollment.next_position if raw is None else int(raw)
        except ValueError:
            position = -1
        step = steps.filter(position=position).first() if position >= 0 else None
        if step is None and raw is None:
            step = steps.order_by("-position").first()
        if step is None:
            raise ValidationError({"step": [_("No email at this position in the campaign.")]})
        if enrollment.mailbox is None and not enrollment.campaign.mailboxes.exists():
            raise ServiceError(_("Choose a mailbox to send from first."))
        result = selectors.preview(enrollment=enrollment, step=step)
        return Response({"subject": result.subject, "body": result.body})
