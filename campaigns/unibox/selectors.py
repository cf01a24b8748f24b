"""Reads for the unified inbox: the list of conversations and one conversation in order.

A conversation is every reply and auto-reply of one enrollment (one contact in one
campaign); a reply that matched no enrollment is a conversation of its own. The list shows
one row per conversation — its latest message — so a prospect who writes twice is one line,
not two, and keyset pagination runs on real columns (received_at, id) in one query.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

from accounts.models import Workspace
from campaigns.models import InboundEmail, InboundKind, OutboundMessage, OutboundReply
from contacts.models import LeadStatus

CONVERSATION_KINDS = (InboundKind.REPLY, InboundKind.AUTO_REPLY)
PAGE_SIZE = 50
NO_LEAD_STATUS = "none"  # the lead-status filter's value for "not set yet"


# The classifier's lead-status rules (email_accounts.inbound.leads), as the reason shown after
# "Suggested: … — because …".
SUGGESTION_REASONS = {
    "lead:interested": _("the reply asks to talk or to know more (“interested”, “call”…)"),
    "lead:meeting-booked": _("the reply confirms a meeting (“booked”, “see you on…”)"),
    "lead:not-interested": _("the reply declines (“not interested”, “no thanks”…)"),
    "lead:wrong-person": _("the reply points to someone else (“not the right person”…)"),
    "lead:out-of-office": _("it is an out-of-office auto-reply"),
    "lead:unsubscribe": _("they asked not to be contacted again"),
}


def suggestion_reason(rule: str) -> str:
    """Why a status was suggested, in the reader's language (an unknown rule as it is)."""
    return str(SUGGESTION_REASONS.get(rule, rule)) if rule else ""


@dataclass(frozen=True)
class InboxFilters:
    campaign: uuid.UUID | None = None
    mailbox: uuid.UUID | None = None
    lead_status: str = ""  # a LeadStatus value, NO_LEAD_STATUS, or "" for any
    unread: bool = False
    kind: str = ""  # "reply", "auto_reply" or "" for both


@dataclass
class InboxPage:
    rows: list[InboundEmail]
    next_cursor: str | None


def _same_conversation(outer: str = "") -> Q:
    """Rows of the conversation of the OuterRef'd row: the same enrollment (or, without one,
    that row itself)."""
    return Q(enrollment_id=OuterRef(f"{outer}enrollment_id"), enrollment__isnull=False) | Q(
        pk=OuterRef(f"{outer}pk"), enrollment__isnull=True
    )


def conversation_rows(*, workspace: Workspace) -> QuerySet[InboundEmail]:
    """The latest reply or auto-reply of every conversation, with `has_unread` (anything in the
    conversation not opened yet)."""
    replies = InboundEmail.objects.for_workspace(workspace).filter(kind__in=CONVERSATION_KINDS)
    later = replies.filter(
        enrollment_id=OuterRef("enrollment_id"), enrollment__isnull=False
    ).filter(
        Q(received_at__gt=OuterRef("received_at"))
        | Q(received_at=OuterRef("received_at"), pk__gt=OuterRef("pk"))
    )
    unread = replies.filter(_same_conversation(), read=False)
    return (
        replies.annotate(has_unread=Exists(unread))
        .exclude(Exists(later))
        .select_related("mailbox", "contact", "enrollment__campaign")
    )


