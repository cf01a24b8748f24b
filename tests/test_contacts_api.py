"""The contacts API (/api/v1/): contacts, lists, the suppression list and CSV imports.

Imports run synchronously here: the Celery task is a thin wrapper around `import_run`, and
inside these atomic tests `transaction.on_commit` never fires.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
import zipfile
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from contacts import services
from contacts.importing.service import import_run
from contacts.models import (
    ContactList,
    ContactSource,
    ContactStatus,
    Import,
    Suppression,
    SuppressionKind,
    SuppressionReason,
)
from tests.contacts_support import contacts_of, events, make_contact, make_list

BOM = "\ufeff"


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"code", "message"} <= set(body["error"]), body
    return body["error"]


def emails_in(response) -> list[str]:
    return [item["email"] for item in response.json()["results"]]


def csv_rows(response) -> list[list[str]]:
    raw = b"".join(response.streaming_content)
    assert raw.startswith(BOM.encode())
    return list(csv.reader(io.StringIO(raw.decode("utf-8")[1:])))


# Contacts: create, read, update, delete ------------------------------------------------------


def test_create_keeps_the_local_part_and_lowercases_the_domain(alice):
    sales = make_list(alice, "Sales")
    response = alice.api.post(
        "/api/v1/contacts/",
        {
            "email": "  Jean.Dupont@ACME.com ",
            "first_name": "Jean",
            "company": "Acme",
            "timezone": "Europe/Paris",
            "tags": ["vip", "Paris"],
            "lists": [str(sales.pk)],
            "custom_fields": {"industry": "SaaS"},
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["email"] == "Jean.Dupont@acme.com"
    assert data["status"] == "active"
    assert data["source"] == "api"
    assert sorted(data["tags"]) == ["Paris", "vip"]
    assert data["lists"] == [str(sales.pk)]
    assert data["custom_fields"] == {"industry": "SaaS"}
    contact = contacts_of(alice).get(pk=data["id"])
    assert contact.email == "Jean.Dupont@acme.com"
    assert contact.source == ContactSource.API
    assert list(sales.contacts.all()) == [contact]


def test_create_emits_contact_created(alice):
    response = alice.api.post("/api/v1/contacts/", {"email": "a@acme.com"}, format="json")
    event = events(alice, "contact.created").get()
    assert event.data["contact"]["id"] == response.json()["id"]
    assert event.data["contact"]["email"] == "a@acme.com"


def test_duplicate_email_whatever_the_case_is_refused_in_the_same_workspace(alice, charlie):
    make_contact(alice, "jean.dupont@acme.com")
    response = alice.api.post("/api/v1/contacts/", {"email": "JEAN.DUPONT@Acme.com"}, format="json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_request"
    assert "email" in error["fields"]
    assert "already exists" in error["fields"]["email"][0]
    assert contacts_of(alice).count() == 1
    elsewhere = charlie.api.post(
        "/api/v1/contacts/", {"email": "JEAN.DUPONT@Acme.com"}, format="json"
    )
    assert elsewhere.status_code == 201
    assert contacts_of(charlie).get().email == "JEAN.DUPONT@acme.com"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"email": "not-an-email"}, "invalid_request"),
        ({"email": "jean@acme"}, "invalid_request"),
        ({"first_name": "Jean"}, "validation_error"),
    ],
)
def test_create_without_a_valid_email_names_the_email_field(alice, body, code):
    response = alice.api.post("/api/v1/contacts/", body, format="json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == code
    assert list(error["fields"]) == ["email"]
    assert not contacts_of(alice).exists()
    assert not events(alice, "contact.created").exists()


def test_a_status_given_on_create_is_kept(alice):
    # The serializer accepts `status` on create (and the schema documents it), so a CRM sync
    # that sends {"status": "unsubscribed"} must not create an active, emailable contact.
    response = alice.api.post(
        "/api/v1/contacts/", {"email": "gone@acme.com", "status": "unsubscribed"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["status"] == "unsubscribed"
    assert contacts_of(alice).get().status == ContactStatus.UNSUBSCRIBED
    check = alice.api.get("/api/v1/suppressions/check/", {"email": "gone@acme.com"}).json()
    assert check["allowed"] is False


def test_create_with_another_workspaces_list_is_refused(alice, charlie):
    theirs = make_list(charlie, "Theirs")
    response = alice.api.post(
        "/api/v1/contacts/", {"email": "a@acme.com", "lists": [str(theirs.pk)]}, format="json"
    )
    assert response.status_code == 400
    assert "lists" in error_of(response)["fields"]
    assert not contacts_of(alice).exists()
    assert not theirs.contacts.exists()


def test_retrieve_and_another_workspaces_contact_is_404(alice, charlie):
    mine = make_contact(alice, "jean@acme.com", first_name="Jean", tags=["vip"])
    theirs = make_contact(charlie, "carl@globex.com")
    response = alice.api.get(f"/api/v1/contacts/{mine.pk}/")
    assert response.status_code == 200
    assert response.json()["first_name"] == "Jean"
    assert response.json()["tags"] == ["vip"]
    for method in ("get", "patch", "delete"):
        response = getattr(alice.api, method)(f"/api/v1/contacts/{theirs.pk}/")
        assert response.status_code == 404
        assert error_of(response)["code"] == "not_found"
    assert alice.api.post(f"/api/v1/contacts/{theirs.pk}/unsubscribe/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == ContactStatus.ACTIVE


def test_patch_replaces_tags_lists_and_custom_fields(alice):
    old_list, new_list = make_list(alice, "Old"), make_list(alice, "New")
    contact = make_contact(
        alice,
        "jean@acme.com",
        first_name="Jean",
        company="Acme",
        tags=["a", "b"],
        lists=[old_list],
        custom_fields={"industry": "SaaS"},
    )
    response = alice.api.patch(
        f"/api/v1/contacts/{contact.pk}/",
        {
            "company": "Acme Europe",
            "tags": ["b", "c"],
            "lists": [str(new_list.pk)],
            "custom_fields": {"industry": "Retail", "size": "50"},
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert sorted(data["tags"]) == ["b", "c"]
    assert data["lists"] == [str(new_list.pk)]
    assert data["custom_fields"] == {"industry": "Retail", "size": "50"}
    contact.refresh_from_db()
    assert contact.company == "Acme Europe"
    assert contact.first_name == "Jean"  # untouched by the PATCH
    assert contact.email == "jean@acme.com"
    assert sorted(t.name for t in contact.tags.all()) == ["b", "c"]
    assert list(contact.lists.all()) == [new_list]
    assert not old_list.contacts.exists()
    # Leaving tags and lists out keeps them.
    alice.api.patch(f"/api/v1/contacts/{contact.pk}/", {"title": "CEO"}, format="json")
    assert sorted(t.name for t in contact.tags.all()) == ["b", "c"]
    assert list(contact.lists.all()) == [new_list]


def test_patch_with_a_bad_time_zone_names_the_field(alice):
    contact = make_contact(alice, "jean@acme.com", timezone="Europe/Paris")
    response = alice.api.patch(
        f"/api/v1/contacts/{contact.pk}/", {"timezone": "Mars/Olympus_Mons"}, format="json"
    )
    assert response.status_code == 400
    error = error_of(response)
    assert list(error["fields"]) == ["timezone"]
    assert "Mars/Olympus_Mons" in error["fields"]["timezone"][0]
    contact.refresh_from_db()
    assert contact.timezone == "Europe/Paris"


def test_patch_to_an_email_another_contact_has_is_refused(alice):
    make_contact(alice, "taken@acme.com")
    contact = make_contact(alice, "jean@acme.com")
    response = alice.api.patch(
        f"/api/v1/contacts/{contact.pk}/", {"email": "Taken@ACME.com"}, format="json"
    )
    assert response.status_code == 400
    assert "email" in error_of(response)["fields"]
    contact.refresh_from_db()
    assert contact.email == "jean@acme.com"


def test_delete_removes_the_contact_but_not_its_suppression(alice):
    contact = make_contact(alice, "jean@acme.com")
    services.suppression_add(workspace=alice.workspace, value="jean@acme.com")
    response = alice.api.delete(f"/api/v1/contacts/{contact.pk}/")
    assert response.status_code == 204
    assert not contacts_of(alice).exists()
    assert alice.api.get(f"/api/v1/contacts/{contact.pk}/").status_code == 404
    assert Suppression.objects.for_workspace(alice.workspace).get().value == "jean@acme.com"
    check = alice.api.get("/api/v1/suppressions/check/?email=jean@acme.com").json()
    assert check["allowed"] is False


# Contacts: filters and pages -----------------------------------------------------------------


@pytest.fixture
def crowd(alice, charlie):
    """Five of alice's contacts, spread over lists, tags, statuses and days; one of charlie's."""
    customers = make_list(alice, "Customers")
    now = timezone.now()
    people = {
        "jean": make_contact(
            alice, "jean@acme.com", first_name="Jean", company="Acme", tags=["VIP"]
        ),
        "marie": make_contact(
            alice, "marie@initech.com", last_name="Curie", company="Initech", lists=[customers]
        ),
        "paul": make_contact(alice, "paul@globex.com", company="ACME Holdings", tags=["vip"]),
        "zoe": make_contact(alice, "zoe@umbrella.com", lists=[customers]),
        "old": make_contact(alice, "old@hooli.com", company="Hooli"),
    }
    services.contact_update(
        workspace=alice.workspace, contact=people["zoe"], data={"status": "bounced"}
    )
    contacts_of(alice).filter(pk=people["old"].pk).update(created_at=now - timedelta(days=30))
    make_contact(charlie, "charlie-acme@acme.com", company="Acme")
    return {"list": customers, **people}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("search=ACME", {"jean@acme.com", "paul@globex.com"}),  # email or company
        ("search=curie", {"marie@initech.com"}),  # last name
        ("search=JEAN", {"jean@acme.com"}),  # first name / email
        ("tag=vip", {"jean@acme.com", "paul@globex.com"}),  # tag names are case-insensitive
        ("status=bounced", {"zoe@umbrella.com"}),
        (
            "status=active",
            {"jean@acme.com", "marie@initech.com", "paul@globex.com", "old@hooli.com"},
        ),
        ("search=nobody-has-this", set()),
    ],
)
def test_list_filters(alice, crowd, query, expected):
    response = alice.api.get(f"/api/v1/contacts/?{query}")
    assert response.status_code == 200
    assert set(emails_in(response)) == expected


def test_list_filter_by_list_and_created_since(alice, crowd):
    response = alice.api.get(f"/api/v1/contacts/?list={crowd['list'].pk}")
    assert set(emails_in(response)) == {"marie@initech.com", "zoe@umbrella.com"}
    since = (timezone.now() - timedelta(days=1)).isoformat()
    response = alice.api.get("/api/v1/contacts/", {"created_since": since})
    assert response.status_code == 200
    assert "old@hooli.com" not in emails_in(response)
    assert len(emails_in(response)) == 4
    combined = alice.api.get(
        "/api/v1/contacts/", {"list": str(crowd["list"].pk), "status": "active"}
    )
    assert emails_in(combined) == ["marie@initech.com"]


def test_malformed_filters_get_400_naming_each_field(alice, crowd):
    response = alice.api.get("/api/v1/contacts/?status=nope&list=not-a-uuid&created_since=garbage")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert set(error["fields"]) == {"status", "list", "created_since"}
    assert "unsubscribed" in error["fields"]["status"][0]  # says which values work
    assert "UUID" in error["fields"]["list"][0]
    assert "ISO 8601" in error["fields"]["created_since"][0]


def test_cursor_pagination_walks_every_contact_once(alice, charlie):
    for n in range(7):
        make_contact(alice, f"p{n}@acme.com")
    make_contact(charlie, "c@acme.com")
    seen: list[str] = []
    url = "/api/v1/contacts/?limit=3"
    pages = 0
    while url and pages < 10:
        page = alice.api.get(url).json()
        assert len(page["results"]) <= 3
        seen.extend(item["email"] for item in page["results"])
        url = page["next"]
        pages += 1
    assert pages == 3
    assert seen == [f"p{n}@acme.com" for n in reversed(range(7))]  # newest first


# Bulk create ---------------------------------------------------------------------------------


def test_bulk_reports_each_item_and_skips_existing_by_default(alice):
    existing = make_contact(alice, "old@acme.com", first_name="Olga", company="Acme")
    before = events(alice, "contact.created").count()
    response = alice.api.post(
        "/api/v1/contacts/bulk/",
        {
            "contacts": [
                {"email": "New@Initech.com", "first_name": "Nina", "tags": ["bulk"]},
                {"email": "not-an-email"},
                {"email": "OLD@acme.com", "company": "Changed"},
                {"first_name": "No email"},
                "not an object",
                {"email": "second@initech.com", "custom_fields": {"bad key!": "x"}},
            ]
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], body["updated"], body["skipped"], body["failed"]) == (1, 0, 1, 4)
    results = body["results"]
    assert [r["index"] for r in results] == [0, 1, 2, 3, 4, 5]
    assert [r["status"] for r in results] == [
        "created",
        "error",
        "skipped",
        "error",
        "error",
        "error",
    ]
    assert "email" in results[1]["errors"]
    assert results[2]["id"] == str(existing.pk)
    assert "email" in results[3]["errors"]
    assert "custom_fields" in results[5]["errors"]
    created = contacts_of(alice).get(pk=results[0]["id"])
    assert created.email == "New@initech.com"
    assert [t.name for t in created.tags.all()] == ["bulk"]
    existing.refresh_from_db()
    assert existing.company == "Acme"  # skipped: untouched
    assert contacts_of(alice).count() == 2
    assert events(alice, "contact.created").count() == before + 1


def test_bulk_update_mode_updates_existing_and_adds_everyone_to_the_list(alice):
    target = make_list(alice, "Webinar")
    existing = make_contact(alice, "old@acme.com", first_name="Olga", company="Acme")
    response = alice.api.post(
        "/api/v1/contacts/bulk/",
        {
            "contacts": [
                {"email": "OLD@acme.com", "company": "Acme Europe"},
                {"email": "new@acme.com"},
            ],
            "on_duplicate": "update",
            "list": str(target.pk),
        },
        format="json",
    )
    body = response.json()
    assert (body["created"], body["updated"], body["skipped"], body["failed"]) == (1, 1, 0, 0)
    assert [r["status"] for r in body["results"]] == ["updated", "created"]
    existing.refresh_from_db()
    assert existing.company == "Acme Europe"
    assert existing.first_name == "Olga"  # not in the item: kept
    assert {c.email.lower() for c in target.contacts.all()} == {"old@acme.com", "new@acme.com"}


def test_bulk_refuses_more_than_a_thousand_and_bad_options(alice, charlie):
    too_many = [{"email": f"p{n}@acme.com"} for n in range(1001)]
    response = alice.api.post("/api/v1/contacts/bulk/", {"contacts": too_many}, format="json")
    assert response.status_code == 400
    error = error_of(response)
    assert "contacts" in error["fields"]
    assert "1000" in error["fields"]["contacts"][0]
    assert not contacts_of(alice).exists()

    for body, field in [
        ({"contacts": []}, "contacts"),
        ({"contacts": {"email": "a@acme.com"}}, "contacts"),
        ({"contacts": [{"email": "a@acme.com"}], "on_duplicate": "merge"}, "on_duplicate"),
        ({"contacts": [{"email": "a@acme.com"}], "list": "not-a-uuid"}, "list"),
        ({"contacts": [{"email": "a@acme.com"}], "list": str(make_list(charlie, "X").pk)}, "list"),
    ]:
        response = alice.api.post("/api/v1/contacts/bulk/", body, format="json")
        assert response.status_code == 400, body
        assert field in error_of(response)["fields"], body
    assert not contacts_of(alice).exists()


def test_bulk_of_exactly_a_thousand_is_not_refused(alice):
    # Items without an email fail on their own, cheaply: the limit itself is what is tested.
    items = [{"first_name": f"p{n}"} for n in range(999)] + [{"email": "last@acme.com"}]
    response = alice.api.post("/api/v1/contacts/bulk/", {"contacts": items}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["failed"], len(body["results"])) == (1, 999, 1000)
    assert body["results"][999]["status"] == "created"
    assert contacts_of(alice).get().email == "last@acme.com"


# Unsubscribe -------------------------------------------------------------------------------


def test_unsubscribe_sets_the_status_suppresses_and_emits_once(alice):
    contact = make_contact(alice, "Jean@Acme.com")
    response = alice.api.post(f"/api/v1/contacts/{contact.pk}/unsubscribe/")
    assert response.status_code == 200
    assert response.json()["status"] == "unsubscribed"
    contact.refresh_from_db()
    assert contact.status == ContactStatus.UNSUBSCRIBED
    suppression = Suppression.objects.for_workspace(alice.workspace).get()
    assert (suppression.kind, suppression.value, suppression.reason) == (
        SuppressionKind.EMAIL,
        "jean@acme.com",
        SuppressionReason.UNSUBSCRIBED,
    )
    event = events(alice, "contact.unsubscribed").get()
    assert event.data["contact"]["id"] == str(contact.pk)
    assert event.data["contact"]["status"] == "unsubscribed"
    # Again: nothing new.
    assert alice.api.post(f"/api/v1/contacts/{contact.pk}/unsubscribe/").status_code == 200
    assert events(alice, "contact.unsubscribed").count() == 1
    assert Suppression.objects.for_workspace(alice.workspace).count() == 1


def test_setting_the_status_to_unsubscribed_by_patch_suppresses_too(alice):
    contact = make_contact(alice, "jean@acme.com")
    response = alice.api.patch(
        f"/api/v1/contacts/{contact.pk}/", {"status": "unsubscribed"}, format="json"
    )
    assert response.json()["status"] == "unsubscribed"
    assert Suppression.objects.for_workspace(alice.workspace).filter(value="jean@acme.com")
    assert events(alice, "contact.unsubscribed").count() == 1


# Export ------------------------------------------------------------------------------------


def test_export_is_excel_safe_csv_with_filters(alice, charlie):
    vip = make_list(alice, "VIP")
    make_contact(
        alice,
        "jean@acme.com",
        first_name="Jérôme",
        company='=HYPERLINK("http://evil.example","click")',
        title="+cmd",
        phone="-2+3",
        country="@SUM(A1)",
        tags=["b", "a"],
        lists=[vip],
        custom_fields={"industry": "=1+1"},
    )
    bounced = make_contact(alice, "zoe@acme.com", company="Plain")
    services.contact_update(workspace=alice.workspace, contact=bounced, data={"status": "bounced"})
    make_contact(charlie, "charlie@acme.com")
    response = alice.api.get("/api/v1/contacts/export/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = csv_rows(response)
    header = rows[0]
    assert header[:3] == ["email", "first_name", "last_name"]
    assert header[-1] == "industry"
    by_email = {row[0]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    assert set(by_email) == {"jean@acme.com", "zoe@acme.com"}
    jean = by_email["jean@acme.com"]
    assert jean["first_name"] == "Jérôme"
    assert jean["company"] == '\'=HYPERLINK("http://evil.example","click")'
    assert jean["title"] == "'+cmd"
    assert jean["phone"] == "'-2+3"
    assert jean["country"] == "'@SUM(A1)"
    assert jean["industry"] == "'=1+1"
    assert jean["tags"] == "a, b"
    assert jean["lists"] == "VIP"
    assert by_email["zoe@acme.com"]["company"] == "Plain"

    filtered = csv_rows(alice.api.get("/api/v1/contacts/export/?status=bounced"))
    assert [row[0] for row in filtered[1:]] == ["zoe@acme.com"]
    by_list = csv_rows(alice.api.get(f"/api/v1/contacts/export/?list={vip.pk}"))
    assert [row[0] for row in by_list[1:]] == ["jean@acme.com"]
    bad = alice.api.get("/api/v1/contacts/export/?status=nope")
    assert bad.status_code == 400
    assert "status" in error_of(bad)["fields"]


# Lists ---------------------------------------------------------------------------------------


def test_list_crud_and_names_unique_whatever_the_case(alice, charlie):
    response = alice.api.post(
        "/api/v1/lists/", {"name": " Prospects ", "description": "Q3"}, format="json"
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert (created["name"], created["description"], created["contact_count"]) == (
        "Prospects",
        "Q3",
        0,
    )
    duplicate = alice.api.post("/api/v1/lists/", {"name": "PROSPECTS"}, format="json")
    assert duplicate.status_code == 400
    assert "name" in error_of(duplicate)["fields"]
    assert (
        charlie.api.post("/api/v1/lists/", {"name": "Prospects"}, format="json").status_code == 201
    )

    other = alice.api.post("/api/v1/lists/", {"name": "Customers"}, format="json").json()
    rename_clash = alice.api.patch(
        f"/api/v1/lists/{other['id']}/", {"name": "prospects"}, format="json"
    )
    assert rename_clash.status_code == 400
    assert "name" in error_of(rename_clash)["fields"]
    renamed = alice.api.patch(f"/api/v1/lists/{other['id']}/", {"name": "Clients"}, format="json")
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Clients"
    assert renamed.json()["description"] == ""

    listed = alice.api.get("/api/v1/lists/").json()["results"]
    assert sorted(item["name"] for item in listed) == ["Clients", "Prospects"]
    assert alice.api.get(f"/api/v1/lists/{created['id']}/").json()["name"] == "Prospects"


def test_list_membership_add_remove_and_delete_keep_contacts(alice, charlie):
    prospects = make_list(alice, "Prospects")
    jean, marie = make_contact(alice, "jean@acme.com"), make_contact(alice, "marie@acme.com")
    theirs = make_contact(charlie, "carl@globex.com")
    url = f"/api/v1/lists/{prospects.pk}/contacts/"
    ids = [str(jean.pk), str(marie.pk), str(theirs.pk)]
    response = alice.api.post(url, {"contact_ids": ids}, format="json")
    assert response.status_code == 200
    assert response.json() == {"count": 2}
    assert set(prospects.contacts.all()) == {jean, marie}
    assert not theirs.lists.exists()
    assert alice.api.get(f"/api/v1/lists/{prospects.pk}/").json()["contact_count"] == 2
    again = alice.api.post(url, {"contact_ids": [str(jean.pk)]}, format="json")
    assert again.status_code == 200
    assert prospects.contacts.count() == 2  # adding twice is harmless

    removed = alice.api.delete(url, {"contact_ids": [str(jean.pk), str(theirs.pk)]}, format="json")
    assert removed.status_code == 200
    assert removed.json() == {"count": 1}
    assert list(prospects.contacts.all()) == [marie]
    assert contacts_of(alice).count() == 2  # removing from a list deletes nobody

    bad = alice.api.post(url, {"contact_ids": ["nope"]}, format="json")
    assert bad.status_code == 400
    assert "contact_ids" in error_of(bad)["fields"]

    assert alice.api.delete(f"/api/v1/lists/{prospects.pk}/").status_code == 204
    assert not ContactList.objects.for_workspace(alice.workspace).exists()
    assert contacts_of(alice).count() == 2


def test_another_workspaces_list_is_404(alice, charlie):
    theirs = make_list(charlie, "Theirs")
    mine = make_contact(alice, "jean@acme.com")
    for method in ("get", "patch", "delete"):
        assert getattr(alice.api, method)(f"/api/v1/lists/{theirs.pk}/").status_code == 404
    response = alice.api.post(
        f"/api/v1/lists/{theirs.pk}/contacts/", {"contact_ids": [str(mine.pk)]}, format="json"
    )
    assert response.status_code == 404
    assert not theirs.contacts.exists()


# Suppression list ----------------------------------------------------------------------------


def test_suppressions_add_list_and_delete(alice, charlie):
    response = alice.api.post("/api/v1/suppressions/", {"value": "Jean@ACME.com"}, format="json")
    assert response.status_code == 201, response.content
    email_entry = response.json()
    assert (email_entry["kind"], email_entry["value"], email_entry["reason"]) == (
        "email",
        "jean@acme.com",
        "manual",
    )
    assert email_entry["source"] == "API"
    domain = alice.api.post(
        "/api/v1/suppressions/", {"value": "globex.com", "reason": "complained"}, format="json"
    )
    assert domain.status_code == 201
    assert (domain.json()["kind"], domain.json()["value"]) == ("domain", "globex.com")
    again = alice.api.post("/api/v1/suppressions/", {"value": "@GLOBEX.com"}, format="json")
    assert again.status_code == 200
    assert again.json()["id"] == domain.json()["id"]
    assert again.json()["reason"] == "complained"  # the existing entry, as it was

    charlie.api.post("/api/v1/suppressions/", {"value": "initech.com"}, format="json")
    listed = alice.api.get("/api/v1/suppressions/").json()["results"]
    assert sorted(item["value"] for item in listed) == ["globex.com", "jean@acme.com"]

    assert alice.api.delete(f"/api/v1/suppressions/{email_entry['id']}/").status_code == 204
    values = Suppression.objects.for_workspace(alice.workspace).values_list("value", flat=True)
    assert list(values) == ["globex.com"]
    theirs = Suppression.objects.for_workspace(charlie.workspace).get()
    assert alice.api.delete(f"/api/v1/suppressions/{theirs.pk}/").status_code == 404


def test_at_domain_is_a_domain_entry(alice):
    response = alice.api.post("/api/v1/suppressions/", {"value": "@Acme.com"}, format="json")
    assert response.status_code == 201
    assert (response.json()["kind"], response.json()["value"]) == ("domain", "acme.com")


@pytest.mark.parametrize("value", ["not a domain", "jean@", "acme", "@", "a@b@c.com"])
def test_invalid_suppression_values_get_400(alice, value):
    response = alice.api.post("/api/v1/suppressions/", {"value": value}, format="json")
    assert response.status_code == 400
    assert "value" in error_of(response)["fields"]
    assert not Suppression.objects.for_workspace(alice.workspace).exists()


def test_invalid_reason_gets_400(alice):
    response = alice.api.post(
        "/api/v1/suppressions/", {"value": "a@acme.com", "reason": "bored"}, format="json"
    )
    assert response.status_code == 400
    assert "reason" in error_of(response)["fields"]


def test_suppression_check(alice, charlie):
    services.suppression_add(workspace=alice.workspace, value="blocked@initech.com")
    services.suppression_add(workspace=alice.workspace, value="acme.com")
    services.suppression_add(workspace=charlie.workspace, value="globex.com")
    bounced = make_contact(alice, "Bounced@hooli.com")
    services.contact_update(workspace=alice.workspace, contact=bounced, data={"status": "bounced"})
    make_contact(alice, "fine@hooli.com")

    def check(email: str) -> dict:
        response = alice.api.get("/api/v1/suppressions/check/", {"email": email})
        assert response.status_code == 200
        return response.json()

    blocked = check("Blocked@Initech.com")
    assert (blocked["allowed"], blocked["reason"]) == (False, "manual")
    assert blocked["suppression"] is not None
    assert check("anyone@acme.com")["allowed"] is False
    assert check("anyone@ACME.COM")["allowed"] is False
    assert check("someone@mail.acme.com")["allowed"] is False  # subdomains are covered
    assert check("someone@a.b.acme.com")["allowed"] is False
    assert check("someone@acme.community")["allowed"] is True  # not a subdomain
    assert check("someone@notacme.com")["allowed"] is True
    contact_status = check("bounced@hooli.com")
    assert (contact_status["allowed"], contact_status["reason"]) == (False, "bounced")
    assert contact_status["suppression"] is None
    assert check("fine@hooli.com") == {
        "email": "fine@hooli.com",
        "allowed": True,
        "reason": "",
        "suppression": None,
    }
    assert check("other@initech.com")["allowed"] is True
    assert check("anyone@globex.com")["allowed"] is True  # charlie's entry is charlie's
    missing = alice.api.get("/api/v1/suppressions/check/")
    assert missing.status_code == 400
    assert "email" in error_of(missing)["fields"]


# Imports -------------------------------------------------------------------------------------

IMPORT_CSV = (
    b"email,first_name,company,Secteur\n"
    b"jean@Acme.com,Jean,Acme,SaaS\n"  # 2: created
    b"not-an-email,X,Y,Z\n"  # 3: invalid
    b",Nobody,Z,\n"  # 4: no email
    b"JEAN@acme.com,Jean bis,Acme,\n"  # 5: same as line 2
    b"old@globex.com,Olga,Globex New,\n"  # 6: already a contact
    b"marie@initech.com,Marie,Initech,Banking\n"  # 7: created
)


def upload(actor, content: bytes, name: str = "contacts.csv", **options):
    return actor.api.post(
        "/api/v1/imports/",
        {"file": SimpleUploadedFile(name, content, content_type="text/csv"), **options},
        format="multipart",
    )


def test_import_queues_then_runs_with_exact_counts(alice):
    existing = make_contact(alice, "old@globex.com", company="Globex", custom_fields={"tier": "1"})
    created_events = events(alice, "contact.created").count()
    response = upload(alice, IMPORT_CSV, on_duplicate="update")
    assert response.status_code == 202, response.content
    queued = response.json()
    assert queued["status"] == "queued"
    assert queued["headers"] == ["email", "first_name", "company", "Secteur"]
    assert queued["mapping"] == ["email", "first_name", "company", "custom:secteur"]
    assert queued["on_duplicate"] == "update"
    assert queued["errors_url"] == f"/api/v1/imports/{queued['id']}/errors/"

    import_run(import_id=queued["id"])

    done = alice.api.get(f"/api/v1/imports/{queued['id']}/").json()
    assert done["status"] == "done"
    assert done["progress_percent"] == 100
    assert {k: done[k] for k in ("rows_read", "created", "updated", "skipped_duplicates")} == {
        "rows_read": 6,
        "created": 2,
        "updated": 1,
        "skipped_duplicates": 1,
    }
    assert done["invalid"] == 2
    jean = contacts_of(alice).get(email__iexact="jean@acme.com")
    assert (jean.email, jean.first_name, jean.source) == ("jean@acme.com", "Jean", "import")
    assert jean.custom_fields == {"secteur": "SaaS"}
    existing.refresh_from_db()
    assert (existing.first_name, existing.company) == ("Olga", "Globex New")
    assert existing.custom_fields == {"tier": "1"}  # empty cells never erase
    assert contacts_of(alice).count() == 3

    assert events(alice, "contact.created").count() == created_events  # none per row
    completed = events(alice, "import.completed").get()
    assert completed.data["import"]["id"] == queued["id"]
    assert completed.data["import"]["created"] == 2
    import_run(import_id=queued["id"])  # a redelivered task does nothing
    assert events(alice, "import.completed").count() == 1


def test_import_skip_mode_leaves_existing_contacts_alone(alice):
    existing = make_contact(alice, "old@globex.com", company="Globex")
    response = upload(alice, IMPORT_CSV)
    assert response.json()["on_duplicate"] == "skip"
    import_run(import_id=response.json()["id"])
    done = alice.api.get(f"/api/v1/imports/{response.json()['id']}/").json()
    assert (done["created"], done["updated"], done["skipped_duplicates"], done["invalid"]) == (
        2,
        0,
        2,
        2,
    )
    existing.refresh_from_db()
    assert existing.company == "Globex"


def test_import_errors_csv_lists_the_skipped_rows_by_line(alice):
    response = upload(alice, IMPORT_CSV)
    import_run(import_id=response.json()["id"])
    errors = alice.api.get(f"/api/v1/imports/{response.json()['id']}/errors/")
    assert errors.status_code == 200
    assert errors["Content-Type"].startswith("text/csv")
    rows = csv_rows(errors)
    assert rows[0] == ["line", "email", "reason"]
    assert [(row[0], row[1]) for row in rows[1:]] == [
        ("3", "not-an-email"),
        ("4", ""),
        ("5", "JEAN@acme.com"),
    ]
    assert "not a valid email" in rows[1][2].lower()
    assert rows[2][2] == "No email address in this row."
    assert "line 2" in rows[3][2]


def test_import_mapping_overrides_the_guess_and_adds_to_a_list(alice):
    target = make_list(alice, "Salon")
    content = "Courriel;Secteur;Prénom;Notes\njean@acme.com;SaaS;Jean;met in Lyon\n".encode()
    response = upload(
        alice,
        content,
        mapping=json.dumps({"Courriel": "email", "Secteur": "custom:industry", "Notes": ""}),
        list=str(target.pk),
    )
    assert response.status_code == 202, response.content
    assert response.json()["mapping"] == ["email", "custom:industry", "first_name", ""]
    assert response.json()["list"] == str(target.pk)
    import_run(import_id=response.json()["id"])
    jean = contacts_of(alice).get()
    assert jean.first_name == "Jean"
    assert jean.custom_fields == {"industry": "SaaS"}
    assert list(target.contacts.all()) == [jean]


def test_import_without_an_email_column_lists_the_headers_and_leaves_nothing(alice):
    response = upload(alice, b"name,company,phone\nJean,Acme,0102030405\n")
    assert response.status_code == 400
    error = error_of(response)
    assert "mapping" in error["fields"]
    for header in ("name", "company", "phone"):
        assert f"“{header}”" in error["message"]
    assert not Import.objects.for_workspace(alice.workspace).exists()


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        (json.dumps({"Mail perso": "email"}), "Mail perso"),
        ("not json", "JSON"),
        (json.dumps(["email"]), "JSON"),
        (json.dumps({"company": "email", "email": "email"}), "Two columns"),
    ],
)
def test_import_with_a_bad_mapping_gets_400_and_leaves_nothing(alice, mapping, expected):
    response = upload(alice, b"email,company\njean@acme.com,Acme\n", mapping=mapping)
    assert response.status_code == 400
    error = error_of(response)
    assert "mapping" in error["fields"]
    assert expected in error["fields"]["mapping"][0]
    assert not Import.objects.for_workspace(alice.workspace).exists()


def test_import_of_a_workbook_is_refused_with_what_to_do(alice):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as workbook:
        workbook.writestr("[Content_Types].xml", "<Types/>")
        workbook.writestr("xl/workbook.xml", "<workbook/>")
    response = upload(alice, buffer.getvalue(), name="contacts.csv")
    assert response.status_code == 400
    error = error_of(response)
    assert "file" in error["fields"]
    assert "CSV UTF-8" in error["fields"]["file"][0]
    assert not Import.objects.for_workspace(alice.workspace).exists()


def test_import_with_another_workspaces_list_is_refused(alice, charlie):
    theirs = make_list(charlie, "Theirs")
    response = upload(alice, b"email\njean@acme.com\n", list=str(theirs.pk))
    assert response.status_code == 400
    assert "list" in error_of(response)["fields"]
    assert not Import.objects.for_workspace(alice.workspace).exists()


def test_imports_are_per_workspace(alice, charlie):
    mine = upload(alice, b"email\njean@acme.com\n").json()
    theirs = upload(charlie, b"email\ncarl@acme.com\n").json()
    assert mine["number"] == theirs["number"] == 1
    listed = alice.api.get("/api/v1/imports/").json()["results"]
    assert [item["id"] for item in listed] == [mine["id"]]
    assert alice.api.get(f"/api/v1/imports/{theirs['id']}/").status_code == 404
    assert alice.api.get(f"/api/v1/imports/{theirs['id']}/errors/").status_code == 404
    import_run(import_id=theirs["id"])
    assert not contacts_of(alice).exists()
    assert contacts_of(charlie).get().email == "carl@acme.com"


def test_unknown_uuid_is_404_in_the_error_format(alice):
    response = alice.api.get(f"/api/v1/contacts/{uuid.uuid4()}/")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
