"""Every write to a mailbox: connect, settings, pause/resume, errors, disconnect, quota."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _
from email_validator import EmailNotValidError, validate_email

from accounts.errors import ServiceError
from accounts.models import Workspace
from accounts.services import require_in_workspace, workspace_require_within_limit
from email_accounts import selectors
from email_accounts.models import (
    SMTP_DAILY_MAX,
    SMTP_DEFAULT_DAILY_LIMIT,
    SPACING_FLOOR_SECONDS,
    Mailbox,
    MailboxStatus,
    Provider,
)
from email_accounts.providers.base import ServerSettings
from email_accounts.providers.connection import ConnectionProblem, check_imap, check_smtp
from webhooks.events import emit


def mailbox_payload(mailbox: Mailbox) -> dict[str, Any]:
    """How a mailbox appears in events (webhooks deliver this). No credential, ever."""
    return {
        "id": str(mailbox.pk),
        "url": f"/api/v1/email-accounts/{mailbox.pk}/",
        "email": mailbox.email,
        "provider": mailbox.provider,
        "status": mailbox.status,
        "status_reason": mailbox.status_reason,
    }


def clean_mailbox_email(value: str) -> str:
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        raise ServiceError(
            _("Enter the mailbox's full email address, like name@company.com."), field="email"
        ) from None


def require_room_for_one_more(workspace: Workspace) -> None:
    count = Mailbox.objects.for_workspace(workspace).count()
    workspace_require_within_limit(workspace=workspace, limit="max_mailboxes", wanted=count + 1)


def duplicate_error(email: str) -> ServiceError:
    return ServiceError(
        _("%(email)s is already connected in this workspace. Reconnect it from its row instead.")
        % {"email": email},
        field="email",
    )


def set_status(mailbox: Mailbox, status: str, reason: str = "") -> None:
    mailbox.status = status
    mailbox.status_reason = reason[:500]
    mailbox.status_since = timezone.now()
    if status != MailboxStatus.PAUSED:
        mailbox.paused_until = None


# --------------------------------------------------------------------------- SMTP + IMAP


@dataclass(frozen=True)
class SmtpImapDetails:
    email: str
    sender_name: str
    smtp: ServerSettings
    imap: ServerSettings
    append_to_sent: bool


def test_servers(details: SmtpImapDetails) -> dict[str, str | None]:
    """The real connection test (SMTP, then IMAP); returns the folders found. A failure is a
    ServiceError on the field to fix, with the sentence that says how."""
    try:
        check_smtp(details.smtp)
        folders = check_imap(details.imap)
    except ConnectionProblem as problem:
        raise ServiceError(problem.message, field=f"{problem.step}_{problem.setting}") from None
    return {"inbox": folders.inbox, "sent": folders.sent, "junk": folders.junk}


def mailbox_connect_smtp(*, workspace: Workspace, details: SmtpImapDetails) -> Mailbox:
    """Test the servers, then save: nothing is saved half-valid."""
    email = clean_mailbox_email(details.email)
    require_room_for_one_more(workspace)
    if Mailbox.objects.for_workspace(workspace).filter(email__iexact=email).exists():
        raise duplicate_error(email)
    folders = test_servers(details)
    now = timezone.now()
    mailbox = Mailbox(
        workspace=workspace,
        provider=Provider.SMTP,
        email=email,
        sender_name=details.sender_name.strip(),
        status=MailboxStatus.CONNECTED,
        status_since=now,
        daily_limit=SMTP_DEFAULT_DAILY_LIMIT,
        daily_limit_max=SMTP_DAILY_MAX,
        timezone=workspace.timezone,
        folders=folders,
        append_to_sent=details.append_to_sent,
        connected_at=now,
    )
    mailbox.ramp_up_started_on = mailbox.local_day(now)
    mailbox.set_servers(smtp=details.smtp, imap=details.imap)
    try:
        with transaction.atomic():
            mailbox.save()
            emit(
                workspace=workspace,
                type="account.connected",
                data={"account": mailbox_payload(mailbox)},
            )
    except IntegrityError:  # the same address, connected at the same moment
        raise duplicate_error(email) from None
    return mailbox


def mailbox_update_servers(
    *, workspace: Workspace, mailbox: Mailbox, details: SmtpImapDetails
) -> Mailbox:
    """New SMTP/IMAP settings (a changed password, say): tested first; a mailbox in error that
    passes the test is connected again."""
    require_in_workspace(mailbox, workspace)
    if mailbox.provider != Provider.SMTP:
        raise ServiceError(_("This mailbox is connected through Google: use Reconnect."))
    folders = test_servers(details)
    with transaction.atomic():
        mailbox = Mailbox.objects.for_workspace(workspace).select_for_update().get(pk=mailbox.pk)
        mailbox.sender_name = details.sender_name.strip() or mailbox.sender_name
        mailbox.folders = folders
        mailbox.append_to_sent = details.append_to_sent
        mailbox.set_servers(smtp=details.smtp, imap=details.imap)
        mark_connected(mailbox)
        mailbox.save()
    return mailbox


def mark_connected(mailbox: Mailbox) -> None:
    """Connected again after an error or a disconnection (not after a pause the user chose)."""
    was = mailbox.status
    if was in (MailboxStatus.ERROR, MailboxStatus.DISCONNECTED):
        set_status(mailbox, MailboxStatus.CONNECTED)
        mailbox.connected_at = timezone.now()
        emit(
            workspace=mailbox.workspace,
            type="account.connected",
            data={"account": mailbox_payload(mailbox)},
        )


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class MailboxSettings:
    sender_name: str
    signature: str
    daily_limit: int
    ramp_up_enabled: bool
    ramp_up_start: int
    ramp_up_increase: int
    spacing_min_seconds: int
    spacing_max_seconds: int
    timezone: str


def clean_settings(mailbox: Mailbox, values: MailboxSettings) -> None:
    """Every rule, with the field it belongs to and what to enter instead."""
    if values.daily_limit < 1:
        raise ServiceError(_("The daily limit must be at least 1."), field="daily_limit")
    if values.daily_limit > mailbox.daily_limit_max:
        raise ServiceError(
            _(
                "%(provider)s allows at most %(max)d emails a day from this mailbox; enter "
                "%(max)d or less."
            )
            % {"provider": mailbox.get_provider_display(), "max": mailbox.daily_limit_max},
            field="daily_limit",
        )
    if values.ramp_up_enabled and values.ramp_up_start < 1:
        raise ServiceError(
            _("The ramp-up must start with at least 1 email a day."), field="ramp_up_start"
        )
    if values.spacing_min_seconds < SPACING_FLOOR_SECONDS:
        raise ServiceError(
            _("Leave at least %(floor)d seconds between two sends: faster looks like a robot.")
            % {"floor": SPACING_FLOOR_SECONDS},
            field="spacing_min_seconds",
        )
    if values.spacing_max_seconds < values.spacing_min_seconds:
        raise ServiceError(
            _("The maximum gap must be at least the minimum gap (%(min)d seconds).")
            % {"min": values.spacing_min_seconds},
            field="spacing_max_seconds",
        )
    if values.timezone not in zoneinfo.available_timezones():
        raise ServiceError(
            _("Choose a time zone from the list, like Europe/Paris."), field="timezone"
        )


@transaction.atomic
def mailbox_update_settings(
    *, workspace: Workspace, mailbox: Mailbox, values: MailboxSettings
) -> Mailbox:
    require_in_workspace(mailbox, workspace)
    mailbox = Mailbox.objects.for_workspace(workspace).select_for_update().get(pk=mailbox.pk)
    clean_settings(mailbox, values)
    if values.ramp_up_enabled and not mailbox.ramp_up_enabled:
        mailbox.ramp_up_started_on = mailbox.local_day(timezone.now())  # a new ramp starts today
    for name, value in vars(values).items():
        setattr(mailbox, name, value.strip() if isinstance(value, str) else value)
    mailbox.save()
    return mailbox


# --------------------------------------------------------------------------- status


@transaction.atomic
def mailbox_pause(*, workspace: Workspace, mailbox: Mailbox) -> Mailbox:
    require_in_workspace(mailbox, workspace)
    mailbox = Mailbox.objects.for_workspace(workspace).select_for_update().get(pk=mailbox.pk)
    if mailbox.status == MailboxStatus.CONNECTED:
        set_status(mailbox, MailboxStatus.PAUSED, _("Paused by a user."))
        mailbox.save()
    return mailbox


@transaction.atomic
def mailbox_resume(*, workspace: Workspace, mailbox: Mailbox) -> Mailbox:
    require_in_workspace(mailbox, workspace)
    mailbox = Mailbox.objects.for_workspace(workspace).select_for_update().get(pk=mailbox.pk)
    if mailbox.status != MailboxStatus.PAUSED:
        raise ServiceError(
            _("Only a paused mailbox can be resumed; this one is %(status)s.")
            % {"status": mailbox.get_status_display().lower()}
        )
    set_status(mailbox, MailboxStatus.CONNECTED)
    mailbox.save()
    return mailbox


def mailbox_mark_error(*, mailbox_id: Any, reason: str) -> None:
    """Credentials refused: the mailbox stops sending until a user reconnects it, and the
    customer hears about it (account.error). Repeated failures emit once."""
    with transaction.atomic():
        mailbox = Mailbox.objects.unscoped().select_for_update().get(pk=mailbox_id)
        if mailbox.status == MailboxStatus.ERROR and mailbox.status_reason == reason:
            return
        set_status(mailbox, MailboxStatus.ERROR, reason)
        mailbox.save(update_fields=["status", "status_reason", "status_since", "paused_until"])
        emit(
            workspace=mailbox.workspace,
            type="account.error",
            data={"account": mailbox_payload(mailbox)},
        )


def mailbox_pause_until(*, mailbox_id: Any, until: datetime, reason: str) -> None:
    """The provider's own quota is spent (not a bounce): paused until `until`, then the
    resume sweep connects it again."""
    with transaction.atomic():
        mailbox = Mailbox.objects.unscoped().select_for_update().get(pk=mailbox_id)
        if mailbox.status not in (MailboxStatus.CONNECTED, MailboxStatus.PAUSED):
            return
        set_status(mailbox, MailboxStatus.PAUSED, reason)
        mailbox.paused_until = until
        mailbox.save(update_fields=["status", "status_reason", "status_since", "paused_until"])


def mailboxes_resume_due(now: datetime | None = None) -> int:
    """Resume the mailboxes whose provider pause has run out (a periodic sweep)."""
    now = now or timezone.now()
    return (
        Mailbox.objects.unscoped()
        .filter(status=MailboxStatus.PAUSED, paused_until__lte=now)
        .update(
            status=MailboxStatus.CONNECTED, status_reason="", status_since=now, paused_until=None
        )
    )


# --------------------------------------------------------------------------- quota


def mailbox_reserve_send(*, mailbox_id: Any, now: datetime | None = None) -> bool:
    """Take one send from the mailbox's quota for its local day, or say there is none left.

    One conditional UPDATE: two workers reserving at once can never overshoot, and the counter
    restarts at the mailbox's own midnight. A send that does not happen gives it back
    (`mailbox_release_send`)."""
    now = now or timezone.now()
    mailbox = (
        Mailbox.objects.unscoped()
        .only(
            "timezone",
            "daily_limit",
            "ramp_up_enabled",
            "ramp_up_start",
            "ramp_up_increase",
            "ramp_up_started_on",
        )
        .get(pk=mailbox_id)
    )
    today = mailbox.local_day(now)
    limit = selectors.limit_on(mailbox, today)
    updated = (
        Mailbox.objects.unscoped()
        .filter(pk=mailbox_id, status=MailboxStatus.CONNECTED)
        .filter(~Q(sent_day=today) | Q(sent_day__isnull=True) | Q(sent_today__lt=limit))
        .update(
            sent_today=Case(When(sent_day=today, then=F("sent_today") + 1), default=Value(1)),
            sent_day=today,
            last_sent_at=now,
        )
    )
    return updated == 1


def mailbox_release_send(*, mailbox_id: Any, day: Any) -> None:
    """Give back a reserved send that did not leave (deferred, stopped, refused before sending)."""
    Mailbox.objects.unscoped().filter(pk=mailbox_id, sent_day=day, sent_today__gt=0).update(
        sent_today=F("sent_today") - 1
    )
