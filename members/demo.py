"""Demo members: a year of sign-ups across channels, some invited by others."""

import random
from datetime import date, timedelta

from django.utils import timezone

from loyalty.errors import ApplicationError
from members.models import Member

CHANNELS = ["mini_program", "qr:store-01", "qr:store-02", "poster:spring", "invite", "wechat_ad"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "磊",
    "洋",
    "艳",
    "勇",
    "军",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "霞",
    "平",
]


def seed_members(*, count: int, rng: random.Random) -> int:
    """Create demo members up to ``count``; returns how many were added (0 when already there)."""
    existing = Member.objects.filter(openid__startswith="demo_").count()
    if existing >= count:
        return 0
    now = timezone.now()
    members = []
    for n in range(existing, count):
        members.append(
            Member(
                openid=f"demo_{n:05d}",
                nickname=rng.choice(SURNAMES) + rng.choice(GIVEN),
                phone=f"139{n:08d}" if rng.random() < 0.6 else "",
                gender=rng.choice([0, 1, 2, 2]),
                birthday=date(rng.randint(1970, 2004), rng.randint(1, 12), rng.randint(1, 28))
                if rng.random() < 0.7
                else None,
                registration_channel=rng.choice(CHANNELS),
                invite_code=f"DEMO{n:05d}",
            )
        )
    created = Member.objects.bulk_create(members)
    # registered_at is auto_now_add; spread sign-ups over the past year afterwards.
    for member in created:
        member.registered_at = now - timedelta(days=rng.randint(0, 365), minutes=rng.randint(0, 1440))
        if member.registration_channel == "invite" and member.pk > created[0].pk:
            member.referrer_id = rng.randint(created[0].pk, member.pk - 1)
    Member.objects.bulk_update(created, ["registered_at", "referrer"], batch_size=500)
    return len(created)


def seed_closures(*, count: int = 3) -> int:
    """A few members who signed up, earned points and closed their account (注销), for the closed-accounts list.

    They are extra members (the demo's own stay open), so re-running ``seed_members`` never recreates them.
    """
    from members.closure import member_close
    from points.ledger import points_earn

    if Member.objects.filter(closed_at__isnull=False).exists():
        return 0
    for n in range(count):
        member = Member.objects.create(
            openid=f"demo_closing_{n}", nickname=f"注销演示{n + 1}", registration_channel="mini_program"
        )
        points_earn(
            member_id=member.pk,
            amount=100 * (n + 1),
            idempotency_key="demo-signup",
            source="demo",
            expires_at=None,
        )
        member_close(member_id=member.pk)
    return count


def seed_membership(*, rng: random.Random) -> dict:
    """Tiers (from the migration), card types of every kind, member days and a year of completed orders.

    Orders go through ``membership_record_order`` exactly as checkout will
    call it, so growth, tiers, tier history and conditional cards are real.
    Safe to run again: orders are keyed by number, claims by card.
    """
    from members import cards
    from members.exceptions import CardAlreadyHeld
    from members.models import CardType, MemberDay
    from members.services import membership_record_order

    now = timezone.now()
    free, _ = CardType.objects.get_or_create(
        name="门店会员卡",
        defaults={
            "kind": "free",
            "discount_bp": 200,
            "colour": "#0F766E",
            "description": "扫码即领，全场9.8折",
        },
    )
    CardType.objects.get_or_create(
        name="千元消费卡",
        defaults={
            "kind": "conditional",
            "condition": "paid_spend",
            "condition_threshold": 100_000,
            "validity": "days",
            "valid_days": 365,
            "discount_bp": 500,
            "free_shipping": True,
            "colour": "#B45309",
            "description": "累计实付满¥1,000.00自动开卡：9.5折、包邮",
        },
    )
    paid, _ = CardType.objects.get_or_create(
        name="黑金PLUS月卡",
        defaults={
            "kind": "paid",
            "period": "month",
            "price_fen": 1_990,
            "trial_days": 7,
            "discount_bp": 1000,
            "free_shipping": True,
            "points_multiplier": 2,
            "colour": "#111827",
            "description": "¥19.90/月：9折、包邮、积分翻倍",
        },
    )
    MemberDay.objects.get_or_create(
        name="周三会员日",
        defaults={"recurrence": "weekly", "weekday": 2, "points_multiplier": 2, "extra_discount_bp": 500},
    )
    MemberDay.objects.get_or_create(
        name="每月8号会员日",
        defaults={"recurrence": "monthly", "day_of_month": 8, "points_multiplier": "1.5"},
    )
    members = list(Member.objects.filter(openid__startswith="demo_").order_by("pk"))
    orders = claims = 0
    for member in members:
        # Each member's orders from their own seed: a rerun replays the same orders (keyed by number).
        mine = random.Random(member.openid)
        for n in range(mine.choice([0, 0, 1, 2, 3, 5, 8, 12])):
            completed_at = now - timedelta(days=mine.randint(0, 360), minutes=mine.randint(0, 1440))
            membership_record_order(
                member_id=member.pk,
                order_no=f"DEMO-{member.openid}-{n}",
                paid_fen=mine.choice([3_900, 8_800, 12_800, 25_900, 49_900, 128_000, 299_900]),
                completed_at=completed_at,
            )
            orders += 1
        try:
            if rng.random() < 0.3:
                cards.card_claim(
                    member_id=member.pk,
                    card_type_id=free.pk,
                    channel=rng.choice(["qr:store-01", "qr:store-02", "poster:spring"]),
                    staff=rng.choice(["", "s001", "s002"]),
                )
                claims += 1
            if rng.random() < 0.05:
                cards.card_trial(member_id=member.pk, card_type_id=paid.pk)
                claims += 1
        except (CardAlreadyHeld, ApplicationError):
            pass
    return {"orders": orders, "claims": claims}
