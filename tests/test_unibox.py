"""The unified inbox (issue 6): one line per conversation, newest first, filtered; a
conversation in order; the lead status and its event; an answer sent through the mailbox that
received the reply, in the same thread, over a real SMTP server and read back over IMAP."""

from __future__ import annotations

import email
import email.policy
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.errors import ServiceError
from campaigns import services as campaign_services
from campaigns.engine import scheduler, sender
from campaigns.models import (
    Enrollment,
    EnrollmentStatus,
    InboundEmail,
    OutboundMessage,
    OutboundReply,
)
from campaigns.unibox import selectors, services
from contacts import services as contact_services
from contacts.models import Contact
from email_accounts.models import Mailbox
from email_accounts.services import ServerInput, mailbox_connect_smtp, smtp_imap_details
from tests.conftest import PASSWORD
from tests.factories import UserFactory
from tests.mailboxes import read_inbox, unchecked_smtp_mailbox
from webhooks.models import Event

# A Tuesday, 10:00 in Paris: inside a 09:00-17:00 working-day window.
TUESDAY_10 = datetime(2026, 6, 2, 8, 0, tzinfo=UTC)
_ids = itertools.count(1)


def inbound_email(
    enrollment: Enrollment | None,
    *,
    mailbox: Mailbox,
    received_at: datetime,
    kind: str = "reply",
    contact: Contact | None = None,
    **fields,
) -> InboundEmail:
    """A message as the sync stores it (the sync itself is tested elsewhere)."""
    n = next(_ids)
    contact = contact or (enrollment.contact if enrollment else None)
    values = {
        "provider_message_id": f"INBOX:1:{n}",
        "message_id": f"<reply-{n}@reader.example.com>",
        "from_email": contact.email if contact else f"someone{n}@elsewhere.example",
        "from_name": contact.full_name if contact else "",
        "subject": "Re: Hello",
        "text": f"Reply number {n}.\nSecond line.",
        "body": f"Reply number {n}.\nSecond line.\n\n> Hello, quoted history",
        "matched_by": "headers",
    }
    return InboundEmail.objects.create(
        workspace=mailbox.workspace,
        mailbox=mailbox,
        kind=kind,
        contact=contact,
        enrollment=enrollment,
        received_at=received_at,
        **(values | fields),
    )


def campaign_with(workspace, mailbox, emails: list[str], name: str = "Spring outreach"):
    campaign = campaign_services.campaign_create(
        workspace=workspace, name=name, mailboxes=[mailbox]
    )
    campaign_services.step_add(
        workspace=workspace, campaign=campaign, subject="Hello", body="Hi {{firstName|there}}"
    )
    contacts = []
    for address in emails:
        found = Contact.objects.for_workspace(workspace).filter(email=address).first()
        contacts.append(
            found
            or contact_services.contact_create(
                workspace=workspace,
                data={"email": address, "first_name": address.split("@")[0].title()},
            )
        )
    campaign_services.campaign_enroll(
        workspace=workspace,
        campaign=campaign,
        contacts=Contact.objects.for_workspace(workspace).filter(pk__in=[c.pk for c in contacts]),
    )
    enrollments = Enrollment.objects.for_workspace(workspace).filter(campaign=campaign)
    return campaign, {e.contact.email: e for e in enrollments.select_related("contact")}


def sent_message(enrollment: Enrollment, *, at: datetime, message_id: str) -> OutboundMessage:
    step = enrollment.campaign.steps.get(position=0)
    return OutboundMessage.objects.create(
        workspace=enrollment.workspace,
        enrollment=enrollment,
        step=step,
        variant=step.variants.get(),
        mailbox=enrollment.campaign.mailboxes.get(),
        status="sent",
        message_id=message_id,
        subject="Hello",
        quota_day=at.date(),
        next_attempt_at=at,
        sent_at=at,
    )


