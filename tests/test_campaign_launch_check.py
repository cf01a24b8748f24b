"""The launch check for undefined template variables (issue 5): exact counts over every running
contact, whatever their number — SQL finds the contacts lacking a value, the renderer decides —
and sender variables judged per mailbox. The page shows the same check as the launch."""

from __future__ import annotations

import html
import random
import sys

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.errors import ServiceError
from campaigns import selectors, services, templating
from campaigns.engine.compose import render_context
from campaigns.models import Enrollment, EnrollmentStatus, Variant
from contacts.models import Contact, ContactSource
from tests.mailboxes import unchecked_smtp_mailbox


@pytest.fixture
def sender(alice):
    return unchecked_smtp_mailbox(
        alice.workspace, "claire@sender.example.com", sender_name="Claire Martin"
    )


def make_campaign(alice, mailboxes, *bodies: str, subject: str = "Hello"):
    campaign = services.campaign_create(
        workspace=alice.workspace, name="Q3", mailboxes=mailboxes, timezone="Europe/Paris"
    )
    for index, body in enumerate(bodies):
        services.step_add(
            workspace=alice.workspace,
            campaign=campaign,
            subject=subject if index == 0 else "",
            body=body,
            delay_amount=index,
        )
    return campaign


def enroll(alice, campaign, *rows: dict) -> list[Contact]:
    """Contacts written as the data says (whitespace kept: imports and the API may store it),
    then enrolled; returned in the order given."""
    contacts = Contact.objects.for_workspace(alice.workspace).bulk_create(
        Contact(
            workspace=alice.workspace,
            source=ContactSource.MANUAL,
            **({"email": f"p{random.randrange(10**12)}@prospect.example.com"} | row),
        )
        for row in rows
    )
    result = services.campaign_enroll(
        workspace=alice.workspace,
        campaign=campaign,
        contacts=Contact.objects.for_workspace(alice.workspace).filter(
            pk__in=[c.pk for c in contacts]
        ),
    )
    assert result.added == len(rows)
    return contacts


def reports(campaign) -> list[tuple[int, str, list[str], int]]:
    return [
        (r.step, r.variant, r.names, r.contacts)
        for r in selectors.undefined_variables_report(campaign)
    ]


def test_required_variables_are_the_ones_without_fallback_in_every_spintax_option():
    text = "{{firstName|there}} {Hi {{company}}|Hello {{ industry }}} {{sender.name}} {{title|}}"
    assert templating.required_variables(text) == {"company", "industry", "sender.name"}
    assert templating.required_variables("{{firstName|there}} and {{firstName}}") == {"firstName"}
    assert templating.is_sender_variable("sender.signature")
    assert not templating.is_sender_variable("firstName")


def test_sql_blank_means_what_the_renderer_strips():
    assert set(selectors.PYTHON_WHITESPACE) == {
        c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace()
    }


def test_missing_first_names_are_counted_exactly(alice, sender):
    campaign = make_campaign(alice, [sender], "Hi {{firstName}}, about {{company|your team}}.")
    enroll(
        alice,
        campaign,
        {"first_name": "Paula"},
        {"first_name": ""},
        {"first_name": ""},
        {"first_name": "Rémi", "company": ""},
    )
    assert reports(campaign) == [(1, "A", ["firstName"], 2)]
    sentences = selectors.undefined_problem_sentences(campaign)
    assert sentences == [
        "Email 1 (A) uses {{firstName}}, with no value for 2 contacts: give a fallback like "
        "{{firstName|there}}, or fill it in."
    ]


def test_contacts_no_longer_running_are_not_counted(alice, sender):
    campaign = make_campaign(alice, [sender], "Hi {{firstName}}.")
    replied, _waiting = enroll(alice, campaign, {"first_name": ""}, {"first_name": ""})
    Enrollment.objects.for_workspace(alice.workspace).filter(contact=replied).update(
        status=EnrollmentStatus.REPLIED
    )
    assert reports(campaign) == [(1, "A", ["firstName"], 1)]
    assert "with no value for 1 contact:" in selectors.undefined_problem_sentences(campaign)[0]


def test_blank_values_made_of_whitespace_are_missing(alice, sender):
    campaign = make_campaign(alice, [sender], "About {{company}} ({{linkedinUrl}}).")
    enroll(
        alice,
        campaign,
        {"company": "Acme", "linkedin_url": "https://linkedin.example.com/in/p"},
        {"company": "   ", "linkedin_url": "https://linkedin.example.com/in/q"},
        {"company": "\u00a0\t\n", "linkedin_url": "https://linkedin.example.com/in/r"},
        {"company": "Globex", "linkedin_url": " \u3000 "},
        {"company": " Initech ", "linkedin_url": " x "},
    )
    assert reports(campaign) == [(1, "A", ["company", "linkedinUrl"], 3)]


