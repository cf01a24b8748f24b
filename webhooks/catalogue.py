"""The event catalogue and the receiver's guide, as the API docs show them.

Pure data (no model import), so settings.py can render it into the OpenAPI description. Each
example is the `data` an event of that type carries, in the shape the code that emits it
builds (contact_payload, campaign_payload, email_payload, mailbox_payload, import_payload…).
"""

from __future__ import annotations

import json
from typing import Any

_WS = "7d1c5a2e-3f40-4b8e-9a61-0c2f5b8e4d10"
_CONTACT = {
    "id": "0b5e8f0a-6c2d-4e1b-8f3a-2d9c7e1a4b60",
    "url": "/api/v1/contacts/0b5e8f0a-6c2d-4e1b-8f3a-2d9c7e1a4b60/",
    "email": "ada@example.com",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "company": "Analytical Engines",
    "status": "active",
}
_CAMPAIGN = {
    "id": "5f3a9c1e-2b7d-4a60-8e4f-1c9d0b6a7e21",
    "url": "/api/v1/campaigns/5f3a9c1e-2b7d-4a60-8e4f-1c9d0b6a7e21/",
    "name": "Q3 outreach",
    "status": "active",
    "status_reason": "",
}
_EMAIL = {
    "email": {
        "id": "c2e4a6b8-1d3f-4a5b-9c7d-8e0f1a2b3c4d",
        "message_id": "<c2e4a6b8.1d3f@mail.example.com>",
        "step": 1,
        "variant": "A",
        "mailbox": "sales@example.com",
    },
    "campaign": _CAMPAIGN,
    "contact": _CONTACT,
}
_ACCOUNT = {
    "id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    "url": "/api/v1/email-accounts/9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d/",
    "email": "sales@example.com",
    "provider": "smtp",
    "status": "active",
    "status_reason": "",
    "paused_until": None,
}
_REPLY = {
    "id": "e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b",
    "url": "/api/v1/replies/e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b/",
    "from": "ada@example.com",
    "subject": "Re: Quick question",
    "text": "Sounds interesting, can we talk on Thursday?",
    "received_at": "2026-07-01T09:30:00+00:00",
    "low_confidence": False,
}
_API_KEY = {
    "id": "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f",
    "name": "CRM sync",
    "masked": "flz_sk_ab…wxyz",
}


def _account(**changes: Any) -> dict[str, Any]:
    return {"account": _ACCOUNT | changes}


# type → (one-line description, example `data`)
EVENT_CATALOGUE: dict[str, tuple[str, dict[str, Any]]] = {
    "member.invited": (
        "Someone was invited to the workspace.",
        {
            "invitation": {
                "id": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
                "email": "grace@example.com",
                "role": "member",
            }
        },
    ),
    "member.joined": (
        "An invitation was accepted: a new member joined the workspace.",
        {"user": {"email": "grace@example.com"}, "role": "member"},
    ),
    "member.removed": (
        "A member was removed from the workspace (their API keys are revoked).",
        {"user": {"email": "grace@example.com"}, "by": {"email": "owner@example.com"}},
    ),
    "api_key.created": ("An API key was created.", {"api_key": _API_KEY}),
    "api_key.revoked": (
        "An API key was revoked; it stops working at once.",
        {"api_key": _API_KEY, "by": {"email": "owner@example.com"}},
    ),
    "contact.created": (
        "A contact was added (by hand, the API or an import).",
        {"contact": _CONTACT},
    ),
    "contact.unsubscribed": (
        "A contact unsubscribed (link, reply or by hand); they are suppressed from every campaign.",
        {"contact": _CONTACT | {"status": "unsubscribed"}, "source": "Unsubscribe link"},
    ),
    "import.completed": (
        "A CSV import finished.",
        {
            "import": {
                "id": "6e7f8a9b-0c1d-4e2f-9a3b-4c5d6e7f8a9b",
                "url": "/api/v1/imports/6e7f8a9b-0c1d-4e2f-9a3b-4c5d6e7f8a9b/",
                "number": 3,
                "filename": "leads.csv",
                "status": "completed",
                "rows_read": 1200,
                "created": 1150,
                "updated": 20,
                "skipped_duplicates": 18,
                "invalid": 12,
            }
        },
    ),
    "account.connected": ("An email account was connected and checked.", _account()),
    "account.error": (
        "An email account stopped working (sign-in refused, server unreachable…); sending waits.",
        _account(status="error", status_reason="The SMTP server refused the password."),
    ),
    "account.paused": (
        "An email account was paused (by a user, or until its daily quota resets).",
        _account(status="paused", status_reason="Paused by a user."),
    ),
    "account.resumed": ("A paused email account sends again.", _account()),
    "account.disconnected": (
        "An email account was disconnected (its credentials were removed).",
        _account(status="disconnected"),
    ),
    "account.deleted": ("An email account was deleted.", _account(status="deleted")),
    "campaign.launched": ("A campaign was launched.", {"campaign": _CAMPAIGN}),
    "campaign.paused": (
        "A campaign was paused, by a user or by bounce protection (then with the reason).",
        {
            "campaign": _CAMPAIGN | {"status": "paused", "status_reason": "bounce_protection"},
            "reason": "bounce_protection",
            "bounce_rate_percent": 6.2,
            "limit_percent": 5,
            "sends": 200,
            "at": "2026-07-01T09:30:00+00:00",
        },
    ),
    "campaign.resumed": ("A paused campaign was resumed.", {"campaign": _CAMPAIGN}),
    "campaign.completed": (
        "Every contact of a campaign has finished its sequence.",
        {"campaign": _CAMPAIGN | {"status": "completed"}},
    ),
    "email.sent": ("A campaign email was accepted by the sending server.", _EMAIL),
    "email.bounced": (
        "A campaign email bounced (hard); the address is suppressed.",
        _EMAIL
        | {
            "bounce": {
                "type": "hard",
                "code": 550,
                "enhanced_code": "5.1.1",
                "diagnostic": "550 5.1.1 User unknown",
                "source": "dsn",
            }
        },
    ),
    "email.failed": (
        "A campaign email could not be sent; the contact leaves the sequence.",
        _EMAIL | {"error": "The SMTP server closed the connection."},
    ),
    "email.opened": ("A campaign email was opened for the first time (by a human).", _EMAIL),
    "email.clicked": (
        "A link in a campaign email was clicked for the first time.",
        _EMAIL | {"url": "https://example.com/pricing"},
    ),
    "email.replied": (
        "A contact replied to a campaign email; their sequence stops.",
        _EMAIL | {"reply": _REPLY},
    ),
    "email.auto_replied": (
        "An automatic reply (out of office…) arrived; the contact is paused until they are back.",
        _EMAIL
        | {
            "auto_reply": _REPLY
            | {
                "subject": "Out of office",
                "out_of_office": True,
                "return_date": "2026-07-15",
                "paused_until": "2026-07-16T00:00:00+00:00",
            }
        },
    ),
    "webhook.test": (
        'Sent by "Send test event" (Settings → Webhooks or the API) to that one endpoint only.',
        {"endpoint": {"id": "4d5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f7a"}, "test": True},
    ),
    "lead.status_changed": (
        "A contact's lead status changed (in the unibox or the API).",
        {
            "contact": _CONTACT,
            "old_status": "interested",
            "new_status": "meeting_booked",
            "changed_by": "owner@example.com",
        },
    ),
}


