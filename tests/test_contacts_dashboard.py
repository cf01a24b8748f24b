"""The contacts dashboard: contacts, lists, imports and the suppression list, as alice's
signed-in browser sees them (server-rendered HTML, no JavaScript needed)."""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import random
import re
import zipfile
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from contacts import services
from contacts.importing.service import import_run
from contacts.models import (
    Contact,
    ContactList,
    ContactStatus,
    Import,
    ImportStatus,
    Suppression,
    SuppressionKind,
    SuppressionReason,
)
from tests.contacts_support import contacts_of, events, make_contact, make_list

ROW = re.compile(r'<td><a href="/contacts/([0-9a-f-]{36})/">([^<]+)</a></td>')
NEXT = re.compile(r'href="(\?[^"]*cursor=[^"]*)">Next')
PREVIOUS = re.compile(r'href="(\?[^"]*cursor=[^"]*)">← Previous')


def suppressions_of(actor):
    return Suppression.objects.for_workspace(actor.workspace)


def page_html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def emails_on(response) -> list[str]:
    return [html.unescape(email) for _pk, email in ROW.findall(page_html(response))]


def link(pattern: re.Pattern, response) -> str | None:
    found = pattern.search(page_html(response))
    return "/contacts/" + html.unescape(found.group(1)) if found else None


def walk(client, url: str) -> list[list[str]]:
    """Every page, following "Next" links from `url`."""
    pages = []
    while url:
        assert len(pages) < 10, "the Next links go round in circles"
        response = client.get(url)
        pages.append(emails_on(response))
        url = link(NEXT, response)
    return pages


def csv_rows(response) -> list[list[str]]:
    raw = b"".join(response.streaming_content)
    assert raw.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(raw.decode("utf-8")[1:])))


# The contacts page ---------------------------------------------------------------------------


def test_empty_state_invites_to_import(alice):
    text = page_html(alice.client.get("/contacts/"))
    assert "No contacts yet" in text
    assert 'href="/contacts/imports/"' in text
    assert 'href="/contacts/new/"' in text
    assert "No contact matches these filters" not in text


def test_contacts_page_lists_only_the_workspaces_contacts(alice, charlie):
    make_contact(alice, "jean@acme.com", first_name="Jean", last_name="Dupont", company="Acme")
    make_contact(charlie, "carl@globex.com")
    response = alice.client.get("/contacts/")
    text = page_html(response)
    assert "No contacts yet" not in text
    assert emails_on(response) == ["jean@acme.com"]
    assert "Jean Dupont" in text
    assert "1 contact" in text
    assert "carl@globex.com" not in text


@pytest.fixture
def crowd(alice, charlie):
    customers = make_list(alice, "Customers")
    make_contact(alice, "jean@acme.com", first_name="Jean", company="Acme", tags=["vip"])
    make_contact(
        alice, "marie@initech.com", last_name="Curie", company="Initech", lists=[customers]
    )
    make_contact(alice, "paul@globex.com", company="ACME Holdings")
    zoe = make_contact(alice, "zoe@umbrella.com", lists=[customers])
    services.contact_update(workspace=alice.workspace, contact=zoe, data={"status": "bounced"})
    make_contact(charlie, "charlie@acme.com", company="Acme")
    return {"list": customers}


def test_search_and_filters(alice, crowd):
    search = alice.client.get("/contacts/", {"search": "ACME"})
    assert set(emails_on(search)) == {"jean@acme.com", "paul@globex.com"}
    assert "marie@initech.com" not in page_html(search)
    assert set(emails_on(alice.client.get("/contacts/", {"search": "curie"}))) == {
        "marie@initech.com"
    }
    assert emails_on(alice.client.get("/contacts/", {"status": "bounced"})) == ["zoe@umbrella.com"]
    by_list = alice.client.get("/contacts/", {"list": str(crowd["list"].pk)})
    assert set(emails_on(by_list)) == {"marie@initech.com", "zoe@umbrella.com"}
    both = alice.client.get("/contacts/", {"list": str(crowd["list"].pk), "status": "active"})
    assert emails_on(both) == ["marie@initech.com"]
    assert emails_on(alice.client.get("/contacts/", {"tag": "VIP"})) == ["jean@acme.com"]
    nothing = alice.client.get("/contacts/", {"search": "nobody"})
    assert emails_on(nothing) == []
    assert "No contact matches these filters" in page_html(nothing)


def test_an_unknown_list_in_the_filters_shows_no_one_rather_than_everyone(alice, crowd):
    # A bookmark or "See the contacts" link to a list deleted since: the page must not
    # quietly drop every filter and show (and offer bulk actions on) the whole workspace.
    gone = crowd["list"].pk
    services.list_delete(workspace=alice.workspace, contact_list=crowd["list"])
    response = alice.client.get("/contacts/", {"list": str(gone), "search": "acme"})
    assert response.status_code == 200
    assert "marie@initech.com" not in emails_on(response)
    assert "zoe@umbrella.com" not in emails_on(response)


