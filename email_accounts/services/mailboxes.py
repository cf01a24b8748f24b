"""Every write to a mailbox: connect, settings, pause/resume, errors, disconnect, quota."""

from __future__ import annotations

import time
import zoneinfo
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables
from email_validator import EmailNotValidError, validate_email

from accounts.errors import ServiceError
from accounts.models import Workspace
from accounts.services import require_in_workspace, workspace_require_within_limit
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
from email_accounts.services.status import (
    REASON_USER_PAUSE,
    emit_account_event,
    mark_connected,
    set_status,
)


def clean_mailbox_email(value: str) -> str:
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        raise ServiceError(
            _("Enter the mailbox's full email address, like name@company.com."), field="email"
        ) from None


def require_room_for_one_more(workspace: Workspace, *, lock: bool = False) -> None:
    """The plan's mailbox count. With `lock` (inside the transaction that creates the
    mailbox), the workspace row is locked so two creations at once cannot both fit."""
    if lock:
        Workspace.objects.select_for_update().filter(pk=workspace.pk).first()
    count = Mailbox.objects.for_workspace(workspace).count()
    workspace_require_within_limit(workspace=workspace, limit="max_mailboxes", wanted=count + 1)


def duplicate_error(email: str) -> ServiceError:
    return ServiceError(
        _("%(email)s is already connected in this workspace. Reconnect it from its row instead.")
        % {"email": email},
        field="email",
    )


# --------------------------------------------------------------------------- SMTP + IMAP


@dataclass(frozen=True)
class SmtpImapDetails:
    email: str
    sender_name: str
    smtp: ServerSettings
    imap: ServerSettings
    append_to_sent: bool


@dataclass(frozen=True)
class ServerInput:
    """One server as the form or the API gives it: blanks mean "the default" or "unchanged"."""

    host: str
    port: int
    security: str
    username: str = ""
    password: str = field(default="", repr=False)


def _password_for(
    step: str, given: ServerInput, server: tuple, saved: ServerSettings | None, fallback: str
) -> str:
    if given.password or fallback:
        return given.password or fallback
    if saved is None:
        raise ServiceError(_("Enter the password."), field=f"{step}_password")
    # The saved password only ever goes back to the server it was saved for: otherwise
    # anyone could point the mailbox at their own server and read it.
    if server != (saved.host, saved.port, saved.security, saved.username):
        raise ServiceError(
            _("The server settings changed: enter the password again."), field=f"{step}_password"
        )
    return saved.password


@sensitive_variables()
def smtp_imap_details(
    *,
    email: str,
    sender_name: str,
    smtp: ServerInput,
    imap: ServerInput,
    append_to_sent: bool,
    saved: Mailbox | None = None,
) -> SmtpImapDetails:
    """Fill in the defaults: the SMTP username is the address, IMAP takes SMTP's username and
    password unless told otherwise, and a blank password on edit keeps the saved one."""
    saved_smtp = saved.smtp_settings if saved else None
    saved_imap = saved.imap_settings if saved else None
    smtp_server = (
        smtp.host.strip().lower(),
        smtp.port,
        smtp.security,
        smtp.username.strip() or email.strip(),
    )
    imap_server = (
        imap.host.strip().lower(),
        imap.port,
        imap.security,
        imap.username.strip() or smtp_server[3],
    )
    smtp_password = _password_for("smtp", smtp, smtp_server, saved_smtp, "")
    imap_password = _password_for("imap", imap, imap_server, saved_imap, smtp.password)
    return SmtpImapDetails(
        email=email.strip(),
        sender_name=sender_name,
        smtp=ServerSettings(*smtp_server, smtp_password),
        imap=ServerSettings(*imap_server, imap_password),
        append_to_sent=append_to_sent,
    )


def count_connection_test(workspace: Workspace) -> None:
    """Each test dials a host the user chose and can wait 30 seconds: a workspace gets a
    generous hourly budget, not an open-ended port scanner."""
    key = f"mailbox-connection-tests:{workspace.pk}:{int(time.time() // 3600)}"
    cache.add(key, 0, timeout=3600)
    if cache.incr(key) > settings.EMAIL_ACCOUNTS_CONNECTION_TESTS_PER_HOUR:
        raise ServiceError(
            _(
                "Too many connection tests this hour (%(limit)d). Check the settings with your "
                "provider's help page, then try again next hour."
            )
            % {"limit": settings.EMAIL_ACCOUNTS_CONNECTION_TESTS_PER_HOUR}
        )


