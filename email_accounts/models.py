"""The mailboxes campaigns send from: Gmail by OAuth, or any SMTP + IMAP host."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from accounts.tenancy import WorkspaceOwnedModel
from email_accounts.providers.base import Folders, OAuthTokens, ServerSettings
from fluenzr.fields import EncryptedTextField

# Google's own daily sending limits: a mailbox's limit may be lowered, never raised above them.
GMAIL_WORKSPACE_DAILY_MAX = 2000
GMAIL_PERSONAL_DAILY_MAX = 500
SMTP_DEFAULT_DAILY_LIMIT = 50
# Cold email is capped well below any host's technical limit: past this, a mailbox burns.
SMTP_DAILY_MAX = 2000
SPACING_FLOOR_SECONDS = 20


class Provider(models.TextChoices):
    GMAIL = "gmail", _("Gmail")
    SMTP = "smtp", _("SMTP / IMAP")


class MailboxStatus(models.TextChoices):
    CONNECTED = "connected", pgettext_lazy("mailbox status", "Connected")
    ERROR = "error", pgettext_lazy("mailbox status", "Error")
    PAUSED = "paused", pgettext_lazy("mailbox status", "Paused")
    DISCONNECTED = "disconnected", pgettext_lazy("mailbox status", "Disconnected")


class Mailbox(WorkspaceOwnedModel):
    provider = models.CharField(_("provider"), max_length=10, choices=Provider.choices)
    email = models.CharField(_("email address"), max_length=254)
    sender_name = models.CharField(_("sender name"), max_length=150, blank=True)
    signature = models.TextField(_("signature"), blank=True)

    status = models.CharField(
        _("status"), max_length=20, choices=MailboxStatus.choices, default=MailboxStatus.CONNECTED
    )
    # What happened, in words that say what to do ("Token expired — reconnect"). FluenzR's own
    # reasons are stored in English and shown in the reader's language (`reason_display`).
    status_reason = models.CharField(_("reason"), max_length=500, blank=True)
    status_since = models.DateTimeField(_("since"))
    # A mailbox paused by the provider's quota (not by the user) sends again from this moment.
    paused_until = models.DateTimeField(null=True, blank=True)

    # Sending volume. The limit in force today is min(daily_limit, ramp-up); see selectors.
    daily_limit = models.PositiveIntegerField(_("daily limit"))
    daily_limit_max = models.PositiveIntegerField(
        help_text="The provider's ceiling: daily_limit may be lowered, never raised above it."
    )
    google_workspace_domain = models.CharField(max_length=253, blank=True)
    ramp_up_enabled = models.BooleanField(_("ramp-up"), default=True)
    ramp_up_start = models.PositiveIntegerField(_("emails on the first day"), default=20)
    # The first week's daily increase; it doubles in week 2, triples in week 3 (selectors).
    ramp_up_increase = models.PositiveIntegerField(_("increase per day"), default=2)
    ramp_up_started_on = models.DateField(null=True, blank=True)
    spacing_min_seconds = models.PositiveIntegerField(_("minimum gap (seconds)"), default=60)
    spacing_max_seconds = models.PositiveIntegerField(_("maximum gap (seconds)"), default=180)
    timezone = models.CharField(_("time zone"), max_length=64)

    # Sends counted per local day of the mailbox: `sent_today` is for `sent_day` only. The
    # engine reserves a send with one conditional UPDATE (services.mailbox_reserve_send).
    sent_day = models.DateField(null=True, blank=True)
    sent_today = models.PositiveIntegerField(default=0)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    # Spacing: the earliest moment the next send may start, drawn once per send (the larger of
    # the mailbox's and the campaign's gap) and stored, so "why not yet" answers are stable.
    next_send_at = models.DateTimeField(null=True, blank=True)

    # Inbound sync: Gmail {"history_id": …}; IMAP {"folders": {name: {uidvalidity, last_uid}}}.
    sync_cursor = models.JSONField(default=dict, blank=True)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    sync_error = models.CharField(max_length=500, blank=True)  # the last sync's failure, shown
    # A recipient's server refused this mailbox's mail as a policy matter (5.7.x: DMARC,
    # blocklist): the sender is at fault, not the contact. Shown until the user dismisses it.
    blocked_at = models.DateTimeField(null=True, blank=True)
    blocked_reason = models.CharField(max_length=500, blank=True)
    # IMAP folder names found by the connection test: {"inbox", "sent", "junk"}.
    folders = models.JSONField(default=dict, blank=True)
    # The SMTP host keeps no copy of what it sends: FluenzR files one in Sent over IMAP.
    append_to_sent = models.BooleanField(default=True)

    # Every secret, as one encrypted JSON document: OAuth tokens, expiry and granted scopes;
    # SMTP/IMAP host, port, security, username and password. Never shown, never logged.
    credentials = EncryptedTextField(blank=True, editable=False)
    connected_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(
                Lower("email"), "workspace", name="mailbox_unique_email_per_workspace"
            ),
            models.CheckConstraint(
                condition=Q(daily_limit__lte=F("daily_limit_max")),
                name="mailbox_daily_limit_within_max",
            ),
            models.CheckConstraint(
                condition=Q(spacing_min_seconds__gte=SPACING_FLOOR_SECONDS)
                & Q(spacing_max_seconds__gte=F("spacing_min_seconds")),
                name="mailbox_spacing_range",
            ),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def reason_display(self) -> str:
        """The status reason in the reader's language when it is one of FluenzR's own
        sentences (stored in English); a server's own words stay as they were written."""
        return gettext(self.status_reason) if self.status_reason else ""

    def __repr__(self) -> str:  # never the credentials
        return f"<Mailbox {self.pk} {self.provider} {self.email} {self.status}>"

    # ------------------------------------------------------------------ credentials, typed

    def _secrets(self) -> dict[str, Any]:
        return json.loads(self.credentials) if self.credentials else {}

    @property
    def oauth_tokens(self) -> OAuthTokens | None:
        secrets = self._secrets().get("oauth")
        if not secrets:
            return None
        expires = secrets.get("expires_at")
        return OAuthTokens(
            access_token=secrets["access_token"],
            refresh_token=secrets.get("refresh_token", ""),
            expires_at=datetime.fromisoformat(expires) if expires else None,
            scopes=tuple(secrets.get("scopes", ())),
        )

    def set_oauth_tokens(self, tokens: OAuthTokens) -> None:
        expires = tokens.expires_at.astimezone(UTC).isoformat() if tokens.expires_at else None
        self.credentials = json.dumps(
            {
                "oauth": {
                    "access_token": tokens.access_token,
                    "refresh_token": tokens.refresh_token,
                    "expires_at": expires,
                    "scopes": list(tokens.scopes),
                }
            }
        )

    @property
    def smtp_settings(self) -> ServerSettings | None:
        secrets = self._secrets().get("smtp")
        return ServerSettings(**secrets) if secrets else None

    @property
    def imap_settings(self) -> ServerSettings | None:
        secrets = self._secrets().get("imap")
        return ServerSettings(**secrets) if secrets else None

    def set_servers(self, *, smtp: ServerSettings, imap: ServerSettings) -> None:
        self.credentials = json.dumps({"smtp": vars(smtp), "imap": vars(imap)})

    @property
    def imap_folders(self) -> Folders:
        return Folders(
            inbox=self.folders.get("inbox", "INBOX"),
            sent=self.folders.get("sent"),
            junk=self.folders.get("junk"),
        )

    def clear_credentials(self) -> None:
        self.credentials = ""

    @property
    def has_credentials(self) -> bool:
        return bool(self.credentials)

    def local_day(self, moment: datetime) -> date:
        return moment.astimezone(ZoneInfo(self.timezone)).date()
