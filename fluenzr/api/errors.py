"""One error format for every API error:

    {"error": {"code": "...", "message": "...", "fields": {"name": ["..."]}}}

`fields` appears on validation errors only. Messages are in the caller's language.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from accounts.errors import ServiceError


class ServiceErrorAPIException(exceptions.APIException):
    def __init__(self, error: ServiceError) -> None:
        self.status_code = error.status
        if error.field:
            self.validation_fields = {error.field: [error.message]}
        super().__init__(detail=error.message, code=error.code)


def _fields(detail: Any) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {
            str(name): [str(message) for message in (value if isinstance(value, list) else [value])]
            for name, value in detail.items()
        }
    messages = detail if isinstance(detail, list) else [detail]
    return {"non_field_errors": [str(message) for message in messages]}


def error_body(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict:
    error: dict[str, Any] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ServiceError):
        exc = ServiceErrorAPIException(exc)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(
            _("Not found. Check the id, and that it belongs to this workspace.")
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _fields(exc.detail)
        names = ", ".join(name for name in fields if name != "non_field_errors")
        message = (
            _("Some fields are invalid (%(fields)s). Fix them and send the request again.")
            % {"fields": names}
            if names
            else fields["non_field_errors"][0]
        )
        response.data = error_body("validation_error", message, fields)
    elif isinstance(exc, exceptions.Throttled):
        response.data = error_body(
            "rate_limited",
            _("Too many requests. Wait %(seconds)s seconds, then try again.")
            % {"seconds": response.get("Retry-After", "a few")},
        )
    else:
        detail = getattr(exc, "detail", "")
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        response.data = error_body(str(code), str(detail), getattr(exc, "validation_fields", None))
    return response


def json_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(
        error_body("not_found", _("No API endpoint here. See /api/v1/docs/ for the list.")),
        status=status.HTTP_404_NOT_FOUND,
    )


def json_bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(
        error_body(
            "bad_request",
            _("The request could not be read (too large, or a header is wrong). Check it."),
        ),
        status=status.HTTP_400_BAD_REQUEST,
    )


def json_server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        error_body(
            "server_error",
            _("Something went wrong on our side. Try again; if it persists, contact support."),
        ),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )
