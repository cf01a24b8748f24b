"""The campaigns dashboard (issue 5), as alice's signed-in browser sees it: create a draft,
write the sequence, enroll a list, preview, launch (and what stops it), pause and resume,
schedule and options, stats. Server-rendered HTML, no JavaScript needed."""

from __future__ import annotations

import html

import pytest

from campaigns import services
from campaigns.models import Campaign, CampaignStatus, Enrollment, Step
from contacts import services as contact_services
from tests.mailboxes import unchecked_smtp_mailbox


def page(response) -> str:
    return html.unescape(response.content.decode())


def follow(actor, url: str, data: dict | None = None) -> str:
    response = actor.client.post(url, data or {}, follow=True)
    assert response.status_code == 200
    return page(response)


@pytest.fixture
def mailbox(alice):
    return unchecked_smtp_mailbox(alice.workspace, "claire@sender.example.com")


@pytest.fixture
def prospects(alice):
    contact_list = contact_services.list_create(workspace=alice.workspace, name="Prospects")
    for email, first in [
        ("paula@prospect.example.com", "Paula"),
        ("remi@prospect.example.com", ""),
    ]:
        contact_services.contact_create(
            workspace=alice.workspace,
            data={"email": email, "first_name": first, "company": "Acme"},
            lists=[contact_list],
        )
    return contact_list


@pytest.fixture
def draft(alice, mailbox):
    campaign = services.campaign_create(workspace=alice.workspace, name="Q3", mailboxes=[mailbox])
    services.step_add(
        workspace=alice.workspace,
        campaign=campaign,
        subject="Hello {{firstName|there}}",
        body="A word about {{company}}.",
    )
    return campaign


def step_data(step: Step, **values) -> dict:
    prefix = f"s{str(step.pk)[:8]}"
    return {f"{prefix}-{name}": value for name, value in values.items()}


def test_an_empty_campaign_list_teaches_the_three_steps(alice):
    body = page(alice.client.get("/campaigns/"))
    assert "Connect a mailbox" in body and 'href="/email-accounts/"' in body
    assert "Import contacts" in body and 'href="/contacts/imports/"' in body
    assert 'href="/campaigns/new/"' in body


def test_new_campaign_without_a_mailbox_says_so_and_links_to_connect_one(alice):
    body = page(alice.client.get("/campaigns/new/"))
    assert "No mailbox to send from yet" in body
    assert 'href="/email-accounts/"' in body
    response = alice.client.post("/campaigns/new/", {"name": "  "})
    assert response.status_code == 200
    assert "has-error" in page(response)
    assert not Campaign.objects.for_workspace(alice.workspace).exists()


