"""Tiers and growth value (成长值): the growth ledger, upgrades at once, the nightly recalculation.

Rules (each one tested):

- Growth is earned from paid spend (``MembershipPolicy.growth_per_yuan``,
  ``loyalty.rounding.growth_for_paid``) and kept in an append-only ledger
  (``GrowthEntry``, keyed per member) with a cached lifetime total on the
  ``Membership`` row, which is also the row every membership write locks.
- The tier is the highest level whose threshold the growth counted in the
  rolling window (``window_months``, entries by ``counts_at``) reaches.
- Upgrades happen at once, when an order completes (and at night for anyone
  the day's orders missed).  Every level passed on the way up gives its
  upgrade gift pack, once per member and level ever (occasion
  ``tier-upgrade:<level>``), so dropping and climbing again gives nothing twice.
- Downgrades happen only at night, by at most one level per run, and never
  while the member is protected: ``protection_days`` after an upgrade and
  ``downgrade_period_days`` after a downgrade (so "at most one level per
  period").
- A refund undoes at once what it takes the window's growth below: a level
  gained since the refunded order's completion that the growth no longer
  reaches is taken back, protection or not (``tier_undo_since``), and so
  are the upgrade gift packs of the levels taken back.
- Every change writes a ``TierChange`` with its reason and sends a
  tier-change notification (dedupe key per change).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from coupons.services import gift_pack_issue
from loyalty import locks
from loyalty.config import cached
from loyalty.locks import Rank
from loyalty.rows import lock_row
from membership import sql
from membership.models import GrowthEntry, Membership, MembershipPolicy, Tier, TierChange
from notifications.services import Draft, notify_many


def membership_policy() -> MembershipPolicy:
    """The policy row (cached: loyalty.config; do not mutate it)."""
    return cached(
        "membership_policy",
        depends_on=(MembershipPolicy,),
        load=lambda: MembershipPolicy.objects.get_or_create(pk=1)[0],
    )


def lock_membership(*, member_id: int) -> Membership:
    """The member's membership row, created if missing, locked FOR UPDATE until the transaction ends.

    Raw, and one statement when the row exists (every completed order locks it)."""
    locks.note(Rank.MEMBERSHIP, f"membership of {member_id}")
    membership = lock_row(Membership, "member_id", member_id)
    if membership is None:
        sql.create_membership(member_id)
        membership = lock_row(Membership, "member_id", member_id)
    return membership


def try_lock_membership(*, member_id: int) -> Membership | None:
    """The member's membership row locked FOR UPDATE, or None when another transaction holds it or it
    does not exist yet: never waits (for callers already holding a lock that comes after it)."""
    return sql.try_lock_membership(member_id)


def window_start(*, at: datetime, policy: MembershipPolicy) -> datetime:
    """The start of the rolling window ending at ``at`` (calendar months, merchant-local)."""
    return timezone.localtime(at) - relativedelta(months=policy.window_months)


def window_growth(*, member_id: int, at: datetime, policy: MembershipPolicy | None = None) -> int:
    policy = policy or membership_policy()
    growth = sql.window_growth(member_id, window_start(at=at, policy=policy), at)
    return max(int(growth), 0)


def tiers() -> list[Tier]:
    """Every tier by level (cached: loyalty.config; do not mutate them)."""
    return cached("tiers", depends_on=(Tier,), load=lambda: list(Tier.objects.order_by("level")))


def level_for_growth(growth: int, all_tiers: list[Tier]) -> int:
    """The highest level whose threshold ``growth`` reaches (thresholds are inclusive)."""
    reached = [t.level for t in all_tiers if t.growth_threshold <= growth]
    return max(reached, default=0)


@dataclass(frozen=True)
class GrowthPosting:
    entry_id: int
    amount: int
    replayed: bool


def growth_post(
    *,
    membership: Membership,
    kind: str,
    amount: int,
    idempotency_key: str,
    counts_at: datetime,
    order_no: str = "",
    paid_fen: int = 0,
) -> GrowthPosting:
    """Append a growth entry and move the cached total with it; the membership row must be locked.

    Idempotent by (member, key): a replay returns the first entry and moves
    nothing.  The total never goes below zero (a CHECK constraint too).
    """
    amount = max(amount, -membership.growth_total)
    # the key's unique index detects a replay: one statement either way
    entry_id = sql.insert_growth(
        member_id=membership.member_id,
        kind=kind,
        amount=amount,
        paid_fen=paid_fen,
        order_no=order_no,
        idempotency_key=idempotency_key,
        counts_at=counts_at,
    )
    if entry_id is None:
        earlier = GrowthEntry.objects.get(member_id=membership.member_id, idempotency_key=idempotency_key)
        return GrowthPosting(entry_id=earlier.pk, amount=earlier.amount, replayed=True)
    membership.growth_total += amount
    return GrowthPosting(entry_id=entry_id, amount=amount, replayed=False)


def save_totals(*, membership: Membership, window_at: datetime, policy: MembershipPolicy) -> int:
    """Write the membership's growth total, paid total and order count; returns the growth counted in the
    window ending at ``window_at``, read in the same statement (an order's completion needs both)."""
    growth = sql.save_totals(
        membership_id=membership.pk,
        member_id=membership.member_id,
        growth_total=membership.growth_total,
        paid_total_fen=membership.paid_total_fen,
        completed_orders=membership.completed_orders,
        start=window_start(at=window_at, policy=policy),
        end=window_at,
    )
    return max(int(growth), 0)


def tier_upgrade_if_due(
    *,
    membership: Membership,
    now: datetime,
    reason: str,
    policy: MembershipPolicy | None = None,
    growth: int | None = None,
) -> TierChange | None:
    """Upgrade at once when the window's growth reaches a higher tier (never downgrades). Row locked.

    ``policy``: the membership policy when the caller has just read it; ``growth``: the window's growth
    at ``now`` when the caller has just read it (``save_totals``); one query less each."""
    policy = policy or membership_policy()
    if growth is None:
        growth = window_growth(member_id=membership.member_id, at=now, policy=policy)
    target = level_for_growth(growth, tiers())
    if target <= membership.tier_level:
        return None
    return _change(
        membership=membership, to_level=target, reason=reason, growth=growth, now=now, policy=policy
    )


def _change(
    *, membership: Membership, to_level: int, reason: str, growth: int, now: datetime, policy, note: str = ""
) -> TierChange:
    from_level = membership.tier_level
    membership.tier_level = to_level
    membership.tier_changed_at = now
    days = policy.protection_days if to_level > from_level else policy.downgrade_period_days
    membership.protected_until = now + timedelta(days=days)
    membership.save(update_fields=["tier_level", "tier_changed_at", "protected_until"])
    change = TierChange.objects.create(
        member_id=membership.member_id,
        from_level=from_level,
        to_level=to_level,
        reason=reason,
        window_growth=growth,
        note=note,
        created_at=now,
    )
    after_tier_changes([change])
    return change


def tier_undo_since(
    *,
    membership: Membership,
    since: datetime,
    now: datetime,
    note: str,
    policy: MembershipPolicy | None = None,
) -> TierChange | None:
    """A refund took growth back: undo the levels gained since ``since`` that the window's growth no longer
    reaches (``since``: the refunded order's completion).  Membership row locked.

    The member goes down at once to the higher of what the window's growth
    reaches now and the level they held before ``since``; protection does not
    shield a gain whose cause was refunded.  Their protection becomes what
    the history they keep gives: the upgrade since ``since`` that reached the
    new level, else the last change before ``since`` (none: unprotected).
    The change is recorded with reason ``refund`` and ``note`` and notified;
    the caller undoes the upgrade packs of the levels taken back
    (``undone_upgrade_occasions``) with the other packs the refund undoes.
    """
    policy = policy or membership_policy()
    since_then = list(
        TierChange.objects.filter(member_id=membership.member_id, created_at__gte=since).order_by("pk")
    )
    if not any(c.to_level > c.from_level for c in since_then):
        return None  # nothing gained since the order: the nightly rules alone apply
    before = since_then[0].from_level
    growth = window_growth(member_id=membership.member_id, at=now, policy=policy)
    target = min(membership.tier_level, max(level_for_growth(growth, tiers()), before))
    if target >= membership.tier_level:
        return None
    reached = (
        next((c for c in since_then if c.from_level < target <= c.to_level), None)
        if target > before
        else None
    )
    if reached is not None:
        changed_at, protected_until = (
            reached.created_at,
            reached.created_at + timedelta(days=policy.protection_days),
        )
    else:
        last = (
            TierChange.objects.filter(member_id=membership.member_id, created_at__lt=since)
            .order_by("-pk")
            .first()
        )
        changed_at = last.created_at if last else None
        protected_until = (
            last.created_at
            + timedelta(
                days=policy.protection_days
                if last.to_level > last.from_level
                else policy.downgrade_period_days
            )
            if last
            else None
        )
    from_level = membership.tier_level
    membership.tier_level, membership.tier_changed_at, membership.protected_until = (
        target,
        changed_at,
        protected_until,
    )
    membership.save(update_fields=["tier_level", "tier_changed_at", "protected_until"])
    change = TierChange.objects.create(
        member_id=membership.member_id,
        from_level=from_level,
        to_level=target,
        reason=TierChange.Reason.REFUND,
        window_growth=growth,
        note=note[:200],
        created_at=now,
    )
    after_tier_changes([change])
    return change


def upgrade_occasion(level: int) -> str:
    """The occasion of a level's upgrade gift pack: once per member and level, ever."""
    return f"tier-upgrade:{level}"


def undone_upgrade_occasions(change: TierChange) -> list[str]:
    """The upgrade packs a downward change takes back (the levels it leaves)."""
    return [upgrade_occasion(level) for level in range(change.to_level + 1, change.from_level + 1)]


def after_tier_changes(changes: list[TierChange]) -> None:
    """Gift packs for every level passed upward, and one notification per change (same transaction)."""
    by_level = {t.level: t for t in tiers()}
    drafts = []
    for change in changes:
        for level in range(change.from_level + 1, change.to_level + 1):
            tier = by_level.get(level)
            if tier is not None and tier.upgrade_pack_id:
                gift_pack_issue(
                    pack_id=tier.upgrade_pack_id, member_id=change.member_id, occasion=upgrade_occasion(level)
                )
        new = by_level.get(change.to_level)
        name = new.name if new else str(change.to_level)
        if change.to_level > change.from_level:
            body = _("Congratulations! You have been upgraded to %(tier)s.")
        elif change.reason == TierChange.Reason.REFUND:
            body = _("A refund took back the growth value of your upgrade: your tier is %(tier)s again.")
        else:
            body = _("Your tier has changed to %(tier)s. Earn growth value to climb again.")
        drafts.append(
            Draft(
                member_id=change.member_id,
                kind="tier_change",
                title=_("Your tier is now %(tier)s") % {"tier": name},
                body=body % {"tier": name},
                dedupe_key=f"tier-change:{change.pk}",
                data={"from_level": change.from_level, "to_level": change.to_level, "reason": change.reason},
            )
        )
    notify_many(drafts)


# --- the nightly recalculation ------------------------------------------------------------


def tiers_recalculate(*, now: datetime | None = None, chunk_size: int = 5000) -> dict:
    """The nightly recalculation: set-based, in chunks of memberships, each its own transaction.

    Idempotent and resumable: a second run the same night finds upgraded
    members at their level and downgraded ones protected, so it changes
    nothing; a run killed half-way leaves whole chunks done and the rest for
    the next run.  A member whose membership changed while their chunk ran
    (an order completing) is left alone until the next night.  A closed
    account keeps the tier it closed at: no change, no gift, no message.
    Returns counts.
    """
    now = now or timezone.now()
    policy = membership_policy()
    params = {
        "window_start": window_start(at=now, policy=policy),
        "now": now,
        "protect": policy.protection_days,
        "period": policy.downgrade_period_days,
        "limit": chunk_size,
    }
    after, seen, changed = 0, 0, 0
    while True:
        with transaction.atomic(), sql.db_cursor() as cur:
            chunk = sql.recalc_chunk(cur, {**params, "after": after})
            changes = [
                TierChange(
                    pk=row.id, member_id=row.member_id, from_level=row.from_level, to_level=row.to_level
                )
                for row in chunk.changes
            ]
            if changes:
                after_tier_changes(changes)
        if chunk.last is None:
            break
        after, seen, changed = chunk.last, seen + chunk.count, changed + len(changes)
    return {"memberships": seen, "changed": changed}
