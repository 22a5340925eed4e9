"""Reads for the mall API and admin."""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from mall.eligibility import item_unlocked, member_unlocks
from mall.models import Category, MallItem, Redemption, RedemptionStatus, ShippingAddress
from points.selectors import points_balance


def categories():
    return Category.objects.all()


def items_on_sale(*, now=None):
    now = now or timezone.now()
    return (
        MallItem.objects.filter(is_active=True)
        .filter(Q(on_sale_from__isnull=True) | Q(on_sale_from__lte=now))
        .filter(Q(on_sale_until__isnull=True) | Q(on_sale_until__gt=now))
        .select_related("category", "coupon_template")
        .order_by("sort_order", "id")
    )


def catalogue(
    *,
    member_id: int,
    category_id: int | None = None,
    affordable: bool = False,
    unlocked: bool = False,
    now=None,
) -> list[dict]:
    """The items on sale now, each with whether this member has unlocked it and can afford its points.

    ``affordable`` keeps what my usable points cover; ``unlocked`` keeps what
    my tier and cards unlock.  Membership is asked once for the whole list.
    """
    now = now or timezone.now()
    items = items_on_sale(now=now)
    if category_id is not None:
        items = items.filter(category_id=category_id)
    balance = points_balance(member_id=member_id)["balance"]
    if affordable:
        items = items.filter(points__lte=max(balance, 0))
    level, cards = member_unlocks(member_id=member_id, at=now)
    rows = []
    for item in items:
        is_unlocked = item_unlocked(
            item=item, member_id=member_id, at=now, tier_level=level, card_type_ids=cards
        )
        if unlocked and not is_unlocked:
            continue
        rows.append({"item": item, "unlocked": is_unlocked, "affordable": item.points <= balance})
    return rows


def item_for_member(*, member_id: int, item_id: int, now=None) -> dict | None:
    now = now or timezone.now()
    item = items_on_sale(now=now).filter(pk=item_id).first()
    if item is None:
        return None
    balance = points_balance(member_id=member_id)["balance"]
    return {
        "item": item,
        "unlocked": item_unlocked(item=item, member_id=member_id, at=now),
        "affordable": item.points <= balance,
    }


def member_redemptions(*, member_id: int, status: str | None = None):
    found = Redemption.objects.filter(member_id=member_id).select_related("item", "virtual_code")
    return found.filter(status=status) if status else found


def member_addresses(*, member_id: int):
    return ShippingAddress.objects.filter(member_id=member_id).order_by("-is_default", "-id")


def member_has_open_redemptions(*, member_id: int) -> bool:
    """Whether a redemption of the member still awaits payment or shipment (it could still be cancelled)."""
    return Redemption.objects.filter(
        member_id=member_id, status__in=[RedemptionStatus.PENDING_PAYMENT, RedemptionStatus.PAID]
    ).exists()
