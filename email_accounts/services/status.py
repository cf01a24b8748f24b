"""A mailbox's status — connected, error, paused, disconnected — and the account events a
customer hears about each change. Worker-side changes take ids and lock the row."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from email_accounts.models import Mailbox, MailboxStatus
from webhooks.events import emit

# FluenzR's own status reasons, stored in English and translated when shown.
REASON_USER_PAUSE = gettext_noop("Paused by a user.")
REASON_USER_DISCONNECT = gettext_noop("Disconnected by a user.")
REASON_QUOTA_PAUSE = gettext_noop(
    "The provider's daily sending quota is used up; sending resumes tomorrow."
)


def mailbox_payload(mailbox: Mailbox) -> dict[str, Any]:
    """How a mailbox appears in events (webhooks deliver this). No credential, ever."""
    return {
        "id": str(mailbox.pk),
        "url": f"/api/v1/email-accounts/{mailbox.pk}/",
        "email": mailbox.email,
        "provider": mailbox.provider,
        "status": mailbox.status,
        "status_reason": mailbox.status_reason,
        "paused_until": mailbox.paused_until.isoformat() if mailbox.paused_until else None,
    }


def emit_account_event(*, mailbox: Mailbox, type: str) -> None:
    emit(workspace=mailbox.workspace, type=type, data={"account": mailbox_payload(mailbox)})


def set_status(mailbox: Mailbox, status: str, reason: str = "") -> None:
    """Change the status in memory (the caller saves); a pause the user chose has no end."""
    mailbox.status = status
    mailbox.status_reason = reason[:500]
    mailbox.status_since = timezone.now()
    mailbox.paused_until = None


def mark_connected(mailbox: Mailbox) -> None:
    """Connected again after an error or a disconnection (a user's pause stays a pause)."""
    if mailbox.status in (MailboxStatus.ERROR, MailboxStatus.DISCONNECTED):
        set_status(mailbox, MailboxStatus.CONNECTED)
        mailbox.connected_at = timezone.now()
        emit_account_event(mailbox=mailbox, type="account.connected")


def mailbox_mark_error(*, mailbox_id: uuid.UUID | str, reason: str) -> None:
    """Credentials refused: the mailbox stops sending until a user reconnects it, and the
    customer hears about it (account.error). Repeated failures emit once; a mailbox the user
    disconnected stays disconnected."""
    with transaction.atomic():
        mailbox = Mailbox.objects.unscoped().select_for_update().get(pk=mailbox_id)
        if mailbox.status == MailboxStatus.DISCONNECTED or (
            mailbox.status == MailboxStatus.ERROR and mailbox.status_reason == reason
        ):
            return
        set_status(mailbox, MailboxStatus.ERROR, reason)
        mailbox.save(update_fields=["status", "status_reason", "status_since", "paused_until"])
        emit_account_event(mailbox=mailbox, type="account.error")


def mailbox_pause_until(*, mailbox_id: uuid.UUID | str, until: datetime, reason: str) -> None:
    """The provider's own sending quota is spent (not a bounce): paused until `until`, when the
    resume sweep connects it again. Only a connected mailbox, or one already paused by its
    quota, is paused this way: a user's pause is never ended by the sweep."""
    with transaction.atomic():
        mailbox = Mailbox.objects.unscoped().select_for_update().get(pk=mailbox_id)
        quota_paused = mailbox.status == MailboxStatus.PAUSED and mailbox.paused_until
        if mailbox.status != MailboxStatus.CONNECTED and not quota_paused:
            return
        set_status(mailbox, MailboxStatus.PAUSED, reason)
        mailbox.paused_until = until
        mailbox.save(update_fields=["status", "status_reason", "status_since", "paused_until"])
        emit_account_event(mailbox=mailbox, type="account.paused")


def mailboxes_resume_due(*, now: datetime | None = None) -> int:
    """Resume the mailboxes whose provider pause has run out (a periodic sweep)."""
    now = now or timezone.now()
    resumed = 0
    due = Mailbox.objects.unscoped().filter(status=MailboxStatus.PAUSED, paused_until__lte=now)
    for mailbox_id in due.values_list("pk", flat=True):
        with transaction.atomic():
            mailbox = (
                Mailbox.objects.unscoped()
                .select_for_update(skip_locked=True)
                .filter(pk=mailbox_id, status=MailboxStatus.PAUSED, paused_until__lte=now)
                .first()
            )
            if mailbox is None:  # resumed by a user, or by another sweep, meanwhile
                continue
            set_status(mailbox, MailboxStatus.CONNECTED)
            mailbox.save(update_fields=["status", "status_reason", "status_since", "paused_until"])
            emit_account_event(mailbox=mailbox, type="account.resumed")
            resumed += 1
    return resumed
