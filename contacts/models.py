"""The people campaigns write to: contacts, lists, tags, the suppression list, CSV imports."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.tenancy import WorkspaceOwnedModel

# Longest value each contact field accepts; the import reports longer cells by line.
FIELD_MAX_LENGTHS = {
    "email": 254,
    "first_name": 150,
    "last_name": 150,
    "company": 200,
    "title": 200,
    "website": 500,
    "phone": 50,
    "linkedin_url": 500,
    "country": 100,
    "timezone": 64,
}
CUSTOM_VALUE_MAX_LENGTH = 1000


class ContactStatus(models.TextChoices):
    ACTIVE = "active", pgettext_lazy("contact status", "Active")
    BOUNCED = "bounced", pgettext_lazy("contact status", "Bounced")
    UNSUBSCRIBED = "unsubscribed", pgettext_lazy("contact status", "Unsubscribed")
    ARCHIVED = "archived", pgettext_lazy("contact status", "Archived")


class ContactSource(models.TextChoices):
    MANUAL = "manual", _("Added by hand")
    IMPORT = "import", _("CSV import")
    API = "api", _("API")


class Tag(WorkspaceOwnedModel):
    name = models.CharField(max_length=50)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"), "workspace", name="tag_unique_name_per_workspace"
            )
        ]

    def __str__(self) -> str:
        return self.name


class LeadStatus(models.TextChoices):
    """Where a conversation stands, set by the user (FluenzR suggests one from the reply)."""

    INTERESTED = "interested", pgettext_lazy("lead status", "Interested")
    NOT_INTERESTED = "not_interested", pgettext_lazy("lead status", "Not interested")
    MEETING_BOOKED = "meeting_booked", pgettext_lazy("lead status", "Meeting booked")
    OUT_OF_OFFICE = "out_of_office", pgettext_lazy("lead status", "Out of office")
    WRONG_PERSON = "wrong_person", pgettext_lazy("lead status", "Wrong person")
    CLOSED = "closed", pgettext_lazy("lead status", "Closed")


class Contact(WorkspaceOwnedModel):
    # The base's single-column indexes are left out: every index below starts with the
    # workspace, and an import writes each index once per row.
    workspace = models.ForeignKey(
        "accounts.Workspace",
        on_delete=models.CASCADE,
        related_name="+",
        editable=False,
        db_index=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # The local part as given, the domain lowercased (email-validator's normalisation);
    # unique per workspace whatever the case.
    email = models.CharField(_("email"), max_length=FIELD_MAX_LENGTHS["email"])
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    company = models.CharField(_("company"), max_length=200, blank=True)
    title = models.CharField(_("job title"), max_length=200, blank=True)
    website = models.CharField(_("website"), max_length=500, blank=True)
    phone = models.CharField(_("phone"), max_length=50, blank=True)
    linkedin_url = models.CharField(_("LinkedIn URL"), max_length=500, blank=True)
    country = models.CharField(_("country"), max_length=100, blank=True)
    timezone = models.CharField(_("time zone"), max_length=64, blank=True)
    custom_fields = models.JSONField(_("custom fields"), default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=ContactStatus.choices, default=ContactStatus.ACTIVE
    )
    source = models.CharField(max_length=16, choices=ContactSource.choices)
    # Database defaults too: imports write rows with set-based SQL that names its columns.
    lead_status = models.CharField(
        _("lead status"), max_length=16, choices=LeadStatus.choices, blank=True, db_default=""
    )
    # Soft bounces (mailbox full, delayed) in a row: the third counts as a hard bounce.
    soft_bounces = models.PositiveSmallIntegerField(default=0, db_default=0)
    # Informational, and an import is only ever deleted with its workspace (whose contacts go
    # too): no constraint or index for every imported row to maintain.
    source_import = models.ForeignKey(
        "contacts.Import",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    updated_at = models.DateTimeField(auto_now=True)
    tags = models.ManyToManyField(Tag, related_name="contacts", blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # Search uses a full-text column and index that only PostgreSQL has: see migration
        # 0002 and selectors.contacts_filtered.
        # Every index slows imports down (each row updates each index), so each one earns its
        # place: keyset pagination for each sort the dashboard offers, at a million contacts.
        constraints = [
            # Also the index of the sort by email.
            models.UniqueConstraint(
                "workspace", Lower("email"), name="contact_unique_email_per_workspace"
            )
        ]
        indexes = [
            models.Index(fields=["workspace", "created_at", "id"], name="contact_ws_created"),
            models.Index(fields=["workspace", "company", "id"], name="contact_ws_company"),
            # Filters on the rare statuses; imported (active) rows never touch it.
            models.Index(
                fields=["workspace", "status", "created_at"],
                condition=~models.Q(status="active"),
                name="contact_ws_inactive_status",
            ),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def domain(self) -> str:
        return self.email.rpartition("@")[2].lower()


class ContactList(WorkspaceOwnedModel):
    name = models.CharField(_("name"), max_length=100)
    description = models.CharField(_("description"), max_length=500, blank=True)
    # Deleting a list deletes its memberships, never its contacts.
    contacts = models.ManyToManyField(Contact, related_name="lists", blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"), "workspace", name="contactlist_unique_name_per_workspace"
            )
        ]

    def __str__(self) -> str:
        return self.name


class SuppressionKind(models.TextChoices):
    EMAIL = "email", _("Email address")
    DOMAIN = "domain", _("Whole domain")


class SuppressionReason(models.TextChoices):
    UNSUBSCRIBED = "unsubscribed", pgettext_lazy("suppression reason", "Unsubscribed")
    BOUNCED = "bounced", pgettext_lazy("suppression reason", "Bounced")
    COMPLAINED = "complained", pgettext_lazy("suppression reason", "Complained (spam report)")
    MANUAL = "manual", pgettext_lazy("suppression reason", "Added by hand")


class Suppression(WorkspaceOwnedModel):
    """An address or domain we never email. Outlives the contact it came from."""

    kind = models.CharField(max_length=8, choices=SuppressionKind.choices)
    value = models.CharField(max_length=254)  # lowercase address, or lowercase domain
    reason = models.CharField(max_length=16, choices=SuppressionReason.choices)
    source = models.CharField(max_length=200, blank=True)  # by what: "Import #3", "API", …
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "value"], name="suppression_unique_value_per_workspace"
            )
        ]

    def __str__(self) -> str:
        return self.value


class ImportStatus(models.TextChoices):
    DRAFT = "draft", _("Waiting for the column mapping")
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Importing")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class OnDuplicate(models.TextChoices):
    SKIP = "skip", _("Skip contacts that already exist")
    UPDATE = "update", _("Update contacts that already exist")


ENCODING_LABELS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8",
    "utf-16": _("UTF-16 (Excel “Unicode text”)"),
    "cp1252": _("Windows-1252 (Excel, Western Europe)"),
}


class Import(WorkspaceOwnedModel):
    number = models.PositiveIntegerField()
    file = models.FileField(upload_to="imports/%Y/%m/")
    filename = models.CharField(max_length=255)
    size_bytes = models.BigIntegerField()
    encoding = models.CharField(max_length=32)
    delimiter = models.CharField(max_length=1)
    headers = models.JSONField(default=list)
    preview_rows = models.JSONField(default=list)
    # One entry per column: a contact field name, "custom:<key>", or "" to ignore the column.
    mapping = models.JSONField(default=list)
    target_list = models.ForeignKey(
        ContactList, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    on_duplicate = models.CharField(
        max_length=8, choices=OnDuplicate.choices, default=OnDuplicate.SKIP
    )
    status = models.CharField(
        max_length=8, choices=ImportStatus.choices, default=ImportStatus.DRAFT
    )
    progress_percent = models.PositiveSmallIntegerField(default=0)
    rows_read = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    duplicate_count = models.PositiveIntegerField(default=0)
    invalid_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)  # why a failed import failed, in words for the user
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "number"], name="import_unique_number_per_workspace"
            )
        ]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="import_status_beat")]

    def __str__(self) -> str:
        return f"Import #{self.number}"

    @property
    def encoding_label(self) -> str:
        """The encoding as people know it (the codec names mean nothing to them)."""
        return str(ENCODING_LABELS.get(self.encoding, self.encoding))

    @property
    def is_finished(self) -> bool:
        return self.status in (ImportStatus.DONE, ImportStatus.FAILED)


class RowErrorCode(models.TextChoices):
    MISSING_EMAIL = "missing_email"
    INVALID_EMAIL = "invalid_email"
    DUPLICATE = "duplicate"
    TOO_LONG = "too_long"
    INVALID_TIMEZONE = "invalid_timezone"


class ImportRowError(models.Model):
    """One skipped row, stored as a code so it reads in the language of whoever looks."""

    source_import = models.ForeignKey(Import, on_delete=models.CASCADE, related_name="row_errors")
    line = models.PositiveIntegerField()
    email = models.CharField(max_length=500, blank=True)
    code = models.CharField(max_length=20, choices=RowErrorCode.choices)
    detail = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["line"]
        indexes = [models.Index(fields=["source_import", "line"], name="rowerror_import_line")]

    def __str__(self) -> str:
        return f"line {self.line}: {self.code}"

    @property
    def reason(self) -> str:
        """In the active language (the import ran in a worker, with none)."""
        from django.utils.translation import gettext

        if self.code == RowErrorCode.MISSING_EMAIL:
            return gettext("No email address in this row.")
        if self.code == RowErrorCode.INVALID_EMAIL:
            return gettext("Not a valid email address: %(detail)s") % {"detail": self.detail}
        if self.code == RowErrorCode.DUPLICATE:
            return gettext("Same email as line %(line)s, which was imported instead.") % {
                "line": self.detail
            }
        if self.code == RowErrorCode.TOO_LONG:
            from contacts.importing.columns import IMPORT_FIELDS

            column = IMPORT_FIELDS.get(self.detail, self.detail)
            limit = FIELD_MAX_LENGTHS.get(self.detail, CUSTOM_VALUE_MAX_LENGTH)
            return gettext(
                "The “%(column)s” value is longer than %(max)d characters. Shorten it or "
                "leave that column out."
            ) % {"column": column, "max": limit}
        return gettext("“%(value)s” is not a time zone. Use an IANA name such as Europe/Paris.") % {
            "value": self.detail
        }
