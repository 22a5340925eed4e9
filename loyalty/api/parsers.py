from django.conf import settings
from django.utils.translation import gettext_lazy as _
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
        return super().parse(stream, media_type, parser_context)