def test_missing_custom_field_keys_and_blank_custom_values(alice, sender):
    campaign = make_campaign(alice, [sender], "How is {{industry}} going? {{plan|}}")
    enroll(
        alice,
        campaign,
        {"custom_fields": {"industry": "SaaS"}},
        {"custom_fields": {"industry": 0}},  # a number has a value: "0"
        {"custom_fields": {}},
        {"custom_fields": {"other": "x"}},
        {"custom_fields": {"industry": "  "}},
        {"custom_fields": {"industry": ""}},
    )
    assert reports(campaign) == [(1, "A", ["industry"], 4)]


def test_a_custom_key_that_looks_like_a_number_is_read_as_a_key(alice, sender):
    campaign = make_campaign(alice, [sender], "Code {{2024}}.")
    enroll(alice, campaign, {"custom_fields": {"2024": "yes"}}, {"custom_fields": {}})
    assert reports(campaign) == [(1, "A", ["2024"], 1)]


def test_a_variable_only_inside_a_spintax_option_counts_for_every_contact(alice, sender):
    """Whichever option a contact draws, the check must not depend on the luck of the draw."""
    campaign = make_campaign(alice, [sender], "{Hi {{firstName}}|Hello|Good morning}, a word.")
    enroll(alice, campaign, *({"first_name": ""} for _ in range(6)), {"first_name": "Paula"})
    assert reports(campaign) == [(1, "A", ["firstName"], 6)]


def test_fallbacks_never_block(alice, sender):
    campaign = make_campaign(
        alice,
        [sender],
        "Hi {{firstName|there}}, about {{ company | your team }}. {{industry|}}",
        subject="{Quick|Short} question, {{firstName|friend}}",
    )
    enroll(alice, campaign, {"first_name": ""}, {"company": "  "}, {"custom_fields": {}})
    assert reports(campaign) == []
    services.campaign_launch(workspace=alice.workspace, campaign=campaign)


def test_each_step_and_variant_is_reported_on_its_own(alice, sender):
    campaign = make_campaign(alice, [sender], "Hi {{firstName}}.", "About {{company}}.")
    second = campaign.steps.get(position=1)
    services.variant_add(
        workspace=alice.workspace, step=second, subject="", body="{{industry}}, {{firstName}}"
    )
    enroll(
        alice,
        campaign,
        {"first_name": "", "company": "Acme", "custom_fields": {"industry": "SaaS"}},
        {"first_name": "Paula", "company": "", "custom_fields": {}},
        {"first_name": "Rémi", "company": "Globex", "custom_fields": {"industry": "Retail"}},
    )
    assert reports(campaign) == [
        (1, "A", ["firstName"], 1),
        (2, "A", ["company"], 1),
        (2, "B", ["firstName", "industry"], 2),
    ]


def test_sender_variables_are_judged_per_mailbox(alice, sender):
    nameless = unchecked_smtp_mailbox(alice.workspace, "noname@sender.example.com", sender_name="")
    campaign = make_campaign(alice, [sender, nameless], "Hi {{firstName}}. {{sender.firstName}}")
    on_sender, on_nameless, _new, _new_without_name = enroll(
        alice,
        campaign,
        {"first_name": "Paula"},
        {"first_name": "Rémi"},
        {"first_name": "Léa"},
        {"first_name": ""},
    )
    # Written to already: their follow-ups stay on that mailbox.
    running = Enrollment.objects.for_workspace(alice.workspace).filter(campaign=campaign)
    running.filter(contact=on_sender).update(mailbox=sender)
    running.filter(contact=on_nameless).update(mailbox=nameless)
    # The nameless mailbox's contact and both not yet written to (rotation may pick it); the
    # contact without a first name is counted once.
    assert reports(campaign) == [(1, "A", ["firstName", "sender.firstName"], 3)]

    services.campaign_update(workspace=alice.workspace, campaign=campaign, mailboxes=[sender])
    # Off the campaign, the nameless mailbox still writes its contact's follow-ups.
    assert reports(campaign) == [(1, "A", ["firstName", "sender.firstName"], 2)]
    running.filter(contact=on_nameless).update(status=EnrollmentStatus.COMPLETED)
    assert reports(campaign) == [(1, "A", ["firstName"], 1)]


def test_an_empty_sender_name_blocks_the_launch_for_every_contact(alice):
    nameless = unchecked_smtp_mailbox(alice.workspace, "noname@sender.example.com", sender_name="")
    campaign = make_campaign(alice, [nameless], "Best,\n{{sender.name}}\n{{sender.signature|}}")
    enroll(alice, campaign, *({"first_name": "Paula"} for _ in range(3)))
    with pytest.raises(ServiceError) as error:
        services.campaign_launch(workspace=alice.workspace, campaign=campaign)
    assert "Email 1 (A) uses {{sender.name}}, with no value for 3 contacts" in str(error.value)


