"""Replies, out-of-office, bounces and unsubscribe requests end to end (issue 6): a campaign
sends through the local SMTP server, the answer is delivered into the sending mailbox on the
local Dovecot, the sync reads it over IMAP, and the sequence stops, pauses or bounces exactly
where it should — and never on our own mail."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest
from django.test import TestCase
from django.utils import timezone

from campaigns import selectors as campaign_selectors
from campaigns import services
from campaigns.inbound import effects
from campaigns.inbound.sync import mailbox_sync, mailboxes_sync_due
from campaigns.models import (
    CampaignStatus,
    Enrollment,
    EnrollmentStatus,
    InboundEmail,
    InboundKind,
    MessageStatus,
    OutboundMessage,
)
from contacts import services as contact_services
from contacts.models import Contact, ContactStatus, Suppression
from email_accounts.models import Mailbox, MailboxStatus
from tests.campaign_support import TUESDAY_10, prospects, run_until_quiet, two_step_campaign
from tests.test_gmail_connect import connect
from webhooks.models import Event

THURSDAY_10 = TUESDAY_10 + timedelta(days=2, minutes=5)  # after every step 1 + 2 days


@pytest.fixture
def launched(alice, trusted_mail_servers, sender_mailbox):
    """Two contacts got email 1 on Tuesday; the mailbox's sync has set its starting point."""
    contacts = prospects(alice, trusted_mail_servers, 2, domain="inbound.example.com")
    campaign = two_step_campaign(alice, sender_mailbox, contacts)
    services.campaign_launch(workspace=alice.workspace, campaign=campaign, now=TUESDAY_10)
    assert run_until_quiet(TUESDAY_10) == ["sent", "sent"]
    assert mailbox_sync(mailbox_id=sender_mailbox.pk).error == ""  # the starting point
    return campaign, contacts


def first_email(contact: Contact) -> OutboundMessage:
    return OutboundMessage.objects.unscoped().get(enrollment__contact=contact, step__position=0)


def reply(contact: Contact, to: Mailbox, body: str, *, refer: str = "", **headers) -> bytes:
    """A reply as a mail client writes it: Re: subject, In-Reply-To and References."""
    message = EmailMessage()
    message["From"] = f"{contact.first_name} <{contact.email}>"
    message["To"] = to.email
    message["Subject"] = headers.pop("subject", "Re: Une question, " + contact.first_name)
    message["Date"] = format_datetime(TUESDAY_10 + timedelta(hours=2))
    message["Message-ID"] = make_msgid(domain="inbound.example.com")
    if refer:
        message["In-Reply-To"] = refer
        message["References"] = refer
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes()


def dsn(to: Mailbox, *, recipient: str, original_id: str, status: str, diagnostic: str) -> bytes:
    """An RFC 3464 delivery status notification, as Postfix writes one."""
    boundary = "2D1A93F2C4.1780387500/mx.inbound.example.com"
    return f"""\
From: MAILER-DAEMON@mx.inbound.example.com (Mail Delivery System)
To: {to.email}
Subject: Undelivered Mail Returned to Sender
Date: {format_datetime(TUESDAY_10 + timedelta(minutes=5))}
Message-ID: {make_msgid(domain="mx.inbound.example.com")}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="{boundary}"

--{boundary}
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.inbound.example.com.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

--{boundary}
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.inbound.example.com
Arrival-Date: {format_datetime(TUESDAY_10)}

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: failed
Status: {status}
Diagnostic-Code: smtp; {diagnostic}

--{boundary}
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: Claire Martin <{to.email}>
To: {recipient}
Subject: Une question
Message-ID: {original_id}

--{boundary}--
""".replace("\n", "\r\n").encode()


def deliver(servers, mailbox: Mailbox, raw: bytes) -> None:
    servers.dovecot.deliver(mailbox.email, raw)


