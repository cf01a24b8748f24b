"""A/B variants of a step (issue 5): edit, remove, weights — the services' rules and their
sentences, the API (PATCH/DELETE /api/v1/variants/{id}) and the dashboard's sequence page.
Weight 0 means "no new contact gets this variant": the split never picks it."""

from __future__ import annotations

import html
import uuid
from collections import Counter

import pytest

from accounts.errors import NotFound, ServiceError
from campaigns import services
from campaigns.engine.compose import choose_variant
from campaigns.models import (
    CampaignStatus,
    Enrollment,
    MessageStatus,
    OutboundMessage,
    Step,
    Variant,
)
from contacts import services as contact_services
from contacts.models import Contact
from tests.mailboxes import unchecked_smtp_mailbox

WEIGHT_RANGE = "Give a weight between 0 and 100 (0: no new contact gets this variant)."
KEEP_STATS = "set its weight to 0 to stop using it while keeping its statistics"


def page(response) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def mailbox(alice):
    return unchecked_smtp_mailbox(alice.workspace, "claire@sender.example.com")


@pytest.fixture
def campaign(alice, mailbox):
    campaign = services.campaign_create(workspace=alice.workspace, name="Q3", mailboxes=[mailbox])
    services.step_add(
        workspace=alice.workspace,
        campaign=campaign,
        subject="Hello {{firstName|there}}",
        body="A word about {{company|your team}}.",
    )
    services.step_add(
        workspace=alice.workspace, campaign=campaign, body="Following up.", delay_amount=2
    )
    return campaign


@pytest.fixture
def first(campaign) -> Step:
    return campaign.steps.get(position=0)


@pytest.fixture
def variant_b(alice, first) -> Variant:
    return services.variant_add(
        workspace=alice.workspace, step=first, subject="Quick question", body="Hello from B."
    )


def a_of(step: Step) -> Variant:
    return step.variants.get(label="A")


def sent_with(alice, campaign, variant: Variant, email: str) -> OutboundMessage:
    """An email already written with `variant` (as the engine records one)."""
    contact = contact_services.contact_create(workspace=alice.workspace, data={"email": email})
    services.campaign_enroll(
        workspace=alice.workspace,
        campaign=campaign,
        contacts=Contact.objects.for_workspace(alice.workspace).filter(pk=contact.pk),
    )
    enrollment = Enrollment.objects.for_workspace(alice.workspace).get(contact=contact)
    return OutboundMessage.objects.create(
        workspace=alice.workspace,
        enrollment=enrollment,
        step=variant.step,
        variant=variant,
        mailbox=campaign.mailboxes.get(),
        status=MessageStatus.SENT,
        message_id=f"<{uuid.uuid4().hex}@sender.example.com>",
        subject=variant.subject,
        quota_day=enrollment.created_at.date(),
        next_attempt_at=enrollment.created_at,
        sent_at=enrollment.created_at,
    )


def refusal(call, **kwargs) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        call(**kwargs)
    return caught.value


# ------------------------------------------------------------------------------- services


