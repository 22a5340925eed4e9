"""Recharge plans and the recharge lifecycle: created → paid and credited (one transaction) | closed; refunded.

The payments app owns the money's journey (prepay, notification, close,
refund); this module owns what a recharge means: which bonus a plan gives,
who may use it, the balance cap, crediting principal, bonus and gifts
exactly once, and what a recharge refund takes back.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from coupons.services import gift_pack_coupons_lock, gift_pack_issue, gift_pack_revoke
from loyalty import locks, rounding
from loyalty.errors import IdempotencyConflict
from loyalty.locks import Rank, Space
from payments import services as payments
from points import earning
from points import ledger as points_ledger
from stored_value import ledger, sql
from stored_value.exceptions import (
    AccountFrozen,
    AmountOutOfRange,
    BalanceCapExceeded,
    NothingToRefund,
    PlanAlreadyUsed,
    PlanUnavailable,
    RechargeNotCredited,
    RechargeNotFound,
)
from stored_value.models import (
    MAX_FEN,
    EntryKind,
    PlanKind,
    RechargeOrder,
    RechargePlan,
    RechargeStatus,
    StoredValueEntry,
    StoredValuePolicy,
)
from stores.selectors import attribution

PAYMENT_PURPOSE = "recharge"


def stored_value_policy() -> StoredValuePolicy:
    return StoredValuePolicy.objects.get_or_create(pk=1)[0]


def recharge_bonus(*, plan: RechargePlan, amount_fen: int) -> int:
    """The bonus a plan gives for ``amount_fen``: the best tier reached (never pro rata), or the ratio."""
    if plan.kind == PlanKind.TIERS:
        reached = [tier.bonus_fen for tier in plan.tiers.all() if tier.pay_fen <= amount_fen]
        return max(reached, default=0)
    if plan.kind == PlanKind.RATIO:
        return rounding.recharge_ratio_bonus(
            paid_fen=amount_fen, pay_per=plan.ratio_pay, bonus_per=plan.ratio_bonus
        )
    return 0


def plans_available(*, member_id: int, now=None):
    """Active plans in their window that this member has not used up, in display order."""
    now = now or timezone.now()
    plans = (
        RechargePlan.objects.filter(is_active=True)
        .filter(
            Q(starts_at__isnull=True) | Q(starts_at__lte=now), Q(ends_at__isnull=True) | Q(ends_at__gt=now)
        )
        .prefetch_related("tiers")
    )
    return [plan for plan in plans if _uses_left(plan=plan, member_id=member_id)]


def _counted_orders(member_id: int):
    """Orders that count as a use of a plan: paid ones and those still awaiting payment."""
    return RechargeOrder.objects.filter(member_id=member_id).exclude(status=RechargeStatus.CLOSED)


def _uses_left(*, plan: RechargePlan, member_id: int) -> bool:
    orders = _counted_orders(member_id)
    if plan.first_recharge_only and orders.exists():
        return False
    if plan.max_uses_per_member is not None:
        return orders.filter(plan=plan).count() < plan.max_uses_per_member
    return True


def recharge_create(
    *, member, plan_id: int, amount_fen: int, store_code: str = "", staff_code: str = ""
) -> RechargeOrder:
    """Open a recharge order and its payment, awaiting payment.

    Everything is checked before any payment starts, under the member's
    recharge lock so that two recharges of one member are decided one after
    the other: the plan (active, in its window, uses left), the amount (a
    whole number of fen in the plan's range) and the balance cap — balance
    plus every recharge still awaiting payment plus this one, bonus included.
    No WeChat call: the caller asks ``payments.payment_prepay`` once no
    transaction is open (the API does it after its commit).  The caller (the
    API) makes it idempotent by Idempotency-Key.  ``store_code`` / ``staff_code``
    (a store's or a clerk's QR code) attribute it; unknown ones are ignored
    (``stores.selectors.attribution``).
    """
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or not 1 <= amount_fen <= MAX_FEN:
        raise AmountOutOfRange()
    policy = stored_value_policy()
    now = timezone.now()
    where = attribution(store_code=store_code, staff_code=staff_code)
    with transaction.atomic():
        # Recharges of one member are decided one at a time. Not under the account's row lock: spends
        # and crediting notifications never wait for this (in the API it lasts until the key's commit).
        locks.advisory_lock(Space.RECHARGE, member.pk)
        balance, frozen, pending = _balance_and_pending(
            member_id=member.pk, since=now - timedelta(minutes=policy.recharge_timeout_minutes)
        )
        plan = next((p for p in plans_available(member_id=member.pk, now=now) if p.pk == plan_id), None)
        if plan is None:
            used = RechargePlan.objects.filter(pk=plan_id, is_active=True).exists()
            raise PlanAlreadyUsed() if used and _plan_in_window(plan_id, now) else PlanUnavailable()
        if frozen:
            raise AccountFrozen()
        if not plan.min_fen <= amount_fen <= plan.max_fen:
            raise AmountOutOfRange(details={"min_fen": plan.min_fen, "max_fen": plan.max_fen})
        gift_bonus = recharge_bonus(plan=plan, amount_fen=amount_fen)
        if balance + pending + amount_fen + gift_bonus > policy.balance_cap_fen:
            raise BalanceCapExceeded(
                details={
                    "cap_fen": policy.balance_cap_fen,
                    "balance_fen": balance,
                    "pending_fen": pending,
                    "max_amount_fen": _largest_amount_under_cap(
                        plan, policy.balance_cap_fen - balance - pending
                    ),
                }
            )
        order = RechargeOrder.objects.create(
            member=member,
            plan=plan,
            amount_fen=amount_fen,
            bonus_fen=gift_bonus,
            gift_points=plan.gift_points,
            store_id=where.store_id,
            staff_id=where.staff_id,
        )
        payment = payments.payment_create(
            member=member,
            purpose=PAYMENT_PURPOSE,
            reference=str(order.pk),
            amount_fen=amount_fen,
            description=_("Stored value: %(plan)s") % {"plan": plan.name},
            timeout_minutes=policy.recharge_timeout_minutes,
        )
        order.out_trade_no = payment.out_trade_no
        order.save(update_fields=["out_trade_no"])
    return order


def _balance_and_pending(*, member_id: int, since) -> tuple[int, bool, int]:
    """(balance, frozen, recharges awaiting payment incl. their bonus), read in ONE statement.

    One snapshot, so a recharge being credited meanwhile is counted once: either
    still pending or already in the balance, never neither.
    """
    row = sql.balance_and_pending(member_id, since)
    return int(row.balance), bool(row.frozen), int(row.pending)


def _plan_in_window(plan_id: int, now) -> bool:
    return RechargePlan.objects.filter(
        Q(starts_at__isnull=True) | Q(starts_at__lte=now),
        Q(ends_at__isnull=True) | Q(ends_at__gt=now),
        pk=plan_id,
    ).exists()


def _largest_amount_under_cap(plan: RechargePlan, room_fen: int) -> int:
    """A hint for the member: the largest amount (with its bonus) that still fits under the cap."""
    low, high = 0, min(plan.max_fen, max(room_fen, 0))
    while low < high:  # bonus grows with the amount, so amount + bonus is monotonic
        mid = (low + high + 1) // 2
        if mid + recharge_bonus(plan=plan, amount_fen=mid) <= room_fen:
            low = mid
        else:
            high = mid - 1
    return low if low >= plan.min_fen else 0


def recharge_credit(*, payment) -> RechargeOrder:
    """The payment succeeded: credit principal, bonus and gift points once, in the payment's transaction.

    Called by the payments app exactly once per payment, with the payment row
    locked; it is idempotent all the same (every posting is keyed by the
    order).  A recharge closed meanwhile is still credited: the money arrived.
    """
    locks.note(Rank.DOCUMENT, "recharge order")
    order = (
        RechargeOrder.objects.select_for_update(of=("self",))
        .select_related("plan")
        .get(pk=int(payment.reference))
    )
    if order.status in (RechargeStatus.CREDITED, RechargeStatus.REFUNDED):
        return order
    if (
        payment.amount_fen != order.amount_fen
    ):  # the payments app checked the notification against the payment
        raise ValueError(f"payment {payment.out_trade_no} does not match recharge {order.pk}")
    # Gifts first: coupons, then points, then stored value, the order every workflow locks them in
    # (a refund of another recharge of this member locks the same three).
    if order.plan.gift_pack_id:
        gift_pack_issue(
            pack_id=order.plan.gift_pack_id, member_id=order.member_id, occasion=gift_occasion(order)
        )
    if order.gift_points:
        earning.points_grant_gift(
            member_id=order.member_id,
            points=order.gift_points,
            idempotency_key=gift_points_key(order),
            source="recharge_gift",
            reference=payment.out_trade_no,
        )
    ledger.stored_value_credit(
        member_id=order.member_id,
        recharge_id=order.pk,
        principal_fen=order.amount_fen,
        bonus_fen=order.bonus_fen,
        reference=payment.out_trade_no,
    )
    order.status = RechargeStatus.CREDITED
    order.credited_at = timezone.now()
    order.save(update_fields=["status", "credited_at"])
    return order


def gift_occasion(order: RechargeOrder) -> str:
    """The occasion the plan's gift pack is granted for: one pack per recharge."""
    return f"recharge:{order.pk}"


def gift_points_key(order: RechargeOrder) -> str:
    """The idempotency key of the plan's gift points (their earn entry)."""
    return f"recharge-gift:{order.pk}"


def recharge_close(*, payment) -> None:
    """The payment was closed unpaid: the order closes (and stops counting against the cap)."""
    RechargeOrder.objects.filter(pk=int(payment.reference), status=RechargeStatus.CREATED).update(
        status=RechargeStatus.CLOSED, closed_at=timezone.now()
    )


def recharge_refundable(*, order: RechargeOrder, principal_fen: int, bonus_fen: int) -> tuple[int, int]:
    """What of this recharge is unspent: (principal to refund, bonus to forfeit).

    Spending is attributed to recharges oldest first, so what the account
    still holds belongs to the newest recharges: this one keeps what is left
    of the balance after the recharges credited after it, capped by what it
    brought in and has not already refunded.  Principal and bonus are
    attributed separately.  Principal an operator added by adjustment counts
    as held last: it is spendable, never paid out (it was never paid in).
    Call with the account locked.
    """
    newer = RechargeOrder.objects.filter(
        member_id=order.member_id,
        pk__gt=order.pk,
        status__in=[RechargeStatus.CREDITED, RechargeStatus.REFUNDED],
    ).aggregate(
        principal=Sum("amount_fen") - Sum("refunded_fen"), bonus=Sum("bonus_fen") - Sum("forfeited_bonus_fen")
    )
    adjusted = StoredValueEntry.objects.filter(
        account__member_id=order.member_id, kind=EntryKind.ADJUST, principal_fen__gt=0
    ).aggregate(total=Sum("principal_fen"))["total"]
    held_later = (newer["principal"] or 0) + (adjusted or 0)
    principal = min(max(principal_fen - held_later, 0), order.amount_fen - order.refunded_fen)
    bonus = min(max(bonus_fen - (newer["bonus"] or 0), 0), order.bonus_fen - order.forfeited_bonus_fen)
    return principal, bonus


def recharge_refund(*, order_id: int, actor_id: int, reason: str, idempotency_key: str) -> RechargeOrder:
    """Refund a recharge's unspent principal through the payment provider and forfeit its unspent bonus;
    take back its gifts.

    The only way money leaves stored value.  One transaction: the
    ``recharge_refund`` entry, the order's counters, the gifts taken back and
    the provider refund request (a provider failure leaves the refund pending
    for the retry job; the balance has already been taken out, so it can
    never be spent twice).  The plan's gift points go back in proportion to
    the principal refunded (``loyalty.rounding.recharge_gift_points_clawback``,
    cumulative, so all of them once all the principal is refunded), clawed
    back like any earn: a debt if spent.  The refund that leaves none of the
    principal also revokes the plan's gift pack: its unused coupons are voided
    (used ones stay used) and its points clawed back; while an open order
    holds one of its coupons the refund is refused (``coupon_not_voidable``),
    nothing written.  Idempotent by ``idempotency_key``: a replay returns the
    first refund and takes back nothing more.

    Locks in the one order (``loyalty.locks``): the payment, the recharge
    order, the gift pack's coupons by id, the points account, the
    stored-value account; the amounts are decided under the last.
    """
    with transaction.atomic():
        out_trade_no = (
            RechargeOrder.objects.filter(pk=order_id).values_list("out_trade_no", flat=True).first()
        )
        if out_trade_no:
            payments.payment_lock(out_trade_no=out_trade_no)
        locks.note(Rank.DOCUMENT, "recharge order")
        order = RechargeOrder.objects.select_for_update().filter(pk=order_id).first()
        if order is None:
            raise RechargeNotFound()
        if order.status not in (RechargeStatus.CREDITED, RechargeStatus.REFUNDED):
            raise RechargeNotCredited()
        gift_pack_coupons_lock(member_id=order.member_id, occasion=gift_occasion(order))
        points_ledger.lock_account(member_id=order.member_id)
        principal_now, bonus_now, _frozen = ledger.lock_account(member_id=order.member_id)
        earlier = StoredValueEntry.objects.filter(
            account__member_id=order.member_id, idempotency_key=idempotency_key
        ).first()
        if earlier is not None:  # a replay: the first refund stands, though less may be left now
            if earlier.recharge_id != order.pk or earlier.kind != EntryKind.RECHARGE_REFUND:
                raise IdempotencyConflict()
            return order
        principal, bonus = recharge_refundable(order=order, principal_fen=principal_now, bonus_fen=bonus_now)
        if principal == 0 and bonus == 0:
            raise NothingToRefund()
        posting = ledger.stored_value_debit_recharge(
            member_id=order.member_id,
            recharge_id=order.pk,
            principal_fen=principal,
            bonus_fen=bonus,
            idempotency_key=idempotency_key,
            reference=order.out_trade_no,
            memo=reason,
            actor_id=actor_id,
        )
        _take_back_gifts(
            order,
            principal=principal,
            key=f"recharge-refund:{posting.entry_id}",
            reason=reason,
            actor_id=actor_id,
        )
        order.refunded_fen += principal
        order.forfeited_bonus_fen += bonus
        order.status = RechargeStatus.REFUNDED
        order.refunded_at = timezone.now()
        order.save(update_fields=["refunded_fen", "forfeited_bonus_fen", "status", "refunded_at"])
        if principal:
            payments.payment_refund(
                payment=payments.payment_get(out_trade_no=order.out_trade_no),
                amount_fen=principal,
                reason=reason[:80],
                out_refund_no=f"RF{posting.entry_id}",
            )
    return order


def recharge_gifts_taken_back(*, order: RechargeOrder, principal_fen: int) -> tuple[int, bool]:
    """What refunding ``principal_fen`` more of ``order`` takes back: (gift points, whether the gift pack goes)."""
    points = rounding.recharge_gift_points_clawback(
        gift_points=order.gift_points,
        amount_fen=order.amount_fen,
        refunded_before_fen=order.refunded_fen,
        refunding_fen=principal_fen,
    )
    return points, order.refunded_fen + principal_fen == order.amount_fen


def _take_back_gifts(order: RechargeOrder, *, principal: int, key: str, reason: str, actor_id: int) -> None:
    """Take back the gifts of ``principal`` more of ``order`` refunded (before its counters move)."""
    points, whole = recharge_gifts_taken_back(order=order, principal_fen=principal)
    if points:
        points_ledger.points_reverse_earn(
            member_id=order.member_id,
            earn_key=gift_points_key(order),
            amount=points,
            idempotency_key=f"{key}:gift-points",
            memo=reason[:200],
        )
    if whole:
        gift_pack_revoke(
            member_id=order.member_id,
            occasions=[gift_occasion(order)],
            reason=reason,
            actor_id=actor_id,
            refuse_while_held=True,
        )
