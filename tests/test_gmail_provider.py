"""The Gmail provider, with the real google-auth and google-api-python-client, against the
fake Google server (tests/google) and, for delivery, the loopback SMTP and IMAP servers."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

import httpx
import imapclient
import pytest
import requests
from google_auth_oauthlib.flow import Flow
from oauthlib.oauth2.rfc6749.errors import InvalidGrantError

from email_accounts.providers.base import (
    AuthenticationFailed,
    MessageRef,
    OAuthTokens,
    OutcomeUnknown,
    OutgoingMessage,
    RecipientRejected,
    SenderQuotaReached,
    TransientError,
)
from email_accounts.providers.gmail import GmailProvider
from tests.google.fake import SCOPE_EMAIL, FakeGoogle
from tests.google.fixtures import CLIENT_ID, CLIENT_SECRET, REDIRECT_URIS
from tests.net import free_port

SCOPE_GMAIL = "https://www.googleapis.com/auth/gmail.modify"
SCOPES = [SCOPE_GMAIL, SCOPE_EMAIL, "openid"]
ANA = "ana@fluenzr-gmail.test"
PAUL = "paul@prospect.test"
SEND = r"/gmail/v1/users/me/messages/send$"


class Gmail:
    """Ana's Gmail mailbox as FluenzR holds it: a provider and the tokens it saved."""

    def __init__(self, google: FakeGoogle, email: str = ANA) -> None:
        google.add_account(email)
        answer = google.authorize(email, SCOPES)
        self.tokens = OAuthTokens(
            access_token=answer["access_token"],
            refresh_token=answer["refresh_token"],
            expires_at=datetime.now(UTC) + timedelta(seconds=answer["expires_in"]),
            scopes=tuple(answer["scope"].split()),
        )
        self.saved: list[OAuthTokens] = []
        self.provider = GmailProvider(self.tokens, on_refresh=self.saved.append)


@pytest.fixture
def ana(google: FakeGoogle) -> Gmail:
    return Gmail(google)


def _email(
    subject: str,
    message_id: str,
    *,
    sender: str = ANA,
    to: str = PAUL,
    in_reply_to: str = "",
) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = message["References"] = in_reply_to
    message.set_content(f"Bonjour Paul,\n\n{subject}.\n")
    return message


def _outgoing(message: EmailMessage, thread_id: str = "") -> OutgoingMessage:
    return OutgoingMessage(
        raw=message.as_bytes(),
        message_id=message["Message-ID"],
        sender=message["From"],
        recipients=(message["To"],),
        thread_id=thread_id,
    )


def _quota_error(retry_at: datetime) -> dict:
    stamp = retry_at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    message = f"User-rate limit exceeded.  Retry after {stamp} (Mail sending)"
    error = {"message": message, "domain": "usageLimits", "reason": "rateLimitExceeded"}
    return {
        "error": {
            "code": 429,
            "message": message,
            "errors": [error],
            "status": "RESOURCE_EXHAUSTED",
        }
    }


def _backend_error(code: int) -> dict:
    message = "Backend Error" if code == 500 else "The service is currently unavailable."
    error = {"message": message, "domain": "global", "reason": "backendError"}
    status = "INTERNAL" if code == 500 else "UNAVAILABLE"
    return {"error": {"code": code, "message": message, "errors": [error], "status": status}}


# ----------------------------------------------------------------------------- verify, tokens


def test_verify_reads_the_profile_with_the_access_token(google, ana):
    ana.provider.verify()
    assert [(r.method, r.path) for r in google.requests] == [("GET", "/gmail/v1/users/me/profile")]
    assert ana.saved == []  # the token was still good: nothing to store


