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
quintiles are of the data, not of ranks.  "High" is a score of 3 or more (at or
above the middle quintile); the eight segments follow from high/low R, F, M.

Step 1 deletes the previous run's rows; step 2 is one statement: facts, cut
points and scores in CTEs, inserted into ``analytics_rfmscore`` with the run id,
returning the cut points.  Both run in one transaction, so readers see the old
scores until the new ones commit.  The table only ever holds the latest run, so
deleting it all first (rather than upserting, then deleting the members not
scored) spares the insert a conflict check per row and the table a second scan.
The run is idempotent: running it again at the same ``as_of`` writes the same rows.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from analytics.facts import PAID_FEN, PURCHASE_WHERE
from analytics.models import AnalyticsSettings, RfmRun, RunStatus
from loyalty.enqueue import enqueue_on_commit

log = logging.getLogger(__name__)

HIGH = 3

_SEGMENT_SQL = f"""
CASE
  WHEN r >= {HIGH} AND f >= {HIGH} AND m >= {HIGH} THEN 'important_value'
  WHEN r >= {HIGH} AND f <  {HIGH} AND m >= {HIGH} THEN 'important_develop'
  WHEN r <  {HIGH} AND f >= {HIGH} AND m >= {HIGH} THEN 'important_keep'
  WHEN r <  {HIGH} AND f <  {HIGH} AND m >= {HIGH} THEN 'important_retain'
  WHEN r >= {HIGH} AND f >= {HIGH} THEN 'general_value'
  WHEN r >= {HIGH} THEN 'general_develop'
  WHEN f >= {HIGH} THEN 'general_keep'
  ELSE 'general_retain'
END"""

# Recency is computed in the aggregate itself: a CTE of its own would be one more copy of every
# scored member's facts (written to disk at a million members).
RFM_SQL = f"""
WITH facts AS MATERIALIZED (
    SELECT o.member_id,
           max(o.completed_at) AS last_at,
           count(*) AS frequency,
           sum({PAID_FEN})::bigint AS monetary,
           floor(extract(epoch FROM (%(as_of)s - max(o.completed_at))) / 86400)::int AS recency
    FROM orders_order o
    WHERE {PURCHASE_WHERE}
      AND o.completed_at >= %(since)s AND o.completed_at < %(as_of)s
    GROUP BY o.member_id
), cuts AS (
    SELECT percentile_disc(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY recency) AS r_cuts,
           percentile_disc(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY frequency) AS f_cuts,
           percentile_disc(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY monetary) AS m_cuts
    FROM facts
), scored AS (
    SELECT s.*, {_SEGMENT_SQL} AS segment FROM (
        SELECT me.*,
               5 - (c.r_cuts[1] < me.recency)::int - (c.r_cuts[2] < me.recency)::int
                 - (c.r_cuts[3] < me.recency)::int - (c.r_cuts[4] < me.recency)::int AS r,
               1 + (c.f_cuts[1] < me.frequency)::int + (c.f_cuts[2] < me.frequency)::int
                 + (c.f_cuts[3] < me.frequency)::int + (c.f_cuts[4] < me.frequency)::int AS f,
               1 + (c.m_cuts[1] < me.monetary)::int + (c.m_cuts[2] < me.monetary)::int
                 + (c.m_cuts[3] < me.monetary)::int + (c.m_cuts[4] < me.monetary)::int AS m
        FROM facts me CROSS JOIN cuts c
        -- A fence: pulled up, the subquery's r, f and m would be copied into the segment CASE and
        -- evaluated there some twenty times per member instead of once.
        OFFSET 0
    ) s
), written AS (
    -- Runs to completion although nothing reads it (PostgreSQL's rule for data-modifying CTEs);
    -- without RETURNING: one row per fact, so the facts give the count.
    INSERT INTO analytics_rfmscore
        (member_id, run_id, last_purchase_at, recency_days, frequency, monetary_fen,
         r_score, f_score, m_score, segment)
    SELECT member_id, %(run)s, last_at, recency, frequency, monetary, r, f, m, segment FROM scored
)
SELECT (SELECT count(*) FROM facts), c.r_cuts, c.f_cuts, c.m_cuts FROM cuts c
"""


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
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(-3, 1)")
        run = RfmRun.objects.select_for_update().get(pk=run_id)
        if run.status == RunStatus.DONE:
            return run
        since = run.as_of - timedelta(days=run.window_days)
        with connection.cursor() as cur:
            cur.execute("DELETE FROM analytics_rfmscore")
            cur.execute(RFM_SQL, {"since": since, "as_of": run.as_of, "run": run.pk})
            scored, r_cuts, f_cuts, m_cuts = cur.fetchone()
        run.members_scored = scored
        run.cut_points = {"recency_days": r_cuts, "frequency": f_cuts, "monetary_fen": m_cuts}
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
