"""Campaigns, their steps and variants, enrollments (one contact in one campaign) and
outbound messages (one step for one enrollment) — the state the sending engine lives on.

PostgreSQL is the only source of truth (DESIGN.md §4): Celery carries message ids, nothing
else, and everything a lost nudge leaves behind is found again by the sweeper.
"""

from __future__ import annotations

from datetime import time

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext, ngettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from accounts.tenancy import WorkspaceOwnedModel

SPACING_FLOOR_SECONDS = 20
ALL_WEEKDAYS = [0, 1, 2, 3, 4, 5, 6]
WORKING_DAYS = [0, 1, 2, 3, 4]


def working_days() -> list[int]:
    return list(WORKING_DAYS)


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", pgettext_lazy("campaign status", "Draft")
    ACTIVE = "active", pgettext_lazy("campaign status", "Active")
    PAUSED = "paused", pgettext_lazy("campaign status", "Paused")
    COMPLETED = "completed", pgettext_lazy("campaign status", "Completed")
    ARCHIVED = "archived", pgettext_lazy("campaign status", "Archived")


class BodyFormat(models.TextChoices):
    TEXT = "text", _("Plain text")
    HTML = "html", _("HTML")


class Campaign(WorkspaceOwnedModel):
    name = models.CharField(_("name"), max_length=200)
    status = models.CharField(
        _("status"), max_length=12, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT
    )
    status_reason = models.CharField(max_length=300, blank=True)
    launched_at = models.DateTimeField(null=True, blank=True)
    # Senders; a contact stays on the mailbox that first wrote to it (rotation picks it).
    mailboxes = models.ManyToManyField("email_accounts.Mailbox", related_name="campaigns")

    # The sending window, in `timezone` (or the contact's own, with recipient_local_time).
    timezone = models.CharField(_("time zone"), max_length=64, default="UTC")
    weekdays = models.JSONField(_("days"), default=working_days)  # 0 = Monday
    window_start = models.TimeField(_("from"), default=time(9, 0))
    window_end = models.TimeField(_("until"), default=time(17, 0))
    recipient_local_time = models.BooleanField(
        _("send in the recipient's time zone"), default=False
    )

    daily_new_contacts = models.PositiveIntegerField(
        _("new contacts per day"), null=True, blank=True
    )
    spacing_min_seconds = models.PositiveIntegerField(default=60)
    spacing_max_seconds = models.PositiveIntegerField(default=180)
    stop_on_reply = models.BooleanField(default=True)
    stop_on_company_reply = models.BooleanField(default=False)
    track_opens = models.BooleanField(default=False)
    track_clicks = models.BooleanField(default=False)
    unsubscribe_link = models.BooleanField(default=True)
    body_format = models.CharField(
        max_length=4, choices=BodyFormat.choices, default=BodyFormat.TEXT
    )
    # Bounce protection: pause when hard bounces pass this share of the last 50 sends (0: off).
    bounce_pause_percent = models.PositiveSmallIntegerField(
        _("pause above this hard-bounce rate (%)"), default=5
    )
    # An out-of-office reply with no readable return date pauses the contact this long.
    out_of_office_days = models.PositiveSmallIntegerField(
        _("out-of-office pause (days)"), default=7
    )
    # Something the user should know that is not a status: a recipient server refusing the
    # sender on policy (5.7.x), for instance. FluenzR's own English sentence, shown translated.
    warning = models.CharField(max_length=500, blank=True)
    warning_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(window_start=F("window_end")), name="campaign_window_not_empty"
            ),
            models.CheckConstraint(
                condition=Q(spacing_min_seconds__gte=SPACING_FLOOR_SECONDS)
                & Q(spacing_max_seconds__gte=F("spacing_min_seconds")),
                name="campaign_spacing_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def status_reason_display(self) -> str:
        """FluenzR's own reasons are stored in English and shown in the reader's language; a
        user's own words are shown as written (gettext returns them unchanged)."""
        return gettext(self.status_reason) if self.status_reason else ""

    @property
    def warning_display(self) -> str:
        return gettext(self.warning) if self.warning else ""


class DelayUnit(models.TextChoices):
    MINUTES = "minutes", _("minutes")
    HOURS = "hours", _("hours")
    DAYS = "days", _("days (sending days only)")


class Step(WorkspaceOwnedModel):
    """One email of the sequence. Its content lives in its variants (at least one, "A")."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()  # 0 = the first email
    delay_amount = models.PositiveIntegerField(default=0)
    delay_unit = models.CharField(max_length=8, choices=DelayUnit.choices, default=DelayUnit.DAYS)

    @property
    def delay_text(self) -> str:
        """ "3 sending days after the previous email", in the reader's language."""
        n = self.delay_amount
        if self.delay_unit == DelayUnit.MINUTES:
            text = ngettext(
                "%(n)d minute after the previous email", "%(n)d minutes after the previous email", n
            )
        elif self.delay_unit == DelayUnit.HOURS:
            text = ngettext(
                "%(n)d hour after the previous email", "%(n)d hours after the previous email", n
            )
        else:
            text = ngettext(
                "%(n)d sending day after the previous email",
                "%(n)d sending days after the previous email",
                n,
            )
        return text % {"n": n}

    class Meta:
        ordering = ["campaign", "position"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "position"], name="step_unique_position")
        ]


