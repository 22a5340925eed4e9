"""Every JSON a client sends is read here: bounded in size and nesting, and storable in PostgreSQL.

``LimitedJSONParser`` reads API bodies; ``json_loads`` and ``LimitedJSONDecoder``
are the same rules for JSON read outside DRF (WeChat Pay's notification, the
admin's JSON fields and endpoints).  Nesting is measured on the text before
it is parsed: Python's parser recurses once per level and a few kilobytes of
``[[[[…`` raised RecursionError (a 500) before anything could refuse them.
"""

import json
import re
from itertools import accumulate

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.utils.json import strict_constant

from loyalty.errors import ApplicationError


class RequestTooLarge(ApplicationError):
    code = "request_too_large"
    default_message = _("The request body is too large.")


class RequestTooDeep(ApplicationError):
    code = "malformed_request"
    default_message = _("The request body nests arrays and objects too deeply.")


class JSONTooDeep(json.JSONDecodeError):
    """A ``JSONDecodeError``, so every caller that handles bad JSON handles this too."""

    def __init__(self, doc: str, max_depth: int):
        super().__init__(f"nested deeper than {max_depth} levels", doc, 0)
        self.max_depth = max_depth


# A backslash and the character it escapes (only ever inside a string in valid JSON), then strings
# (which no longer hold an escaped quote), then everything but brackets.  Each pass is linear.
_ESCAPE = re.compile(r"\\.", re.DOTALL)
_STRING = re.compile(r'"[^"]*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def json_depth(text: str) -> int:
    """How deeply arrays and objects nest in a JSON text (``[]`` is 1), counted without parsing it.

    Exact for valid JSON.  For invalid JSON it counts the prefix the parser
    would read before failing, so ``json.loads`` never nests deeper than this.
    """
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", _ESCAPE.sub("", text)))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


class LimitedJSONDecoder(json.JSONDecoder):
    """``json.JSONDecoder`` that refuses text nested deeper than JSON_MAX_DEPTH (``cls=`` for forms)."""

    def decode(self, s, *args, **kwargs):
        if json_depth(s) > settings.JSON_MAX_DEPTH:
            raise JSONTooDeep(s, settings.JSON_MAX_DEPTH)
        return super().decode(s, *args, **kwargs)


def json_loads(text: str):
    """``json.loads`` for text a client or a third party sent: nesting bounded, NaN and Infinity refused."""
    return json.loads(text, cls=LimitedJSONDecoder, parse_constant=strict_constant)


class LimitedJSONParser(JSONParser):
    """JSON parser that refuses bodies over DATA_UPLOAD_MAX_MEMORY_SIZE or nested over JSON_MAX_DEPTH.

    DRF reads the request stream directly, which bypasses Django's own size
    check on ``request.body``; this puts the limit back for every endpoint.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = parser_context.get("request")
        declared = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
        if declared > limit:
            raise RequestTooLarge()
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise RequestTooLarge()
        try:
            data = json_loads(raw.decode(parser_context.get("encoding") or settings.DEFAULT_CHARSET))
        except JSONTooDeep as exc:
            raise RequestTooDeep(details={"max_depth": exc.max_depth}) from None
        except (ValueError, LookupError) as exc:  # LookupError: a charset that is not a text encoding
            raise ParseError(_("The request body is not valid JSON: %(error)s") % {"error": exc}) from None
        if not _storable(data):
            raise ParseError(_("The request holds a NUL character or an unpaired surrogate."))
        return data


# PostgreSQL text and jsonb cannot hold these; JSON's \u escapes can.  Found by fuzzing: such a key or
# value reached the database (an Idempotency-Key record, a nickname) and failed there with a 500.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _storable(value) -> bool:
    """Walks the parsed value with a list for a stack (not recursion), every key and string checked."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                return False
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return True
