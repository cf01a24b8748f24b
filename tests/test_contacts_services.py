"""Contacts services and selectors called directly, as tasks and later issues call them:
no request, so no workspace scope but the one they are given."""

from __future__ import annotations

from contacts import selectors, services
from contacts.models import Contact, ContactStatus
from webhooks.models import Event


def test_bulk_create_outside_a_request_writes_in_a_few_statements(
    alice, django_assert_max_num_queries
):
    items = [
        {"email": f"p{i}@example.com", "first_name": "P", "tags": ["Salon", "salon "]}
        for i in range(300)
    ]
    items.append({"email": "P7@EXAMPLE.com"})  # the same address as item 7
    items.append({"email": "broken"})
    with django_assert_max_num_queries(20):  # not one per contact
        result = services.contacts_bulk_create(
            workspace=alice.workspace, items=items, update_existing=False
        )
    assert (result.created, result.failed) == (300, 2)
    assert result.items[300]["errors"]["email"] == ["Same email as item 7 of this request."]
    contacts = Contact.objects.for_workspace(alice.workspace)
    assert contacts.count() == 300
    assert set(contacts.get(email="p3@example.com").tags.values_list("name", flat=True)) == {
        "Salon"
    }
    assert (
        Event.objects.for_workspace(alice.workspace).filter(type="contact.created").count() == 300
    )


def test_bulk_create_skips_or_updates_existing_contacts(alice):
    services.contact_create(
        workspace=alice.workspace, data={"email": "old@example.com", "company": "Old"}
    )
    items = [{"email": "OLD@example.com", "company": "New"}, {"email": "new@example.com"}]
    skipped = services.contacts_bulk_create(
        workspace=alice.workspace, items=items, update_existing=False
    )
    assert [item["status"] for item in skipped.items] == ["skipped", "created"]
    updated = services.contacts_bulk_create(
        workspace=alice.workspace, items=items, update_existing=True
    )
    assert [item["status"] for item in updated.items] == ["updated", "updated"]
    old = Contact.objects.for_workspace(alice.workspace).get(email="old@example.com")
    assert old.company == "New"  # matched by address, which is not rewritten


def test_sendability_covers_subdomains_statuses_and_only_the_own_workspace(alice, charlie):
    services.suppression_add(workspace=alice.workspace, value="acme.com")
    bounced = services.contact_create(
        workspace=alice.workspace, data={"email": "gone@example.com", "status": "bounced"}
    )
    assert bounced.status == ContactStatus.BOUNCED

    def allowed(actor, email):
        return selectors.email_sendability(workspace=actor.workspace, email=email).allowed

    assert not allowed(alice, "jean@acme.com")
    assert not allowed(alice, "Jean@Mail.ACME.com")
    assert allowed(alice, "jean@notacme.com")
    assert not allowed(alice, "GONE@example.com")
    assert allowed(charlie, "jean@acme.com")
    verdict = selectors.email_sendability(workspace=alice.workspace, email="x@sub.acme.com")
    assert (verdict.reason, verdict.suppression.value) == ("manual", "acme.com")


def test_search_matches_word_starts_of_email_name_and_company(alice, charlie):
    for email, first, company in [
        ("jean.dupont@acme.com", "Jean", "Acme Industries"),
        ("marie@initech.io", "Marie-Hélène", "Initech"),
        ("paul@globex.com", "Paul", "Globex"),
    ]:
        services.contact_create(
            workspace=alice.workspace,
            data={"email": email, "first_name": first, "company": company},
        )
    services.contact_create(workspace=charlie.workspace, data={"email": "jean@acme.com"})

    def search(text):
        filters = selectors.ContactFilters(search=text)
        found = selectors.contacts_filtered(workspace=alice.workspace, filters=filters)
        return sorted(found.values_list("email", flat=True))

    assert search("dupont") == ["jean.dupont@acme.com"]  # a word inside the address
    assert search("ACME ind") == ["jean.dupont@acme.com"]  # every word, as a prefix
    assert search("hél") == ["marie@initech.io"]
    assert search("Helene") == ["marie@initech.io"]  # accents or not, as people type
    assert search("init") == ["marie@initech.io"]
    assert search("com") == ["jean.dupont@acme.com", "paul@globex.com"]
    assert search("nobody") == []
    assert search("&|!:*") == search("")  # query syntax is not passed through