def first_line(text: str, limit: int = 160) -> str:
    """The first non-empty line, shortened: what the list shows of a message."""
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _encode_cursor(row: InboundEmail) -> str:
    raw = f"{row.received_at.isoformat()}|{row.pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID] | None:
    """The cursor's position, or None for an edited or foreign cursor (page one instead)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, pk = raw.split("|")
        when = parse_datetime(moment)
        return (when, uuid.UUID(pk)) if when is not None and when.tzinfo else None
    except (ValueError, UnicodeDecodeError):
        return None


def inbox_filtered(*, workspace: Workspace, filters: InboxFilters) -> QuerySet[InboundEmail]:
    rows = conversation_rows(workspace=workspace)
    if filters.campaign:
        rows = rows.filter(enrollment__campaign_id=filters.campaign)
    if filters.mailbox:
        rows = rows.filter(mailbox_id=filters.mailbox)
    if filters.lead_status == NO_LEAD_STATUS:
        rows = rows.filter(contact__lead_status="")
    elif filters.lead_status:
        rows = rows.filter(contact__lead_status=filters.lead_status)
    if filters.unread:
        rows = rows.filter(has_unread=True)
    if filters.kind:
        rows = rows.filter(kind=filters.kind)
    return rows.order_by("-received_at", "-pk")


def inbox_page(
    *, workspace: Workspace, filters: InboxFilters, cursor: str = "", size: int = PAGE_SIZE
) -> InboxPage:
    """One page of conversations, newest first; `next_cursor` opens the older ones. Always
    one query, whatever the page holds."""
    rows = inbox_filtered(workspace=workspace, filters=filters)
    position = _decode_cursor(cursor) if cursor else None
    if position is not None:
        when, pk = position
        rows = rows.filter(Q(received_at__lt=when) | Q(received_at=when, pk__lt=pk))
    found = list(rows[: size + 1])
    more = len(found) > size
    found = found[:size]
    for row in found:
        row.preview = first_line(row.text or row.body)
    return InboxPage(rows=found, next_cursor=_encode_cursor(found[-1]) if more else None)


# ----------------------------------------------------------------------------- conversation


@dataclass
class ConversationEntry:
    kind: str  # "sent" (a campaign step), "inbound" (their message) or "answer" (ours)
    at: datetime
    message: OutboundMessage | None = None
    inbound: InboundEmail | None = None
    answer: OutboundReply | None = None


@dataclass
class Conversation:
    inbound: list[InboundEmail]  # oldest first
    entries: list[ConversationEntry] = field(default_factory=list)

    @property
    def latest(self) -> InboundEmail:
        return self.inbound[-1]

    @property
    def suggestion(self) -> InboundEmail | None:
        """The latest message that carries a lead-status suggestion."""
        return next(
            (i for i in reversed(self.inbound) if i.lead_suggestion in LeadStatus.values), None
        )

    @property
    def suggested(self) -> LeadStatus | None:
        found = self.suggestion
        return LeadStatus(found.lead_suggestion) if found is not None else None

    @property
    def suggestion_reason(self) -> str:
        found = self.suggestion
        return suggestion_reason(found.lead_suggestion_rule) if found is not None else ""


def conversation_messages(*, workspace: Workspace, inbound: InboundEmail) -> list[InboundEmail]:
    """Every reply and auto-reply of `inbound`'s conversation, oldest first."""
    replies = InboundEmail.objects.for_workspace(workspace).filter(kind__in=CONVERSATION_KINDS)
    if inbound.enrollment_id:
        replies = replies.filter(enrollment_id=inbound.enrollment_id)
    else:
        replies = replies.filter(pk=inbound.pk)
    return list(replies.select_related("mailbox").order_by("received_at", "pk"))


def conversation(*, workspace: Workspace, inbound: InboundEmail) -> Conversation:
    """Our campaign emails that went, their replies and our answers, in the order they
    happened."""
    messages = conversation_messages(workspace=workspace, inbound=inbound)
    entries: list[ConversationEntry] = []
    if inbound.enrollment_id:
        sent = (
            OutboundMessage.objects.for_workspace(workspace)
            .filter(enrollment_id=inbound.enrollment_id, sent_at__isnull=False)
            .select_related("step", "mailbox")
        )
        entries += [ConversationEntry("sent", m.sent_at, message=m) for m in sent]
    entries += [ConversationEntry("inbound", m.received_at, inbound=m) for m in messages]
    answers = (
        OutboundReply.objects.for_workspace(workspace)
        .filter(inbound__in=[m.pk for m in messages])
        .select_related("sent_by", "mailbox")
    )
    entries += [ConversationEntry("answer", a.sent_at or a.created_at, answer=a) for a in answers]
    order = {"sent": 0, "inbound": 1, "answer": 2}
    entries.sort(key=lambda entry: (entry.at, order[entry.kind]))
    return Conversation(inbound=messages, entries=entries)