def test_export_link_downloads_the_filtered_contacts(alice, crowd):
    response = alice.client.get("/contacts/export.csv", {"status": "bounced"})
    assert response.status_code == 200
    rows = csv_rows(response)
    assert rows[0][0] == "email"
    assert [row[0] for row in rows[1:]] == ["zoe@umbrella.com"]
    everything = csv_rows(alice.client.get("/contacts/export.csv"))
    assert len(everything) == 1 + 4  # charlie's contact is not there


@pytest.fixture
def sixty(alice):
    """60 contacts whose creation times, emails, companies and names are in shuffled orders."""
    rng = random.Random(20260131)
    numbers = list(range(60))
    rng.shuffle(numbers)
    companies = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf"]
    lastnames = ["bernard", "durand", "martin", "petit"]
    now = timezone.now()
    contacts = []
    for position, n in enumerate(numbers):
        contact = make_contact(
            alice,
            f"u{n:02d}@acme.com",
            company=rng.choice(companies),  # ties, across the page boundary too
            last_name=rng.choice(lastnames),
            first_name=f"p{rng.randrange(1000):03d}",
        )
        minutes = (position * 37) % 60  # a creation order unrelated to the emails
        contacts_of(alice).filter(pk=contact.pk).update(created_at=now - timedelta(minutes=minutes))
        contacts.append(contact)
    return list(contacts_of(alice))


def test_keyset_pages_newest_first_next_then_previous(alice, sixty):
    newest_first = [c.email for c in sorted(sixty, key=lambda c: c.created_at, reverse=True)]
    first = alice.client.get("/contacts/")
    first_page = emails_on(first)
    assert first_page == newest_first[:50]
    assert link(PREVIOUS, first) is None
    assert "60 contacts" in page_html(first)
    second = alice.client.get(link(NEXT, first))
    second_page = emails_on(second)
    assert second_page == newest_first[50:]
    assert not set(first_page) & set(second_page)
    assert link(NEXT, second) is None
    back = alice.client.get(link(PREVIOUS, second))
    assert emails_on(back) == first_page
    assert link(PREVIOUS, back) is None
    assert link(NEXT, back) is not None


def test_the_pager_keeps_the_filters(alice, sixty):
    make_contact(alice, "other@globex.com", company="globex")
    pages = walk(alice.client, "/contacts/?search=acme&sort=email")
    assert [len(page) for page in pages] == [50, 10]
    assert "other@globex.com" not in pages[0] + pages[1]


@pytest.mark.parametrize(
    ("sort", "key"),
    [
        ("email", lambda c: c.email.lower()),
        ("company", lambda c: (c.company, c.pk)),
        ("created", lambda c: (c.created_at, c.pk)),
    ],
)
def test_sorts_hold_across_pages(alice, sixty, sort, key):
    pages = walk(alice.client, f"/contacts/?sort={sort}")
    assert [len(page) for page in pages] == [50, 10]
    assert pages[0] + pages[1] == [c.email for c in sorted(sixty, key=key)]


def test_a_tampered_cursor_shows_the_first_page_not_an_error(alice):
    make_contact(alice, "jean@acme.com")
    # The cursor is the user's to edit in the address bar; a bad one must not be a 500.
    for payload, sort in [
        ({"s": "-created", "v": ["not-a-date", "not-a-uuid"], "b": False}, "-created"),
        ({"s": "created", "v": ["2026-01-01T00:00:00+00:00", "not-a-uuid"], "b": True}, "created"),
        ({"s": "-created", "v": ["u10@acme.com"], "b": False}, "email"),  # another sort's
        ({"v": 12}, "email"),
    ]:
        cursor = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()
        response = alice.client.get("/contacts/", {"sort": sort, "cursor": cursor})
        assert response.status_code == 200
        assert "jean@acme.com" in page_html(response)  # page one


# Adding, editing, unsubscribing and deleting one contact -------------------------------------


def test_new_contact_with_an_invalid_email_shows_the_error(alice):
    response = alice.client.post("/contacts/new/", {"email": "not-an-email"})
    text = html.unescape(page_html(response))
    assert (
        "“not-an-email” is not a valid email address: An email address must have an @-sign." in text
    )
    assert 'class="error"' in text
    assert not contacts_of(alice).exists()


def test_new_contact_accepts_what_imports_accept(alice):
    response = alice.client.post("/contacts/new/", {"email": "jöhn@Example.com"})
    assert response.status_code == 302
    assert contacts_of(alice).get().email == "jöhn@example.com"


