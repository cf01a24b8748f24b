"""CSV imports of real-world-shaped files: encodings, delimiters, quoting, bad rows, limits.

The Celery task is a thin wrapper around `import_run`; these tests call the service directly
(the browser test runs the whole path through a real worker).
"""

from __future__ import annotations

import codecs
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.errors import ServiceError
from contacts import selectors, services
from contacts.importing import service
from contacts.models import Contact, ContactList, Import, ImportStatus
from webhooks.models import Event

ROOT = Path(__file__).resolve().parent.parent


def run_import(actor, name: str, content: bytes, *, mapping=None, **options) -> Import:
    draft = service.import_create(
        workspace=actor.workspace, actor=actor.user, upload=SimpleUploadedFile(name, content)
    )
    service.import_start(workspace=actor.workspace, source_import=draft, mapping=mapping, **options)
    service.import_run(import_id=str(draft.pk))
    draft.refresh_from_db()
    return draft


def contact(actor, email: str) -> Contact:
    return Contact.objects.for_workspace(actor.workspace).get(email__iexact=email)


def errors_of(source_import: Import) -> list[tuple[int, str, str]]:
    return [(e.line, e.email, e.code) for e in source_import.row_errors.order_by("line")]


def counts(source_import: Import) -> dict[str, int]:
    return {
        "read": source_import.rows_read,
        "created": source_import.created_count,
        "updated": source_import.updated_count,
        "duplicates": source_import.duplicate_count,
        "invalid": source_import.invalid_count,
    }


def test_semicolon_windows_1252_with_french_headers_and_accents(alice):
    text = (
        "Courriel;Prénom;Nom;Société;Poste;Téléphone;Secteur d'activité\r\n"
        "helene.muller@example.com;Hélène;Müller;Ørsted A/S;Directrice;+33 1 23 45 67 89;"
        "Énergie\r\n"
        "jose@Example.FR;José;Gonçalves;Café Crème SARL;Gérant;;Restauration\r\n"
        "francois@example.fr;François;Lefèvre;Œuvre & Cie;PDG;0612345678;Édition — €\r\n"
    )
    result = run_import(alice, "export-excel.csv", text.encode("cp1252"))
    assert result.status == ImportStatus.DONE, result.error
    assert result.encoding == "cp1252"
    assert result.delimiter == ";"
    assert result.mapping == [
        "email",
        "first_name",
        "last_name",
        "company",
        "title",
        "phone",
        "custom:secteurDActivite",
    ]
    assert counts(result) == {"read": 3, "created": 3, "updated": 0, "duplicates": 0, "invalid": 0}
    helene = contact(alice, "helene.muller@example.com")
    assert (helene.first_name, helene.last_name, helene.company) == (
        "Hélène",
        "Müller",
        "Ørsted A/S",
    )
    assert helene.title == "Directrice"
    assert helene.phone == "+33 1 23 45 67 89"
    assert helene.custom_fields == {"secteurDActivite": "Énergie"}
    assert helene.source == "import" and helene.source_import_id == result.pk
    jose = contact(alice, "jose@example.fr")
    assert jose.email == "jose@example.fr"  # the domain is lowercased
    assert jose.company == "Café Crème SARL"
    assert contact(alice, "francois@example.fr").custom_fields == {
        "secteurDActivite": "Édition — €"
    }
    assert contact(alice, "francois@example.fr").company == "Œuvre & Cie"


def test_utf16_tab_separated_from_excel_unicode_text(alice):
    text = (
        "E-mail Address\tFirst Name\tLast Name\tCompany\tCountry\r\n"
        "anna@example.de\tAnna\tÖzdemir\tStraße GmbH\tDeutschland\r\n"
        "lars@example.dk\tLars\tØrsted\tÆble ApS\tDanmark\r\n"
    )
    content = codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    result = run_import(alice, "unicode.txt", content)
    assert result.status == ImportStatus.DONE, result.error
    assert result.encoding == "utf-16" and result.delimiter == "\t"
    assert result.created_count == 2
    lars = contact(alice, "lars@example.dk")
    assert (lars.last_name, lars.company, lars.country) == ("Ørsted", "Æble ApS", "Danmark")
    assert contact(alice, "anna@example.de").last_name == "Özdemir"


