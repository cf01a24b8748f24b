"""The request's language and workspace."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.middleware.locale import LocaleMiddleware
from django.utils import timezone, translation

from accounts.selectors import workspace_for_user
from accounts.tenancy import _current_workspace, activate_workspace


class UserLanguageMiddleware(LocaleMiddleware):
    """The signed-in user's chosen language, else the cookie, else Accept-Language."""

    def process_request(self, request: HttpRequest) -> None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.language:
            translation.activate(user.language)
            request.LANGUAGE_CODE = translation.get_language()
            return
        super().process_request(request)


class WorkspaceMiddleware:
    """The resolver for dashboard requests: `request.workspace` from the signed-in user's
    current membership. API requests get theirs from the key (ApiKeyAuthentication).

    The workspace scope is reset when the request ends, whoever set it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _current_workspace.set(None)
        try:
            user = request.user
            workspace = workspace_for_user(user=user) if user.is_authenticated else None
            activate_workspace(request, workspace)
            if workspace is not None:
                timezone.activate(zoneinfo.ZoneInfo(workspace.timezone))
            return self.get_response(request)
        finally:
            timezone.deactivate()
            _current_workspace.reset(token)