def test_a_variant_is_edited_even_while_the_campaign_runs(alice, campaign, first, variant_b):
    sent = sent_with(alice, campaign, variant_b, "early@prospect.example.com")
    services.campaign_launch(workspace=alice.workspace, campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.ACTIVE

    services.variant_update(
        workspace=alice.workspace,
        variant=variant_b,
        subject="A better question",
        body="New words.",
        weight=20,
    )
    variant_b.refresh_from_db()
    assert (variant_b.subject, variant_b.body, variant_b.weight) == (
        "A better question",
        "New words.",
        20,
    )
    sent.refresh_from_db()
    assert sent.subject == "Quick question"  # what was already written keeps its content

    # Only what is given changes.
    services.variant_update(workspace=alice.workspace, variant=variant_b, weight=0)
    variant_b.refresh_from_db()
    assert (variant_b.subject, variant_b.weight) == ("A better question", 0)


def test_every_variant_of_the_first_email_needs_a_subject_a_follow_up_may_not(
    alice, campaign, first, variant_b
):
    error = refusal(
        services.variant_update, workspace=alice.workspace, variant=variant_b, subject="  "
    )
    assert (error.message, error.field) == ("The first email needs a subject.", "subject")
    error = refusal(
        services.variant_add, workspace=alice.workspace, step=first, subject="", body="C."
    )
    assert (error.message, error.field) == ("The first email needs a subject.", "subject")

    follow_up = campaign.steps.get(position=1)
    b = services.variant_add(workspace=alice.workspace, step=follow_up, subject="", body="Bump.")
    services.variant_update(workspace=alice.workspace, variant=b, subject="")
    b.refresh_from_db()
    assert b.subject == ""

    error = refusal(services.variant_update, workspace=alice.workspace, variant=b, body=" ")
    assert (error.message, error.field) == ("Write the email's body.", "body")


@pytest.mark.parametrize("weight", [-1, 101, 1000])
def test_a_weight_is_between_0_and_100(alice, first, variant_b, weight):
    error = refusal(
        services.variant_update, workspace=alice.workspace, variant=variant_b, weight=weight
    )
    assert (error.message, error.field) == (WEIGHT_RANGE, "weight")
    error = refusal(
        services.variant_add,
        workspace=alice.workspace,
        step=first,
        subject="C",
        body="C.",
        weight=weight,
    )
    assert (error.message, error.field) == (WEIGHT_RANGE, "weight")
    variant_b.refresh_from_db()
    assert variant_b.weight == 50
    assert first.variants.count() == 2


def test_one_variant_of_an_email_keeps_a_weight_above_0(alice, first, variant_b):
    services.variant_update(workspace=alice.workspace, variant=variant_b, weight=0)
    error = refusal(
        services.variant_update, workspace=alice.workspace, variant=a_of(first), weight=0
    )
    assert error.field == "weight"
    assert error.message == (
        "At least one variant of an email must keep a weight above 0: give another variant a "
        "weight first."
    )
    assert a_of(first).weight == 50
    # A single variant cannot be set to 0 either.
    follow_up_a = Variant.objects.for_workspace(alice.workspace).get(step__position=1)
    error = refusal(
        services.variant_update, workspace=alice.workspace, variant=follow_up_a, weight=0
    )
    assert error.field == "weight"


def test_removing_a_variant_and_each_refusal(alice, campaign, first, variant_b):
    # The only version of an email: remove the email instead.
    follow_up_a = Variant.objects.for_workspace(alice.workspace).get(step__position=1)
    error = refusal(services.variant_delete, workspace=alice.workspace, variant=follow_up_a)
    assert error.message == (
        "This is the email's only version: remove the email from the sequence instead."
    )
    # Variant A is the email itself.
    error = refusal(services.variant_delete, workspace=alice.workspace, variant=a_of(first))
    assert error.message == (
        "Variant A is the email itself and cannot be removed: set its weight to 0 to stop "
        "sending it to new contacts."
    )
    # The last variant with a weight cannot go.
    services.variant_update(workspace=alice.workspace, variant=a_of(first), weight=10)
    services.variant_update(workspace=alice.workspace, variant=variant_b, weight=50)
    services.variant_update(workspace=alice.workspace, variant=a_of(first), weight=0)
    error = refusal(services.variant_delete, workspace=alice.workspace, variant=variant_b)
    assert error.message == (
        "The other variants of this email all have a weight of 0: give one of them a weight "
        "above 0 first."
    )
    services.variant_update(workspace=alice.workspace, variant=a_of(first), weight=50)

    # A variant emails were written with keeps its statistics: weight 0 instead.
    sent_with(alice, campaign, variant_b, "one@prospect.example.com")
    error = refusal(services.variant_delete, workspace=alice.workspace, variant=variant_b)
    assert error.message == f"Variant B was already used for 1 email: {KEEP_STATS}."
    sent_with(alice, campaign, variant_b, "two@prospect.example.com")
    error = refusal(services.variant_delete, workspace=alice.workspace, variant=variant_b)
    assert error.message == f"Variant B was already used for 2 emails: {KEEP_STATS}."
    assert first.variants.count() == 2

    # One never used goes.
    c = services.variant_add(workspace=alice.workspace, step=first, subject="C", body="C.")
    services.variant_delete(workspace=alice.workspace, variant=c)
    assert sorted(first.variants.values_list("label", flat=True)) == ["A", "B"]


def test_another_workspaces_variant_is_not_found(alice, charlie, variant_b):
    with pytest.raises(NotFound):
        services.variant_update(workspace=charlie.workspace, variant=variant_b, weight=10)
    with pytest.raises(NotFound):
        services.variant_delete(workspace=charlie.workspace, variant=variant_b)
    variant_b.refresh_from_db()
    assert variant_b.weight == 50


# ------------------------------------------------------------------------------- the split


def test_the_split_never_picks_a_weight_0_variant_and_is_deterministic(alice, first, variant_b):
    c = services.variant_add(
        workspace=alice.workspace, step=first, subject="C", body="C.", weight=70
    )
    services.variant_update(workspace=alice.workspace, variant=variant_b, weight=30)
    services.variant_update(workspace=alice.workspace, variant=a_of(first), weight=0)
    variants = list(first.variants.all())
    enrollments = [Enrollment(pk=uuid.uuid4()) for _ in range(3000)]
    picks = [choose_variant(e, first, variants).label for e in enrollments]
    counts = Counter(picks)
    assert "A" not in counts
    assert set(counts) == {"B", "C"}
    assert 0.25 < counts["B"] / len(picks) < 0.35  # 30 against 70
    # The same contact always gets the same variant, whatever the order of the calls.
    again = [
        choose_variant(e, first, list(first.variants.all())).label for e in reversed(enrollments)
    ]
    assert again == list(reversed(picks))
    assert c.label == "C"

    # Should every weight be 0 (not reachable through the services), contacts still get one.
    zero = [Variant(pk=uuid.uuid4(), label=label, weight=0) for label in "AB"]
    chosen = {choose_variant(e, first, zero).label for e in enrollments[:200]}
    assert chosen == {"A", "B"}


# ------------------------------------------------------------------------------- API


def test_api_patch_and_delete_a_variant(alice, first, variant_b):
    url = f"/api/v1/variants/{variant_b.pk}/"
    assert alice.api.get(url).json()["label"] == "B"
    response = alice.api.patch(
        url, {"subject": "Hi {{firstName|there}}", "weight": 25}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "id": str(variant_b.pk),
        "label": "B",
        "subject": "Hi {{firstName|there}}",
        "body": "Hello from B.",
        "weight": 25,
    }
    step = alice.api.get(f"/api/v1/steps/{first.pk}/").json()
    assert [(v["label"], v["weight"]) for v in step["variants"]] == [("A", 50), ("B", 25)]

    assert alice.api.delete(url).status_code == 204
    assert alice.api.get(url).status_code == 404
    assert list(first.variants.values_list("label", flat=True)) == ["A"]
    assert (
        alice.api.put(f"/api/v1/variants/{a_of(first).pk}/", {}, format="json").status_code == 405
    )


def test_api_refusals_are_400_with_the_field_and_the_sentence(alice, campaign, first, variant_b):
    url = f"/api/v1/variants/{variant_b.pk}/"
    for weight in (101, -5):
        response = alice.api.patch(url, {"weight": weight}, format="json")
        assert response.status_code == 400
        assert response.json()["error"]["fields"] == {"weight": [WEIGHT_RANGE]}
    response = alice.api.patch(url, {"subject": ""}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"subject": ["The first email needs a subject."]}

    alice.api.patch(url, {"weight": 0}, format="json")
    response = alice.api.patch(f"/api/v1/variants/{a_of(first).pk}/", {"weight": 0}, format="json")
    assert response.status_code == 400
    assert "must keep a weight above 0" in response.json()["error"]["fields"]["weight"][0]

    response = alice.api.delete(f"/api/v1/variants/{a_of(first).pk}/")
    assert response.status_code == 400
    assert "Variant A is the email itself" in response.json()["error"]["message"]
    sent_with(alice, campaign, variant_b, "one@prospect.example.com")
    response = alice.api.delete(url)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        f"Variant B was already used for 1 email: {KEEP_STATS}."
    )
    follow_up_a = Variant.objects.for_workspace(alice.workspace).get(step__position=1)
    response = alice.api.delete(f"/api/v1/variants/{follow_up_a.pk}/")
    assert response.status_code == 400
    assert "remove the email from the sequence instead" in response.json()["error"]["message"]
    assert Variant.objects.for_workspace(alice.workspace).count() == 3