class Variant(WorkspaceOwnedModel):
    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="variants")
    label = models.CharField(max_length=2, default="A")
    # A follow-up may leave the subject empty: it then replies in the thread ("Re: …").
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    body = models.TextField(_("body"))
    weight = models.PositiveIntegerField(default=50)  # share of the step's contacts

    class Meta:
        ordering = ["step", "label"]
        constraints = [
            models.UniqueConstraint(fields=["step", "label"], name="variant_unique_label")
        ]


class EnrollmentStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("enrollment status", "Not started")
    ACTIVE = "active", pgettext_lazy("enrollment status", "In sequence")
    REPLIED = "replied", pgettext_lazy("enrollment status", "Replied")
    BOUNCED = "bounced", pgettext_lazy("enrollment status", "Bounced")
    UNSUBSCRIBED = "unsubscribed", pgettext_lazy("enrollment status", "Unsubscribed")
    COMPLETED = "completed", pgettext_lazy("enrollment status", "Completed")
    PAUSED = "paused", pgettext_lazy("enrollment status", "Paused")
    FAILED = "failed", pgettext_lazy("enrollment status", "Failed")


# The states the scheduler looks at; everything else is finished or held.
RUNNING_ENROLLMENT = (EnrollmentStatus.PENDING, EnrollmentStatus.ACTIVE)


class Enrollment(WorkspaceOwnedModel):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="enrollments")
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.CASCADE, related_name="enrollments"
    )
    # Set by the first send (rotation) and kept: follow-ups stay in the same thread.
    mailbox = models.ForeignKey(
        "email_accounts.Mailbox", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=12, choices=EnrollmentStatus.choices, default=EnrollmentStatus.PENDING
    )
    stopped_reason = models.CharField(max_length=300, blank=True)
    next_position = models.PositiveIntegerField(default=0)  # the step to send next
    # When the next step may go: the hard earliest time (delay and window), never the
    # randomised spacing, so "why not yet" answers are stable.
    due_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Paused by an out-of-office reply: back to `active` at this moment (the sweeper).
    paused_until = models.DateTimeField(null=True, blank=True)
    # Threading: the previous step's Message-ID, subject and Gmail thread.
    last_message_id = models.CharField(max_length=300, blank=True)
    last_subject = models.CharField(max_length=300, blank=True)
    thread_id = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "contact"], name="enrollment_unique_contact"
            )
        ]
        indexes = [
            # The scheduler's only question: what is due now. Partial, so its cost follows the
            # running enrollments, not the finished ones.
            models.Index(
                fields=["due_at"],
                name="enrollment_due",
                condition=Q(status__in=RUNNING_ENROLLMENT) & Q(due_at__isnull=False),
            ),
            # The tick's per-mailbox question is "due in this mailbox's campaigns": without the
            # campaign first, it rereads the whole due range once per campaign (bench/scheduler.py).
            models.Index(
                fields=["campaign", "due_at"],
                name="enrollment_campaign_due",
                condition=Q(status__in=RUNNING_ENROLLMENT) & Q(due_at__isnull=False),
            ),
        ]


