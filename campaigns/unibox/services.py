"""Writes of the unified inbox: opening a conversation, a contact's lead status, and an
answer sent from FluenzR through the mailbox that received the reply, in the same thread.

An answer is a person's email, not a campaign step: it never touches the enrollment (the
sequence stays stopped), and it counts in the mailbox's daily quota like every send.
"""

from __future__ import annotations

import re

from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from accounts.errors import ServiceError
from accounts.models import User, Workspace
from accounts.services import require_in_workspace
from campaigns import mime
from campaigns.models import InboundEmail, OutboundMessage, OutboundReply
from campaigns.unibox.selectors import CONVERSATION_KINDS
from contacts.models import Contact, LeadStatus
from contacts.services.contacts import contact_payload
from email_accounts.models import Mailbox, MailboxStatus
from email_accounts.providers.base import OutcomeUnknown, OutgoingMessage, ProviderError
from email_accounts.selectors import limit_today
from email_accounts.services import mailbox_release_send, mailbox_reserve_send, open_provider
from webhooks.events import emit

MAX_ANSWER_LENGTH = 20_000


class AnswerNotSent(ServiceError):
    """The answer cannot go out now: the mailbox's state, its quota or its server refused it
    (the API answers 409; the form shows the sentence)."""

    code = "answer_not_sent"
    status = 409


# `<left@right>` without spaces or brackets: what mime.build accepts in threading headers.
_MESSAGE_ID_RE = re.compile(r"<[^<>\s@]+@[^<>\s@]+>")


def inbound_mark_read(*, workspace: Workspace, inbound: InboundEmail) -> int:
    """Opening a conversation marks every message of it read; returns how many changed."""
    require_in_workspace(inbound, workspace)
    unread = InboundEmail.objects.for_workspace(workspace).filter(
        kind__in=CONVERSATION_KINDS, read=False
    )
    if inbound.enrollment_id:
        unread = unread.filter(enrollment_id=inbound.enrollment_id)
    else:
        unread = unread.filter(pk=inbound.pk)
    return unread.update(read=True)


def lead_status_set(
    *, workspace: Workspace, contact: Contact, status: str, user: User | None = None
) -> Contact:
    """Set where the conversation with `contact` stands ("" clears it). Emits
    `lead.status_changed` with the old and new status, only when it changes."""
    require_in_workspace(contact, workspace)
    if status not in LeadStatus.values and status != "":
        raise ServiceError(
            _("Choose one of the lead statuses: %(choices)s.")
            % {"choices": ", ".join(str(label) for label in LeadStatus.labels)},
            field="status",
        )
    with transaction.atomic():
        contact = Contact.objects.for_workspace(workspace).select_for_update().get(pk=contact.pk)
        old = contact.lead_status
        if old == status:
            return contact
        contact.lead_status = status
        contact.save(update_fields=["lead_status", "updated_at"])
        emit(
            workspace=workspace,
            type="lead.status_changed",
            data={
                "contact": contact_payload(contact),
                "old_status": old or None,
                "new_status": status or None,
                "changed_by": user.email if user is not None else None,
            },
        )
    return contact


# ----------------------------------------------------------------------------- answering


def _answered(workspace: Workspace, inbound: InboundEmail) -> OutboundMessage | None:
    """Our campaign email this reply answers, when the sync found it."""
    if not inbound.answers_id:
        return None
    return OutboundMessage.objects.for_workspace(workspace).filter(pk=inbound.answers_id).first()


def _thread_references(
    inbound: InboundEmail, answered: OutboundMessage | None
) -> tuple[str, tuple[str, ...]]:
    """In-Reply-To (their Message-ID) and References (theirs, then their Message-ID), keeping
    only well-formed ids: a malformed one would be refused by the MIME builder."""
    own = inbound.message_id.strip()
    parent = own if _MESSAGE_ID_RE.fullmatch(own) else ""
    listed = [ref for ref in inbound.verdict.get("references") or [] if isinstance(ref, str)]
    if not listed and answered is not None:  # their client wrote none: our email is the root
        listed = [answered.message_id]
    references = [ref for ref in listed if _MESSAGE_ID_RE.fullmatch(ref)]
    if parent:
        references.append(parent)
    return parent, tuple(dict.fromkeys(references))


def _answer_subject(inbound: InboundEmail, answered: OutboundMessage | None) -> str:
    subject = mime.reply_subject(inbound.subject)
    if not subject and answered is not None:
        subject = mime.reply_subject(answered.subject)
    return subject or _("Re: your message")