def test_api_another_workspaces_variant_is_404(alice, charlie, variant_b):
    url = f"/api/v1/variants/{variant_b.pk}/"
    assert charlie.api.get(url).status_code == 404
    response = charlie.api.patch(url, {"weight": 10, "body": "Mine"}, format="json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert charlie.api.delete(url).status_code == 404
    variant_b.refresh_from_db()
    assert (variant_b.weight, variant_b.body) == (50, "Hello from B.")


# ------------------------------------------------------------------------------- dashboard


def edit_data(variant: Variant, **values) -> dict:
    prefix = f"e{str(variant.pk)[:8]}"
    return {f"{prefix}-{name}": value for name, value in values.items()}


def test_the_sequence_shows_each_variants_share_and_sent_count(alice, campaign, first, variant_b):
    services.variant_update(workspace=alice.workspace, variant=variant_b, weight=25)
    sent_with(alice, campaign, variant_b, "one@prospect.example.com")
    body = page(alice.client.get(f"/campaigns/{campaign.pk}/"))
    assert "A · 67%" in body and "B · 33%" in body
    assert "1 sent" in body and "0 sent" in body
    assert f'action="/campaigns/variants/{variant_b.pk}/"' in body
    assert f'action="/campaigns/variants/{variant_b.pk}/delete/"' in body
    # Variant A stays (it is the email): no remove button for it.
    assert f"/campaigns/variants/{a_of(first).pk}/delete/" not in body
    assert "Remove variant B of email 1? Its subject and body will be lost." in body

    services.variant_update(workspace=alice.workspace, variant=variant_b, weight=0)
    body = page(alice.client.get(f"/campaigns/{campaign.pk}/"))
    assert "B · 0%" in body and "no new contacts" in body and "A · 100%" in body


def test_edit_and_remove_a_variant_from_the_dashboard(alice, campaign, first, variant_b):
    url = f"/campaigns/variants/{variant_b.pk}/"
    response = alice.client.post(
        url, edit_data(variant_b, subject="Better", body="Sharper words.", weight="30")
    )
    assert response.status_code == 302
    assert response["Location"] == f"/campaigns/{campaign.pk}/#variant-{variant_b.pk}"
    body = page(alice.client.get(response["Location"]))
    assert "Variant B of email 1 saved." in body and "Sharper words." in body
    variant_b.refresh_from_db()
    assert (variant_b.subject, variant_b.weight) == ("Better", 30)

    # Refusals show on their field, and change nothing.
    for values, expected in [
        ({"subject": "Better", "body": "x", "weight": "150"}, WEIGHT_RANGE),
        ({"subject": "", "body": "x", "weight": "30"}, "The first email needs a subject."),
        ({"subject": "Better", "body": "", "weight": "30"}, "This field is required."),
    ]:
        response = alice.client.post(url, edit_data(variant_b, **values))
        assert response.status_code == 200
        body = page(response)
        assert "has-error" in body and expected in body
        assert '<details class="disclosure" open>' in body
    # Weight 0 stops a variant, as long as another one keeps a weight.
    response = alice.client.post(
        f"/campaigns/variants/{a_of(first).pk}/",
        edit_data(a_of(first), subject="Hello", body="A.", weight="0"),
    )
    assert response.status_code == 302
    assert a_of(first).weight == 0
    response = alice.client.post(url, edit_data(variant_b, subject="B", body="B.", weight="0"))
    assert response.status_code == 200
    assert "must keep a weight above 0" in page(response)
    variant_b.refresh_from_db()
    assert (variant_b.body, variant_b.weight) == ("Sharper words.", 30)

    # Remove: refused once emails were written with it, done otherwise.
    message = sent_with(alice, campaign, variant_b, "one@prospect.example.com")
    response = alice.client.post(f"{url}delete/", follow=True)
    assert f"Variant B was already used for 1 email: {KEEP_STATS}." in page(response)
    message.delete()
    response = alice.client.post(f"{url}delete/", follow=True)
    assert "all have a weight of 0: give one of them a weight above 0 first." in page(response)
    services.variant_update(workspace=alice.workspace, variant=a_of(first), weight=50)
    response = alice.client.post(f"{url}delete/", follow=True)
    assert "Variant B removed from email 1." in page(response)
    assert list(first.variants.values_list("label", flat=True)) == ["A"]
    assert alice.client.get(f"{url}delete/").status_code == 405


def test_adding_a_variant_takes_its_weight(alice, campaign, first):
    prefix = f"v{str(first.pk)[:8]}"
    url = f"/campaigns/steps/{first.pk}/variants/"
    response = alice.client.post(
        url, {f"{prefix}-subject": "B", f"{prefix}-body": "B.", f"{prefix}-weight": "500"}
    )
    assert response.status_code == 200 and WEIGHT_RANGE in page(response)
    response = alice.client.post(
        url, {f"{prefix}-subject": "B", f"{prefix}-body": "B.", f"{prefix}-weight": "20"}
    )
    assert response.status_code == 302
    assert first.variants.get(label="B").weight == 20


def test_an_outsider_cannot_edit_or_remove_a_variant(alice, charlie, variant_b):
    url = f"/campaigns/variants/{variant_b.pk}/"
    assert charlie.client.post(url, edit_data(variant_b, subject="x", body="y")).status_code == 404
    assert charlie.client.post(f"{url}delete/").status_code == 404
    variant_b.refresh_from_db()
    assert variant_b.subject == "Quick question"