class MessageStatus(models.TextChoices):
    SCHEDULED = "scheduled", pgettext_lazy("message status", "Scheduled")
    SENDING = "sending", pgettext_lazy("message status", "Sending")
    SENT = "sent", pgettext_lazy("message status", "Sent")
    FAILED = "failed", pgettext_lazy("message status", "Failed")
    BOUNCED = "bounced", pgettext_lazy("message status", "Bounced")
    UNKNOWN = "unknown", pgettext_lazy("message status", "Outcome unknown")
    CANCELLED = "cancelled", pgettext_lazy("message status", "Not sent (stopped)")


class OutboundMessage(WorkspaceOwnedModel):
    """One step for one enrollment: written (with its Message-ID) before anything is sent, so a
    crash at any point leaves a row that says how far it got."""

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="messages")
    step = models.ForeignKey(Step, on_delete=models.PROTECT, related_name="messages")
    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="messages")
    mailbox = models.ForeignKey(
        "email_accounts.Mailbox", on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        max_length=10, choices=MessageStatus.choices, default=MessageStatus.SCHEDULED
    )
    message_id = models.CharField(max_length=300, unique=True)
    subject = models.CharField(max_length=400, blank=True)
    quota_day = models.DateField()  # the mailbox's local day whose quota it took
    # False once a failed attempt gave the quota back: the next attempt takes it again.
    quota_held = models.BooleanField(default=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()  # when the send task may (re)try it
    sending_started_at = models.DateTimeField(null=True, blank=True)  # the lease
    sent_at = models.DateTimeField(null=True, blank=True)
    # The last time an `unknown` message was looked up in Sent: the sweeper takes the least
    # recently checked first, so old ones never starve new ones.
    reconciled_at = models.DateTimeField(null=True, blank=True)
    provider_message_id = models.CharField(max_length=300, blank=True)
    provider_thread_id = models.CharField(max_length=100, blank=True)
    error = models.CharField(max_length=1000, blank=True)
    error_code = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            # A contact never gets the same step twice: the database refuses it.
            models.UniqueConstraint(fields=["enrollment", "step"], name="message_once_per_step")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="message_scheduled",
                condition=Q(status=MessageStatus.SCHEDULED),
            ),
            models.Index(
                fields=["sending_started_at"],
                name="message_sending",
                condition=Q(status=MessageStatus.SENDING),
            ),
        ]


# ----------------------------------------------------------------------------- inbound


class InboundKind(models.TextChoices):
    REPLY = "reply", pgettext_lazy("inbound kind", "Reply")
    AUTO_REPLY = "auto_reply", pgettext_lazy("inbound kind", "Auto-reply")
    BOUNCE = "bounce", pgettext_lazy("inbound kind", "Bounce")
    COMPLAINT = "complaint", pgettext_lazy("inbound kind", "Complaint")
    OTHER = "other", pgettext_lazy("inbound kind", "Other")


class BounceClass(models.TextChoices):
    HARD = "hard", pgettext_lazy("bounce", "Hard")
    SOFT = "soft", pgettext_lazy("bounce", "Soft")
    BLOCK = "block", pgettext_lazy("bounce", "Blocked (policy)")
    QUOTA = "quota", pgettext_lazy("bounce", "Sender quota")


class MatchedBy(models.TextChoices):
    HEADERS = "headers", _("In-Reply-To / References")
    THREAD = "thread", _("Gmail thread")
    SENDER = "sender", _("Sender and subject (low confidence)")
    DSN = "dsn", _("Bounce report")


