"""Real parallel connections for the concurrency tests, through one helper so that no thread fails unseen.

A storm proves something only if every request of it ran: a thread that could not even connect
("too many clients") used to vanish, and the test passed on the others.  Here any exception a thread
raises, other than the domain refusals a test counts (``ApplicationError``), fails the test.  The
storm is sized to the connections the server has free, shared with the other xdist workers, so a
busy server narrows it (fewer threads, the same number of calls) instead of refusing some of it.
"""

from __future__ import annotations

import os
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import pytest
from django.db import connection, connections

from loyalty.errors import ApplicationError

MAX_THREADS = 50  # the widest storm the tests ask for
TIMEOUT = 120  # seconds for the storm as a whole: a thread still running then is a hang, reported


def free_connections() -> tuple[int, str]:
    """Connections this test process may open now, and how that was reckoned (for the skip message).

    The server's ``max_connections`` less the slots reserved for superusers and roles, less the
    client connections open anywhere; shared evenly with the other xdist workers, which may start a
    storm at the same moment.
    """
    with connection.cursor() as cur:
        cur.execute(
            "SELECT current_setting('max_connections')::int,"
            " current_setting('superuser_reserved_connections')::int"
            " + coalesce(current_setting('reserved_connections', true)::int, 0),"
            " (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')"
        )
        limit, reserved, used = cur.fetchone()
    workers = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", 1)))
    free = (limit - reserved - used) // workers
    return free, f"max_connections {limit}, {reserved} reserved, {used} in use, {workers} test worker(s)"


def run_concurrently(
    work: Callable[[int], Any], count: int, *, max_threads: int = MAX_THREADS, min_threads: int = 2
) -> tuple[list, list[str]]:
    """Call ``work(i)`` for every ``i`` in ``range(count)`` from parallel threads, each on its own
    database connection, all released together; return ``(results, codes)``.

    ``results``: what the calls returned, in the order of ``i`` (calls that raised are left out);
    ``codes``: the ``code`` of each ``ApplicationError`` raised, in the order of ``i``.  Any other
    exception in any thread, connecting included, fails the test with its traceback.  At most
    ``max_threads`` threads, fewer when the server has fewer connections free (each thread then
    makes several calls, one after another); skipped, saying why, when not even ``min_threads`` fit.
    """
    free, reckoning = free_connections()
    width = min(count, max_threads, free)
    if width < min(count, min_threads):
        pytest.skip(f"PostgreSQL has {free} connections free for this test ({reckoning})")
    barrier = threading.Barrier(width)
    indices = iter(range(count))
    take = threading.Lock()
    outcomes: dict[int, tuple[str, Any]] = {}
    failures: list[tuple[str, BaseException]] = []

    def next_index() -> int | None:
        with take:
            return next(indices, None)

    def run(thread_no: int) -> None:
        where = f"thread {thread_no}, connecting"
        try:
            connections["default"].ensure_connection()  # before the barrier: the storm is the calls
            barrier.wait(timeout=TIMEOUT)
            while (i := next_index()) is not None:
                where = f"thread {thread_no}, call {i}"
                try:
                    outcomes[i] = ("result", work(i))
                except ApplicationError as exc:
                    outcomes[i] = ("code", exc.code)
        except threading.BrokenBarrierError as exc:
            failures.append((f"thread {thread_no}: released early, another thread failed", exc))
        except BaseException as exc:  # noqa: BLE001 - every failure is reported by the test's thread
            failures.append((where, exc))
            barrier.abort()  # the others must not wait for this one
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(width)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT)
    hung = sum(thread.is_alive() for thread in threads)
    if failures or hung:
        _fail(failures, hung=hung, width=width)
    ordered = [outcomes[i] for i in sorted(outcomes)]
    return [v for kind, v in ordered if kind == "result"], [v for kind, v in ordered if kind == "code"]


def _fail(failures: list[tuple[str, BaseException]], *, hung: int, width: int) -> None:
    causes = [f for f in failures if not isinstance(f[1], threading.BrokenBarrierError)] or failures
    lines = [f"{len(causes)} of {width} threads failed" + (f", {hung} still running" if hung else "")]
    for where, exc in causes[:3]:
        lines.append(f"--- {where}:\n" + "".join(traceback.format_exception(exc)).rstrip())
    if len(causes) > 3:
        lines.append(f"--- and {len(causes) - 3} more")
    pytest.fail("\n".join(lines), pytrace=False)


def in_thread(work: Callable[[], Any], *, name: str | None = None) -> Future:
    """Start ``work()`` in a thread of its own, on its own database connection.

    For a test that needs one call held in flight beside its own; ``result(timeout)`` returns what
    the call returned or raises what it raised, so the test must ask for it.
    """
    future: Future = Future()

    def run() -> None:
        try:
            future.set_result(work())
        except BaseException as exc:  # noqa: BLE001 - handed to the test through the future
            future.set_exception(exc)
        finally:
            connections.close_all()

    threading.Thread(target=run, name=name, daemon=True).start()
    return future