def example_payload(type: str) -> dict[str, Any]:
    """The whole body a receiver gets for an event of this type."""
    return {
        "id": "8f14e45f-ceea-4e7a-9b2c-6d1e3a5b7c90",
        "type": type,
        "created_at": "2026-07-01T09:30:00.123456Z",
        "workspace": {"id": _WS},
        "data": EVENT_CATALOGUE[type][1],
    }


GUIDE = """
## Webhooks

Pro workspaces add endpoints in Settings → Webhooks or with `/api/v1/webhooks/`. FluenzR POSTs
each event as JSON following the [Standard Webhooks](https://www.standardwebhooks.com/)
specification.

- **HTTPS only.** Answer with a 2xx **within 30 seconds**; do slow work after answering.
- **Headers.** `webhook-id` is the event's id and stays the same on every retry:
  **deduplicate on it** (a delivery may arrive more than once). `webhook-timestamp` is the
  send time in Unix seconds (refuse old ones). `webhook-signature` is `v1,<base64 HMAC-SHA256
  of "{id}.{timestamp}.{body}">`, keyed with your endpoint's secret (`whsec_…`, shown once).
  While a secret is being rotated, both signatures are sent, space-separated: accept either.
- **Retries.** A failed attempt is retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h
  and 24 h, each with some jitter. A `Retry-After` header is honoured (up to 24 h). A 3xx is a
  failure (redirects are never followed). **410 Gone disables the endpoint.** After about
  3 days of failures the endpoint is disabled and the workspace's owners are emailed; re-enable
  it in Settings → Webhooks. Every attempt is in the delivery log, with a Replay button.
- **Concurrency.** At most 4 requests are in flight to one endpoint at a time. While your
  endpoint is failing, FluenzR sends one request at a time, so a server coming back up is not
  flooded with retries; its first 2xx restores the full rate. Events may arrive out of order:
  use `created_at` if order matters.

### Verifying a signature

Verify against the raw request body, before parsing it.

Python (`pip install standardwebhooks`):

```python
from standardwebhooks import Webhook, WebhookVerificationError

wh = Webhook("whsec_…")  # your endpoint's secret

def receive(request):
    try:
        event = wh.verify(request.body, request.headers)  # checks signature and timestamp
    except WebhookVerificationError:
        return 400
    if already_seen(request.headers["webhook-id"]):
        return 204  # a retry of an event you already handled
    handle(event["type"], event["data"])
    return 204
```

Node (`npm install standardwebhooks`):

```js
import { Webhook } from "standardwebhooks";

const wh = new Webhook("whsec_…");  // your endpoint's secret

app.post("/fluenzr", express.raw({ type: "application/json" }), (req, res) => {
  let event;
  try {
    event = wh.verify(req.body, req.headers);  // checks signature and timestamp
  } catch (err) {
    return res.status(400).end();
  }
  // deduplicate on req.headers["webhook-id"], then handle event.type / event.data
  res.status(204).end();
});
```
"""


def render_markdown() -> str:
    """The guide and the catalogue, as Markdown for the API docs' description."""
    parts = [
        GUIDE.strip(),
        "### Event catalogue",
        "Every body: `id` (= `webhook-id`), `type`, `created_at`, `workspace` and `data`, the "
        "objects concerned with their ids and API URLs. Subscribe to some types or to all.",
    ]
    for type, (description, _data) in sorted(EVENT_CATALOGUE.items()):
        example = json.dumps(example_payload(type), indent=2, ensure_ascii=False)
        parts.append(f"#### `{type}`\n\n{description}\n\n```json\n{example}\n```")
    return "\n\n".join(parts)
