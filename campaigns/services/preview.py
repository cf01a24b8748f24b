"""The preview's mailbox, and the previewed email sent as a test to the signed-in user."""

from __future__ import annotations

import email
import time

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.errors import ServiceError
from accounts.models import User, Workspace
from accounts.services import require_in_workspace
from campaigns import mime
from campaigns.engine.compose import choose_variant, compose
from campaigns.mime import new_message_id
from campaigns.models import Enrollment, Step
from campaigns.selectors import compose_for
from campaigns.templating import UndefinedVariable
from email_accounts.models import Mailbox, MailboxStatus
from email_accounts.providers.base import OutcomeUnknown, OutgoingMessage, ProviderError
from email_accounts.selectors import limit_today
from email_accounts.services import mailbox_release_send, mailbox_reserve_send, open_provider


def undefined_sentence(error: UndefinedVariable) -> str:
    return _(
        "This contact has no value for %(names)s: give a fallback like {{firstName|there}}, or "
        "fill it in."
    ) % {"names": ", ".join(f"{{{{{name}}}}}" for name in error.names)}


def preview_mailbox(enrollment: Enrollment) -> Mailbox | None:
    """The mailbox a preview (and its test email) is written from: the contact's own (follow-ups
    stay on it), else the campaign's first connected sender, else its first sender."""
    if enrollment.mailbox is not None:
        return enrollment.mailbox
    senders = enrollment.campaign.mailboxes.all()
    return senders.filter(status=MailboxStatus.CONNECTED).first() or senders.first()


def _count_test_email(workspace: Workspace) -> None:
    """Each test dials a mail server and lands in a real inbox: a workspace gets the same hourly
    budget as connection tests (counted apart), not an open-ended mailer."""
    limit = settings.EMAIL_ACCOUNTS_CONNECTION_TESTS_PER_HOUR
    key = f"campaign-test-emails:{workspace.pk}:{int(time.time() // 3600)}"
    cache.add(key, 0, timeout=3600)
    if cache.incr(key) > limit:
        raise ServiceError(
            ngettext(
                "This workspace has sent its %(limit)d test email this hour: try again next hour.",
                "This workspace has sent its %(limit)d test emails this hour: try again next hour.",
                limit,
            )
            % {"limit": limit}
        )


def _thread_subject(enrollment: Enrollment, step: Step, mailbox: Mailbox) -> str:
    """A follow-up without a subject replies "Re: …" to the thread; for a contact not written to
    yet, that is the nearest earlier email with a subject, as this contact gets it."""
    earlier = (
        step.campaign.steps.filter(position__lt=step.position)
        .order_by("-position")
        .prefetch_related("variants")
    )
    for previous in earlier:
        variant = choose_variant(enrollment, previous, list(previous.variants.all()))
        if variant.subject.strip():
            composed = compose(
                enrollment=enrollment,
                step=previous,
                variant=variant,
                mailbox=mailbox,
                message_id=new_message_id(mailbox.email),
            )
            return mime.reply_subject(composed.subject)
    return ""


def _as_test(raw: bytes, *, to: str, subject: str) -> bytes:
    """The composed email, addressed to the tester, "[Test] " before its subject and outside
    any thread (no In-Reply-To or References): the body is left byte for byte."""
    message = email.message_from_bytes(raw, policy=mime.POLICY)
    message.replace_header("To", to)
    message.replace_header("Subject", f"[Test] {subject}".strip())
    del message["In-Reply-To"]
    del message["References"]
    return message.as_bytes()


def preview_send_test(
    *, workspace: Workspace, user: User, enrollment: Enrollment, step: Step
) -> Mailbox:
    """Send the email `enrollment` gets for `step`, exactly as the preview shows it, to the
    signed-in user's own address — never one typed in. "[Test] " before the subject, a fresh
    Message-ID, no thread. It goes through the contact's mailbox (else the campaign's first
    connected one), counts in that mailbox's daily quota like any send and in the workspace's
    hourly budget of tests, and is never retried. No outbound message is recorded and the
    enrollment is left as it was. Returns the mailbox it went through."""
    require_in_workspace(enrollment, workspace)
    require_in_workspace(step, workspace)
    if step.campaign_id != enrollment.campaign_id:
        raise ServiceError(_("This email is not part of this contact's campaign."))
    if not user.email:
        raise ServiceError(_("Your account has no email address: add one to receive tests."))
    mailbox = preview_mailbox(enrollment)
    if mailbox is None:
        raise ServiceError(_("Choose a mailbox to send from first (Schedule & options)."))
    if mailbox.status != MailboxStatus.CONNECTED:
        sentence = _(
            "The test goes out through %(mailbox)s, whose status is “%(status)s”: fix it in "
            "Email accounts first."
        ) % {"mailbox": mailbox.email, "status": mailbox.get_status_display()}
        if mailbox.reason_display:
            sentence += " " + mailbox.reason_display
        raise ServiceError(sentence)
    message_id = new_message_id(mailbox.email)
    try:
        composed = compose_for(
            enrollment=enrollment, step=step, mailbox=mailbox, message_id=message_id
        )
        subject = composed.subject or _thread_subject(enrollment, step, mailbox)
    except UndefinedVariable as error:
        raise ServiceError(undefined_sentence(error)) from None
    raw = _as_test(composed.raw, to=user.email, subject=subject)
    _count_test_email(workspace)
    now = timezone.now()
    if not mailbox_reserve_send(mailbox_id=mailbox.pk, now=now):
        raise ServiceError(
            _("%(mailbox)s has sent its %(limit)d emails for today; try again tomorrow.")
            % {"mailbox": mailbox.email, "limit": limit_today(mailbox, now)}
        )
    outgoing = OutgoingMessage(
        raw=raw, message_id=message_id, sender=mailbox.email, recipients=(user.email,)
    )
    try:
        with open_provider(mailbox=mailbox) as provider:
            provider.send(outgoing)
    except ProviderError as error:
        if not isinstance(error, OutcomeUnknown):  # it did not leave: give the send back
            mailbox_release_send(mailbox_id=mailbox.pk, day=mailbox.local_day(now))
        raise ServiceError(
            _("The test email was not sent: %(reason)s") % {"reason": error.message}
        ) from None
    return mailbox