def test_an_expired_access_token_is_refreshed_and_handed_back(google, ana):
    google.expire_access_tokens()  # Google answers 401; google-auth refreshes and retries
    ana.provider.verify()
    assert [r.path for r in google.requests] == [
        "/gmail/v1/users/me/profile",
        "/token",
        "/gmail/v1/users/me/profile",
    ]
    (saved,) = ana.saved
    assert saved.access_token != ana.tokens.access_token
    assert saved.refresh_token == ana.tokens.refresh_token  # Google keeps the refresh token
    assert saved.expires_at is not None and saved.expires_at.tzinfo is not None
    assert timedelta(minutes=55) < saved.expires_at - datetime.now(UTC) <= timedelta(hours=1)
    assert set(saved.scopes) == set(SCOPES)


def test_a_token_known_to_be_expired_is_refreshed_before_the_call(google):
    google.add_account(ANA)
    answer = google.authorize(ANA, SCOPES)
    stale = OAuthTokens(
        answer["access_token"],
        answer["refresh_token"],
        datetime.now(UTC) - timedelta(minutes=1),
        tuple(SCOPES),
    )
    saved: list[OAuthTokens] = []
    GmailProvider(stale, on_refresh=saved.append).verify()
    assert [r.path for r in google.requests] == ["/token", "/gmail/v1/users/me/profile"]
    assert len(saved) == 1


def test_a_revoked_grant_is_authentication_failed_and_nothing_is_sent(google, ana):
    google.expire_access_tokens()
    google.expire_refresh_token(ANA)
    with pytest.raises(AuthenticationFailed) as failed:
        ana.provider.send(_outgoing(_email("first", "<first@fluenzr.test>")))
    assert failed.value.message == "Token expired — reconnect"
    assert google.accounts[ANA].messages == {}

    google.revoke(ANA)  # the user removed FluenzR from their Google account
    with pytest.raises(AuthenticationFailed):
        ana.provider.verify()


# ----------------------------------------------------------------------------- sending


def test_send_delivers_over_smtp_and_a_follow_up_keeps_the_thread(google, ana, mail_servers):
    _ana, password = mail_servers.mailbox(ANA)
    paul, paul_password = mail_servers.mailbox(PAUL)
    google.relay = (
        "127.0.0.1",
        mail_servers.smtp.port,
        ANA,
        password,
        mail_servers.client_tls_context(),
    )

    first = _email("Quick question", "<step1.abc@fluenzr.test>")
    sent = ana.provider.send(_outgoing(first))
    stored = google.message(ANA, sent.provider_message_id)
    assert stored.label_ids == ["SENT"] and stored.raw == first.as_bytes()
    assert sent.provider_thread_id == sent.provider_message_id  # a first step opens a thread

    follow_up = _email(
        "Re: Quick question", "<step2.abc@fluenzr.test>", in_reply_to="<step1.abc@fluenzr.test>"
    )
    again = ana.provider.send(_outgoing(follow_up, thread_id=sent.provider_thread_id))
    assert again.provider_thread_id == sent.provider_thread_id
    assert again.provider_message_id != sent.provider_message_id
    assert google.relay_errors == []

    with imapclient.IMAPClient(
        "127.0.0.1",
        port=mail_servers.dovecot.imaps_port,
        ssl=True,
        ssl_context=mail_servers.client_tls_context(),
    ) as imap:
        imap.login(paul, paul_password)
        imap.select_folder("INBOX", readonly=True)
        (uid,) = imap.search(["HEADER", "Message-ID", "<step2.abc@fluenzr.test>"])
        fetched = imap.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"]
    assert b"In-Reply-To: <step1.abc@fluenzr.test>" in fetched
    assert b"Bonjour Paul" in fetched
    assert [r.login for r in mail_servers.smtp.received] == [ANA, ANA]