@pytest.fixture
def inbox(alice):
    """Two mailboxes, two campaigns, three conversations (one with two replies), a bounce,
    and charlie's reply in another workspace."""
    ws = alice.workspace
    sales = unchecked_smtp_mailbox(ws, "sales@alice.example.com")
    ops = unchecked_smtp_mailbox(ws, "ops@alice.example.com")
    spring, spring_enrollments = campaign_with(
        ws, sales, ["ana@reader.example.com", "ben@reader.example.com"]
    )
    autumn, autumn_enrollments = campaign_with(ws, ops, ["cara@reader.example.com"], name="Autumn")
    now = timezone.now()
    ana = spring_enrollments["ana@reader.example.com"]
    ben = spring_enrollments["ben@reader.example.com"]
    cara = autumn_enrollments["cara@reader.example.com"]
    rows = {
        "ana_first": inbound_email(ana, mailbox=sales, received_at=now - timedelta(hours=5)),
        "ben_ooo": inbound_email(
            ben,
            mailbox=sales,
            received_at=now - timedelta(hours=4),
            kind="auto_reply",
            subject="Absence du bureau",
            return_date=(now + timedelta(days=7)).date(),
            text="Je suis absent jusqu'au 12.",
        ),
        "cara": inbound_email(
            cara, mailbox=ops, received_at=now - timedelta(hours=3), low_confidence=True
        ),
        "ana_second": inbound_email(ana, mailbox=sales, received_at=now - timedelta(hours=1)),
        "bounce": inbound_email(
            ana, mailbox=sales, received_at=now, kind="bounce", subject="Undelivered"
        ),
    }
    Contact.objects.for_workspace(ws).filter(email="cara@reader.example.com").update(
        lead_status="interested"
    )
    InboundEmail.objects.for_workspace(ws).filter(pk=rows["cara"].pk).update(read=True)
    return {
        "sales": sales,
        "ops": ops,
        "spring": spring,
        "autumn": autumn,
        "ana": ana,
        "ben": ben,
        "cara": cara,
        **rows,
    }


def _rows(workspace, **filters) -> list[str]:
    page = selectors.inbox_page(workspace=workspace, filters=selectors.InboxFilters(**filters))
    return [row.from_email.split("@")[0] for row in page.rows]


# ----------------------------------------------------------------------------- the list


def test_one_line_per_conversation_newest_first(alice, inbox):
    page = selectors.inbox_page(workspace=alice.workspace, filters=selectors.InboxFilters())
    assert [row.pk for row in page.rows] == [
        inbox["ana_second"].pk,  # ana's latest message stands for her conversation
        inbox["cara"].pk,
        inbox["ben_ooo"].pk,
    ]
    assert page.next_cursor is None
    assert [row.has_unread for row in page.rows] == [True, False, True]
    assert page.rows[0].preview == inbox["ana_second"].text.splitlines()[0]


def test_filters_by_campaign_mailbox_lead_status_unread_and_kind(alice, inbox):
    ws = alice.workspace
    assert _rows(ws, campaign=inbox["autumn"].pk) == ["cara"]
    assert _rows(ws, campaign=inbox["spring"].pk) == ["ana", "ben"]
    assert _rows(ws, mailbox=inbox["sales"].pk) == ["ana", "ben"]
    assert _rows(ws, lead_status="interested") == ["cara"]
    assert _rows(ws, lead_status=selectors.NO_LEAD_STATUS) == ["ana", "ben"]
    assert _rows(ws, unread=True) == ["ana", "ben"]
    assert _rows(ws, kind="auto_reply") == ["ben"]
    assert _rows(ws, kind="reply") == ["ana", "cara"]
    assert _rows(ws, kind="reply", unread=True, mailbox=inbox["sales"].pk) == ["ana"]


def test_the_page_filters_with_get_parameters(alice, inbox):
    response = alice.client.get("/inbox/", {"campaign": str(inbox["autumn"].pk)})
    body = response.content.decode()
    assert response.status_code == 200
    assert "cara@reader.example.com" in body
    assert "ana@reader.example.com" not in body
    body = alice.client.get("/inbox/", {"kind": "auto_reply"}).content.decode()
    assert "ben@reader.example.com" in body and "cara@reader.example.com" not in body
    assert "Out of office until" in body
    body = alice.client.get("/inbox/", {"unread": "on"}).content.decode()
    assert "cara@reader.example.com" not in body and "ana@reader.example.com" in body
    # A campaign that no longer exists matches nothing rather than everything.
    body = alice.client.get("/inbox/", {"campaign": "00000000-0000-0000-0000-00000000abcd"})
    assert "No conversation matches these filters" in body.content.decode()


def test_the_page_shows_what_a_row_needs(alice, inbox):
    body = alice.client.get("/inbox/").content.decode()
    assert "Reply number" in body  # the first line of the new text
    assert "Second line" not in body
    assert "Spring outreach" in body and "Autumn" in body
    assert "ops@alice.example.com" in body
    assert "Low confidence" in body
    assert 'class="badge badge-success">Interested' in body
    assert body.count('class="inbox-row unread"') == 2
    assert "Undelivered" not in body  # bounces are not conversations


