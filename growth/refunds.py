"""An operator's refund of a completed 拼团 place or a bought 砍价 bargain (the buyer returned the goods).

The payment is refunded in full through ``payments.payment_refund`` (submitted after commit, retried
until WeChat Pay accepts), and what the sale minted is undone — a refunded thing mints nothing:

- a coupon outcome: the coupon is voided if still available; used or expired it stays as it is (the
  rule of gift packs taken back, docs/rules/coupons.md); held by an open order the refund is refused
  (``coupon_not_voidable``, nothing written) until that order completes or is cancelled — as a recharge
  refund is;
- a physical unit: its mall shipment is cancelled if it has not shipped (shipped, the goods are on
  their way or back with the merchant: the redemption stays and the refund goes on);
- points, growth value, tiers: none to take back — a group or bargain payment earns none (its purposes
  in ``payments.purposes`` only settle the sale, and units sold elsewhere carry no points in the mall).

The unit goes back to the activity (``sold_count`` counts the units live sales hold, which
``verify_ledgers`` checks): while the activity runs another member can buy it; after it ended nothing
can.  A complete group stays complete and full (its members were fulfilled together).

Idempotent: a place or bargain is refunded once (its state, and the refund's number ``GB<place>`` /
``BG<bargain>-<attempt>``); asking again returns it unchanged.  One transaction each; locks in the one
order: payment, the place or bargain and its mall redemption (DOCUMENT), the activity's units
(GROWTH_STOCK), the coupon (COUPON), the mall item (MALL_ITEM).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from coupons import selectors as coupon_selectors
from coupons.models import CouponStatus
from coupons.services import coupon_void
from growth import bargains, services
from growth.exceptions import NotRefundable
from growth.models import Bargain, BargainActivity, BargainState, GroupMember, PlaceStatus
from loyalty import locks
from loyalty.locks import Rank
from mall import services as mall
from payments import services as payments

RETURNED = "group_returned"
BARGAIN_RETURNED = "bargain_returned"


@dataclass(frozen=True)
class SaleRefunded:
    amount_fen: int
    coupon_voided: bool = False
    coupon_kept: str = ""  # the status of a coupon left as it was (used, expired)
    shipment_cancelled: bool = False
    replayed: bool = False


def place_refund(*, place_id: int, reason: str, actor_id: int | None) -> SaleRefunded:
    """Refund a completed place in full and undo what it minted (see the module); ``not_refundable``
    for a place not completed (awaiting payment, in a group still open: the group's own rules refund
    those)."""
    if not reason.strip():
        raise ValueError("a reason is required")
    with transaction.atomic():
        out_trade_no = GroupMember.objects.values_list("out_trade_no", flat=True).get(pk=place_id)
        payment = payments.payment_lock(out_trade_no=out_trade_no)
        locks.note(Rank.DOCUMENT, "group place")
        place = GroupMember.objects.select_for_update().get(pk=place_id)
        if place.status == PlaceStatus.REFUNDED:
            return SaleRefunded(place.amount_fen, replayed=True)
        if place.status != PlaceStatus.COMPLETED:
            raise NotRefundable(details={"status": place.status})
        redemption = (
            mall.sold_elsewhere_lock(redemption_id=place.redemption_id) if place.redemption_id else None
        )
        payments.payment_refund(
            payment=payment, amount_fen=place.amount_fen, reason=RETURNED, out_refund_no=f"GB{place.pk}"
        )
        place.status, place.refund_reason, place.refunded_at = PlaceStatus.REFUNDED, RETURNED, timezone.now()
        place.save(update_fields=["status", "refund_reason", "refunded_at"])
        services._event("refunded", group_id=place.group_id, place_id=place.pk, note=reason)
        services._give_back_units(place.activity_id, 1)
        return SaleRefunded(place.amount_fen, **_undo(place.coupon_id, redemption, reason, actor_id))


def bargain_refund(*, bargain_id: int, reason: str, actor_id: int | None) -> SaleRefunded:
    """Refund a bought bargain in full and undo what it minted (see the module); ``not_refundable`` for
    a bargain not bought."""
    if not reason.strip():
        raise ValueError("a reason is required")
    with transaction.atomic():
        out_trade_no = Bargain.objects.values_list("out_trade_no", flat=True).get(pk=bargain_id)
        payment = payments.payment_lock(out_trade_no=out_trade_no) if out_trade_no else None
        bargain = bargains._lock(bargain_id)
        if bargain.state == BargainState.REFUNDED:
            return SaleRefunded(bargain.paid_fen, replayed=True)
        if bargain.state != BargainState.PAID or payment is None:
            raise NotRefundable(details={"state": bargain.state})
        redemption = (
            mall.sold_elsewhere_lock(redemption_id=bargain.redemption_id) if bargain.redemption_id else None
        )
        bargains._refund(payment, BARGAIN_RETURNED)
        bargain.state, bargain.refunded_at = BargainState.REFUNDED, timezone.now()
        bargain.refund_note = reason[:200]
        bargain.save(update_fields=["state", "refunded_at", "refund_note"])
        locks.note(Rank.GROWTH_STOCK, "bargain activity units")
        BargainActivity.objects.filter(pk=bargain.activity_id).update(sold_count=F("sold_count") - 1)
        return SaleRefunded(bargain.paid_fen, **_undo(bargain.coupon_id, redemption, reason, actor_id))


def _undo(coupon_id: int | None, redemption, reason: str, actor_id: int | None) -> dict:
    undone = {}
    if coupon_id:
        status = coupon_selectors.coupon_status(coupon_id=coupon_id)
        if status in (CouponStatus.USED, CouponStatus.EXPIRED):
            undone["coupon_kept"] = status
        else:  # available is voided; held by an open order refuses the refund (coupon_not_voidable)
            coupon_void(coupon_id=coupon_id, actor_id=actor_id, reason=reason)
            undone["coupon_voided"] = status != CouponStatus.VOIDED
    if redemption is not None:
        undone["shipment_cancelled"] = mall.sold_elsewhere_cancel(
            redemption=redemption, reason=reason, actor_id=actor_id
        )
    return undone


def coupon_outcome(coupon_id: int | None) -> str | None:
    """The status of the coupon a sale issued (for the confirmation page), or None."""
    return coupon_selectors.coupon_status(coupon_id=coupon_id) if coupon_id else None