def test_bulk_create_reports_each_bad_item_at_its_own_index(alice):
    items = [
        {"email": "ok@example.com"},
        "not an object",
        {"email": "a@example.com", "first_name": 42},
        {"email": "b@example.com", "tags": "vip"},
        {"email": "c@example.com", "lists": ["x"]},
        {"email": "OK@example.com"},
    ]
    result = services.contacts_bulk_create(
        workspace=alice.workspace, items=items, update_existing=False
    )
    statuses = [(item["index"], item["status"]) for item in result.items]
    assert statuses == [(0, "created")] + [(i, "error") for i in range(1, 6)]
    errors = [item.get("errors") for item in result.items]
    assert list(errors[1]) == ["non_field_errors"]
    assert list(errors[2]) == ["first_name"] and list(errors[3]) == ["tags"]
    assert list(errors[4]) == ["lists"]
    assert errors[5] == {"email": ["Same email as item 0 of this request."]}


def test_search_ignores_accents_both_ways(alice):
    for email, last, company in [
        ("f.lefevre@example.fr", "Lefèvre", "Ørsted"),
        ("lukasz@example.pl", "Wróbel", "Łódź Sp."),
    ]:
        services.contact_create(
            workspace=alice.workspace, data={"email": email, "last_name": last, "company": company}
        )

    def search(text):
        filters = selectors.ContactFilters(search=text)
        found = selectors.contacts_filtered(workspace=alice.workspace, filters=filters)
        return sorted(found.values_list("email", flat=True))

    assert search("lefevre") == search("LEFÈVRE") == ["f.lefevre@example.fr"]
    assert search("orsted") == ["f.lefevre@example.fr"]
    assert search("lodz wrob") == ["lukasz@example.pl"]


def test_unsubscribing_never_depends_on_the_domain_still_resolving(alice, settings):
    # The address was valid when imported; its domain has since died. DNS checks are on.
    contact = Contact.objects.for_workspace(alice.workspace).create(
        workspace=alice.workspace, email="ann@dead-domain-fluenzr-test.com", source="manual"
    )
    settings.CONTACTS_CHECK_DELIVERABILITY = True
    services.contact_unsubscribe(workspace=alice.workspace, contact=contact, source="test")
    contact.refresh_from_db()
    assert contact.status == ContactStatus.UNSUBSCRIBED
    assert not selectors.email_sendability(
        workspace=alice.workspace, email="ANN@dead-domain-fluenzr-test.com"
    ).allowed


def test_archiving_keeps_the_reason_a_contact_stopped(alice):
    for email, status in [("a@x.com", "active"), ("b@x.com", "bounced"), ("u@x.com", "active")]:
        services.contact_create(workspace=alice.workspace, data={"email": email, "status": status})
    contacts = Contact.objects.for_workspace(alice.workspace)
    assert services.contacts_archive(workspace=alice.workspace, contacts=contacts) == 2
    assert dict(contacts.values_list("email", "status")) == {
        "a@x.com": "archived",
        "b@x.com": "bounced",
        "u@x.com": "archived",
    }


def test_bulk_skip_still_puts_existing_contacts_in_the_list(alice):
    services.contact_create(workspace=alice.workspace, data={"email": "old@example.com"})
    target = services.list_create(workspace=alice.workspace, name="Event")
    result = services.contacts_bulk_create(
        workspace=alice.workspace,
        items=[{"email": "OLD@example.com"}, {"email": "new@example.com"}],
        update_existing=False,
        contact_list=target,
    )
    assert [item["status"] for item in result.items] == ["skipped", "created"]
    assert set(target.contacts.values_list("email", flat=True)) == {
        "old@example.com",
        "new@example.com",
    }
