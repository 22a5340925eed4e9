"""Demo points history: sign-up bonuses, purchase points on past orders, first-order bonuses, spends."""

import random

from members.models import Member
from points import earning, ledger
from points.models import PointsEntry
from points.selectors import points_balance


def seed_points(*, rng: random.Random) -> int:
    """Give the demo members a points history through the real rules and ledger; returns entries written.

    Runs once: nothing is added when the demo members already have purchase points.
    """
    if PointsEntry.objects.filter(source="purchase", reference__startswith="DEMO-SO").exists():
        return 0
    before = PointsEntry.objects.count()
    for member in Member.objects.filter(openid__startswith="demo_").order_by("pk"):
        earning.points_award_signup(member_id=member.pk)
        orders = rng.choice([0, 0, 1, 2, 3, 5, 8])
        for n in range(orders):
            order_no = f"DEMO-SO-{member.pk}-{n}"
            earning.points_award_purchase(
                member_id=member.pk, order_no=order_no, paid_fen=rng.randint(1_500, 60_000)
            )
            if n == 0:
                earning.points_award_first_order(member_id=member.pk, order_no=order_no)
        balance = points_balance(member_id=member.pk)["balance"]
        if orders and balance > 1 and rng.random() < 0.4:  # some have redeemed points since
            ledger.points_spend(
                member_id=member.pk,
                amount=balance // 2,
                idempotency_key=f"demo-spend:{member.pk}",
                source="demo",
            )
    return PointsEntry.objects.count() - before
