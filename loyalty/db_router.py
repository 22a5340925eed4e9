"""Where a read goes: the primary, except on the pages that may show a copy a moment old.

With ``DATABASE_REPLICA_URL`` set, a second alias, ``replica``, names a PostgreSQL streaming from the
primary.  Nothing reads it by default: a read goes to the replica only inside a request whose view
is marked ``replica_readable`` (admin list pages, the analytics dashboard, reports, CSV exports), and
only for its GET.  Everything else — the member and server APIs, every service, ledger, checkout and
job, admin forms and actions — reads and writes the primary, so nothing that moves value or decides a
rule ever reads stale data, and a member always sees their own writes.  The routing table and why:
docs/scaling.md, "Read replica".

Who the operator is and what they may do (auth, sessions, content types) is read from the primary
even on a replica-fed page: a new login or a revoked permission is never a replica's lag behind.
"""

from __future__ import annotations

import functools
import logging
import time
from contextvars import ContextVar

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.http import HttpRequest
from django.utils import timezone

from loyalty import sql

REPLICA = "replica"
#: After the replica could not be reached, replica-fed pages read the primary for this long.
REPLICA_RETRY_SECONDS = 30

log = logging.getLogger(__name__)
_replica_down_until = 0.0

#: Read from the primary even on a replica-fed page.
PRIMARY_ONLY_APPS = frozenset({"auth", "sessions", "contenttypes"})


class _Scope:
    """One request's routing: ``replica`` once its view turned out replica-readable."""

    __slots__ = ("replica",)

    def __init__(self):
        self.replica = False


_scope: ContextVar[_Scope | None] = ContextVar("loyalty_replica_scope", default=None)
_END = object()


def replica_alias() -> str:
    """The alias replica-fed reads use: ``replica`` when one is configured apart from the primary, else
    ``default`` (no replica, or one that is the primary's own database, as the test suite's mirror is)."""
    if REPLICA not in connections.settings:
        return DEFAULT_DB_ALIAS
    replica, primary = connections[REPLICA].settings_dict, connections[DEFAULT_DB_ALIAS].settings_dict
    if all(replica.get(key) == primary.get(key) for key in ("HOST", "PORT", "NAME")):
        return DEFAULT_DB_ALIAS
    return REPLICA


def replica_reachable() -> bool:
    """Whether a replica-fed page may read the replica now: yes without a separate replica (it reads the
    primary anyway); with one, when a connection to it opens.  A replica that cannot be reached sends
    those pages to the primary for ``REPLICA_RETRY_SECONDS`` (logged), so a replica being rebuilt or
    down costs the primary some reads, never an operator's page."""
    global _replica_down_until
    if replica_alias() == DEFAULT_DB_ALIAS:
        return True
    if time.monotonic() < _replica_down_until:
        return False
    try:
        connections[REPLICA].ensure_connection()
    except DatabaseError as exc:
        _replica_down_until = time.monotonic() + REPLICA_RETRY_SECONDS
        log.warning(
            "replica unreachable (%s): its pages read the primary for %ss", exc, REPLICA_RETRY_SECONDS
        )
        return False
    return True


def replica_request() -> bool:
    """Whether the current request is a replica-fed page."""
    scope = _scope.get()
    return scope is not None and scope.replica


class ReplicaRouter:
    """Reads of a replica-fed page go to the replica; every other read, and every write, to the primary."""

    def db_for_read(self, model, **hints):
        if replica_request() and model._meta.app_label not in PRIMARY_ONLY_APPS:
            return replica_alias()
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True  # one database and its copy

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS  # the replica follows the primary's schema by replication


def replica_readable(view):
    """Mark a view (a ModelAdmin method or a plain view) whose GET may read the replica.

    Only for pages that show, never decide: a list, a report, an export.  The mark holds for the rest
    of the request — the template rendered after the view, the rows a streamed CSV yields — and ends
    with it (``ReplicaReadsMiddleware``).  A POST to the same view (a list's actions, inline edits)
    stays on the primary.
    """

    @functools.wraps(view)
    def marked(*args, **kwargs):
        request = next(arg for arg in args if isinstance(arg, HttpRequest))
        scope = _scope.get()
        if scope is not None and request.method in ("GET", "HEAD"):
            scope.replica = replica_reachable()
        return view(*args, **kwargs)

    return marked


class ReplicaReadsMiddleware:
    """Gives each request its routing scope, primary until a ``replica_readable`` view switches it.

    The scope covers the view and the rendering of its template (a list's rows are read there), and a
    streamed response's iteration, which happens after the middleware returned.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        scope = _Scope()
        token = _scope.set(scope)
        try:
            response = self.get_response(request)
        finally:
            _scope.reset(token)
        if scope.replica and response.streaming:
            response.streaming_content = _within(scope, response.streaming_content)
        return response


def _within(scope: _Scope, chunks):
    """``chunks``, each produced inside ``scope`` (a streamed CSV reads its rows as it is sent)."""
    iterator = iter(chunks)
    while True:
        token = _scope.set(scope)
        try:
            chunk = next(iterator, _END)
        finally:
            _scope.reset(token)
        if chunk is _END:
            return
        yield chunk


def replica_reads(rows):
    """``rows`` (an iterator), each produced with the reads routed as a replica-fed page's: for a worker's
    long read that only shows (the member export job).  Only the iteration is routed; what the caller
    reads and writes between rows (its own job's row) stays on the primary."""
    scope = _Scope()
    scope.replica = replica_reachable()
    return _within(scope, rows)


def data_as_of():
    """When a replica-fed page's data is as of (an aware datetime): what the replica says
    (``loyalty.sql.data_as_of``), or now when there is no replica and the page read the primary.
    None on a page that is not replica-fed (nothing to say there)."""
    if not replica_request():
        return None
    alias = replica_alias()
    return timezone.now() if alias == DEFAULT_DB_ALIAS else sql.data_as_of(alias)