def test_create_write_enroll_preview_launch_pause_resume(alice, mailbox, prospects):
    # Create the draft: it opens the editor.
    response = alice.client.post("/campaigns/new/", {"name": "Spring", "mailboxes": [mailbox.pk]})
    campaign = Campaign.objects.for_workspace(alice.workspace).get()
    assert response.status_code == 302
    assert response["Location"] == f"/campaigns/{campaign.pk}/"
    assert list(campaign.mailboxes.all()) == [mailbox]

    # Launching now lists what to fix, and changes nothing.
    body = follow(alice, f"/campaigns/{campaign.pk}/launch/")
    assert "Before launching:" in body
    assert "Write at least one email." in body
    assert "Add contacts to the campaign." in body
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT

    # The first email needs a subject: shown inline on the field.
    add = f"/campaigns/{campaign.pk}/steps/"
    response = alice.client.post(add, {"new-subject": "", "new-body": "Hi"})
    assert response.status_code == 200
    assert "has-error" in page(response)
    assert not campaign.steps.exists()
    # The variable menu offers the known variables.
    assert '<option value="firstName">' in page(response)
    assert '<option value="sender.firstName">' in page(response)

    follow(alice, add, {"new-subject": "Hi {{firstName|there}}", "new-body": "About {{company}}."})
    body = follow(
        alice,
        add,
        {"new-delay_amount": "3", "new-delay_unit": "days", "new-subject": "", "new-body": "Ping?"},
    )
    first, second = campaign.steps.order_by("position")
    assert (second.delay_amount, second.delay_unit) == (3, "days")
    assert "3 sending days after the previous email" in body

    # Edit the first email.
    body = follow(
        alice,
        f"/campaigns/steps/{first.pk}/",
        step_data(first, subject="Hello {{firstName|there}}", body="A word about {{company}}."),
    )
    assert "Email 1 saved." in body
    assert first.variants.get(label="A").subject == "Hello {{firstName|there}}"

    # A variant B.
    prefix = f"v{str(first.pk)[:8]}"
    body = follow(
        alice,
        f"/campaigns/steps/{first.pk}/variants/",
        {f"{prefix}-subject": "Quick question", f"{prefix}-body": "Hello from B."},
    )
    assert "Variant B added to email 1." in body
    assert "Hello from B." in body and "+ Add variant C" in body

    # Enroll a list: how many were added, and why others were skipped.
    body = follow(alice, f"/campaigns/{campaign.pk}/enroll/", {"contact_list": prospects.pk})
    assert "2 contacts added." in body
    body = follow(alice, f"/campaigns/{campaign.pk}/enroll/", {"contact_list": prospects.pk})
    assert "0 contacts added. Skipped: already in the campaign (2)." in body
    assert "paula@prospect.example.com" in body
    assert "Not scheduled: the campaign has not been launched." in body

    # Preview: the exact subject and body a contact gets.
    paula = Enrollment.objects.for_workspace(alice.workspace).get(
        contact__email="paula@prospect.example.com"
    )
    services.step_update(workspace=alice.workspace, step=first, subject="Hello {{firstName|there}}")
    first.variants.filter(label="B").delete()  # keep the preview on variant A
    body = page(
        alice.client.get(f"/campaigns/{campaign.pk}/preview/?enrollment={paula.pk}&step={first.pk}")
    )
    assert "Hello Paula" in body
    assert "A word about Acme." in body

    # Launch, then pause and resume.
    body = follow(alice, f"/campaigns/{campaign.pk}/launch/")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.ACTIVE
    assert "Before launching:" not in body
    assert ">Pause</button>" in body

    body = page(alice.client.get(f"/campaigns/{campaign.pk}/contacts/"))
    assert "Not scheduled" not in body
    assert "Why not yet" in body

    # Contacts wait for email 1: the service refuses to remove it, and the page says why.
    body = follow(alice, f"/campaigns/steps/{first.pk}/delete/")
    assert "2 contacts are waiting for this email" in body
    assert campaign.steps.count() == 2

    body = follow(alice, f"/campaigns/{campaign.pk}/pause/")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.PAUSED
    assert ">Resume</button>" in body

    follow(alice, f"/campaigns/{campaign.pk}/resume/")
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.ACTIVE

    # The list shows it with a status word and its numbers.
    body = page(alice.client.get("/campaigns/"))
    assert "Spring" in body and "Active" in body and "+ New campaign" in body


def test_undefined_variable_blocks_the_launch_and_the_preview_says_so(alice, draft, prospects):
    services.step_update(workspace=alice.workspace, step=draft.steps.get(), body="Hi {{title}}")
    services.campaign_enroll_lists(workspace=alice.workspace, campaign=draft, lists=[prospects])
    body = follow(alice, f"/campaigns/{draft.pk}/launch/")
    assert "uses {{title}}, with no value for 2 contacts" in body
    draft.refresh_from_db()
    assert draft.status == CampaignStatus.DRAFT
    body = page(alice.client.get(f"/campaigns/{draft.pk}/preview/"))
    assert "This contact has no value for {{title}}" in body


def test_a_step_nobody_waits_on_can_be_removed(alice, draft):
    step = services.step_add(workspace=alice.workspace, campaign=draft, body="Ping?")
    body = follow(alice, f"/campaigns/steps/{step.pk}/delete/")
    assert "Email 2 removed." in body
    assert draft.steps.count() == 1


