"""Webhook endpoints: the SSRF guard (webhooks.ssrf), the services and /api/v1/webhooks.

DNS answers come from a local dnslib server (tests.dns_support); check_url never connects.
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone
from standardwebhooks import Webhook

from accounts.errors import PlanLimitError, ServiceError
from tests import dns_support
from webhooks import services
from webhooks.models import Endpoint
from webhooks.ssrf import Destination, UnsafeDestination, check_url

dns_zone = dns_support.dns_zone  # the local DNS server fixture

PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"


@pytest.fixture
def strict(settings):
    """Production rules: HTTPS, ports 80/443, public addresses only."""
    settings.DEBUG = False
    settings.WEBHOOKS_ALLOW_HTTP = False
    settings.WEBHOOKS_ALLOW_ANY_PORT = False
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    return settings


def refusal(url: str) -> str:
    with pytest.raises(UnsafeDestination) as caught:
        check_url(url)
    return caught.value.message


# ------------------------------------------------------------------------------ SSRF guard


@pytest.mark.parametrize(
    ("url", "address", "kind"),
    [
        ("https://127.0.0.1/hook", "127.0.0.1", "loopback"),
        ("https://127.8.9.10/", "127.8.9.10", "loopback"),
        ("https://2130706433/", "127.0.0.1", "loopback"),  # decimal
        ("https://0177.0.0.1/", "127.0.0.1", "loopback"),  # octal
        ("https://0x7f.1/", "127.0.0.1", "loopback"),  # hex, short
        ("https://0x7f000001/", "127.0.0.1", "loopback"),  # hex, one number
        ("https://127.1/", "127.0.0.1", "loopback"),  # short
        ("https://10.1/", "10.0.0.1", "private network"),
        ("https://[::1]/", "::1", "loopback"),
        ("https://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("https://[::ffff:7f00:1]/", "::ffff:127.0.0.1", "loopback"),  # mapped, hex
        ("https://[::127.0.0.1]/", "::7f00:1", "loopback"),  # IPv4-compatible
        ("https://[64:ff9b::a00:1]/", "64:ff9b::a00:1", "private network"),  # NAT64 of 10.0.0.1
        ("https://[2002:c0a8:101::]/", "2002:c0a8:101::", "private network"),  # 6to4 of 192.168.1.1
        ("https://good.example.com@127.0.0.1/", "127.0.0.1", "loopback"),  # userinfo trick
        ("https://good.example.com:x@[::1]/", "::1", "loopback"),
        ("https://10.0.0.5/", "10.0.0.5", "private network"),
        ("https://172.16.3.4/", "172.16.3.4", "private network"),
        ("https://172.31.255.255/", "172.31.255.255", "private network"),
        ("https://192.168.1.1/", "192.168.1.1", "private network"),
        ("https://169.254.169.254/latest/meta-data/", "169.254.169.254", "link-local"),
        ("https://[fe80::1]/", "fe80::1", "link-local"),
        ("https://100.64.0.1/", "100.64.0.1", "private network"),  # CGNAT
        ("https://0.0.0.0/", "0.0.0.0", "unspecified"),  # noqa: S104
        ("https://0.1.2.3/", "0.1.2.3", "reserved"),
        ("https://198.18.0.1/", "198.18.0.1", "reserved"),  # benchmarking
        ("https://224.0.0.1/", "224.0.0.1", "multicast"),
        ("https://[ff02::1]/", "ff02::1", "multicast"),
        ("https://240.0.0.1/", "240.0.0.1", "reserved"),
        ("https://255.255.255.255/", "255.255.255.255", "reserved"),
        ("https://192.0.2.1/", "192.0.2.1", "reserved"),  # documentation
        ("https://203.0.113.9/", "203.0.113.9", "reserved"),  # documentation
        ("https://[2001:db8::1]/", "2001:db8::1", "reserved"),  # documentation
        ("https://[fc00::1]/", "fc00::1", "private network"),  # ULA
        ("https://[fd12:3456::1]/", "fd12:3456::1", "private network"),
        ("https://[::]/", "::", "unspecified"),
    ],
)
def test_every_literal_form_of_a_non_public_address_is_refused(strict, url, address, kind):
    message = refusal(url)
    assert message.startswith(f"{address} is ")
    assert kind in message
    assert "webhooks are only sent to public addresses" in message


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST.", "api.localhost", "metadata.google.internal", "nas.local"]
)
def test_local_names_are_refused_without_asking_dns(strict, host):
    message = refusal(f"https://{host}/hook")
    assert "is a local name" in message and "public host name" in message


def test_a_single_label_name_is_refused(strict):
    assert "Enter the full host name" in refusal("https://intranet/hook")


def test_names_resolving_to_private_addresses_are_refused(strict, dns_zone):
    dns_zone["internal.acme.example"] = ["10.0.0.7"]
    dns_zone["loop.acme.example"] = ["127.0.0.1"]
    dns_zone["metadata.acme.example"] = ["169.254.169.254"]
    dns_zone["v6.acme.example"] = ["fd00::5"]
    dns_zone["mapped.acme.example"] = ["::ffff:192.168.0.1"]
    # One public and one private A record: the private one is reason enough.
    dns_zone["mixed.acme.example"] = [PUBLIC_V4, "192.168.10.20"]
    # A public A record and a private AAAA record.
    dns_zone["mixed6.acme.example"] = [PUBLIC_V4, "::1"]

    for host, address, kind in (
        ("internal.acme.example", "10.0.0.7", "private network"),
        ("loop.acme.example", "127.0.0.1", "loopback"),
        ("metadata.acme.example", "169.254.169.254", "link-local"),
        ("v6.acme.example", "fd00::5", "private network"),
        ("mapped.acme.example", "::ffff:192.168.0.1", "private network"),
        ("mixed.acme.example", "192.168.10.20", "private network"),
        ("mixed6.acme.example", "::1", "loopback"),
    ):
        message = refusal(f"https://{host}/hook")
        assert message.startswith(f"{host} resolves to {address}, "), message
        assert kind in message


def test_a_public_name_is_accepted_with_every_checked_address(strict, dns_zone):
    dns_zone["hooks.acme.example"] = [PUBLIC_V4, PUBLIC_V6]
    destination = check_url("https://Hooks.Acme.Example./fluenzr?x=1")
    assert destination == Destination(
        scheme="https", host="hooks.acme.example", port=443, addresses=(PUBLIC_V4, PUBLIC_V6)
    )
    assert check_url("https://hooks.acme.example:443/").port == 443
    assert check_url(f"https://{PUBLIC_V4}/").addresses == (PUBLIC_V4,)
    assert check_url(f"https://[{PUBLIC_V6}]/").host == PUBLIC_V6


def test_an_unknown_name_says_to_check_it(strict, dns_zone):
    assert "has no address in DNS" in refusal("https://nowhere.acme.example/hook")


def test_http_is_refused_unless_debug_or_the_setting_allows_it(strict):
    assert "only sent over HTTPS" in refusal(f"http://{PUBLIC_V4}/hook")
    strict.WEBHOOKS_ALLOW_HTTP = True
    assert check_url(f"http://{PUBLIC_V4}/hook").port == 80
    strict.WEBHOOKS_ALLOW_HTTP = False
    strict.DEBUG = True
    assert check_url(f"http://{PUBLIC_V4}/hook").scheme == "http"


def test_other_ports_are_refused_unless_the_setting_allows_them(strict):
    assert "Port 8080 is not allowed" in refusal(f"https://{PUBLIC_V4}:8080/hook")
    assert check_url(f"https://{PUBLIC_V4}:80/").port == 80
    strict.WEBHOOKS_ALLOW_ANY_PORT = True
    assert check_url(f"https://{PUBLIC_V4}:8080/").port == 8080


@pytest.mark.parametrize(
    "url", ["", "hooks.example.com/x", "ftp://hooks.example.com/", "https:///x", "https://a:b:c/"]
)
def test_malformed_urls_say_what_to_enter(strict, url):
    assert "https://hooks.example.com/fluenzr" in refusal(url)


def test_credentials_in_the_url_are_refused(strict):
    assert "Remove the user name and password" in refusal(f"https://user:pw@{PUBLIC_V4}/")


def test_the_setting_allows_loopback_and_private_but_never_metadata(strict, dns_zone):
    strict.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    strict.WEBHOOKS_ALLOW_ANY_PORT = True
    assert check_url("https://127.0.0.1:8443/").addresses == ("127.0.0.1",)
    assert check_url("https://localhost:9000/").addresses == ("127.0.0.1",)
    assert check_url("https://[::1]/").addresses == ("::1",)
    dns_zone["receiver.acme.example"] = ["10.1.2.3"]
    assert check_url("https://receiver.acme.example/").addresses == ("10.1.2.3",)
    assert "link-local" in refusal("https://169.254.169.254/")
    assert "multicast" in refusal("https://224.0.0.1/")


# -------------------------------------------------------------------------------- services


def test_create_returns_a_standard_webhooks_secret_stored_encrypted(alice, strict):
    endpoint, secret = services.endpoint_create(
        workspace=alice.workspace,
        url=f"https://{PUBLIC_V4}/fluenzr",
        description="  CRM  ",
        event_types=["email.sent", "email.replied", "email.sent"],
    )
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert endpoint.description == "CRM"
    assert endpoint.event_types == ["email.replied", "email.sent"]
    assert endpoint.enabled and endpoint.status_since is not None

    stored = Endpoint.objects.for_workspace(alice.workspace).get(pk=endpoint.pk)
    assert stored.secret == secret
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM webhooks_endpoint WHERE id = %s", [endpoint.pk])
        (raw,) = cursor.fetchone()
    assert raw and secret not in raw and secret.removeprefix("whsec_") not in raw

    # The library accepts the format and verifies what it signs.
    webhook = Webhook(secret)
    timestamp = datetime.now(UTC)
    signature = webhook.sign("msg_1", timestamp, '{"a":1}')
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature,
    }
    assert webhook.verify('{"a":1}', headers) == {"a": 1}
    _other, other_secret = services.endpoint_create(
        workspace=alice.workspace, url=f"https://{PUBLIC_V4}/other"
    )
    assert other_secret != secret


def test_service_validation_messages(alice, strict):
    workspace = alice.workspace
    for kwargs, field, words in (
        ({"url": ""}, "url", "Enter your endpoint's URL"),
        ({"url": "https://10.0.0.1/"}, "url", "10.0.0.1 is a private network address"),
        ({"url": f"http://{PUBLIC_V4}/"}, "url", "only sent over HTTPS"),
        ({"url": "https://" + "a" * 2000 + ".example/"}, "url", "longer than 2000"),
        (
            {"url": f"https://{PUBLIC_V4}/", "event_types": ["email.sent", "email.sentt"]},
            "event_types",
            "Unknown event type “email.sentt”: choose from",
        ),
        ({"url": f"https://{PUBLIC_V4}/", "description": "x" * 301}, "description", "300"),
        ({"url": f"https://{PUBLIC_V4}/", "campaign_id": "nope"}, "campaign_id", "not a campaign"),
    ):
        with pytest.raises(ServiceError) as caught:
            services.endpoint_create(workspace=workspace, **kwargs)
        assert caught.value.field == field
        assert words in caught.value.message, caught.value.message
    assert not Endpoint.objects.for_workspace(workspace).exists()


def test_the_number_of_endpoints_is_limited(alice, strict, monkeypatch):
    monkeypatch.setattr(services, "MAX_ENDPOINTS_PER_WORKSPACE", 2)
    for n in range(2):
        services.endpoint_create(workspace=alice.workspace, url=f"https://{PUBLIC_V4}/{n}")
    with pytest.raises(ServiceError) as caught:
        services.endpoint_create(workspace=alice.workspace, url=f"https://{PUBLIC_V4}/3")
    assert "up to 2 webhook endpoints" in caught.value.message
    assert Endpoint.objects.for_workspace(alice.workspace).count() == 2


def test_webhooks_are_pro_only(free_workspace, strict):
    with pytest.raises(PlanLimitError) as caught:
        services.endpoint_create(workspace=free_workspace, url=f"https://{PUBLIC_V4}/")
    assert caught.value.message == (
        "Webhooks is not included in the Free plan. Upgrade to the Pro plan to use it."
    )
    assert caught.value.required_plan.code == "pro"


def test_update_checks_and_changes_only_what_is_given(alice, strict):
    campaign_id = uuid.uuid4()
    endpoint, _secret = services.endpoint_create(
        workspace=alice.workspace, url=f"https://{PUBLIC_V4}/a", campaign_id=str(campaign_id)
    )
    assert endpoint.campaign_id == campaign_id
    with pytest.raises(ServiceError) as caught:
        services.endpoint_update(
            workspace=alice.workspace, endpoint=endpoint, url="https://192.168.0.1/"
        )
    assert caught.value.field == "url"
    services.endpoint_update(
        workspace=alice.workspace, endpoint=endpoint, description="new", event_types=[]
    )
    stored = Endpoint.objects.for_workspace(alice.workspace).get(pk=endpoint.pk)
    assert (stored.url, stored.description, stored.campaign_id) == (
        f"https://{PUBLIC_V4}/a",
        "new",
        campaign_id,
    )
    services.endpoint_update(workspace=alice.workspace, endpoint=endpoint, campaign_id=None)
    assert Endpoint.objects.for_workspace(alice.workspace).get(pk=endpoint.pk).campaign_id is None


def test_rotation_keeps_the_old_secret_until_it_expires(alice, strict):
    endpoint, first = services.endpoint_create(
        workspace=alice.workspace, url=f"https://{PUBLIC_V4}/a"
    )
    before = timezone.now()
    second = services.endpoint_rotate_secret(
        workspace=alice.workspace, endpoint=endpoint, overlap=timedelta(hours=6)
    )
    assert second.startswith("whsec_") and second != first
    stored = Endpoint.objects.for_workspace(alice.workspace).get(pk=endpoint.pk)
    assert (stored.secret, stored.previous_secret) == (second, first)
    expires = stored.previous_secret_expires_at
    assert before + timedelta(hours=6) <= expires <= timezone.now() + timedelta(hours=6)
    Webhook(stored.previous_secret)  # both are usable by the signer


def test_disable_then_manual_enable(alice, strict):
    endpoint, _secret = services.endpoint_create(
        workspace=alice.workspace, url=f"https://{PUBLIC_V4}/a"
    )
    Endpoint.objects.for_workspace(alice.workspace).filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - timedelta(days=3)
    )
    assert services.endpoint_disable(endpoint, services.DISABLED_FAILING) is True
    assert services.endpoint_disable(endpoint, services.DISABLED_GONE) is False  # once
    stored = Endpoint.objects.for_workspace(alice.workspace).get(pk=endpoint.pk)
    assert not stored.enabled and stored.disabled_reason == services.DISABLED_FAILING
    assert "failed for three days" in services.disabled_reason_text(stored)

    services.endpoint_enable(workspace=alice.workspace, endpoint=stored)
    stored = Endpoint.objects.for_workspace(alice.workspace).get(pk=endpoint.pk)
    assert stored.enabled and stored.disabled_reason == "" and stored.failing_since is None


def test_services_refuse_another_workspaces_endpoint(alice, charlie, strict):
    endpoint, _secret = services.endpoint_create(
        workspace=alice.workspace, url=f"https://{PUBLIC_V4}/a"
    )
    for call in (
        lambda: services.endpoint_delete(workspace=charlie.workspace, endpoint=endpoint),
        lambda: services.endpoint_rotate_secret(workspace=charlie.workspace, endpoint=endpoint),
        lambda: services.endpoint_enable(workspace=charlie.workspace, endpoint=endpoint),
        lambda: services.endpoint_update(
            workspace=charlie.workspace, endpoint=endpoint, description="x"
        ),
    ):
        with pytest.raises(ServiceError):
            call()
    assert Endpoint.objects.for_workspace(alice.workspace).get(pk=endpoint.pk).description == ""


# --------------------------------------------------------------------------------------- API


def test_api_crud_shows_the_secret_only_on_create_and_rotate(alice, charlie, strict, dns_zone):
    dns_zone["hooks.acme.example"] = [PUBLIC_V4]
    created = alice.api.post(
        "/api/v1/webhooks/",
        {
            "url": "https://hooks.acme.example/fluenzr",
            "description": "CRM",
            "event_types": ["email.replied"],
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    secret = body["secret"]
    assert secret.startswith("whsec_")
    assert body["enabled"] is True and body["event_types"] == ["email.replied"]
    url = f"/api/v1/webhooks/{body['id']}/"

    listed = alice.api.get("/api/v1/webhooks/")
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()["results"]] == [body["id"]]
    retrieved = alice.api.get(url)
    assert retrieved.status_code == 200 and retrieved.json()["url"] == body["url"]
    for response in (listed, retrieved):
        assert '"secret"' not in response.content.decode()
        assert secret not in response.content.decode()

    patched = alice.api.patch(url, {"event_types": [], "description": "All"}, format="json")
    assert patched.status_code == 200
    assert patched.json()["event_types"] == [] and "secret" not in patched.json()

    rotated = alice.api.post(f"{url}rotate-secret/")
    assert rotated.status_code == 200
    assert rotated.json()["secret"].startswith("whsec_") and rotated.json()["secret"] != secret
    assert rotated.json()["previous_secret_expires_at"] is not None

    # Another workspace: 404 on every route.
    for method, path in (
        ("get", url),
        ("patch", url),
        ("delete", url),
        ("post", f"{url}rotate-secret/"),
        ("post", f"{url}enable/"),
    ):
        response = getattr(charlie.api, method)(path, {}, format="json")
        assert response.status_code == 404, (method, path)
    assert charlie.api.get("/api/v1/webhooks/").json()["results"] == []

    assert alice.api.delete(url).status_code == 204
    assert alice.api.get(url).status_code == 404


def test_api_refusals_name_the_field(alice, strict, dns_zone):
    dns_zone["internal.acme.example"] = [PUBLIC_V4, "10.0.0.9"]
    for data, field, words in (
        ({"url": "https://internal.acme.example/"}, "url", "resolves to 10.0.0.9"),
        ({"url": "https://127.0.0.1/"}, "url", "loopback"),
        ({"url": f"https://{PUBLIC_V4}:8080/"}, "url", "Port 8080"),
        ({"url": f"https://{PUBLIC_V4}/", "event_types": ["nope"]}, "event_types", "“nope”"),
    ):
        response = alice.api.post("/api/v1/webhooks/", data, format="json")
        assert response.status_code == 400, response.content
        error = response.json()["error"]
        assert words in error["message"] or words in str(error.get("fields", {}))
        assert field in str(error)
    assert not Endpoint.objects.for_workspace(alice.workspace).exists()


def test_api_enable_re_enables_a_disabled_endpoint(alice, strict):
    endpoint, _secret = services.endpoint_create(
        workspace=alice.workspace, url=f"https://{PUBLIC_V4}/a"
    )
    services.endpoint_disable(endpoint, services.DISABLED_GONE)
    shown = alice.api.get(f"/api/v1/webhooks/{endpoint.pk}/").json()
    assert shown["enabled"] is False and "410 Gone" in shown["disabled_reason"]
    response = alice.api.post(f"/api/v1/webhooks/{endpoint.pk}/enable/")
    assert response.status_code == 200
    assert response.json()["enabled"] is True and response.json()["disabled_reason"] == ""


def test_an_idempotent_replay_never_stores_the_secret(alice, strict):
    headers = {"HTTP_IDEMPOTENCY_KEY": "create-hook-1"}
    data = {"url": f"https://{PUBLIC_V4}/hook"}
    first = alice.api.post("/api/v1/webhooks/", data, format="json", **headers)
    assert first.status_code == 201 and first.json()["secret"].startswith("whsec_")
    replay = alice.api.post("/api/v1/webhooks/", data, format="json", **headers)
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"] and replay.json()["secret"] is None
    assert Endpoint.objects.for_workspace(alice.workspace).count() == 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT response_body::text FROM fluenzr_idempotencyrecord")
        stored = " ".join(row[0] or "" for row in cursor.fetchall())
    assert first.json()["id"] in stored and first.json()["secret"] not in stored
