"""The campaign's daily numbers (stats page chart and API) and one contact's timeline, with the
two answers to an email whose outcome is unknown: send it again, or it was sent.

Messages are written straight to the database in the states the engine leaves them in; what
is under test is how they are counted and shown, and the two buttons' real services."""

from __future__ import annotations

import html
import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from campaigns import selectors, services
from campaigns.mime import new_message_id
from campaigns.models import (
    Campaign,
    Enrollment,
    EnrollmentStatus,
    MessageStatus,
    OutboundMessage,
    Step,
)
from contacts import services as contact_services
from contacts.models import Contact
from tests.mailboxes import unchecked_smtp_mailbox

# 10 March 2026, 13:00 in Paris (UTC+1: summer time starts on the 29th).
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def page(response) -> str:
    assert response.status_code == 200
    return html.unescape(response.content.decode())


@pytest.fixture
def mailbox(alice):
    return unchecked_smtp_mailbox(alice.workspace, "claire@sender.example.com")


@pytest.fixture
def campaign(alice, mailbox) -> Campaign:
    """Two emails, Paris time, launched on 5 March 2026 (10:00 UTC)."""
    workspace = alice.workspace
    campaign = services.campaign_create(
        workspace=workspace, name="Spring", mailboxes=[mailbox], timezone="Europe/Paris"
    )
    services.step_add(
        workspace=workspace, campaign=campaign, subject="Hello {{firstName|there}}", body="Hi."
    )
    services.step_add(workspace=workspace, campaign=campaign, body="Following up.", delay_amount=2)
    contacts = [
        contact_services.contact_create(
            workspace=workspace, data={"email": f"p{i}@prospect.example.com", "first_name": "Ana"}
        )
        for i in range(8)
    ]
    services.campaign_enroll(
        workspace=workspace,
        campaign=campaign,
        contacts=Contact.objects.for_workspace(workspace).filter(pk__in=[c.pk for c in contacts]),
    )
    launched = services.campaign_launch(
        workspace=workspace, campaign=campaign, now=datetime(2026, 3, 5, 10, 0, tzinfo=UTC)
    )
    campaign.launched_at, campaign.status = launched.launched_at, launched.status
    return campaign


def enrollments(campaign: Campaign) -> list[Enrollment]:
    return list(
        Enrollment.objects.for_workspace(campaign.workspace)
        .filter(campaign=campaign)
        .select_related("contact")
        .order_by("contact__email")
    )


def message(
    enrollment: Enrollment,
    *,
    status: str,
    position: int = 0,
    sent_at: datetime | None = None,
    started: datetime | None = None,
    attempts: int = 1,
    error: str = "",
    subject: str = "Hello Ana",
) -> OutboundMessage:
    step = Step.objects.for_workspace(enrollment.workspace).get(
        campaign=enrollment.campaign_id, position=position
    )
    mailbox = enrollment.campaign.mailboxes.get()
    when = sent_at or started or NOW
    return OutboundMessage.objects.create(
        workspace=enrollment.workspace,
        enrollment=enrollment,
        step=step,
        variant=step.variants.get(label="A"),
        mailbox=mailbox,
        status=status,
        message_id=new_message_id(mailbox.email),
        subject=subject,
        quota_day=when.date(),
        next_attempt_at=when,
        sending_started_at=started or sent_at,
        sent_at=sent_at,
        attempts=attempts,
        error=error,
    )


# ------------------------------------------------------------------------------- daily numbers


