"""What the till and the clerk see of a member at a counter: one read over the apps below."""

from __future__ import annotations

from django.utils import timezone

from coupons.models import Coupon, CouponEvent, CouponStatus
from coupons.selectors import usable_coupons
from loyalty.money import format_fen
from mall.models import RedemptionEvent
from members import codes
from membership.benefits import member_benefits_and_tier
from points.selectors import points_usable_balance
from stored_value.selectors import stored_value_balance
from stores.selectors import open_store


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 11 else ""


def member_at_counter(*, member, now=None) -> dict:
    """The member, tier, benefits, points and stored-value balances and the coupons usable now.

    The figures of the "me" page's parts (``members.selectors.member_summary``), each read once through
    the one-query selectors checkout uses (points usable now, the stored-value balance), and the tier and
    benefits checkout's quote applies (``membership.benefits.member_benefits``); the coupon count is the
    list's length.  Six indexed reads in all with the store and the code (bench/counter.py).
    """
    now = now or timezone.now()
    benefits, tier, level = member_benefits_and_tier(member_id=member.pk, at=now)
    balance = stored_value_balance(member_id=member.pk)
    return {
        "member": {
            "id": member.pk,
            "nickname": member.nickname,
            "phone": mask_phone(member.phone),
            "registered_at": member.registered_at,
        },
        "tier": {"level": level, "name": tier.name if tier else ""},
        "benefits": {
            "discount_bp": benefits.discount_bp,
            "free_shipping": benefits.free_shipping,
            "points_multiplier": str(benefits.points_multiplier),
            "sources": benefits.sources,
        },
        "points": points_usable_balance(member_id=member.pk, now=now),
        "stored_value": {
            "balance_fen": balance["balance_fen"],
            "principal_fen": balance["principal_fen"],
            "bonus_fen": balance["bonus_fen"],
            "frozen": balance["frozen"],
            "balance": format_fen(balance["balance_fen"]),
        },
        "coupons": usable_coupons(member_id=member.pk, now=now),
    }


def member_code_resolve(*, code: str, store_code: str, now=None) -> dict:
    """The till scanned a 会员码 in a store: the member at the counter, or a stable refusal. Writes nothing.

    The store first (``store_not_found``, ``store_closed``), then the code (``member_code_invalid``,
    ``member_code_expired``, ``member_code_used``, ``member_closed``).
    """
    now = now or timezone.now()
    store = open_store(code=store_code)
    found = codes.member_code_check(code=code, now=now)
    return {
        "store_code": store.code,
        "code_expires_at": found.expires_at,
        **member_at_counter(member=found.member, now=now),
    }


def coupon_redeemable(coupon: Coupon, *, now=None) -> bool:
    """Whether a clerk can redeem the coupon now (the service decides again under the row lock)."""
    now = now or timezone.now()
    return coupon.status == CouponStatus.AVAILABLE and coupon.valid_from <= now < coupon.valid_until


def store_activity(*, store_ids, limit: int = 20) -> list[dict]:
    """The latest counter redemptions in the given stores (the clerk sees only their own stores')."""
    coupon_events = (
        CouponEvent.objects.filter(store_id__in=store_ids, kind="used")
        .select_related("coupon__template", "store", "staff")
        .order_by("-id")[:limit]
    )
    pickups = (
        RedemptionEvent.objects.filter(store_id__in=store_ids, kind="picked_up")
        .select_related("redemption__item", "store", "staff")
        .order_by("-id")[:limit]
    )
    rows = [
        {"at": e.created_at, "what": f"券 {e.coupon.template.name}", "store": e.store, "staff": e.staff}
        for e in coupon_events
    ] + [
        {"at": e.created_at, "what": f"自提 {e.redemption.item.name}", "store": e.store, "staff": e.staff}
        for e in pickups
    ]
    return sorted(rows, key=lambda r: r["at"], reverse=True)[:limit]
