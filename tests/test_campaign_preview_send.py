"""Preview → "Send me this test" (issue 5): the exact previewed email goes to the signed-in
user's own address — never one typed in — through a real local SMTP server, read back over
IMAP. "[Test] " before the subject, a fresh Message-ID, no thread; no outbound message and the
enrollment untouched; a mailbox in error or paused, a spent budget or a refused password say
so in a sentence."""

from __future__ import annotations

import dataclasses
import email
import html
from email import policy

import pytest
from django.urls import reverse

from accounts.errors import NotFound, ServiceError
from campaigns import selectors, services
from campaigns.models import Enrollment, OutboundMessage
from contacts import services as contact_services
from contacts.models import Contact
from email_accounts.models import Mailbox, MailboxStatus
from email_accounts.services import ServerInput, mailbox_connect_smtp, smtp_imap_details
from tests.mailboxes import read_inbox


def page(response) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def servers(trusted_mail_servers):
    return trusted_mail_servers


@pytest.fixture
def sender(alice, servers) -> Mailbox:
    address, password = servers.mailbox("sales@sender.example.com")
    details = smtp_imap_details(
        email=address,
        sender_name="Claire Martin",
        smtp=ServerInput("localhost", servers.smtp.port, "starttls", password=password),
        imap=ServerInput("localhost", servers.dovecot.imaps_port, "ssl"),
        append_to_sent=False,
    )
    mailbox = mailbox_connect_smtp(workspace=alice.workspace, details=details)
    Mailbox.objects.for_workspace(alice.workspace).filter(pk=mailbox.pk).update(
        ramp_up_enabled=False, daily_limit=50
    )
    mailbox.refresh_from_db()
    return mailbox


class Inbox:
    """Alice's own address, a real mailbox on the local servers (kept across tests: `new()`
    reads only what arrived since this test began)."""

    def __init__(self, servers, address: str) -> None:
        self.servers, self.address = servers, address
        _address, self.password = servers.mailbox(address)
        self.before = len(self.read())

    def read(self) -> list[bytes]:
        return read_inbox(self.servers, self.address, self.password)

    def new(self) -> list[email.message.EmailMessage]:
        return [parsed(raw) for raw in self.read()[self.before :]]


@pytest.fixture
def inbox(alice, servers) -> Inbox:
    return Inbox(servers, alice.user.email)


@pytest.fixture
def campaign(alice, sender):
    campaign = services.campaign_create(workspace=alice.workspace, name="Q3", mailboxes=[sender])
    services.step_add(
        workspace=alice.workspace,
        campaign=campaign,
        subject="Hello {{firstName|there}}",
        body="A word about {{company}}.\n\n{{sender.firstName}}",
    )
    services.step_add(
        workspace=alice.workspace, campaign=campaign, body="Following up, {{firstName|there}}."
    )
    return campaign


@pytest.fixture
def enrollment(alice, campaign) -> Enrollment:
    contact = contact_services.contact_create(
        workspace=alice.workspace,
        data={"email": "lea@prospect.example.com", "first_name": "Léa", "company": "Acme"},
    )
    services.campaign_enroll(
        workspace=alice.workspace,
        campaign=campaign,
        contacts=Contact.objects.for_workspace(alice.workspace).filter(pk=contact.pk),
    )
    return Enrollment.objects.for_workspace(alice.workspace).select_related("contact").get()


def send(alice, campaign, enrollment, step, **extra):
    return alice.client.post(
        reverse("campaign_preview_send", args=[campaign.pk]),
        {"enrollment": str(enrollment.pk), "step": str(step.pk), **extra},
        follow=True,
    )


def parsed(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=policy.default)


def state(enrollment: Enrollment) -> tuple:
    enrollment.refresh_from_db()
    return (
        enrollment.status,
        enrollment.next_position,
        enrollment.mailbox_id,
        enrollment.due_at,
        enrollment.last_message_id,
        enrollment.last_subject,
    )


def test_the_previewed_email_reaches_the_users_own_inbox(
    alice, servers, inbox, sender, campaign, enrollment
):
    first = campaign.steps.get(position=0)
    before = state(enrollment)
    shown = page(alice.client.get(reverse("campaign_preview", args=[campaign.pk])))
    assert "Send me this test" in shown
    assert f"Sends this exact email to you ({alice.user.email}) only" in shown

    # An address typed into the request is ignored: it goes to alice's own.
    response = send(alice, campaign, enrollment, first, to="someone@else.example.com")
    assert response.status_code == 200
    body = page(response)
    assert (
        f"Test sent to {alice.user.email} from sales@sender.example.com: check your inbox." in body
    )
    assert "Hello Léa" in body  # back on the same preview

    assert [r.recipients for r in servers.smtp.received] == [[alice.user.email]]
    [received] = inbox.new()
    assert received["Subject"] == "[Test] Hello Léa"
    assert received["To"] == alice.user.email
    assert received["From"] == "Claire Martin <sales@sender.example.com>"
    assert received["In-Reply-To"] is None and received["References"] is None
    assert received["Message-ID"].endswith("@sender.example.com>")
    preview = selectors.preview(enrollment=enrollment, step=first)
    assert received.get_body(("plain",)).get_content() == preview.body
    assert "A word about Acme." in preview.body and "Claire" in preview.body

    # Nothing recorded for the contact, who got nothing; the send counts in the day's quota.
    assert not OutboundMessage.objects.for_workspace(alice.workspace).exists()
    assert state(enrollment) == before
    sender.refresh_from_db()
    assert sender.sent_today == 1

    # A second test has its own Message-ID.
    send(alice, campaign, enrollment, first)
    assert len({message["Message-ID"] for message in inbox.new()}) == 2


