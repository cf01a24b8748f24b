"""Webhooks in the dashboard and the delivery-log API: endpoints, the secret shown once, the
SSRF guard on the URL field, test events and replays to a real receiver on loopback."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape
from standardwebhooks import Webhook

from accounts import services as account_services
from tests import test_webhooks_delivery as delivery_tests
from tests.conftest import PASSWORD
from tests.factories import UserFactory
from webhooks import delivery as engine
from webhooks import services
from webhooks.events import emit
from webhooks.models import Delivery, DeliveryAttempt, DeliveryStatus, Endpoint, Event

pytestmark = pytest.mark.django_db(transaction=True)

Receiver = delivery_tests.Receiver
receiver = delivery_tests.receiver  # the loopback receiver fixture


def _verified(received, secret: str) -> dict:
    """The request's payload, once its Standard Webhooks signature checks out."""
    return Webhook(secret).verify(received.body, received.headers)


def _endpoint(actor, receiver: Receiver, path: str = "/hook", **fields) -> tuple[Endpoint, str]:
    return services.endpoint_create(workspace=actor.workspace, url=receiver.on(path), **fields)


def test_an_endpoint_created_in_the_dashboard_shows_its_secret_once(alice, receiver):
    response = alice.client.post(
        reverse("webhooks"),
        {"url": receiver.on("/hook"), "description": "CRM sync", "all_events": "on"},
    )
    endpoint = Endpoint.objects.for_workspace(alice.workspace).get()
    assert response.status_code == 302
    assert response["Location"] == reverse("webhook_detail", args=[endpoint.pk])
    assert (endpoint.description, endpoint.event_types) == ("CRM sync", [])

    first = alice.client.get(response["Location"]).content.decode()
    assert endpoint.secret.startswith("whsec_") and endpoint.secret in first
    assert "shown only now" in first
    later = alice.client.get(response["Location"]).content.decode()
    assert endpoint.secret not in later and "shown only now" not in later
    assert endpoint.secret not in alice.client.get(reverse("webhooks")).content.decode()


def test_chosen_event_types_and_a_campaign_are_saved(alice, receiver):
    from campaigns import services as campaign_services

    campaign = campaign_services.campaign_create(workspace=alice.workspace, name="Spring")
    page = alice.client.get(reverse("webhooks")).content.decode()
    assert "Spring" in page and "email.replied" in page and "webhook.test" not in page
    response = alice.client.post(
        reverse("webhooks"),
        {
            "url": receiver.on("/hook"),
            "event_types": ["email.replied", "email.bounced"],
            "campaign_id": str(campaign.pk),
        },
    )
    assert response.status_code == 302
    endpoint = Endpoint.objects.for_workspace(alice.workspace).get()
    assert endpoint.event_types == ["email.bounced", "email.replied"]
    assert endpoint.campaign_id == campaign.pk

    edit = alice.client.post(
        reverse("webhook_detail", args=[endpoint.pk]),
        {"url": endpoint.url, "description": "Replies", "all_events": "on"},
    )
    assert edit.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.description, endpoint.event_types, endpoint.campaign_id) == (
        "Replies",
        [],
        None,
    )