def test_the_query_count_does_not_grow_with_the_rows(alice, inbox, django_assert_max_num_queries):
    with CaptureQueriesContext(connection) as few:
        assert alice.client.get("/inbox/").status_code == 200
    now = timezone.now()
    emails = [f"p{i}@reader.example.com" for i in range(40)]
    _campaign, enrollments = campaign_with(alice.workspace, inbox["ops"], emails, name="Big")
    for index, enrollment in enumerate(enrollments.values()):
        inbound_email(enrollment, mailbox=inbox["ops"], received_at=now - timedelta(minutes=index))
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = alice.client.get("/inbox/", {"kind": "reply", "lead_status": "none"})
    assert response.content.decode().count('class="inbox-row') == 41
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = alice.client.get("/inbox/")
    assert response.content.decode().count('class="inbox-row') == 43
    # The list itself is one query, whatever it holds.
    with django_assert_max_num_queries(1):
        page = selectors.inbox_page(workspace=alice.workspace, filters=selectors.InboxFilters())
        assert [row.enrollment.campaign.name for row in page.rows][:1] == ["Big"]
        assert {row.mailbox.email for row in page.rows} == {
            "ops@alice.example.com",
            "sales@alice.example.com",
        }


def test_pages_of_fifty_then_older(alice, inbox):
    now = timezone.now()
    emails = [f"q{i}@reader.example.com" for i in range(55)]
    _campaign, enrollments = campaign_with(alice.workspace, inbox["ops"], emails, name="Big")
    for enrollment in enrollments.values():  # many at the same moment: ties break on the id
        inbound_email(enrollment, mailbox=inbox["ops"], received_at=now)
    first = selectors.inbox_page(workspace=alice.workspace, filters=selectors.InboxFilters())
    assert len(first.rows) == 50 and first.next_cursor
    second = selectors.inbox_page(
        workspace=alice.workspace, filters=selectors.InboxFilters(), cursor=first.next_cursor
    )
    assert len(second.rows) == 8 and second.next_cursor is None
    assert not {r.pk for r in first.rows} & {r.pk for r in second.rows}
    assert second.rows[-1].pk == inbox["ben_ooo"].pk
    body = alice.client.get("/inbox/", {"cursor": first.next_cursor}).content.decode()
    assert "Newest" in body and "ben@reader.example.com" in body
    # An edited cursor is page one, not an error.
    assert alice.client.get("/inbox/", {"cursor": "garbage!"}).status_code == 200


def test_an_empty_inbox_teaches_what_fills_it(alice):
    body = alice.client.get("/inbox/").content.decode()
    assert "No replies yet" in body
    assert "Connect a mailbox" in body and "New campaign" in body


def test_other_workspaces_replies_never_show(alice, charlie, inbox):
    theirs = unchecked_smtp_mailbox(charlie.workspace, "sales@charlie.example.com")
    _c, enrollments = campaign_with(charlie.workspace, theirs, ["zoe@reader.example.com"])
    inbound_email(enrollments["zoe@reader.example.com"], mailbox=theirs, received_at=timezone.now())
    assert "zoe@reader.example.com" not in alice.client.get("/inbox/").content.decode()
    assert charlie.client.get(f"/inbox/{inbox['ana_second'].pk}/").status_code == 404
    response = charlie.client.post(
        f"/inbox/{inbox['ana_second'].pk}/lead-status/", {"status": "closed"}
    )
    assert response.status_code == 404
    assert (
        charlie.client.post(f"/inbox/{inbox['ana_second'].pk}/reply/", {"body": "x"}).status_code
        == 404
    )
    assert (
        Contact.objects.for_workspace(alice.workspace)
        .get(email="ana@reader.example.com")
        .lead_status
        == ""
    )
    # A bounce is not a conversation: no page for it.
    assert alice.client.get(f"/inbox/{inbox['bounce'].pk}/").status_code == 404


# ----------------------------------------------------------------------------- a conversation


