"""The API base: bearer keys, one error format, plan gating, rate limits, cursor pages,
Idempotency-Key and the OpenAPI schema."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.utils import timezone
from openapi_spec_validator import validate
from rest_framework.test import APIClient

from accounts import services
from accounts.models import ApiKey, Invitation
from fluenzr.models import IdempotencyRecord
from webhooks.events import emit

# Rate-limit tests use hour-long windows, so no window can end in the middle of a test.
HOUR = 3600


def _client(header: str | None) -> APIClient:
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    return client


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "missing_api_key"),
        ("Basic dXNlcjpwYXNz", "malformed_api_key"),
        ("Bearer not-a-key", "malformed_api_key"),
        ("Bearer flz_sk_tooShort", "malformed_api_key"),
        ("Bearer flz_sk_" + "x" * 36 + "!!!!", "malformed_api_key"),
        ("Bearer flz_sk_" + "x" * 40, "invalid_api_key"),
    ],
)
def test_bad_keys_get_401_with_the_json_error(db, header, code):
    response = _client(header).get("/api/v1/workspace")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["error"]["code"] == code
    assert "flz_sk_" in body["error"]["message"] or "Settings" in body["error"]["message"]
    assert response["WWW-Authenticate"].startswith("Bearer")


@override_settings(API_AUTH_FAILURES_PER_ADDRESS=3, API_RATE_LIMIT_WINDOW_SECONDS=HOUR)
def test_floods_of_unknown_keys_from_one_address_get_429(alice):
    unknown = _client("Bearer flz_sk_" + "0" * 40)
    statuses = [unknown.get("/api/v1/workspace").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    response = unknown.get("/api/v1/workspace")
    assert response.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(response["Retry-After"]) <= HOUR
    other_address = unknown.get("/api/v1/workspace", REMOTE_ADDR="203.0.113.9")
    assert other_address.status_code == 401


def test_revoked_key_gets_401(alice):
    api_key = ApiKey.objects.for_workspace(alice.workspace).get(name="tests")
    services.api_key_revoke(workspace=alice.workspace, actor=alice.user, api_key=api_key)
    response = alice.api.get("/api/v1/workspace")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "revoked_api_key"


def test_workspace_endpoint_describes_the_keys_workspace(alice, charlie):
    response = alice.api.get("/api/v1/workspace")
    assert response.status_code == 200
    data = response.json()
    assert data["id"] == str(alice.workspace.pk)
    assert data["name"] == "Alice Co"
    assert data["plan"] == "pro"
    assert data["limits"]["api"] is True
    assert data["limits"]["max_mailboxes"] is None
    assert data["usage"] == {"members": 1, "active_api_keys": 1}
    assert charlie.api.get("/api/v1/workspace").json()["name"] == "Charlie Ltd"


def test_key_use_is_recorded_at_most_once_a_minute(alice):
    alice.api.get("/api/v1/workspace")
    keys = ApiKey.objects.for_workspace(alice.workspace).filter(name="tests")
    first = keys.get().last_used_at
    assert first is not None
    alice.api.get("/api/v1/workspace")
    assert keys.get().last_used_at == first  # within the minute: no write
    keys.update(last_used_at=first - timedelta(seconds=61))
    alice.api.get("/api/v1/workspace")
    assert keys.get().last_used_at > first  # a minute later: recorded again


def test_api_keys_survive_a_secret_key_rotation(alice, settings):
    old_secret = settings.SECRET_KEY
    settings.SECRET_KEY = "a-brand-new-secret-key-" + "n" * 40
    settings.SECRET_KEY_FALLBACKS = [old_secret]
    assert alice.api.get("/api/v1/workspace").status_code == 200  # found under the old key
    settings.SECRET_KEY_FALLBACKS = []
    assert alice.api.get("/api/v1/workspace").status_code == 200  # re-hashed on that use


def test_plan_without_api_gets_403_naming_the_plan(alice):
    services.workspace_set_plan(workspace=alice.workspace, plan="starter")
    response = alice.api.get("/api/v1/workspace")
    assert response.status_code == 403
    assert response["X-RateLimit-Remaining"] == "599"  # counted like any other request
    error = response.json()["error"]
    assert error["code"] == "plan_limit"
    assert "Pro" in error["message"] and "Starter" in error["message"]


def test_errors_are_in_the_callers_language(db):
    response = _client(None).get("/api/v1/workspace", HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 401
    assert "Clé" in response.json()["error"]["message"]


@override_settings(API_RATE_LIMIT_WINDOW_SECONDS=HOUR)
def test_every_response_carries_rate_limit_headers(alice):
    first = alice.api.get("/api/v1/workspace")
    second = alice.api.get("/api/v1/members/")
    assert first["X-RateLimit-Limit"] == "600"
    assert int(first["X-RateLimit-Remaining"]) == int(second["X-RateLimit-Remaining"]) + 1
    assert int(second["X-RateLimit-Reset"]) > 0


@override_settings(
    API_RATE_LIMIT_PER_KEY=3, API_RATE_LIMIT_PER_WORKSPACE=100, API_RATE_LIMIT_WINDOW_SECONDS=HOUR
)
def test_over_the_key_limit_gets_429_with_retry_after(alice):
    statuses = [alice.api.get("/api/v1/workspace").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = alice.api.get("/api/v1/workspace")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= HOUR
    assert response["X-RateLimit-Remaining"] == "0"
    assert response.json()["error"]["code"] == "rate_limited"


@override_settings(
    API_RATE_LIMIT_PER_KEY=100, API_RATE_LIMIT_PER_WORKSPACE=3, API_RATE_LIMIT_WINDOW_SECONDS=HOUR
)
def test_the_workspace_limit_spans_all_its_keys(alice):
    _key, second_token = services.api_key_create(
        workspace=alice.workspace, created_by=None, name="second"
    )
    second = _client(f"Bearer {second_token}")
    assert [alice.api.get("/api/v1/workspace").status_code for _ in range(2)] == [200, 200]
    assert second.get("/api/v1/workspace").status_code == 200
    assert second.get("/api/v1/workspace").status_code == 429
    assert alice.api.get("/api/v1/workspace").status_code == 429


def test_cursor_pagination_walks_every_event_once(alice):
    for n in range(7):
        emit(workspace=alice.workspace, type="member.joined", data={"n": n})
    seen: list[str] = []
    url = "/api/v1/events/?limit=3"
    while url:
        page = alice.api.get(url).json()
        seen.extend(item["id"] for item in page["results"])
        url = page["next"]
    assert len(seen) == len(set(seen)) == 8  # 7 + api_key.created by the fixture
    assert page["previous"] is not None


@pytest.mark.parametrize("limit", ["0", "101", "many"])
def test_limit_out_of_range_is_a_validation_error(alice, limit):
    response = alice.api.get(f"/api/v1/events/?limit={limit}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "limit" in error["fields"]


def test_validation_errors_list_the_fields(alice):
    response = alice.api.post(
        "/api/v1/invitations/", {"email": "nope", "role": "king"}, format="json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert set(error["fields"]) == {"email", "role"}
    assert "email" in error["message"]


def test_service_errors_use_the_same_format(alice):
    response = alice.api.post(
        "/api/v1/invitations/", {"email": "alice@example.test"}, format="json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["fields"] == {
        "email": ["alice@example.test is already a member of this workspace."]
    }


def test_idempotency_key_returns_the_first_response(alice):
    key = str(uuid.uuid4())
    body = {"email": "dora@example.test", "role": "admin"}
    first = alice.api.post("/api/v1/invitations/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    second = alice.api.post("/api/v1/invitations/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Invitation.objects.for_workspace(alice.workspace).count() == 1


def test_a_reservation_whose_request_died_is_abandoned_after_a_minute(alice):
    body = {"email": "dora@example.test"}
    IdempotencyRecord.objects.create(
        workspace=alice.workspace,
        key="crashed",
        fingerprint="left by a worker that died mid-request",
        expires_at=timezone.now() + timedelta(hours=24),
    )
    post = alice.api.post
    response = post("/api/v1/invitations/", body, format="json", HTTP_IDEMPOTENCY_KEY="crashed")
    assert response.status_code == 422  # fresh: still that other request's key
    IdempotencyRecord.objects.for_workspace(alice.workspace).filter(key="crashed").update(
        created_at=timezone.now() - timedelta(minutes=2)
    )
    response = post("/api/v1/invitations/", body, format="json", HTTP_IDEMPOTENCY_KEY="crashed")
    assert response.status_code == 201


def test_idempotency_with_a_large_multipart_upload(alice):
    upload = SimpleUploadedFile("big.csv", b"email\n" + b"x@example.test\n" * 400_000)  # 6 MB
    body = {"email": "dora@example.test", "role": "member", "attachment": upload}
    post = alice.api.post
    first = post("/api/v1/invitations/", body, format="multipart", HTTP_IDEMPOTENCY_KEY="up")
    assert first.status_code == 201, first.content
    upload.seek(0)
    again = post("/api/v1/invitations/", body, format="multipart", HTTP_IDEMPOTENCY_KEY="up")
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]


def test_idempotency_key_reused_with_another_body_is_refused(alice):
    key = "retry-42"
    alice.api.post(
        "/api/v1/invitations/", {"email": "a@example.test"}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    response = alice.api.post(
        "/api/v1/invitations/", {"email": "b@example.test"}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert Invitation.objects.for_workspace(alice.workspace).count() == 1


def test_idempotency_keys_are_per_workspace(alice, charlie):
    body = {"email": "dora@example.test"}
    assert (
        alice.api.post(
            "/api/v1/invitations/", body, format="json", HTTP_IDEMPOTENCY_KEY="k"
        ).status_code
        == 201
    )
    response = charlie.api.post(
        "/api/v1/invitations/", body, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert response.status_code == 201
    alice_invitation = Invitation.objects.for_workspace(alice.workspace).get()
    assert response.json()["id"] != str(alice_invitation.pk)
    charlies = Invitation.objects.for_workspace(charlie.workspace)
    assert charlies.filter(pk=response.json()["id"]).exists()


def test_without_idempotency_key_two_posts_do_two_things(alice):
    alice.api.post("/api/v1/invitations/", {"email": "a@example.test"}, format="json")
    alice.api.post("/api/v1/invitations/", {"email": "b@example.test"}, format="json")
    assert Invitation.objects.for_workspace(alice.workspace).count() == 2


def test_an_api_key_cannot_invite_an_owner(alice):
    response = alice.api.post(
        "/api/v1/invitations/", {"email": "boss@example.test", "role": "owner"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert not Invitation.objects.for_workspace(alice.workspace).exists()


def test_invitation_revoke_through_the_api(alice):
    created = alice.api.post(
        "/api/v1/invitations/", {"email": "a@example.test"}, format="json"
    ).json()
    assert alice.api.delete(f"/api/v1/invitations/{created['id']}/").status_code == 204
    assert alice.api.get(f"/api/v1/invitations/{created['id']}/").json()["status"] == "revoked"


def test_unknown_api_path_answers_json_404(alice):
    response = alice.api.get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_openapi_schema_is_valid_and_public(db):
    response = APIClient().get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    validate(schema)
    assert "/api/v1/workspace" in schema["paths"]
    assert "/api/v1/invitations/" in schema["paths"]
    assert schema["components"]["securitySchemes"]


def test_api_docs_page_is_served_without_a_cdn(db, client):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
