"""One mailbox's incremental sync: what arrived since its stored cursor (Gmail history, IMAP
UIDs per folder), headers first; the whole message only for those that may concern a campaign
(they cite one of our Message-IDs, sit in one of our Gmail threads, look automated — bounces
and auto-replies — or come from a contact this mailbox wrote to). Never marks mail read.

The cursor is saved after the messages are recorded: a sync that dies halfway reads them again
next time, and recording is idempotent (one row per provider message)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from email.parser import BytesParser

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Lower
from django.utils import timezone

from campaigns.inbound import matching
from campaigns.inbound.effects import Arrival, inbound_record
from campaigns.models import (
    Campaign,
    CampaignStatus,
    Enrollment,
    InboundEmail,
    OutboundMessage,
    OutboundReply,
)
from email_accounts.inbound import classify, looks_automated
from email_accounts.models import Mailbox, MailboxStatus
from email_accounts.providers.base import InboundMessage, ProviderError
from email_accounts.services import open_provider

logger = logging.getLogger(__name__)

SYNC_EVERY = timedelta(minutes=3)
SYNCABLE = (MailboxStatus.CONNECTED, MailboxStatus.PAUSED)  # a quota pause still receives


@dataclass(frozen=True)
class SyncResult:
    new: int = 0  # messages that arrived since the last sync
    read: int = 0  # of those, fetched whole (they may concern a campaign)
    recorded: int = 0  # replies, auto-replies, bounces… recorded
    skipped: str = ""  # why the mailbox was not synced
    error: str = ""


def mailbox_sync(*, mailbox_id: uuid.UUID | str) -> SyncResult:
    mailbox = Mailbox.objects.unscoped().filter(pk=mailbox_id).first()
    if mailbox is None:
        return SyncResult(skipped="deleted")
    if mailbox.status not in SYNCABLE or not mailbox.has_credentials:
        return SyncResult(skipped=mailbox.status)  # shown on the mailbox: it is in error
    read = recorded = 0
    try:
        with open_provider(mailbox=mailbox) as provider:
            fetched = provider.fetch_new(dict(mailbox.sync_cursor or {}))
            for message in _worth_reading(mailbox, fetched.messages):
                raw = provider.fetch_raw(message.ref)
                read += 1
                if inbound_record(_arrival(mailbox, message, raw)) is not None:
                    recorded += 1
    except ProviderError as error:  # auth errors already put the mailbox in error
        Mailbox.objects.unscoped().filter(pk=mailbox.pk).update(
            sync_error=error.message[:500], last_sync_at=timezone.now()
        )
        logger.info("Sync of mailbox %s failed: %s", mailbox.pk, error.message)
        return SyncResult(read=read, recorded=recorded, error=error.message)
    Mailbox.objects.unscoped().filter(pk=mailbox.pk).update(
        sync_cursor=fetched.cursor, last_sync_at=timezone.now(), sync_error=""
    )
    return SyncResult(new=len(fetched.messages), read=read, recorded=recorded)


def _key(message: InboundMessage) -> str:
    """The provider's id: Gmail's message id; for IMAP the Message-ID header (stable across a
    UIDVALIDITY change), or folder and UID for a message without one."""
    ref = message.ref
    return ref.provider_message_id or f"{ref.folder}:{ref.uid}"


def _worth_reading(mailbox: Mailbox, messages: list[InboundMessage]) -> list[InboundMessage]:
    """The messages that may concern a campaign, decided on headers alone, in four queries
    whatever their number."""
    if not messages:
        return []
    known = set(
        InboundEmail.objects.unscoped()
        .filter(mailbox=mailbox, provider_message_id__in=[_key(m) for m in messages])
        .values_list("provider_message_id", flat=True)
    )
    fresh = [m for m in messages if _key(m) not in known]
    references = {id(m): matching.referenced_ids(m.headers) for m in fresh}
    cited = {ref for refs in references.values() for ref in refs}
    ours = set(
        OutboundMessage.objects.unscoped()
        .filter(mailbox=mailbox, message_id__in=cited)
        .values_list("message_id", flat=True)
    ) | set(
        OutboundReply.objects.unscoped()
        .filter(mailbox=mailbox, message_id__in=cited)
        .values_list("message_id", flat=True)
    )
    threads = {m.thread_id for m in fresh if m.thread_id}
    our_threads = set(
        OutboundMessage.objects.unscoped()
        .filter(mailbox=mailbox, provider_thread_id__in=threads)
        .values_list("provider_thread_id", flat=True)
    )
    senders = {matching.sender_address(m.headers) for m in fresh} - {""}
    contacts = set(
        Enrollment.objects.unscoped()
        .filter(mailbox=mailbox)
        .annotate(address=Lower("contact__email"))
        .filter(address__in=senders)
        .values_list("address", flat=True)
    )
    return [
        m
        for m in fresh
        if ours.intersection(references[id(m)])
        or m.thread_id in our_threads
        or matching.sender_address(m.headers) in contacts
        or looks_automated(m.headers)
    ]


def _arrival(mailbox: Mailbox, message: InboundMessage, raw: bytes) -> Arrival:
    received_at = message.received_at or timezone.now()
    return Arrival(
        mailbox=mailbox,
        key=_key(message),
        thread_id=message.thread_id,
        folder=message.ref.folder or message.folder_role,
        received_at=received_at,
        verdict=classify(raw, received_at=received_at, is_ours=matching.is_ours),
        body=plain_body(raw),
    )


def plain_body(raw: bytes) -> str:
    """The message's text for the conversation view (its HTML part is never shown as HTML)."""
    try:
        parsed = BytesParser(policy=policy.default).parsebytes(raw)
        part = parsed.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""
    except Exception:  # a broken part: the classifier's own text stays
        return ""


def mailboxes_sync_due(*, enqueue, now: datetime | None = None) -> int:
    """Hand every mailbox whose last sync is older than SYNC_EVERY to the `sync` queue, once:
    the claim is the conditional UPDATE of its last sync time, so a second beat is harmless.
    Only the senders of launched campaigns are read (their first sync sets the starting
    point, before their first email is likely to be answered)."""
    now = now or timezone.now()
    sends_for_a_campaign = Campaign.mailboxes.through.objects.filter(
        mailbox_id=OuterRef("pk")
    ).exclude(campaign__status=CampaignStatus.DRAFT)
    due = list(
        Mailbox.objects.unscoped()
        .filter(status__in=SYNCABLE)
        .filter(Q(last_sync_at__isnull=True) | Q(last_sync_at__lte=now - SYNC_EVERY))
        .filter(Exists(sends_for_a_campaign))
        .values_list("pk", flat=True)
    )
    claimed = 0
    for mailbox_id in due:
        with transaction.atomic():
            took = (
                Mailbox.objects.unscoped()
                .filter(pk=mailbox_id)
                .filter(Q(last_sync_at__isnull=True) | Q(last_sync_at__lte=now - SYNC_EVERY))
                .update(last_sync_at=now)
            )
            if took:
                transaction.on_commit(lambda pk=mailbox_id: enqueue(pk))
                claimed += 1
    return claimed