def test_utf8_bom_quoted_multiline_cells_blank_lines_and_trailing_columns(alice):
    text = (
        "email,first name,company,notes,,\r\n"
        'ada@example.com,Ada,"Lovelace, Byron & Co","line one\r\nline two, with comma",,\r\n'
        "\r\n"
        ",,,,,\r\n"
        'grace@example.com,Grace,"Navy ""Yard""",,,\r\n'
        "not-an-email,Nobody,Nowhere,,,\r\n"
        ",Missing,Email Inc,,,\r\n"
        "ADA@EXAMPLE.COM,Ada again,,,,\r\n"
        "alan@exa_mple.com,Alan,,,,\r\n"
    )
    result = run_import(alice, "sheets.csv", codecs.BOM_UTF8 + text.encode())
    assert result.status == ImportStatus.DONE, result.error
    assert result.encoding == "utf-8-sig" and result.delimiter == ","
    assert counts(result) == {"read": 6, "created": 2, "updated": 0, "duplicates": 1, "invalid": 3}
    ada = contact(alice, "ada@example.com")
    assert ada.company == "Lovelace, Byron & Co"
    assert ada.custom_fields == {"notes": "line one\r\nline two, with comma"}
    assert contact(alice, "grace@example.com").company == 'Navy "Yard"'
    # Line numbers are the file's: the multi-line cell spans lines 2-3.
    assert errors_of(result) == [
        (7, "not-an-email", "invalid_email"),
        (8, "", "missing_email"),
        (9, "ADA@example.com", "duplicate"),
        (10, "alan@exa_mple.com", "invalid_email"),
    ]
    reasons = {e.line: e.reason for e in result.row_errors.all()}
    assert reasons[9] == "Same email as line 2, which was imported instead."
    assert "@-sign" in reasons[7]


def test_an_xlsx_renamed_csv_is_refused_with_what_to_do(alice):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as workbook:
        workbook.writestr("[Content_Types].xml", "<Types/>")
        workbook.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(ServiceError) as refused:
        service.import_create(
            workspace=alice.workspace,
            actor=alice.user,
            upload=SimpleUploadedFile("contacts.csv", buffer.getvalue()),
        )
    assert "Excel" in refused.value.message and "CSV UTF-8" in refused.value.message
    assert not Import.objects.for_workspace(alice.workspace).exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty"),
        (b"  \r\n\r\n", "empty"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(200), ".xls"),
        (b"%PDF-1.7\n" + bytes(range(256)), "PDF"),
        (bytes(range(256)) * 20, "not text"),
    ],
)
def test_files_that_are_not_csv_get_a_clear_error(alice, content, expected):
    with pytest.raises(ServiceError) as refused:
        service.import_create(
            workspace=alice.workspace,
            actor=alice.user,
            upload=SimpleUploadedFile("contacts.csv", content),
        )
    assert expected in refused.value.message
    assert refused.value.field == "file"


def test_no_email_column_lists_the_headers_found(alice):
    draft = service.import_create(
        workspace=alice.workspace,
        actor=alice.user,
        upload=SimpleUploadedFile("crm.csv", b"Name,Company,Phone\nAda,Analytical,123\n"),
    )
    assert "email" not in draft.mapping
    with pytest.raises(ServiceError) as refused:
        service.import_start(workspace=alice.workspace, source_import=draft)
    message = refused.value.message
    assert "“Name”, “Company”, “Phone”" in message
    draft.refresh_from_db()
    assert draft.status == ImportStatus.DRAFT  # nothing queued; the user can fix the mapping


def test_the_user_can_choose_the_mapping(alice):
    content = b"Contact,Who,Org\nada@example.com,Ada,Analytical\n"
    result = run_import(alice, "odd.csv", content, mapping=["email", "first_name", ""])
    assert result.status == ImportStatus.DONE
    ada = contact(alice, "ada@example.com")
    assert (ada.first_name, ada.company, ada.custom_fields) == ("Ada", "", {})


def test_a_suppressed_address_imports_but_stays_suppressed(alice):
    ada = services.contact_create(workspace=alice.workspace, data={"email": "ada@example.com"})
    services.contact_unsubscribe(workspace=alice.workspace, contact=ada, source="test")
    services.contacts_delete(
        workspace=alice.workspace,
        contacts=Contact.objects.for_workspace(alice.workspace).filter(pk=ada.pk),
    )
    services.suppression_add(workspace=alice.workspace, value="blocked.example")
    content = b"email\nada@example.com\nboss@blocked.example\nfree@example.com\n"
    result = run_import(alice, "again.csv", content)
    assert result.created_count == 3
    sendable = {
        email: selectors.email_sendability(workspace=alice.workspace, email=email).allowed
        for email in ("ada@example.com", "boss@blocked.example", "free@example.com")
    }
    assert sendable == {
        "ada@example.com": False,
        "boss@blocked.example": False,
        "free@example.com": True,
    }


