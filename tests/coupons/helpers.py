from datetime import timedelta

from django.utils import timezone

from coupons.models import CouponTemplate


def template(**fields) -> CouponTemplate:
    defaults = {
        "name": "满100减20",
        "kind": "amount_off",
        "threshold_fen": 10_000,
        "amount_off_fen": 2_000,
        "total_stock": 100,
        "per_member_limit": 1,
        "valid_days": 7,
    }
    return CouponTemplate.objects.create(**{**defaults, **fields})


def fixed_template(**fields) -> CouponTemplate:
    now = timezone.now()
    return template(
        validity="fixed", valid_from=now - timedelta(days=1), valid_until=now + timedelta(days=10), **fields
    )
