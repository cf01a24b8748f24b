"""Webhook endpoints: create, change, delete, rotate the secret, enable and disable.

Webhooks are a Pro feature. A URL is checked by the SSRF guard (webhooks.ssrf) when it is
saved, outside any transaction (it resolves DNS), and again before every delivery.
The secret (`whsec_` + base64 of 32 random bytes, Standard Webhooks) is returned by
endpoint_create and endpoint_rotate_secret only; it is stored encrypted.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from accounts.errors import ServiceError
from accounts.models import Workspace
from accounts.services import require_in_workspace, workspace_require_feature
from webhooks.events import EVENT_TYPES, TEST_EVENT_TYPE
from webhooks.models import Delivery, DeliveryStatus, Endpoint, Event
from webhooks.ssrf import UnsafeDestination, check_url

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
SECRET_BYTES = 32
MAX_ENDPOINTS_PER_WORKSPACE = 20
URL_MAX_LENGTH = 2000
DESCRIPTION_MAX_LENGTH = 300

# Why FluenzR disabled an endpoint: stored in English, shown translated (disabled_reason_text).
DISABLED_GONE = gettext_noop(
    "Your endpoint answered 410 Gone, so FluenzR stopped sending to it. Re-enable it once it "
    "accepts webhooks again."
)
DISABLED_FAILING = gettext_noop(
    "Every delivery to your endpoint failed for three days, so FluenzR stopped sending to it. "
    "Fix it, check the delivery log, then re-enable it."
)

_UNCHANGED: Any = object()


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def disabled_reason_text(endpoint: Endpoint) -> str:
    """The reason an endpoint is disabled, in the reader's language."""
    return _(endpoint.disabled_reason) if endpoint.disabled_reason else ""


def _clean_url(url: str) -> str:
    url = (url or "").strip()
    if not url:
        raise ServiceError(
            _("Enter your endpoint's URL, such as https://hooks.example.com/fluenzr."), field="url"
        )
    if len(url) > URL_MAX_LENGTH:
        raise ServiceError(
            _("This URL is longer than %(maximum)d characters: use a shorter one.")
            % {"maximum": URL_MAX_LENGTH},
            field="url",
        )
    try:
        check_url(url)
    except UnsafeDestination as error:
        raise ServiceError(error.message, field="url") from None
    return url


def _clean_description(description: str) -> str:
    description = (description or "").strip()
    if len(description) > DESCRIPTION_MAX_LENGTH:
        raise ServiceError(
            _("Shorten the description to %(maximum)d characters.")
            % {"maximum": DESCRIPTION_MAX_LENGTH},
            field="description",
        )
    return description


def _clean_event_types(event_types: Iterable[str]) -> list[str]:
    """The subscribed types, sorted; [] means every type."""
    if isinstance(event_types, str):
        event_types = [event_types]
    cleaned = sorted({str(event_type).strip() for event_type in event_types})
    unknown = [event_type for event_type in cleaned if event_type not in EVENT_TYPES]
    if unknown:
        raise ServiceError(
            ngettext(
                "Unknown event type %(types)s: choose from %(known)s, or none for every event.",
                "Unknown event types %(types)s: choose from %(known)s, or none for every event.",
                len(unknown),
            )
            % {
                "types": ", ".join(f"“{event_type}”" for event_type in unknown),
                "known": ", ".join(sorted(EVENT_TYPES)),
            },
            field="event_types",
        )
    return cleaned


def _clean_campaign_id(campaign_id: uuid.UUID | str | None) -> uuid.UUID | None:
    if campaign_id in (None, ""):
        return None
    if isinstance(campaign_id, uuid.UUID):
        return campaign_id
    try:
        return uuid.UUID(str(campaign_id))
    except ValueError:
        raise ServiceError(
            _("“%(value)s” is not a campaign id: copy the id from the campaign, or leave it empty.")
            % {"value": campaign_id},
            field="campaign_id",
        ) from None


def endpoint_create(
    *,
    workspace: Workspace,
    url: str,
    description: str = "",
    event_types: Iterable[str] = (),
    campaign_id: uuid.UUID | str | None = None,
) -> tuple[Endpoint, str]:
    """A new enabled endpoint and its secret, which is never shown again."""
    workspace_require_feature(workspace=workspace, feature="webhooks")
    description = _clean_description(description)
    event_types = _clean_event_types(event_types)
    campaign_id = _clean_campaign_id(campaign_id)
    url = _clean_url(url)  # DNS: before the transaction
    secret = new_secret()
    with transaction.atomic():
        # Serialise creations in the workspace, so two at once cannot pass the maximum.
        Workspace.objects.select_for_update().filter(pk=workspace.pk).first()
        if Endpoint.objects.for_workspace(workspace).count() >= MAX_ENDPOINTS_PER_WORKSPACE:
            raise ServiceError(
                _(
                    "A workspace can have up to %(maximum)d webhook endpoints: delete one you "
                    "no longer use first."
                )
                % {"maximum": MAX_ENDPOINTS_PER_WORKSPACE}
            )
        endpoint = Endpoint.objects.create(
            workspace=workspace,
            url=url,
            description=description,
            event_types=event_types,
            campaign_id=campaign_id,
            secret=secret,
            status_since=timezone.now(),
        )
    return endpoint, secret


