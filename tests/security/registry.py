"""Every route under /api/v1/: who may call it, and (for a member's object) how to make one.

``tests/security/test_matrix.py`` fails for a route missing here (or listed
here and gone), so a new endpoint is classified before it ships.  Kinds:

- ``public``: no credentials (login, health);
- ``member``: a member's bearer token; a route with a path parameter names a
  factory that makes an object of that member and returns the URL kwargs, and
  another member asking for it must get 404 (``owned=``), or, for what every
  member may see (a mall item), a factory for a shared object (``shared=``);
  A member route acting on another member's object by design (joining their 拼团, helping their 砍价)
  names a factory for an object of someone else (``others=``): any member may act on it;
- ``server``: the merchant's order system, HMAC-signed (``X-Signature``);
- ``payment_notify``: WeChat Pay's notification, proved by its own signature.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tests.factories import (
    CardTypeFactory,
    CouponTemplateFactory,
    EarnedPointsFactory,
    MallItemFactory,
    RechargePlan1500Factory,
)

PUBLIC, MEMBER, SERVER, PAYMENT_NOTIFY = "public", "member", "server", "payment_notify"


@dataclass(frozen=True)
class Route:
    kind: str
    # member routes with a path parameter: member -> URL kwargs of an object that member owns
    owned: Callable | None = None
    # member routes with a path parameter naming something every member sees (a catalogue item):
    # () -> URL kwargs
    shared: Callable | None = None
    # member routes acting on another member's object by design (join a group, help a bargain):
    # () -> URL kwargs of an object a stranger owns
    others: Callable | None = None


def _notification(member) -> dict:
    from notifications import services

    services.notify_many(
        [
            services.Draft(
                member_id=member.pk, kind="points_expiring", title="t", body="b", dedupe_key="security"
            )
        ]
    )
    from notifications.models import Notification

    return {"pk": Notification.objects.filter(member=member).latest("pk").pk}


def _recharge(member) -> dict:
    from tests.stored_value.recharge_helpers import start_recharge

    order, _ = start_recharge(member, RechargePlan1500Factory(), 150_000)
    return {"pk": order.pk}


def _payment(member) -> dict:
    from tests.stored_value.recharge_helpers import start_recharge

    _, payment = start_recharge(member, RechargePlan1500Factory(), 150_000)
    return {"out_trade_no": payment.out_trade_no}


def _coupon(member) -> dict:
    from coupons import services

    return {
        "pk": services.coupon_claim(
            member=member, template_id=CouponTemplateFactory().pk, idempotency_key="sec"
        ).pk
    }


def _card_purchase(member) -> dict:
    from membership import cards

    purchase = cards.card_purchase_create(member=member, card_type_id=CardTypeFactory(kind="paid").pk)
    return {"pk": purchase.pk}


def _order(member) -> dict:
    from tests.orders.helpers import basket, commit

    return {"order_no": commit(member, basket(("SKU", 1_000, 1))).order_no}


def _mall_item() -> dict:

    return {"pk": MallItemFactory(points=10, stock=5).pk}


def _redemption(member) -> dict:
    """A physical redemption, paid in points and awaiting shipment (so the owner may cancel it)."""
    from tests.mall.helpers import address, redeem

    EarnedPointsFactory(member=member, amount=1_000)
    it = MallItemFactory(points=100)
    return {"pk": redeem(member, it, key="security", address_id=address(member).pk).pk}


def _shipped_redemption(member) -> dict:
    """A redemption shipped by the merchant (so the owner may confirm receipt)."""
    from mall import services

    kwargs = _redemption(member)
    services.redemption_ship(redemption_id=kwargs["pk"], actor_id=None, carrier="SF", tracking_no="SF1")
    return kwargs


def _address(member) -> dict:
    from tests.mall.helpers import address

    return {"pk": address(member).pk}


def _counter_payment(member) -> dict:
    """A stored-value payment at a counter awaiting the member's confirmation."""
    from django.utils import timezone

    from orders.counter_payments import counter_payment_ask
    from stores.models import Store

    store = Store.objects.get_or_create(code="SEC-1", defaults={"name": "security"})[0]
    pending = counter_payment_ask(
        order_no=f"SEC-{member.pk}",
        member_id=member.pk,
        store=store,
        staff=None,
        request_hash="x" * 64,
        stored_value_fen=100,
        goods_fen=100,
        now=timezone.now(),
    )
    return {"pk": pending.payment.pk}


def _group_buy() -> dict:
    from tests.growth.helpers import activity

    return {"pk": activity().pk}


def _someones_group() -> dict:
    """A 拼团 group of 3 another member opened and paid for, with places left."""
    from tests.factories import MemberFactory
    from tests.growth.helpers import activity, open_paid

    return {"pk": open_paid(MemberFactory(), activity(size=3)).pk}


