"""What the campaign engine's tests share: a real SMTP + IMAP sending mailbox on the local
servers, prospects with mailboxes of their own, a two-step campaign, and beat + workers driven
by hand on a controllable clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import TestCase

from campaigns import services
from campaigns.engine import scheduler, sender
from campaigns.models import MessageStatus, OutboundMessage
from contacts import services as contact_services
from contacts.models import Contact
from email_accounts.models import Mailbox
from email_accounts.services import ServerInput, mailbox_connect_smtp, smtp_imap_details
from tests.mailboxes import read_inbox

# A Tuesday, 10:00 in Paris: inside a 09:00-17:00 working-day window.
TUESDAY_10 = datetime(2026, 6, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def sender_mailbox(alice, trusted_mail_servers) -> Mailbox:
    address, password = trusted_mail_servers.mailbox("sales@sender.example.com")
    servers = trusted_mail_servers
    details = smtp_imap_details(
        email=address,
        sender_name="Claire Martin",
        smtp=ServerInput("localhost", servers.smtp.port, "starttls", password=password),
        imap=ServerInput("localhost", servers.dovecot.imaps_port, "ssl"),
        append_to_sent=True,
    )
    mailbox = mailbox_connect_smtp(workspace=alice.workspace, details=details)
    Mailbox.objects.for_workspace(alice.workspace).filter(pk=mailbox.pk).update(
        daily_limit=100, ramp_up_enabled=False, spacing_min_seconds=20, spacing_max_seconds=20
    )
    mailbox.refresh_from_db()
    return mailbox


def prospects(alice, servers, count: int, domain: str = "reader.example.com") -> list[Contact]:
    """Contacts with their own mailboxes on the local servers (a domain of its own keeps a test
    clear of what earlier tests of the session delivered)."""
    contacts = []
    for index in range(count):
        address, _password = servers.mailbox(f"prospect{index}@{domain}")
        contacts.append(
            contact_services.contact_create(
                workspace=alice.workspace,
                data={"email": address, "first_name": f"Léa{index}", "company": "Acme"},
            )
        )
    return contacts


def two_step_campaign(alice, mailbox, contacts, **options):
    campaign = services.campaign_create(
        workspace=alice.workspace,
        name="Spring outreach",
        mailboxes=[mailbox],
        timezone="Europe/Paris",
        spacing_min_seconds=20,
        spacing_max_seconds=20,
        **options,
    )
    services.step_add(
        workspace=alice.workspace,
        campaign=campaign,
        subject="Une question, {{firstName|there}}",
        body="Bonjour {{firstName|there}},\n\n{Je vous écris|Je me permets de vous écrire} "
        "au sujet de {{company}}.\n\n{{sender.firstName}}",
    )
    services.step_add(
        workspace=alice.workspace,
        campaign=campaign,
        body="Je relance au cas où, {{firstName}}.",
        delay_amount=2,
        delay_unit="days",
    )
    services.campaign_enroll(
        workspace=alice.workspace,
        campaign=campaign,
        contacts=Contact.objects.for_workspace(alice.workspace).filter(
            pk__in=[c.pk for c in contacts]
        ),
    )
    return campaign


def tick(now: datetime) -> list:
    """One beat tick; returns the message ids it handed to the sending queue (on commit, which
    inside a test's transaction is simulated by running the callbacks)."""
    queued: list = []
    with TestCase.captureOnCommitCallbacks(execute=True):
        scheduler.scheduler_tick(enqueue=queued.append, now=now)
    return queued


def run_until_quiet(now: datetime, *, gap: timedelta = timedelta(seconds=20)) -> list[str]:
    """Ticks and sends, as beat and the workers would, moving the clock by the spacing."""
    outcomes = []
    for _round in range(50):
        queued = tick(now)
        for message_id in queued:
            outcomes.append(sender.message_send(message_id=message_id, now=now))
        if (
            not queued
            and not OutboundMessage.objects.unscoped()
            .filter(status=MessageStatus.SCHEDULED, next_attempt_at__lte=now)
            .exists()
        ):
            break
        now += gap
    return outcomes


def received_for(servers, contact: Contact) -> list[bytes]:
    return read_inbox(servers, contact.email, servers.dovecot.passwords[contact.email])
