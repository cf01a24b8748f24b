"""The exact email one enrollment gets for one step: variables, spintax and threading.

Deterministic: the variant and every spintax choice depend only on the enrollment and the
step, so a preview, a retry and the real send are the same email.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, replace

from campaigns import mime, templating
from campaigns.models import BodyFormat, Enrollment, Step, Variant
from campaigns.tracking.links import decorate
from contacts.models import Contact
from email_accounts.models import Mailbox


def contact_values(contact: Contact) -> dict[str, str]:
    return {
        "email": contact.email,
        "firstName": contact.first_name,
        "lastName": contact.last_name,
        "company": contact.company,
        "title": contact.title,
        "website": contact.website,
        "phone": contact.phone,
        "linkedinUrl": contact.linkedin_url,
        "country": contact.country,
        "timezone": contact.timezone,
    }


def sender_values(mailbox: Mailbox) -> dict[str, str]:
    first, _space, last = mailbox.sender_name.partition(" ")
    return {
        "firstName": first,
        "lastName": last,
        "name": mailbox.sender_name,
        "email": mailbox.email,
        "signature": mailbox.signature,
    }


def render_context(
    enrollment: Enrollment, step: Step, mailbox: Mailbox
) -> templating.RenderContext:
    contact = enrollment.contact
    return templating.RenderContext(
        contact=contact_values(contact),
        custom={key: str(value) for key, value in (contact.custom_fields or {}).items()},
        sender=sender_values(mailbox),
        seed=f"{enrollment.pk}:{step.pk}",
    )


def choose_variant(enrollment: Enrollment, step: Step, variants: list[Variant]) -> Variant:
    """A/B split by weight, the same answer for the same enrollment every time (for the same
    weights). A variant of weight 0 gets no contact; the services keep one weight above 0, and
    should every weight be 0 anyway, the split is even rather than the email never sent."""
    if len(variants) == 1:
        return variants[0]
    weighted = [(v, v.weight) for v in variants if v.weight > 0] or [(v, 1) for v in variants]
    total = sum(weight for _variant, weight in weighted)
    digest = hashlib.sha256(f"variant:{enrollment.pk}:{step.pk}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") % total
    for variant, weight in weighted:
        point -= weight
        if point < 0:
            return variant
    return weighted[-1][0]


@dataclass(frozen=True)
class Composed:
    raw: bytes
    subject: str


def compose(
    *,
    enrollment: Enrollment,
    step: Step,
    variant: Variant,
    mailbox: Mailbox,
    message_id: str,
    tracking_id: uuid.UUID | None = None,
) -> Composed:
    """`tracking_id` is the OutboundMessage the unsubscribe, open and click links act on; None
    for a preview or a test email (the same links, signed for no one)."""
    campaign = step.campaign
    ctx = render_context(enrollment, step, mailbox)
    html = campaign.body_format == BodyFormat.HTML
    # Each part draws its own spintax: the subject's first {a|b} must not mirror the body's.
    subject_ctx = replace(ctx, seed=f"{ctx.seed}:subject")
    subject = templating.render(variant.subject, subject_ctx) if variant.subject.strip() else ""
    body = templating.render(variant.body, replace(ctx, seed=f"{ctx.seed}:body"), html=html)
    # Unsubscribe line and List-Unsubscribe headers; with HTML, the pixel and tracked links.
    decorated = decorate(
        campaign=campaign, body=body, html=html, sender_email=mailbox.email, message_pk=tracking_id
    )
    follow_up = bool(enrollment.last_message_id)
    draft = mime.Draft(
        sender_email=mailbox.email,
        sender_name=mailbox.sender_name,
        to_email=enrollment.contact.email,
        to_name=enrollment.contact.full_name,
        subject=subject,
        previous_subject=enrollment.last_subject if follow_up and not subject else "",
        text=decorated.text,
        html=decorated.html,
        in_reply_to=enrollment.last_message_id if follow_up else "",
        references=(enrollment.last_message_id,) if follow_up else (),
        headers=decorated.headers,
    )
    raw = mime.build(draft, message_id=message_id)
    shown_subject = subject or (f"Re: {enrollment.last_subject}" if follow_up else "")
    return Composed(raw=raw, subject=shown_subject)
