"""Demo analytics: a tag, three segments, then the report tables for the year and an RFM run.

The year itself (orders, points, coupons, stored value, members) is what the
other apps' demos wrote, dated the days it happened; this fills the tables
the dashboard reads, as the nightly jobs would have.
"""

from __future__ import annotations

import random
from datetime import timedelta

from analytics.models import MemberTag, MemberTagging, Segment
from analytics.reports import reports_refresh
from analytics.rfm import rfm_nightly
from analytics.selectors import local_today
from members.models import Member

SEGMENTS = [
    (
        "重要价值客户",
        "RFM 重要价值",
        {"op": "and", "conditions": [{"field": "rfm_segment", "value": ["important_value"]}]},
    ),
    (
        "沉睡会员",
        "90 天未消费的老客",
        # Bought before, not in the last 90 days: counted back from each day it is read.
        {"op": "and", "conditions": [{"field": "last_purchase_not_within_days", "value": 90}]},
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


def seed_segments(*, rng: random.Random) -> int:
    """A tag on some members and three segments, once (they are the operator's, made at the end of the
    year); returns how many were added."""
    if Segment.objects.exists():
        return 0
    members = list(Member.objects.filter(openid__startswith="demo_", closed_at__isnull=True).order_by("pk"))
    if members:
        tag, _ = MemberTag.objects.get_or_create(name="门店老客")
        MemberTagging.objects.bulk_create(
            [MemberTagging(tag=tag, member=m) for m in rng.sample(members, k=min(20, len(members)))],
            ignore_conflicts=True,
        )
    for name, description, rules in SEGMENTS:
        Segment.objects.get_or_create(name=name, defaults={"description": description, "rules": rules})
    return len(SEGMENTS)


def refresh_reports() -> None:
    """The report tables for the whole year (and the weeks before it, all zero), then the RFM scores:
    what the nightly jobs keep up to date from now on."""
    today = local_today()
    reports_refresh(start=today - timedelta(days=400), end=today)
    rfm_nightly()
