"""Sending a task once the transaction that made its work commits."""

import logging

from django.db import transaction
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)


def enqueue_on_commit(task_path: str, *args) -> None:
    """Send the task at ``task_path`` (``"app.tasks.name"``) with ``args`` after commit.

    A broker that is down is logged, not raised: the request that made the
    work has already committed it, in a state its periodic job picks up, so
    the work is late, never lost.  That state is the outbox: every caller
    commits a row its periodic job scans for (a ``pending`` refund for
    ``payments.retry_refunds``, an unfinished bulk issue for
    ``coupons.resume_bulk_issues``), so no second table is needed; a new
    caller must have such a job, or its work waits for nobody.

    The result is ignored: the caller never reads it, and asking for one
    makes this process subscribe to the result backend, whose consumer does
    not recover from a Redis outage (every later send then fails until the
    process restarts).
    """

    def send():
        try:
            import_string(task_path).apply_async(args, ignore_result=True)
        except Exception:  # noqa: BLE001 - any broker failure; the periodic job catches up
            log.warning(
                "could not enqueue %s%r; its periodic job will pick it up", task_path, args, exc_info=True
            )

    transaction.on_commit(send)