def test_daily_counts_each_email_on_the_campaigns_local_day_around_midnight(campaign):
    e = enrollments(campaign)
    # 8 March 22:59 UTC is 23:59 in Paris (the 8th); 23:30 UTC is 00:30 on the 9th.
    message(e[0], status=MessageStatus.SENT, sent_at=datetime(2026, 3, 8, 22, 59, tzinfo=UTC))
    message(e[1], status=MessageStatus.SENT, sent_at=datetime(2026, 3, 8, 23, 30, tzinfo=UTC))
    message(e[2], status=MessageStatus.SENT, sent_at=datetime(2026, 3, 9, 8, 0, tzinfo=UTC))
    # A bounce and a failure count on the day of their last attempt.
    message(e[3], status=MessageStatus.BOUNCED, started=datetime(2026, 3, 9, 23, 10, tzinfo=UTC))
    message(e[4], status=MessageStatus.FAILED, started=datetime(2026, 3, 9, 22, 50, tzinfo=UTC))
    # Neither left nor gave up: not counted.
    message(e[5], status=MessageStatus.UNKNOWN, started=datetime(2026, 3, 9, 9, 0, tzinfo=UTC))
    message(e[6], status=MessageStatus.SCHEDULED, started=None)
    # Before the launch day (a test send while it was a draft would be one): not in the range.
    message(e[7], status=MessageStatus.SENT, sent_at=datetime(2026, 3, 4, 22, 30, tzinfo=UTC))

    daily = selectors.campaign_daily(campaign, now=NOW)

    assert daily == [
        (date(2026, 3, 5), 0, 0, 0),  # the launch day, in Paris
        (date(2026, 3, 6), 0, 0, 0),
        (date(2026, 3, 7), 0, 0, 0),
        (date(2026, 3, 8), 1, 0, 0),
        (date(2026, 3, 9), 2, 0, 1),
        (date(2026, 3, 10), 0, 1, 0),  # today in Paris
    ]
    assert daily[4].sent == 2 and daily[4].failed == 1  # named fields, too


def test_daily_covers_the_last_30_days_in_one_query(campaign, django_assert_num_queries):
    e = enrollments(campaign)
    now = NOW + timedelta(days=60)  # 9 May 2026, long after the launch
    first = (now - timedelta(days=29)).date()  # 10 April
    # 9 April 23:30 in Paris (summer time, UTC+2) is the day before the range; 00:30 is in it.
    message(e[0], status=MessageStatus.SENT, sent_at=datetime(2026, 4, 9, 21, 30, tzinfo=UTC))
    message(e[1], status=MessageStatus.SENT, sent_at=datetime(2026, 4, 9, 22, 30, tzinfo=UTC))
    message(e[2], status=MessageStatus.BOUNCED, started=datetime(2026, 5, 9, 6, 0, tzinfo=UTC))

    # The campaign's workspace is already known to its callers (the page, the API).
    with django_assert_num_queries(1):
        daily = selectors.campaign_daily(campaign, now=now)

    assert len(daily) == 30
    assert (daily[0].day, daily[-1].day) == (first, date(2026, 5, 9))
    assert daily[0] == (first, 1, 0, 0)
    assert daily[-1] == (date(2026, 5, 9), 0, 1, 0)
    assert sum(row.sent for row in daily) == 1
    assert selectors.campaign_daily(campaign, days=7, now=now)[0].day == date(2026, 5, 3)


def test_a_campaign_never_launched_has_no_daily_numbers(alice, mailbox):
    draft = services.campaign_create(workspace=alice.workspace, name="Draft", mailboxes=[mailbox])
    assert selectors.campaign_daily(draft) == []
    response = alice.client.get(f"/campaigns/{draft.pk}/stats/")
    body = page(response)
    assert "Launch the campaign to see its emails day by day." in body
    assert "chart-4.6.1.umd.js" not in body  # no chart, no script to load


