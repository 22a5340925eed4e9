import re

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from loyalty.errors import ApplicationError


class RequestTooLarge(ApplicationError):
    code = "request_too_large"
    default_message = _("The request body is too large.")


class LimitedJSONParser(JSONParser):
    """JSON parser that refuses bodies over DATA_UPLOAD_MAX_MEMORY_SIZE.

    DRF reads the request stream directly, which bypasses Django's own size
    check on ``request.body``; this puts the limit back for every endpoint.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = parser_context["request"] if parser_context else None
        declared = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
        if declared > limit:
            raise RequestTooLarge()
        data = super().parse(stream, media_type, parser_context)
        if not _storable(data):
            raise ParseError(_("The request holds a NUL character or an unpaired surrogate."))
        return data


# PostgreSQL text and jsonb cannot hold these; JSON's \u escapes can.  Found by fuzzing: such a key or
# value reached the database (an Idempotency-Key record, a nickname) and failed there with a 500.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _storable(value) -> bool:
    if isinstance(value, str):
        return not _UNSTORABLE.search(value)
    if isinstance(value, dict):
        return all(_storable(k) and _storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_storable(v) for v in value)
    return True
