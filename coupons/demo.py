"""Demo coupons: templates of every kind, the new-member gift pack, claims and some redemptions."""

import random
from datetime import timedelta

from django.utils import timezone

from coupons import services
from coupons.models import CouponTemplate, GiftPack, GiftPackItem
from members.models import Member
from membership.models import MembershipPolicy
from membership.services import member_welcome_gift


def seed_coupons(*, rng: random.Random) -> int:
    """Create the demo templates and give coupons to demo members; returns how many were issued (0 if done)."""
    if CouponTemplate.objects.exists():
        return 0
    now = timezone.now()
    common = {"total_stock": 1000, "valid_days": 30}
    templates = [
        CouponTemplate.objects.create(
            name="满100减20",
            kind="amount_off",
            threshold_fen=10_000,
            amount_off_fen=2_000,
            per_member_limit=2,
            **common,
        ),
        CouponTemplate.objects.create(
            name="全场8.8折", kind="percent_off", percent_off=12, max_discount_fen=5_000, **common
        ),
        CouponTemplate.objects.create(name="5元无门槛", kind="no_threshold", amount_off_fen=500, **common),
        CouponTemplate.objects.create(name="包邮券", kind="free_shipping", per_member_limit=3, **common),
        CouponTemplate.objects.create(
            name="茶饮兑换券",
            kind="exchange",
            gift_sku="TEA-001",
            scope="skus",
            scope_values=["TEA-001"],
            claimable=False,
            **common,
        ),
        CouponTemplate.objects.create(
            name="双11 满300减60",
            kind="amount_off",
            threshold_fen=30_000,
            amount_off_fen=6_000,
            total_stock=200,
            validity="fixed",
            valid_from=now - timedelta(days=3),
            valid_until=now + timedelta(days=10),
            stacking="exclusive",
        ),
    ]
    pack = GiftPack.objects.create(name="新人礼包", points=200)
    GiftPackItem.objects.create(pack=pack, template=templates[2], quantity=1)
    GiftPackItem.objects.create(pack=pack, template=templates[3], quantity=1)
    # Chosen as an operator would (会员政策 › 新人礼包); demo members are created in bulk, not by a login,
    # so each is given it the way a login gives it.
    MembershipPolicy.objects.update_or_create(pk=1, defaults={"new_member_pack": pack})
    issued = 0
    members = list(Member.objects.filter(openid__startswith="demo_").order_by("pk"))
    for member in members:
        grant = member_welcome_gift(member_id=member.pk)
        issued += 2 - len(grant.withheld)
        for tpl in rng.sample([templates[0], templates[1], templates[5]], k=rng.randint(0, 3)):
            coupon = services.coupon_claim(
                member=member, template_id=tpl.pk, idempotency_key=f"demo:{tpl.pk}"
            )
            issued += 1
            if rng.random() < 0.3:
                services.coupon_redeem_code(code=coupon.code, order_no=f"DEMO-{coupon.pk}")
    return issued
