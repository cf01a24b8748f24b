"""Every write to a mailbox. Import from here: `from email_accounts import services`."""

from email_accounts.services.gmail import (
    PendingConsent,
    gmail_configured,
    gmail_oauth_complete,
    gmail_oauth_start,
    gmail_redirect_uri,
    gmail_revoke,
)
from email_accounts.services.mailboxes import (
    MailboxSettings,
    ServerInput,
    SmtpImapDetails,
    mailbox_connect_smtp,
    mailbox_pause,
    mailbox_resume,
    mailbox_update_servers,
    mailbox_update_settings,
    smtp_imap_details,
)
from email_accounts.services.quota import mailbox_release_send, mailbox_reserve_send
from email_accounts.services.status import (
    mailbox_mark_error,
    mailbox_pause_until,
    mailbox_payload,
    mailboxes_resume_due,
)
from email_accounts.services.usage import (
    mailbox_delete,
    mailbox_disconnect,
    mailbox_send_test,
    mailbox_test_connection,
    open_provider,
)

__all__ = [
    "MailboxSettings",
    "PendingConsent",
    "ServerInput",
    "SmtpImapDetails",
    "gmail_configured",
    "gmail_oauth_complete",
    "gmail_oauth_start",
    "gmail_redirect_uri",
    "gmail_revoke",
    "mailbox_connect_smtp",
    "mailbox_delete",
    "mailbox_disconnect",
    "mailbox_mark_error",
    "mailbox_pause",
    "mailbox_pause_until",
    "mailbox_payload",
    "mailbox_release_send",
    "mailbox_reserve_send",
    "mailbox_resume",
    "mailbox_send_test",
    "mailbox_test_connection",
    "mailbox_update_servers",
    "mailbox_update_settings",
    "mailboxes_resume_due",
    "open_provider",
    "smtp_imap_details",
]
