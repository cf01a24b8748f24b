"""The exact email a contact gets for a step, as the dashboard and the API show it."""

from __future__ import annotations

import email
from dataclasses import dataclass
from email import policy

from campaigns.engine.compose import Composed, choose_variant, compose
from campaigns.models import Enrollment, Step
from email_accounts.models import Mailbox

PREVIEW_MESSAGE_ID = "<preview@fluenzr.invalid>"


@dataclass(frozen=True)
class Preview:
    subject: str
    body: str  # the text/plain part, as the contact will read it
    raw: bytes


def compose_for(
    *, enrollment: Enrollment, step: Step, mailbox: Mailbox, message_id: str
) -> Composed:
    """The email this enrollment gets for this step (its variant, its spintax), written from
    `mailbox`: the preview and the preview's test email are the same email."""
    variant = choose_variant(enrollment, step, list(step.variants.all()))
    return compose(
        enrollment=enrollment,
        step=step,
        variant=variant,
        mailbox=mailbox,
        message_id=message_id,
    )


def preview(*, enrollment: Enrollment, step: Step, mailbox: Mailbox | None = None) -> Preview:
    """The exact email this enrollment gets for this step (same variant, same spintax)."""
    mailbox = mailbox or enrollment.mailbox or step.campaign.mailboxes.first()
    composed = compose_for(
        enrollment=enrollment, step=step, mailbox=mailbox, message_id=PREVIEW_MESSAGE_ID
    )
    parsed = email.message_from_bytes(composed.raw, policy=policy.default)
    part = parsed.get_body(preferencelist=("plain",))
    return Preview(
        subject=str(parsed["Subject"] or ""),
        body=part.get_content() if part else "",
        raw=composed.raw,
    )