def test_a_contact_beyond_the_old_sample_is_caught_on_the_page_and_at_launch(alice, sender):
    """The page used to check the first 200 contacts only: the 251st is checked too."""
    campaign = make_campaign(alice, [sender], "About {{company}}, {{firstName|there}}.")
    enroll(alice, campaign, *({"company": f"Acme {n}"} for n in range(250)))
    assert reports(campaign) == []
    enroll(alice, campaign, {"company": " "})
    running = Enrollment.objects.for_workspace(alice.workspace).filter(campaign=campaign)
    assert list(running.values_list("contact__company", flat=True))[-1] == " "  # last in line
    assert running.count() == 251

    sentence = (
        "Email 1 (A) uses {{company}}, with no value for 1 contact: give a fallback like "
        "{{firstName|there}}, or fill it in."
    )
    response = alice.client.get(reverse("campaign_detail", args=[campaign.pk]))
    assert response.status_code == 200
    assert sentence in html.unescape(response.content.decode())
    with pytest.raises(ServiceError) as error:
        services.campaign_launch(workspace=alice.workspace, campaign=campaign)
    assert sentence in str(error.value)


def brute_force(campaign, mailbox) -> list[tuple[int, str, list[str], int]]:
    """Every running contact rendered with every variant: the check the SQL one replaces."""
    enrollments = list(
        campaign.enrollments.filter(status__in=("pending", "active")).select_related("contact")
    )
    found = []
    for step in campaign.steps.all():
        for variant in Variant.objects.for_workspace(campaign.workspace).filter(step=step):
            names: set[str] = set()
            count = 0
            for enrollment in enrollments:
                ctx = render_context(enrollment, step, mailbox)
                missing = templating.undefined_variables(variant.subject, ctx)
                missing += templating.undefined_variables(variant.body, ctx)
                if missing:
                    count += 1
                    names.update(missing)
            if count:
                found.append((step.position + 1, variant.label, sorted(names), count))
    return found


def test_the_same_counts_as_rendering_everyone(alice, sender):
    draw = random.Random(5)
    values = ["", " ", "\u00a0", "x", " y "]
    campaign = make_campaign(
        alice,
        [sender],
        "{Hi {{firstName}}|Hello {{lastName|}}}, {{company}} and {{industry}}.",
        "{{title}} {A|B {{ country }}} {{sender.firstName}} {{size|}}",
        subject="{{firstName|there}}: {{website}}",
    )
    enroll(
        alice,
        campaign,
        *(
            {
                "first_name": draw.choice(values),
                "company": draw.choice(values),
                "title": draw.choice(values),
                "country": draw.choice(values),
                "website": draw.choice(values),
                "custom_fields": draw.choice([{}, {"industry": draw.choice(values)}]),
            }
            for _ in range(120)
        ),
    )
    expected = brute_force(campaign, sender)
    assert expected and all(count > 0 for *_rest, count in expected)
    with CaptureQueriesContext(connection) as queries:
        assert reports(campaign) == expected
    assert len(queries) <= 8  # a few queries, none per contact (nothing deferred is read)


def test_a_bounded_check_says_at_least(alice, sender):
    """Pages render at most so many contacts lacking a value; past that, counts are a floor
    and the sentence says so. The launch itself counts them all."""
    campaign = make_campaign(alice, [sender], "Hi {{firstName}}, {{company|}}")
    enroll(alice, campaign, *({"first_name": " "} for _ in range(7)), {"first_name": "Paula"})
    bounded = selectors.undefined_variables_report(campaign, limit=5)
    assert [(r.names, r.contacts, r.at_least) for r in bounded] == [(["firstName"], 5, True)]
    assert selectors.undefined_problem_sentences(campaign, limit=5) == [
        "Email 1 (A) uses {{firstName}}, with no value for at least 5 contacts: give a fallback "
        "like {{firstName|there}}, or fill it in."
    ]
    assert selectors.undefined_variables_report(campaign, limit=7)[0].at_least is False
    assert services.launch_problems(campaign) == [
        "Email 1 (A) uses {{firstName}}, with no value for 7 contacts: give a fallback like "
        "{{firstName|there}}, or fill it in."
    ]


def test_without_a_mailbox_contact_variables_are_still_checked(alice):
    campaign = make_campaign(alice, [], "Hi {{firstName}}. {{sender.firstName}}")
    enroll(alice, campaign, {"first_name": ""}, {"first_name": "Paula"})
    # Sender values are unknown until a mailbox is chosen (the launch asks for one first).
    assert reports(campaign) == [(1, "A", ["firstName"], 1)]


def test_a_bounded_check_is_not_fooled_by_contacts_the_renderer_clears(alice, sender):
    """SQL may pick a contact that has a value after all (a custom key like "2024" reads as an
    array index there): the renderer clears it, and the bound counts only contacts found
    lacking a value, so the one that does is still reported."""
    campaign = make_campaign(alice, [sender], "Code {{2024}}.")
    enroll(
        alice,
        campaign,
        *({"custom_fields": {"2024": f"v{n}"}} for n in range(5)),
        {"custom_fields": {"2024": " "}},
    )
    bounded = selectors.undefined_variables_report(campaign, limit=1)
    assert [(r.names, r.contacts) for r in bounded] == [(["2024"], 1)]
