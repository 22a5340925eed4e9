"""Configuration rows cached per process, exact across processes.

Checkout reads a dozen configuration rows per request (checkout settings,
points policy, earning rules, tiers, member days, membership policy) that
operators change a few times a year.  Each web process keeps its own copy,
tagged with the configuration *version*: one row that a statement trigger on
every cached table sets to a fresh sequence value, in the same transaction as
the change, whatever made it (the admin, a bulk ``update()``, raw SQL, a
migration, a TRUNCATE).  A copy is used only while the version read now is
the one it was loaded under, so a change is seen by every process on its next
request, and a rolled-back change (the row reverts, sequences never do) cannot
leave a stale copy looking current.

The version is read once per HTTP request (``ConfigVersionMiddleware``, at the
first cached read, or by a statement the request runs anyway: the signed
server calls' nonce statement reads it and hands it to ``note_version``) and on
every cached read outside a request (tasks, shells, tests).  Cached values are
shared between threads: callers must not mutate them.  A table whose rows are cached must carry the trigger; ``cached`` names
its models so a test can check that.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import models

from loyalty import sql

T = TypeVar("T")

TRIGGER = "loyalty_config_changed"

_copies: dict[str, tuple[int, object]] = {}
_request = threading.local()
cached_models: set[type[models.Model]] = set()


def config_version() -> int | None:
    version = getattr(_request, "version", None)
    if version is not None:
        return version
    version = sql.config_version()
    if getattr(_request, "active", False):
        _request.version = version
    return version


def note_version(version: int | None) -> None:
    """Use ``version``, read by a statement the request ran anyway, for the rest of this request."""
    if getattr(_request, "active", False):
        _request.version = version


def cached(name: str, *, depends_on: tuple[type[models.Model], ...], load: Callable[[], T]) -> T:
    """``load()``'s result, reloaded only when the configuration version has changed since."""
    cached_models.update(depends_on)
    version = config_version()
    copy = _copies.get(name)
    if version is not None and copy is not None and copy[0] == version:
        return copy[1]
    value = load()
    if version is not None:
        _copies[name] = (version, value)
    return value


class ConfigVersionMiddleware:
    """One version read per request, however many cached reads it makes."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        _request.active, _request.version = True, None
        try:
            return self.get_response(request)
        finally:
            _request.active, _request.version = False, None
