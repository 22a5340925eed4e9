"""Renders every API error as ``{"code", "message", "details"}``.

DRF's own exceptions (parse errors, validation, authentication, throttling,
404/405/415) are mapped to the same shape so a client parses one format.
A database that cannot be reached, or a connection that broke mid-request,
is a 503 ``database_unavailable``: the transaction rolled back, nothing was
written, and the client may retry (with the same Idempotency-Key).
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from loyalty.errors import ApplicationError

log = logging.getLogger(__name__)

# DRF exception class -> (code, message); message None keeps DRF's own text.
_DRF_CODES: dict[type[exceptions.APIException], str] = {
    exceptions.ParseError: "malformed_request",
    exceptions.AuthenticationFailed: "not_authenticated",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    exceptions.ValidationError: "validation_error",
}


def error_response(*, code: str, message: str, details: dict | None = None, status_code: int) -> Response:
    return Response({"code": code, "message": str(message), "details": details or {}}, status=status_code)


def render_application_error(exc, context):
    if isinstance(exc, ApplicationError):
        set_rollback()
        return error_response(
            code=exc.code, message=exc.message, details=exc.details, status_code=exc.status_code
        )
    if isinstance(exc, RequestDataTooBig):
        return error_response(
            code="request_too_large",
            message=_("The request body is too large."),
            status_code=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, (OperationalError, InterfaceError)):
        log.warning("database unavailable during %s", context.get("view").__class__.__name__, exc_info=exc)
        response = error_response(
            code="database_unavailable",
            message=_("The service is briefly unavailable; nothing was changed. Try again shortly."),
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
        response["Retry-After"] = "2"
        return response
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: Django's 500 handling (and logging) takes over

    set_rollback()
    code = getattr(exc, "error_code", None) or next(
        (c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), "error"
    )
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    if isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        message = _("Some fields are invalid.")
    else:
        details = {}
        message = exc.detail
    response = error_response(code=code, message=message, details=details, status_code=exc.status_code)
    for name, value in headers.items():
        response[name] = value
    return response
