"""Pieces every API view may share."""

from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import UnsupportedMediaType, ValidationError

NO_INPUT = _("This operation takes no input.")


class NoInputMixin:
    """For an operation that takes no request body: one that sends fields is refused, not half-read.

    ``{"points": 999}`` sent to check-in must not look accepted.  An empty body
    or ``{}`` is fine.  Runs after authentication, permissions and throttling,
    so a caller without a token still gets 401 first.
    """

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method not in ("POST", "PUT", "PATCH"):
            return
        try:
            data = request.data
        except UnsupportedMediaType:  # a form or anything else: still input this operation does not take
            raise ValidationError({"non_field_errors": [NO_INPUT]}) from None
        if data and isinstance(data, dict):
            raise ValidationError({name: [_("This field is unknown or read-only.")] for name in data})
        if data:
            raise ValidationError({"non_field_errors": [NO_INPUT]})