def test_stats_page_and_api_show_the_daily_numbers_and_the_unknown_emails(alice, campaign):
    e = enrollments(campaign)
    today = timezone.now()
    message(e[0], status=MessageStatus.SENT, sent_at=today - timedelta(days=1))
    message(e[1], status=MessageStatus.SENT, sent_at=today - timedelta(days=1))
    message(e[2], status=MessageStatus.BOUNCED, started=today - timedelta(days=2))
    unknown = message(e[3], status=MessageStatus.UNKNOWN, started=today - timedelta(minutes=30))

    body = page(alice.client.get(f"/campaigns/{campaign.pk}/stats/"))
    assert "Emails per day" in body
    assert "chart-4.6.1.umd.js" in body and "js/campaign-stats.js" in body
    assert "Emails per day: 2 sent, 1 bounced, 0 failed." in body  # the canvas's label
    start = body.index('<script id="daily-chart-data" type="application/json">')
    data = json.loads(body[body.index(">", start) + 1 : body.index("</script>", start)])
    assert [s["label"] for s in data["series"]] == ["Sent", "Bounced", "Failed"]
    assert [s["color"] for s in data["series"]] == ["--accent", "--danger", "--warning"]
    assert len(data["labels"]) == len(data["series"][0]["data"]) == 30
    assert sum(data["series"][0]["data"]) == 2 and sum(data["series"][1]["data"]) == 1
    # The same numbers as a table, for screen readers and without JavaScript.
    assert '<details class="disclosure" id="daily-table" open>' in body
    assert "Show the numbers" in body
    # The email of unknown outcome is flagged, with the way to its contact's timeline.
    assert "1 email has an unknown outcome." in body
    assert f"/campaigns/enrollments/{unknown.enrollment_id}/" in body
    assert e[3].contact.email in body

    stats = alice.api.get(f"/api/v1/campaigns/{campaign.pk}/stats/").json()
    assert len(stats["daily"]) == 30
    assert set(stats["daily"][0]) == {"date", "sent", "bounced", "failed"}
    assert sum(day["sent"] for day in stats["daily"]) == 2
    assert sum(day["bounced"] for day in stats["daily"]) == 1
    today_in_paris = timezone.now().astimezone(ZoneInfo("Europe/Paris")).date()
    assert stats["daily"][-1]["date"] == today_in_paris.isoformat()


# ------------------------------------------------------------------------------- timeline


def test_each_contact_of_the_campaign_links_to_its_timeline(alice, campaign):
    body = page(alice.client.get(f"/campaigns/{campaign.pk}/contacts/"))
    for enrollment in enrollments(campaign):
        assert f'href="/campaigns/enrollments/{enrollment.pk}/"' in body
    first = enrollments(campaign)[0]
    assert (
        f'<a href="/campaigns/enrollments/{first.pk}/" title="Its timeline in this campaign">p0@'
        in body
    )


def test_timeline_tells_the_story_oldest_first_and_what_happens_next(alice, campaign):
    enrollment = enrollments(campaign)[0]
    message(
        enrollment,
        status=MessageStatus.SENT,
        sent_at=datetime(2026, 3, 6, 8, 15, tzinfo=UTC),
        subject="Hello Ana",
    )
    message(
        enrollment,
        status=MessageStatus.BOUNCED,
        position=1,
        started=datetime(2026, 3, 9, 9, 30, tzinfo=UTC),
        attempts=2,
        subject="Re: Hello Ana",
        error="550 5.1.1 <p0@prospect.example.com>: Recipient address rejected",
    )
    Enrollment.objects.for_workspace(alice.workspace).filter(pk=enrollment.pk).update(
        status=EnrollmentStatus.BOUNCED,
        stopped_reason="550 5.1.1 Recipient address rejected",
        due_at=None,
    )
    enrollment.refresh_from_db()

    timeline = selectors.enrollment_timeline(enrollment)
    assert [entry.kind for entry in timeline] == ["enrolled", "email", "email", "stopped"]
    assert [entry.message.step.position for entry in timeline[1:3]] == [0, 1]
    assert timeline[1].at == datetime(2026, 3, 6, 8, 15, tzinfo=UTC)
    assert timeline[3].text == "Stopped: Bounced. 550 5.1.1 Recipient address rejected"

    body = page(alice.client.get(f"/campaigns/enrollments/{enrollment.pk}/"))
    assert "p0@prospect.example.com" in body
    assert "What happens next" in body
    assert "Added to the campaign" in body
    assert "Email 1 · variant A" in body and "Email 2 · variant A" in body
    assert "Hello Ana" in body and "Re: Hello Ana" in body
    assert "From claire@sender.example.com" in body
    assert "2 attempts" in body and "1 attempt" in body
    assert "Recipient address rejected" in body
    # Times in the campaign's zone: 08:15 UTC is 09:15 in Paris.
    assert "03/06/2026 9:15 a.m." in body
    assert "Stopped: Bounced." in body
    assert "Send again" not in body  # nothing of unknown outcome here
    assert body.index("Email 1 · variant A") < body.index("Email 2 · variant A")
    assert body.index("Email 2 · variant A") < body.rindex("Stopped: Bounced.")