def test_custom_fields_keep_their_names_and_line_breaks_through_an_edit(alice):
    contact = make_contact(
        alice,
        "ada@example.com",
        custom_fields={"companySize": "50", "crm_id": "A1", "notes": "line one\nline two"},
    )
    form = page_html(alice.client.get(f"/contacts/{contact.pk}/"))
    textarea = html.unescape(re.search(r"<textarea[^>]*>(.*?)</textarea>", form, re.S).group(1))
    response = alice.client.post(
        f"/contacts/{contact.pk}/",
        {
            "email": contact.email,
            "first_name": "Ada",
            "status": "active",
            "custom_fields": textarea,
        },
    )
    assert response.status_code == 302, page_html(response)
    contact.refresh_from_db()
    assert contact.first_name == "Ada"
    assert contact.custom_fields == {
        "companySize": "50",
        "crm_id": "A1",
        "notes": "line one\nline two",
    }


def test_new_contact_with_an_address_email_validator_refuses_shows_why(alice):
    response = alice.client.post("/contacts/new/", {"email": "jean@example.invalid"})
    assert "is not a valid email address" in page_html(response)
    assert not contacts_of(alice).exists()


def test_new_contact_is_created_and_announced(alice):
    webinar = make_list(alice, "Webinar")
    response = alice.client.post(
        "/contacts/new/",
        {
            "email": "Jean.Dupont@ACME.com",
            "first_name": "Jean",
            "company": "Acme",
            "timezone": "Europe/Paris",
            "tags": "vip, Paris, ",
            "lists": [str(webinar.pk)],
            "custom_fields": "industry = SaaS\n\nsize = 50",
        },
    )
    contact = contacts_of(alice).get()
    assert response.status_code == 302
    assert response["Location"] == f"/contacts/{contact.pk}/"
    assert contact.email == "Jean.Dupont@acme.com"
    assert contact.source == "manual"
    assert contact.timezone == "Europe/Paris"
    assert sorted(t.name for t in contact.tags.all()) == ["Paris", "vip"]
    assert list(contact.lists.all()) == [webinar]
    assert contact.custom_fields == {"industry": "SaaS", "size": "50"}
    event = events(alice, "contact.created").get()
    assert event.data["contact"]["id"] == str(contact.pk)
    detail = page_html(alice.client.get(response["Location"]))
    assert "Contact Jean.Dupont@acme.com added." in detail
    timeline = detail.partition('<ol class="timeline">')[2].partition("</ol>")[0]
    items = re.findall(r"<li>(.*?)</li>", timeline, re.DOTALL)
    assert len(items) == 1  # the activity timeline: this creation, what and when
    words = html.unescape(re.sub(r"<[^>]+>", " ", items[0]))
    assert re.search(r"[A-Za-z]", words.split("·")[0]), items[0]
    assert re.search(r"\d", words), items[0]


def test_new_contact_with_a_taken_email_shows_the_error(alice):
    make_contact(alice, "jean@acme.com")
    response = alice.client.post("/contacts/new/", {"email": "JEAN@acme.com"})
    assert "already exists" in page_html(response)
    assert contacts_of(alice).count() == 1
    assert events(alice, "contact.created").count() == 1


def test_new_contact_with_a_malformed_custom_field_line_says_which(alice):
    response = alice.client.post(
        "/contacts/new/", {"email": "jean@acme.com", "custom_fields": "industry = SaaS\noops"}
    )
    assert "Line 2" in page_html(response)
    assert not contacts_of(alice).exists()


def _edit_form(contact: Contact, **changes) -> dict:
    form = {
        "email": contact.email,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "company": contact.company,
        "title": contact.title,
        "website": contact.website,
        "phone": contact.phone,
        "linkedin_url": contact.linkedin_url,
        "country": contact.country,
        "timezone": contact.timezone,
        "status": contact.status,
        "tags": ", ".join(t.name for t in contact.tags.all()),
        "lists": [str(pk) for pk in contact.lists.values_list("pk", flat=True)],
        "custom_fields": "\n".join(f"{k} = {v}" for k, v in contact.custom_fields.items()),
    }
    form.update(changes)
    return form


def test_detail_page_edits_the_contact(alice):
    old, new = make_list(alice, "Old"), make_list(alice, "New")
    contact = make_contact(
        alice, "jean@acme.com", first_name="Jean", tags=["a", "b"], lists=[old], country="FR"
    )
    text = page_html(alice.client.get(f"/contacts/{contact.pk}/"))
    assert 'value="jean@acme.com"' in text
    assert 'value="a, b"' in text
    response = alice.client.post(
        f"/contacts/{contact.pk}/",
        _edit_form(
            contact,
            company="Acme Europe",
            timezone="America/New_York",
            tags="b, c",
            lists=[str(new.pk)],
            custom_fields="industry = Retail",
        ),
    )
    assert response.status_code == 302
    assert response["Location"] == f"/contacts/{contact.pk}/"
    contact.refresh_from_db()
    assert (contact.first_name, contact.company, contact.country, contact.timezone) == (
        "Jean",
        "Acme Europe",
        "FR",
        "America/New_York",
    )
    assert sorted(t.name for t in contact.tags.all()) == ["b", "c"]
    assert list(contact.lists.all()) == [new]
    assert contact.custom_fields == {"industry": "Retail"}
    assert "Contact saved." in page_html(alice.client.get(response["Location"]))