def test_update_mode_fills_in_without_erasing_and_skip_mode_leaves_alone(alice):
    services.contact_create(
        workspace=alice.workspace,
        data={
            "email": "ada@example.com",
            "first_name": "Ada",
            "company": "Old Co",
            "custom_fields": {"keep": "me"},
        },
    )
    content = "email,first_name,company,plan\nADA@example.com,,New Co,gold\nnew@example.com,N,,\n"
    skipped = run_import(alice, "a.csv", content.encode(), on_duplicate="skip")
    assert counts(skipped) == {"read": 2, "created": 1, "updated": 0, "duplicates": 1, "invalid": 0}
    assert contact(alice, "ada@example.com").company == "Old Co"
    content = content.replace("new@example.com", "newer@example.com")
    updated = run_import(alice, "b.csv", content.encode(), on_duplicate="update")
    assert counts(updated) == {"read": 2, "created": 1, "updated": 1, "duplicates": 0, "invalid": 0}
    ada = contact(alice, "ada@example.com")
    assert ada.email == "ada@example.com"  # the stored address is not rewritten
    assert (ada.first_name, ada.company) == ("Ada", "New Co")  # the empty cell kept "Ada"
    assert ada.custom_fields == {"keep": "me", "plan": "gold"}


def test_imported_contacts_go_to_the_chosen_list_existing_ones_too(alice):
    services.contact_create(workspace=alice.workspace, data={"email": "old@example.com"})
    target = services.list_create(workspace=alice.workspace, name="Webinar")
    content = b"email\nold@example.com\nnew@example.com\nbroken\n"
    result = run_import(alice, "w.csv", content, target_list=target)
    assert result.created_count == 1
    members = set(target.contacts.values_list("email", flat=True))
    assert members == {"old@example.com", "new@example.com"}


def test_same_email_in_two_workspaces_and_counts_never_leak(alice, charlie):
    content = b"email\nshared@example.com\n"
    assert run_import(alice, "a.csv", content).created_count == 1
    assert run_import(charlie, "c.csv", content).created_count == 1
    assert Contact.objects.unscoped().filter(email="shared@example.com").count() == 2


def test_events_one_import_completed_and_no_contact_created_per_row(alice):
    result = run_import(alice, "e.csv", b"email\na@example.com\nb@example.com\n")
    events = Event.objects.for_workspace(alice.workspace)
    assert not events.filter(type="contact.created").exists()
    completed = events.get(type="import.completed")
    assert completed.data["import"]["id"] == str(result.pk)
    assert completed.data["import"]["created"] == 2


def test_row_limit_fails_the_whole_import_cleanly(alice, settings):
    settings.CONTACTS_IMPORT_MAX_ROWS = 3
    result = run_import(
        alice, "big.csv", b"email\n" + b"".join(f"p{i}@example.com\n".encode() for i in range(5))
    )
    assert result.status == ImportStatus.FAILED
    assert "more than 3 contacts" in result.error
    assert not Contact.objects.for_workspace(alice.workspace).exists()  # nothing half-imported
    assert not result.row_errors.exists()


def test_size_limit_is_reported_before_anything_is_stored(alice, settings):
    settings.CONTACTS_IMPORT_MAX_BYTES = 1_000_000
    with pytest.raises(ServiceError, match="the most one import takes is 1 MB"):
        service.import_create(
            workspace=alice.workspace,
            actor=alice.user,
            upload=SimpleUploadedFile("huge.csv", b"email\n" + b"x" * 1_000_001),
        )
    assert not Import.objects.for_workspace(alice.workspace).exists()


def test_a_failed_import_speaks_the_importers_language(alice, settings):
    alice.user.language = "fr"
    alice.user.save()
    settings.CONTACTS_IMPORT_MAX_ROWS = 1
    result = run_import(alice, "big.csv", b"email\na@example.com\nb@example.com\n")
    assert result.status == ImportStatus.FAILED
    assert "Le fichier contient plus de 1 contacts" in result.error


