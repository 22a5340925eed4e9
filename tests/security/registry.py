"""Every route under /api/v1/: who may call it, and (for a member's object) how to make one.

``tests/security/test_matrix.py`` fails for a route missing here (or listed
here and gone), so a new endpoint is classified before it ships.  Kinds:

- ``public``: no credentials (login, health);
- ``member``: a member's bearer token; a route with a path parameter names a
  factory that makes an object of that member and returns the URL kwargs, and
  another member asking for it must get 404;
- ``server``: the merchant's order system, HMAC-signed (``X-Signature``);
- ``payment_notify``: WeChat Pay's notification, proved by its own signature.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

PUBLIC, MEMBER, SERVER, PAYMENT_NOTIFY = "public", "member", "server", "payment_notify"


@dataclass(frozen=True)
class Route:
    kind: str
    # member routes with a path parameter: member -> URL kwargs of an object that member owns
    owned: Callable | None = None


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
    from tests.stored_value.recharge_helpers import plan_1500_150, start_recharge

    order, _ = start_recharge(member, plan_1500_150(), 150_000)
    return {"pk": order.pk}


def _payment(member) -> dict:
    from tests.stored_value.recharge_helpers import plan_1500_150, start_recharge

    _, payment = start_recharge(member, plan_1500_150(), 150_000)
    return {"out_trade_no": payment.out_trade_no}


def _coupon(member) -> dict:
    from coupons import services
    from tests.coupons.helpers import template

    return {"pk": services.coupon_claim(member=member, template_id=template().pk, idempotency_key="sec").pk}


ROUTES: dict[str, Route] = {
    "auth-wechat-login": Route(PUBLIC),
    "auth-dev-login": Route(PUBLIC),
    "auth-logout": Route(MEMBER),
    "me": Route(MEMBER),
    "me-profile": Route(MEMBER),
    "me-phone": Route(MEMBER),
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
    "payments-simulate-pay": Route(MEMBER, owned=_payment),
    "coupons": Route(MEMBER),
    "coupons-claim-centre": Route(MEMBER),
    "coupons-claim": Route(MEMBER),
    "coupon": Route(MEMBER, owned=_coupon),
    "server-coupons-redeem": Route(SERVER),
    "server-member-lookup": Route(SERVER),
    "health": Route(PUBLIC),
}