def test_detail_edit_to_a_taken_email_shows_the_error(alice):
    make_contact(alice, "taken@acme.com")
    contact = make_contact(alice, "jean@acme.com")
    response = alice.client.post(
        f"/contacts/{contact.pk}/", _edit_form(contact, email="Taken@acme.com")
    )
    assert "already exists" in page_html(response)
    contact.refresh_from_db()
    assert contact.email == "jean@acme.com"


def test_detail_edit_to_unsubscribed_suppresses_the_address(alice):
    contact = make_contact(alice, "jean@acme.com")
    alice.client.post(f"/contacts/{contact.pk}/", _edit_form(contact, status="unsubscribed"))
    contact.refresh_from_db()
    assert contact.status == ContactStatus.UNSUBSCRIBED
    assert suppressions_of(alice).get().value == "jean@acme.com"
    assert events(alice, "contact.unsubscribed").count() == 1


def test_unsubscribe_button(alice):
    contact = make_contact(alice, "Jean@Acme.com")
    assert "Not on the suppression list." in page_html(alice.client.get(f"/contacts/{contact.pk}/"))
    response = alice.client.post(f"/contacts/{contact.pk}/unsubscribe/")
    assert response.status_code == 302
    assert response["Location"] == f"/contacts/{contact.pk}/"
    contact.refresh_from_db()
    assert contact.status == ContactStatus.UNSUBSCRIBED
    suppression = suppressions_of(alice).get()
    assert (suppression.value, suppression.reason, suppression.source) == (
        "jean@acme.com",
        SuppressionReason.UNSUBSCRIBED,
        "alice@example.test",
    )
    assert events(alice, "contact.unsubscribed").get().data["contact"]["id"] == str(contact.pk)
    text = page_html(alice.client.get(response["Location"]))
    assert "is unsubscribed and on the suppression list" in text
    assert "jean@acme.com is on the suppression list" in text
    assert f'action="/contacts/{contact.pk}/unsubscribe/"' not in text  # no button any more
    assert alice.client.get(f"/contacts/{contact.pk}/unsubscribe/").status_code == 405


def test_delete_button_keeps_the_suppression(alice):
    contact = make_contact(alice, "jean@acme.com")
    services.suppression_add(workspace=alice.workspace, value="jean@acme.com")
    response = alice.client.post(f"/contacts/{contact.pk}/delete/", follow=True)
    assert response.redirect_chain == [("/contacts/", 302)]
    assert "Contact jean@acme.com deleted." in page_html(response)
    assert not contacts_of(alice).exists()
    assert suppressions_of(alice).get().value == "jean@acme.com"


def test_another_workspaces_contact_is_404_on_every_page(alice, charlie):
    theirs = make_contact(charlie, "carl@globex.com")
    assert alice.client.get(f"/contacts/{theirs.pk}/").status_code == 404
    assert alice.client.post(f"/contacts/{theirs.pk}/", {"email": "x@acme.com"}).status_code == 404
    assert alice.client.post(f"/contacts/{theirs.pk}/unsubscribe/").status_code == 404
    assert alice.client.post(f"/contacts/{theirs.pk}/delete/").status_code == 404
    theirs.refresh_from_db()
    assert (theirs.email, theirs.status) == ("carl@globex.com", ContactStatus.ACTIVE)


# Bulk actions --------------------------------------------------------------------------------


@pytest.fixture
def selection(alice, charlie):
    mine = [make_contact(alice, f"m{n}@acme.com") for n in range(3)]
    theirs = make_contact(charlie, "carl@globex.com")
    picked = [str(mine[0].pk), str(mine[1].pk), str(theirs.pk), "not-a-uuid"]
    return {"mine": mine, "theirs": theirs, "ids": picked}


def bulk(actor, **data):
    return actor.client.post("/contacts/bulk/", data, follow=True)


def test_bulk_add_to_list(alice, selection):
    target = make_list(alice, "Webinar")
    response = bulk(alice, action="add_to_list", ids=selection["ids"], list=str(target.pk))
    assert response.redirect_chain == [("/contacts/", 302)]
    assert "2 contacts added to Webinar." in page_html(response)
    assert set(target.contacts.all()) == set(selection["mine"][:2])
    assert not selection["theirs"].lists.exists()