def test_schedule_and_options_validate_inline_and_save(alice, draft, mailbox):
    url = f"/campaigns/{draft.pk}/settings/"
    body = page(alice.client.get(url))
    assert 'value="Europe/Paris"' in body or 'value="UTC"' in body
    data = {
        "name": "Q3 renamed",
        "timezone": "Europe/Paris",
        "weekdays": ["0", "2", "4"],
        "window_start": "09:00",
        "window_end": "09:00",
        "daily_new_contacts": "30",
        "spacing_min_seconds": "90",
        "spacing_max_seconds": "60",
        "stop_on_reply": "on",
        "unsubscribe_link": "on",
        "body_format": "text",
        "bounce_pause_percent": "5",
        "out_of_office_days": "7",
        "mailboxes": [mailbox.pk],
    }
    response = alice.client.post(url, data)
    assert response.status_code == 200
    assert "The maximum gap must be at least the minimum gap." in page(response)
    data["spacing_max_seconds"] = "120"
    response = alice.client.post(url, data)
    assert response.status_code == 200  # the empty window, refused by the service
    assert "has-error" in page(response)
    data["bounce_pause_percent"] = "80"
    response = alice.client.post(url, data)
    assert "Ensure this value is less than or equal to 50." in page(response)
    data["bounce_pause_percent"] = "3"
    data["window_end"] = "17:30"
    body = follow(alice, url, data)
    assert "Schedule and options saved." in body
    draft.refresh_from_db()
    assert draft.name == "Q3 renamed"
    assert draft.weekdays == [0, 2, 4]
    assert (draft.spacing_min_seconds, draft.spacing_max_seconds) == (90, 120)
    assert draft.daily_new_contacts == 30
    assert (draft.bounce_pause_percent, draft.out_of_office_days) == (3, 7)
    assert (draft.stop_on_reply, draft.track_opens) == (True, False)


def test_stats_show_states_and_the_forecast(alice, draft, prospects):
    services.campaign_enroll_lists(workspace=alice.workspace, campaign=draft, lists=[prospects])
    body = page(alice.client.get(f"/campaigns/{draft.pk}/stats/"))
    assert "Contacts by state" in body
    assert "Not started" in body
    assert "Nothing sent yet." in body
    assert "the last one is expected around" in body


def test_outsider_gets_404_on_every_campaign_page(alice, charlie, draft):
    step = draft.steps.get()
    urls = [
        f"/campaigns/{draft.pk}/{suffix}"
        for suffix in (
            "",
            "steps/",
            "contacts/",
            "enroll/",
            "preview/",
            "settings/",
            "stats/",
            "launch/",
            "pause/",
            "resume/",
        )
    ] + [
        f"/campaigns/steps/{step.pk}/",
        f"/campaigns/steps/{step.pk}/delete/",
        f"/campaigns/steps/{step.pk}/variants/",
    ]
    for url in urls:
        assert charlie.client.get(url).status_code in (404, 405), url
        assert charlie.client.post(url, {"name": "x"}).status_code == 404, url
    assert "Q3" not in page(charlie.client.get("/campaigns/"))
    draft.refresh_from_db()
    assert (draft.status, draft.steps.count()) == (CampaignStatus.DRAFT, 1)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_variable_menu_inserts_at_the_cursor_and_removal_asks_first(page, live_server):
    from accounts import services as account_services
    from tests.conftest import PASSWORD
    from tests.factories import UserFactory

    user = UserFactory(email="ines@example.test")
    workspace = account_services.workspace_create(owner=user, name="Inès Conseil", plan="pro")
    campaign = services.campaign_create(workspace=workspace, name="Salon")
    services.step_add(workspace=workspace, campaign=campaign, subject="Hi", body="Hello")
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(user.email)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/")
    body = page.locator("#add-step textarea")
    body.fill("Bonjour , merci")
    body.evaluate("field => field.setSelectionRange(8, 8)")
    page.locator("#vars-new").select_option("firstName")
    assert body.input_value() == "Bonjour {{firstName}}, merci"
    assert page.locator("#vars-new").input_value() == ""

    # A destructive action asks once; saying no keeps the email.
    messages = []
    page.once("dialog", lambda dialog: (messages.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Remove").click()
    assert messages and "Remove email 1" in messages[0]
    assert campaign.steps.count() == 1