def _my_place(member) -> dict:
    from growth import services
    from tests.growth.helpers import activity

    return {
        "pk": services.group_open(member=member, activity_id=activity().pk, idempotency_key="sec").place.pk
    }


def _someones_bargain() -> dict:
    from tests.factories import MemberFactory
    from tests.growth.test_bargains import bargain_activity, start

    return {"pk": start(MemberFactory(), bargain_activity()).pk}


def _my_bargain_at_its_floor(member) -> dict:
    from tests.growth.test_bargains import bargain_activity, cut_to_floor, start

    return {"pk": cut_to_floor(start(member, bargain_activity())).pk}


ROUTES: dict[str, Route] = {
    "auth-wechat-login": Route(PUBLIC),
    "auth-dev-login": Route(PUBLIC),
    "auth-logout": Route(MEMBER),
    "me": Route(MEMBER),
    "me-profile": Route(MEMBER),
    "me-phone": Route(MEMBER),
    "me-member-code": Route(MEMBER),
    "me-counter-payments-pending": Route(MEMBER),
    "me-counter-payment-confirm": Route(MEMBER, owned=_counter_payment),
    "me-counter-payment-decline": Route(MEMBER, owned=_counter_payment),
    "server-member-code-resolve": Route(SERVER),
    "me-notifications": Route(MEMBER),
    "me-notification-read": Route(MEMBER, owned=_notification),
    "points-balance": Route(MEMBER),
    "points-entries": Route(MEMBER),
    "points-check-in": Route(MEMBER),
    "points-check-ins": Route(MEMBER),
    "stored-value-balance": Route(MEMBER),
    "stored-value-plans": Route(MEMBER),
    "stored-value-recharges": Route(MEMBER),
    "stored-value-recharge": Route(MEMBER, owned=_recharge),
    "stored-value-entries": Route(MEMBER),
    "payments-wechat-notify": Route(PAYMENT_NOTIFY),
    "payments-prepay": Route(MEMBER, owned=_payment),
    "payments-simulate-pay": Route(MEMBER, owned=_payment),
    "coupons": Route(MEMBER),
    "coupons-claim-centre": Route(MEMBER),
    "coupons-claim": Route(MEMBER),
    "coupon": Route(MEMBER, owned=_coupon),
    "server-coupons-redeem": Route(SERVER),
    "server-member-lookup": Route(SERVER),
    "health": Route(PUBLIC),
    "me-export": Route(MEMBER),
    "growth-activities": Route(MEMBER),
    "growth-activity": Route(MEMBER, shared=_group_buy),
    "growth-groups": Route(MEMBER),
    "growth-group": Route(MEMBER, shared=_someones_group),
    "growth-group-join": Route(MEMBER, others=_someones_group),
    "growth-my-groups": Route(MEMBER),
    "growth-my-group": Route(MEMBER, owned=_my_place),
    "growth-bargain-activities": Route(MEMBER),
    "growth-bargains": Route(MEMBER),
    "growth-bargain": Route(MEMBER, shared=_someones_bargain),
    "growth-bargain-help": Route(MEMBER, others=_someones_bargain),
    "growth-bargain-buy": Route(MEMBER, owned=_my_bargain_at_its_floor),
    "growth-poster": Route(MEMBER),
    "growth-poster-scene": Route(MEMBER),
    "health-slash": Route(PUBLIC),
    "me-subscriptions": Route(MEMBER),
    "me-close": Route(MEMBER),
    "membership-tier": Route(MEMBER),
    "membership-tier-history": Route(MEMBER),
    "membership-benefits": Route(MEMBER),
    "membership-cards": Route(MEMBER),
    "membership-card-types": Route(MEMBER),
    "membership-card-claim": Route(MEMBER),
    "membership-card-trial": Route(MEMBER),
    "membership-card-purchases": Route(MEMBER),
    "membership-card-purchase": Route(MEMBER, owned=_card_purchase),
    "membership-member-days": Route(MEMBER),
    "checkout-quote": Route(MEMBER),
    "orders": Route(MEMBER),
    "order": Route(MEMBER, owned=_order),
    "server-checkout-quote": Route(SERVER),
    "server-orders": Route(SERVER),
    "server-order": Route(SERVER),
    "server-order-cancel": Route(SERVER),
    "server-order-complete": Route(SERVER),
    "server-order-refunds": Route(SERVER),
    "mall-categories": Route(MEMBER),
    "mall-items": Route(MEMBER),
    "mall-item": Route(MEMBER, shared=_mall_item),
    "mall-redemptions": Route(MEMBER),
    "mall-redemption": Route(MEMBER, owned=_redemption),
    "mall-redemption-confirm": Route(MEMBER, owned=_shipped_redemption),
    "mall-redemption-cancel": Route(MEMBER, owned=_redemption),
    "mall-addresses": Route(MEMBER),
    "mall-address": Route(MEMBER, owned=_address),
}
