"""Writes for the membership programme: order events from checkout, refunds, growth for tasks."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from coupons import selectors as coupon_selectors
from coupons import services as coupon_services
from loyalty import ledger as core
from loyalty import rounding
from membership import cards, tiers
from membership.models import GrowthEntry, Membership

NEW_MEMBER_OCCASION = "new_member"

# Order events from checkout (the orders app) reach membership through these
# two calls only: growth value, cumulative spend and order count, tier
# upgrade, conditional cards.


def membership_lock(*, member_id: int) -> Membership:
    """Lock the member's membership row (created if missing) for a workflow that must hold it before its
    coupons (``loyalty.locks``) and then records the order or refund here."""
    return tiers.lock_membership(member_id=member_id)


def membership_record_order(
    *,
    member_id: int,
    order_no: str,
    paid_fen: int,
    completed_at,
    savepoint: bool = True,
    locked: Membership | None = None,
) -> int:
    """A paid order completed: count ``paid_fen`` toward growth and cumulative spend.

    Returns how many of the member's orders count as completed before this
    one (0: this is their first; a fully refunded order no longer counts).

    Called inside checkout's completion transaction (which any error here
    aborts, so it passes ``savepoint=False`` to save two round trips); locks
    the member's membership row (so parallel completions of one member run
    one after the other).  In that transaction: a growth entry keyed ``order:<no>``
    (growth = ``rounding.growth_for_paid``, counted in the window from
    ``completed_at``), cumulative paid spend and completed-order count, an
    upgrade at once if the window's growth now reaches a higher tier (gift
    pack, history, notification), and every conditional card whose threshold
    is now met.  Idempotent by ``order_no``: a repeated call changes nothing;
    the same order number with another amount is ``idempotency_conflict``.
    ``locked``: the row from ``membership_lock`` in this transaction (not locked again).
    """
    _check_paid(paid_fen)
    with transaction.atomic(savepoint=savepoint):
        membership = locked or tiers.lock_membership(member_id=member_id)
        policy = tiers.membership_policy()
        posting = tiers.growth_post(
            membership=membership,
            kind="order",
            amount=rounding.growth_for_paid(paid_fen=paid_fen, growth_per_yuan=policy.growth_per_yuan),
            idempotency_key=f"order:{order_no}",
            counts_at=completed_at,
            order_no=order_no,
            paid_fen=paid_fen,
        )
        if posting.replayed:
            return membership.completed_orders - 1
        membership.paid_total_fen += paid_fen
        membership.completed_orders += 1
        now = timezone.now()
        at = max(now, completed_at)
        growth = tiers.save_totals(membership=membership, window_at=at, policy=policy)
        tiers.tier_upgrade_if_due(membership=membership, now=at, reason="order", policy=policy, growth=growth)
        cards.cards_grant_conditional(membership=membership, now=now)
        return membership.completed_orders - 1


#: The growth ledger's mark that an order was refunded whole (a zero entry): it no longer counts as a
#: completed order, once (the key is unique per member), and ``verify_ledgers`` can count it.
CLOSED_KEY = "closed:{order_no}"


def membership_record_refund(
    *,
    member_id: int,
    order_no: str,
    refund_no: str,
    paid_fen: int,
    fully_refunded: bool = False,
    points_clawed_back: int = 0,
) -> None:
    """Part (or all) of a completed order was refunded: take ``paid_fen`` back out, and what it gained.

    Called inside checkout's refund transaction, which has locked the
    membership row and the order's coupons (the lock order, ``loyalty.locks``).  The order's
    growth is recomputed from what is left paid and the difference taken
    back (so partial refunds add up exactly; growth counted at the order's
    completion time); cumulative spend goes down by the refunded amount,
    never below what the order added nor below zero.  ``fully_refunded``
    (nothing of the order is left): it no longer counts as a completed
    order, so a member whose only order it was has no first order again.

    Nothing the refund takes below a threshold survives it: a tier gained
    since the order that the window's growth no longer reaches is undone at
    once, protection or not (``tiers.tier_undo_since``), and so is a
    conditional card gained since whose figure is now below its threshold
    (``cards.cards_undo_since``; ``points_clawed_back``: the earned points
    this refund is about to claw back), each with its gift packs, a reason
    and a notification.  What stays above its threshold stays.

    An order never recorded has nothing to take back.  Idempotent by
    (``order_no``, ``refund_no``).
    """
    _check_paid(paid_fen)
    with transaction.atomic():
        membership = tiers.lock_membership(member_id=member_id)
        key = f"refund:{order_no}:{refund_no}"  # refund numbers are unique per order only
        if tiers.growth_replay(member_id=member_id, kind="refund", idempotency_key=key, order_no=order_no):
            return
        order = GrowthEntry.objects.filter(member_id=member_id, idempotency_key=f"order:{order_no}").first()
        if order is None:
            return
        refunds = GrowthEntry.objects.filter(member_id=member_id, order_no=order_no, kind="refund")
        taken = refunds.aggregate(paid=Sum("paid_fen", default=0), growth=Sum("amount", default=0))
        refunded_before = taken["paid"]
        refunded_now = min(paid_fen, order.paid_fen - refunded_before)
        policy = tiers.membership_policy()
        growth_left = rounding.growth_for_paid(
            paid_fen=order.paid_fen - refunded_before - refunded_now, growth_per_yuan=policy.growth_per_yuan
        )
        growth_now = order.amount + taken["growth"]
        tiers.growth_post(
            membership=membership,
            kind="refund",
            amount=-(growth_now - growth_left),
            idempotency_key=key,
            counts_at=order.counts_at,
            order_no=order_no,
            paid_fen=refunded_now,
        )
        membership.paid_total_fen = max(membership.paid_total_fen - refunded_now, 0)
        if fully_refunded:
            closed = tiers.growth_post(
                membership=membership,
                kind="refund",
                amount=0,
                idempotency_key=CLOSED_KEY.format(order_no=order_no),
                counts_at=order.counts_at,
                order_no=order_no,
            )
            if not closed.replayed:
                membership.completed_orders = max(membership.completed_orders - 1, 0)
        membership.save(update_fields=["growth_total", "paid_total_fen", "completed_orders"])
        _undo_gains(
            membership,
            since=order.counts_at,
            note=f"order {order_no} refunded ({refund_no})",
            points_clawed_back=points_clawed_back,
            policy=policy,
        )


def _undo_gains(membership, *, since, note: str, points_clawed_back: int, policy) -> None:
    """The tier and conditional cards gained since ``since`` that the refund took below their thresholds,
    then their gift packs: all their coupons, then all their points (the lock order)."""
    now = timezone.now()
    change = tiers.tier_undo_since(membership=membership, since=since, now=now, note=note, policy=policy)
    occasions = tiers.undone_upgrade_occasions(change) if change else []
    if occasions:
        points_clawed_back += coupon_selectors.gift_pack_points_standing(
            member_id=membership.member_id, occasions=occasions, since=since
        )
    undone = cards.cards_undo_since(
        membership=membership, since=since, now=now, note=note, points_clawed_back=points_clawed_back
    )
    occasions += [cards.opening_occasion(card.pk) for card in undone]
    if occasions:
        coupon_services.gift_pack_revoke(
            member_id=membership.member_id, occasions=occasions, since=since, reason=note
        )  # a coupon an open order holds stays with it: the order's refund cannot wait


def membership_award_growth(*, member_id: int, amount: int, idempotency_key: str) -> None:
    """Growth value for something other than an order (a task: a review, a profile, an operator's gesture).

    Positive only; counted in the window from now; may upgrade at once like
    an order.  Idempotent by key (the same key with another amount is
    ``idempotency_conflict``).
    """
    core.check_amount(
        amount, invalid=lambda: ValueError(f"amount must be a positive integer, not {amount!r}")
    )
    with transaction.atomic():
        membership = tiers.lock_membership(member_id=member_id)
        now = timezone.now()
        posting = tiers.growth_post(
            membership=membership,
            kind="task",
            amount=amount,
            idempotency_key=f"task:{idempotency_key}",
            counts_at=now,
        )
        if posting.replayed:
            return
        membership.save(update_fields=["growth_total"])
        tiers.tier_upgrade_if_due(membership=membership, now=now, reason="task")


def membership_import(*, member_id: int, growth: int, level: int, idempotency_key: str, note: str) -> int:
    """Growth and tier carried over from another system (the migration app's import).

    The growth is an ``adjust`` entry counted from now, keyed by ``idempotency_key`` (a repeat posts
    nothing); the tier becomes the higher of ``level`` and the one the growth reaches, never lower
    than the member's own, without upgrade gift packs (``tiers.tier_set_at_least``).  Returns the
    growth posted now (0 for a replay).
    """
    posted = 0
    with transaction.atomic():
        membership = tiers.lock_membership(member_id=member_id)
        now = timezone.now()
        if growth > 0:
            posting = tiers.growth_post(
                membership=membership,
                kind=GrowthEntry.Kind.ADJUST,
                amount=growth,
                idempotency_key=idempotency_key,
                counts_at=now,
            )
            if not posting.replayed:
                membership.save(update_fields=["growth_total"])
                posted = posting.amount
        tiers.tier_set_at_least(membership=membership, level=level, now=now, note=note)
    return posted


def membership_import_undo(*, member_id: int, growth: int, idempotency_key: str) -> None:
    """Take back growth an import posted (an ``adjust`` entry of ``-growth``, never below zero); the
    tier follows at the nightly recalculation, as after any loss of growth."""
    with transaction.atomic():
        membership = tiers.lock_membership(member_id=member_id)
        posting = tiers.growth_post(
            membership=membership,
            kind=GrowthEntry.Kind.ADJUST,
            amount=-growth,
            idempotency_key=idempotency_key,
            counts_at=timezone.now(),
        )
        if not posting.replayed:
            membership.save(update_fields=["growth_total"])


def member_welcome_gift(*, member_id: int):
    """Give the new-member gift pack (新人礼) the membership policy names, if any: occasion ``new_member``.

    Called once, by the transaction that creates the member (``members.services.member_login`` tells
    ``members.events.CREATED``; the demo calls it for the members it creates in bulk), so a member gets
    one; the grant's key (pack, member, ``new_member``) makes a repeat a no-op all the same.  Returns
    the grant, or None (no pack chosen, pack inactive, account closed).
    """
    pack_id = tiers.membership_policy().new_member_pack_id
    if pack_id is None:
        return None
    return coupon_services.gift_pack_issue(pack_id=pack_id, member_id=member_id, occasion=NEW_MEMBER_OCCASION)


def _check_paid(paid_fen) -> None:
    core.check_amount(
        paid_fen,
        least=0,
        invalid=lambda: ValueError(f"paid_fen must be a non-negative integer, not {paid_fen!r}"),
    )
