"""The sending engine end to end (issue 5, core): tick → message → send over real SMTP,
read back over IMAP; follow-ups in the same thread; never twice; nothing outside the window,
over the cap or after a stop; bounces; the sweeper and Sent-folder reconciliation."""

from __future__ import annotations

import email
import email.policy
import itertools
import threading
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connections

from accounts.errors import ServiceError
from campaigns import selectors as campaign_selectors
from campaigns import services
from campaigns.engine import scheduler, sender, sweeper
from campaigns.models import (
    ALL_WEEKDAYS,
    Campaign,
    CampaignStatus,
    Enrollment,
    EnrollmentStatus,
    MessageStatus,
    OutboundMessage,
)
from contacts import services as contact_services
from contacts.models import Contact, Suppression
from email_accounts.models import Mailbox
from email_accounts.services import ServerInput, mailbox_connect_smtp, smtp_imap_details
from tests.campaign_support import (
    TUESDAY_10,
    prospects,
    received_for,
    run_until_quiet,
    tick,
    two_step_campaign,
)
from webhooks.models import Event


def test_two_steps_go_out_once_each_in_the_same_thread(alice, trusted_mail_servers, sender_mailbox):
    servers = trusted_mail_servers
    contacts = prospects(alice, servers, 3)
    campaign = two_step_campaign(alice, sender_mailbox, contacts)
    services.campaign_launch(workspace=alice.workspace, campaign=campaign, now=TUESDAY_10)

    outcomes = run_until_quiet(TUESDAY_10)
    assert outcomes == ["sent"] * 3
    for contact in contacts:
        [raw] = received_for(servers, contact)
        assert b"Subject: =?utf-8?" in raw or b"Subject: Une question" in raw
        assert b"Claire Martin" in raw
    # Spaced: 20 s between two sends of the mailbox.
    sent_at = sorted(OutboundMessage.objects.unscoped().values_list("sent_at", flat=True))
    assert [b - a for a, b in itertools.pairwise(sent_at)] == [timedelta(seconds=20)] * 2

    # Nothing more until the delay: two sending days later (Thursday), inside the window.
    assert run_until_quiet(TUESDAY_10 + timedelta(days=1)) == []
    outcomes = run_until_quiet(TUESDAY_10 + timedelta(days=2, minutes=5))
    assert outcomes == ["sent"] * 3
    for contact in contacts:
        _first, follow_up = received_for(servers, contact)
        first_id = (
            OutboundMessage.objects.unscoped()
            .get(enrollment__contact=contact, step__position=0)
            .message_id
        )
        assert f"In-Reply-To: {first_id}".encode() in follow_up
        assert b"Subject: Re: Une question" in follow_up
    enrollments = Enrollment.objects.for_workspace(alice.workspace)
    assert set(enrollments.values_list("status", flat=True)) == {EnrollmentStatus.COMPLETED}
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED
    assert Event.objects.for_workspace(alice.workspace).filter(type="email.sent").count() == 6
    [listed] = campaign_selectors.campaigns_with_numbers(workspace=alice.workspace)
    assert (listed.contact_count, listed.sent_count, listed.bounced_count) == (3, 6, 0)
    # Each Message-ID reached the server exactly once.
    ids = [r.message["Message-ID"] for r in servers.smtp.received]
    assert len(ids) == len(set(ids)) == 6


def test_nothing_leaves_outside_the_window_and_waiting_costs_no_quota(
    alice, trusted_mail_servers, sender_mailbox
):
    contacts = prospects(alice, trusted_mail_servers, 2)
    campaign = two_step_campaign(alice, sender_mailbox, contacts)
    sunday_noon = datetime(2026, 6, 7, 10, 0, tzinfo=UTC)
    services.campaign_launch(workspace=alice.workspace, campaign=campaign, now=sunday_noon)
    assert tick(sunday_noon) == []
    sender_mailbox.refresh_from_db()
    assert sender_mailbox.sent_today == 0
    due = set(Enrollment.objects.for_workspace(alice.workspace).values_list("due_at", flat=True))
    assert due == {datetime(2026, 6, 8, 7, 0, tzinfo=UTC)}  # Monday 09:00 in Paris