def endpoint_update(
    *,
    workspace: Workspace,
    endpoint: Endpoint,
    url: str | None = None,
    description: str | None = None,
    event_types: Iterable[str] | None = None,
    campaign_id: uuid.UUID | str | None = _UNCHANGED,
) -> Endpoint:
    """Change what is given (None = unchanged; campaign_id=None removes the filter)."""
    require_in_workspace(endpoint, workspace)
    workspace_require_feature(workspace=workspace, feature="webhooks")
    changes: dict[str, Any] = {}
    if description is not None:
        changes["description"] = _clean_description(description)
    if event_types is not None:
        changes["event_types"] = _clean_event_types(event_types)
    if campaign_id is not _UNCHANGED:
        changes["campaign_id"] = _clean_campaign_id(campaign_id)
    if url is not None:
        changes["url"] = _clean_url(url)
    if changes:
        Endpoint.objects.for_workspace(workspace).filter(pk=endpoint.pk).update(**changes)
        for field, value in changes.items():
            setattr(endpoint, field, value)
    return endpoint


def endpoint_delete(*, workspace: Workspace, endpoint: Endpoint) -> None:
    """The endpoint, its deliveries and their log."""
    require_in_workspace(endpoint, workspace)
    Endpoint.objects.for_workspace(workspace).filter(pk=endpoint.pk).delete()


def endpoint_rotate_secret(
    *, workspace: Workspace, endpoint: Endpoint, overlap: timedelta = timedelta(hours=24)
) -> str:
    """A new secret, returned once. The old one keeps signing too (both signatures are sent)
    until `overlap` has passed, so the receiver can switch without losing a delivery."""
    require_in_workspace(endpoint, workspace)
    secret = new_secret()
    with transaction.atomic():
        locked = Endpoint.objects.for_workspace(workspace).select_for_update().get(pk=endpoint.pk)
        locked.previous_secret = locked.secret
        locked.previous_secret_expires_at = timezone.now() + overlap
        locked.secret = secret
        locked.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at"])
    endpoint.secret, endpoint.previous_secret = locked.secret, locked.previous_secret
    endpoint.previous_secret_expires_at = locked.previous_secret_expires_at
    return secret


def endpoint_enable(*, workspace: Workspace, endpoint: Endpoint) -> Endpoint:
    """Manual re-enable after FluenzR disabled it: deliveries start again, failures count from
    zero."""
    require_in_workspace(endpoint, workspace)
    workspace_require_feature(workspace=workspace, feature="webhooks")
    if endpoint.enabled and not endpoint.disabled_reason and endpoint.failing_since is None:
        return endpoint
    now = timezone.now()
    Endpoint.objects.for_workspace(workspace).filter(pk=endpoint.pk).update(
        enabled=True, disabled_reason="", failing_since=None, status_since=now
    )
    endpoint.enabled, endpoint.disabled_reason = True, ""
    endpoint.failing_since, endpoint.status_since = None, now
    return endpoint


def endpoint_disable(endpoint: Endpoint, reason: str) -> bool:
    """Stop delivering to `endpoint`. `reason` is FluenzR's English sentence (DISABLED_GONE,
    DISABLED_FAILING…), shown translated. True if this call disabled it (False if it already
    was), so the owners are told once."""
    now = timezone.now()
    changed = (
        Endpoint.objects.for_workspace(endpoint.workspace_id)
        .filter(pk=endpoint.pk, enabled=True)
        .update(enabled=False, disabled_reason=reason[:300], status_since=now)
    )
    if changed:
        endpoint.enabled, endpoint.disabled_reason, endpoint.status_since = False, reason[:300], now
    return bool(changed)


def endpoint_send_test(*, workspace: Workspace, endpoint: Endpoint) -> Delivery:
    """A "webhook.test" event for this endpoint alone, sent now; the delivery, with its
    attempt in the log. Marked fanned out at once, so no other endpoint receives it."""
    from webhooks import delivery as engine  # the engine imports this module

    require_in_workspace(endpoint, workspace)
    workspace_require_feature(workspace=workspace, feature="webhooks")
    now = timezone.now()
    with transaction.atomic():
        event = Event.objects.create(
            workspace=workspace,
            type=TEST_EVENT_TYPE,
            data={"endpoint": {"id": str(endpoint.pk)}, "test": True},
            fanned_out_at=now,
        )
        # Leased from the start, so no worker claims it while it is sent here.
        delivery = Delivery.objects.create(
            workspace=workspace,
            endpoint=endpoint,
            event=event,
            next_attempt_at=now,
            status=DeliveryStatus.DELIVERING,
            leased_until=engine.lease_until(now),
        )
    return engine.delivery_send(delivery.pk, now=now)


def delivery_replay(*, workspace: Workspace, delivery: Delivery) -> Delivery:
    """One more attempt of any delivery, now: same event, so the same webhook-id (receivers
    dedupe on it). Leased while it is sent here, so no worker sends it at the same time."""
    from webhooks import delivery as engine  # the engine imports this module

    require_in_workspace(delivery, workspace)
    workspace_require_feature(workspace=workspace, feature="webhooks")
    now = timezone.now()
    reset = (
        Delivery.objects.for_workspace(workspace)
        .filter(pk=delivery.pk)
        .exclude(status=DeliveryStatus.DELIVERING)
        .update(
            status=DeliveryStatus.DELIVERING,
            next_attempt_at=now,
            leased_until=engine.lease_until(now),
        )
    )
    if not reset:
        raise ServiceError(
            _("This delivery is being sent right now: wait a few seconds, then check the log.")
        )
    return engine.delivery_send(delivery.pk, now=now)
