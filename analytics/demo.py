"""Demo analytics: a year of order history, tags, segments, then the report tables and an RFM run.

The history stands for cash orders the merchant's system completed before
the loyalty programme went live (``HIST-`` order numbers, with their lines
and refunds, so the order invariants hold): order mirrors only, no points,
stored value or coupons move.  They give every chart a year of
months, cohorts, member days and refunds to show.  Runs once.
"""

from __future__ import annotations

import random
from datetime import timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from analytics.models import MemberTag, MemberTagging, Segment
from analytics.reports import reports_refresh
from analytics.rfm import rfm_nightly
from analytics.selectors import local_today
from members.models import Member
from membership.member_days import occurs_on
from membership.models import MemberDay
from orders.models import Order, OrderLine, Refund, RefundLine

SEGMENTS = [
    (
        "重要价值客户",
        "RFM 重要价值",
        {"op": "and", "conditions": [{"field": "rfm_segment", "value": ["important_value"]}]},
    ),
    (
        "沉睡会员",
        "90 天未消费的老客",
        {
            "op": "and",
            "conditions": [
                {"field": "order_count", "value": {"min": 1}},
                {"field": "last_purchase_before", "value": "__90_days_ago__"},
            ],
        },
    ),
    (
        "高价值或高余额",
        "金卡及以上，或储值余额 ≥ ¥500",
        {
            "op": "or",
            "conditions": [
                {"field": "tier", "value": [2, 3]},
                {"field": "stored_value_balance", "value": {"min": 50_000}},
            ],
        },
    ),
]


CATALOGUE = [
    ("TEA-001", 6_800),
    ("TEA-002", 29_900),
    ("CUP-001", 3_500),
    ("SET-001", 45_800),
    ("SNACK-01", 12_800),
]


def _history(rng: random.Random, members: list[Member], member_days: list[MemberDay]) -> int:
    """Completed cash orders of one line each; about 4% refunded in full, 6% by one unit (with refund rows)."""
    tz = ZoneInfo(settings.TIME_ZONE)
    now = timezone.now()
    plans = []  # (order, sku, unit, quantity, refunded quantity)
    for member in members:
        count = rng.choices([0, 1, 2, 3, 5, 8], weights=[15, 30, 20, 15, 12, 8])[0]
        at = member.registered_at + timedelta(days=rng.uniform(0, 20), hours=rng.uniform(0, 12))
        for n in range(count):
            if at >= now - timedelta(hours=1):
                break
            sku, unit = rng.choice(CATALOGUE)
            quantity = rng.randint(1, 3)
            if any(occurs_on(d, at.astimezone(tz).date()) for d in member_days):
                quantity += 1  # member days sell more
            roll = rng.random()
            back = quantity if roll < 0.04 else (1 if roll < 0.10 and quantity > 1 else 0)
            paid, refunded = unit * quantity, unit * back
            order = Order(
                order_no=f"HIST-{member.pk}-{n}",
                member=member,
                status="completed"
                if not back
                else ("refunded" if back == quantity else "partially_refunded"),
                request_hash="history",
                quote_hash="history",
                goods_fen=paid,
                shipping_fen=0,
                benefit_discount_fen=0,
                coupon_discount_fen=0,
                shipping_discount_fen=0,
                points_used=0,
                points_fen=0,
                stored_value_fen=0,
                cash_fen=paid,
                refunded_goods_fen=refunded,
                refunded_cash_fen=refunded,
                committed_at=at - timedelta(minutes=10),
                expires_at=at + timedelta(minutes=20),
                completed_at=at,
            )
            plans.append((order, sku, unit, quantity, back))
            # Some come back within weeks, some after months.
            at += timedelta(days=rng.choice([rng.uniform(3, 30), rng.uniform(20, 75), rng.uniform(60, 160)]))
    Order.objects.bulk_create([p[0] for p in plans], batch_size=1000)
    lines = OrderLine.objects.bulk_create(
        [
            OrderLine(
                order=order, line_no=1, sku=sku, category="tea", name=sku, unit_price_fen=unit, quantity=qty,
                amount_fen=unit * qty, benefit_discount_fen=0, coupon_discount_fen=0, points=0, points_fen=0,
                stored_value_fen=0, cash_fen=unit * qty, refunded_quantity=back,
            )
            for order, sku, unit, qty, back in plans
        ],
        batch_size=1000,
    )  # fmt: skip
    refunded = [(plan, line) for plan, line in zip(plans, lines, strict=True) if plan[4]]
    refunds = Refund.objects.bulk_create(
        [
            Refund(
                order=order, refund_no=f"R-{order.order_no}", request_hash="history", goods_fen=unit * back,
                shipping_fen=0, points=0, points_fen=0, stored_value_fen=0, cash_fen=unit * back,
                earned_points_reversed=0,
            )
            for (order, _sku, unit, _qty, back), _line in refunded
        ]
    )  # fmt: skip
    RefundLine.objects.bulk_create(
        [
            RefundLine(
                refund=refund, line=line, quantity=back, benefit_discount_fen=0, coupon_discount_fen=0,
                points=0, points_fen=0, stored_value_fen=0, cash_fen=unit * back,
            )
            for refund, ((_order, _sku, unit, _qty, back), line) in zip(refunds, refunded, strict=True)
        ]
    )  # fmt: skip
    return len(plans)


def seed_analytics(*, rng: random.Random) -> int:
    """Add the order history, tags and segments once, then (always) refresh the reports and RFM."""
    added = 0
    if not Order.objects.filter(order_no__startswith="HIST-").exists():
        members = list(
            Member.objects.filter(openid__startswith="demo_", closed_at__isnull=True).order_by("pk")
        )
        added = _history(rng, members, list(MemberDay.objects.all()))
        tag, _ = MemberTag.objects.get_or_create(name="门店老客")
        MemberTagging.objects.bulk_create(
            [MemberTagging(tag=tag, member=m) for m in rng.sample(members, k=min(20, len(members)))],
            ignore_conflicts=True,
        )
        ninety = (local_today() - timedelta(days=90)).isoformat()
        for name, description, rules in SEGMENTS:
            rules = _replace(rules, "__90_days_ago__", ninety)
            Segment.objects.get_or_create(name=name, defaults={"description": description, "rules": rules})
    today = local_today()
    reports_refresh(start=today - timedelta(days=400), end=today)
    rfm_nightly()
    return added


def _replace(node, marker, value):
    if isinstance(node, dict):
        return {k: _replace(v, marker, value) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace(v, marker, value) for v in node]
    return value if node == marker else node
