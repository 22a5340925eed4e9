"""Real parallel connections: stock never oversold, limits held, one coupon for one order."""

import pytest

from coupons import services
from coupons.models import Coupon, CouponTemplate
from tests.concurrency import run_concurrently
from tests.factories import CouponTemplateFactory, MemberFactory
from tests.helpers import assert_ledgers_consistent

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("many-connections")]


def test_200_claims_on_a_stock_of_50_issue_exactly_50_and_nobody_beyond_the_limit():
    tpl = CouponTemplateFactory(total_stock=50, per_member_limit=2)
    members = [MemberFactory() for _ in range(25)]  # 8 claims each, 2 allowed each: 50 could be issued

    claimed, refused = run_concurrently(
        lambda i: services.coupon_claim(
            member=members[i % len(members)], template_id=tpl.pk, idempotency_key=f"c{i}"
        ),
        200,
    )

    assert len(claimed) == 50 and len(refused) == 150
    assert set(refused) <= {"coupon_limit_reached", "coupon_sold_out"}
    assert CouponTemplate.objects.get(pk=tpl.pk).issued_count == Coupon.objects.count() == 50
    per_member = {m.pk: Coupon.objects.filter(member=m).count() for m in members}
    assert max(per_member.values()) <= 2
    assert_ledgers_consistent()


def test_one_coupon_locked_for_two_orders_at_once_goes_to_exactly_one():
    member = MemberFactory()
    coupon = services.coupon_claim(member=member, template_id=CouponTemplateFactory().pk, idempotency_key="k")

    results, errors = run_concurrently(
        lambda i: services.coupon_lock(member_id=member.pk, coupon_id=coupon.pk, order_no=f"SO-{i}"), 2
    )

    assert len(results) == 1 and errors == ["coupon_not_available"]
    coupon.refresh_from_db()
    assert coupon.status == "locked" and coupon.order_no == results[0].order_no
