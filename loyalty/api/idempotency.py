"""``Idempotency-Key`` for value-moving POSTs, once for every app.

Semantics follow Stripe's: the first response to a key (success or a 4xx
the view decided) is stored and replayed for every later request with that
key; the same key with other parameters gets 409 ``idempotency_conflict``.

Exactly-once comes from PostgreSQL, not from a lock we manage: the record is
inserted with ``ON CONFLICT DO NOTHING`` inside the transaction that runs the
view, so a concurrent duplicate blocks on the unique index until the first
commits, then finds the stored response and replays it.  If the first request
fails with an unexpected error everything rolls back, the key is free again,
and a retry runs afresh.  Records live for IDEMPOTENCY_RETENTION (24 h).

What must not run inside that transaction (a call to WeChat Pay, which
would hold the view's row locks for its round trip) runs after it commits,
through ``after_commit``: on the first response and again on each replay.
"""

from __future__ import annotations

import functools
import hashlib
import json

from django.db import transaction
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from loyalty import sql
from loyalty.errors import ApplicationError, IdempotencyConflict, IdempotencyKeyRequired
from loyalty.models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"


def _scope(request) -> str:
    principal = request.user
    if principal is None:  # value-moving endpoints are never anonymous
        raise exceptions.NotAuthenticated()
    return f"{principal._meta.label_lower}:{principal.pk}"


def _fingerprint(request) -> str:
    payload = json.dumps(request.data, sort_keys=True, cls=JSONEncoder, separators=(",", ":"))
    return hashlib.sha256(f"{request.method} {request.path}\n{payload}".encode()).hexdigest()


def _claim(*, scope: str, key: str, fingerprint: str) -> bool:
    """Insert the placeholder row; False when the key already has a record."""
    return sql.idempotency_claim(scope, key, fingerprint)


def idempotent(view_method=None, *, after_commit=None):
    """Decorate a DRF view's ``post``; runs after authentication and throttling.

    ``after_commit(request, response)`` completes a successful response once
    the transaction has committed, on the first request and on every replay:
    for a call that must not run under the view's row locks (WeChat Pay's
    prepay).  What it adds is not stored; an ``ApplicationError`` it raises is
    the answer, and the stored response waits for the retry.
    """
    if view_method is None:
        return functools.partial(idempotent, after_commit=after_commit)

    @functools.wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get(HEADER, "")
        if not 1 <= len(key) <= 255:
            raise IdempotencyKeyRequired()
        scope = _scope(request)
        fingerprint = _fingerprint(request)  # parses the body: a malformed one is refused here
        response = _run_once(self, view_method, request, args, kwargs, scope, key, fingerprint)
        if after_commit is not None and 200 <= response.status_code < 300:
            response = after_commit(request, response)
        return response

    return wrapper


def _run_once(self, view_method, request, args, kwargs, scope, key, fingerprint):
    """The view's response, stored with the key in the view's own transaction, or the stored one replayed."""
    with transaction.atomic():
        if not _claim(scope=scope, key=key, fingerprint=fingerprint):
            record = IdempotencyRecord.objects.get(scope=scope, key=key)
            if record.fingerprint != fingerprint:
                raise IdempotencyConflict()
            response = Response(record.body, status=record.status_code)
            response[REPLAY_HEADER] = "true"
            return response
        try:
            with transaction.atomic():
                response = view_method(self, request, *args, **kwargs)
                if response.status_code >= 500:
                    raise _ServerError(response)
        except (ApplicationError, exceptions.APIException) as exc:
            response = self.handle_exception(exc)
            if response.status_code >= 500:  # e.g. a payment provider down: retrying may succeed
                transaction.set_rollback(True)
                return response
        except _ServerError as failed:
            transaction.set_rollback(True)
            return failed.response
        body = json.loads(json.dumps(response.data, cls=JSONEncoder))
        IdempotencyRecord.objects.filter(scope=scope, key=key).update(
            status_code=response.status_code, body=body
        )
        return response


class _ServerError(Exception):
    def __init__(self, response):
        self.response = response
