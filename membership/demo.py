"""Demo data of the membership programme: card types, member days and a year of orders for the demo members."""

import random
from datetime import timedelta

from django.utils import timezone

from loyalty.errors import ApplicationError
from members.models import Member
from membership import cards
from membership.exceptions import CardAlreadyHeld
from membership.models import CardType, MemberDay
from membership.services import membership_record_order


def seed_membership(*, rng: random.Random) -> dict:
    """Tiers (from the migration), card types of every kind, member days and a year of completed orders.

    Orders go through ``membership_record_order`` exactly as checkout will
    call it, so growth, tiers, tier history and conditional cards are real.
    Safe to run again: orders are keyed by number, claims by card.
    """
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