def test_a_redelivered_task_does_nothing_and_a_stalled_import_is_requeued(alice):
    result = run_import(alice, "r.csv", b"email\na@example.com\n")
    service.import_run(import_id=str(result.pk))  # redelivery of a finished import
    result.refresh_from_db()
    assert result.created_count == 1 and result.status == ImportStatus.DONE

    draft = service.import_create(
        workspace=alice.workspace,
        actor=None,
        upload=SimpleUploadedFile("s.csv", b"email\nb@example.com\n"),
    )
    service.import_start(workspace=alice.workspace, source_import=draft)
    # A worker claimed it, then died: its heartbeat stopped an hour ago.
    Import.objects.for_workspace(alice.workspace).filter(pk=draft.pk).update(
        status=ImportStatus.RUNNING, heartbeat_at="2020-01-01T00:00:00Z"
    )
    assert service.imports_requeue_stalled() == 1
    draft.refresh_from_db()
    assert draft.status == ImportStatus.QUEUED
    service.import_run(import_id=str(draft.pk))
    draft.refresh_from_db()
    assert draft.status == ImportStatus.DONE and draft.created_count == 1


def test_list_deletion_keeps_contacts(alice):
    target = services.list_create(workspace=alice.workspace, name="Temp")
    run_import(alice, "l.csv", b"email\na@example.com\n", target_list=target)
    services.list_delete(workspace=alice.workspace, contact_list=target)
    assert not ContactList.objects.for_workspace(alice.workspace).exists()
    assert contact(alice, "a@example.com")


def test_the_embedded_sqlite_default_imports_and_browses_contacts(tmp_path):
    """`make run` without PostgreSQL: the same import through OrmWriter, then what the
    contacts pages read (timeline, search, each sort with a cursor, custom keys)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(DEBUG="1", VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="fluenzr.settings")
    python = sys.executable
    subprocess.run(
        [python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=120
    )
    script = """
from django.core.files.uploadedfile import SimpleUploadedFile
from accounts.models import Workspace
from contacts.importing import service
from contacts.models import Contact
ws = Workspace.objects.create(name="Laptop", plan="pro")
text = "Courriel;Prénom\\r\\nhelene@example.com;Hélène\\r\\nbad;X\\r\\nHELENE@example.com;Dup\\r\\n"
draft = service.import_create(workspace=ws, actor=None,
    upload=SimpleUploadedFile("a.csv", text.encode("cp1252")))
service.import_start(workspace=ws, source_import=draft)
service.import_run(import_id=str(draft.pk))
draft.refresh_from_db()
helene = Contact.objects.for_workspace(ws).get()
print(draft.status, draft.created_count, draft.duplicate_count, draft.invalid_count,
      helene.first_name, sorted(draft.row_errors.values_list("line", "code")))
from contacts import selectors, services
for i in range(3):
    services.contact_create(workspace=ws, data={"email": f"p{i}@acme.com", "company": f"C{i}",
                                                "custom_fields": {"plan": "gold"}})
contacts = selectors.contacts_filtered(workspace=ws, filters=selectors.ContactFilters())
walked = []
for sort in selectors.CONTACT_SORTS:
    first = selectors.contacts_page(contacts=contacts, sort=sort, size=2)
    second = selectors.contacts_page(contacts=contacts, sort=sort, cursor=first.next_cursor, size=2)
    walked.append(len({c.pk for c in first.contacts + second.contacts}))
search = selectors.ContactFilters(search="acme c1")
found = selectors.contacts_filtered(workspace=ws, filters=search)
p0 = Contact.objects.for_workspace(ws).get(email="p0@acme.com")
timeline = selectors.contact_timeline(workspace=ws, contact=p0)
print(walked, [c.email for c in found], [e.label for e in timeline],
      selectors.custom_field_keys(workspace=ws))