def test_the_mailbox_cap_is_never_exceeded(alice, trusted_mail_servers, sender_mailbox):
    Mailbox.objects.for_workspace(alice.workspace).filter(pk=sender_mailbox.pk).update(
        daily_limit=2
    )
    contacts = prospects(alice, trusted_mail_servers, 4)
    campaign = two_step_campaign(alice, sender_mailbox, contacts)
    services.campaign_launch(workspace=alice.workspace, campaign=campaign, now=TUESDAY_10)
    assert run_until_quiet(TUESDAY_10) == ["sent", "sent"]
    assert len(trusted_mail_servers.smtp.received) == 2
    # The next day the count starts again.
    assert run_until_quiet(TUESDAY_10 + timedelta(days=1)) == ["sent", "sent"]


def test_a_reply_between_claim_and_send_withdraws_the_step(
    alice, trusted_mail_servers, sender_mailbox
):
    [contact] = prospects(alice, trusted_mail_servers, 1)
    campaign = two_step_campaign(alice, sender_mailbox, [contact])
    services.campaign_launch(workspace=alice.workspace, campaign=campaign, now=TUESDAY_10)
    [message_id] = tick(TUESDAY_10)
    Enrollment.objects.for_workspace(alice.workspace).update(status=EnrollmentStatus.REPLIED)
    assert sender.message_send(message_id=message_id, now=TUESDAY_10).startswith("withdrawn")
    assert trusted_mail_servers.smtp.received == []
    assert not OutboundMessage.objects.unscoped().exists()
    sender_mailbox.refresh_from_db()
    assert sender_mailbox.sent_today == 0  # the reserved send was given back


def test_a_paused_campaign_sends_nothing_more(alice, trusted_mail_servers, sender_mailbox):
    contacts = prospects(alice, trusted_mail_servers, 2)
    campaign = two_step_campaign(alice, sender_mailbox, contacts)
    services.campaign_launch(workspace=alice.workspace, campaign=campaign, now=TUESDAY_10)
    queued = tick(TUESDAY_10)
    services.campaign_pause(workspace=alice.workspace, campaign=campaign)
    assert [sender.message_send(message_id=m, now=TUESDAY_10) for m in queued] == [
        "withdrawn:campaign_not_active"
    ]
    assert run_until_quiet(TUESDAY_10 + timedelta(minutes=5)) == []
    assert trusted_mail_servers.smtp.received == []


def test_a_permanent_refusal_bounces_and_suppresses_the_contact(
    alice, trusted_mail_servers, sender_mailbox
):
    [contact] = prospects(alice, trusted_mail_servers, 1)
    trusted_mail_servers.smtp.refuse_recipient(contact.email, "550 5.1.1 No such user here")
    campaign = two_step_campaign(alice, sender_mailbox, [contact])
    services.campaign_launch(workspace=alice.workspace, campaign=campaign, now=TUESDAY_10)
    assert run_until_quiet(TUESDAY_10) == ["bounced"]
    contact.refresh_from_db()
    assert contact.status == "bounced"
    assert Suppression.objects.for_workspace(alice.workspace).filter(value=contact.email).exists()
    enrollment = Enrollment.objects.for_workspace(alice.workspace).get()
    assert enrollment.status == EnrollmentStatus.BOUNCED
    event = Event.objects.for_workspace(alice.workspace).get(type="email.bounced")
    assert event.data["bounce"]["enhanced_code"] == "5.1.1"


def test_a_crash_after_handing_over_is_reconciled_from_sent_never_resent(
    alice, trusted_mail_servers, sender_mailbox
):
    [contact] = prospects(alice, trusted_mail_servers, 1)
    campaign = two_step_campaign(alice, sender_mailbox, [contact])
    services.campaign_launch(workspace=alice.workspace, campaign=campaign, now=TUESDAY_10)
    trusted_mail_servers.smtp.drop_after_data()  # accepted, then the connection dies
    assert run_until_quiet(TUESDAY_10) == ["unknown"]
    message = OutboundMessage.objects.unscoped().get()
    assert message.status == MessageStatus.UNKNOWN
    # The sweeper never resends it; it finds it in the Sent folder and records it as sent.
    queued: list = []
    assert (
        sweeper.requeue_scheduled(enqueue=queued.append, now=TUESDAY_10 + timedelta(hours=1)) == 0
    )
    assert sweeper.reconcile_unknown() == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert len(trusted_mail_servers.smtp.received) == 1
    assert Enrollment.objects.for_workspace(alice.workspace).get().next_position == 1


