"""Sign-in security from django-allauth, as configured here: rate limits and two-factor."""

from __future__ import annotations

from allauth.mfa.totp.internal.auth import (
    SECRET_SESSION_KEY,
    format_hotp_value,
    hotp_value,
    yield_hotp_counters_from_time,
)
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD


def _login(client: Client, email: str, password: str):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def test_failed_sign_ins_are_rate_limited(alice):
    client = Client()
    for _ in range(5):
        assert _login(client, alice.user.email, "wrong password").status_code == 200
    response = _login(client, alice.user.email, PASSWORD)  # even the right one, for now
    assert response.status_code in (200, 429)
    assert "_auth_user_id" not in client.session
    assert "Too many failed login attempts" in response.content.decode()


def test_two_factor_authentication_can_be_turned_on_and_is_then_required(alice):
    client = Client()
    assert _login(client, alice.user.email, PASSWORD).status_code == 302
    page = client.get(reverse("mfa_activate_totp"))
    if page.status_code == 302:  # allauth asks for the password again before changing MFA
        assert page["Location"].startswith(reverse("account_reauthenticate"))
        client.post(page["Location"], {"password": PASSWORD})
        page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    secret = client.session[SECRET_SESSION_KEY]
    for _attempt in range(2):  # a second try only if the 30-second period turned meanwhile
        counter = max(yield_hotp_counters_from_time())
        code = format_hotp_value(hotp_value(secret, counter))
        response = client.post(reverse("mfa_activate_totp"), {"code": code})
        if response.status_code == 302:
            break
    assert response.status_code == 302
    assert alice.user.authenticator_set.filter(type="totp").exists()

    client.post(reverse("account_logout"))
    response = _login(client, alice.user.email, PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session  # not signed in until the code is given


def test_password_reset_sends_a_link_that_sets_a_new_password(alice, mailoutbox):
    client = Client()
    response = client.post(reverse("account_reset_password"), {"email": "ALICE@example.test"})
    assert response.status_code == 302
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["alice@example.test"]
    link = next(word for word in mailoutbox[0].body.split() if "/password/reset/key/" in word)
    form = client.get(link.replace("http://testserver", ""), follow=True)
    assert form.status_code == 200
    response = client.post(
        form.request["PATH_INFO"],
        {"password1": "a brand new passphrase", "password2": "a brand new passphrase"},
    )
    assert response.status_code == 302
    alice.user.refresh_from_db()
    assert alice.user.check_password("a brand new passphrase")


def test_sign_out_ends_the_session(alice):
    client = Client()
    _login(client, alice.user.email, PASSWORD)
    assert client.get("/").status_code == 200
    client.post(reverse("account_logout"))
    assert client.get("/").status_code == 302
