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
  period").  ``nightly_level`` and ``protected_until_after`` decide it; the
  nightly statement (``membership.sql._RECALC``) restates them for speed, and
  tests/membership/test_tier_rules.py proves the two agree.
- A refund undoes at once what it takes the window's growth below: a level
  gained since the refunded order's completion that the growth no longer
  reaches is taken back, protection or not (``tier_undo_since``), and so
  are the upgrade gift packs of the levels taken back.
- Every change writes a ``TierChange`` with its reason and sends a
  tier-change notification (dedupe key per change).

The growth ledger's mechanics (the lock, amount checks, replays) are
``loyalty.ledger``'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from coupons.services import gift_pack_issue
from loyalty import ledger as core
from loyalty import locks
from loyalty.config import cached
from loyalty.errors import NotFound
from loyalty.locks import Rank
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
    return core.lock_or_create(sql.lock_membership, sql.create_membership, member_id, missing=NotFound)


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


def is_protected(protected_until: datetime | None, now: datetime) -> bool:
    """Whether a member's tier may not go down at night yet (None: never protected)."""
    return protected_until is not None and protected_until > now


def protected_until_after(
    *, from_level: int, to_level: int, at: datetime, policy: MembershipPolicy
) -> datetime:
    """The protection a change at ``at`` gives: ``protection_days`` after an upgrade, ``downgrade_period_days``
    after a downgrade."""
    days = policy.protection_days if to_level > from_level else policy.downgrade_period_days
    return at + timedelta(days=days)


def nightly_level(
    *, level: int, growth: int, protected_until: datetime | None, now: datetime, all_tiers: list[Tier]
) -> int:
    """The level the nightly recalculation gives a member at ``level`` with ``growth`` in the window.

    Up at once to what the growth reaches; down only when the growth no longer holds ``level`` and the
    member is not protected, and then by one existing level at most (never below what the growth
    reaches).  ``membership.sql._RECALC`` restates this for speed.
    """
    qualifies = level_for_growth(growth, all_tiers)
    if qualifies > level:
        return qualifies
    if qualifies < level and not is_protected(protected_until, now):
        one_down = max((t.level for t in all_tiers if t.level < level), default=0)
        return max(qualifies, one_down)
    return level


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
    nothing; a request that does not repeat it is ``idempotency_conflict``
    (``growth_replay``).  The total never goes below zero (a CHECK constraint too).
    """
    request_hash = _growth_request_hash(kind=kind, order_no=order_no, paid_fen=paid_fen, amount=amount)
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
        with sql.db_cursor() as cur:
            return _GROWTH.replay(cur, membership.member_id, idempotency_key, request_hash)
    membership.growth_total += amount
    return GrowthPosting(entry_id=entry_id, amount=amount, replayed=False)


def growth_replay(
    *, member_id: int, kind: str, idempotency_key: str, order_no: str = "", paid_fen: int = 0, amount: int = 0
) -> GrowthPosting | None:
    """The growth entry posted under ``idempotency_key`` when this request repeats it; None when the key
    is new.  A request that does not repeat it is ``idempotency_conflict``."""
    request_hash = _growth_request_hash(kind=kind, order_no=order_no, paid_fen=paid_fen, amount=amount)
    with sql.db_cursor() as cur:
        return _GROWTH.replay(cur, member_id, idempotency_key, request_hash)


def _growth_request_hash(*, kind: str, order_no: str, paid_fen: int, amount: int) -> str:
    """What a replay of a growth key must repeat.  The growth ledger keeps no hash: an entry's columns
    are its request.  An order repeats what was paid (its growth follows the policy of the day), a
    refund its order (what it takes back is decided from the order each time), anything else its amount.
    """
    if kind == GrowthEntry.Kind.ORDER:
        return core.request_hash(kind=kind, order_no=order_no, paid_fen=paid_fen)
    if kind == GrowthEntry.Kind.REFUND:
        return core.request_hash(kind=kind, order_no=order_no)
    return core.request_hash(kind=kind, amount=amount)


_GROWTH = core.Ledger(
    entry_by_key=sql.growth_by_key,
    replayed=lambda row: GrowthPosting(entry_id=row.id, amount=row.amount, replayed=True),
    hash_of=lambda row: _growth_request_hash(
        kind=row.kind, order_no=row.order_no, paid_fen=row.paid_fen, amount=row.amount
    ),
)


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


def tier_set_at_least(*, membership: Membership, level: int, now: datetime, note: str) -> TierChange | None:
    """Raise the member to ``level`` unless already there or above; the membership row is locked.

    For a tier carried over from another system: recorded as an operator's change with ``note``, and
    without the upgrade gift packs or message (the member climbed there in the other system).
    """
    all_tiers = tiers()
    level = max(level, level_for_growth(window_growth(member_id=membership.member_id, at=now), all_tiers))
    if level <= membership.tier_level or level not in {tier.level for tier in all_tiers}:
        return None
    from_level = membership.tier_level
    membership.tier_level = level
    membership.tier_changed_at = now
    membership.save(update_fields=["tier_level", "tier_changed_at"])
    return TierChange.objects.create(
        member_id=membership.member_id,
        from_level=from_level,
        to_level=level,
        reason=TierChange.Reason.OPERATOR,
        window_growth=window_growth(member_id=membership.member_id, at=now),
        note=note[:200],
        created_at=now,
    )


def _change(
    *, membership: Membership, to_level: int, reason: str, growth: int, now: datetime, policy, note: str = ""
) -> TierChange:
    from_level = membership.tier_level
    membership.tier_level = to_level
    membership.tier_changed_at = now
    membership.protected_until = protected_until_after(
        from_level=from_level, to_level=to_level, at=now, policy=policy
    )
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
    kept = reached or (  # the change whose protection the member keeps
        TierChange.objects.filter(member_id=membership.member_id, created_at__lt=since)
        .order_by("-pk")
        .first()
    )
    changed_at = kept.created_at if kept else None
    protected_until = (
        protected_until_after(
            from_level=kept.from_level, to_level=kept.to_level, at=kept.created_at, policy=policy
        )
        if kept
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
