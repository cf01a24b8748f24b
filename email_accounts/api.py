"""API: /api/v1/email-accounts. Gmail mailboxes are connected through the dashboard's Google
flow; SMTP/IMAP ones can be created here, with the same real connection test. Secrets are
write-only: no response ever carries a password or a token."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from email_accounts import selectors, services
from email_accounts.models import SPACING_FLOOR_SECONDS, Mailbox
from email_accounts.providers.connection import HOST_PATTERN, Security
from email_accounts.services.mailboxes import ServerInput, smtp_imap_details
from fluenzr.api.base import WorkspaceViewSet


class RampUpSerializer(serializers.Serializer):
    enabled = serializers.BooleanField(source="ramp_up_enabled")
    start_per_day = serializers.IntegerField(source="ramp_up_start", min_value=1, max_value=100_000)
    increase_per_day = serializers.IntegerField(
        source="ramp_up_increase", min_value=0, max_value=100_000
    )
    started_on = serializers.DateField(source="ramp_up_started_on", read_only=True)


class SpacingSerializer(serializers.Serializer):
    min_seconds = serializers.IntegerField(
        source="spacing_min_seconds", min_value=SPACING_FLOOR_SECONDS, max_value=86_400
    )
    max_seconds = serializers.IntegerField(
        source="spacing_max_seconds", min_value=SPACING_FLOOR_SECONDS, max_value=86_400
    )


class MailboxSerializer(serializers.ModelSerializer):
    ramp_up = RampUpSerializer(source="*", required=False)
    spacing = SpacingSerializer(source="*", required=False)
    limit_today = serializers.SerializerMethodField()
    sent_today = serializers.SerializerMethodField()
    missing_permissions = serializers.SerializerMethodField()

    class Meta:
        model = Mailbox
        fields = [
            "id",
            "provider",
            "email",
            "sender_name",
            "signature",
            "status",
            "status_reason",
            "status_since",
            "paused_until",
            "daily_limit",
            "daily_limit_max",
            "limit_today",
            "sent_today",
            "ramp_up",
            "spacing",
            "timezone",
            "google_workspace_domain",
            "missing_permissions",
            "last_sync_at",
            "connected_at",
            "created_at",
        ]
        read_only_fields = [
            "id",
            "provider",
            "email",
            "status",
            "status_reason",
            "status_since",
            "paused_until",
            "daily_limit_max",
            "google_workspace_domain",
            "last_sync_at",
            "connected_at",
            "created_at",
        ]

    def get_limit_today(self, mailbox: Mailbox) -> int:
        return selectors.limit_today(mailbox)

    def get_sent_today(self, mailbox: Mailbox) -> int:
        return selectors.sent_today(mailbox)

    def get_missing_permissions(self, mailbox: Mailbox) -> list[str]:
        return selectors.mailbox_missing_features(mailbox)


class ServerSerializer(serializers.Serializer):
    host = serializers.RegexField(
        HOST_PATTERN,
        max_length=253,
        error_messages={
            "invalid": _("Enter a host name like smtp.example.com, without http:// or a port.")
        },
    )
    port = serializers.IntegerField(min_value=1, max_value=65535)
    security = serializers.ChoiceField(choices=[Security.SSL.value, Security.STARTTLS.value])
    username = serializers.CharField(max_length=254, required=False, allow_blank=True)
    password = serializers.CharField(
        max_length=500, write_only=True, required=False, allow_blank=True
    )


class SmtpMailboxCreateSerializer(serializers.Serializer):
    email = serializers.CharField(max_length=254)
    sender_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    smtp = ServerSerializer(
        help_text="The SMTP password is required; the username defaults to the email address."
    )
    imap = ServerSerializer(help_text="Username and password default to SMTP's.")
    append_to_sent = serializers.BooleanField(
        default=True,
        help_text="File a copy of each sent email in Sent over IMAP (off for Gmail and "
        "Microsoft 365, which do it themselves).",
    )

    def details(self) -> services.SmtpImapDetails:
        data = self.validated_data
        return smtp_imap_details(
            email=data["email"],
            sender_name=data.get("sender_name", ""),
            smtp=ServerInput(**data["smtp"]),
            imap=ServerInput(**data["imap"]),
            append_to_sent=data["append_to_sent"],
        )


class MailboxViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    WorkspaceViewSet,
):
    """Mailboxes campaigns send from. DELETE disconnects (revoking Gmail's grant) and removes."""

    model = Mailbox
    serializer_class = MailboxSerializer

    @extend_schema(request=SmtpMailboxCreateSerializer, responses={201: MailboxSerializer})
    def create(self, request: Request) -> Response:
        """Connect an SMTP + IMAP mailbox. Both servers are tested before anything is saved; a
        failure is a 400 whose message says what to fix."""
        serializer = SmtpMailboxCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        mailbox = services.mailbox_connect_smtp(
            workspace=request.workspace, details=serializer.details()
        )
        return Response(MailboxSerializer(mailbox).data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer: MailboxSerializer) -> None:
        mailbox = serializer.instance
        values = {
            name: serializer.validated_data.get(name, getattr(mailbox, name))
            for name in services.MailboxSettings.__dataclass_fields__
        }
        serializer.instance = services.mailbox_update_settings(
            workspace=self.request.workspace,
            mailbox=mailbox,
            values=services.MailboxSettings(**values),
        )

    def perform_destroy(self, instance: Mailbox) -> None:
        services.mailbox_delete(workspace=self.request.workspace, mailbox=instance)

    @extend_schema(request=None, responses=MailboxSerializer)
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str | None = None) -> Response:
        """Stop sending from this mailbox until it is resumed."""
        mailbox = services.mailbox_pause(workspace=request.workspace, mailbox=self.get_object())
        return Response(MailboxSerializer(mailbox).data)

    @extend_schema(request=None, responses=MailboxSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        mailbox = services.mailbox_resume(workspace=request.workspace, mailbox=self.get_object())
        return Response(MailboxSerializer(mailbox).data)