"""
    result = subprocess.run(
        [python, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    imported, browsed = result.stdout.strip().splitlines()[-2:]
    assert imported == "done 1 1 1 Hélène [(3, 'invalid_email'), (4, 'duplicate')]"
    assert browsed == "[4, 4, 4, 4] ['p1@acme.com'] ['Contact added'] ['plan']"


# Found in review ------------------------------------------------------------------------------


def test_an_unclosed_quote_is_refused_at_its_line_instead_of_swallowing_rows(alice):
    content = b'email,company\na@example.com,"Acme\nb@example.com,Beta\nc@example.com,Gamma\n'
    with pytest.raises(ServiceError, match="Line 2 cannot be read: a quote"):
        service.import_create(
            workspace=alice.workspace, actor=None, upload=SimpleUploadedFile("q.csv", content)
        )
    assert not Import.objects.for_workspace(alice.workspace).exists()


def test_an_unclosed_quote_past_the_preview_fails_the_run_at_its_line(alice):
    rows = b"".join(f"p{i}@example.com,Co {i}\n".encode() for i in range(10))
    content = b"email,company\n" + rows + b'q@example.com,"Open\n' + b"x" * 200_000 + b"\n"
    result = run_import(alice, "q.csv", content)
    assert result.status == ImportStatus.FAILED
    assert result.error.startswith("Line 12 cannot be read: a quote")
    assert not Contact.objects.for_workspace(alice.workspace).exists()


def test_too_many_columns_are_refused_before_the_mapping_page(alice):
    header = ",".join(["email", *[f"c{i}" for i in range(300)]])
    with pytest.raises(ServiceError, match="301 columns; an import takes at most 200"):
        service.import_create(
            workspace=alice.workspace,
            actor=None,
            upload=SimpleUploadedFile("wide.csv", f"{header}\na@example.com\n".encode()),
        )


def test_nul_bytes_and_late_windows_1252_do_not_fail_a_utf8_file(alice):
    ascii_rows = b"".join(f"p{i:06d}@example.com,Plain\n".encode() for i in range(50_000))
    late = "helene@example.com,Hélène\nnul@example.com,Nu\x00ll\n".encode("cp1252")
    result = run_import(alice, "big.csv", b"email,first_name\n" + ascii_rows + late)
    assert result.encoding == "utf-8"  # the first megabyte was plain ASCII
    assert result.status == ImportStatus.DONE, result.error
    assert result.created_count == 50_002
    assert contact(alice, "helene@example.com").first_name == "Hélène"
    assert contact(alice, "nul@example.com").first_name == "Null"


def test_cyrillic_windows_1251_is_not_taken_for_western_european(alice):
    text = "email;first name;company\nivan@example.ru;Иван;Ромашка\nolga@example.ru;Ольга;Берёзка\n"
    result = run_import(alice, "ru.csv", text.encode("cp1251"))
    assert result.encoding != "cp1252"
    olga = contact(alice, "olga@example.ru")
    assert (olga.first_name, olga.company) == ("Ольга", "Берёзка")


def test_a_second_start_of_the_same_draft_is_refused(alice):
    draft = service.import_create(
        workspace=alice.workspace,
        actor=None,
        upload=SimpleUploadedFile("d.csv", b"email\na@example.com\n"),
    )
    stale = Import.objects.for_workspace(alice.workspace).get(pk=draft.pk)  # the double submit
    service.import_start(workspace=alice.workspace, source_import=draft)
    with pytest.raises(ServiceError, match="already started"):
        service.import_start(workspace=alice.workspace, source_import=stale)


def test_our_own_export_imports_back_unchanged(alice):
    from contacts.exporting import contacts_csv_response

    services.contact_create(
        workspace=alice.workspace,
        data={"email": "-jo@example.com", "phone": "+33 6 12 34 56 78", "company": "=Acme"},
    )
    contacts = Contact.objects.for_workspace(alice.workspace)
    exported = b"".join(
        contacts_csv_response(
            workspace=alice.workspace, contacts=contacts, custom_keys=[], filename="c.csv"
        ).streaming_content
    )
    assert b"'+33 6 12 34 56 78" in exported
    result = run_import(alice, "back.csv", exported, on_duplicate="update")
    assert counts(result) == {"read": 1, "created": 0, "updated": 1, "duplicates": 0, "invalid": 0}
    jo = contacts.get()
    assert (jo.email, jo.phone, jo.company) == ("-jo@example.com", "+33 6 12 34 56 78", "=Acme")
    assert jo.custom_fields == {}  # status, source, created_at… are not custom fields


def test_abandoned_drafts_are_discarded_with_their_file(alice):
    draft = service.import_create(
        workspace=alice.workspace,
        actor=None,
        upload=SimpleUploadedFile("old.csv", b"email\na@example.com\n"),
    )
    storage, name = draft.file.storage, draft.file.name
    assert storage.exists(name)
    assert service.imports_discard_abandoned() == 0  # a fresh draft stays
    Import.objects.for_workspace(alice.workspace).filter(pk=draft.pk).update(
        created_at="2020-01-01T00:00:00Z"
    )
    assert service.imports_discard_abandoned() == 1
    assert not storage.exists(name)
    assert not Import.objects.for_workspace(alice.workspace).exists()