def test_the_daily_sending_limit_is_sender_quota_with_retry_after(google, ana):
    google.fail_next("POST", SEND, 429, _quota_error(datetime.now(UTC) + timedelta(hours=2)))
    with pytest.raises(SenderQuotaReached) as quota:
        ana.provider.send(_outgoing(_email("first", "<quota@fluenzr.test>")))
    assert 7190 <= quota.value.retry_after <= 7200

    daily = "Daily user sending limit exceeded."
    error = {"message": daily, "domain": "usageLimits", "reason": "dailyLimitExceeded"}
    google.fail_next(
        "POST", SEND, 403, {"error": {"code": 403, "message": daily, "errors": [error]}}
    )
    with pytest.raises(SenderQuotaReached):
        ana.provider.send(_outgoing(_email("first", "<quota@fluenzr.test>")))
    assert google.accounts[ANA].messages == {}

    # The same answer to a read is a rate limit to wait out, not a spent sending quota.
    google.fail_next("GET", r"/profile$", 429, _quota_error(datetime.now(UTC)))
    with pytest.raises(TransientError):
        ana.provider.verify()


def test_a_server_error_during_send_is_unknown_and_never_retried(google, ana):
    google.fail_next("POST", SEND, 503, _backend_error(503))
    with pytest.raises(OutcomeUnknown):
        ana.provider.send(_outgoing(_email("first", "<unknown@fluenzr.test>")))
    assert google.count("POST", SEND) == 1
    assert ana.provider.find_sent("<unknown@fluenzr.test>") is None  # it did not leave

    google.fail_next("GET", r"/profile$", 500, _backend_error(500))
    with pytest.raises(TransientError):
        ana.provider.verify()


def test_a_connection_dropped_after_the_send_is_unknown_then_found_in_sent(google, ana):
    google.drop_after_handling("POST", SEND)  # Gmail sent it; the answer never came back
    with pytest.raises(OutcomeUnknown):
        ana.provider.send(_outgoing(_email("first", "<dropped@fluenzr.test>")))
    assert google.count("POST", SEND) == 1  # no second copy sent by the HTTP library
    found = ana.provider.find_sent("<dropped@fluenzr.test>")
    (stored,) = google.accounts[ANA].messages.values()
    assert found is not None and found.provider_message_id == stored.id


def test_a_refused_connection_is_transient_even_for_a_send(google, ana, settings):
    settings.GOOGLE_GMAIL_API_ENDPOINT = f"http://127.0.0.1:{free_port()}/"
    unreachable = GmailProvider(ana.tokens, on_refresh=ana.saved.append)
    with pytest.raises(TransientError) as failed:
        unreachable.send(_outgoing(_email("first", "<refused@fluenzr.test>")))
    assert not isinstance(failed.value, OutcomeUnknown)


def test_an_invalid_recipient_is_a_hard_bounce(google, ana):
    with pytest.raises(RecipientRejected) as rejected:
        ana.provider.send(_outgoing(_email("first", "<bad@fluenzr.test>", to="paul.prospect")))
    assert (rejected.value.code, rejected.value.enhanced_code) == (553, "5.1.3")
    assert rejected.value.permanent


def test_find_sent_looks_only_in_sent(google, ana):
    sent = ana.provider.send(_outgoing(_email("first", "<mine@fluenzr.test>")))
    google.deliver(ANA, _email("theirs", "<theirs@fluenzr.test>", sender=PAUL, to=ANA).as_bytes())
    found = ana.provider.find_sent("<mine@fluenzr.test>")
    assert (found.provider_message_id, found.provider_thread_id) == (
        sent.provider_message_id,
        sent.provider_thread_id,
    )
    assert ana.provider.find_sent("<theirs@fluenzr.test>") is None


# ----------------------------------------------------------------------------- reading


