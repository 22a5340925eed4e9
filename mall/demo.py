"""Demo points mall: categories, items of every kind, addresses, and redemptions in every state."""

import random

from django.contrib.auth import get_user_model

from coupons.models import CouponTemplate
from mall import services
from mall.models import Category, MallItem
from members.models import Member
from payments import services as payments
from points.selectors import points_balance


def seed_mall(*, rng: random.Random) -> int:
    """Create the demo catalogue and redeem through the real services; returns how many redemptions.

    Runs once: nothing is added when items exist already.
    """
    if MallItem.objects.exists():
        return 0
    home, digital, cards = (
        Category.objects.create(name=name, sort_order=n)
        for n, name in enumerate(["家居好物", "数码", "卡券"])
    )
    cup = MallItem.objects.create(
        name="304 不锈钢保温杯", kind="physical", category=home, points=800, stock=50, per_member_limit=2
    )
    earbuds = MallItem.objects.create(
        name="蓝牙耳机（积分+现金）",
        kind="physical",
        category=digital,
        points=1_000,
        cash_fen=9_900,
        stock=20,
    )
    template = CouponTemplate.objects.create(
        name="积分兑换 10元无门槛", kind="no_threshold", amount_off_fen=1_000, total_stock=1_000,
        per_member_limit=10, claimable=False,
    )  # fmt: skip
    voucher = MallItem.objects.create(
        name="10元无门槛券", kind="coupon", category=cards, points=300, coupon_template=template, stock=500,
        period="day", per_period_limit=1,
    )  # fmt: skip
    video = MallItem.objects.create(
        name="视频会员月卡", kind="virtual_code", category=cards, points=1_500, stock=0
    )
    services.virtual_codes_import(
        item_id=video.pk, codes=[f"VIP-{rng.randrange(16**8):08X}-{n:03d}" for n in range(30)]
    )
    MallItem.objects.create(
        name="金卡会员专享 香薰礼盒", kind="physical", category=home, points=2_000, stock=10, min_tier_level=2
    )
    operator = get_user_model().objects.filter(is_superuser=True).first()
    members = list(Member.objects.filter(openid__startswith="demo_").order_by("pk"))
    made = 0
    for member in rng.sample(members, k=min(len(members), 40)):
        balance = points_balance(member_id=member.pk)["balance"]
        choices = [i for i in (cup, earbuds, voucher, video) if i.points <= balance]
        if not choices:
            continue
        item = rng.choice(choices)
        address_id = None
        if item.kind == "physical":
            address_id = services.address_create(
                member_id=member.pk,
                recipient=member.nickname or "会员",
                phone=f"138{member.pk:08d}"[:11],
                province="浙江省",
                city="杭州市",
                district="西湖区",
                detail=f"文三路{rng.randint(1, 500)}号",
            ).pk
        redeemed = services.redemption_create(
            member=member, item_id=item.pk, idempotency_key=f"demo:{item.pk}", address_id=address_id
        )
        r = redeemed.redemption
        made += 1
        if r.status == "pending_payment" and rng.random() < 0.7:
            payments.payment_simulate_pay(payment=payments.payment_get(out_trade_no=r.out_trade_no))
            r.refresh_from_db()
        if r.status == "paid" and rng.random() < 0.5:
            services.redemption_ship(
                redemption_id=r.pk,
                carrier="顺丰速运",
                tracking_no=f"SF{rng.randrange(10**12):012d}",
                actor_id=operator.pk if operator else None,
            )
    return made
