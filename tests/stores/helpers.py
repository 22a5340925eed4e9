"""Two stores, each with a member, an order, a recharge, a card, a coupon used and a pick-up there."""

from __future__ import annotations

import importlib

from django.apps import apps
from django.contrib.auth.models import User

from coupons import services as coupon_services
from coupons.models import CouponEvent
from mall.models import RedemptionEvent
from membership import cards
from membership.models import MembershipCard
from points import ledger as points_ledger
from stores import services as store_services
from tests.factories import (
    CardTypeFactory,
    CouponTemplateFactory,
    MallItemFactory,
    MemberFactory,
    OrderFactory,
    RechargeFactory,
    StaffFactory,
)
from tests.mall import helpers as mall_helpers

_store_roles = importlib.import_module("stores.migrations.0002_store_roles")


def create_role_groups() -> None:
    """Transactional tests flush every table, taking the migration's groups with them."""
    _store_roles.grant(apps, None)


def store_world(store, *, tag: str) -> dict:
    member = MemberFactory(home_store=store, registration_store=store)
    order = OrderFactory(member=member, store=store)
    recharge = RechargeFactory(member=member, store=store)
    card_type = CardTypeFactory(kind="free")
    card = cards.card_claim(member_id=member.pk, card_type_id=card_type.pk)
    MembershipCard.objects.filter(pk=card.pk).update(store=store)
    coupon = coupon_services.coupon_claim(
        member=member, template_id=CouponTemplateFactory().pk, idempotency_key=f"c-{tag}"
    )
    CouponEvent.objects.create(coupon=coupon, kind="used", store=store, reason="counter")
    points_ledger.points_earn(
        member_id=member.pk, amount=100, idempotency_key=f"e-{tag}", source="test", expires_at=None
    )
    item = MallItemFactory(points=10, stock=5)
    redemption = mall_helpers.redeem(member, item, key=f"r-{tag}", address_id=mall_helpers.address(member).pk)
    RedemptionEvent.objects.create(redemption=redemption, kind="completed", store=store)
    return {
        "store": store.pk,
        "member": member.pk,
        "order": order.pk,
        "recharge": recharge.pk,
        "card": card.pk,
        "coupon": coupon.pk,
        "redemption": redemption.pk,
    }


def staff_user(store_roles: dict, *, username: str, active: bool = True) -> User:
    """A signed-in staff member with ``{store: role}`` and the groups of those roles."""
    staff = StaffFactory(stores=store_roles, active=active)
    store_services.staff_account_create(staff_id=staff.pk, username=username, password="pw")
    return User.objects.get(username=username)