def test_a_conversation_in_order_and_opening_it_marks_it_read(alice, inbox):
    ana = inbox["ana"]
    start = inbox["ana_first"].received_at
    sent_message(ana, at=start - timedelta(days=1), message_id="<step1@alice.example.com>")
    OutboundReply.objects.create(
        workspace=alice.workspace,
        inbound=inbox["ana_first"],
        mailbox=inbox["sales"],
        message_id="<answer1@alice.example.com>",
        subject="Re: Hello",
        body="Glad to hear it, Ana.",
        sent_at=start + timedelta(minutes=30),
        sent_by=alice.user,
    )
    Enrollment.objects.for_workspace(alice.workspace).filter(pk=ana.pk).update(
        status=EnrollmentStatus.REPLIED, stopped_reason="Replied on 2 June."
    )

    response = alice.client.get(f"/inbox/{inbox['ana_second'].pk}/")
    body = response.content.decode()
    assert response.status_code == 200
    positions = [
        body.index("Email 1 of the campaign"),
        body.index(inbox["ana_first"].text.splitlines()[0]),
        body.index("Glad to hear it, Ana."),
        body.index(inbox["ana_second"].text.splitlines()[0]),
    ]
    assert positions == sorted(positions)
    assert "Stopped: Replied. Replied on 2 June." in body
    assert "Show the whole email" in body and "quoted history" in body
    assert "Spring outreach" in body
    # Both of ana's messages are read now; ben's is not.
    read = dict(InboundEmail.objects.for_workspace(alice.workspace).values_list("pk", "read"))
    assert read[inbox["ana_first"].pk] and read[inbox["ana_second"].pk]
    assert not read[inbox["ben_ooo"].pk]
    assert _rows(alice.workspace, unread=True) == ["ben"]


def test_the_suggestion_is_shown_and_applied_in_one_click(alice, inbox):
    InboundEmail.objects.for_workspace(alice.workspace).filter(pk=inbox["ana_second"].pk).update(
        lead_suggestion="interested", lead_suggestion_rule="lead:interested"
    )
    page = f"/inbox/{inbox['ana_first'].pk}/"
    body = alice.client.get(page).content.decode()
    assert (
        "Suggested: <strong>Interested</strong> — because the reply asks to talk or to know "
        "more (“interested”, “call”…)."
    ) in body
    assert "Apply “Interested”" in body

    response = alice.client.post(
        f"/inbox/{inbox['ana_second'].pk}/lead-status/", {"status": "interested"}, follow=True
    )
    assert "ana@reader.example.com is now marked “Interested”." in response.content.decode()
    contact = Contact.objects.for_workspace(alice.workspace).get(email="ana@reader.example.com")
    assert contact.lead_status == "interested"
    [event] = Event.objects.for_workspace(alice.workspace).filter(type="lead.status_changed")
    assert event.data["old_status"] is None
    assert event.data["new_status"] == "interested"
    assert event.data["contact"]["email"] == "ana@reader.example.com"
    assert event.data["changed_by"] == alice.user.email
    assert "Apply “Interested”" not in alice.client.get(page).content.decode()  # already is


def test_lead_status_changes_emit_old_and_new_and_refuse_unknown_values(alice, inbox):
    contact = inbox["cara"].contact
    services.lead_status_set(workspace=alice.workspace, contact=contact, status="meeting_booked")
    services.lead_status_set(workspace=alice.workspace, contact=contact, status="meeting_booked")
    services.lead_status_set(workspace=alice.workspace, contact=contact, status="")
    events = Event.objects.for_workspace(alice.workspace).filter(type="lead.status_changed")
    assert [
        (e.data["old_status"], e.data["new_status"]) for e in events.order_by("created_at")
    ] == [
        ("interested", "meeting_booked"),
        ("meeting_booked", None),
    ]
    with pytest.raises(ServiceError) as refused:
        services.lead_status_set(workspace=alice.workspace, contact=contact, status="hot")
    assert "Choose one of the lead statuses" in refused.value.message
    response = alice.client.post(
        f"/inbox/{inbox['cara'].pk}/lead-status/", {"status": "hot"}, follow=True
    )
    assert "Choose one of the lead statuses in the list." in response.content.decode()
    contact.refresh_from_db()
    assert contact.lead_status == ""


def test_an_empty_answer_is_refused_on_the_form(alice, inbox):
    response = alice.client.post(f"/inbox/{inbox['ana_second'].pk}/reply/", {"body": "  "})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not OutboundReply.objects.for_workspace(alice.workspace).exists()


# ----------------------------------------------------------------------------- answering


