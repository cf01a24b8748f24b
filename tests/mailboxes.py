"""Mailboxes for tests that are about something else (tenancy, lists, limits): written straight
to the database, without the connection test the services run. Tests about connecting use the
services against the loopback servers instead. And reading a mailbox back over IMAP."""

from __future__ import annotations

import imapclient
from django.utils import timezone

from email_accounts.models import Mailbox, MailboxStatus, Provider
from email_accounts.providers.base import ServerSettings


def unchecked_smtp_mailbox(workspace, email: str, **fields) -> Mailbox:
    now = timezone.now()
    defaults = {
        "status": MailboxStatus.CONNECTED,
        "status_since": now,
        "daily_limit": 50,
        "daily_limit_max": 2000,
        "timezone": "UTC",
        "ramp_up_enabled": False,
        "connected_at": now,
    }
    mailbox = Mailbox(
        workspace=workspace, provider=Provider.SMTP, email=email, **(defaults | fields)
    )
    server = ServerSettings("mail.invalid", 465, "ssl", email, "not-a-real-password")
    mailbox.set_servers(smtp=server, imap=ServerSettings("mail.invalid", 993, "ssl", email, "x"))
    mailbox.save()
    return mailbox


def read_inbox(
    servers, address: str, password: str, folder: str = "INBOX", subject: str = ""
) -> list[bytes]:
    """The messages in one folder (whose subject contains `subject`), read over IMAP."""
    with imapclient.IMAPClient(
        "localhost", port=servers.dovecot.imaps_port, ssl_context=servers.client_tls_context()
    ) as client:
        client.login(address, password)
        client.select_folder(folder, readonly=True)
        uids = client.search(["SUBJECT", subject] if subject else "ALL")
        return [data[b"RFC822"] for data in client.fetch(uids, ["RFC822"]).values()]
