"""The import wizard in a real browser, with a real Celery worker doing the import."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from accounts import services
from contacts.models import Contact, Import, ImportStatus
from tests.conftest import PASSWORD
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def celery_worker_process(live_server) -> Iterator[subprocess.Popen]:
    """`celery worker` on the test database and the test Redis, as `make run` starts it."""
    redis.Redis.from_url(settings.REDIS_URL).flushdb()  # no stale nudges from other tests
    database = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": (
            f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/"
            f"{database['NAME']}"
        ),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "fluenzr",
            "worker",
            "--pool=solo",
            "--queues=imports",
            "--loglevel=INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    yield worker
    worker.terminate()
    output, _ = worker.communicate(timeout=30)
    print(output.decode(errors="replace"))  # shown when the test fails


def test_import_wizard_upload_map_and_watch_the_progress_bar_reach_done(
    page, live_server, celery_worker_process, tmp_path
):
    user = UserFactory(email="ines@example.test")
    workspace = services.workspace_create(owner=user, name="Inès Conseil", plan="pro")
    rows = [f"prospect{i}@example.com;Prénom{i};Société {i};{i % 7}" for i in range(3000)]
    rows += ["pas-un-email;X;Y;0", "prospect1@EXAMPLE.com;Doublon;Z;1"]
    csv_file = tmp_path / "prospects.csv"
    csv_file.write_bytes(
        ("Courriel;Prénom;Entreprise;Score\r\n" + "\r\n".join(rows) + "\r\n").encode("cp1252")
    )

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(user.email)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{live_server.url}/")

    page.get_by_role("link", name="Contacts", exact=True).first.click()
    assert page.get_by_role("heading", name="No contacts yet").is_visible()
    page.get_by_role("link", name="Import a CSV").first.click()
    page.get_by_label("CSV file").set_input_files(str(csv_file))
    page.get_by_role("button", name="Upload and check the columns").click()

    # Mapping, with the first rows shown: the French headers were recognised.
    page.wait_for_selector("table.mapping")
    assert page.get_by_label("Courriel").input_value() == "email"
    assert page.get_by_label("Prénom").input_value() == "first_name"
    assert page.get_by_label("Entreprise").input_value() == "company"
    assert page.get_by_label("Score").input_value() == "custom:score"
    assert page.locator("td.samples").first.inner_text().startswith("prospect0@example.com")
    page.get_by_label("Score").select_option("")  # the user drops a column
    page.get_by_label("…or to a new list named").fill("Salon 2026")
    page.get_by_role("button", name="Start the import").click()

    # The progress bar, polled by htmx, reaches 100% and the page turns into the result.
    bar = page.locator("progress#import-bar")
    bar.wait_for()
    page.wait_for_selector("dl.stats", timeout=60_000)
    source_import = Import.objects.for_workspace(workspace).get()
    assert source_import.status == ImportStatus.DONE, celery_worker_process.poll()
    assert source_import.progress_percent == 100
    stats = page.locator("dl.stats").inner_text()
    assert "3,000" in stats  # created
    assert page.locator("dl.stats div", has_text="Invalid").inner_text().endswith("1")
    skipped = page.locator("table").last.inner_text()
    assert "3002" in skipped and "pas-un-email" in skipped  # line numbers of the file
    assert "Same email as line 3" in skipped

    contacts = Contact.objects.for_workspace(workspace)
    assert contacts.count() == 3000
    first = contacts.get(email="prospect0@example.com")
    assert (first.first_name, first.company, first.custom_fields) == ("Prénom0", "Société 0", {})
    assert contacts.filter(lists__name="Salon 2026").count() == 3000

    page.get_by_role("link", name="See the contacts").click()
    page.wait_for_selector("table tbody tr")
    assert "3,000 contacts" in page.locator(".table-caption").inner_text()
