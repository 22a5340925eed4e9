"""The clerk's workflows at a counter: what a scanned or typed code is, and redeeming it in a store.

Who may act where is decided once: the clerk is the signed-in user's active Staff record, and the store
must be one of theirs (``stores.scoping.store_ids_for``) in which they are a clerk or the manager.  The
redemptions themselves are the owning apps' services (coupons, mall), told the store, the staff member
and the user, so their events carry them.
"""

from __future__ import annotations

from dataclasses import dataclass

from counter import selectors
from counter.exceptions import CodeNotRecognised, NothingToRedeem, NotStaff, StoreNotAllowed
from coupons import services as coupon_services
from coupons.exceptions import CouponNotFound
from coupons.models import Coupon
from mall import services as mall_services
from mall.models import Redemption, RedemptionStatus
from members import codes
from stores.models import Staff, StaffAssignment, Store, StoreRole, StoreStatus
from stores.scoping import store_ids_for
from stores.selectors import staff_of_user

#: The store roles that redeem at the counter (导购, the sales associate, does not).
REDEEMING_ROLES = (StoreRole.MANAGER, StoreRole.CLERK)


@dataclass(frozen=True)
class Clerk:
    user_id: int
    staff: Staff
    stores: list[Store]

    def store(self, store_id) -> Store:
        """One of the clerk's stores, or ``store_not_allowed`` (another store's id, or none)."""
        found = next((s for s in self.stores if str(s.pk) == str(store_id)), None)
        if found is None:
            raise StoreNotAllowed(details={"store_id": store_id})
        return found


def clerk_of(user) -> Clerk:
    """The signed-in user as a clerk: their active Staff record and the open stores they redeem in."""
    staff = staff_of_user(user)
    if staff is None:
        raise NotStaff()
    allowed = store_ids_for(user)
    assigned = StaffAssignment.objects.filter(
        staff=staff, role__in=REDEEMING_ROLES, store__status=StoreStatus.OPEN
    ).values_list("store_id", flat=True)
    ids = set(assigned) if allowed is None else set(assigned) & set(allowed)
    return Clerk(user_id=user.pk, staff=staff, stores=list(Store.objects.filter(pk__in=ids).order_by("code")))


def identify(*, text: str, now=None) -> dict:
    """What a scanned or typed code is, for the clerk to see before redeeming. Writes nothing.

    A 会员码 (18 digits from 66, or its QR payload) shows the member; then a pick-up code; then a coupon
    code.  Each answer says whether it can be redeemed now.
    """
    text = (text or "").strip()
    if codes.parse(text) is not None:
        found = codes.member_code_check(code=text, now=now)
        return {"kind": "member", **selectors.member_at_counter(member=found.member, now=now)}
    normalised = text.upper()
    redemption = (
        Redemption.objects.select_related("item", "member").filter(pickup_code=normalised).first()
        if normalised
        else None
    )
    if redemption is not None:
        return {
            "kind": "pickup",
            "code": normalised,
            "redemption": redemption,
            "redeemable": redemption.status == RedemptionStatus.PAID,
            "picked_up": redemption.status == RedemptionStatus.COMPLETED,
        }
    coupon = (
        Coupon.objects.select_related("template", "member").filter(code=normalised).first()
        if normalised
        else None
    )
    if coupon is not None:
        return {
            "kind": "coupon",
            "code": normalised,
            "coupon": coupon,
            "redeemable": selectors.coupon_redeemable(coupon, now=now),
        }
    raise CodeNotRecognised()


def counter_redeem(*, clerk: Clerk, store_id, text: str, token: str, now=None) -> dict:
    """Redeem a coupon or hand over a pick-up in one of the clerk's stores; returns what was done.

    ``token`` is the page's one-time key for this redemption (a hidden field): a double tap or a
    resubmitted form redeems once.  Refusals are the owning app's stable codes; nothing is written.
    """
    store = clerk.store(store_id)
    found = identify(text=text, now=now)
    if found["kind"] == "member":
        raise NothingToRedeem()
    if found["kind"] == "pickup":
        redemption, now_done = mall_services.redemption_pick_up(
            pickup_code=found["code"],
            store_id=store.pk,
            staff_id=clerk.staff.pk,
            actor_id=clerk.user_id,
            now=now,
        )
        return {"kind": "pickup", "redemption": redemption, "done_now": now_done, "store": store}
    try:
        coupon = coupon_services.coupon_redeem_code(
            code=found["code"],
            order_no=f"counter:{store.code}:{token}"[:64],
            now=now,
            store_id=store.pk,
            staff_id=clerk.staff.pk,
            actor_id=clerk.user_id,
        )
    except CouponNotFound:
        raise CodeNotRecognised() from None
    return {"kind": "coupon", "coupon": coupon, "done_now": found["redeemable"], "store": store}
