"""Demo orders through the real checkout: quotes, commits, completions, a few refunds and cancellations."""

import random

from members.models import Member
from orders import services
from orders.models import Order
from orders.quote import BasketInput, LineInput, compute_quote
from points.selectors import points_balance
from stored_value.selectors import stored_value_balance

CATALOGUE = [
    ("TEA-001", "茉莉花茶 250g", "tea", 6_800),
    ("TEA-002", "大红袍礼盒", "tea", 29_900),
    ("CUP-001", "玻璃茶杯", "teaware", 3_500),
    ("SET-001", "功夫茶具套装", "teaware", 45_800),
    ("SNACK-01", "坚果礼包", "snacks", 12_800),
]


def seed_orders(*, rng: random.Random, count: int = 60) -> int:
    """Commit ``count`` orders for random demo members; most complete, some are refunded or cancelled.

    Runs once: nothing is added when demo orders exist.
    """
    if Order.objects.filter(order_no__startswith="DEMO-").exists():
        return 0
    members = list(Member.objects.filter(openid__startswith="demo_").order_by("pk"))
    if not members:
        return 0
    made = 0
    for n in range(count):
        member = rng.choice(members)
        lines = tuple(
            LineInput(sku=sku, name=name, category=category, unit_price_fen=price, quantity=rng.randint(1, 3))
            for sku, name, category, price in rng.sample(CATALOGUE, k=rng.randint(1, 3))
        )
        shipping = rng.choice([0, 0, 800, 1_200])
        basket = BasketInput(lines=lines, shipping_fen=shipping)
        probe = compute_quote(member_id=member.pk, basket=basket)
        points = (
            min(probe.points_max, points_balance(member_id=member.pk)["balance"]) if rng.random() < 0.3 else 0
        )
        due = probe.cash_fen - points  # 1 point = 1 fen at the default rate (100 points = ¥1)
        sv = stored_value_balance(member_id=member.pk)
        stored_value = min(sv["balance_fen"], due) if not sv["frozen"] and rng.random() < 0.8 else 0
        basket = BasketInput(
            lines=lines, shipping_fen=shipping, points=points, stored_value_fen=max(stored_value, 0)
        )
        quote = compute_quote(member_id=member.pk, basket=basket)
        order_no = f"DEMO-{n + 1:04d}"
        services.order_commit(
            member_id=member.pk, order_no=order_no, basket=basket, quote_hash=quote.fingerprint
        )
        made += 1
        fate = rng.random()
        if fate < 0.08:
            services.order_cancel(order_no=order_no, reason="customer")
        elif fate < 0.12:
            continue  # left awaiting payment; the timeout job cancels it
        else:
            services.order_complete(order_no=order_no)
            if fate > 0.9:
                services.order_refund(order_no=order_no, refund_no=f"{order_no}-R1", lines=[(1, 1)])
    return made
