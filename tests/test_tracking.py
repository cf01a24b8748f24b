"""Tracking and unsubscribing (issue 6): signed tokens, RFC 8058 one-click unsubscribe, the
confirmation page, the open pixel and click redirect with machine flags, the headers and links
in a real sent email, and the custom tracking domain's CNAME checked against a DNS server on
loopback."""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import socket
from datetime import timedelta

import pytest
import redis
from django.test import Client
from django.utils import timezone

from accounts.errors import PlanLimitError, ServiceError
from campaigns import selectors as campaign_selectors
from campaigns import services
from campaigns.mime import new_message_id
from campaigns.models import (
    Enrollment,
    EnrollmentStatus,
    MessageStatus,
    OutboundMessage,
    Step,
    TrackingDomain,
    TrackingDomainStatus,
    TrackingEvent,
)
from campaigns.tracking import buffer, domains
from campaigns.tracking.links import Links, tracking_base_url
from campaigns.tracking.services import tracking_flush
from campaigns.tracking.tokens import PREVIEW_MESSAGE_ID, Purpose, make_token, read_token
from campaigns.tracking.views import PIXEL_GIF
from contacts import services as contact_services
from contacts.models import Contact, ContactStatus, Suppression
from tests import dns_support
from tests.campaign_support import (
    TUESDAY_10,
    prospects,
    received_for,
    run_until_quiet,
    two_step_campaign,
)
from tests.mailboxes import unchecked_smtp_mailbox
from webhooks.models import Event

HUMAN_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
GMAIL_PROXY_UA = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)


@pytest.fixture(autouse=True)
def tracking_keys():
    """The buffer's keys in the tests' Redis, gone before and after each test."""
    server = redis.Redis.from_url(os.environ["REDIS_URL"])

    def clear() -> None:
        keys = list(server.scan_iter(match="tracking:*"))
        if keys:
            server.delete(*keys)

    clear()
    yield server
    clear()
    server.close()


def flush() -> int:
    """What the scheduler does every few seconds: the buffered opens and clicks, written."""
    return tracking_flush()


def events(workspace, type: str):
    return Event.objects.for_workspace(workspace).filter(type=type)


def sent_message(workspace, email_address: str, *, sent_ago: timedelta = timedelta(hours=1)):
    """A campaign, a contact in it, and its first email as the engine leaves it once sent."""
    local = email_address.partition("@")[0]
    mailbox = unchecked_smtp_mailbox(workspace, f"claire@{local}.sender.example.com")
    campaign = services.campaign_create(
        workspace=workspace, name="Spring", mailboxes=[mailbox], timezone="Europe/Paris"
    )
    services.step_add(workspace=workspace, campaign=campaign, subject="Hello", body="Hi.")
    services.step_add(workspace=workspace, campaign=campaign, body="Following up.", delay_amount=2)
    contact = contact_services.contact_create(workspace=workspace, data={"email": email_address})
    services.campaign_enroll(
        workspace=workspace,
        campaign=campaign,
        contacts=Contact.objects.for_workspace(workspace).filter(pk=contact.pk),
    )
    enrollment = Enrollment.objects.for_workspace(workspace).get(contact=contact)
    Enrollment.objects.for_workspace(workspace).filter(pk=enrollment.pk).update(
        status=EnrollmentStatus.ACTIVE, next_position=1, due_at=timezone.now() + timedelta(days=2)
    )
    step = Step.objects.for_workspace(workspace).get(campaign=campaign, position=0)
    sent_at = timezone.now() - sent_ago
    return OutboundMessage.objects.create(
        workspace=workspace,
        enrollment=enrollment,
        step=step,
        variant=step.variants.get(),
        mailbox=mailbox,
        status=MessageStatus.SENT,
        message_id=new_message_id(mailbox.email),
        subject="Hello",
        quota_day=sent_at.date(),
        next_attempt_at=sent_at,
        sending_started_at=sent_at,
        sent_at=sent_at,
        attempts=1,
    )


def unsubscribe_path(message) -> str:
    return f"/u/{make_token(Purpose.UNSUBSCRIBE, message.pk)}/"


