"""Coupon templates, gift packs, and coupons issued through the coupon service."""

from datetime import timedelta

import factory
from django.utils import timezone

from coupons import services
from coupons.models import Coupon, CouponTemplate, GiftPack
from tests.factories.members import MemberFactory


class CouponTemplateFactory(factory.django.DjangoModelFactory):
    """满100减20, 100 in stock, one per member, valid 7 days from issue; ``fixed=True`` for a fixed window."""

    class Meta:
        model = CouponTemplate

    class Params:
        fixed = factory.Trait(
            validity="fixed",
            valid_from=factory.LazyFunction(lambda: timezone.now() - timedelta(days=1)),
            valid_until=factory.LazyFunction(lambda: timezone.now() + timedelta(days=10)),
        )

    name = "满100减20"
    kind = "amount_off"
    threshold_fen = 10_000
    amount_off_fen = 2_000
    total_stock = 100
    per_member_limit = 1
    valid_days = 7


class GiftPackFactory(factory.django.DjangoModelFactory):
    """An empty gift pack (points only); add ``GiftPackItem`` rows for coupons."""

    class Meta:
        model = GiftPack

    name = "开卡礼"
    points = 0


class CouponFactory(factory.django.DjangoModelFactory):
    """A coupon issued to a member through ``coupon_issue`` (stock counted, event written)."""

    class Meta:
        model = Coupon

    template = factory.SubFactory(CouponTemplateFactory)
    member = factory.SubFactory(MemberFactory)
    source = "test"
    issue_key = factory.Sequence(lambda n: f"issued-{n}")

    @classmethod
    def _create(cls, model_class, *, member, **fields):
        return services.coupon_issue(member_id=member.pk, **fields)[0]
