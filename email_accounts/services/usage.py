"""Using a mailbox through its provider, with the consequences of each typed error applied
once, here: credentials refused → `error`; the provider's quota spent → paused until tomorrow.

Campaigns, replies and warming call `open_provider(mailbox=…)` and never learn which provider
they hold.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, time, timedelta
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from zoneinfo import ZoneInfo

from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.errors import ServiceError
from accounts.models import User, Workspace
from accounts.services import require_in_workspace
from email_accounts.models import Mailbox, MailboxStatus, Provider
from email_accounts.providers.base import (
    AuthenticationFailed,
    MailboxProvider,
    OAuthTokens,
    OutcomeUnknown,
    OutgoingMessage,
    ProviderError,
    SenderQuotaReached,
)
from email_accounts.providers.connection import ConnectionProblem, check_imap, check_smtp
from email_accounts.providers.gmail import GmailProvider
from email_accounts.providers.smtp_imap import SmtpImapProvider
from email_accounts.selectors import limit_today
from email_accounts.services.gmail import gmail_revoke
from email_accounts.services.mailboxes import count_connection_test
from email_accounts.services.quota import mailbox_release_send, mailbox_reserve_send
from email_accounts.services.status import (
    REASON_QUOTA_PAUSE,
    REASON_USER_DISCONNECT,
    emit_account_event,
    mailbox_mark_error,
    mailbox_pause_until,
    mark_connected,
    set_status,
)

logger = logging.getLogger(__name__)


def _save_refreshed_tokens(mailbox: Mailbox, tokens: OAuthTokens) -> None:
    """Google refreshed the access token mid-call: keep it (it lasts an hour). Never over a
    disconnection or a newer grant (a reconnect moves connected_at), and never at the cost of
    the call's own result: a send that left must not look failed because this write did."""
    mailbox.set_oauth_tokens(tokens)
    try:
        Mailbox.objects.unscoped().filter(pk=mailbox.pk, connected_at=mailbox.connected_at).exclude(
            status=MailboxStatus.DISCONNECTED
        ).update(credentials=mailbox.credentials)
    except DatabaseError:
        logger.exception("Could not save mailbox %s's refreshed Gmail token", mailbox.pk)


def provider_for(mailbox: Mailbox) -> MailboxProvider:
    if not mailbox.has_credentials:
        raise AuthenticationFailed(_("This mailbox is disconnected: reconnect it to use it."))
    if mailbox.provider == Provider.GMAIL:
        return GmailProvider(
            mailbox.oauth_tokens, on_refresh=lambda tokens: _save_refreshed_tokens(mailbox, tokens)
        )
    return SmtpImapProvider(
        smtp=mailbox.smtp_settings,
        imap=mailbox.imap_settings,
        folders=mailbox.imap_folders,
        append_to_sent=mailbox.append_to_sent,
    )


def next_local_midnight(mailbox: Mailbox, now: datetime) -> datetime:
    zone = ZoneInfo(mailbox.timezone)
    tomorrow = now.astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time.min, tzinfo=zone)


@contextmanager
def open_provider(*, mailbox: Mailbox) -> Iterator[MailboxProvider]:
    """The mailbox's provider; its typed errors still reach the caller, after the mailbox's
    status has been updated for the two that concern the mailbox itself. A disconnected
    mailbox raises AuthenticationFailed at once, and stays disconnected."""
    provider = provider_for(mailbox)
    try:
        yield provider
    except AuthenticationFailed as error:
        mailbox_mark_error(mailbox_id=mailbox.pk, reason=error.message)
        raise
    except SenderQuotaReached as error:
        now = timezone.now()
        until = next_local_midnight(mailbox, now)
        if error.retry_after:
            until = max(until, now + timedelta(seconds=error.retry_after))
        mailbox_pause_until(
            mailbox_id=mailbox.pk,
            until=until,
            reason=REASON_QUOTA_PAUSE,
        )
        raise
    finally:
        provider.close()