def test_a_reply_stops_the_sequence_and_nothing_more_goes_to_that_contact(
    alice, trusted_mail_servers, sender_mailbox, launched
):
    _campaign, (paula, _remi) = launched
    ours = first_email(paula)
    deliver(
        trusted_mail_servers,
        sender_mailbox,
        reply(
            paula,
            sender_mailbox,
            "Oui, volontiers : appelez-moi jeudi.\n\n"
            f"Le mar. 2 juin 2026 à 10:00, Claire Martin <{sender_mailbox.email}> a écrit :\n"
            "> Bonjour Léa0,\n> Je me permets de vous écrire au sujet de Acme.\n",
            refer=ours.message_id,
        ),
    )
    result = mailbox_sync(mailbox_id=sender_mailbox.pk)
    assert (result.new, result.read, result.recorded) == (1, 1, 1)

    [inbound] = InboundEmail.objects.for_workspace(alice.workspace)
    assert inbound.kind == InboundKind.REPLY
    assert inbound.answers == ours and inbound.matched_by == "headers"
    assert not inbound.low_confidence
    assert "appelez-moi jeudi" in inbound.text and "a écrit" not in inbound.text
    enrollment = Enrollment.objects.for_workspace(alice.workspace).get(contact=paula)
    assert enrollment.status == EnrollmentStatus.REPLIED
    [event] = Event.objects.for_workspace(alice.workspace).filter(type="email.replied")
    assert event.data["contact"]["email"] == paula.email
    assert event.data["email"]["message_id"] == ours.message_id

    # Thursday: email 2 goes to Rémi only.
    assert run_until_quiet(THURSDAY_10) == ["sent"]
    assert (
        not OutboundMessage.objects.unscoped()
        .filter(enrollment__contact=paula, step__position=1)
        .exists()
    )

    # Reading the same message again (a retried sync) changes nothing.
    Mailbox.objects.unscoped().filter(pk=sender_mailbox.pk).update(sync_cursor={})
    mailbox_sync(mailbox_id=sender_mailbox.pk)
    assert InboundEmail.objects.for_workspace(alice.workspace).count() == 1


def test_our_own_message_in_the_inbox_is_never_a_reply(
    alice, trusted_mail_servers, sender_mailbox, launched
):
    """A copy of our own email landing in the inbox (a Bcc to self, a rule) cites our thread
    and comes from our address: it is ours, not the contact's answer."""
    _campaign, (paula, _remi) = launched
    ours = first_email(paula)
    copy = reply(paula, sender_mailbox, "Je relance au cas où.", refer=ours.message_id)
    copy = copy.replace(
        f"From: {paula.first_name} <{paula.email}>".encode(),
        f"From: Claire Martin <{sender_mailbox.email}>".encode(),
    )
    # The step-2 copy carries our own Message-ID, as the real one would.
    step_two = OutboundMessage.objects.unscoped().filter(enrollment__contact=paula).first()
    copy = copy.replace(b"Message-ID: <", b"X-Old-Id: <", 1)
    copy = f"Message-ID: {step_two.message_id}\r\n".encode() + copy
    deliver(trusted_mail_servers, sender_mailbox, copy)
    mailbox_sync(mailbox_id=sender_mailbox.pk)
    assert not InboundEmail.objects.for_workspace(alice.workspace).exists()
    assert (
        Enrollment.objects.for_workspace(alice.workspace).get(contact=paula).status
        == EnrollmentStatus.ACTIVE
    )


def test_unrelated_mail_is_never_read_whole(alice, trusted_mail_servers, sender_mailbox, launched):
    newsletter = EmailMessage()
    newsletter["From"] = "news@shop.example.org"
    newsletter["To"] = sender_mailbox.email
    newsletter["Subject"] = "Soldes d'hiver"
    newsletter["Message-ID"] = make_msgid(domain="shop.example.org")
    newsletter.set_content("-50 % sur tout.")
    deliver(trusted_mail_servers, sender_mailbox, newsletter.as_bytes())
    result = mailbox_sync(mailbox_id=sender_mailbox.pk)
    assert (result.new, result.read, result.recorded) == (1, 0, 0)
    assert not InboundEmail.objects.for_workspace(alice.workspace).exists()


