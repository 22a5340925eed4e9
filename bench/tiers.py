"""Membership benchmark: the nightly tier recalculation against one hand-written SQL statement.

The data set: ``small`` 50,000 members with 500,000 completed orders,
``full`` 1,000,000 members with 10,000,000 orders, as growth-ledger rows
(the ledger is what the recalculation reads; there is no orders table),
spread evenly over the last 18 months so about a third falls outside the
12-month window.  Nine members in ten sit at the tier their growth gave
them a day ago and one in ten at a random tier, a third of whom are
protected; so a run upgrades and downgrades a few per cent of them.

``tiers_recalculate()`` (chunks of memberships, SKIP LOCKED, tier history
and one tier-change notification per change) is set beside one statement
doing the same work over the whole table at once: the window aggregate, the
same rules, the membership update, the history and the notification rows.
Both run on fresh copies of the same data, alternating which goes first;
afterwards the memberships, the history and the notifications of every run
must be identical, and ``verify_ledgers``' membership checks must pass.
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import timedelta

from bench.common import Figure, Harness, benchmark, copy_members, copy_rows, indexes_dropped, reset_sequences

APP_MODULES = ("membership.tiers", "loyalty.management.commands.verify_ledgers")

ORDERS_PER_MEMBER = 10
MEMBERS = {"small": 50_000, "full": 1_000_000}
HISTORY_DAYS = 548  # 18 months of orders


def _levels():
    from membership.models import Tier

    return sorted(Tier.objects.values_list("growth_threshold", "level"))


def _level_for(growth: int, levels) -> int:
    reached = [level for threshold, level in levels if threshold <= growth]
    return max(reached, default=0)


def _load(members: int, now) -> None:
    """COPY members, their memberships and their growth entries (consistent: cached total = ledger sum)."""
    from django.db import connection

    from membership.tiers import membership_policy, window_start

    policy = membership_policy()
    yesterday_start = window_start(at=now - timedelta(days=1), policy=policy)
    levels = _levels()
    rng = random.Random(20261201)
    memberships = []

    def entries():  # streamed: ten million rows never sit in memory; memberships fill in as they go
        entry_id = 0
        for m in range(1, members + 1):
            total = window = 0
            for k in range(ORDERS_PER_MEMBER):
                entry_id += 1
                paid = rng.choice([3_900, 8_800, 12_800, 25_900, 49_900, 128_000])
                growth = paid // 100
                counts_at = now - timedelta(seconds=rng.randint(3600, HISTORY_DAYS * 86400))
                total += growth
                if counts_at > yesterday_start:
                    window += growth
                key = f"B{m}-{k}"
                yield (entry_id, m, "order", growth, paid, key, f"order:{key}", counts_at, counts_at)
            if rng.random() < 0.9:
                level, protected = _level_for(window, levels), None
            else:
                level = rng.choice(levels)[1]
                protected = now + timedelta(days=30) if rng.random() < 0.33 else None
            memberships.append((m, m, level, total, total * 100, ORDERS_PER_MEMBER, None, protected))

    tables = ["members_member", "members_membership", "members_growthentry"]
    with connection.cursor() as cur, indexes_dropped(cur, tables):
        copy_members(cur, members, now)
        copy_rows(
            cur,
            "members_growthentry",
            [
                "id",
                "member_id",
                "kind",
                "amount",
                "paid_fen",
                "order_no",
                "idempotency_key",
                "counts_at",
                "created_at",
            ],
            entries(),
        )
        copy_rows(
            cur,
            "members_membership",
            [
                "id",
                "member_id",
                "tier_level",
                "growth_total",
                "paid_total_fen",
                "completed_orders",
                "tier_changed_at",
                "protected_until",
            ],
            memberships,
        )
        reset_sequences(cur, tables)


# The same work in one statement over the whole table: what a DBA would write by hand.
_ALL_SQL = """
WITH growth AS (
    SELECT member_id, SUM(amount) AS g FROM members_growthentry
     WHERE counts_at > %(window_start)s AND counts_at <= %(now)s GROUP BY member_id
), decided AS (
    SELECT m.id, m.member_id, m.tier_level AS old_level, m.protected_until,
           GREATEST(COALESCE(g.g, 0), 0) AS wg,
           COALESCE((SELECT MAX(t.level) FROM members_tier t
                      WHERE t.growth_threshold <= GREATEST(COALESCE(g.g, 0), 0)), 0) AS qualifies
      FROM members_membership m LEFT JOIN growth g ON g.member_id = m.member_id
), target AS (
    SELECT d.*, CASE
             WHEN d.qualifies > d.old_level THEN d.qualifies
             WHEN d.qualifies < d.old_level AND (d.protected_until IS NULL OR d.protected_until <= %(now)s)
               THEN GREATEST(d.qualifies, COALESCE(
                      (SELECT MAX(t.level) FROM members_tier t WHERE t.level < d.old_level), 0))
             ELSE d.old_level END AS new_level
      FROM decided d
), changed AS (
    UPDATE members_membership m
       SET tier_level = t.new_level, tier_changed_at = %(now)s,
           protected_until = %(now)s + CASE WHEN t.new_level > t.old_level
                                            THEN %(protect)s ELSE %(period)s END * interval '1 day'
      FROM target t WHERE m.id = t.id AND t.new_level <> t.old_level
    RETURNING m.member_id, t.old_level, t.new_level, t.wg
), history AS (
    INSERT INTO members_tierchange (member_id, from_level, to_level, reason, window_growth, note, created_at)
    SELECT member_id, old_level, new_level,
           CASE WHEN new_level > old_level THEN 'nightly_up' ELSE 'nightly_down' END, wg, '', %(now)s
      FROM changed
    RETURNING id, member_id, from_level, to_level
), notified AS (
    INSERT INTO notifications_notification (member_id, kind, title, body, data, dedupe_key, created_at)
    SELECT h.member_id, 'tier_change', 'tier ' || h.to_level, 'tier changed',
           jsonb_build_object('from_level', h.from_level, 'to_level', h.to_level),
           'tier-change:' || h.id, %(now)s
      FROM history h
    RETURNING 1
)
SELECT COUNT(*) FROM notified
"""


def _params(now) -> dict:
    from membership.tiers import membership_policy, window_start

    policy = membership_policy()
    return {
        "window_start": window_start(at=now, policy=policy),
        "now": now,
        "protect": policy.protection_days,
        "period": policy.downgrade_period_days,
    }


def _warm_up() -> None:
    """One-time process costs (the translation catalogue the notification texts load) are not the job's."""
    from django.utils import translation

    from membership.tiers import membership_policy

    with translation.override("zh-hans"):
        translation.gettext("Your tier is now %(tier)s")
    membership_policy()


