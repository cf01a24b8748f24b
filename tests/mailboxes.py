"""Mailboxes for tests that are about something else (tenancy, lists, limits): written straight
to the database, without the connection test the services run. Tests about connecting use the
services against the loopback servers instead."""

from __future__ import annotations

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