def test_a_follow_up_is_sent_outside_the_thread_with_the_threads_subject(
    alice, servers, inbox, sender, campaign, enrollment
):
    second = campaign.steps.get(position=1)
    # Not written to yet: "Re:" the subject step 1 would have had for this contact.
    send(alice, campaign, enrollment, second)
    [test] = inbox.new()
    assert test["Subject"] == "[Test] Re: Hello Léa"

    # Already in the thread: the real follow-up carries In-Reply-To; the test does not.
    Enrollment.objects.for_workspace(alice.workspace).filter(pk=enrollment.pk).update(
        mailbox=sender,
        last_message_id="<step1@sender.example.com>",
        last_subject="Hello again Léa",
        next_position=1,
    )
    before = state(enrollment)
    real = selectors.preview(enrollment=enrollment, step=second)
    assert b"In-Reply-To: <step1@sender.example.com>" in real.raw
    body = page(send(alice, campaign, enrollment, second))
    assert "Test sent to" in body
    _test, threaded = inbox.new()
    assert threaded["Subject"] == "[Test] Re: Hello again Léa"
    assert threaded["In-Reply-To"] is None and threaded["References"] is None
    assert threaded.get_body(("plain",)).get_content() == real.body
    assert state(enrollment) == before


@pytest.mark.parametrize(
    ("status", "reason", "expected"),
    [
        (
            MailboxStatus.ERROR,
            "The username or password was refused.",
            "The test goes out through sales@sender.example.com, whose status is “Error”: fix "
            "it in Email accounts first. The username or password was refused.",
        ),
        (
            MailboxStatus.PAUSED,
            "",
            "The test goes out through sales@sender.example.com, whose status is “Paused”: fix "
            "it in Email accounts first.",
        ),
    ],
)
def test_a_mailbox_in_error_or_paused_says_so(
    alice, servers, sender, campaign, enrollment, status, reason, expected
):
    Mailbox.objects.for_workspace(alice.workspace).filter(pk=sender.pk).update(
        status=status, status_reason=reason
    )
    body = page(send(alice, campaign, enrollment, campaign.steps.get(position=0)))
    assert expected in body
    assert servers.smtp.received == []


def test_the_hourly_budget_stops_spam(
    alice, servers, inbox, sender, campaign, enrollment, settings
):
    settings.EMAIL_ACCOUNTS_CONNECTION_TESTS_PER_HOUR = 2
    first = campaign.steps.get(position=0)
    for _ in range(2):
        assert "Test sent to" in page(send(alice, campaign, enrollment, first))
    body = page(send(alice, campaign, enrollment, first))
    assert "This workspace has sent its 2 test emails this hour: try again next hour." in body
    assert len(servers.smtp.received) == 2
    sender.refresh_from_db()
    assert sender.sent_today == 2


def test_a_refused_password_says_so_and_gives_the_send_back(
    alice, servers, sender, campaign, enrollment
):
    smtp = dataclasses.replace(sender.smtp_settings, password="wrong-password")
    sender.set_servers(smtp=smtp, imap=sender.imap_settings)
    sender.save()
    body = page(send(alice, campaign, enrollment, campaign.steps.get(position=0)))
    assert "The test email was not sent:" in body
    assert servers.smtp.received == []
    sender.refresh_from_db()
    assert sender.status == MailboxStatus.ERROR  # as any send with a refused password
    assert sender.sent_today == 0


def test_the_services_own_checks(alice, charlie, sender, campaign, enrollment):
    first = campaign.steps.get(position=0)
    with pytest.raises(NotFound):
        services.preview_send_test(
            workspace=charlie.workspace, user=charlie.user, enrollment=enrollment, step=first
        )
    other = services.campaign_create(workspace=alice.workspace, name="Other")
    step = services.step_add(workspace=alice.workspace, campaign=other, subject="x", body="y")
    with pytest.raises(ServiceError, match="not part of this contact's campaign"):
        services.preview_send_test(
            workspace=alice.workspace, user=alice.user, enrollment=enrollment, step=step
        )
    # A variable the contact has no value for is named, as on the preview.
    services.step_update(workspace=alice.workspace, step=first, body="For {{title}}.")
    with pytest.raises(ServiceError, match=r"no value for \{\{title\}\}"):
        services.preview_send_test(
            workspace=alice.workspace, user=alice.user, enrollment=enrollment, step=first
        )
    campaign.mailboxes.clear()
    with pytest.raises(ServiceError, match="Choose a mailbox to send from first"):
        services.preview_send_test(
            workspace=alice.workspace, user=alice.user, enrollment=enrollment, step=first
        )


def test_an_outsider_cannot_send_alices_preview(alice, charlie, servers, campaign, enrollment):
    response = charlie.client.post(
        reverse("campaign_preview_send", args=[campaign.pk]),
        {"enrollment": str(enrollment.pk), "step": str(campaign.steps.first().pk)},
    )
    assert response.status_code == 404
    assert servers.smtp.received == []