def test_fetch_new_starts_from_now_then_reads_inbox_and_spam_only(google, ana):
    google.deliver(ANA, _email("before", "<before@p.test>", sender=PAUL, to=ANA).as_bytes())
    first = ana.provider.fetch_new({})
    assert first.messages == [] and not first.full_resync
    assert first.cursor == {"history_id": str(google.accounts[ANA].history_id)}

    sent = ana.provider.send(_outgoing(_email("Quick question", "<q1@fluenzr.test>")))
    reply = _email(
        "Re: Quick question", "<r1@p.test>", sender=PAUL, to=ANA, in_reply_to="<q1@fluenzr.test>"
    )
    reply_id = google.deliver(ANA, reply.as_bytes()).id
    spam_id = google.deliver(
        ANA, _email("Win", "<s1@p.test>", sender=PAUL, to=ANA).as_bytes(), labels=("SPAM",)
    ).id
    google.deliver(
        ANA, _email("Archived", "<a1@p.test>", sender=PAUL, to=ANA).as_bytes(), labels=()
    )

    google.page_size_cap = 3  # four history records: two pages
    fetched = ana.provider.fetch_new(first.cursor)
    assert [m.ref.provider_message_id for m in fetched.messages] == [reply_id, spam_id]
    assert google.count("GET", r"/history$") == 2
    answer, junk = fetched.messages
    assert answer.headers["In-Reply-To"] == "<q1@fluenzr.test>"
    assert answer.headers["From"] == PAUL and answer.headers["Subject"] == "Re: Quick question"
    assert answer.thread_id == sent.provider_thread_id  # Gmail threads the reply onto ours
    assert (answer.folder_role, junk.folder_role) == ("inbox", "junk")
    assert abs(answer.received_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert "UNREAD" in answer.label_ids
    assert int(fetched.cursor["history_id"]) > int(first.cursor["history_id"])
    # Reading never marks read, and the next call starts after what was read.
    assert "UNREAD" in google.message(ANA, reply_id).label_ids
    assert ana.provider.fetch_new(fetched.cursor).messages == []


def test_an_expired_history_id_triggers_a_bounded_resync(google, ana):
    cursor = ana.provider.fetch_new({}).cursor
    google.deliver(
        ANA,
        _email("old", "<old@p.test>", sender=PAUL, to=ANA).as_bytes(),
        received_at=datetime.now(UTC) - timedelta(days=10),
    )
    recent = google.deliver(ANA, _email("recent", "<new@p.test>", sender=PAUL, to=ANA).as_bytes())
    spam = google.deliver(
        ANA, _email("spam", "<spam@p.test>", sender=PAUL, to=ANA).as_bytes(), labels=("SPAM",)
    )
    ana.provider.send(_outgoing(_email("ours", "<ours@fluenzr.test>")))
    google.history_floor = int(cursor["history_id"]) + 1  # Google no longer holds that far back

    google.page_size_cap = 1
    fetched = ana.provider.fetch_new(cursor)
    assert fetched.full_resync
    assert google.count("GET", r"/messages$") == 2  # the resync pages too
    assert [m.ref.provider_message_id for m in fetched.messages] == [recent.id, spam.id]
    assert fetched.cursor == {"history_id": str(google.accounts[ANA].history_id)}
    assert ana.provider.fetch_new(fetched.cursor).messages == []


def test_fetch_raw_move_and_mark(google, ana):
    raw = _email("Re: hi", "<reply@p.test>", sender=PAUL, to=ANA).as_bytes()
    ref = MessageRef(provider_message_id=google.deliver(ANA, raw).id)
    assert ana.provider.fetch_raw(ref) == raw
    labels = google.message(ANA, ref.provider_message_id).label_ids
    assert "UNREAD" in labels  # fetching the body does not mark it read either

    assert ana.provider.move(ref, to="junk") == ref
    assert set(labels_of(google, ref)) == {"UNREAD", "SPAM"}
    ana.provider.move(ref, to="inbox")
    assert set(labels_of(google, ref)) == {"UNREAD", "INBOX"}
    leads = google.accounts[ANA].add_label("Leads")
    ana.provider.move(ref, to=leads)
    assert leads in labels_of(google, ref)

    ana.provider.mark(ref, read=True, important=True)
    assert "UNREAD" not in labels_of(google, ref) and "IMPORTANT" in labels_of(google, ref)
    ana.provider.mark(ref, read=False, important=False)
    assert "UNREAD" in labels_of(google, ref) and "IMPORTANT" not in labels_of(google, ref)


def labels_of(google: FakeGoogle, ref: MessageRef) -> list[str]:
    return google.message(ANA, ref.provider_message_id).label_ids


# ----------------------------------------------------------------------------- the fake's OAuth


def _flow(google: FakeGoogle) -> Flow:
    config = {
        "web": {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "auth_uri": f"{google.base_url}/o/oauth2/v2/auth",
            "token_uri": f"{google.base_url}/token",
        }
    }
    return Flow.from_client_config(
        config, scopes=SCOPES, redirect_uri=REDIRECT_URIS[0], autogenerate_code_verifier=True
    )


def _consent(google: FakeGoogle, url: str) -> dict[str, str]:
    """Tick every box, press Continue; the query Google redirects back with."""
    page = httpx.get(url)
    assert page.status_code == 200 and "<title>Sign in - Google Accounts</title>" in page.text
    hidden = html.unescape(re.search(r'name="request" value="([^"]*)"', page.text).group(1))
    email = html.unescape(re.search(r'name="email" value="([^"]*)"', page.text).group(1))
    boxes = [html.unescape(s) for s in re.findall(r'name="scope" value="([^"]*)"', page.text)]
    answer = httpx.post(
        f"{google.base_url}/o/oauth2/approve",
        data={"request": hidden, "email": email, "scope": boxes, "action": "approve"},
    )
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(REDIRECT_URIS[0])
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def test_oauth_code_flow_with_pkce(google):
    google.add_account("boss@acme.test", hd="acme.test")
    flow = _flow(google)
    url, state = flow.authorization_url(access_type="offline", prompt="consent")

    callback = _consent(google, url)
    assert callback["state"] == state and set(callback["scope"].split()) == set(SCOPES)
    assert callback["hd"] == "acme.test"
    with pytest.raises(InvalidGrantError, match="Invalid code verifier"):
        flow.fetch_token(code=callback["code"], code_verifier="x" * 64)
    with pytest.raises(InvalidGrantError):  # a code is used once, even by a failed exchange
        flow.fetch_token(code=callback["code"])

    callback = _consent(google, flow.authorization_url(access_type="offline", prompt="consent")[0])
    token = flow.fetch_token(code=callback["code"])
    assert token["refresh_token"].startswith("1//") and token["expires_in"] == 3599
    userinfo = requests.get(
        f"{google.base_url}/v1/userinfo",
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=5,
    ).json()
    assert userinfo["email"] == "boss@acme.test" and userinfo["hd"] == "acme.test"

    assert (
        requests.post(
            f"{google.base_url}/revoke", params={"token": token["refresh_token"]}, timeout=5
        ).json()
        == {}
    )
    assert google.revoked == [token["refresh_token"]]


def test_consent_screen_refuses_a_bad_request_and_honours_cancel(google):
    google.add_account(ANA)
    flow = _flow(google)
    url, state = flow.authorization_url(access_type="offline", prompt="consent")
    wrong = url.replace("testserver", "evil.test")
    refused = httpx.get(wrong)
    assert refused.status_code == 400 and "Error 400: redirect_uri_mismatch" in refused.text
    no_pkce = re.sub(r"&code_challenge=[^&]+", "", url)
    assert "code_challenge" in httpx.get(no_pkce).text

    page = httpx.get(url)
    hidden = html.unescape(re.search(r'name="request" value="([^"]*)"', page.text).group(1))
    cancelled = httpx.post(
        f"{google.base_url}/o/oauth2/approve", data={"request": hidden, "action": "cancel"}
    )
    query = parse_qs(urlsplit(cancelled.headers["location"]).query)
    assert query == {"error": ["access_denied"], "state": [state]}
