"""RFM: recency, frequency and monetary value per member, scored 1-5, in two SQL statements.

Facts, over purchases (see ``facts.py``) completed in ``[as_of - window, as_of)``:
recency = whole days from the last purchase to ``as_of``; frequency = number of
purchases; monetary = net paid fen.  Members without a purchase in the window
get no score (their old row is deleted): RFM ranks customers, not sign-ups.

Cut points are the merchant's own quintiles: ``percentile_disc(0.2, 0.4, 0.6, 0.8)``
of each fact over the scored members.  A score counts the cut points a member
beats: F and M score ``1 + #(cut < value)``; R is the same count turned round,
since fewer days is better: ``5 - #(cut < days)``.  Ties are therefore never split: equal facts always get
equal scores, whatever the member id, and when many members share a value (most
members buy once) the cut points coincide and a score may go unused — the
quintiles are of the data, not of ranks.  "High" is a score of 3 or more
(``analytics.sql.RFM_HIGH``: at or above the middle quintile); the eight segments
follow from high/low R, F, M.

Step 1 deletes the previous run's rows; step 2 is one statement
(``analytics.sql.rfm_scores_insert``): facts, cut points and scores in CTEs,
inserted into ``analytics_rfmscore`` with the run id, returning the cut points.
Both run in one transaction, so readers see the old scores until the new ones
commit.  The table only ever holds the latest run, so deleting it all first
(rather than upserting, then deleting the members not scored) spares the insert
a conflict check per row and the table a second scan.  The run is idempotent:
running it again at the same ``as_of`` writes the same rows.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from analytics import sql
from analytics.models import AnalyticsSettings, RfmRun, RunStatus
from loyalty import locks
from loyalty.enqueue import enqueue_on_commit
from loyalty.locks import Rank, Space

log = logging.getLogger(__name__)


def rfm_run_create(*, actor_id: int | None = None, as_of: datetime | None = None) -> RfmRun:
    """Queue an RFM run (the task starts after commit; ``rfm_runs_resume`` covers a lost task)."""
    settings_row, _ = AnalyticsSettings.objects.get_or_create(pk=1)
    with transaction.atomic():
        run = RfmRun.objects.create(
            as_of=as_of or timezone.now(), window_days=settings_row.rfm_window_days, created_by_id=actor_id
        )
        enqueue_on_commit("analytics.tasks.run_rfm", run.pk)
    return run


def rfm_run_execute(*, run_id: int) -> RfmRun:
    """Compute a queued (or interrupted) run; a finished run is returned unchanged.

    One transaction: a run killed half-way leaves the previous scores in place
    and is simply run again.  A transaction-level advisory lock keeps two
    workers from computing at once (the second waits, then finds it done).
    """
    # Visible to the progress page at once (the work below commits as a whole).
    RfmRun.objects.filter(pk=run_id).exclude(status=RunStatus.DONE).update(status=RunStatus.RUNNING)
    try:
        return _execute(run_id)
    except Exception as exc:
        RfmRun.objects.filter(pk=run_id).exclude(status=RunStatus.DONE).update(
            status=RunStatus.FAILED, error=str(exc)[:300]
        )
        raise


def _execute(run_id: int) -> RfmRun:
    with transaction.atomic():
        locks.advisory_lock(Space.RFM_RUN)  # one computation at a time
        locks.note(Rank.DOCUMENT, "rfm run")
        run = RfmRun.objects.select_for_update().get(pk=run_id)
        if run.status == RunStatus.DONE:
            return run
        since = run.as_of - timedelta(days=run.window_days)
        with sql.db_cursor() as cur:
            sql.rfm_scores_delete(cur)
            result = sql.rfm_scores_insert(cur, run_id=run.pk, since=since, as_of=run.as_of)
        run.members_scored = result.scored
        run.cut_points = {
            "recency_days": result.r_cuts,
            "frequency": result.f_cuts,
            "monetary_fen": result.m_cuts,
        }
        run.status = RunStatus.DONE
        run.steps_done = run.steps_total
        run.finished_at = timezone.now()
        run.save()
    return run


def rfm_runs_resume() -> int:
    """Execute every run not done (a lost task or a killed worker)."""
    pending = list(RfmRun.objects.exclude(status=RunStatus.DONE).order_by("pk").values_list("pk", flat=True))
    for run_id in pending:
        rfm_run_execute(run_id=run_id)
    return len(pending)


def rfm_nightly() -> RfmRun:
    """The nightly run: create and execute at once (the beat task is the worker already)."""
    settings_row, _ = AnalyticsSettings.objects.get_or_create(pk=1)
    run = RfmRun.objects.create(as_of=timezone.now(), window_days=settings_row.rfm_window_days)
    return rfm_run_execute(run_id=run.pk)
