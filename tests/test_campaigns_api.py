"""API /api/v1/campaigns, /steps, /enrollments (issue 5): the services' rules answered as 400s
with the field, workspace scoping as 404s."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from campaigns import services
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
from webhooks.models import Event

SATURDAY = datetime(2026, 6, 6, 10, 0, tzinfo=UTC)


@pytest.fixture
def mailbox(alice):
    return unchecked_smtp_mailbox(
        alice.workspace, "sales@sender.example.com", sender_name="Claire Martin"
    )


@pytest.fixture
def campaign(alice, mailbox):
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


def contact(alice, email: str, **fields) -> Contact:
    return contact_services.contact_create(
        workspace=alice.workspace, data={"email": email, **fields}
    )


def enroll(alice, campaign, *contacts: Contact) -> None:
    services.campaign_enroll(
        workspace=alice.workspace,
        campaign=campaign,
        contacts=Contact.objects.for_workspace(alice.workspace).filter(
            pk__in=[c.pk for c in contacts]
        ),
    )


def url(campaign, action: str = "") -> str:
    return f"/api/v1/campaigns/{campaign.pk}/" + (f"{action}/" if action else "")


# ------------------------------------------------------------------------------- CRUD


def test_create_read_update_list_and_delete(alice, mailbox):
    response = alice.api.post(
        "/api/v1/campaigns/",
        {
            "name": " Launch ",
            "mailbox_ids": [str(mailbox.pk)],
            "timezone": "America/New_York",
            "weekdays": [0, 2, 4],
            "window_start": "22:00",
            "window_end": "02:00",
            "spacing_min_seconds": 30,
            "spacing_max_seconds": 90,
            "track_opens": True,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["name"] == "Launch"
    assert body["status"] == "draft"
    assert body["mailbox_ids"] == [str(mailbox.pk)]
    assert (body["timezone"], body["weekdays"]) == ("America/New_York", [0, 2, 4])
    assert (body["window_start"], body["window_end"]) == ("22:00:00", "02:00:00")
    assert (body["spacing_min_seconds"], body["track_opens"]) == (30, True)
    campaign_url = f"/api/v1/campaigns/{body['id']}/"

    assert alice.api.get(campaign_url).json() == body
    patched = alice.api.patch(
        campaign_url, {"daily_new_contacts": 25, "mailbox_ids": []}, format="json"
    )
    assert patched.status_code == 200, patched.json()
    assert (patched.json()["daily_new_contacts"], patched.json()["mailbox_ids"]) == (25, [])
    assert patched.json()["window_start"] == "22:00:00"

    services.campaign_create(workspace=alice.workspace, name="Other")
    assert len(alice.api.get("/api/v1/campaigns/").json()["results"]) == 2
    drafts = alice.api.get("/api/v1/campaigns/?status=draft").json()["results"]
    assert len(drafts) == 2
    assert alice.api.get("/api/v1/campaigns/?status=active").json()["results"] == []
    bad = alice.api.get("/api/v1/campaigns/?status=nope")
    assert bad.status_code == 400 and "status" in bad.json()["error"]["fields"]

    assert alice.api.delete(campaign_url).status_code == 204
    assert alice.api.get(campaign_url).status_code == 404


def test_create_defaults_to_the_workspace_timezone(alice):
    response = alice.api.post("/api/v1/campaigns/", {"name": "Plain"}, format="json")
    assert response.status_code == 201
    assert response.json()["timezone"] == alice.workspace.timezone
    assert response.json()["spacing_min_seconds"] == 60


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"window_start": "09:00", "window_end": "09:00"}, "window_end", "same"),
        ({"spacing_min_seconds": 10}, "spacing_min_seconds", "at least 20 seconds"),
        (
            {"spacing_min_seconds": 100, "spacing_max_seconds": 50},
            "spacing_max_seconds",
            "maximum gap",
        ),
        ({"timezone": "Mars/Olympus"}, "window_end", "Unknown time zone"),
        ({"weekdays": []}, "window_end", "at least one day"),
        ({"weekdays": [7]}, "weekdays", ""),
        ({"name": "  "}, "name", ""),
        ({"body_format": "rtf"}, "body_format", ""),
        ({"bounce_pause_percent": 80}, "bounce_pause_percent", "between 0 (never pause) and 50"),
        ({"out_of_office_days": 0}, "out_of_office_days", "between 1 and 60 days"),
    ],
)
def test_invalid_settings_are_400_with_the_field(alice, campaign, data, field, words):
    for response in (
        alice.api.patch(url(campaign), data, format="json"),
        alice.api.post("/api/v1/campaigns/", {"name": "New", **data}, format="json"),
    ):
        assert response.status_code == 400, response.json()
        error = response.json()["error"]
        assert field in error["fields"], error
        assert words in " ".join(error["fields"][field])
    assert Campaign.objects.for_workspace(alice.workspace).count() == 1  # nothing half-made
    campaign.refresh_from_db()
    assert (campaign.spacing_min_seconds, campaign.timezone) == (60, "Europe/Paris")


def test_another_workspaces_mailbox_cannot_be_a_sender(alice, charlie, campaign):
    theirs = unchecked_smtp_mailbox(charlie.workspace, "c@charlie.example.com")
    for response in (
        alice.api.patch(url(campaign), {"mailbox_ids": [str(theirs.pk)]}, format="json"),
        alice.api.post(
            "/api/v1/campaigns/", {"name": "X", "mailbox_ids": [str(theirs.pk)]}, format="json"
        ),
    ):
        assert response.status_code == 400
        assert "No mailbox with id" in response.json()["error"]["fields"]["mailbox_ids"][0]
    assert list(campaign.mailboxes.all()) != [theirs]


def test_an_active_campaign_is_not_deleted_until_paused(alice, campaign):
    enroll(alice, campaign, contact(alice, "a@prospect.example.com", company="Acme"))
    services.campaign_launch(workspace=alice.workspace, campaign=campaign)
    response = alice.api.delete(url(campaign))
    assert response.status_code == 400
    assert "pause it before deleting it" in response.json()["error"]["message"]
    assert alice.api.post(url(campaign, "pause")).status_code == 200
    assert alice.api.delete(url(campaign)).status_code == 204
    assert not Campaign.objects.for_workspace(alice.workspace).exists()


def test_a_campaign_that_has_sent_keeps_its_history(alice, campaign, mailbox):
    enroll(alice, campaign, contact(alice, "a@prospect.example.com", company="Acme"))
    services.campaign_launch(workspace=alice.workspace, campaign=campaign)
    services.campaign_pause(workspace=alice.workspace, campaign=campaign)
    step = campaign.steps.get(position=0)
    OutboundMessage.objects.create(
        workspace=alice.workspace,
        enrollment=Enrollment.objects.for_workspace(alice.workspace).get(),
        step=step,
        variant=step.variants.get(),
        mailbox=mailbox,
        status=MessageStatus.SENT,
        message_id="<one@sender.example.com>",
        quota_day=SATURDAY.date(),
        next_attempt_at=SATURDAY,
    )
    response = alice.api.delete(url(campaign))
    assert response.status_code == 400
    assert "cannot be deleted" in response.json()["error"]["message"]
    assert Campaign.objects.for_workspace(alice.workspace).get().steps.count() == 2
    assert OutboundMessage.objects.for_workspace(alice.workspace).count() == 1


# ------------------------------------------------------------------------------- actions


def test_launch_problems_are_a_400_with_the_sentence(alice, campaign):
    response = alice.api.post(url(campaign, "launch"))
    assert response.status_code == 400
    assert "Add contacts to the campaign." in response.json()["error"]["message"]
    enroll(alice, campaign, contact(alice, "a@prospect.example.com"))
    response = alice.api.post(url(campaign, "launch"))
    assert response.status_code == 400
    assert (
        "Email 1 (A) uses {{company}}, with no value for 1 contact:"
        in (response.json()["error"]["message"])
    )
    empty = services.campaign_create(workspace=alice.workspace, name="Empty")
    message = alice.api.post(url(empty, "launch")).json()["error"]["message"]
    assert "Write at least one email." in message
    assert "Choose at least one mailbox to send from." in message


def test_launch_pause_resume_emit_events(alice, campaign):
    enroll(alice, campaign, contact(alice, "a@prospect.example.com", company="Acme"))
    launched = alice.api.post(url(campaign, "launch"))
    assert launched.status_code == 200
    assert launched.json()["status"] == "active" and launched.json()["launched_at"]
    again = alice.api.post(url(campaign, "launch"))
    assert again.status_code == 400
    assert "Only a draft or paused campaign" in again.json()["error"]["message"]
    assert alice.api.post(url(campaign, "resume")).status_code == 400
    assert alice.api.post(url(campaign, "pause")).json()["status"] == "paused"
    assert alice.api.post(url(campaign, "pause")).status_code == 400
    assert alice.api.post(url(campaign, "resume")).json()["status"] == "active"
    types = list(
        Event.objects.for_workspace(alice.workspace)
        .filter(type__startswith="campaign.")
        .order_by("created_at")
        .values_list("type", flat=True)
    )
    assert types == ["campaign.launched", "campaign.paused", "campaign.resumed"]


def test_enroll_counts_each_skip_reason(alice, campaign):
    lst = contact_services.list_create(workspace=alice.workspace, name="Leads")
    ok = contact(alice, "ok@prospect.example.com")
    listed = contact_services.contact_create(
        workspace=alice.workspace, data={"email": "listed@prospect.example.com"}, lists=[lst]
    )
    bounced = contact(alice, "gone@prospect.example.com", status="bounced")
    contact_services.suppression_add(workspace=alice.workspace, value="blocked.example.com")
    blocked = contact(alice, "x@blocked.example.com")
    unknown = "00000000-0000-4000-8000-000000000000"
    response = alice.api.post(
        url(campaign, "enroll"),
        {"contact_ids": [str(c.pk) for c in (ok, bounced, blocked, listed)] + [unknown]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "added": 2,
        "skipped": {"bounced": 1, "suppressed": 1, "not_found": 1},
    }
    again = alice.api.post(
        url(campaign, "enroll"),
        {"contact_ids": [str(ok.pk)], "list_ids": [str(lst.pk)]},
        format="json",
    ).json()
    assert again == {"added": 0, "skipped": {"already_enrolled": 2}}
    lst2 = contact_services.list_create(workspace=alice.workspace, name="More")
    contact_services.contact_create(
        workspace=alice.workspace, data={"email": "new@prospect.example.com"}, lists=[lst2]
    )
    by_list = alice.api.post(url(campaign, "enroll"), {"list_ids": [str(lst2.pk)]}, format="json")
    assert by_list.json() == {"added": 1, "skipped": {}}
    assert Enrollment.objects.for_workspace(alice.workspace).count() == 3


def test_enroll_validates_its_input(alice, charlie, campaign):
    empty = alice.api.post(url(campaign, "enroll"), {}, format="json")
    assert empty.status_code == 400 and "contact_ids" in empty.json()["error"]["fields"]
    not_ids = alice.api.post(url(campaign, "enroll"), {"contact_ids": ["x"]}, format="json")
    assert not_ids.status_code == 400
    their_list = contact_services.list_create(workspace=charlie.workspace, name="Theirs")
    response = alice.api.post(
        url(campaign, "enroll"), {"list_ids": [str(their_list.pk)]}, format="json"
    )
    assert response.status_code == 400 and "list_ids" in response.json()["error"]["fields"]
    their_contact = contact(charlie, "c@prospect.example.com")
    response = alice.api.post(
        url(campaign, "enroll"), {"contact_ids": [str(their_contact.pk)]}, format="json"
    )
    assert response.json() == {"added": 0, "skipped": {"not_found": 1}}


def test_stats_and_forecast_shapes(alice, campaign):
    enroll(alice, campaign, contact(alice, "a@prospect.example.com", company="Acme"))
    stats = alice.api.get(url(campaign, "stats")).json()
    assert stats["contacts"]["pending"] == 1 and stats["steps"] == []
    assert set(stats["contacts"]) == set(EnrollmentStatus.values)
    forecast = alice.api.get(url(campaign, "forecast")).json()
    assert forecast["total"] == 2
    assert [set(day) for day in forecast["per_day"]] == [{"date", "emails"}] * len(
        forecast["per_day"]
    )
    assert sum(day["emails"] for day in forecast["per_day"]) == 2
    assert forecast["last_email_at"] is not None
    empty = services.campaign_create(workspace=alice.workspace, name="Empty")
    assert alice.api.get(url(empty, "forecast")).json() == {
        "per_day": [],
        "last_email_at": None,
        "total": 0,
    }


# ------------------------------------------------------------------------------- steps


def test_steps_list_create_update_and_variants(alice, campaign):
    listed = alice.api.get(url(campaign, "steps")).json()
    assert [s["position"] for s in listed] == [0, 1]
    assert listed[0]["variants"][0]["label"] == "A"
    assert listed[1]["variants"][0]["body"] == "Following up."

    created = alice.api.post(
        url(campaign, "steps"),
        {"body": "Last try.", "delay_amount": 2, "delay_unit": "hours"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    step = created.json()
    assert (step["position"], step["delay_amount"], step["delay_unit"]) == (2, 2, "hours")
    assert step["variants"][0]["subject"] == ""
    step_url = f"/api/v1/steps/{step['id']}/"
    assert alice.api.get(step_url).json() == step

    patched = alice.api.patch(step_url, {"body": "Really the last.", "delay_amount": 4})
    assert patched.status_code == 200
    assert patched.json()["variants"][0]["body"] == "Really the last."
    assert patched.json()["delay_amount"] == 4

    variant = alice.api.post(
        f"{step_url}variants/", {"subject": "B side", "body": "Other words.", "weight": 30}
    )
    assert variant.status_code == 201, variant.json()
    assert (variant.json()["label"], variant.json()["weight"]) == ("B", 30)
    assert len(alice.api.get(step_url).json()["variants"]) == 2


def test_step_rules_are_400_with_the_field(alice, campaign):
    empty = services.campaign_create(workspace=alice.workspace, name="Empty")
    response = alice.api.post(url(empty, "steps"), {"body": "Hi"}, format="json")
    assert response.status_code == 400
    assert "needs a subject" in response.json()["error"]["fields"]["subject"][0]
    response = alice.api.post(url(campaign, "steps"), {"body": " "}, format="json")
    assert response.json()["error"]["fields"]["body"] == ["Write the email's body."]
    response = alice.api.post(
        url(campaign, "steps"), {"body": "x", "delay_unit": "weeks"}, format="json"
    )
    assert "delay_unit" in response.json()["error"]["fields"]
    first = campaign.steps.get(position=0)
    response = alice.api.patch(f"/api/v1/steps/{first.pk}/", {"subject": ""}, format="json")
    assert response.status_code == 400
    assert "needs a subject" in response.json()["error"]["fields"]["subject"][0]
    response = alice.api.post(f"/api/v1/steps/{first.pk}/variants/", {"body": ""}, format="json")
    assert response.status_code == 400 and "body" in response.json()["error"]["fields"]
    assert alice.api.put(f"/api/v1/steps/{first.pk}/", {}, format="json").status_code == 405


def test_a_step_contacts_wait_on_cannot_be_deleted(alice, campaign):
    enroll(alice, campaign, contact(alice, "a@prospect.example.com", company="Acme"))
    first = campaign.steps.get(position=0)
    response = alice.api.delete(f"/api/v1/steps/{first.pk}/")
    assert response.status_code == 400
    assert "1 contact is waiting for this email" in response.json()["error"]["message"]
    second = campaign.steps.get(position=1)
    assert alice.api.delete(f"/api/v1/steps/{second.pk}/").status_code == 204
    assert list(campaign.steps.values_list("position", flat=True)) == [0]
    assert alice.api.get(f"/api/v1/steps/{second.pk}/").status_code == 404


# ------------------------------------------------------------------------------- enrollments


def test_enrollments_list_explain_and_preview(alice, campaign):
    lea = contact(alice, "lea@prospect.example.com", first_name="Léa", company="X")
    enroll(alice, campaign, lea, contact(alice, "b@prospect.example.com", company="Y"))
    services.campaign_launch(workspace=alice.workspace, campaign=campaign, now=SATURDAY)
    Enrollment.objects.for_workspace(alice.workspace).exclude(contact=lea).update(
        status=EnrollmentStatus.REPLIED
    )
    listed = alice.api.get(url(campaign, "enrollments")).json()
    assert len(listed["results"]) == 2 and "next" in listed
    active = alice.api.get(url(campaign, "enrollments") + "?status=pending").json()["results"]
    assert [e["contact_email"] for e in active] == ["lea@prospect.example.com"]
    assert alice.api.get(url(campaign, "enrollments") + "?status=x").status_code == 400
    page = alice.api.get(url(campaign, "enrollments") + "?limit=1").json()
    assert len(page["results"]) == 1 and page["next"]

    enrollment_url = f"/api/v1/enrollments/{active[0]['id']}/"
    assert alice.api.get(enrollment_url).json()["status"] == "pending"
    explained = alice.api.get(enrollment_url + "explain/").json()
    assert set(explained) == {"status", "next_at", "reasons"}
    assert explained["status"] == "pending" and explained["reasons"]

    preview = alice.api.get(enrollment_url + "preview/").json()
    assert preview["subject"] in ("Hello Léa", "Hi Léa")
    body, _blank, unsubscribe = preview["body"].strip().rpartition("\n")
    assert body.strip() == "About X. Claire"  # then the unsubscribe line (on by default)
    assert unsubscribe.startswith("Unsubscribe: http://testserver/u/")
    assert alice.api.get(enrollment_url + "preview/?step=0").json() == preview
    second = alice.api.get(enrollment_url + "preview/?step=1").json()
    lines = second["body"].strip().splitlines()
    assert lines[0] == "Following up." and lines[-1].startswith("Unsubscribe: http")
    for bad in ("5", "x", "-1"):
        response = alice.api.get(enrollment_url + f"preview/?step={bad}")
        assert response.status_code == 400 and "step" in response.json()["error"]["fields"]


# ------------------------------------------------------------------------------- tenancy


def test_outsider_gets_404_on_alices_campaign_step_and_enrollment(alice, charlie, campaign):
    enroll(alice, campaign, contact(alice, "a@prospect.example.com", company="Acme"))
    step = Step.objects.for_workspace(alice.workspace).first()
    enrollment = Enrollment.objects.for_workspace(alice.workspace).get()
    urls = [
        url(campaign),
        *(url(campaign, a) for a in ("stats", "forecast", "steps", "enrollments")),
        f"/api/v1/steps/{step.pk}/",
        f"/api/v1/enrollments/{enrollment.pk}/",
        f"/api/v1/enrollments/{enrollment.pk}/explain/",
        f"/api/v1/enrollments/{enrollment.pk}/preview/",
    ]
    for target in urls:
        assert charlie.api.get(target).status_code == 404, target
    for target in (
        *(url(campaign, a) for a in ("launch", "pause", "resume", "enroll", "steps")),
        f"/api/v1/steps/{step.pk}/variants/",
    ):
        assert charlie.api.post(target, {"body": "x"}, format="json").status_code == 404, target
    assert charlie.api.patch(url(campaign), {"name": "Mine"}, format="json").status_code == 404
    assert charlie.api.patch(f"/api/v1/steps/{step.pk}/", {"body": "x"}).status_code == 404
    assert charlie.api.delete(url(campaign)).status_code == 404
    assert charlie.api.delete(f"/api/v1/steps/{step.pk}/").status_code == 404
    assert charlie.api.get("/api/v1/campaigns/").json()["results"] == []
    campaign.refresh_from_db()
    assert (campaign.name, campaign.status, campaign.steps.count()) == ("Q3", "draft", 2)