def _answer_text(inbound: InboundEmail, body: str, mailbox: Mailbox) -> str:
    """The answer, the sender's signature, then their message quoted, like any mail client."""
    text = body.strip()
    if mailbox.signature.strip():
        text += "\n\n-- \n" + mailbox.signature.strip()
    quoted = (inbound.text or inbound.body).strip()
    if quoted:
        header = _("On %(date)s, %(sender)s wrote:") % {
            "date": date_format(timezone.localtime(inbound.received_at), "DATETIME_FORMAT"),
            "sender": inbound.from_name or inbound.from_email,
        }
        text += "\n\n" + header + "\n" + "\n".join(f"> {line}" for line in quoted.splitlines())
    return text


def _mailbox_problem(mailbox: Mailbox) -> str | None:
    if mailbox.status == MailboxStatus.CONNECTED:
        return None
    sentence = _(
        "Answers go out through %(mailbox)s, which received this reply, and its status is "
        "“%(status)s”: fix it in Email accounts, then send again."
    ) % {"mailbox": mailbox.email, "status": mailbox.get_status_display()}
    if mailbox.reason_display:
        sentence += " " + mailbox.reason_display
    return sentence


def reply_send(
    *, workspace: Workspace, inbound: InboundEmail, body: str, user: User | None
) -> OutboundReply:
    """Answer `inbound` from the mailbox that received it, in the same thread ("Re: …",
    In-Reply-To, References, Gmail thread). The answer is recorded before it is sent, then
    marked sent or given the provider's error; it counts in the mailbox's daily quota (given
    back when it did not leave) and is never retried. The sequence is left as it is."""
    require_in_workspace(inbound, workspace)
    body = (body or "").strip()
    if not body:
        raise ServiceError(_("Write your answer before sending it."), field="body")
    if len(body) > MAX_ANSWER_LENGTH:
        raise ServiceError(
            _("Keep the answer under %(n)d characters.") % {"n": MAX_ANSWER_LENGTH}, field="body"
        )
    if inbound.kind not in CONVERSATION_KINDS:
        raise ServiceError(_("Only replies and auto-replies can be answered from FluenzR."))
    if not inbound.from_email:
        raise ServiceError(_("This reply has no sender address to answer to."))
    mailbox = Mailbox.objects.for_workspace(workspace).get(pk=inbound.mailbox_id)
    problem = _mailbox_problem(mailbox)
    if problem:
        raise AnswerNotSent(problem)

    answered = _answered(workspace, inbound)
    in_reply_to, references = _thread_references(inbound, answered)
    subject = _answer_subject(inbound, answered)
    message_id = mime.new_message_id(mailbox.email)
    try:
        raw = mime.build(
            mime.Draft(
                sender_email=mailbox.email,
                sender_name=mailbox.sender_name,
                to_email=inbound.from_email,
                to_name=inbound.from_name,
                subject=subject,
                text=_answer_text(inbound, body, mailbox),
                in_reply_to=in_reply_to,
                references=references,
            ),
            message_id=message_id,
        )
    except ValueError:
        raise ServiceError(
            _("%(email)s is not an address FluenzR can write to: answer from your mail client.")
            % {"email": inbound.from_email}
        ) from None

    now = timezone.now()
    if not mailbox_reserve_send(mailbox_id=mailbox.pk, now=now):
        raise AnswerNotSent(
            _(
                "%(mailbox)s has sent its %(limit)d emails for today: your answer can go "
                "tomorrow, or from your mail client now."
            )
            % {"mailbox": mailbox.email, "limit": limit_today(mailbox, now)}
        )
    answer = OutboundReply.objects.create(
        workspace=workspace,
        inbound=inbound,
        mailbox=mailbox,
        message_id=message_id,
        subject=subject,
        body=body,
        sent_by=user,
    )
    outgoing = OutgoingMessage(
        raw=raw,
        message_id=message_id,
        sender=mailbox.email,
        recipients=(inbound.from_email,),
        thread_id=inbound.provider_thread_id,
    )
    try:
        with open_provider(mailbox=mailbox) as provider:
            provider.send(outgoing)
    except ProviderError as error:
        if not isinstance(error, OutcomeUnknown):  # it did not leave: give the send back
            mailbox_release_send(mailbox_id=mailbox.pk, day=mailbox.local_day(now))
        answer.error = error.message[:1000]
        answer.save(update_fields=["error"])
        raise AnswerNotSent(
            _("Your answer was not sent: %(reason)s") % {"reason": error.message}
        ) from None
    answer.sent_at = timezone.now()
    answer.save(update_fields=["sent_at"])
    return answer