def _with_service(now) -> tuple[float, int]:
    from django.db import connection

    from membership.tiers import tiers_recalculate

    connection.ensure_connection()
    _warm_up()
    started = time.perf_counter()
    result = tiers_recalculate(now=now)
    return time.perf_counter() - started, result["changed"]


def _with_sql(now) -> tuple[float, int]:
    from django.db import connection, transaction

    connection.ensure_connection()
    _warm_up()
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(_ALL_SQL, _params(now))
        changed = cur.fetchone()[0]
    return time.perf_counter() - started, changed


def _fingerprint() -> dict:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT md5(string_agg(member_id || ':' || tier_level || ':' || COALESCE(protected_until::text, ''), ','"
            " ORDER BY member_id)) FROM members_membership"
        )
        (memberships,) = cur.fetchone()
        cur.execute(
            "SELECT count(*), md5(string_agg(member_id || ':' || from_level || ':' || to_level || ':' || reason"
            " || ':' || window_growth, ',' ORDER BY member_id)) FROM members_tierchange"
        )
        changes, history = cur.fetchone()
        cur.execute(
            "SELECT count(*), md5(string_agg(member_id::text, ',' ORDER BY member_id)) FROM notifications_notification"
            " WHERE kind = 'tier_change'"
        )
        notices, notified = cur.fetchone()
        cur.execute("SELECT tier_level, count(*) FROM members_membership GROUP BY 1 ORDER BY 1")
        levels = cur.fetchall()
    return {
        "memberships": memberships,
        "changes": changes,
        "history": history,
        "notices": notices,
        "notified": notified,
        "levels": levels,
    }


def _verify() -> None:
    from loyalty.management.commands.verify_ledgers import find_violations

    found = [v for v in find_violations() if v[0].startswith("members:")]
    if found:
        raise RuntimeError(f"membership invariants violated: {found[:5]}")


@benchmark("membership.tiers")
def recalculation(h: Harness) -> list[Figure]:
    """The nightly tier recalculation vs one hand-written SQL statement of the same work."""
    from django.utils import timezone

    members = MEMBERS[h.scale.name]
    build_time = timezone.now()
    template = h.template("tiers", lambda: _load(members, build_time))
    now = build_time

    runs: dict[str, list] = {"service": [], "sql": []}
    methods = {"service": _with_service, "sql": _with_sql}
    for round_ in range(h.scale.repeats):
        for method in ("service", "sql") if round_ % 2 == 0 else ("sql", "service"):
            with h.copy_of(template):
                seconds, changed = methods[method](now)
                runs[method].append((seconds, changed, _fingerprint()))
                _verify()
            print(f"  recalculation by {method}: {seconds:.2f} s ({changed:,} changes)", flush=True)
    fingerprints = [fp for r in runs.values() for _s, _n, fp in r]
    if any(fp != fingerprints[0] for fp in fingerprints):
        raise RuntimeError(f"the service and the statement left different data: {fingerprints}")
    fp = fingerprints[0]
    seconds = {method: statistics.median(s for s, _n, _fp in r) for method, r in runs.items()}
    orders = members * ORDERS_PER_MEMBER
    for method, label in (("service", "tiers_recalculate()"), ("sql", "one SQL statement")):
        h.note(
            f"recalculating {members:,} members from {orders:,} orders with {label}: "
            + ", ".join(f"{s:.2f}" for s, _n, _fp in runs[method])
            + f" s (median {seconds[method]:.2f} s)"
        )
    h.note(
        f"every run of both left identical data: {fp['changes']:,} tier changes with history and notification; "
        f"members per level after: {dict(fp['levels'])}; memberships md5 {fp['memberships']}"
    )
    return [
        Figure(
            f"tier recalculation, {members:,} members / {orders:,} orders, s (service vs one SQL statement)",
            seconds["service"],
            seconds["sql"],
            "s",
            "<=",
            1.3,
        )
    ]