def test_the_ssrf_guard_refuses_a_private_url_on_the_url_field(alice, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    settings.WEBHOOKS_ALLOW_HTTP = True
    settings.WEBHOOKS_ALLOW_ANY_PORT = True
    response = alice.client.post(
        reverse("webhooks"), {"url": "http://127.0.0.1/hook", "all_events": "on"}
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == ["url"] and errors["url"][0]
    assert escape(errors["url"][0]) in response.content.decode()
    assert not Endpoint.objects.for_workspace(alice.workspace).exists()


def test_send_test_reaches_the_receiver_signed_and_the_log_shows_200(alice, receiver):
    endpoint, secret = _endpoint(alice, receiver)
    other, _other_secret = _endpoint(alice, receiver, "/other")

    response = alice.client.post(reverse("webhook_test", args=[endpoint.pk]))
    assert response.status_code == 302

    [received] = receiver.at("/hook")
    payload = _verified(received, secret)
    assert payload["type"] == "webhook.test"
    assert json.loads(received.body) == payload
    # Only this endpoint: the fan-out finds nothing more to send to the other.
    engine.events_fan_out()
    assert not Delivery.objects.for_workspace(alice.workspace).filter(endpoint=other).exists()
    assert receiver.at("/other") == []

    page = alice.client.get(response["Location"]).content.decode()
    attempt = DeliveryAttempt.objects.for_workspace(alice.workspace).get()
    assert attempt.status_code == 200 and attempt.succeeded
    assert "Delivered: your endpoint answered 200." in page
    assert 'class="attempt-status ok">200<' in page
    assert attempt.request_headers["webhook-id"] in page
    assert attempt.request_headers["webhook-signature"] in page
    assert "{&quot;ok&quot;: true}" in page  # the response body


def test_replay_sends_the_same_webhook_id_again(alice, receiver):
    endpoint, secret = _endpoint(alice, receiver)
    event = emit(workspace=alice.workspace, type="contact.created", data={"contact": {"id": "1"}})
    engine.events_fan_out()
    delivery = Delivery.objects.for_workspace(alice.workspace).get(event=event)
    engine.delivery_send(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED

    response = alice.client.post(reverse("webhook_replay", args=[delivery.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("webhook_detail", args=[endpoint.pk])

    first, second = receiver.at("/hook")
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == str(event.pk)
    assert _verified(second, secret)["type"] == "contact.created"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 2)
    page = alice.client.get(response["Location"]).content.decode()
    assert page.count('class="attempt-status ok">200<') == 2


def test_a_failed_delivery_is_replayed_and_the_log_filters(alice, receiver):
    endpoint, _secret = _endpoint(alice, receiver)
    emit(workspace=alice.workspace, type="contact.created", data={"contact": {"id": "1"}})
    engine.events_fan_out()
    failed = Delivery.objects.for_workspace(alice.workspace).get()
    Delivery.objects.for_workspace(alice.workspace).filter(pk=failed.pk).update(
        status=DeliveryStatus.FAILED, attempts=8
    )
    alice.client.post(reverse("webhook_test", args=[endpoint.pk]))
    url = reverse("webhook_detail", args=[endpoint.pk])

    page = alice.client.get(url, {"outcome": "failed"})
    assert [d.pk for d in page.context["page"].object_list] == [failed.pk]
    page = alice.client.get(url, {"event_type": "webhook.test"})
    assert [d.event.type for d in page.context["page"].object_list] == ["webhook.test"]
    newest_first = alice.client.get(url).context["page"].object_list
    assert [d.event.type for d in newest_first] == ["webhook.test", "contact.created"]

    alice.client.post(reverse("webhook_replay", args=[failed.pk]))
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.last_status_code) == ("succeeded", 9, 200)


def test_failures_are_logged_in_english_and_shown_in_the_readers_language(
    alice, receiver, settings
):
    down, _secret = _endpoint(alice, receiver, "/down")
    receiver.on("/down", status=503)
    refused, _secret = _endpoint(alice, receiver, "/refused")
    account_services.user_set_language(user=alice.user, language="fr")

    alice.client.post(reverse("webhook_test", args=[down.pk]))
    # Loopback allowed when the endpoint was saved, no longer: refused again at send time.
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    alice.client.post(reverse("webhook_test", args=[refused.pk]))

    # The log (also read through the API) keeps FluenzR's words in English…
    logged = dict(
        DeliveryAttempt.objects.for_workspace(alice.workspace).values_list(
            "delivery__endpoint", "error"
        )
    )
    assert logged[down.pk] == "The receiver answered 503; only a 2xx status counts."
    assert logged[refused.pk] == (
        "127.0.0.1 is a loopback address: webhooks are only sent to public addresses. "
        "Use your server's public URL."
    )
    assert len(receiver.at("/refused")) == 0

    # …and the dashboard shows them in the reader's language, with their values.
    down_page = alice.client.get(reverse("webhook_detail", args=[down.pk])).content.decode()
    assert escape("Le récepteur a répondu 503\u00a0; seul un statut 2xx compte.") in down_page
    refused_page = alice.client.get(reverse("webhook_detail", args=[refused.pk])).content.decode()
    assert (
        escape("127.0.0.1 est une adresse de bouclage (loopback)\u00a0: les webhooks")
        in refused_page
    )
    assert "only sent to public addresses" not in refused_page


def test_rotate_shows_the_new_secret_once(alice, receiver):
    endpoint, secret = _endpoint(alice, receiver)
    response = alice.client.post(reverse("webhook_rotate_secret", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.secret != secret and endpoint.previous_secret == secret
    page = alice.client.get(response["Location"]).content.decode()
    assert endpoint.secret in page
    assert endpoint.secret not in alice.client.get(response["Location"]).content.decode()


def test_enable_after_a_disable_and_delete(alice, receiver):
    endpoint, _secret = _endpoint(alice, receiver)
    assert services.endpoint_disable(endpoint, services.DISABLED_GONE)
    index = alice.client.get(reverse("webhooks")).content.decode()
    assert "Disabled" in index and "410 Gone" in index
    detail = alice.client.get(reverse("webhook_detail", args=[endpoint.pk])).content.decode()
    assert "answered 410 Gone" in detail and reverse("webhook_enable", args=[endpoint.pk]) in detail

    alice.client.post(reverse("webhook_enable", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.disabled_reason == ""
    detail = alice.client.get(reverse("webhook_detail", args=[endpoint.pk])).content.decode()
    assert reverse("webhook_enable", args=[endpoint.pk]) not in detail

    response = alice.client.post(reverse("webhook_delete", args=[endpoint.pk]))
    assert response["Location"] == reverse("webhooks")
    assert not Endpoint.objects.for_workspace(alice.workspace).exists()


def test_the_free_plan_sees_the_plan_message_instead_of_the_form(db):
    user = UserFactory(email="frida@example.test")
    workspace = account_services.workspace_create(owner=user, name="Frida", plan="free")
    client = Client()
    client.force_login(user)
    page = client.get(reverse("webhooks")).content.decode()
    assert "Upgrade to the" in page and "Add endpoint" not in page
    response = client.post(
        reverse("webhooks"), {"url": "https://example.com/h", "all_events": "on"}
    )
    assert response.status_code == 200
    assert not Endpoint.objects.for_workspace(workspace).exists()


def test_another_workspace_gets_404_on_every_new_route(alice, charlie, receiver):
    endpoint, _secret = _endpoint(alice, receiver)
    alice.client.post(reverse("webhook_test", args=[endpoint.pk]))
    delivery = Delivery.objects.for_workspace(alice.workspace).get()
    for name in ("webhook_detail", "webhook_rotate_secret", "webhook_enable", "webhook_delete"):
        url = reverse(name, args=[endpoint.pk])
        assert charlie.client.post(url).status_code == 404, url
    assert charlie.client.post(reverse("webhook_test", args=[endpoint.pk])).status_code == 404
    assert charlie.client.post(reverse("webhook_replay", args=[delivery.pk])).status_code == 404
    api = charlie.api
    assert api.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/").status_code == 404
    assert api.post(f"/api/v1/webhooks/{endpoint.pk}/test/").status_code == 404
    assert api.post(f"/api/v1/deliveries/{delivery.pk}/replay/").status_code == 404
    assert api.get(f"/api/v1/deliveries/{delivery.pk}/").status_code == 404
    assert len(receiver.at("/hook")) == 1  # only alice's own test
    assert Endpoint.objects.for_workspace(alice.workspace).get().secret == endpoint.secret


def test_api_test_deliveries_and_replay(alice, receiver):
    endpoint, secret = _endpoint(alice, receiver)
    emit(workspace=alice.workspace, type="contact.created", data={"contact": {"id": "1"}})
    engine.events_fan_out()

    tested = alice.api.post(f"/api/v1/webhooks/{endpoint.pk}/test/")
    assert tested.status_code == 200, tested.content
    body = tested.json()
    assert body["status"] == "succeeded" and body["event"]["type"] == "webhook.test"
    [attempt] = body["attempts_log"]
    assert attempt["status_code"] == 200 and attempt["latency_ms"] is not None
    assert attempt["request_headers"]["webhook-id"] == body["event"]["id"]
    assert attempt["response_body"] == '{"ok": true}'
    _verified(receiver.at("/hook")[0], secret)

    listed = alice.api.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/").json()
    assert [d["event"]["type"] for d in listed["results"]] == ["webhook.test", "contact.created"]
    pending = alice.api.get(
        f"/api/v1/webhooks/{endpoint.pk}/deliveries/", {"outcome": "pending"}
    ).json()
    assert [d["event"]["type"] for d in pending["results"]] == ["contact.created"]
    assert pending["results"][0]["attempts_log"] == []
    by_type = alice.api.get(
        f"/api/v1/webhooks/{endpoint.pk}/deliveries/", {"event_type": "webhook.test"}
    ).json()
    assert [d["id"] for d in by_type["results"]] == [body["id"]]

    replayed = alice.api.post(f"/api/v1/deliveries/{body['id']}/replay/")
    assert replayed.status_code == 200, replayed.content
    assert replayed.json()["attempts"] == 2 and len(replayed.json()["attempts_log"]) == 2
    first, second = receiver.at("/hook")
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == body["event"]["id"]
    assert Event.objects.for_workspace(alice.workspace).filter(type="webhook.test").count() == 1


# ----------------------------------------------------------------------------- in a browser


@pytest.mark.browser
def test_add_an_endpoint_send_a_test_and_replay_it_in_the_browser(page, live_server, receiver):
    user = UserFactory(email="wes@example.test")
    account_services.workspace_create(owner=user, name="Wes Hooks", plan="pro")
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(user.email)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{live_server.url}/")

    page.locator("#sidebar").get_by_role("link", name="Webhooks").click()
    page.wait_for_url(f"{live_server.url}/webhooks/")
    page.get_by_label("URL").fill(receiver.on("/browser"))
    page.get_by_label("Description").fill("Browser test")
    page.get_by_role("button", name="Add endpoint").click()
    page.wait_for_url(f"{live_server.url}/webhooks/*/")
    secret = page.locator("#webhook-secret").inner_text()
    assert secret.startswith("whsec_")

    page.get_by_role("button", name="Send test event").click()
    page.get_by_text("Delivered: your endpoint answered 200.").wait_for()
    log = page.locator(".delivery-log")
    assert log.locator(".delivery").count() == 1
    assert log.locator(".attempt-status.ok").inner_text() == "200"
    _verified(receiver.at("/browser")[0], secret)

    page.once("dialog", lambda dialog: dialog.accept())
    log.get_by_role("button", name="Replay").click()
    page.locator(".attempt-status.ok >> nth=1").wait_for()
    assert log.locator(".attempt").count() == 2
    first, second = receiver.at("/browser")
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
