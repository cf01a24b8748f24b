"""/api/v1/replies: every reply and auto-reply from every mailbox of the workspace (newest
first, filtered), one with the classifier's verdict, its lead status set, and an answer sent
through the mailbox that received it, in the same thread (campaigns.unibox.services)."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.errors import ServiceError
from campaigns.models import InboundEmail, InboundKind, OutboundReply
from campaigns.unibox import services
from campaigns.unibox.selectors import CONVERSATION_KINDS, NO_LEAD_STATUS
from contacts.models import LeadStatus
from fluenzr.api.base import WorkspaceViewSet
from fluenzr.api.pagination import CursorPagination


class AnswerSerializer(serializers.ModelSerializer):
    reply_id = serializers.UUIDField(source="inbound_id", read_only=True)
    mailbox = serializers.EmailField(source="mailbox.email", read_only=True)
    sent_by = serializers.EmailField(source="sent_by.email", read_only=True, default=None)

    class Meta:
        model = OutboundReply
        fields = [
            "id",
            "reply_id",
            "mailbox",
            "message_id",
            "subject",
            "body",
            "sent_at",
            "error",
            "sent_by",
            "created_at",
        ]
        read_only_fields = fields


class ReplySerializer(serializers.ModelSerializer):
    # A plain string in the schema: an enum named "kind" would clash with the suppressions'.
    kind = serializers.CharField(read_only=True, help_text="`reply` or `auto_reply`.")
    mailbox_id = serializers.UUIDField(read_only=True)
    mailbox = serializers.EmailField(source="mailbox.email", read_only=True)
    campaign_id = serializers.UUIDField(
        source="enrollment.campaign_id", read_only=True, default=None
    )
    enrollment_id = serializers.UUIDField(read_only=True)
    contact_id = serializers.UUIDField(read_only=True)
    lead_status = serializers.CharField(source="contact.lead_status", read_only=True, default=None)
    thread_id = serializers.CharField(source="provider_thread_id", read_only=True)

    class Meta:
        model = InboundEmail
        fields = [
            "id",
            "kind",
            "mailbox_id",
            "mailbox",
            "campaign_id",
            "enrollment_id",
            "contact_id",
            "lead_status",
            "lead_suggestion",
            "lead_suggestion_rule",
            "from_email",
            "from_name",
            "subject",
            "text",
            "received_at",
            "read",
            "low_confidence",
            "matched_by",
            "return_date",
            "unsubscribe_request",
            "message_id",
            "thread_id",
        ]
        read_only_fields = fields


class ReplyDetailSerializer(ReplySerializer):
    answers = serializers.SerializerMethodField()

    class Meta(ReplySerializer.Meta):
        fields = [*ReplySerializer.Meta.fields, "body", "verdict", "answers"]
        read_only_fields = fields

    @extend_schema_field(AnswerSerializer(many=True))
    def get_answers(self, reply: InboundEmail) -> list[dict]:
        answers = OutboundReply.objects.for_workspace(self.context["request"].workspace).filter(
            inbound_id=reply.pk
        )
        return AnswerSerializer(answers.select_related("mailbox", "sent_by"), many=True).data


class LeadStatusRequestSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=LeadStatus.choices,
        allow_blank=True,
        allow_null=True,
        help_text=("One of the lead statuses; empty or null clears it."),
    )


class AnswerRequestSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=services.MAX_ANSWER_LENGTH, trim_whitespace=True)


class ReplyPagination(CursorPagination):
    ordering = ("-received_at", "-id")


def _uuid_param(request: Request, name: str) -> uuid.UUID | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ValidationError({name: [_("Give an id (a UUID).")]}) from None


def _choice_param(request: Request, name: str, values: list[str]) -> str:
    value = request.query_params.get(name, "")
    if value and value not in values:
        raise ValidationError(
            {name: [_("Use one of: %(values)s.") % {"values": ", ".join(values)}]}
        )
    return value


FILTERS = [
    OpenApiParameter("campaign", OpenApiTypes.UUID, description="Only replies to this campaign."),
    OpenApiParameter("mailbox", OpenApiTypes.UUID, description="Only replies to this mailbox."),
    OpenApiParameter(
        "lead_status",
        OpenApiTypes.STR,
        description=f"A lead status, or `{NO_LEAD_STATUS}` for contacts without one.",
    ),
    OpenApiParameter("unread", OpenApiTypes.BOOL, description="`true`: only unread replies."),
    OpenApiParameter(
        "kind", OpenApiTypes.STR, description="`reply` or `auto_reply`; both by default."
    ),
]


class ReplyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, WorkspaceViewSet):
    """Replies and auto-replies to campaigns, newest first. Bounces and complaints are not
    replies: they show on the enrollment (its status and stop reason) and in the events."""

    model = InboundEmail
    pagination_class = ReplyPagination
    http_method_names = ["get", "post", "head", "options"]

    def get_serializer_class(self):
        return ReplyDetailSerializer if self.action != "list" else ReplySerializer

    def scope_queryset(self, queryset: QuerySet) -> QuerySet:
        queryset = queryset.filter(kind__in=CONVERSATION_KINDS).select_related(
            "mailbox", "contact", "enrollment"
        )
        if self.action != "list":
            return queryset
        request = self.request
        campaign = _uuid_param(request, "campaign")
        if campaign:
            queryset = queryset.filter(enrollment__campaign_id=campaign)
        mailbox = _uuid_param(request, "mailbox")
        if mailbox:
            queryset = queryset.filter(mailbox_id=mailbox)
        lead = _choice_param(request, "lead_status", [*LeadStatus.values, NO_LEAD_STATUS])
        if lead == NO_LEAD_STATUS:
            queryset = queryset.filter(contact__lead_status="")
        elif lead:
            queryset = queryset.filter(contact__lead_status=lead)
        unread = _choice_param(request, "unread", ["true", "false"])
        if unread:
            queryset = queryset.filter(read=unread == "false")
        kind = _choice_param(request, "kind", [InboundKind.REPLY, InboundKind.AUTO_REPLY])
        if kind:
            queryset = queryset.filter(kind=kind)
        return queryset

    @extend_schema(parameters=FILTERS)
    def list(self, request: Request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(request=LeadStatusRequestSerializer, responses=ReplyDetailSerializer)
    @action(detail=True, methods=["post"], url_path="lead-status")
    def lead_status(self, request: Request, pk: str | None = None) -> Response:
        """Set the lead status of the reply's contact (emits `lead.status_changed`)."""
        reply = self.get_object()
        data = LeadStatusRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if reply.contact is None:
            raise ServiceError(_("This reply matched no contact: there is no lead to mark."))
        reply.contact = services.lead_status_set(
            workspace=request.workspace,
            contact=reply.contact,
            status=data.validated_data["status"] or "",
            user=None,
        )
        return Response(ReplyDetailSerializer(reply, context=self.get_serializer_context()).data)

    @extend_schema(request=AnswerRequestSerializer, responses={201: AnswerSerializer})
    @action(detail=True, methods=["post"])
    def reply(self, request: Request, pk: str | None = None) -> Response:
        """Answer through the mailbox that received the reply, in the same thread. 409 when it
        cannot go now (mailbox not connected, its daily quota used, its server refused)."""
        inbound = self.get_object()
        data = AnswerRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        answer = services.reply_send(
            workspace=request.workspace,
            inbound=inbound,
            body=data.validated_data["body"],
            user=None,
        )
        return Response(AnswerSerializer(answer).data, status=status.HTTP_201_CREATED)