def test_a_worker_dead_mid_send_leaves_unknown_after_the_lease(
    alice, trusted_mail_servers, sender_mailbox
):
    [contact] = prospects(alice, trusted_mail_servers, 1)
    campaign = two_step_campaign(alice, sender_mailbox, [contact])
    services.campaign_launch(workspace=alice.workspace, campaign=campaign, now=TUESDAY_10)
    queued = tick(TUESDAY_10)
    # The worker claimed it (scheduled → sending) and died before calling the server.
    OutboundMessage.objects.unscoped().update(
        status=MessageStatus.SENDING, sending_started_at=TUESDAY_10
    )
    assert sender.message_send(message_id=queued[0], now=TUESDAY_10) == "not_mine"
    assert sweeper.expire_sending(now=TUESDAY_10 + sweeper.SENDING_LEASE / 2) == 0
    assert sweeper.expire_sending(now=TUESDAY_10 + sweeper.SENDING_LEASE * 2) == 1
    assert sweeper.reconcile_unknown() == 0  # not in Sent: it stays unknown, for a person
    assert OutboundMessage.objects.unscoped().get().status == MessageStatus.UNKNOWN
    assert trusted_mail_servers.smtp.received == []


@pytest.mark.django_db(transaction=True)
def test_two_ticks_at_once_claim_each_due_step_once(alice, trusted_mail_servers, sender_mailbox):
    contacts = prospects(alice, trusted_mail_servers, 6)
    second, _pw = trusted_mail_servers.mailbox("sales2@sender.example.com")
    other = Mailbox.objects.for_workspace(alice.workspace).get(pk=sender_mailbox.pk)
    other.pk, other.email = None, second
    other.save()
    campaign = two_step_campaign(alice, sender_mailbox, contacts, weekdays=ALL_WEEKDAYS)
    campaign.mailboxes.add(other)
    services.campaign_launch(workspace=alice.workspace, campaign=campaign, now=TUESDAY_10)
    queued: list = []
    lock = threading.Lock()

    def tick() -> None:
        try:
            mine: list = []
            scheduler.scheduler_tick(enqueue=mine.append, now=TUESDAY_10)
            with lock:
                queued.extend(mine)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    messages = OutboundMessage.objects.unscoped()
    # One send per mailbox per tick (spacing), never two messages for one step.
    assert messages.count() == len(queued) == 2
    assert len(set(messages.values_list("enrollment_id", flat=True))) == 2
    assert {m.mailbox_id for m in messages} == {sender_mailbox.pk, other.pk}


def test_launch_problems_are_named(alice, sender_mailbox):
    campaign = services.campaign_create(
        workspace=alice.workspace, name="Empty", mailboxes=[], window_start=time(9)
    )
    with pytest.raises(Exception) as error:
        services.campaign_launch(workspace=alice.workspace, campaign=campaign)
    text = str(error.value)
    assert "Write at least one email" in text and "Choose at least one mailbox" in text
    assert "Add contacts" in text


def test_refused_credentials_move_a_new_contact_to_a_healthy_sender(
    alice, trusted_mail_servers, sender_mailbox
):
    """The first email has no thread yet: it may go from another of the campaign's mailboxes.
    The broken mailbox goes to error, once, and sends nothing more."""
    second, password = trusted_mail_servers.mailbox("backup@sender.example.com")
    servers = trusted_mail_servers
    backup = mailbox_connect_smtp(
        workspace=alice.workspace,
        details=smtp_imap_details(
            email=second,
            sender_name="Backup",
            smtp=ServerInput("localhost", servers.smtp.port, "starttls", password=password),
            imap=ServerInput("localhost", servers.dovecot.imaps_port, "ssl"),
            append_to_sent=True,
        ),
    )
    Mailbox.objects.for_workspace(alice.workspace).filter(pk=backup.pk).update(
        ramp_up_enabled=False, daily_limit=10
    )
    [contact] = prospects(alice, servers, 1)
    campaign = two_step_campaign(alice, sender_mailbox, [contact])
    campaign.mailboxes.add(backup)
    services.campaign_launch(workspace=alice.workspace, campaign=campaign, now=TUESDAY_10)
    # The sales mailbox (more quota left) picks the contact, then its password stops working.
    [message_id] = tick(TUESDAY_10)
    assert OutboundMessage.objects.unscoped().get().mailbox_id == sender_mailbox.pk
    servers.dovecot.add_user(sender_mailbox.email, "changed-at-the-host")
    assert sender.message_send(message_id=message_id, now=TUESDAY_10) == "moved"
    sender_mailbox.refresh_from_db()
    assert sender_mailbox.status == "error"
    assert run_until_quiet(TUESDAY_10 + timedelta(seconds=20)) == ["sent"]
    [received] = servers.smtp.received
    assert received.sender == backup.email
    assert Enrollment.objects.for_workspace(alice.workspace).get().mailbox_id == backup.pk


