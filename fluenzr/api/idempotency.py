"""`Idempotency-Key` on POST: the same key and body within 24 hours returns the first
response instead of creating a second object. The same key with another body is refused;
a request still in progress under that key answers 409. A reservation whose request died
(a crashed worker) is abandoned after a minute, so the key does not stay stuck."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from django.core.files.uploadedfile import UploadedFile
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response

from fluenzr.models import IdempotencyRecord

HEADER = "Idempotency-Key"
LIFETIME = timedelta(hours=24)
ABANDONED_AFTER = timedelta(minutes=1)
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
    """Method, path and parsed body. Uploaded files are hashed in chunks, never read whole,
    so the fingerprint costs no more memory than the upload itself."""
    digest = hashlib.sha256()
    digest.update(request.method.encode() + b" " + request.get_full_path().encode() + b"\n")
    data = request.data
    items = (
        [(key, value) for key in sorted(data) for value in data.getlist(key)]
        if hasattr(data, "getlist")
        else [(key, data[key]) for key in sorted(data)]
        if isinstance(data, dict)
        else [("", data)]
    )
    for key, value in items:
        digest.update(key.encode() + b"=")
        if isinstance(value, UploadedFile):
            for chunk in value.chunks():
                digest.update(chunk)
            value.seek(0)
        else:
            digest.update(json.dumps(value, sort_keys=True, cls=DjangoJSONEncoder).encode())
        digest.update(b"\n")
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
    expired = Q(expires_at__lte=now)
    abandoned = Q(status_code__isnull=True, created_at__lte=now - ABANDONED_AFTER)
    records.filter(expired | abandoned, key=key).delete()
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
        release(record)
        return
    record.status_code = response.status_code
    record.response_body = response.data
    record.save(update_fields=["status_code", "response_body"])


def replay(record: IdempotencyRecord) -> Response:
    response = Response(record.response_body, status=record.status_code)
    response["Idempotent-Replayed"] = "true"
    return response


def release(record: IdempotencyRecord) -> None:
    """Free the key: the request failed, so a retry must run again."""
    IdempotencyRecord.objects.for_workspace(record.workspace).filter(pk=record.pk).delete()
