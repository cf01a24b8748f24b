"""A person's decision on an email whose outcome is unknown: send it again, or it was sent."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.errors import ServiceError
from accounts.models import Workspace
from accounts.services import require_in_workspace
from campaigns.engine.sender import record_sent
from campaigns.mime import new_message_id
from campaigns.models import MessageStatus, OutboundMessage
from campaigns.tasks import enqueue_send
from email_accounts.providers.base import SentMessage


@transaction.atomic
def message_send_again(
    *, workspace: Workspace, message: OutboundMessage, now: datetime | None = None
) -> OutboundMessage:
    """A person decided that a message whose outcome is unknown (not found in Sent) did not
    leave: it goes again, under a new Message-ID (the first one is kept in its error note)."""
    require_in_workspace(message, workspace)
    message = (
        OutboundMessage.objects.for_workspace(workspace).select_for_update().get(pk=message.pk)
    )
    if message.status != MessageStatus.UNKNOWN:
        raise ServiceError(_("Only an email whose outcome is unknown can be sent again."))
    first_id = message.message_id
    message.message_id = new_message_id(message.mailbox.email)
    message.status = MessageStatus.SCHEDULED
    message.next_attempt_at = now or timezone.now()
    message.sending_started_at = None
    message.error = f"Sent again by a user; the first attempt was {first_id}."
    message.save()
    # Straight to the sending queue: the sweeper would find it too, but only minutes later.
    transaction.on_commit(lambda: enqueue_send(message.pk))
    return message


def message_mark_sent(*, workspace: Workspace, message: OutboundMessage) -> None:
    """A person found an `unknown` email in the mailbox: record it as sent, and the sequence
    moves on."""
    require_in_workspace(message, workspace)
    if message.status != MessageStatus.UNKNOWN:
        raise ServiceError(_("Only an email whose outcome is unknown can be marked as sent."))
    sent = SentMessage(provider_message_id=message.message_id, provider_thread_id="")
    record_sent(message, sent, message.subject, message.sending_started_at or timezone.now())
