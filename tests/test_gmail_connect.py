"""Connecting Gmail by OAuth (issue 4) against the local Google server: the dashboard flow
(state, PKCE, scopes, Workspace vs personal), reconnect, disconnect (revoked at Google),
refresh and invalid_grant, sending through Gmail and reading the mail back over IMAP."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.urls import reverse

from accounts import services as account_services
from email_accounts import selectors, services
from email_accounts.models import Mailbox, MailboxStatus
from email_accounts.selectors import SCOPE_EMAIL, SCOPE_GMAIL, SCOPE_OPENID
from tests.conftest import PASSWORD
from tests.factories import UserFactory
from tests.mailboxes import read_inbox, unchecked_smtp_mailbox
from webhooks.models import Event

CALLBACK = reverse("gmail_callback")


def consent(google, start_response, *, email: str, scopes=None, cancel=False) -> str:
    """What a user does on Google's screen, over plain HTTP: returns FluenzR's callback URL
    (path and query) that Google redirects the browser to."""
    auth_url = start_response["Location"]
    page = httpx.get(auth_url)
    assert page.status_code == 200, page.text
    request = re.search(r'name="request" value="([^"]*)"', page.text).group(1).replace("&amp;", "&")
    form = {"request": request, "email": email, "action": "cancel" if cancel else "approve"}
    ticked = (
        scopes if scopes is not None else re.findall(r'name="scope" value="([^"]*)"', page.text)
    )
    response = httpx.post(f"{google.base_url}/o/oauth2/approve", data={**form, "scope": ticked})
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["Location"])
    assert location.path == CALLBACK
    return f"{location.path}?{location.query}"


def connect(actor, google, email: str, **kwargs) -> tuple[Mailbox | None, str]:
    start = actor.client.post(reverse("gmail_start"))
    assert start.status_code == 302
    callback = consent(google, start, email=email, **kwargs)
    page = actor.client.get(callback, follow=True).content.decode()
    return Mailbox.objects.for_workspace(actor.workspace).filter(email=email).first(), page


def test_the_consent_request_asks_for_offline_access_pkce_and_three_scopes(alice, google):
    start = alice.client.post(reverse("gmail_start"))
    query = parse_qs(urlsplit(start["Location"]).query)
    assert query["scope"] == [f"{SCOPE_OPENID} {SCOPE_EMAIL} {SCOPE_GMAIL}"]
    assert (query["access_type"], query["prompt"]) == (["offline"], ["consent"])
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert query["redirect_uri"] == ["http://testserver/email-accounts/gmail/callback/"]
    assert query["state"][0] == alice.client.session["gmail_consent"]["state"]


def test_a_workspace_account_connects_with_google_limits(alice, google):
    google.add_account("sales@acme-corp.example.com", hd="acme-corp.example.com")
    mailbox, page = connect(alice, google, "sales@acme-corp.example.com")
    assert "sales@acme-corp.example.com is connected." in page
    assert mailbox.status == MailboxStatus.CONNECTED
    assert (mailbox.daily_limit, mailbox.daily_limit_max) == (2000, 2000)
    assert mailbox.google_workspace_domain == "acme-corp.example.com"
    tokens = mailbox.oauth_tokens
    assert tokens.refresh_token and tokens.access_token and tokens.expires_at
    assert set(tokens.scopes) == {SCOPE_OPENID, SCOPE_EMAIL, SCOPE_GMAIL}
    assert selectors.limit_today(mailbox) == 20  # ramp-up on by default
    assert Event.objects.for_workspace(alice.workspace).filter(type="account.connected").exists()
    for secret in (tokens.refresh_token, tokens.access_token):
        assert secret not in page
        assert secret not in alice.api.get("/api/v1/email-accounts/").content.decode()


def test_a_personal_account_gets_500_and_an_unticked_scope_is_explained(alice, google):
    google.add_account("founder@gmail.example.com")
    mailbox, page = connect(
        alice, google, "founder@gmail.example.com", scopes=[SCOPE_OPENID, SCOPE_EMAIL]
    )
    assert (mailbox.daily_limit, mailbox.daily_limit_max) == (500, 500)
    assert "gmail.modify" in page and "Reconnect" in page
    assert selectors.mailbox_missing_features(mailbox)
    api = alice.api.get(f"/api/v1/email-accounts/{mailbox.pk}/").json()
    assert "gmail.modify" in api["missing_permissions"][0]


def test_state_mismatch_cancel_and_foreign_sessions_connect_nothing(alice, bob, google):
    google.add_account("someone@gmail.example.com")
    start = alice.client.post(reverse("gmail_start"))
    callback = consent(google, start, email="someone@gmail.example.com")
    forged = re.sub(r"state=[^&]+", "state=forged", callback)
    page = alice.client.get(forged, follow=True).content.decode()
    assert "stale or was not started from this browser" in page
    # The real answer, replayed in another user's browser, is refused too.
    page = bob.client.get(callback, follow=True).content.decode()
    assert "stale or was not started from this browser" in page
    assert not Mailbox.objects.for_workspace(alice.workspace).exists()

    _mailbox, page = connect(alice, google, "someone@gmail.example.com", cancel=True)
    assert "You cancelled on Google" in page
    assert not Mailbox.objects.for_workspace(alice.workspace).exists()


def test_reconnect_keeps_the_mailbox_and_disconnect_revokes_at_google(alice, google):
    google.add_account("keep@gmail.example.com")
    mailbox, _page = connect(alice, google, "keep@gmail.example.com")
    Mailbox.objects.for_workspace(alice.workspace).filter(pk=mailbox.pk).update(
        daily_limit=120, sent_today=7, sent_day=mailbox.local_day(mailbox.created_at)
    )
    old_refresh = mailbox.oauth_tokens.refresh_token

    response = alice.client.post(reverse("mailbox_disconnect", args=[mailbox.pk]), follow=True)
    mailbox.refresh_from_db()
    assert mailbox.status == MailboxStatus.DISCONNECTED and not mailbox.has_credentials
    assert old_refresh in google.revoked
    assert "Reconnect" in response.content.decode()

    start = alice.client.post(reverse("gmail_start"), {"mailbox": mailbox.pk})
    assert "login_hint=keep%40gmail.example.com" in start["Location"]
    callback = consent(google, start, email="keep@gmail.example.com")
    alice.client.get(callback)
    mailbox.refresh_from_db()
    assert mailbox.status == MailboxStatus.CONNECTED
    assert (mailbox.daily_limit, mailbox.sent_today) == (120, 7)  # its history is kept
    assert mailbox.oauth_tokens.refresh_token not in ("", old_refresh)
    assert Mailbox.objects.for_workspace(alice.workspace).count() == 1

    # Reconnecting a row with another Google account is refused, naming both addresses.
    google.add_account("other@gmail.example.com")
    start = alice.client.post(reverse("gmail_start"), {"mailbox": mailbox.pk})
    page = alice.client.get(consent(google, start, email="other@gmail.example.com"), follow=True)
    assert "You signed in to Google as other@gmail.example.com" in page.content.decode()


def test_an_smtp_mailbox_cannot_be_reconnected_through_google(alice, google):
    mailbox = unchecked_smtp_mailbox(alice.workspace, "smtp@sender.example.com")
    page = alice.client.post(reverse("gmail_start"), {"mailbox": mailbox.pk}, follow=True)
    assert "is connected with SMTP/IMAP" in page.content.decode()
    assert "gmail_consent" not in alice.client.session
    assert alice.client.get(reverse("gmail_connect") + "?mailbox=not-a-uuid").status_code == 404
    assert alice.client.post(reverse("gmail_start"), {"mailbox": "x"}).status_code == 404


def test_send_through_gmail_and_read_it_back_over_imap(alice, google, mail_servers):
    google.add_account("rep@gmail.example.com")
    mailbox, _page = connect(alice, google, "rep@gmail.example.com")
    recipient, password = mail_servers.mailbox(alice.user.email)
    google.relay = (
        "localhost",
        mail_servers.smtp.port,
        recipient,
        password,
        mail_servers.client_tls_context(),
    )
    response = alice.client.post(reverse("mailbox_send_test", args=[mailbox.pk]), follow=True)
    assert "Test email sent" in response.content.decode(), response.content.decode()
    [data] = read_inbox(mail_servers, recipient, password, subject="rep@gmail.example.com")
    assert b"Subject: FluenzR test email from rep@gmail.example.com" in data
    assert google.count("POST", r"/messages/send") == 1


def test_an_expired_access_token_is_refreshed_and_saved(alice, google):
    google.add_account("fresh@gmail.example.com")
    mailbox, _page = connect(alice, google, "fresh@gmail.example.com")
    before = mailbox.oauth_tokens.access_token
    google.expire_access_tokens()
    services.mailbox_test_connection(workspace=alice.workspace, mailbox=mailbox)
    mailbox.refresh_from_db()
    assert mailbox.status == MailboxStatus.CONNECTED
    assert mailbox.oauth_tokens.access_token != before
    assert google.count("POST", r"^/token$") >= 2  # the code exchange, then the refresh


def test_invalid_grant_puts_the_mailbox_in_error_once(alice, google):
    google.add_account("revoked@gmail.example.com")
    mailbox, _page = connect(alice, google, "revoked@gmail.example.com")
    google.expire_access_tokens()
    google.expire_refresh_token("revoked@gmail.example.com")
    for _attempt in range(2):
        response = alice.client.post(
            reverse("mailbox_test_connection", args=[mailbox.pk]), follow=True
        )
    mailbox.refresh_from_db()
    assert mailbox.status == MailboxStatus.ERROR
    assert mailbox.status_reason == "Token expired — reconnect"
    page = response.content.decode()
    assert "Token expired — reconnect" in page and "Reconnect" in page
    errors = Event.objects.for_workspace(alice.workspace).filter(type="account.error")
    assert errors.count() == 1
    assert errors.get().data["account"]["email"] == "revoked@gmail.example.com"
    refreshes = google.count("POST", r"^/token$")
    alice.client.post(reverse("mailbox_send_test", args=[mailbox.pk]))
    assert google.count("POST", r"^/token$") == refreshes  # no retry loop on a dead grant


def test_a_sending_quota_429_pauses_the_mailbox_until_tomorrow(alice, google):
    google.add_account("busy@gmail.example.com")
    mailbox, _page = connect(alice, google, "busy@gmail.example.com")
    google.fail_next(
        "POST",
        r"/messages/send",
        429,
        {
            "error": {
                "code": 429,
                "message": "User-rate limit exceeded.  Retry after 2026-11-23T08:00:00.000Z "
                "(Mail sending)",
                "errors": [
                    {
                        "message": "User-rate limit exceeded.",
                        "domain": "usageLimits",
                        "reason": "rateLimitExceeded",
                    }
                ],
                "status": "RESOURCE_EXHAUSTED",
            }
        },
    )
    page = alice.client.post(
        reverse("mailbox_send_test", args=[mailbox.pk]), follow=True
    ).content.decode()
    assert "The test email was not sent" in page
    mailbox.refresh_from_db()
    assert mailbox.status == MailboxStatus.PAUSED and mailbox.paused_until is not None
    assert "quota" in mailbox.status_reason
    assert mailbox.sent_today == 0  # refused before it left: the send was given back
    assert not Event.objects.for_workspace(alice.workspace).filter(type="account.error").exists()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_connect_gmail_in_the_browser(page, live_server, google, settings):
    settings.SITE_URL = live_server.url
    user = UserFactory(email="marketer@example.test")
    account_services.workspace_create(owner=user, name="Growth", plan="starter")
    google.add_account("growth@startup.example.com", hd="startup.example.com")

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(user.email)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{live_server.url}/")
    page.get_by_role("link", name="Email accounts").first.click()
    page.get_by_role("link", name="+ Gmail").first.click()
    assert page.get_by_text("Go to FluenzR (unsafe)").is_visible()
    page.get_by_role("button", name="Continue to Google").click()
    page.wait_for_url(f"{google.base_url}/o/oauth2/v2/auth*")
    assert page.title() == "Sign in - Google Accounts"
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{live_server.url}/email-accounts/*/")
    assert page.get_by_text("growth@startup.example.com is connected.").is_visible()
    page.get_by_role("link", name="Email accounts").first.click()
    row = page.get_by_role("row", name=re.compile("growth@startup.example.com"))
    assert "Connected" in row.inner_text() and "0 / 20" in row.inner_text()
