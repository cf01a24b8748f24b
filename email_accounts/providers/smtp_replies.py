"""What an SMTP server's refusal means for the caller: the account's quota, its credentials,
the recipient (hard or soft), or a moment to wait. Nothing was sent in any of these cases."""

from __future__ import annotations

import re

from django.utils.translation import gettext as _

from email_accounts.providers.base import (
    AuthenticationFailed,
    OutgoingMessage,
    ProviderError,
    RecipientRejected,
    SenderQuotaReached,
    TransientError,
)
from email_accounts.providers.connection import wrong_password

_ENHANCED = re.compile(r"\s*([245]\.\d{1,3}\.\d{1,3})\b")  # RFC 3463, at the start of the text
# The sending account's own limit, as hosts word it: Gmail "5.4.5 Daily user sending quota
# exceeded", Microsoft 365 "5.1.90 …daily limit for message recipients" and
# "SubmissionQuotaExceeded", others "4.7.0 … rate limited".
_QUOTA_CODES = ("5.4.5", "5.1.90")
_QUOTA_TEXT = re.compile(r"quota|\brate\b|rate.?limit|sending limit|daily limit", re.IGNORECASE)
_FULL_TEXT = re.compile(r"mailbox (is )?full|over quota", re.IGNORECASE)  # the recipient's quota
# About the sender, not the recipient: bad sender address (5.1.7, 5.1.8, which Outlook.com
# also uses for an account blocked for spam), "not allowed to send as" and blocked accounts
# (Microsoft 365, whose STOREDRV errors carry a recipient-looking 5.2.0).
_SENDER_CODES = ("5.1.7", "5.1.8", "5.7.60", "5.2.252")
_SENDER_TEXT = re.compile(r"SendAsDenied|OutboundSpam|bad outbound sender", re.IGNORECASE)
_AUTH_CODES = ("5.7.8", "5.7.57")  # credentials invalid, client not authenticated (M365)


def smtp_refusal(
    host: str, stage: str, code: int, reply: bytes, message: OutgoingMessage, recipient: str = ""
) -> ProviderError:
    """What an SMTP refusal at MAIL ("mail"), RCPT ("rcpt") or DATA ("data", the command
    or the end of the content) means. Nothing was sent in any of these cases.

    - The account's own sending limit (see _QUOTA_*) → SenderQuotaReached, whatever the
      stage; a full recipient mailbox ("5.2.2 … over quota") is not one.
    - Credentials refused (530, 535, 5.7.8, 5.7.57) → AuthenticationFailed.
    - A permanent refusal of the sender (5xx at MAIL, or _SENDER_* anywhere) →
      AuthenticationFailed too: every send from this mailbox would fail (and bounce contact
      after contact) until the user acts, which is what putting the mailbox in error asks.
    - 4xx → TransientError, unless it is about the recipient's address or mailbox
      (x.1.x, x.2.x: "4.2.2 mailbox full") at RCPT or DATA: a soft RecipientRejected, which
      the caller retries with backoff and then counts as hard. Greylisting, throttling and
      system trouble (4.3, 4.4, 4.7, 421) are not the contact's: TransientError.
    - Any other 5xx at RCPT or DATA → RecipientRejected with its enhanced code. At DATA the
      whole (single-recipient) message was refused; 5.7.x policy or 5.6.x content blocks are
      not the contact's fault, and the caller tells them apart by `enhanced_code` rather
      than this module guessing.
    """
    text = " ".join(reply.decode("utf-8", "replace").split())
    match = _ENHANCED.match(text)
    enhanced = match.group(1) if match else ""
    about_recipient = enhanced[2:4] in ("1.", "2.") and enhanced not in _QUOTA_CODES
    recipient_full = enhanced.endswith(".2.2") or _FULL_TEXT.search(text)
    sender_refused = enhanced in _SENDER_CODES or _SENDER_TEXT.search(text)
    said = {
        "host": host,
        "sender": message.sender,
        "recipient": recipient or ", ".join(message.recipients),
        "reply": f"{code} {text}",
    }
    if enhanced in _QUOTA_CODES or (not recipient_full and _QUOTA_TEXT.search(text)):
        return SenderQuotaReached(
            _("SMTP: %(host)s says the sending limit is reached (%(reply)s).") % said
        )
    if code in (530, 535) or enhanced in _AUTH_CODES:
        return AuthenticationFailed(wrong_password("smtp", host).message)
    if code >= 500 and (stage == "mail" or sender_refused):
        return AuthenticationFailed(
            _(
                "SMTP: %(host)s refuses to send as %(sender)s (%(reply)s). Send from the "
                "mailbox's own address, or an alias it is allowed to use."
            )
            % said
        )
    if code < 500 and (stage == "mail" or code == 421 or not about_recipient):
        return TransientError(_("SMTP: %(host)s asks to try later (%(reply)s).") % said)
    return RecipientRejected(
        _("SMTP: the message to %(recipient)s was refused (%(reply)s).") % said,
        code=code,
        enhanced_code=enhanced,
    )