def one_click(path: str):
    """What Gmail and Yahoo send (RFC 8058): no cookie, no CSRF token, a form body."""
    provider = Client(enforce_csrf_checks=True)
    return provider.generic(
        "POST",
        path,
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
        headers={"user-agent": "Mozilla/5.0 (compatible; Google-Unsubscribe)"},
    )


# ---------------------------------------------------------------------------------- tokens


def test_tokens_are_compact_signed_and_bound_to_their_purpose(settings):
    message_id = PREVIEW_MESSAGE_ID
    token = make_token(Purpose.OPEN, message_id)
    assert len(token) == 43 and re.fullmatch(r"[A-Za-z0-9_-]+", token)
    assert read_token(Purpose.OPEN, token).message_id == message_id
    # An open token is no unsubscribe token, and one changed character breaks it.
    assert read_token(Purpose.UNSUBSCRIBE, token) is None
    assert read_token(Purpose.OPEN, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    click = make_token(Purpose.CLICK, message_id, "https://acme.example.com/pricing?a=1&b=é")
    assert read_token(Purpose.CLICK, click).url == "https://acme.example.com/pricing?a=1&b=é"
    # A rotated secret keeps old links working while it is a fallback, not after.
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-key-for-the-rotation-test-0123456789-abcdefghijkl"
    assert read_token(Purpose.OPEN, token).message_id == message_id
    settings.SECRET_KEY_FALLBACKS = []
    assert read_token(Purpose.OPEN, token) is None


# ----------------------------------------------------------------------------- unsubscribe


def test_one_click_post_unsubscribes_at_once_and_idempotently(alice):
    workspace = alice.workspace
    message = sent_message(workspace, "lea@prospect.example.com")
    path = unsubscribe_path(message)

    response = one_click(path)
    assert response.status_code == 200
    assert not response.cookies  # no session, no CSRF cookie
    contact = Contact.objects.for_workspace(workspace).get(email="lea@prospect.example.com")
    assert contact.status == ContactStatus.UNSUBSCRIBED
    suppression = Suppression.objects.for_workspace(workspace).get(value=contact.email)
    assert suppression.reason == "unsubscribed"
    enrollment = Enrollment.objects.for_workspace(workspace).get(contact=contact)
    assert enrollment.status == EnrollmentStatus.UNSUBSCRIBED and enrollment.due_at is None
    [event] = events(workspace, "contact.unsubscribed")
    assert event.data["contact"]["email"] == contact.email

    again = one_click(path)
    assert again.status_code == 200
    assert events(workspace, "contact.unsubscribed").count() == 1
    assert Suppression.objects.for_workspace(workspace).filter(value=contact.email).count() == 1


def test_get_shows_a_confirmation_page_in_the_readers_language_and_changes_nothing(alice):
    message = sent_message(alice.workspace, "lea@prospect.example.com")
    path = unsubscribe_path(message)
    response = Client().get(path, headers={"accept-language": "fr-FR,fr;q=0.9,en;q=0.5"})
    assert response.status_code == 200
    page = response.content.decode()
    assert '<html lang="fr">' in page and response["Content-Language"] == "fr"
    assert '<form method="post">' in page and 'name="List-Unsubscribe" value="One-Click"' in page
    assert "<script" not in page and "csrfmiddlewaretoken" not in page
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert not response.cookies
    english = Client().get(path, headers={"accept-language": "en-GB,en;q=0.8"})
    assert '<html lang="en">' in english.content.decode()
    assert "Unsubscribe from these emails?" in english.content.decode()
    contact = Contact.objects.for_workspace(alice.workspace).get()
    assert contact.status == ContactStatus.ACTIVE  # a link scanner's GET unsubscribes no one
    assert not events(alice.workspace, "contact.unsubscribed").exists()

    # The page's own button posts the same body as a provider.
    done = Client(enforce_csrf_checks=True).post(path, {"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "You are unsubscribed" in done.content.decode()
    contact.refresh_from_db()
    assert contact.status == ContactStatus.UNSUBSCRIBED


def test_a_token_acts_only_in_its_own_workspace(alice, charlie):
    message = sent_message(alice.workspace, "same@prospect.example.com")
    other = sent_message(charlie.workspace, "same@prospect.example.com")
    assert one_click(unsubscribe_path(message)).status_code == 200
    theirs = Contact.objects.for_workspace(charlie.workspace).get()
    assert theirs.status == ContactStatus.ACTIVE
    assert not Suppression.objects.for_workspace(charlie.workspace).exists()
    assert not events(charlie.workspace, "contact.unsubscribed").exists()
    assert Enrollment.objects.for_workspace(charlie.workspace).get().status == "active"
    # A message id signed for one purpose cannot be replayed for another, nor forged.
    forged = "/u/" + make_token(Purpose.OPEN, other.pk) + "/"
    assert one_click(forged).status_code == 404
    assert not Suppression.objects.for_workspace(charlie.workspace).exists()


@pytest.mark.parametrize(
    "path",
    [
        "/u/" + "A" * 43 + "/",  # well-formed, not ours
        "/u/" + "A" * 44 + "/",  # not even base64 of the right size
        "/u/" + make_token(Purpose.UNSUBSCRIBE, PREVIEW_MESSAGE_ID)[:-2] + "xy/",
    ],
)
def test_a_broken_unsubscribe_link_says_so(db, path):
    for response in (Client().get(path), one_click(path)):
        assert response.status_code == 404
        assert "This link is broken" in response.content.decode()


def test_a_test_emails_unsubscribe_link_unsubscribes_nobody(alice):
    path = f"/u/{make_token(Purpose.UNSUBSCRIBE, PREVIEW_MESSAGE_ID)}/"
    response = one_click(path)
    assert response.status_code == 200
    assert "test email" in response.content.decode()
    assert not Suppression.objects.for_workspace(alice.workspace).exists()


def test_an_unsubscribe_link_for_a_deleted_email_is_broken_not_an_error(alice):
    message = sent_message(alice.workspace, "gone@prospect.example.com")
    path = unsubscribe_path(message)
    Contact.objects.for_workspace(alice.workspace).all().delete()  # cascades to the message
    assert one_click(path).status_code == 404
    assert Client().get(path).status_code == 404
    assert Client().get("/u/not*a*token/").status_code == 404  # the normal 404, never a 500


# ----------------------------------------------------------------------------------- opens


def open_path(message) -> str:
    return f"/o/{make_token(Purpose.OPEN, message.pk)}.gif"


def test_the_pixel_is_a_43_byte_gif_that_is_never_cached(db):
    for path in (f"/o/{'A' * 43}.gif", f"/o/{'x' * 60}.gif"):
        response = Client().get(path, headers={"user-agent": HUMAN_UA})
        assert response.status_code == 200
        assert response.content == PIXEL_GIF and len(response.content) == 43
        assert response["Content-Type"] == "image/gif"
        assert "no-store" in response["Cache-Control"] and response["Expires"] == "0"
        assert not response.cookies
    assert flush() == 0  # nothing was even queued
    assert not TrackingEvent.objects.unscoped().exists()


def test_machine_opens_are_flagged_and_the_first_human_open_is_an_event(alice, settings):
    settings.TRACKING_MACHINE_SECONDS = 10
    fresh = sent_message(alice.workspace, "fresh@prospect.example.com", sent_ago=timedelta(0))
    assert Client().get(open_path(fresh), headers={"user-agent": HUMAN_UA}).status_code == 200
    assert not TrackingEvent.objects.unscoped().exists()  # in the buffer, not yet written
    assert flush() == 1
    [event] = TrackingEvent.objects.for_workspace(alice.workspace).filter(message=fresh)
    assert event.kind == "open" and event.flagged and event.flag_reason == "too_soon"

    message = sent_message(alice.workspace, "lea@prospect.example.com")
    path = open_path(message)
    Client().get(path, headers={"user-agent": GMAIL_PROXY_UA})
    Client().get(path, headers={"user-agent": "Mozilla/5.0"})  # Apple Mail Privacy Protection
    Client().get(path, headers={"user-agent": "Microsoft Office/16.0 (Windows NT 10.0)"})
    Client().get(path, headers={"user-agent": HUMAN_UA}, REMOTE_ADDR="17.58.101.4")  # Apple
    Client().get(path, headers={"user-agent": HUMAN_UA})
    Client().get(path, headers={"user-agent": HUMAN_UA})
    assert flush() == 6
    rows = list(
        TrackingEvent.objects.for_workspace(alice.workspace)
        .filter(message=message)
        .order_by("created_at")
        .values_list("flagged", "flag_reason")
    )
    assert rows == [
        (True, "image_proxy"),
        (True, "privacy_proxy"),
        (True, "image_proxy"),
        (True, "privacy_proxy"),
        (False, ""),
        (False, ""),
    ]
    [opened] = events(alice.workspace, "email.opened")  # the first human open only
    assert opened.data["email"]["id"] == str(message.pk)
    assert opened.data["contact"]["email"] == "lea@prospect.example.com"


# ---------------------------------------------------------------------------------- clicks


def test_a_click_goes_to_the_signed_url_only(alice):
    message = sent_message(alice.workspace, "lea@prospect.example.com")
    target = "https://acme.example.com/pricing?plan=pro&ref=mail"
    token = make_token(Purpose.CLICK, message.pk, target)
    response = Client().get(f"/c/{token}/", headers={"user-agent": HUMAN_UA})
    assert response.status_code == 302 and response["Location"] == target
    assert not response.cookies
    Client().get(f"/c/{token}/", headers={"user-agent": HUMAN_UA})
    Client().head(f"/c/{token}/", headers={"user-agent": HUMAN_UA})
    Client().get(f"/c/{token}/", headers={"user-agent": "Mozilla/5.0 BingPreview/1.0b"})
    assert flush() == 4
    rows = list(
        TrackingEvent.objects.for_workspace(alice.workspace)
        .filter(message=message)
        .order_by("created_at")
        .values_list("kind", "url", "flag_reason")
    )
    assert rows == [
        ("click", target, ""),
        ("click", target, ""),
        ("click", target, "head_request"),
        ("click", target, "link_scanner"),
    ]
    [clicked] = events(alice.workspace, "email.clicked")
    assert clicked.data["url"] == target

    # The URL is inside the signature: swapping it for another makes a broken link, never a
    # redirect (no open redirect).
    raw = token[:43]
    evil = make_token(Purpose.CLICK, message.pk, "https://evil.example.net/")[43:]
    for tampered in (raw + evil, token[:-3] + "abc", "A" * 60):
        page = Client().get(f"/c/{tampered}/")
        assert page.status_code == 200 and "Location" not in page
        assert "This link is broken" in page.content.decode()
    assert flush() == 0
    assert TrackingEvent.objects.for_workspace(alice.workspace).count() == 4


def test_a_valid_click_token_for_a_gone_email_still_redirects(db):
    token = make_token(Purpose.CLICK, PREVIEW_MESSAGE_ID, "https://acme.example.com/")
    response = Client().get(f"/c/{token}/")
    assert response.status_code == 302 and response["Location"] == "https://acme.example.com/"
    assert flush() == 0  # a preview's link is not recorded
    assert not TrackingEvent.objects.unscoped().exists()


# ------------------------------------------------------------------------------ the buffer


def test_a_flood_of_opens_is_written_once_each_and_announced_once(alice, tracking_keys):
    message = sent_message(alice.workspace, "lea@prospect.example.com")
    path = open_path(message)
    reader = Client(headers={"user-agent": HUMAN_UA})
    for _ in range(100):
        assert reader.get(path).status_code == 200
    queued = tracking_keys.lrange(buffer.BUFFER_KEY, 0, -1)
    assert len(queued) == 100
    assert json.loads(queued[0]).keys() == {"id", "message", "kind", "url", "agent", "reason", "at"}
    assert not TrackingEvent.objects.unscoped().exists()

    assert flush() == 100
    assert TrackingEvent.objects.for_workspace(alice.workspace).filter(flagged=False).count() == 100
    assert events(alice.workspace, "email.opened").count() == 1
    assert not list(tracking_keys.scan_iter(match="tracking:*"))

    # The same items once more (a flusher that died after writing, before deleting its key):
    # nothing is written twice, nothing announced twice.
    tracking_keys.rpush(buffer.BUFFER_KEY, *queued)
    assert flush() == 100
    assert TrackingEvent.objects.for_workspace(alice.workspace).count() == 100
    assert events(alice.workspace, "email.opened").count() == 1
    # A later open is a new row, still no new event; a first click of each URL is one.
    reader.get(path)
    for target in ("https://acme.example.com/a", "https://acme.example.com/b"):
        for _ in range(2):
            reader.get(f"/c/{make_token(Purpose.CLICK, message.pk, target)}/")
    assert flush() == 5
    assert TrackingEvent.objects.for_workspace(alice.workspace).count() == 105
    assert events(alice.workspace, "email.opened").count() == 1
    clicked = events(alice.workspace, "email.clicked").order_by("created_at")
    assert [event.data["url"] for event in clicked] == [
        "https://acme.example.com/a",
        "https://acme.example.com/b",
    ]


def test_a_dead_flushers_key_is_adopted(alice, tracking_keys):
    message = sent_message(alice.workspace, "lea@prospect.example.com")
    reader = Client(headers={"user-agent": HUMAN_UA})
    reader.get(open_path(message))
    reader.get(open_path(message))
    # A flusher took the buffer and died before writing it.
    leftover = f"{buffer.FLUSHING_PREFIX}dead-flusher"
    tracking_keys.rename(buffer.BUFFER_KEY, leftover)
    reader.get(open_path(message))
    assert flush() == 3
    assert TrackingEvent.objects.for_workspace(alice.workspace).count() == 3
    assert events(alice.workspace, "email.opened").count() == 1
    assert not tracking_keys.exists(leftover, buffer.BUFFER_KEY)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


@pytest.mark.parametrize(
    "redis_url",
    ["", f"redis://127.0.0.1:{_closed_port()}/0"],
    ids=["without-redis", "redis-down"],
)
def test_without_a_working_redis_each_open_is_written_directly(
    alice, settings, tracking_keys, redis_url
):
    settings.REDIS_URL = redis_url
    message = sent_message(alice.workspace, "lea@prospect.example.com")
    response = Client().get(open_path(message), headers={"user-agent": HUMAN_UA})
    assert response.status_code == 200 and response.content == PIXEL_GIF
    [event] = TrackingEvent.objects.for_workspace(alice.workspace)
    assert event.message_id == message.pk and not event.flagged
    assert events(alice.workspace, "email.opened").count() == 1
    click = Client().get(
        f"/c/{make_token(Purpose.CLICK, message.pk, 'https://acme.example.com/')}/",
        headers={"user-agent": HUMAN_UA},
    )
    assert click["Location"] == "https://acme.example.com/"
    assert events(alice.workspace, "email.clicked").count() == 1
    assert tracking_keys.llen(buffer.BUFFER_KEY) == 0  # nothing went to the tests' Redis
    if redis_url:  # the scheduled flush fails loudly, and runs again later
        with pytest.raises(redis.ConnectionError):
            flush()
    else:  # no Redis: nothing to flush
        assert flush() == 0


# ---------------------------------------------------------------------- custom tracking domain

dns_zone = dns_support.dns_zone  # the local DNS server fixture


def test_custom_domain_verified_by_its_cname_and_used_in_links(alice, dns_zone):
    workspace = alice.workspace
    dns_zone["track.acme.example"] = "track.fluenzr.example."
    dns_zone["mail.acme.example"] = "elsewhere.example.org."
    dns_zone["bare.acme.example"] = ""

    domain = domains.tracking_domain_set(
        workspace=workspace, actor=alice.user, hostname="https://Track.Acme.Example/"
    )
    assert domain.hostname == "track.acme.example" and domain.status == "pending"
    assert tracking_base_url(workspace_id=workspace.pk) == "http://testserver"
    checked = domains.tracking_domain_check(workspace=workspace)
    assert checked.status == TrackingDomainStatus.VERIFIED and checked.error == ""
    assert tracking_base_url(workspace_id=workspace.pk) == "https://track.acme.example"
    links = Links(base=tracking_base_url(workspace_id=workspace.pk), message_id=PREVIEW_MESSAGE_ID)
    assert links.unsubscribe_url().startswith("https://track.acme.example/u/")

    for hostname, words in (
        ("mail.acme.example", "points to elsewhere.example.org, not track.fluenzr.example"),
        ("bare.acme.example", "has no CNAME record"),
        ("nowhere.acme.example", "does not exist in DNS yet"),
    ):
        domains.tracking_domain_set(workspace=workspace, actor=alice.user, hostname=hostname)
        checked = domains.tracking_domain_check(workspace=workspace)
        assert checked.status == TrackingDomainStatus.FAILED
        assert words in checked.error
        assert tracking_base_url(workspace_id=workspace.pk) == "http://testserver"


def test_custom_domain_is_pro_only_and_unique(alice, charlie, bob, free_workspace, dns_zone):
    with pytest.raises(PlanLimitError):
        from accounts.services import workspace_require_feature

        workspace_require_feature(workspace=free_workspace, feature="custom_tracking_domain")
    free = alice.workspace
    free.plan = "free"
    free.save(update_fields=["plan"])
    with pytest.raises(PlanLimitError):
        domains.tracking_domain_set(workspace=free, actor=alice.user, hostname="t.acme.example")
    with pytest.raises(ServiceError):  # bob is a member, not an admin
        domains.tracking_domain_set(workspace=free, actor=bob.user, hostname="t.acme.example")
    domains.tracking_domain_set(
        workspace=charlie.workspace, actor=charlie.user, hostname="t.charlie.example"
    )
    free.plan = "pro"
    free.save(update_fields=["plan"])
    with pytest.raises(ServiceError, match="already used by another workspace"):
        domains.tracking_domain_set(workspace=free, actor=alice.user, hostname="t.charlie.example")
    with pytest.raises(ServiceError, match="not a sub-domain"):
        domains.tracking_domain_set(workspace=free, actor=alice.user, hostname="acme")


def test_settings_page_sets_checks_and_removes_the_domain(alice, charlie, dns_zone):
    dns_zone["track.acme.example"] = "track.fluenzr.example."
    page = alice.client.get("/settings/tracking-domain/")
    assert page.status_code == 200 and "track.fluenzr.example" in page.content.decode()
    response = alice.client.post(
        "/settings/tracking-domain/", {"action": "save", "hostname": "track.acme.example"}
    )
    assert response.status_code == 302
    page = alice.client.get("/settings/tracking-domain/").content.decode()
    assert "track.acme.example" in page and "Verified" in page
    # Charlie sees his own (empty) settings, never Alice's domain.
    assert (
        "track.acme.example"
        not in charlie.client.get("/settings/tracking-domain/").content.decode()
    )
    alice.client.post("/settings/tracking-domain/", {"action": "remove"})
    assert not TrackingDomain.objects.for_workspace(alice.workspace).exists()
    invalid = alice.client.post("/settings/tracking-domain/", {"action": "save", "hostname": "x"})
    assert invalid.status_code == 200 and "not a sub-domain" in invalid.content.decode()


# ------------------------------------------------------------------- in the emails sent


def _sent_through_the_engine(alice, servers, mailbox, domain: str, **options):
    contacts = prospects(alice, servers, 1, domain=domain)
    campaign = two_step_campaign(alice, mailbox, contacts, **options)
    services.campaign_launch(workspace=alice.workspace, campaign=campaign, now=TUESDAY_10)
    assert run_until_quiet(TUESDAY_10) == ["sent"]
    [raw] = received_for(servers, contacts[0])
    message = OutboundMessage.objects.for_workspace(alice.workspace).get(
        enrollment__contact=contacts[0]
    )
    return campaign, contacts[0], message, raw


def test_a_sent_email_carries_one_click_unsubscribe(alice, trusted_mail_servers, sender_mailbox):
    servers = trusted_mail_servers
    _campaign, contact, message, raw = _sent_through_the_engine(
        alice, servers, sender_mailbox, "unsub.example.com"
    )
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    url = f"http://testserver/u/{make_token(Purpose.UNSUBSCRIBE, message.pk)}/"
    assert parsed["List-Unsubscribe"] == (
        f"<{url}>, <mailto:sales@sender.example.com?subject=unsubscribe>"
    )
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = parsed.get_body(("plain",)).get_content()
    assert text.rstrip().endswith(f"Unsubscribe: {url}")
    # A plain-text email gets no pixel and no rewritten link.
    assert b"/o/" not in raw and b"/c/" not in raw

    # The provider's one-click POST, to the URL from the header: nothing more is sent.
    assert one_click(url.removeprefix("http://testserver")).status_code == 200
    enrollment = Enrollment.objects.for_workspace(alice.workspace).get(contact=contact)
    assert enrollment.status == EnrollmentStatus.UNSUBSCRIBED
    run_until_quiet(TUESDAY_10 + timedelta(days=2, minutes=5))
    assert len(received_for(servers, contact)) == 1
    assert events(alice.workspace, "contact.unsubscribed").count() == 1

    # The preview shows the same email (its link is signed for no one).
    preview = campaign_selectors.preview(enrollment=enrollment, step=message.step)
    preview_url = f"http://testserver/u/{make_token(Purpose.UNSUBSCRIBE, PREVIEW_MESSAGE_ID)}/"
    assert preview.body.rstrip().endswith(f"Unsubscribe: {preview_url}")
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in preview.raw


def test_no_unsubscribe_headers_when_the_campaign_turns_them_off(
    alice, trusted_mail_servers, sender_mailbox
):
    _campaign, _contact, _message, raw = _sent_through_the_engine(
        alice, trusted_mail_servers, sender_mailbox, "nounsub.example.com", unsubscribe_link=False
    )
    assert b"List-Unsubscribe" not in raw
    assert b"/u/" not in raw and b"Unsubscribe" not in raw


def test_an_html_email_has_a_pixel_and_tracked_links(
    alice, trusted_mail_servers, sender_mailbox, settings
):
    settings.SITE_URL = "https://testserver"  # images load over https only
    contacts = prospects(alice, trusted_mail_servers, 1, domain="html.example.com")
    campaign = services.campaign_create(
        workspace=alice.workspace,
        name="HTML",
        mailboxes=[sender_mailbox],
        timezone="Europe/Paris",
        spacing_min_seconds=20,
        spacing_max_seconds=20,
        body_format="html",
        track_opens=True,
        track_clicks=True,
    )
    services.step_add(
        workspace=alice.workspace,
        campaign=campaign,
        subject="Prix",
        body='<p>Bonjour {{firstName}}, voir <a href="https://acme.example.com/prix?a=1&amp;b=2">'
        'nos prix</a> ou <a href="mailto:vente@acme.example.com">écrire</a>.</p>',
    )
    services.campaign_enroll(
        workspace=alice.workspace,
        campaign=campaign,
        contacts=Contact.objects.for_workspace(alice.workspace).filter(pk=contacts[0].pk),
    )
    services.campaign_launch(workspace=alice.workspace, campaign=campaign, now=TUESDAY_10)
    assert run_until_quiet(TUESDAY_10) == ["sent"]
    [raw] = received_for(trusted_mail_servers, contacts[0])
    message = OutboundMessage.objects.for_workspace(alice.workspace).get()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    html_part = parsed.get_body(("html",)).get_content()
    pixel = f"https://testserver/o/{make_token(Purpose.OPEN, message.pk)}.gif"
    target = "https://acme.example.com/prix?a=1&b=2"
    click = f"https://testserver/c/{make_token(Purpose.CLICK, message.pk, target)}/"
    unsubscribe = f"https://testserver/u/{make_token(Purpose.UNSUBSCRIBE, message.pk)}/"
    assert f'<img src="{pixel}"' in html_part
    assert f'href="{click}"' in html_part
    assert 'href="mailto:vente@acme.example.com"' in html_part  # mailto: left alone
    assert f'href="{unsubscribe}"' in html_part  # never through the redirect
    assert "acme.example.com/prix" not in html_part
    # The text alternative keeps the real link, and no pixel.
    text = parsed.get_body(("plain",)).get_content()
    assert target in text and "/c/" not in text and "/o/" not in text

    reader = Client(headers={"user-agent": HUMAN_UA})
    response = reader.get(click.removeprefix("https://testserver"))
    assert response.status_code == 302 and response["Location"] == target
    assert reader.get(pixel.removeprefix("https://testserver")).content == PIXEL_GIF
    assert flush() == 2
    assert list(
        TrackingEvent.objects.for_workspace(alice.workspace)
        .order_by("created_at")
        .values_list("kind", "url", "flagged")
    ) == [("click", target, False), ("open", "", False)]
    [clicked] = events(alice.workspace, "email.clicked")
    assert clicked.data["email"]["id"] == str(message.pk) and clicked.data["url"] == target
    assert events(alice.workspace, "email.opened").count() == 1