def test_bulk_tag(alice, selection):
    response = bulk(alice, action="tag", ids=selection["ids"], tag=" hot ")
    assert "2 contacts tagged “hot”." in page_html(response)
    tagged = contacts_of(alice).filter(tags__name="hot")
    assert set(tagged) == set(selection["mine"][:2])
    assert not selection["theirs"].tags.exists()


def test_bulk_archive(alice, selection):
    response = bulk(alice, action="archive", ids=selection["ids"])
    assert "2 contacts archived." in page_html(response)
    statuses = dict(contacts_of(alice).values_list("email", "status"))
    assert statuses == {
        "m0@acme.com": "archived",
        "m1@acme.com": "archived",
        "m2@acme.com": "active",
    }
    selection["theirs"].refresh_from_db()
    assert selection["theirs"].status == ContactStatus.ACTIVE


def test_bulk_delete(alice, charlie, selection):
    response = bulk(alice, action="delete", ids=selection["ids"])
    assert "2 contacts deleted." in page_html(response)
    assert list(contacts_of(alice).values_list("email", flat=True)) == ["m2@acme.com"]
    assert contacts_of(charlie).get() == selection["theirs"]


def test_bulk_export(alice, selection):
    response = alice.client.post("/contacts/bulk/", {"action": "export", "ids": selection["ids"]})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = csv_rows(response)
    assert sorted(row[0] for row in rows[1:]) == ["m0@acme.com", "m1@acme.com"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"action": "add_to_list"}, "Choose the list to add the contacts to."),
        ({"action": "tag", "tag": "  "}, "Enter the tag to add."),
        ({"action": "launch"}, "Select a valid choice."),
    ],
)
def test_bulk_with_something_missing_changes_nothing(alice, selection, data, message):
    response = bulk(alice, ids=selection["ids"], **data)
    assert message in page_html(response)
    assert not ContactList.contacts.through.objects.exists()
    assert not contacts_of(alice).filter(tags__isnull=False).exists()
    assert contacts_of(alice).filter(status="active").count() == 3


def test_bulk_without_a_selection_says_so(alice, selection):
    response = bulk(alice, action="archive")
    assert "Select at least one contact, or tick" in html.unescape(page_html(response))
    assert contacts_of(alice).filter(status="active").count() == 3


def test_bulk_on_every_contact_the_filters_match_not_just_the_page(alice, charlie):
    for n in range(60):
        make_contact(alice, f"lead{n}@acme.com", company="Acme")
    make_contact(alice, "other@globex.com", company="Globex")
    make_contact(charlie, "lead1@acme.com", company="Acme")
    target = make_list(alice, "All of Acme")
    response = bulk(
        alice, action="add_to_list", list=str(target.pk), all_matching="on", query="search=acme"
    )
    assert "60 contacts added to All of Acme." in page_html(response)
    assert response.redirect_chain == [("/contacts/?search=acme", 302)]
    assert target.contacts.count() == 60
    assert not target.contacts.filter(email="other@globex.com").exists()
    again = bulk(alice, action="tag", tag="acme", all_matching="on", query="search=acme")
    assert "60 contacts tagged “acme”." in html.unescape(page_html(again))
    assert not Contact.objects.for_workspace(charlie.workspace).filter(tags__isnull=False).exists()


def test_bulk_cannot_add_to_another_workspaces_list(alice, charlie, selection):
    theirs = make_list(charlie, "Theirs")
    response = bulk(alice, action="add_to_list", ids=selection["ids"], list=str(theirs.pk))
    assert "Select a valid choice" in page_html(response)
    assert not theirs.contacts.exists()


