"""`Authorization: Bearer flz_sk_…` — the API's only way in. A key belongs to one workspace."""

from __future__ import annotations

import math
import time

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated, Throttled
from rest_framework.request import Request

from accounts.models import ApiKey
from accounts.selectors import api_key_for_token
from accounts.services import API_KEY_FORMAT, api_key_record_use
from accounts.tenancy import activate_workspace
from fluenzr.api.ratelimit import count_in_window, peek_in_window


class ApiKeyUser:
    """The caller of an API request: a key, not a person. Never a Django user."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key
        self.pk = None

    def __str__(self) -> str:
        return f"API key {self.api_key.masked}"


class FailedAuthentications:
    """Unknown or revoked keys, counted per client address in a fixed window. Past the limit
    the address gets 429 until the window ends. Guessing a key is hopeless (238 random bits);
    this only keeps floods of bad keys from costing a database lookup each."""

    def __init__(self, request: Request) -> None:
        self.key = f"auth-failures:{get_adapter().get_client_ip(request._request)}"
        self.window = settings.API_RATE_LIMIT_WINDOW_SECONDS

    def refuse_if_too_many(self) -> None:
        now = time.time()
        failures, reset_at = peek_in_window(self.key, self.window, now)
        if failures >= settings.API_AUTH_FAILURES_PER_ADDRESS:
            raise Throttled(wait=max(1, math.ceil(reset_at - now)))

    def count(self) -> None:
        count_in_window(self.key, self.window, time.time())


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ApiKeyUser, ApiKey]:
        header = get_authorization_header(request).decode("latin-1").strip()
        if not header:
            raise NotAuthenticated(
                _("Missing API key. Send it as “Authorization: Bearer flz_sk_…”."),
                code="missing_api_key",
            )
        scheme, _sep, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not API_KEY_FORMAT.fullmatch(token):
            raise AuthenticationFailed(
                _("Malformed Authorization header. Send “Authorization: Bearer flz_sk_…”."),
                code="malformed_api_key",
            )
        failures = FailedAuthentications(request)
        failures.refuse_if_too_many()  # before the lookup: floods of bad keys cost no query
        api_key = api_key_for_token(token=token)
        if api_key is None:
            failures.count()
            raise AuthenticationFailed(
                _("Unknown API key. Check it, or create a new one in Settings → API keys."),
                code="invalid_api_key",
            )
        if not api_key.is_active:
            failures.count()
            raise AuthenticationFailed(
                _("This API key was revoked. Create a new one in Settings → API keys."),
                code="revoked_api_key",
            )
        activate_workspace(request._request, api_key.workspace)
        api_key_record_use(api_key=api_key, token=token)
        return ApiKeyUser(api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) when authentication fails.
        return 'Bearer realm="FluenzR API"'
