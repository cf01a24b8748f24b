"""Signed tokens for the open pixel, click redirect and unsubscribe links.

A token is ``base64url(message id (16 bytes) ‖ MAC (16 bytes) ‖ payload)``, where the MAC is an
HMAC-SHA256 (truncated to 128 bits) over the purpose, the message id and the payload, keyed from
``SECRET_KEY`` through a salt of its own. Compact (43 characters for an open or unsubscribe
token), URL-safe, not enumerable (a message id alone is worth nothing), and one purpose's token
is useless for another. For clicks the payload is the target URL: it is inside the signature, so
the redirect can only go where FluenzR itself pointed it (no open redirect).

Verification is constant-time and accepts ``SECRET_KEY_FALLBACKS`` too, so rotating the secret
keeps the links of emails already sent working for as long as the old key is listed.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

_SALT = "fluenzr.campaigns.tracking"
_ID_BYTES = 16
_MAC_BYTES = 16
MAX_URL_LENGTH = 2000  # TrackingEvent.url; longer links are left untracked
# The message id of previews and test emails: their links are signed but act on no one.
PREVIEW_MESSAGE_ID = uuid.UUID(int=0)


class Purpose(StrEnum):
    OPEN = "o"
    CLICK = "c"
    UNSUBSCRIBE = "u"


@dataclass(frozen=True)
class Token:
    message_id: uuid.UUID
    url: str = ""  # clicks only


def _mac(purpose: Purpose, message_id: bytes, payload: bytes, secret: str) -> bytes:
    value = purpose.value.encode() + message_id + payload
    return salted_hmac(_SALT, value, secret=secret, algorithm="sha256").digest()[:_MAC_BYTES]


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(token: str) -> bytes | None:
    if not token.isascii() or len(token) > 4 * MAX_URL_LENGTH:
        return None
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None


def make_token(purpose: Purpose, message_id: uuid.UUID, url: str = "") -> str:
    payload = url.encode("utf-8")
    mac = _mac(purpose, message_id.bytes, payload, settings.SECRET_KEY)
    return _encode(message_id.bytes + mac + payload)


def read_token(purpose: Purpose, token: str) -> Token | None:
    """The token's message id (and URL), or None when it is malformed or not ours."""
    raw = _decode(token)
    if raw is None or len(raw) < _ID_BYTES + _MAC_BYTES:
        return None
    message_id, mac, payload = raw[:_ID_BYTES], raw[_ID_BYTES : _ID_BYTES + _MAC_BYTES], raw[32:]
    if (purpose == Purpose.CLICK) != bool(payload):
        return None
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    # Every key is tried (no early exit), so the time taken says nothing about which matched.
    valid = False
    for secret in secrets:
        valid |= constant_time_compare(_mac(purpose, message_id, payload, secret), mac)
    if not valid:
        return None
    try:
        url = payload.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return Token(message_id=uuid.UUID(bytes=message_id), url=url)