def test_bulk_returns_to_the_filtered_page(alice, selection):
    response = alice.client.post(
        "/contacts/bulk/", {"action": "archive", "ids": selection["ids"], "query": "search=m0"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/contacts/?search=m0"


# Lists ---------------------------------------------------------------------------------------


def test_lists_page_create_rename_delete(alice):
    assert "No lists yet" in page_html(alice.client.get("/contacts/lists/"))
    response = alice.client.post(
        "/contacts/lists/", {"name": "Prospects", "description": "Q3"}, follow=True
    )
    assert response.redirect_chain == [("/contacts/lists/", 302)]
    text = page_html(response)
    assert "List “Prospects” created." in text
    assert "Q3" in text
    prospects = ContactList.objects.for_workspace(alice.workspace).get()
    jean = make_contact(alice, "jean@acme.com", lists=[prospects])

    duplicate = alice.client.post("/contacts/lists/", {"name": "PROSPECTS"})
    assert "already exists" in page_html(duplicate)
    assert ContactList.objects.for_workspace(alice.workspace).count() == 1

    edit = page_html(alice.client.get(f"/contacts/lists/{prospects.pk}/"))
    assert 'value="Prospects"' in edit
    renamed = alice.client.post(
        f"/contacts/lists/{prospects.pk}/", {"name": "Clients", "description": ""}, follow=True
    )
    assert "List saved." in page_html(renamed)
    prospects.refresh_from_db()
    assert (prospects.name, prospects.description) == ("Clients", "")

    deleted = alice.client.post(f"/contacts/lists/{prospects.pk}/delete/", follow=True)
    assert "Its contacts are still in Contacts." in page_html(deleted)
    assert not ContactList.objects.for_workspace(alice.workspace).exists()
    assert contacts_of(alice).get() == jean


def test_renaming_a_list_to_a_taken_name_shows_the_error(alice):
    make_list(alice, "Prospects")
    other = make_list(alice, "Clients")
    response = alice.client.post(f"/contacts/lists/{other.pk}/", {"name": "prospects"})
    assert "already exists" in page_html(response)
    other.refresh_from_db()
    assert other.name == "Clients"


def test_another_workspaces_list_is_404(alice, charlie):
    theirs = make_list(charlie, "Theirs")
    assert alice.client.get(f"/contacts/lists/{theirs.pk}/").status_code == 404
    assert alice.client.post(f"/contacts/lists/{theirs.pk}/delete/").status_code == 404
    assert ContactList.objects.for_workspace(charlie.workspace).get() == theirs


# Suppression list ----------------------------------------------------------------------------


def test_suppression_page_adds_an_email_and_a_domain(alice):
    assert "The list is empty." in page_html(alice.client.get("/contacts/suppressions/"))
    response = alice.client.post(
        "/contacts/suppressions/", {"value": "Jean@Acme.com", "reason": "manual"}, follow=True
    )
    assert response.redirect_chain == [("/contacts/suppressions/", 302)]
    assert "jean@acme.com added to the suppression list." in page_html(response)
    response = alice.client.post(
        "/contacts/suppressions/", {"value": "@Globex.com", "reason": "complained"}, follow=True
    )
    assert "globex.com added to the suppression list." in page_html(response)
    again = alice.client.post(
        "/contacts/suppressions/", {"value": "globex.com", "reason": "manual"}, follow=True
    )
    assert "globex.com was already on the suppression list." in page_html(again)
    entries = {s.value: s for s in suppressions_of(alice)}
    assert set(entries) == {"jean@acme.com", "globex.com"}
    assert entries["jean@acme.com"].kind == SuppressionKind.EMAIL
    assert entries["globex.com"].kind == SuppressionKind.DOMAIN
    assert entries["globex.com"].reason == SuppressionReason.COMPLAINED
    assert entries["globex.com"].created_by == alice.user
    listing = page_html(alice.client.get("/contacts/suppressions/"))
    assert "2 entries" in listing
    assert "jean@acme.com" in listing and "globex.com" in listing
    searched = page_html(alice.client.get("/contacts/suppressions/", {"q": "GLOBEX"}))
    assert "globex.com" in searched and "jean@acme.com" not in searched


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not a domain", "is neither an email address nor a domain"),
        ("jean@", "is not a valid email address"),
    ],
)
def test_suppression_page_shows_the_error_for_an_invalid_value(alice, value, message):
    response = alice.client.post("/contacts/suppressions/", {"value": value, "reason": "manual"})
    text = page_html(response)
    assert message in text
    assert 'class="error"' in text
    assert not suppressions_of(alice).exists()


def test_blocklist_import_reports_counts_and_invalid_lines(alice):
    services.suppression_add(workspace=alice.workspace, value="known@acme.com")
    content = (
        b"email\n"  # 1: the header
        b"Jean@Acme.com\n"  # 2
        b"known@acme.com\n"  # 3: already there
        b"@globex.com\n"  # 4: a domain
        b"this is not an address\n"  # 5: invalid
        b"\n"  # 6: blank
        b"marie@initech.com,extra column\n"  # 7
        b"jean@acme.com\n"  # 8: same as line 2
    )
    response = alice.client.post(
        "/contacts/suppressions/",
        {"file": SimpleUploadedFile("blocklist.csv", content, content_type="text/csv")},
        follow=True,
    )
    assert response.redirect_chain == [("/contacts/suppressions/", 302)]
    text = html.unescape(page_html(response))
    assert "Blocklist imported: 3 added, 1 already on the list." in text
    assert "1 line was not an email address or domain and was skipped: 5 (this is not" in text
    values = set(suppressions_of(alice).values_list("value", flat=True))
    assert values == {"known@acme.com", "jean@acme.com", "globex.com", "marie@initech.com"}
    assert suppressions_of(alice).get(value="globex.com").kind == SuppressionKind.DOMAIN