def test_a_contact_not_yet_written_to_says_why(alice, campaign):
    enrollment = enrollments(campaign)[0]
    body = page(alice.client.get(f"/campaigns/enrollments/{enrollment.pk}/"))
    explanation = selectors.explain(enrollment=enrollment)
    for reason in explanation.reasons:
        assert reason in body
    assert "No email yet" in body
    assert "Email 1" in body  # the next email


def test_send_again_puts_an_unknown_email_back_in_the_queue(
    alice, campaign, django_capture_on_commit_callbacks
):
    enrollment = enrollments(campaign)[0]
    unknown = message(
        enrollment,
        status=MessageStatus.UNKNOWN,
        started=timezone.now() - timedelta(minutes=20),
        error="The worker stopped while sending.",
    )
    first_id = unknown.message_id
    body = page(alice.client.get(f"/campaigns/enrollments/{enrollment.pk}/"))
    assert "The last send's outcome is unknown" in body  # the explanation
    assert "the server may or may not have received it" in body
    assert "FluenzR never sends it again on its own" in body
    assert "Send again" in body and "It was sent" in body
    assert "Next:" not in body  # nothing happens by itself until someone decides
    assert f"/campaigns/messages/{unknown.pk}/send-again/" in body

    queue = redis.Redis.from_url(settings.REDIS_URL)
    queue.delete("sending")
    with django_capture_on_commit_callbacks(execute=True):
        response = alice.client.post(f"/campaigns/messages/{unknown.pk}/send-again/", follow=True)
    body = page(response)
    # Straight onto the sending queue (the real Redis broker), not left for the sweeper.
    queued = [json.loads(raw) for raw in queue.lrange("sending", 0, -1)]
    assert [q["headers"]["argsrepr"] for q in queued] == [repr((str(unknown.pk),))]
    assert response.redirect_chain[-1][0] == f"/campaigns/enrollments/{enrollment.pk}/"
    assert "It goes again within the sending window, under a new Message-ID." in body
    unknown.refresh_from_db()
    assert unknown.status == MessageStatus.SCHEDULED
    assert unknown.message_id != first_id and first_id in unknown.error
    assert "Send again" not in body

    # Asked twice (a double click), the second answer says why nothing happened.
    body = page(alice.client.post(f"/campaigns/messages/{unknown.pk}/send-again/", follow=True))
    assert "Only an email whose outcome is unknown can be sent again." in body
    unknown.refresh_from_db()
    assert unknown.status == MessageStatus.SCHEDULED


def test_it_was_sent_records_the_email_and_the_sequence_moves_on(alice, campaign):
    enrollment = enrollments(campaign)[0]
    started = timezone.now() - timedelta(minutes=20)
    unknown = message(enrollment, status=MessageStatus.UNKNOWN, started=started)

    body = page(alice.client.post(f"/campaigns/messages/{unknown.pk}/mark-sent/", follow=True))
    assert "Marked as sent: the sequence moves on to the next email." in body
    unknown.refresh_from_db()
    enrollment.refresh_from_db()
    assert unknown.status == MessageStatus.SENT
    assert unknown.sent_at == started
    assert enrollment.next_position == 1 and enrollment.due_at is not None
    assert "It was sent" not in body

    body = page(alice.client.post(f"/campaigns/messages/{unknown.pk}/mark-sent/", follow=True))
    assert "Only an email whose outcome is unknown can be marked as sent." in body