def test_out_of_office_pauses_until_the_person_is_back_then_resumes(
    alice, trusted_mail_servers, sender_mailbox, launched
):
    _campaign, (paula, _remi) = launched
    ours = first_email(paula)
    deliver(
        trusted_mail_servers,
        sender_mailbox,
        reply(
            paula,
            sender_mailbox,
            "Bonjour,\n\nJe suis absente du bureau et serai de retour le 15 juin 2026.\n"
            "Pour toute urgence, contactez accueil@inbound.example.com.\n",
            refer=ours.message_id,
            subject="Réponse automatique : Une question, Léa0",
            Auto_Submitted="auto-replied",
        ),
    )
    mailbox_sync(mailbox_id=sender_mailbox.pk)
    [inbound] = InboundEmail.objects.for_workspace(alice.workspace)
    assert inbound.kind == InboundKind.AUTO_REPLY
    assert inbound.return_date == date(2026, 6, 15)
    enrollment = Enrollment.objects.for_workspace(alice.workspace).get(contact=paula)
    assert enrollment.status == EnrollmentStatus.PAUSED
    # Back on Monday 15 June; the sequence resumes the next day at 09:00 in Paris.
    assert enrollment.paused_until == datetime.fromisoformat("2026-06-16T09:00:00+02:00")
    [why] = campaign_selectors.explain(enrollment=enrollment).reasons
    assert why.startswith("Paused: an out-of-office reply. The sequence resumes")
    assert "(Europe/Paris)" in why
    assert Event.objects.for_workspace(alice.workspace).filter(type="email.auto_replied").exists()
    assert not Event.objects.for_workspace(alice.workspace).filter(type="email.replied").exists()

    # Thursday: email 2 goes to Rémi only; Paula waits.
    assert run_until_quiet(THURSDAY_10) == ["sent"]
    # 16 June, after the pause: the sweep puts her back, and email 2 goes.
    back = datetime.fromisoformat("2026-06-16T09:00:00+02:00")
    assert effects.enrollments_resume_due(now=back) == 1
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.ACTIVE
    assert run_until_quiet(back) == ["sent"]
    assert (
        OutboundMessage.objects.unscoped()
        .filter(enrollment__contact=paula, step__position=1, status=MessageStatus.SENT)
        .exists()
    )


def test_a_hard_bounce_suppresses_exactly_that_address(
    alice, trusted_mail_servers, sender_mailbox, launched
):
    _campaign, (paula, remi) = launched
    ours = first_email(paula)
    deliver(
        trusted_mail_servers,
        sender_mailbox,
        dsn(
            sender_mailbox,
            recipient=paula.email,
            original_id=ours.message_id,
            status="5.1.1",
            diagnostic="550 5.1.1 <" + paula.email + ">: Recipient address rejected: "
            "User unknown in virtual mailbox table",
        ),
    )
    mailbox_sync(mailbox_id=sender_mailbox.pk)
    [inbound] = InboundEmail.objects.for_workspace(alice.workspace)
    assert (inbound.kind, inbound.bounce_class, inbound.answers) == ("bounce", "hard", ours)
    ours.refresh_from_db()
    assert ours.status == MessageStatus.BOUNCED and ours.error_code == "5.1.1"
    paula.refresh_from_db()
    remi.refresh_from_db()
    assert (paula.status, remi.status) == (ContactStatus.BOUNCED, ContactStatus.ACTIVE)
    suppressed = set(
        Suppression.objects.for_workspace(alice.workspace).values_list("value", flat=True)
    )
    assert suppressed == {paula.email.lower()}
    event = Event.objects.for_workspace(alice.workspace).get(type="email.bounced")
    assert event.data["bounce"]["type"] == "hard" and event.data["bounce"]["source"] == "dsn"
    assert run_until_quiet(THURSDAY_10) == ["sent"]  # Rémi only


def test_the_quota_report_pauses_the_mailbox_and_blames_no_one(
    alice, trusted_mail_servers, sender_mailbox, launched
):
    _campaign, (paula, _remi) = launched
    ours = first_email(paula)
    deliver(
        trusted_mail_servers,
        sender_mailbox,
        dsn(
            sender_mailbox,
            recipient=paula.email,
            original_id=ours.message_id,
            status="5.4.5",
            diagnostic="550 5.4.5 Daily user sending quota exceeded.",
        ),
    )
    mailbox_sync(mailbox_id=sender_mailbox.pk)
    sender_mailbox.refresh_from_db()
    assert sender_mailbox.status == MailboxStatus.PAUSED and sender_mailbox.paused_until
    paula.refresh_from_db()
    assert paula.status == ContactStatus.ACTIVE
    assert not Suppression.objects.for_workspace(alice.workspace).exists()