def test_blocklist_that_is_a_workbook_shows_the_error(alice):
    response = alice.client.post(
        "/contacts/suppressions/", {"file": SimpleUploadedFile("blocklist.csv", _xlsx())}
    )
    assert "CSV UTF-8" in html.unescape(page_html(response))
    assert not suppressions_of(alice).exists()


def test_removing_a_suppression(alice, charlie):
    entry, _new = services.suppression_add(workspace=alice.workspace, value="jean@acme.com")
    theirs, _new = services.suppression_add(workspace=charlie.workspace, value="jean@acme.com")
    assert alice.client.post(f"/contacts/suppressions/{theirs.pk}/delete/").status_code == 404
    response = alice.client.post(f"/contacts/suppressions/{entry.pk}/delete/", follow=True)
    assert "jean@acme.com removed from the suppression list" in page_html(response)
    assert not suppressions_of(alice).exists()
    assert suppressions_of(charlie).get() == theirs


# Import wizard -------------------------------------------------------------------------------

WIZARD_CSV = (
    "E-mail;Prénom;Société;Taille\r\n"
    "jean@acme.com;Jean;Acme;50\r\n"  # 2
    "pas-un-email;Paul;Globex;10\r\n"  # 3: invalid
    "marie@initech.com;Marie;Initech;200\r\n"  # 4
    "JEAN@acme.com;Jean bis;Acme;\r\n"  # 5: same as line 2
    ";Personne;;\r\n"  # 6: no email
).encode("utf-8-sig")


def _xlsx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as workbook:
        workbook.writestr("[Content_Types].xml", "<Types/>")
        workbook.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


def upload(actor, content: bytes, name: str = "salon.csv"):
    return actor.client.post(
        "/contacts/imports/", {"file": SimpleUploadedFile(name, content, content_type="text/csv")}
    )


def mapping_form(**changes) -> dict:
    form = {
        "column_0": "email",
        "column_1": "first_name",
        "column_2": "company",
        "column_3": "custom:taille",
        "on_duplicate": "skip",
        "target_list": "",
        "new_list": "",
    }
    form.update(changes)
    return form


def test_import_wizard_from_upload_to_result(alice):
    response = upload(alice, WIZARD_CSV)
    draft = Import.objects.for_workspace(alice.workspace).get()
    assert response.status_code == 302
    assert response["Location"] == f"/contacts/imports/{draft.pk}/"
    assert draft.status == ImportStatus.DRAFT
    assert draft.created_by == alice.user

    mapping_page = page_html(alice.client.get(response["Location"]))
    for header in ("E-mail", "Prénom", "Société", "Taille"):
        assert f">{header}</label>" in mapping_page
    for sample in ("jean@acme.com", "pas-un-email", "Marie", "Initech", "200"):
        assert f"<span>{sample}</span>" in mapping_page
    assert '<option value="email" selected>' in mapping_page  # the guess for E-mail
    assert '<option value="custom:taille" selected>' in mapping_page

    started = alice.client.post(response["Location"], mapping_form(new_list="Salon 2026"))
    assert started.status_code == 302
    assert started["Location"] == f"/contacts/imports/{draft.pk}/"
    draft.refresh_from_db()
    assert draft.status == ImportStatus.QUEUED
    assert draft.target_list.name == "Salon 2026"
    assert draft.mapping == ["email", "first_name", "company", "custom:taille"]
    queued_page = page_html(alice.client.get(started["Location"]))
    assert "Waiting for a worker" in queued_page
    progress = alice.client.get(f"/contacts/imports/{draft.pk}/progress/")
    assert progress.status_code == 200
    assert "HX-Refresh" not in progress
    assert 'hx-trigger="every 1s"' in progress.content.decode()

    import_run(import_id=str(draft.pk))

    draft.refresh_from_db()
    assert (draft.status, draft.created_count, draft.duplicate_count, draft.invalid_count) == (
        ImportStatus.DONE,
        2,
        1,
        2,
    )
    progress = alice.client.get(f"/contacts/imports/{draft.pk}/progress/")
    assert progress["HX-Refresh"] == "true"
    assert "hx-trigger" not in progress.content.decode()

    result = page_html(alice.client.get(f"/contacts/imports/{draft.pk}/"))
    for label, value in [
        ("Rows read", 5),
        ("Created", 2),
        ("Updated", 0),
        ("Skipped (duplicates)", 1),
        ("Invalid", 2),
    ]:
        assert f"<dt>{label}</dt><dd>{value}</dd>" in result
    assert '<td>3</td><td class="break">pas-un-email</td>' in result
    assert '<td>5</td><td class="break">JEAN@acme.com</td>' in result
    assert '<td>6</td><td class="break">—</td><td>No email address in this row.</td>' in result
    assert f'href="/contacts/imports/{draft.pk}/errors.csv"' in result

    errors = alice.client.get(f"/contacts/imports/{draft.pk}/errors.csv")
    assert errors.status_code == 200
    assert f"import-{draft.number}-errors.csv" in errors["Content-Disposition"]
    rows = csv_rows(errors)
    assert rows[0] == ["line", "email", "reason"]
    assert [row[0] for row in rows[1:]] == ["3", "5", "6"]

    salon = ContactList.objects.for_workspace(alice.workspace).get(name="Salon 2026")
    jean = contacts_of(alice).get(email="jean@acme.com")
    assert (jean.first_name, jean.company, jean.custom_fields) == ("Jean", "Acme", {"taille": "50"})
    assert set(salon.contacts.values_list("email", flat=True)) == {
        "jean@acme.com",
        "marie@initech.com",
    }
    assert not events(alice, "contact.created").exists()
    assert events(alice, "import.completed").count() == 1
    history = page_html(alice.client.get("/contacts/imports/"))
    assert f'href="/contacts/imports/{draft.pk}/">#1</a>' in history
    assert "salon.csv" in history