@pytest.fixture
def sender_mailbox(alice, trusted_mail_servers) -> Mailbox:
    address, password = trusted_mail_servers.mailbox("sales@unibox.example.com")
    servers = trusted_mail_servers
    details = smtp_imap_details(
        email=address,
        sender_name="Claire Martin",
        smtp=ServerInput("localhost", servers.smtp.port, "starttls", password=password),
        imap=ServerInput("localhost", servers.dovecot.imaps_port, "ssl"),
        append_to_sent=False,
    )
    mailbox = mailbox_connect_smtp(workspace=alice.workspace, details=details)
    Mailbox.objects.for_workspace(alice.workspace).filter(pk=mailbox.pk).update(
        daily_limit=100,
        ramp_up_enabled=False,
        spacing_min_seconds=20,
        spacing_max_seconds=20,
        signature="Claire Martin\nFluenzR Demo",
    )
    mailbox.refresh_from_db()
    return mailbox


def _first_step_sent(alice, servers, mailbox, local: str):
    """A one-step campaign sent through the real engine to a prospect with a real mailbox;
    returns the enrollment and our message, and the prospect's reply as the sync records it."""
    address, _password = servers.mailbox(f"{local}@prospect.example.com")
    contact = contact_services.contact_create(
        workspace=alice.workspace, data={"email": address, "first_name": "Léa"}
    )
    campaign = campaign_services.campaign_create(
        workspace=alice.workspace,
        name="Unibox outreach",
        mailboxes=[mailbox],
        timezone="Europe/Paris",
    )
    campaign_services.step_add(
        workspace=alice.workspace,
        campaign=campaign,
        subject="Une question, {{firstName}}",
        body="Bonjour {{firstName}}, un échange de 15 minutes ?",
    )
    campaign_services.campaign_enroll(
        workspace=alice.workspace,
        campaign=campaign,
        contacts=Contact.objects.for_workspace(alice.workspace).filter(pk=contact.pk),
    )
    campaign_services.campaign_launch(workspace=alice.workspace, campaign=campaign, now=TUESDAY_10)
    queued: list = []
    with TestCase.captureOnCommitCallbacks(execute=True):
        scheduler.scheduler_tick(enqueue=queued.append, now=TUESDAY_10)
    assert [sender.message_send(message_id=m, now=TUESDAY_10) for m in queued] == ["sent"]
    ours = OutboundMessage.objects.for_workspace(alice.workspace).get(enrollment__contact=contact)
    enrollment = Enrollment.objects.for_workspace(alice.workspace).get(contact=contact)
    Enrollment.objects.for_workspace(alice.workspace).filter(pk=enrollment.pk).update(
        status=EnrollmentStatus.REPLIED, stopped_reason="replied"
    )
    reply = inbound_email(
        enrollment,
        mailbox=mailbox,
        received_at=TUESDAY_10 + timedelta(hours=2),
        subject="RE : Une question, Léa",  # French Outlook's prefix: never "Re: RE :"
        message_id=f"<{local}-answer@prospect.example.com>",
        verdict={"kind": "reply", "references": [ours.message_id]},
        answers=ours,
        text="Oui, avec plaisir. Mardi ?",
    )
    return enrollment, ours, reply