def test_the_buttons_only_answer_post(alice, campaign):
    unknown = message(enrollments(campaign)[0], status=MessageStatus.UNKNOWN, started=NOW)
    for action in ("send-again", "mark-sent"):
        assert alice.client.get(f"/campaigns/messages/{unknown.pk}/{action}/").status_code == 405
    unknown.refresh_from_db()
    assert unknown.status == MessageStatus.UNKNOWN


def test_another_workspaces_enrollment_and_email_are_404(alice, charlie, campaign):
    enrollment = enrollments(campaign)[0]
    unknown = message(enrollment, status=MessageStatus.UNKNOWN, started=NOW)
    assert charlie.client.get(f"/campaigns/enrollments/{enrollment.pk}/").status_code == 404
    for action in ("send-again", "mark-sent"):
        assert charlie.client.post(f"/campaigns/messages/{unknown.pk}/{action}/").status_code == 404
    unknown.refresh_from_db()
    assert (unknown.status, unknown.sent_at) == (MessageStatus.UNKNOWN, None)
    assert "p0@prospect.example.com" not in page(charlie.client.get("/campaigns/"))


# ------------------------------------------------------------------------------- in a browser


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_stats_page_draws_the_daily_chart_without_errors(page, live_server):
    from accounts import services as account_services
    from tests.conftest import PASSWORD
    from tests.factories import UserFactory

    user = UserFactory(email="ines@example.test")
    workspace = account_services.workspace_create(owner=user, name="Inès Conseil", plan="pro")
    sender = unchecked_smtp_mailbox(workspace, "ines@sender.example.com")
    campaign = services.campaign_create(
        workspace=workspace, name="Salon", mailboxes=[sender], timezone="Europe/Paris"
    )
    services.step_add(workspace=workspace, campaign=campaign, subject="Hi", body="Hello")
    for i in range(3):
        contact_services.contact_create(
            workspace=workspace, data={"email": f"c{i}@prospect.example.com"}
        )
    services.campaign_enroll(
        workspace=workspace,
        campaign=campaign,
        contacts=Contact.objects.for_workspace(workspace),
    )
    services.campaign_launch(
        workspace=workspace, campaign=campaign, now=timezone.now() - timedelta(days=5)
    )
    rows = list(Enrollment.objects.for_workspace(workspace).select_related("campaign"))
    message(rows[0], status=MessageStatus.SENT, sent_at=timezone.now() - timedelta(days=3))
    message(rows[1], status=MessageStatus.SENT, sent_at=timezone.now() - timedelta(days=1))
    message(rows[2], status=MessageStatus.BOUNCED, started=timezone.now() - timedelta(days=1))

    # Console errors, uncaught exceptions and Content-Security-Policy violations, on every page.
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation',"
        " e => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))"
    )
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(user.email)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/stats/")
    page.wait_for_function("() => window.Chart && Chart.getChart('daily-chart')")
    drawn = page.evaluate(
        """() => {
        const chart = Chart.getChart('daily-chart');
        const canvas = document.getElementById('daily-chart');
        return {
            labels: chart.data.labels.length,
            totals: chart.data.datasets.map(d => d.data.reduce((a, b) => a + b, 0)),
            colour: chart.data.datasets[0].backgroundColor,
            width: canvas.width,
            height: canvas.height,
            painted: canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height)
                .data.some(v => v !== 0),
        };
    }"""
    )
    assert drawn["labels"] == 6  # launch day to today, in Paris
    assert drawn["totals"] == [2, 1, 0]
    assert drawn["colour"] == "#4f46e5"  # --accent, read from app.css
    assert drawn["width"] > 300 and drawn["height"] > 150 and drawn["painted"]
    # The numbers table is folded once the chart is there, and still one click away.
    table = page.locator("#daily-table")
    assert table.get_attribute("open") is None
    page.get_by_text("Show the numbers").click()
    assert table.get_by_role("row").count() == 7  # header + 6 days
    assert problems == []