def test_an_unknown_email_is_sent_again_or_marked_sent_only_by_a_person(
    alice, trusted_mail_servers, sender_mailbox
):
    contacts = prospects(alice, trusted_mail_servers, 2)
    campaign = two_step_campaign(alice, sender_mailbox, contacts)
    services.campaign_launch(workspace=alice.workspace, campaign=campaign, now=TUESDAY_10)
    tick(TUESDAY_10)
    tick(TUESDAY_10 + timedelta(seconds=20))
    OutboundMessage.objects.unscoped().update(status=MessageStatus.UNKNOWN)
    first, second = OutboundMessage.objects.unscoped().order_by("created_at")
    sent = OutboundMessage(workspace=alice.workspace, status=MessageStatus.SENT)
    with pytest.raises(ServiceError, match="outcome is unknown"):
        services.message_mark_sent(workspace=alice.workspace, message=sent)
    later = TUESDAY_10 + timedelta(minutes=1)
    again = services.message_send_again(workspace=alice.workspace, message=first, now=later)
    assert again.status == MessageStatus.SCHEDULED and again.message_id != first.message_id
    assert first.message_id in again.error
    assert sender.message_send(message_id=again.pk, now=later) == "sent"
    services.message_mark_sent(workspace=alice.workspace, message=second)
    second.refresh_from_db()
    assert second.status == MessageStatus.SENT
    assert len(trusted_mail_servers.smtp.received) == 1
    assert set(
        Enrollment.objects.for_workspace(alice.workspace).values_list("next_position", flat=True)
    ) == {1}


def test_recipient_local_time_keeps_each_contact_in_their_own_window(
    alice, trusted_mail_servers, sender_mailbox
):
    zones = ["Europe/Paris", "America/New_York", "Asia/Tokyo"]
    contacts = prospects(alice, trusted_mail_servers, 3)
    for contact, zone in zip(contacts, zones, strict=True):
        Contact.objects.for_workspace(alice.workspace).filter(pk=contact.pk).update(timezone=zone)
    campaign = two_step_campaign(
        alice, sender_mailbox, contacts, recipient_local_time=True, weekdays=ALL_WEEKDAYS
    )
    start = datetime(2026, 6, 2, 0, 0, tzinfo=UTC)
    services.campaign_launch(workspace=alice.workspace, campaign=campaign, now=start)
    # Walk a whole day in 20-minute ticks; each email must leave inside 09:00-17:00 local.
    now = start
    while now < start + timedelta(days=1):
        run_until_quiet(now)
        now += timedelta(minutes=20)
    sent = OutboundMessage.objects.unscoped().select_related("enrollment__contact")
    assert sent.count() == 3
    for message in sent:
        local = message.sent_at.astimezone(ZoneInfo(message.enrollment.contact.timezone))
        assert time(9) <= local.time() < time(17), (message.enrollment.contact.timezone, local)


def test_reconciliation_takes_the_least_recently_checked_first(
    alice, trusted_mail_servers, sender_mailbox
):
    """Unknown emails never found in Sent (waiting for a person) must not starve newer ones."""
    contacts = prospects(alice, trusted_mail_servers, 3)
    campaign = two_step_campaign(alice, sender_mailbox, contacts)
    services.campaign_launch(workspace=alice.workspace, campaign=campaign, now=TUESDAY_10)
    for offset in range(3):
        tick(TUESDAY_10 + timedelta(seconds=20 * offset))
    OutboundMessage.objects.unscoped().update(status=MessageStatus.UNKNOWN)
    oldest_first = list(OutboundMessage.objects.unscoped().order_by("created_at"))
    now = TUESDAY_10 + timedelta(hours=1)
    assert sweeper.reconcile_unknown(limit=2, now=now) == 0
    checked = set(
        OutboundMessage.objects.unscoped()
        .filter(reconciled_at__isnull=False)
        .values_list("pk", flat=True)
    )
    assert checked == {oldest_first[0].pk, oldest_first[1].pk}
    assert sweeper.reconcile_unknown(limit=2, now=now + timedelta(minutes=1)) == 0
    newest = OutboundMessage.objects.unscoped().get(pk=oldest_first[2].pk)
    assert newest.reconciled_at == now + timedelta(minutes=1)


