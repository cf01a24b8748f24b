"""The event catalogue in the API docs: every type emit() accepts is documented, with an
example payload, and the docs carry the receiver's guide (headers, retries, verification)."""

from __future__ import annotations

import json

from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from webhooks.catalogue import EVENT_CATALOGUE, example_payload
from webhooks.delivery import RETRY_DELAYS, signed_headers
from webhooks.events import EVENT_TYPES
from webhooks.services import new_secret


def test_every_event_type_has_a_description_and_an_example():
    assert set(EVENT_CATALOGUE) == set(EVENT_TYPES)
    for type, (description, data) in EVENT_CATALOGUE.items():
        assert description.strip().endswith("."), type
        assert isinstance(data, dict) and data, type
        body = example_payload(type)
        assert set(body) == {"id", "type", "created_at", "workspace", "data"}
        assert body["type"] == type
        json.dumps(body)  # serialisable as delivered


def test_examples_name_the_objects_with_ids_and_api_urls():
    for type, (_description, data) in EVENT_CATALOGUE.items():
        for key in ("contact", "campaign", "account", "import", "reply"):
            if isinstance(data.get(key), dict):
                assert data[key]["id"] and data[key]["url"].startswith("/api/v1/"), (type, key)
        if type.startswith("email."):
            assert {"email", "campaign", "contact"} <= set(data), type


def test_the_python_sample_verifies_what_the_engine_signs():
    """The documented verification is the library's own, applied to the engine's headers."""
    secret = new_secret()
    body = json.dumps(example_payload("email.sent"))
    headers = signed_headers(
        message_id="msg_1", body=body, secrets=[secret], timestamp=timezone.now()
    )
    assert Webhook(secret).verify(body, headers)["type"] == "email.sent"


def test_the_api_docs_show_the_guide_and_every_event_type(db, client):
    assert client.get("/api/v1/docs/").status_code == 200
    response = client.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    description = json.loads(response.content)["info"]["description"]
    for type, (text, _data) in EVENT_CATALOGUE.items():
        assert f"`{type}`" in description
        assert text in description
    prose = " ".join(description.split())  # the Markdown's line breaks aside
    for promise in (
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "deduplicate on it",
        "both signatures are sent",
        "HTTPS only",
        "within 30 seconds",
        "Retry-After",
        "410 Gone disables the endpoint",
        "A 3xx is a failure",
        "3 days of failures",
        "pip install standardwebhooks",
        "npm install standardwebhooks",
        'import { Webhook } from "standardwebhooks"',
    ):
        assert promise in prose, promise
    assert "5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h" in prose
    assert len(RETRY_DELAYS) == 9  # the documented schedule is the engine's
    assert '"type": "lead.status_changed"' in description  # the example bodies are there