@sensitive_variables()  # error reports never show the passwords they hold
def test_servers(*, workspace: Workspace, details: SmtpImapDetails) -> dict[str, str | None]:
    """The real connection test (SMTP, then IMAP); returns the folders found. A failure is a
    ServiceError on the field to fix, with the sentence that says how."""
    count_connection_test(workspace)
    try:
        check_smtp(details.smtp)
        folders = check_imap(details.imap)
    except ConnectionProblem as problem:
        raise ServiceError(problem.message, field=f"{problem.step}_{problem.setting}") from None
    return {"inbox": folders.inbox, "sent": folders.sent, "junk": folders.junk}


@sensitive_variables()
def mailbox_connect_smtp(*, workspace: Workspace, details: SmtpImapDetails) -> Mailbox:
    """Test the servers, then save: nothing is saved half-valid."""
    email = clean_mailbox_email(details.email)
    require_room_for_one_more(workspace)
    if Mailbox.objects.for_workspace(workspace).filter(email__iexact=email).exists():
        raise duplicate_error(email)
    folders = test_servers(workspace=workspace, details=details)
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
    save_new_mailbox(mailbox)
    return mailbox


def save_new_mailbox(mailbox: Mailbox) -> None:
    """Insert a mailbox whose connection was just proved, within the plan, once per address."""
    try:
        with transaction.atomic():
            require_room_for_one_more(mailbox.workspace, lock=True)
            mailbox.save()
            emit_account_event(mailbox=mailbox, type="account.connected")
    except IntegrityError:  # the same address, connected at the same moment
        raise duplicate_error(mailbox.email) from None


@sensitive_variables()
def mailbox_update_servers(
    *, workspace: Workspace, mailbox: Mailbox, details: SmtpImapDetails
) -> Mailbox:
    """New SMTP/IMAP settings (a changed password, say): tested first; a mailbox in error that
    passes the test is connected again."""
    require_in_workspace(mailbox, workspace)
    if mailbox.provider != Provider.SMTP:
        raise ServiceError(_("This mailbox is connected through Google: use Reconnect."))
    folders = test_servers(workspace=workspace, details=details)
    with transaction.atomic():
        mailbox = Mailbox.objects.for_workspace(workspace).select_for_update().get(pk=mailbox.pk)
        mailbox.sender_name = details.sender_name.strip() or mailbox.sender_name
        mailbox.folders = folders
        mailbox.append_to_sent = details.append_to_sent
        mailbox.set_servers(smtp=details.smtp, imap=details.imap)
        mark_connected(mailbox)
        mailbox.save()
    return mailbox


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


def daily_limit_ceiling_text(mailbox: Mailbox) -> str:
    """Why the daily limit cannot go higher: Google's own limit, or FluenzR's for SMTP."""
    if mailbox.provider == Provider.GMAIL:
        text = _(
            "Google allows at most %(max)d emails a day from this mailbox; enter %(max)d or less."
        )
    else:
        text = _(
            "FluenzR sends at most %(max)d cold emails a day from one mailbox; enter %(max)d "
            "or less, and add mailboxes for more volume."
        )
    return text % {"max": mailbox.daily_limit_max}


def clean_settings(mailbox: Mailbox, values: MailboxSettings) -> None:
    """Every rule, with the field it belongs to and what to enter instead."""
    if values.daily_limit < 1:
        raise ServiceError(_("The daily limit must be at least 1."), field="daily_limit")
    if values.daily_limit > mailbox.daily_limit_max:
        raise ServiceError(daily_limit_ceiling_text(mailbox), field="daily_limit")
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
    user_paused = mailbox.status == MailboxStatus.PAUSED and mailbox.paused_until is None
    if mailbox.status in (MailboxStatus.CONNECTED, MailboxStatus.PAUSED) and not user_paused:
        # Also over a quota pause: the user's pause has no end date, so the sweep keeps off it.
        set_status(mailbox, MailboxStatus.PAUSED, REASON_USER_PAUSE)
        mailbox.save()
        emit_account_event(mailbox=mailbox, type="account.paused")
    return mailbox


@transaction.atomic
def mailbox_resume(*, workspace: Workspace, mailbox: Mailbox) -> Mailbox:
    require_in_workspace(mailbox, workspace)
    mailbox = Mailbox.objects.for_workspace(workspace).select_for_update().get(pk=mailbox.pk)
    if mailbox.status != MailboxStatus.PAUSED:
        raise ServiceError(
            _("Only a paused mailbox can be resumed; this one's status is “%(status)s”.")
            % {"status": mailbox.get_status_display()}
        )
    set_status(mailbox, MailboxStatus.CONNECTED)
    mailbox.save()
    emit_account_event(mailbox=mailbox, type="account.resumed")
    return mailbox
