"""Pieces every API view may share."""

from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import UnsupportedMediaType, ValidationError

NO_INPUT = _("This operation takes no input.")


class NoInputMixin:
    """For an operation that takes no request body: only no body, an empty one or ``{}`` is accepted.

    ``{"points": 999}`` sent to check-in must not look accepted, nor may
    ``[]``, ``null``, ``0`` or ``"yes"``: anything else is 400
    ``validation_error``.  Runs after authentication, permissions and
    throttling, so a caller without a token still gets 401 first.
    ``tests/security/test_no_input.py`` finds every write operation whose
    schema has no request body and holds it to this rule.
    """

    no_input_methods = ("POST", "PUT", "PATCH", "DELETE")

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method not in self.no_input_methods:
            return
        try:
            data = request.data
        except UnsupportedMediaType:  # a form or anything else: still input this operation does not take
            raise ValidationError({"non_field_errors": [NO_INPUT]}) from None
        if isinstance(data, dict) and not data:  # no body, an empty one, or {} (a QueryDict is a dict)
            return
        if isinstance(data, dict):
            raise ValidationError({name: [_("This field is unknown or read-only.")] for name in data})
        raise ValidationError({"non_field_errors": [NO_INPUT]})