def parsed(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def test_done_means_a_two_step_campaign_launched_from_the_dashboard(
    alice, trusted_mail_servers, sender_mailbox
):
    """The issue's "done means", through the dashboard's own pages: created, written, given
    its contacts and launched by alice's browser session; then beat and the workers send step
    1 once to each contact inside the window, spaced, and step 2 in the same thread after the
    delay."""
    servers = trusted_mail_servers
    contacts = prospects(alice, servers, 3, domain="webinar.example.com")
    contact_list = contact_services.list_create(workspace=alice.workspace, name="Webinar")
    contact_services.list_add_contacts(
        workspace=alice.workspace,
        contact_list=contact_list,
        contacts=Contact.objects.for_workspace(alice.workspace),
    )

    def post(url: str, data: dict) -> None:
        response = alice.client.post(url, data)
        assert response.status_code == 302, response.content.decode()[:2000]

    with time_machine.travel(TUESDAY_10 - timedelta(hours=3), tick=False):  # 07:00 in Paris
        post("/campaigns/new/", {"name": "Webinar", "mailboxes": [sender_mailbox.pk]})
        campaign = Campaign.objects.for_workspace(alice.workspace).get()
        post(
            f"/campaigns/{campaign.pk}/settings/",
            {
                "name": "Webinar",
                "timezone": "Europe/Paris",
                "weekdays": ["0", "1", "2", "3", "4"],
                "window_start": "09:00",
                "window_end": "17:00",
                "spacing_min_seconds": "20",
                "spacing_max_seconds": "20",
                "stop_on_reply": "on",
                "body_format": "text",
                "bounce_pause_percent": "5",
                "out_of_office_days": "7",
                "mailboxes": [sender_mailbox.pk],
            },
        )
        steps = f"/campaigns/{campaign.pk}/steps/"
        post(steps, {"new-subject": "Une question, {{firstName|there}}", "new-body": "Bonjour."})
        post(
            steps,
            {"new-delay_amount": "2", "new-delay_unit": "days", "new-subject": "",
             "new-body": "Je relance, {{firstName}}."},
        )  # fmt: skip
        post(f"/campaigns/{campaign.pk}/enroll/", {"contact_list": contact_list.pk})
        post(f"/campaigns/{campaign.pk}/launch/", {})
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.ACTIVE

    # Launched at 07:00 in Paris: nothing before the window opens at 09:00.
    assert run_until_quiet(TUESDAY_10 - timedelta(hours=3)) == []
    assert servers.smtp.received == []
    outcomes = run_until_quiet(TUESDAY_10 - timedelta(hours=1))  # 09:00 in Paris
    assert outcomes == ["sent"] * 3
    first_ids = {}
    for contact in contacts:
        [first] = [parsed(raw) for raw in received_for(servers, contact)]
        assert first["Subject"] == f"Une question, {contact.first_name}"
        first_ids[contact.email] = first["Message-ID"]
    sent_at = sorted(OutboundMessage.objects.unscoped().values_list("sent_at", flat=True))
    assert sent_at[0] == TUESDAY_10 - timedelta(hours=1)
    assert [b - a for a, b in itertools.pairwise(sent_at)] == [timedelta(seconds=20)] * 2

    # Step 2: not on Wednesday, then on Thursday (two sending days later) at 09:00 in Paris.
    assert run_until_quiet(TUESDAY_10 + timedelta(days=1)) == []
    assert run_until_quiet(TUESDAY_10 + timedelta(days=2) - timedelta(hours=1)) == ["sent"] * 3
    for contact in contacts:
        first, follow_up = (parsed(raw) for raw in received_for(servers, contact))
        assert follow_up["In-Reply-To"] == first_ids[contact.email] == first["Message-ID"]
        assert first_ids[contact.email] in follow_up["References"]
        assert follow_up["Subject"] == f"Re: Une question, {contact.first_name}"
    # Exactly once each, at the receiving server.
    received_ids = [r.message["Message-ID"] for r in servers.smtp.received]
    assert len(received_ids) == len(set(received_ids)) == 6
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.COMPLETED