class InboundEmail(WorkspaceOwnedModel):
    """A message that arrived in a sending mailbox and concerns a campaign: a reply, an
    auto-reply, a bounce or a complaint. Written once per provider message (the sync may read
    the same one twice), with the classifier's verdict, so support can explain any decision."""

    mailbox = models.ForeignKey(
        "email_accounts.Mailbox", on_delete=models.CASCADE, related_name="inbound_emails"
    )
    # Where it lives: a Gmail message id, or "<folder>:<uidvalidity>:<uid>" for IMAP.
    provider_message_id = models.CharField(max_length=300)
    provider_thread_id = models.CharField(max_length=100, blank=True)
    folder = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=12, choices=InboundKind.choices)
    bounce_class = models.CharField(max_length=8, choices=BounceClass.choices, blank=True)
    # What it answers or reports on, when found; a low-confidence match is flagged.
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    enrollment = models.ForeignKey(
        Enrollment, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound"
    )
    answers = models.ForeignKey(
        OutboundMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound"
    )
    matched_by = models.CharField(max_length=8, choices=MatchedBy.choices, blank=True)
    low_confidence = models.BooleanField(default=False)
    message_id = models.CharField(max_length=300, blank=True)  # its own Message-ID header
    from_email = models.CharField(max_length=320, blank=True)
    from_name = models.CharField(max_length=200, blank=True)
    subject = models.CharField(max_length=500, blank=True)
    received_at = models.DateTimeField()
    text = models.TextField(blank=True)  # the new text, without the quoted history
    body = models.TextField(blank=True)  # the whole plain-text body, for the conversation
    verdict = models.JSONField(default=dict, blank=True)  # the classifier's, with its rules
    return_date = models.DateField(null=True, blank=True)  # out of office: back on
    unsubscribe_request = models.BooleanField(default=False)
    lead_suggestion = models.CharField(max_length=16, blank=True)
    lead_suggestion_rule = models.CharField(max_length=100, blank=True)
    read = models.BooleanField(default=False)  # seen in the unified inbox

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["mailbox", "provider_message_id"], name="inbound_once_per_message"
            )
        ]
        indexes = [
            models.Index(fields=["workspace", "kind", "-received_at"], name="inbound_ws_kind"),
            models.Index(fields=["message_id"], name="inbound_message_id"),
        ]


class OutboundReply(WorkspaceOwnedModel):
    """An answer written in the unified inbox, sent through the mailbox that received the
    reply, in the same thread."""

    inbound = models.ForeignKey(InboundEmail, on_delete=models.CASCADE, related_name="responses")
    mailbox = models.ForeignKey(
        "email_accounts.Mailbox", on_delete=models.PROTECT, related_name="+"
    )
    message_id = models.CharField(max_length=300, unique=True)
    subject = models.CharField(max_length=500)
    body = models.TextField()
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=1000, blank=True)
    sent_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["created_at"]


# ----------------------------------------------------------------------------- tracking


class TrackingKind(models.TextChoices):
    OPEN = "open", pgettext_lazy("tracking", "Open")
    CLICK = "click", pgettext_lazy("tracking", "Click")


class TrackingEvent(WorkspaceOwnedModel):
    """One pixel load or link click. Machine ones (an image proxy or link scanner, or within
    seconds of the send) are kept but flagged, and left out of the human rates."""

    message = models.ForeignKey(
        OutboundMessage, on_delete=models.CASCADE, related_name="tracking_events"
    )
    kind = models.CharField(max_length=5, choices=TrackingKind.choices)
    url = models.CharField(max_length=2000, blank=True)  # clicks: where it went
    flagged = models.BooleanField(default=False)
    flag_reason = models.CharField(max_length=30, blank=True)  # "too_soon", "image_proxy", …
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["message", "kind"], name="tracking_message_kind")]


class TrackingDomainStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("tracking domain", "Waiting for DNS")
    VERIFIED = "verified", pgettext_lazy("tracking domain", "Verified")
    FAILED = "failed", pgettext_lazy("tracking domain", "Not pointing to FluenzR")


class TrackingDomain(WorkspaceOwnedModel):
    """A workspace's own host for tracking links (Pro): a CNAME to FluenzR's tracking host."""

    hostname = models.CharField(max_length=253, unique=True)
    status = models.CharField(
        max_length=10, choices=TrackingDomainStatus.choices, default=TrackingDomainStatus.PENDING
    )
    checked_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace"], name="tracking_domain_one_per_workspace")
        ]
