"""Shared pieces: the encrypted field, the event outbox, bootstrap_workspace, /healthz."""

from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client, override_settings
from rest_framework.test import APIClient

from accounts import services
from accounts.models import Membership, User
from accounts.selectors import memberships_of_user
from tests.encryption_app.models import SecretNote
from webhooks.events import UnknownEventType, emit
from webhooks.models import Event


def _raw_secret(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM encryption_app_secretnote WHERE id = %s", [pk])
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_encrypted_field_stores_no_plaintext():
    note = SecretNote.objects.create(label="smtp", secret="hunter2-app-password")
    raw = _raw_secret(note.pk)
    assert "hunter2" not in raw
    assert raw.startswith("gAAAA")  # a Fernet token
    assert SecretNote.objects.get(pk=note.pk).secret == "hunter2-app-password"


@pytest.mark.django_db
def test_key_rotation_reencrypts_every_value_with_the_newest_key(settings):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    notes = [SecretNote.objects.create(label=str(n), secret=f"secret-{n}") for n in range(3)]
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    out = io.StringIO()
    call_command("reencrypt_fields", stdout=out)
    assert "encryption_app.SecretNote.secret: 3 value(s)" in out.getvalue()
    for note in notes:
        Fernet(new_key.encode()).decrypt(_raw_secret(note.pk).encode())  # newest key alone
    settings.FIELD_ENCRYPTION_KEYS = [new_key]  # the old key can now be retired
    assert [n.secret for n in SecretNote.objects.order_by("label")] == [
        "secret-0",
        "secret-1",
        "secret-2",
    ]


@pytest.mark.django_db
def test_emit_writes_in_the_callers_transaction(alice):
    before = Event.objects.for_workspace(alice.workspace).count()
    with pytest.raises(RuntimeError), transaction.atomic():
        emit(workspace=alice.workspace, type="member.joined", data={"user": {"email": "x"}})
        raise RuntimeError("the change failed")
    assert Event.objects.for_workspace(alice.workspace).count() == before
    event = emit(workspace=alice.workspace, type="member.joined", data={"user": {"email": "x"}})
    stored = Event.objects.for_workspace(alice.workspace).get(pk=event.pk)
    assert stored.type == "member.joined"
    assert stored.data == {"user": {"email": "x"}}
    assert stored.created_at is not None


@pytest.mark.django_db
def test_emit_refuses_unknown_types(alice):
    with pytest.raises(UnknownEventType):
        emit(workspace=alice.workspace, type="member.joind", data={})


@pytest.mark.django_db
def test_bootstrap_workspace_prints_a_working_key_last():
    out = io.StringIO()
    args = ["--email", "ops@example.test", "--password", "pw-long-enough", "--workspace", "Ops"]
    call_command("bootstrap_workspace", *args, "--plan", "pro", stdout=out)
    token = out.getvalue().strip().splitlines()[-1]
    assert token.startswith("flz_sk_")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/api/v1/workspace").json()["name"] == "Ops"
    # Run again: same user and workspace, a second key.
    out = io.StringIO()
    call_command("bootstrap_workspace", *args, stdout=out)  # no --plan: the plan stays
    assert "Plan: pro" in out.getvalue()
    out = io.StringIO()
    call_command("bootstrap_workspace", *args, "--plan", "starter", stdout=out)
    assert "Reusing user" in out.getvalue() and "Reusing workspace" in out.getvalue()
    ops = User.objects.get(email="ops@example.test")
    assert memberships_of_user(user=ops).count() == 1
    second = out.getvalue().strip().splitlines()[-1]
    assert second != token
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {second}")
    assert client.get("/api/v1/workspace").status_code == 403  # starter has no API


@pytest.mark.django_db
def test_healthz_reports_database_and_broker(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


@pytest.mark.django_db
def test_healthz_is_503_naming_the_broker_when_it_is_down(client):
    from fluenzr.celery import app

    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        with override_settings():
            response = client.get("/healthz")
    finally:
        app.conf.broker_url = original
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "broker": "unavailable"}


@pytest.mark.django_db
def test_staff_see_and_edit_every_workspace_in_the_admin(alice, bob, charlie):
    staff = User.objects.create_superuser(email="staff@example.test", password="pw-long-enough")
    services.workspace_create(owner=staff, name="Staff HQ")  # the staff member's own scope
    client = Client()
    client.force_login(staff)
    url = f"/admin/accounts/workspace/{alice.workspace.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "alice@example.test" in html and "bob@example.test" in html  # the members inline
    keys = client.get("/admin/accounts/apikey/").content.decode()
    assert "Alice Co" in keys and "Charlie Ltd" in keys

    # Staff move alice's workspace to Starter and make bob an admin, through the inline.
    form = page.context["adminform"].form
    formset = page.context["inline_admin_formsets"][0].formset
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update(name="Alice Co", plan="starter", timezone="UTC")
    prefix = formset.prefix
    data.update(
        {
            f"{prefix}-TOTAL_FORMS": str(len(formset.forms)),
            f"{prefix}-INITIAL_FORMS": str(len(formset.forms)),
            f"{prefix}-MIN_NUM_FORMS": "0",
            f"{prefix}-MAX_NUM_FORMS": "1000",
        }
    )
    for index, inline_form in enumerate(formset.forms):
        member = inline_form.instance
        data[f"{prefix}-{index}-id"] = str(member.pk)
        data[f"{prefix}-{index}-workspace"] = str(alice.workspace.pk)
        data[f"{prefix}-{index}-user"] = str(member.user_id)
        data[f"{prefix}-{index}-role"] = "admin" if member.user_id == bob.user.pk else member.role
    response = client.post(url, data)
    assert response.status_code == 302, response.context["errors"] if response.context else ""
    alice.workspace.refresh_from_db()
    assert alice.workspace.plan == "starter"
    bob_membership = Membership.objects.for_workspace(alice.workspace).get(user=bob.user)
    assert bob_membership.role == "admin"