def test_import_wizard_into_an_existing_list_updating_duplicates(alice):
    salon = make_list(alice, "Salon")
    existing = make_contact(alice, "jean@acme.com", first_name="J", company="Old")
    upload(alice, WIZARD_CSV)
    draft = Import.objects.for_workspace(alice.workspace).get()
    alice.client.post(
        f"/contacts/imports/{draft.pk}/",
        mapping_form(column_3="", on_duplicate="update", target_list=str(salon.pk)),
    )
    import_run(import_id=str(draft.pk))
    draft.refresh_from_db()
    assert (draft.created_count, draft.updated_count) == (1, 1)
    existing.refresh_from_db()
    assert (existing.first_name, existing.company, existing.custom_fields) == ("Jean", "Acme", {})
    assert set(salon.contacts.all()) == set(contacts_of(alice))


def test_import_wizard_without_an_email_column_says_so(alice):
    upload(alice, WIZARD_CSV)
    draft = Import.objects.for_workspace(alice.workspace).get()
    response = alice.client.post(f"/contacts/imports/{draft.pk}/", mapping_form(column_0=""))
    text = page_html(response)
    assert "No column holds the email address" in text
    assert "“E-mail”" in text
    draft.refresh_from_db()
    assert draft.status == ImportStatus.DRAFT


def test_a_refused_mapping_creates_no_list_and_can_be_fixed(alice):
    upload(alice, WIZARD_CSV)
    draft = Import.objects.for_workspace(alice.workspace).get()
    url = f"/contacts/imports/{draft.pk}/"
    refused = alice.client.post(url, mapping_form(column_0="", new_list="Salon"))
    assert "No column holds the email address" in page_html(refused)
    assert not ContactList.objects.for_workspace(alice.workspace).exists()
    fixed = alice.client.post(url, mapping_form(new_list="Salon"))
    assert fixed.status_code == 302
    draft.refresh_from_db()
    assert draft.status == ImportStatus.QUEUED


def test_cancelling_a_draft_import(alice):
    upload(alice, WIZARD_CSV)
    draft = Import.objects.for_workspace(alice.workspace).get()
    response = alice.client.post(f"/contacts/imports/{draft.pk}/cancel/")
    assert response.status_code == 302
    assert response["Location"] == "/contacts/imports/"
    assert not Import.objects.for_workspace(alice.workspace).exists()


def test_a_workbook_renamed_csv_is_refused_on_the_upload_page(alice):
    response = upload(alice, _xlsx(), name="contacts.csv")
    text = html.unescape(page_html(response))
    assert "Excel" in text
    assert "Save As" in text and "CSV UTF-8" in text
    assert not Import.objects.for_workspace(alice.workspace).exists()


def test_another_workspaces_import_is_404(alice, charlie):
    upload(charlie, WIZARD_CSV)
    theirs = Import.objects.for_workspace(charlie.workspace).get()
    for path in ("", "progress/", "errors.csv"):
        assert alice.client.get(f"/contacts/imports/{theirs.pk}/{path}").status_code == 404
    assert alice.client.post(f"/contacts/imports/{theirs.pk}/", mapping_form()).status_code == 404
    assert alice.client.post(f"/contacts/imports/{theirs.pk}/cancel/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == ImportStatus.DRAFT


# Language ------------------------------------------------------------------------------------


def test_contacts_pages_follow_the_users_language(alice):
    alice.user.language = "fr"
    alice.user.save()
    text = page_html(alice.client.get("/contacts/"))
    assert '<html lang="fr">' in text
    assert "Tableau de bord" in text  # the sidebar
    assert "Liste de suppression" in text  # the contacts tabs
    assert "Aucun contact pour le moment" in text  # the empty state
    assert "Dashboard" not in text and "Suppression list" not in text
