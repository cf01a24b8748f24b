"""Campaign services and reads (issue 5): launch checks with undefined variables, editing a
running sequence, previews that match the real email, "why not yet", the forecast, stats."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from accounts.errors import ServiceError
from campaigns import selectors, services
from campaigns.models import ALL_WEEKDAYS, Enrollment, EnrollmentStatus, OutboundMessage
from contacts import services as contact_services
from contacts.models import Contact
from tests.mailboxes import unchecked_smtp_mailbox

TUESDAY_10 = datetime(2026, 6, 2, 8, 0, tzinfo=UTC)  # 10:00 in Paris


@pytest.fixture
def campaign(alice):
    mailbox = unchecked_smtp_mailbox(
        alice.workspace, "sales@sender.example.com", sender_name="Claire Martin"
    )
    campaign = services.campaign_create(
        workspace=alice.workspace, name="Q3", mailboxes=[mailbox], timezone="Europe/Paris"
    )
    services.step_add(
        workspace=alice.workspace,
        campaign=campaign,
        subject="{Hello|Hi} {{firstName|there}}",
        body="About {{company}}. {{sender.firstName}}",
    )
    services.step_add(
        workspace=alice.workspace, campaign=campaign, body="Following up.", delay_amount=3
    )
    return campaign


def enroll(alice, campaign, *rows: dict) -> list[Contact]:
    contacts = [
        contact_services.contact_create(workspace=alice.workspace, data=row) for row in rows
    ]
    services.campaign_enroll(
        workspace=alice.workspace,
        campaign=campaign,
        contacts=Contact.objects.for_workspace(alice.workspace).filter(
            pk__in=[c.pk for c in contacts]
        ),
    )
    return contacts


def test_undefined_variables_block_the_launch_naming_step_and_count(alice, campaign):
    enroll(
        alice,
        campaign,
        {"email": "a@prospect.example.com", "company": "Acme"},
        {"email": "b@prospect.example.com"},
        {"email": "c@prospect.example.com"},
    )
    with pytest.raises(ServiceError) as error:
        services.campaign_launch(workspace=alice.workspace, campaign=campaign)
    assert "Email 1 (A) uses {{company}}, with no value for 2 contacts" in str(error.value)
    step = campaign.steps.get(position=0)
    services.step_update(workspace=alice.workspace, step=step, body="About {{company|your team}}.")
    launched = services.campaign_launch(
        workspace=alice.workspace, campaign=campaign, now=TUESDAY_10
    )
    assert launched.status == "active"


def test_enrollment_skips_with_a_count_per_reason(alice, campaign):
    enroll(alice, campaign, {"email": "ok@prospect.example.com"})
    contact_services.contact_create(
        workspace=alice.workspace, data={"email": "gone@prospect.example.com", "status": "bounced"}
    )
    contact_services.suppression_add(workspace=alice.workspace, value="blocked.example.com")
    for address in ("x@blocked.example.com", "y@mail.blocked.example.com", "Z@Blocked.Example.com"):
        contact_services.contact_create(workspace=alice.workspace, data={"email": address})
    result = services.campaign_enroll(
        workspace=alice.workspace,
        campaign=campaign,
        contacts=Contact.objects.for_workspace(alice.workspace),
    )
    assert result.added == 0
    assert dict(result.skipped) == {"already_enrolled": 1, "bounced": 1, "suppressed": 3}


def test_a_step_contacts_wait_on_cannot_be_removed(alice, campaign):
    enroll(alice, campaign, {"email": "a@prospect.example.com", "company": "Acme"})
    with pytest.raises(ServiceError, match="1 contact is waiting for this email"):
        services.step_delete(workspace=alice.workspace, step=campaign.steps.get(position=0))
    services.step_add(workspace=alice.workspace, campaign=campaign, body="Last try.")
    services.step_delete(workspace=alice.workspace, step=campaign.steps.get(position=1))
    assert list(campaign.steps.values_list("position", flat=True)) == [0, 1]
    assert campaign.steps.get(position=1).variants.get().body == "Last try."


def test_the_window_rejects_equal_start_and_end(alice, campaign):
    with pytest.raises(ServiceError, match="same"):
        services.campaign_update(
            workspace=alice.workspace,
            campaign=campaign,
            window_start=time(9),
            window_end=time(9),
        )


def test_preview_is_the_email_the_contact_gets(alice, campaign):
    [contact] = enroll(
        alice, campaign, {"email": "lea@prospect.example.com", "first_name": "Léa", "company": "X"}
    )
    enrollment = Enrollment.objects.for_workspace(alice.workspace).get(contact=contact)
    step = campaign.steps.get(position=0)
    first = selectors.preview(enrollment=enrollment, step=step)
    assert first.subject in ("Hello Léa", "Hi Léa")
    # The unsubscribe line ends every email (unsubscribe_link is on by default).
    body, _blank, unsubscribe = first.body.strip().rpartition("\n")
    assert body.strip() == "About X. Claire"
    assert unsubscribe.startswith("Unsubscribe: http://testserver/u/")
    assert selectors.preview(enrollment=enrollment, step=step) == first  # deterministic


def test_why_not_yet_names_the_window_and_the_delay(alice, campaign):
    enroll(alice, campaign, {"email": "a@prospect.example.com", "company": "Acme"})
    saturday = datetime(2026, 6, 6, 10, 0, tzinfo=UTC)
    services.campaign_launch(workspace=alice.workspace, campaign=campaign, now=saturday)
    enrollment = Enrollment.objects.for_workspace(alice.workspace).get()
    explained = selectors.explain(enrollment=enrollment, now=saturday)
    assert explained.next_at == datetime(2026, 6, 8, 7, 0, tzinfo=UTC)  # Monday 09:00 Paris
    assert "Outside the sending window (Europe/Paris)" in explained.reasons[0]
    assert selectors.explain(enrollment=enrollment, now=saturday) == explained
    services.campaign_pause(workspace=alice.workspace, campaign=campaign)
    enrollment.refresh_from_db()
    assert "The campaign is paused." in selectors.explain(enrollment=enrollment).reasons
    Enrollment.objects.for_workspace(alice.workspace).update(status=EnrollmentStatus.REPLIED)
    enrollment.refresh_from_db()
    assert selectors.explain(enrollment=enrollment).reasons == ["Stopped: Replied."]


def test_the_forecast_counts_days_and_the_last_email(alice, campaign):
    enroll(
        alice,
        campaign,
        *({"email": f"p{i}@prospect.example.com", "company": "Acme"} for i in range(120)),
    )
    services.campaign_update(workspace=alice.workspace, campaign=campaign, weekdays=ALL_WEEKDAYS)
    services.campaign_launch(workspace=alice.workspace, campaign=campaign, now=TUESDAY_10)
    result = selectors.forecast(campaign=campaign, now=TUESDAY_10)
    # 50 a day from the one mailbox: 120 first emails over three days, then follow-ups.
    assert result.total == 240
    assert result.per_day[0] == (TUESDAY_10.date(), 50)
    assert sum(count for _day, count in result.per_day) == 240
    assert result.last_email_at is not None and result.last_email_at > TUESDAY_10 + timedelta(
        days=4
    )
    assert selectors.forecast(campaign=campaign, now=TUESDAY_10) == result


def test_stats_count_contacts_by_state(alice, campaign):
    enroll(alice, campaign, {"email": "a@prospect.example.com", "company": "Acme"})
    stats = selectors.campaign_stats(campaign)
    assert stats["contacts"]["pending"] == 1 and stats["steps"] == []
    assert not OutboundMessage.objects.unscoped().exists()