def mailbox_test_connection(*, workspace: Workspace, mailbox: Mailbox) -> Mailbox:
    """ "Test connection": log in again (and find the folders again); a mailbox in error that
    passes is connected again, one that fails goes to error with the reason."""
    require_in_workspace(mailbox, workspace)
    if mailbox.status == MailboxStatus.DISCONNECTED or not mailbox.has_credentials:
        raise ServiceError(_("This mailbox is disconnected: reconnect it first."))
    count_connection_test(workspace)
    folders = None
    try:
        if mailbox.provider == Provider.SMTP:
            check_smtp(mailbox.smtp_settings)
            folders = check_imap(mailbox.imap_settings)
        else:
            with open_provider(mailbox=mailbox) as provider:
                provider.verify()
    except ConnectionProblem as problem:
        # Refused credentials put the mailbox in error; a timeout or a server that could not
        # check the password just now says so without blaming the mailbox.
        if problem.setting == "password":
            mailbox_mark_error(mailbox_id=mailbox.pk, reason=problem.message)
        raise ServiceError(problem.message) from None
    except ProviderError as error:  # an auth failure was recorded by open_provider
        raise ServiceError(error.message) from None
    with transaction.atomic():
        mailbox = Mailbox.objects.for_workspace(workspace).select_for_update().get(pk=mailbox.pk)
        if folders is not None:
            mailbox.folders = {"inbox": folders.inbox, "sent": folders.sent, "junk": folders.junk}
        mark_connected(mailbox)
        mailbox.save()
    return mailbox


def build_test_message(mailbox: Mailbox, to: str) -> OutgoingMessage:
    message = EmailMessage()
    message["From"] = formataddr((mailbox.sender_name, mailbox.email))
    message["To"] = to
    message["Subject"] = _("FluenzR test email from %(mailbox)s") % {"mailbox": mailbox.email}
    message["Date"] = formatdate(localtime=False)
    message_id = make_msgid(domain=mailbox.email.rsplit("@", 1)[-1])
    message["Message-ID"] = message_id
    body = _(
        "This test email was sent by FluenzR through %(mailbox)s. If you can read it, the "
        "mailbox can send."
    ) % {"mailbox": mailbox.email}
    if mailbox.signature:
        body += "\n\n-- \n" + mailbox.signature
    message.set_content(body)
    return OutgoingMessage(
        raw=message.as_bytes(),
        message_id=message_id,
        sender=mailbox.email,
        recipients=(to,),
    )


def mailbox_send_test(*, workspace: Workspace, mailbox: Mailbox, user: User) -> None:
    """Send a short test email to the user's own address, never anyone else's. It counts in the
    mailbox's daily quota like any send, and is never retried."""
    require_in_workspace(mailbox, workspace)
    if mailbox.status != MailboxStatus.CONNECTED:
        raise ServiceError(
            _("This mailbox's status is “%(status)s”: fix it first (%(reason)s).")
            % {"status": mailbox.get_status_display(), "reason": mailbox.reason_display}
        )
    now = timezone.now()
    if not mailbox_reserve_send(mailbox_id=mailbox.pk, now=now):
        raise ServiceError(
            _("This mailbox has sent its %(limit)d emails for today; try again tomorrow.")
            % {"limit": limit_today(mailbox, now)}
        )
    try:
        with open_provider(mailbox=mailbox) as provider:
            provider.send(build_test_message(mailbox, user.email))
    except ProviderError as error:
        if not isinstance(error, OutcomeUnknown):  # it did not leave: give the send back
            mailbox_release_send(mailbox_id=mailbox.pk, day=mailbox.local_day(now))
        raise ServiceError(
            _("The test email was not sent: %(reason)s") % {"reason": error.message}
        ) from None


# --------------------------------------------------------------------------- removal


def mailbox_delete(*, workspace: Workspace, mailbox: Mailbox) -> None:
    """Remove the mailbox for good (disconnecting a Gmail one revokes its token first)."""
    require_in_workspace(mailbox, workspace)
    if mailbox.provider == Provider.GMAIL:
        gmail_revoke(mailbox=mailbox)
    with transaction.atomic():
        emit_account_event(mailbox=mailbox, type="account.deleted")
        mailbox.delete()


def mailbox_disconnect(*, workspace: Workspace, mailbox: Mailbox) -> Mailbox:
    """Stop using the mailbox and forget its credentials (revoked at Google first); the row and
    its history stay, so Reconnect picks up where it was."""
    require_in_workspace(mailbox, workspace)
    if mailbox.provider == Provider.GMAIL:
        gmail_revoke(mailbox=mailbox)
    with transaction.atomic():
        mailbox = Mailbox.objects.for_workspace(workspace).select_for_update().get(pk=mailbox.pk)
        mailbox.clear_credentials()
        set_status(mailbox, MailboxStatus.DISCONNECTED, REASON_USER_DISCONNECT)
        mailbox.save()
        emit_account_event(mailbox=mailbox, type="account.disconnected")
    return mailbox
