"""Email accounts (issue 4): SMTP + IMAP mailboxes connected from the dashboard and the API
against the real loopback servers, limits and ramp-up, quota reservation, pause/resume,
disconnect, plan limits, and credentials that never show."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection, connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import services as account_services
from accounts.models import User
from email_accounts import selectors, services
from email_accounts.models import Mailbox, MailboxStatus
from email_accounts.providers.base import AuthenticationFailed
from tests.mailboxes import read_inbox, unchecked_smtp_mailbox
from webhooks.models import Event


@pytest.fixture
def servers(trusted_mail_servers):
    return trusted_mail_servers


def smtp_form(servers, address: str, password: str, **overrides) -> dict:
    form = {
        "preset": "",
        "email": address,
        "sender_name": "Claire Martin",
        "smtp_host": "localhost",
        "smtp_port": servers.smtp.port,
        "smtp_security": "starttls",
        "smtp_username": "",
        "smtp_password": password,
        "imap_host": "localhost",
        "imap_port": servers.dovecot.imaps_port,
        "imap_security": "ssl",
        "imap_username": "",
        "imap_password": "",
        "append_to_sent": "on",
    }
    return form | overrides


def test_connect_smtp_from_the_dashboard_then_send_a_test_email(alice, servers):
    address, password = servers.mailbox("claire@sender.example.com")
    response = alice.client.post(reverse("smtp_new"), smtp_form(servers, address, password))
    mailbox = Mailbox.objects.for_workspace(alice.workspace).get()
    assert response.status_code == 302
    assert response["Location"] == reverse("mailbox_detail", args=[mailbox.pk])
    assert mailbox.status == MailboxStatus.CONNECTED
    assert mailbox.folders == {"inbox": "INBOX", "sent": "Sent", "junk": "Junk"}
    assert (mailbox.daily_limit, mailbox.timezone, mailbox.sender_name) == (
        50,
        alice.workspace.timezone,
        "Claire Martin",
    )
    assert mailbox.imap_settings.password == password  # the SMTP password, reused for IMAP
    assert Event.objects.for_workspace(alice.workspace).filter(type="account.connected").count()

    page = alice.client.get(reverse("email_accounts")).content.decode()  # ramp-up: 20 today
    assert "claire@sender.example.com" in page and "Connected" in page and "0 / 20" in page
    assert password not in page

    recipient, recipient_password = servers.mailbox(alice.user.email)  # her own address
    response = alice.client.post(
        reverse("mailbox_send_test", args=[mailbox.pk]),
        {"to": "someone@else.example.com"},
        follow=True,
    )
    assert f"Test email sent from claire@sender.example.com to {recipient}" in (
        response.content.decode()
    )
    [received] = read_inbox(servers, recipient, recipient_password, subject="claire@sender")
    assert [r.recipients for r in servers.smtp.received] == [[recipient]]  # never "someone"
    mailbox.refresh_from_db()
    assert mailbox.sent_today == 1  # a test email counts in the day's quota
    assert b"Subject: FluenzR test email from claire@sender.example.com" in received
    assert b"From: Claire Martin <claire@sender.example.com>" in received
    # The host keeps no copy of what it sends: FluenzR filed one in the sender's Sent.
    [filed] = read_inbox(servers, address, password, "Sent")
    assert filed == received or filed.split(b"\r\n\r\n")[1] == received.split(b"\r\n\r\n")[1]


@pytest.mark.parametrize(
    ("overrides", "field", "expected"),
    [
        ({"smtp_password": "wrong"}, "smtp_password", "16-character App Password"),
        ({"smtp_security": "ssl"}, "smtp_security", "does not match port"),
        ({"imap_security": "starttls"}, "imap_security", "choose SSL/TLS"),
        ({"imap_security": "none"}, "imap_security", "Select a valid choice"),
        ({"imap_password": "wrong-imap"}, "imap_password", "App Password"),
        ({"smtp_host": "localhost", "smtp_port": "0"}, "smtp_port", "Ensure this value"),
        ({"smtp_host": "https://smtp.example.com"}, "smtp_host", "without http://"),
    ],
)
def test_each_mistake_reads_as_an_instruction_and_nothing_is_saved(
    alice, servers, overrides, field, expected
):
    address, password = servers.mailbox("mistake@sender.example.com")
    response = alice.client.post(
        reverse("smtp_new"), smtp_form(servers, address, password, **overrides)
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert expected in " ".join(errors[field]), errors
    assert not Mailbox.objects.for_workspace(alice.workspace).exists()
    # What the user typed is still there, except the password (never echoed back).
    page = response.content.decode()
    assert 'value="mistake@sender.example.com"' in page
    assert password not in page


def test_imap_turned_off_in_gmail_says_where_to_turn_it_on(alice, servers):
    address = "imap-off@sender.example.com"
    servers.dovecot.add_user(
        address, "app-password", refuse_login="Your account is not enabled for IMAP use."
    )
    response = alice.client.post(reverse("smtp_new"), smtp_form(servers, address, "app-password"))
    errors = " ".join(response.context["form"].errors["imap_password"])
    assert "Forwarding and POP/IMAP → Enable IMAP" in errors
    assert not Mailbox.objects.for_workspace(alice.workspace).exists()


def test_credentials_are_encrypted_at_rest_and_never_returned(alice, servers):
    address, password = servers.mailbox("secret@sender.example.com", "Sup3r-Secret-Passw0rd")
    response = alice.client.post(reverse("smtp_new"), smtp_form(servers, address, password))
    assert response.status_code == 302, response.context["form"].errors
    mailbox = Mailbox.objects.for_workspace(alice.workspace).get()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM email_accounts_mailbox WHERE id = %s", [mailbox.pk])
        raw_row = " ".join(str(value) for value in cursor.fetchone())
    assert password not in raw_row and "localhost" not in raw_row
    assert mailbox.smtp_settings.password == password  # decrypted with the key
    assert password not in repr(mailbox)

    api = alice.api.get(f"/api/v1/email-accounts/{mailbox.pk}/").content.decode()
    detail = alice.client.get(reverse("mailbox_detail", args=[mailbox.pk])).content.decode()
    edit = alice.client.get(reverse("smtp_edit", args=[mailbox.pk])).content.decode()
    for body in (api, detail, edit):
        assert password not in body
    assert "password" not in api and "credentials" not in api


def test_a_changed_password_reconnects_a_mailbox_in_error(alice, servers):
    address, password = servers.mailbox("changed@sender.example.com", "old-password")
    alice.client.post(reverse("smtp_new"), smtp_form(servers, address, password))
    mailbox = Mailbox.objects.for_workspace(alice.workspace).get()
    servers.dovecot.add_user(address, "new-password")  # the user changed it at the host

    response = alice.client.post(reverse("mailbox_test_connection", args=[mailbox.pk]), follow=True)
    mailbox.refresh_from_db()
    assert mailbox.status == MailboxStatus.ERROR
    assert "App Password" in mailbox.status_reason
    page = response.content.decode()
    assert "Reconnect" in page and reverse("smtp_edit", args=[mailbox.pk]) in page
    assert Event.objects.for_workspace(alice.workspace).filter(type="account.error").count() == 1
    sent = alice.client.post(reverse("mailbox_send_test", args=[mailbox.pk]), follow=True)
    assert "fix it first" in sent.content.decode() and not servers.smtp.received

    # A blank password field keeps the saved one (which is now wrong): still refused.
    form = smtp_form(servers, address, "", smtp_password="")
    assert "App Password" in str(
        alice.client.post(reverse("smtp_edit", args=[mailbox.pk]), form).context["form"].errors
    )
    # The saved password never goes to another server: a changed host needs it again.
    moved = smtp_form(servers, address, "", smtp_password="", smtp_host="127.0.0.1")
    errors = alice.client.post(reverse("smtp_edit", args=[mailbox.pk]), moved).context["form"]
    assert "enter the password again" in " ".join(errors.errors["smtp_password"])
    form = smtp_form(servers, address, "new-password")
    response = alice.client.post(reverse("smtp_edit", args=[mailbox.pk]), form)
    assert response.status_code == 302, response.context["form"].errors
    mailbox.refresh_from_db()
    assert (mailbox.status, mailbox.status_reason) == (MailboxStatus.CONNECTED, "")
    assert mailbox.imap_settings.password == "new-password"


def test_pause_resume_and_disconnect(alice, servers):
    address, password = servers.mailbox("pause@sender.example.com")
    alice.client.post(reverse("smtp_new"), smtp_form(servers, address, password))
    mailbox = Mailbox.objects.for_workspace(alice.workspace).get()

    alice.client.post(reverse("mailbox_pause", args=[mailbox.pk]))
    mailbox.refresh_from_db()
    assert (mailbox.status, mailbox.status_reason) == (MailboxStatus.PAUSED, "Paused by a user.")
    # Stored in English, shown in each reader's language.
    account_services.user_set_language(user=alice.user, language="fr")
    page = alice.client.get(reverse("email_accounts")).content.decode()
    assert "Mise en pause par un utilisateur." in page
    account_services.user_set_language(user=alice.user, language="en")
    assert not services.mailbox_reserve_send(mailbox_id=mailbox.pk)  # a paused one never sends
    alice.client.post(reverse("mailbox_resume", args=[mailbox.pk]))
    mailbox.refresh_from_db()
    assert mailbox.status == MailboxStatus.CONNECTED

    response = alice.client.post(reverse("mailbox_disconnect", args=[mailbox.pk]), follow=True)
    mailbox.refresh_from_db()
    assert mailbox.status == MailboxStatus.DISCONNECTED
    assert not mailbox.has_credentials
    assert "disconnected and its credentials deleted" in response.content.decode()
    assert not services.mailbox_reserve_send(mailbox_id=mailbox.pk)

    alice.client.post(reverse("mailbox_delete", args=[mailbox.pk]))
    assert not Mailbox.objects.for_workspace(alice.workspace).exists()


def test_settings_validate_each_field_against_the_mailbox(alice):
    mailbox = unchecked_smtp_mailbox(alice.workspace, "limits@sender.example.com")
    url = reverse("mailbox_detail", args=[mailbox.pk])
    valid = {
        "sender_name": "Claire",
        "signature": "Claire — Acme",
        "daily_limit": 120,
        "ramp_up_enabled": "on",
        "ramp_up_start": 20,
        "ramp_up_increase": 2,
        "spacing_min_seconds": 90,
        "spacing_max_seconds": 240,
        "timezone": "Europe/Paris",
    }
    for overrides, field, expected in [
        ({"daily_limit": 2001}, "daily_limit", "2000"),
        ({"daily_limit": 0}, "daily_limit", "greater than or equal to 1"),
        ({"spacing_min_seconds": 5}, "spacing_min_seconds", "20"),
        ({"spacing_max_seconds": 60}, "spacing_max_seconds", "at least the minimum gap"),
        ({"timezone": "Mars/Olympus"}, "timezone", "Select a valid choice"),
        ({"daily_limit": "lots"}, "daily_limit", "whole number"),
    ]:
        response = alice.client.post(url, valid | overrides)
        assert response.status_code == 200
        assert expected in " ".join(response.context["form"].errors[field]), (field, overrides)
    assert alice.client.post(url, valid).status_code == 302
    mailbox.refresh_from_db()
    assert (mailbox.daily_limit, mailbox.timezone, mailbox.spacing_max_seconds) == (
        120,
        "Europe/Paris",
        240,
    )
    assert mailbox.ramp_up_started_on is not None  # switching the ramp-up on starts it today


def test_ramp_up_limits_the_day_and_the_forecast_shows_the_curve(alice):
    mailbox = unchecked_smtp_mailbox(
        alice.workspace,
        "ramp@sender.example.com",
        ramp_up_enabled=True,
        ramp_up_started_on=date(2026, 3, 1),
    )
    mailbox.daily_limit = 500
    # The defaults: 20 a day, +2 a day in week 1, +4 in week 2, +6 in week 3…
    assert (mailbox.ramp_up_start, mailbox.ramp_up_increase) == (20, 2)
    assert selectors.limit_on(mailbox, date(2026, 3, 1)) == 20
    assert selectors.limit_on(mailbox, date(2026, 3, 7)) == 32
    assert selectors.limit_on(mailbox, date(2026, 3, 8)) == 48
    assert selectors.limit_on(mailbox, date(2026, 3, 14)) == 72
    assert selectors.limit_on(mailbox, date(2026, 6, 1)) == 500  # the daily limit caps it
    assert selectors.limit_on(mailbox, date(2026, 2, 1)) == 20  # before the start: day one
    forecast = selectors.ramp_up_forecast(mailbox)
    assert [(w.first, w.last) for w in forecast] == [(20, 32), (48, 72), (104, 140), (188, 236)]
    mailbox.daily_limit = 100
    assert [(w.first, w.last) for w in selectors.ramp_up_forecast(mailbox)] == [
        (20, 32),
        (48, 72),
        (100, 100),
    ]
    assert selectors.ramp_up_full_on_day(mailbox) == 15  # day index 14: 20 + 2 * 14 * 3 = 104
    mailbox.ramp_up_increase = 0
    assert selectors.ramp_up_full_on_day(mailbox) is None  # stays at 20 a day
    mailbox.ramp_up_enabled = False
    assert selectors.limit_on(mailbox, date(2026, 3, 1)) == 100


def test_quota_is_counted_per_local_day_and_never_overshoots(alice):
    mailbox = unchecked_smtp_mailbox(
        alice.workspace, "quota@sender.example.com", timezone="Asia/Tokyo"
    )
    Mailbox.objects.for_workspace(alice.workspace).filter(pk=mailbox.pk).update(daily_limit=3)
    # 14:30 UTC is 23:30 in Tokyo; 15:30 UTC is already the next day there.
    late = datetime(2026, 5, 4, 14, 30, tzinfo=UTC)
    taken = [services.mailbox_reserve_send(mailbox_id=mailbox.pk, now=late) for _ in range(5)]
    assert taken == [True, True, True, False, False]
    mailbox.refresh_from_db()
    assert (mailbox.sent_day, mailbox.sent_today) == (date(2026, 5, 4), 3)
    assert selectors.sent_today(mailbox, late) == 3
    next_day = late + timedelta(hours=1)
    assert selectors.sent_today(mailbox, next_day) == 0
    assert services.mailbox_reserve_send(mailbox_id=mailbox.pk, now=next_day)
    mailbox.refresh_from_db()
    assert (mailbox.sent_day, mailbox.sent_today) == (date(2026, 5, 5), 1)
    services.mailbox_release_send(mailbox_id=mailbox.pk, day=date(2026, 5, 5))
    mailbox.refresh_from_db()
    assert mailbox.sent_today == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_reservations_share_one_counter(alice):
    mailbox = unchecked_smtp_mailbox(alice.workspace, "race@sender.example.com")
    Mailbox.objects.for_workspace(alice.workspace).filter(pk=mailbox.pk).update(daily_limit=25)
    results: list[bool] = []
    lock = threading.Lock()

    def reserve() -> None:
        try:
            for _ in range(10):
                ok = services.mailbox_reserve_send(mailbox_id=mailbox.pk)
                with lock:
                    results.append(ok)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=reserve) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 25 and len(results) == 60
    mailbox.refresh_from_db()
    assert mailbox.sent_today == 25


def test_moving_the_time_zone_back_never_hands_out_a_second_quota(alice):
    mailbox = unchecked_smtp_mailbox(
        alice.workspace, "tz@sender.example.com", timezone="Asia/Tokyo"
    )
    Mailbox.objects.for_workspace(alice.workspace).filter(pk=mailbox.pk).update(daily_limit=2)
    moment = datetime(2026, 5, 4, 16, 0, tzinfo=UTC)  # 5 May in Tokyo, 4 May in Los Angeles
    assert services.mailbox_reserve_send(mailbox_id=mailbox.pk, now=moment)
    assert services.mailbox_reserve_send(mailbox_id=mailbox.pk, now=moment)
    Mailbox.objects.for_workspace(alice.workspace).filter(pk=mailbox.pk).update(
        timezone="America/Los_Angeles"
    )
    assert not services.mailbox_reserve_send(mailbox_id=mailbox.pk, now=moment)
    mailbox.refresh_from_db()
    assert (mailbox.sent_day, mailbox.sent_today) == (date(2026, 5, 5), 2)


def test_a_user_pause_is_never_ended_by_the_quota_sweep(alice):
    mailbox = unchecked_smtp_mailbox(alice.workspace, "mine@sender.example.com")
    services.mailbox_pause(workspace=alice.workspace, mailbox=mailbox)
    later = timezone.now() + timedelta(hours=1)
    services.mailbox_pause_until(mailbox_id=mailbox.pk, until=later, reason="Quota used up.")
    mailbox.refresh_from_db()
    assert (mailbox.status_reason, mailbox.paused_until) == ("Paused by a user.", None)
    assert services.mailboxes_resume_due(now=later + timedelta(days=1)) == 0
    # A quota pause that the user then pauses becomes the user's: no end date either.
    other = unchecked_smtp_mailbox(alice.workspace, "quota-then-user@sender.example.com")
    services.mailbox_pause_until(mailbox_id=other.pk, until=later, reason="Quota used up.")
    services.mailbox_pause(workspace=alice.workspace, mailbox=other)
    assert services.mailboxes_resume_due(now=later + timedelta(days=1)) == 0
    events = Event.objects.for_workspace(alice.workspace).filter(type="account.paused")
    assert events.count() == 3


def test_a_disconnected_mailbox_stays_disconnected(alice):
    mailbox = unchecked_smtp_mailbox(alice.workspace, "gone@sender.example.com")
    services.mailbox_disconnect(workspace=alice.workspace, mailbox=mailbox)
    mailbox.refresh_from_db()
    with pytest.raises(AuthenticationFailed), services.open_provider(mailbox=mailbox):
        pass
    services.mailbox_mark_error(mailbox_id=mailbox.pk, reason="Refused")
    mailbox.refresh_from_db()
    assert mailbox.status == MailboxStatus.DISCONNECTED
    types = list(Event.objects.for_workspace(alice.workspace).values_list("type", flat=True))
    assert "account.disconnected" in types and "account.error" not in types


def test_private_hosts_are_refused_unless_allowed(alice, servers, settings):
    settings.EMAIL_ACCOUNTS_ALLOW_PRIVATE_HOSTS = False
    address, password = servers.mailbox("probe@sender.example.com")
    for host in ("localhost", "127.0.0.1", "169.254.169.254", "10.0.0.8"):
        response = alice.client.post(
            reverse("smtp_new"), smtp_form(servers, address, password, smtp_host=host)
        )
        errors = " ".join(response.context["form"].errors["smtp_host"])
        assert "private or local address" in errors, (host, errors)
    assert not Mailbox.objects.for_workspace(alice.workspace).exists()


def test_a_quota_pause_resumes_by_itself(alice):
    mailbox = unchecked_smtp_mailbox(alice.workspace, "tired@sender.example.com")
    until = datetime(2026, 5, 5, 0, 0, tzinfo=UTC)
    services.mailbox_pause_until(mailbox_id=mailbox.pk, until=until, reason="Quota used up.")
    mailbox.refresh_from_db()
    assert (mailbox.status, mailbox.paused_until) == (MailboxStatus.PAUSED, until)
    assert services.mailboxes_resume_due(now=until - timedelta(seconds=1)) == 0
    assert services.mailboxes_resume_due(now=until) == 1
    assert Event.objects.for_workspace(alice.workspace).filter(type="account.resumed").exists()
    mailbox.refresh_from_db()
    assert (mailbox.status, mailbox.paused_until) == (MailboxStatus.CONNECTED, None)


def test_the_second_mailbox_on_free_names_the_plan_that_allows_more(alice, servers, google):
    account_services.workspace_set_plan(workspace=alice.workspace, plan="free")
    unchecked_smtp_mailbox(alice.workspace, "first@sender.example.com")
    address, password = servers.mailbox("second@sender.example.com")
    response = alice.client.post(reverse("smtp_new"), smtp_form(servers, address, password))
    assert "Upgrade to the Starter plan" in str(response.context["form"].errors)
    assert Mailbox.objects.for_workspace(alice.workspace).count() == 1
    gmail = alice.client.post(reverse("gmail_start"), follow=True).content.decode()
    assert "The Free plan allows 1 mailbox. Upgrade to the Starter plan" in gmail
    assert Mailbox.objects.for_workspace(alice.workspace).count() == 1


def test_connection_tests_have_an_hourly_budget(alice, servers, settings):
    settings.EMAIL_ACCOUNTS_CONNECTION_TESTS_PER_HOUR = 3
    address, password = servers.mailbox("budget@sender.example.com")
    form = smtp_form(servers, address, "wrong")
    for _attempt in range(3):
        alice.client.post(reverse("smtp_new"), form)
    response = alice.client.post(reverse("smtp_new"), smtp_form(servers, address, password))
    assert "Too many connection tests this hour" in str(response.context["form"].errors)
    assert not Mailbox.objects.for_workspace(alice.workspace).exists()


def test_the_same_address_twice_is_refused(alice, servers):
    address, password = servers.mailbox("twice@sender.example.com")
    alice.client.post(reverse("smtp_new"), smtp_form(servers, address, password))
    response = alice.client.post(
        reverse("smtp_new"), smtp_form(servers, "TWICE@sender.example.com", password)
    )
    assert "already connected" in " ".join(response.context["form"].errors["email"])


def test_presets_fill_known_hosts(alice):
    page = alice.client.get(reverse("smtp_new") + "?preset=gmail").content.decode()
    assert "smtp.gmail.com" in page and "imap.gmail.com" in page  # in the presets' data
    assert 'value="gmail" selected' in page
    assert "16-character App Password" in page


def test_gmail_without_a_client_explains_what_the_operator_must_set(alice, settings):
    settings.GOOGLE_OAUTH_CLIENT_ID = ""
    page = alice.client.get(reverse("gmail_connect")).content.decode()
    assert "GOOGLE_OAUTH_CLIENT_ID" in page and "/email-accounts/gmail/callback/" in page
    response = alice.client.post(reverse("gmail_start"), follow=True)
    assert "Gmail is not set up on this FluenzR server yet" in response.content.decode()


def test_french_errors(alice, servers):
    account_services.user_set_language(user=alice.user, language="fr")
    address, _password = servers.mailbox("fr@sender.example.com")
    response = alice.client.post(reverse("smtp_new"), smtp_form(servers, address, "faux"))
    errors = " ".join(response.context["form"].errors["smtp_password"])
    assert "16 caractères" in errors and "mot de passe" in errors


# --------------------------------------------------------------------------- API


def api_body(servers, address: str, password: str) -> dict:
    return {
        "email": address,
        "sender_name": "API sender",
        "smtp": {
            "host": "localhost",
            "port": servers.smtp.tls_port,
            "security": "ssl",
            "password": password,
        },
        "imap": {"host": "localhost", "port": servers.dovecot.imap_port, "security": "starttls"},
        "append_to_sent": True,
    }


def test_api_create_update_pause_and_delete(alice, servers):
    address, password = servers.mailbox("api@sender.example.com")
    response = alice.api.post(
        "/api/v1/email-accounts/", api_body(servers, address, password), format="json"
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["status"] == "connected" and created["limit_today"] == 20
    assert password not in response.content.decode()
    url = f"/api/v1/email-accounts/{created['id']}/"

    response = alice.api.patch(
        url, {"daily_limit": 80, "spacing": {"min_seconds": 5, "max_seconds": 9}}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["spacing"]
    response = alice.api.patch(
        url,
        {
            "daily_limit": 80,
            "ramp_up": {"enabled": False, "start_per_day": 10, "increase_per_day": 2},
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert (response.json()["daily_limit"], response.json()["limit_today"]) == (80, 80)
    response = alice.api.patch(url, {"daily_limit": 5000}, format="json")
    assert response.status_code == 400
    assert "2000" in str(response.json()["error"])

    assert alice.api.post(url + "pause/").json()["status"] == "paused"
    assert alice.api.post(url + "resume/").json()["status"] == "connected"
    assert alice.api.post(url + "resume/").status_code == 400  # not paused
    assert alice.api.delete(url).status_code == 204
    assert not Mailbox.objects.for_workspace(alice.workspace).exists()


def test_api_create_reports_the_failed_step(alice, servers):
    address, _password = servers.mailbox("apifail@sender.example.com")
    response = alice.api.post(
        "/api/v1/email-accounts/", api_body(servers, address, "wrong"), format="json"
    )
    assert response.status_code == 400
    assert "App Password" in response.json()["error"]["message"]
    assert not Mailbox.objects.for_workspace(alice.workspace).exists()
    missing = alice.api.post("/api/v1/email-accounts/", {"email": "x@y.test"}, format="json")
    assert set(missing.json()["error"]["fields"]) >= {"smtp", "imap"}


def test_staff_admin_shows_mailboxes_never_their_credentials(alice, charlie):
    mailbox = unchecked_smtp_mailbox(alice.workspace, "support@sender.example.com")
    unchecked_smtp_mailbox(charlie.workspace, "other@sender.example.com")
    staff = User.objects.create_superuser(email="staff@example.test", password="pw-long-enough")
    client = Client()
    client.force_login(staff)
    listing = client.get("/admin/email_accounts/mailbox/").content.decode()
    assert "support@sender.example.com" in listing and "other@sender.example.com" in listing
    page = client.get(f"/admin/email_accounts/mailbox/{mailbox.pk}/change/").content.decode()
    assert "not-a-real-password" not in page and "mail.invalid" not in page
    assert client.get("/admin/email_accounts/mailbox/add/").status_code == 403
