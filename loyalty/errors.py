"""The one error hierarchy every app raises and the API renders.

Each domain subclasses ``ApplicationError`` in its own ``exceptions.py``
with a stable machine-readable ``code``, an HTTP status and a translatable
message.  ``loyalty.api.exception_handler`` renders them as
``{"code", "message", "details"}``.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _


class ApplicationError(Exception):
    code = "error"
    status_code = 400
    default_message = _("The request could not be processed.")

    def __init__(self, message: str | None = None, *, details: dict[str, Any] | None = None):
        self.message = message if message is not None else self.default_message
        self.details = details or {}
        super().__init__(str(self.message))


class ValidationFailed(ApplicationError):
    code = "validation_error"
    default_message = _("Some fields are invalid.")


class NotFound(ApplicationError):
    code = "not_found"
    status_code = 404
    default_message = _("Not found.")


class PermissionDenied(ApplicationError):
    code = "permission_denied"
    status_code = 403
    default_message = _("You may not do this.")


class ServiceUnavailable(ApplicationError):
    code = "service_unavailable"
    status_code = 503
    default_message = _("A service this request needs is unavailable. Try again shortly.")


class IdempotencyKeyRequired(ApplicationError):
    code = "idempotency_key_required"
    default_message = _("This request moves value and needs an Idempotency-Key header (1-255 characters).")


class IdempotencyConflict(ApplicationError):
    code = "idempotency_conflict"
    status_code = 409
    default_message = _("This Idempotency-Key was already used with different parameters.")