def _parsed(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def test_an_answer_goes_out_in_the_same_thread_and_reaches_the_prospect(
    alice, trusted_mail_servers, sender_mailbox
):
    servers = trusted_mail_servers
    enrollment, ours, reply = _first_step_sent(alice, servers, sender_mailbox, "lea")

    response = alice.client.post(
        f"/inbox/{reply.pk}/reply/", {"body": "Parfait, mardi 10 h.\nÀ bientôt"}, follow=True
    )
    assert "Answer sent to lea@prospect.example.com" in response.content.decode()

    address = "lea@prospect.example.com"
    received = [
        _parsed(raw) for raw in read_inbox(servers, address, servers.dovecot.passwords[address])
    ]
    assert [m["Message-ID"] for m in received].count(ours.message_id) == 1
    [message] = [m for m in received if m["Message-ID"] != ours.message_id]
    assert message["Subject"] == "Re: Une question, Léa"
    assert message["In-Reply-To"] == reply.message_id
    assert message["References"].split() == [ours.message_id, reply.message_id]
    assert message["From"].addresses[0].addr_spec == "sales@unibox.example.com"
    assert message["From"].addresses[0].display_name == "Claire Martin"
    text = message.get_content().replace("\r\n", "\n")
    assert text.startswith("Parfait, mardi 10 h.\nÀ bientôt\n\n-- \nClaire Martin\nFluenzR Demo")
    assert "> Oui, avec plaisir. Mardi ?" in text

    [recorded] = OutboundReply.objects.for_workspace(alice.workspace)
    assert recorded.message_id == message["Message-ID"]
    assert recorded.message_id.endswith("@unibox.example.com>")
    assert recorded.sent_at is not None and recorded.error == ""
    assert recorded.sent_by == alice.user and recorded.inbound == reply
    # Counted in the mailbox's quota; the sequence stays stopped.
    mailbox = Mailbox.objects.for_workspace(alice.workspace).get(pk=sender_mailbox.pk)
    assert (mailbox.sent_day, mailbox.sent_today) == (timezone.now().date(), 1)
    enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.REPLIED
    body = alice.client.get(f"/inbox/{reply.pk}/").content.decode()
    assert "Parfait, mardi 10 h." in body and 'badge-success">Sent' in body


def test_a_refused_answer_says_why_on_the_form_and_gives_the_quota_back(
    alice, trusted_mail_servers, sender_mailbox
):
    servers = trusted_mail_servers
    _enrollment, _ours, reply = _first_step_sent(alice, servers, sender_mailbox, "marc")
    servers.smtp.refuse_recipient("marc@prospect.example.com", "550 5.1.1 No such user here")

    response = alice.client.post(f"/inbox/{reply.pk}/reply/", {"body": "Bonjour Marc"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "Your answer was not sent:" in body
    assert "No such user here" in body
    assert "Bonjour Marc" in body  # what was written is kept on the form
    [recorded] = OutboundReply.objects.for_workspace(alice.workspace)
    assert recorded.sent_at is None and "No such user here" in recorded.error
    mailbox = Mailbox.objects.for_workspace(alice.workspace).get(pk=sender_mailbox.pk)
    # Given back: it did not leave (the campaign's email counted on its own day, in June).
    assert (mailbox.sent_day, mailbox.sent_today) == (timezone.now().date(), 0)
    assert mailbox.status == "connected"


def test_a_full_quota_is_said_and_nothing_is_sent(alice, trusted_mail_servers, sender_mailbox):
    servers = trusted_mail_servers
    _enrollment, _ours, reply = _first_step_sent(alice, servers, sender_mailbox, "noe")
    Mailbox.objects.for_workspace(alice.workspace).filter(pk=sender_mailbox.pk).update(
        daily_limit=1, sent_today=1, sent_day=timezone.now().date()
    )
    servers.smtp.reset()
    response = alice.client.post(f"/inbox/{reply.pk}/reply/", {"body": "Bonjour"})
    body = response.content.decode()
    assert "sales@unibox.example.com has sent its 1 emails for today" in body
    assert servers.smtp.received == []
    assert not OutboundReply.objects.for_workspace(alice.workspace).exists()


def test_an_answer_through_a_paused_mailbox_says_what_to_fix(alice, inbox):
    Mailbox.objects.for_workspace(alice.workspace).filter(pk=inbox["sales"].pk).update(
        status="paused"
    )
    with pytest.raises(ServiceError) as refused:
        services.reply_send(
            workspace=alice.workspace, inbound=inbox["ana_second"], body="Hi", user=alice.user
        )
    assert "sales@alice.example.com" in refused.value.message
    assert "fix it in Email accounts" in refused.value.message


# ----------------------------------------------------------------------------- in a browser


def _sign_in(page, live_server, email: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{live_server.url}/")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_reply_is_read_marked_and_answered_in_the_browser(
    page, live_server, trusted_mail_servers
):
    from accounts import services as account_services
    from tests.conftest import Actor

    user = UserFactory(email="olga@example.test")
    workspace = account_services.workspace_create(owner=user, name="Olga Growth", plan="pro")
    olga = Actor(user=user, workspace=workspace, client=None, api_key="")
    servers = trusted_mail_servers
    address, password = servers.mailbox("sales@olga.example.com")
    mailbox = mailbox_connect_smtp(
        workspace=workspace,
        details=smtp_imap_details(
            email=address,
            sender_name="Olga Petit",
            smtp=ServerInput("localhost", servers.smtp.port, "starttls", password=password),
            imap=ServerInput("localhost", servers.dovecot.imaps_port, "ssl"),
            append_to_sent=False,
        ),
    )
    Mailbox.objects.for_workspace(workspace).filter(pk=mailbox.pk).update(
        daily_limit=100, ramp_up_enabled=False
    )
    mailbox.refresh_from_db()
    _enrollment, ours, reply = _first_step_sent(olga, servers, mailbox, "browser")
    InboundEmail.objects.for_workspace(workspace).filter(pk=reply.pk).update(
        lead_suggestion="interested", lead_suggestion_rule="lead:interested"
    )

    _sign_in(page, live_server, user.email)
    page.locator("#sidebar").get_by_role("link", name="Unified inbox").click()
    page.wait_for_url(f"{live_server.url}/inbox/")
    row = page.locator("tr.inbox-row.unread")
    assert row.count() == 1
    assert "Oui, avec plaisir. Mardi ?" in row.inner_text()
    row.get_by_role("link", name="Léa").click()
    page.wait_for_url(f"{live_server.url}/inbox/{reply.pk}/")
    assert page.get_by_text(
        "Suggested: Interested — because the reply asks to talk or to know more"
    ).is_visible()
    assert page.get_by_label("Mark this lead as").input_value() == ""

    page.get_by_role("button", name="Apply “Interested”").click()  # one click
    page.wait_for_load_state()
    assert page.get_by_label("Mark this lead as").input_value() == "interested"
    assert page.get_by_text("is now marked “Interested”.").is_visible()
    assert Contact.objects.for_workspace(workspace).get(pk=reply.contact_id).lead_status == (
        "interested"
    )

    page.get_by_label("Your answer").fill("Mardi 10 h, parfait.")
    page.get_by_role("button", name="Send the answer").click()
    page.wait_for_load_state()
    assert page.get_by_text("Answer sent to browser@prospect.example.com").is_visible()

    prospect = "browser@prospect.example.com"
    received = [
        _parsed(raw) for raw in read_inbox(servers, prospect, servers.dovecot.passwords[prospect])
    ]
    assert len(received) == 2
    [message] = [m for m in received if m["Message-ID"] != ours.message_id]
    assert message["In-Reply-To"] == reply.message_id
    assert message["References"].split() == [ours.message_id, reply.message_id]
    assert message["Subject"] == "Re: Une question, Léa"
    assert message.get_content().startswith("Mardi 10 h, parfait.")
    # Back in the list: read now, marked interested.
    page.goto(f"{live_server.url}/inbox/")
    assert page.locator("tr.inbox-row.unread").count() == 0
    assert page.locator("tr.inbox-row .badge-success").inner_text() == "Interested"


# ----------------------------------------------------------------------------- the API


def test_api_lists_replies_newest_first_with_filters(alice, inbox):
    response = alice.api.get("/api/v1/replies/")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["id"] for r in results] == [
        str(inbox[name].pk) for name in ("ana_second", "cara", "ben_ooo", "ana_first")
    ]  # every reply and auto-reply, never the bounce
    first = results[0]
    assert first["campaign_id"] == str(inbox["spring"].pk)
    assert first["mailbox"] == "sales@alice.example.com"
    assert first["lead_status"] == ""
    assert "verdict" not in first and "body" not in first

    def ids(**params) -> list[str]:
        got = alice.api.get("/api/v1/replies/", params)
        assert got.status_code == 200, got.json()
        return [r["from_email"].split("@")[0] for r in got.json()["results"]]

    assert ids(campaign=str(inbox["autumn"].pk)) == ["cara"]
    assert ids(mailbox=str(inbox["sales"].pk)) == ["ana", "ben", "ana"]
    assert ids(lead_status="interested") == ["cara"]
    assert ids(lead_status="none") == ["ana", "ben", "ana"]
    assert ids(unread="true") == ["ana", "ben", "ana"]
    assert ids(unread="false") == ["cara"]
    assert ids(kind="auto_reply") == ["ben"]
    for name, value in (("kind", "bounce"), ("campaign", "nope"), ("unread", "yes")):
        bad = alice.api.get("/api/v1/replies/", {name: value})
        assert bad.status_code == 400
        assert list(bad.json()["error"]["fields"]) == [name]


def test_api_retrieves_a_reply_with_its_verdict_and_answers(alice, inbox):
    InboundEmail.objects.for_workspace(alice.workspace).filter(pk=inbox["ana_first"].pk).update(
        verdict={"kind": "reply", "rules": ["in-reply-to"], "references": ["<a@b.example>"]}
    )
    OutboundReply.objects.create(
        workspace=alice.workspace,
        inbound=inbox["ana_first"],
        mailbox=inbox["sales"],
        message_id="<answer-api@alice.example.com>",
        subject="Re: Hello",
        body="Thanks!",
        sent_at=timezone.now(),
    )
    data = alice.api.get(f"/api/v1/replies/{inbox['ana_first'].pk}/").json()
    assert data["verdict"]["rules"] == ["in-reply-to"]
    assert data["body"].endswith("> Hello, quoted history")
    [answer] = data["answers"]
    assert (answer["body"], answer["mailbox"]) == ("Thanks!", "sales@alice.example.com")
    # A bounce is not a reply.
    assert alice.api.get(f"/api/v1/replies/{inbox['bounce'].pk}/").status_code == 404


def test_api_sets_the_lead_status(alice, inbox):
    url = f"/api/v1/replies/{inbox['ben_ooo'].pk}/lead-status/"
    response = alice.api.post(url, {"status": "out_of_office"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["lead_status"] == "out_of_office"
    [event] = Event.objects.for_workspace(alice.workspace).filter(type="lead.status_changed")
    assert (event.data["old_status"], event.data["new_status"]) == (None, "out_of_office")
    assert event.data["changed_by"] is None
    refused = alice.api.post(url, {"status": "hot"}, format="json")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "validation_error"
    cleared = alice.api.post(url, {"status": None}, format="json")
    assert cleared.json()["lead_status"] == ""


def test_api_refuses_an_answer_it_cannot_send_with_a_clear_error(alice, inbox):
    url = f"/api/v1/replies/{inbox['ana_second'].pk}/reply/"
    empty = alice.api.post(url, {"body": ""}, format="json")
    assert empty.status_code == 400
    assert "body" in empty.json()["error"]["fields"]
    Mailbox.objects.for_workspace(alice.workspace).filter(pk=inbox["sales"].pk).update(
        status="paused"
    )
    paused = alice.api.post(url, {"body": "Hello"}, format="json")
    assert paused.status_code == 409
    assert paused.json()["error"]["code"] == "answer_not_sent"
    assert "fix it in Email accounts" in paused.json()["error"]["message"]
    assert not OutboundReply.objects.for_workspace(alice.workspace).exists()


def test_api_sends_an_answer_in_the_same_thread(alice, trusted_mail_servers, sender_mailbox):
    servers = trusted_mail_servers
    _enrollment, ours, reply = _first_step_sent(alice, servers, sender_mailbox, "api")
    response = alice.api.post(
        f"/api/v1/replies/{reply.pk}/reply/", {"body": "Merci, à mardi."}, format="json"
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["sent_at"] and data["error"] == "" and data["reply_id"] == str(reply.pk)
    prospect = "api@prospect.example.com"
    received = [
        _parsed(raw) for raw in read_inbox(servers, prospect, servers.dovecot.passwords[prospect])
    ]
    [answer] = [m for m in received if m["Message-ID"] == data["message_id"]]
    assert answer["In-Reply-To"] == reply.message_id
    assert answer["References"].split() == [ours.message_id, reply.message_id]


def test_api_another_workspaces_reply_is_404(alice, charlie, inbox):
    pk = inbox["ana_second"].pk
    assert charlie.api.get(f"/api/v1/replies/{pk}/").status_code == 404
    for path, body in (("lead-status", {"status": "closed"}), ("reply", {"body": "x"})):
        response = charlie.api.post(f"/api/v1/replies/{pk}/{path}/", body, format="json")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert charlie.api.get("/api/v1/replies/").json()["results"] == []
    assert (
        Contact.objects.for_workspace(alice.workspace)
        .get(email="ana@reader.example.com")
        .lead_status
        == ""
    )


def test_api_enrollments_expose_their_stop_reason(alice, inbox):
    Enrollment.objects.for_workspace(alice.workspace).filter(pk=inbox["ana"].pk).update(
        status=EnrollmentStatus.REPLIED, stopped_reason="Replied on 2 June."
    )
    data = alice.api.get(f"/api/v1/enrollments/{inbox['ana'].pk}/").json()
    assert (data["status"], data["stopped_reason"]) == ("replied", "Replied on 2 June.")