def test_a_policy_block_flags_the_sender_not_the_contact(
    alice, trusted_mail_servers, sender_mailbox, launched
):
    campaign, (paula, _remi) = launched
    ours = first_email(paula)
    deliver(
        trusted_mail_servers,
        sender_mailbox,
        dsn(
            sender_mailbox,
            recipient=paula.email,
            original_id=ours.message_id,
            status="5.7.26",
            diagnostic="550 5.7.26 Unauthenticated email from sender.example.com is not "
            "accepted due to domain's DMARC policy.",
        ),
    )
    mailbox_sync(mailbox_id=sender_mailbox.pk)
    sender_mailbox.refresh_from_db()
    campaign.refresh_from_db()
    paula.refresh_from_db()
    assert sender_mailbox.blocked_at is not None and "DMARC" in sender_mailbox.blocked_reason
    assert "DMARC" in campaign.warning
    assert paula.status == ContactStatus.ACTIVE


def test_a_reply_asking_to_unsubscribe_suppresses_the_address(
    alice, trusted_mail_servers, sender_mailbox, launched
):
    _campaign, (paula, _remi) = launched
    deliver(
        trusted_mail_servers,
        sender_mailbox,
        reply(
            paula,
            sender_mailbox,
            "Merci de me désabonner de vos envois.",
            refer=first_email(paula).message_id,
        ),
    )
    mailbox_sync(mailbox_id=sender_mailbox.pk)
    paula.refresh_from_db()
    assert paula.status == ContactStatus.UNSUBSCRIBED
    assert Suppression.objects.for_workspace(alice.workspace).filter(value=paula.email.lower())
    assert Event.objects.for_workspace(alice.workspace).filter(type="contact.unsubscribed")


def test_a_colleague_answering_a_forward_is_flagged_and_stops_the_sequence(
    alice, trusted_mail_servers, sender_mailbox, launched
):
    _campaign, (paula, _remi) = launched
    colleague = Contact(email="direction@inbound.example.com", first_name="Marc")
    deliver(
        trusted_mail_servers,
        sender_mailbox,
        reply(
            colleague,
            sender_mailbox,
            "Léa m'a transféré votre message : parlons-en.",
            refer=first_email(paula).message_id,
        ),
    )
    mailbox_sync(mailbox_id=sender_mailbox.pk)
    [inbound] = InboundEmail.objects.for_workspace(alice.workspace)
    assert inbound.kind == InboundKind.REPLY and inbound.low_confidence
    assert inbound.contact_id == paula.pk
    assert (
        Enrollment.objects.for_workspace(alice.workspace).get(contact=paula).status
        == EnrollmentStatus.REPLIED
    )


def test_the_beat_hands_each_due_mailbox_to_the_sync_queue_once(
    alice, trusted_mail_servers, sender_mailbox, launched
):
    queued: list = []
    later = timezone.now() + timedelta(hours=1)  # the fixture's sync ran just now
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert mailboxes_sync_due(enqueue=queued.append, now=later) == 1
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert mailboxes_sync_due(enqueue=queued.append, now=later) == 0  # a second beat
    assert queued == [sender_mailbox.pk]


def test_bounce_protection_pauses_the_campaign(alice, trusted_mail_servers, sender_mailbox):
    contacts = prospects(alice, trusted_mail_servers, 24, domain="bounces.example.com")
    campaign = two_step_campaign(alice, sender_mailbox, contacts)
    services.campaign_launch(workspace=alice.workspace, campaign=campaign, now=TUESDAY_10)
    assert run_until_quiet(TUESDAY_10).count("sent") == 24
    mailbox_sync(mailbox_id=sender_mailbox.pk)  # the starting point
    for contact in contacts[:2]:  # 2 of 24 = 8%, over the default 5%
        deliver(
            trusted_mail_servers,
            sender_mailbox,
            dsn(
                sender_mailbox,
                recipient=contact.email,
                original_id=first_email(contact).message_id,
                status="5.1.1",
                diagnostic="550 5.1.1 User unknown",
            ),
        )
    mailbox_sync(mailbox_id=sender_mailbox.pk)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED
    assert "bounce protection" in campaign.status_reason
    paused = Event.objects.for_workspace(alice.workspace).get(type="campaign.paused")
    assert paused.data["reason"] == "bounce_protection"
    assert paused.data["bounce_rate_percent"] == pytest.approx(8.3, abs=0.1)


