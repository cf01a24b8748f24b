"""`Idempotency-Key` on POST: the same key and body within 24 hours returns the first
response instead of creating a second object. The same key with another body is refused;
a request still in progress under that key answers 409."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response

from fluenzr.models import IdempotencyRecord

HEADER = "Idempotency-Key"
LIFETIME = timedelta(hours=24)
MAX_KEY_LENGTH = 255


class IdempotentReplay(exceptions.APIException):
    """Raised to short-circuit the view with the stored first response."""

    def __init__(self, record: IdempotencyRecord) -> None:
        super().__init__()
        self.record = record


class IdempotencyConflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_in_progress"


class IdempotencyKeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"


def _fingerprint(request: Request) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode() + b" " + request.get_full_path().encode() + b"\n")
    digest.update(request.body)
    return digest.hexdigest()


def begin(request: Request) -> IdempotencyRecord | None:
    """Before the view runs: replay, refuse, or reserve the key for this request."""
    key = request.headers.get(HEADER)
    if request.method != "POST" or key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise exceptions.ValidationError(
            {HEADER: [_("Idempotency-Key must be 1 to 255 characters, e.g. a UUID.")]}
        )
    workspace = request.workspace
    fingerprint = _fingerprint(request)
    now = timezone.now()
    records = IdempotencyRecord.objects.for_workspace(workspace)
    records.filter(key=key, expires_at__lte=now).delete()
    try:
        with transaction.atomic():
            return records.create(
                workspace=workspace, key=key, fingerprint=fingerprint, expires_at=now + LIFETIME
            )
    except IntegrityError:
        existing = records.get(key=key)
    if existing.fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            _(
                "This Idempotency-Key was already used with a different request. "
                "Use a new key for a new request."
            )
        )
    if existing.status_code is None:
        raise IdempotencyConflict(
            _("A request with this Idempotency-Key is still in progress. Retry in a moment.")
        )
    raise IdempotentReplay(existing)


def finish(record: IdempotencyRecord, response: Response) -> None:
    """After the view: keep the response for replay, or free the key if the server failed."""
    if response.status_code >= 500:
        record.delete()
        return
    record.status_code = response.status_code
    record.response_body = response.data
    record.save(update_fields=["status_code", "response_body"])


def replay(record: IdempotencyRecord) -> Response:
    response = Response(record.response_body, status=record.status_code)
    response["Idempotent-Replayed"] = "true"
    return response
