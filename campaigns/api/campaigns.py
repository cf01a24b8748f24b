"""/api/v1/campaigns: settings, launch, pause, resume, stats, forecast, enroll, steps and
enrollments of a campaign."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.db.models import ProtectedError, Q, QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.errors import ServiceError
from campaigns import selectors, services
from campaigns.api.serializers import (
    CampaignSerializer,
    EnrollmentSerializer,
    EnrollRequestSerializer,
    EnrollResultSerializer,
    ForecastSerializer,
    StatsSerializer,
    StepSerializer,
    StepWriteSerializer,
)
from campaigns.models import Campaign, CampaignStatus, Enrollment, EnrollmentStatus
from contacts.api.common import lists_by_id
from contacts.models import Contact
from email_accounts.models import Mailbox
from fluenzr.api.base import WorkspaceViewSet


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