def test_a_gmail_reply_in_the_thread_stops_the_sequence(alice, google):
    """Through the local Google server: the sync reads users.history.list from its stored
    history id, and a reply without In-Reply-To is still matched by its Gmail thread."""
    address = "rep@gmail.example.com"
    google.add_account(address)
    mailbox, _page = connect(alice, google, address)
    Mailbox.objects.for_workspace(alice.workspace).filter(pk=mailbox.pk).update(
        sender_name="Claire Martin",
        ramp_up_enabled=False,
        spacing_min_seconds=20,
        spacing_max_seconds=20,
    )
    contact = contact_services.contact_create(
        workspace=alice.workspace,
        data={"email": "lea@prospect.example.com", "first_name": "Léa", "company": "Acme"},
    )
    campaign = two_step_campaign(alice, mailbox, [contact])
    services.campaign_launch(workspace=alice.workspace, campaign=campaign, now=TUESDAY_10)
    assert run_until_quiet(TUESDAY_10) == ["sent"]
    assert mailbox_sync(mailbox_id=mailbox.pk).error == ""  # the starting history id
    ours = first_email(contact)
    assert ours.provider_thread_id

    answer = reply(contact, mailbox, "Avec plaisir, rappelez-moi demain.")  # no In-Reply-To
    google.accounts[address].add(
        answer, labels=["INBOX", "UNREAD"], thread_id=ours.provider_thread_id
    )
    result = mailbox_sync(mailbox_id=mailbox.pk)
    assert (result.new, result.recorded) == (1, 1)
    [inbound] = InboundEmail.objects.for_workspace(alice.workspace)
    assert (inbound.kind, inbound.matched_by, inbound.answers) == ("reply", "thread", ours)
    assert (
        Enrollment.objects.for_workspace(alice.workspace).get(contact=contact).status
        == EnrollmentStatus.REPLIED
    )
    # Never marked read: the UNREAD label is still there.
    [stored] = [m for m in google.accounts[address].messages.values() if m.raw == answer]
    assert "UNREAD" in stored.label_ids


def test_support_sees_the_verdict_and_its_rules_in_the_admin(
    alice, trusted_mail_servers, sender_mailbox, launched, client, django_user_model
):
    _campaign, (paula, _remi) = launched
    deliver(
        trusted_mail_servers,
        sender_mailbox,
        reply(
            paula, sender_mailbox, "Intéressée, parlons-en.", refer=first_email(paula).message_id
        ),
    )
    mailbox_sync(mailbox_id=sender_mailbox.pk)
    [inbound] = InboundEmail.objects.for_workspace(alice.workspace)
    staff = django_user_model.objects.create_superuser(
        email="support@fluenzr.example", password="x"
    )
    client.force_login(staff)
    page = client.get(f"/admin/campaigns/inboundemail/{inbound.pk}/change/").content.decode()
    assert "&quot;kind&quot;: &quot;reply&quot;" in page
    assert "&quot;rules&quot;" in page


def test_stats_count_replies_and_bounces_per_step(
    alice, trusted_mail_servers, sender_mailbox, launched
):
    campaign, (paula, remi) = launched
    deliver(
        trusted_mail_servers,
        sender_mailbox,
        reply(paula, sender_mailbox, "Oui, parlons-en.", refer=first_email(paula).message_id),
    )
    deliver(
        trusted_mail_servers,
        sender_mailbox,
        dsn(
            sender_mailbox,
            recipient=remi.email,
            original_id=first_email(remi).message_id,
            status="5.1.1",
            diagnostic="550 5.1.1 User unknown",
        ),
    )
    mailbox_sync(mailbox_id=sender_mailbox.pk)
    stats = campaign_selectors.campaign_stats(campaign)
    [row] = stats["steps"]
    assert (row["step"], row["sent"], row["replied"], row["bounced"]) == (1, 2, 1, 1)
    assert (row["auto_replied"], row["opened"], row["unsubscribed"]) == (0, 0, 0)
    assert row["reply_rate"] == 50.0
    assert stats["totals"]["replied"] == 1
    assert stats["contacts"]["replied"] == 1 and stats["contacts"]["bounced"] == 1
