"""Issuing and redeeming coupons: stock, limits, windows, audience, the lifecycle and gift packs."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.utils import timezone

from coupons import services
from coupons.exceptions import (
    ClaimWindowClosed,
    CouponLimitReached,
    CouponNotAvailable,
    CouponNotFound,
    CouponNotVoidable,
    CouponSoldOut,
    CouponTemplateNotFound,
    NotInAudience,
)
from coupons.models import Coupon, CouponEvent, CouponTemplate, GiftPackGrant, GiftPackItem
from points.models import PointsEntry
from tests.factories import CouponTemplateFactory, GiftPackFactory, MemberFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("ledgers_stay_consistent")]


def nothing_issued(tpl):
    tpl.refresh_from_db()
    assert tpl.issued_count == 0
    assert not Coupon.objects.filter(template=tpl).exists()


def test_a_claim_issues_a_coupon_with_a_code_valid_for_n_days(member):
    tpl = CouponTemplateFactory(valid_days=7)
    with time_machine.travel(timezone.now(), tick=False):
        coupon = services.coupon_claim(member=member, template_id=tpl.pk, idempotency_key="k1")
        assert coupon.valid_until - coupon.valid_from == timedelta(days=7)
        assert coupon.valid_from == timezone.now()
    assert len(coupon.code) == 12 and coupon.status == "available"
    tpl.refresh_from_db()
    assert tpl.issued_count == 1
    assert list(coupon.events.values_list("kind", flat=True)) == ["issued"]


def test_a_fixed_validity_coupon_keeps_the_template_dates(member):
    tpl = CouponTemplateFactory(fixed=True)
    coupon = services.coupon_claim(member=member, template_id=tpl.pk, idempotency_key="k1")
    assert (coupon.valid_from, coupon.valid_until) == (tpl.valid_from, tpl.valid_until)


def test_the_same_claim_key_returns_the_first_coupon(member):
    tpl = CouponTemplateFactory(per_member_limit=3)
    first = services.coupon_claim(member=member, template_id=tpl.pk, idempotency_key="k1")
    again = services.coupon_claim(member=member, template_id=tpl.pk, idempotency_key="k1")
    assert first.pk == again.pk
    assert Coupon.objects.count() == 1


def test_the_per_member_limit_is_enforced(member):
    tpl = CouponTemplateFactory(per_member_limit=2)
    services.coupon_claim(member=member, template_id=tpl.pk, idempotency_key="k1")
    services.coupon_claim(member=member, template_id=tpl.pk, idempotency_key="k2")
    with pytest.raises(CouponLimitReached):
        services.coupon_claim(member=member, template_id=tpl.pk, idempotency_key="k3")
    assert Coupon.objects.count() == 2


def test_a_sold_out_template_issues_nothing_more():
    tpl = CouponTemplateFactory(total_stock=1)
    services.coupon_claim(member=MemberFactory(), template_id=tpl.pk, idempotency_key="k")
    late = MemberFactory()
    with pytest.raises(CouponSoldOut):
        services.coupon_claim(member=late, template_id=tpl.pk, idempotency_key="k")
    assert not Coupon.objects.filter(member=late).exists()
    tpl.refresh_from_db()
    assert tpl.issued_count == 1


def test_claims_outside_the_window_or_of_inactive_templates_are_refused(member):
    now = timezone.now()
    cases = [
        (CouponTemplateFactory(claim_starts_at=now + timedelta(hours=1)), ClaimWindowClosed),
        (CouponTemplateFactory(claim_ends_at=now), ClaimWindowClosed),
        (CouponTemplateFactory(is_active=False), CouponTemplateNotFound),
        (CouponTemplateFactory(claimable=False), CouponTemplateNotFound),
        (
            CouponTemplateFactory(validity="fixed", valid_from=now - timedelta(days=9), valid_until=now),
            ClaimWindowClosed,
        ),
    ]
    for tpl, error in cases:
        with pytest.raises(error):
            services.coupon_claim(member=member, template_id=tpl.pk, idempotency_key="k")
        nothing_issued(tpl)
    with pytest.raises(CouponTemplateNotFound):
        services.coupon_claim(member=member, template_id=999_999, idempotency_key="k")


def test_audiences_new_members_and_targeted_ones_not_yet_decided(member):
    veteran = MemberFactory()
    veteran.registered_at = timezone.now() - timedelta(days=90)
    veteran.save()
    for_new = CouponTemplateFactory(audience="new_members")
    for_gold = CouponTemplateFactory(audience="tiers", audience_values=["gold"])

    services.coupon_claim(member=member, template_id=for_new.pk, idempotency_key="k")
    with pytest.raises(NotInAudience):
        services.coupon_claim(member=veteran, template_id=for_new.pk, idempotency_key="k")
    with pytest.raises(NotInAudience):  # offered to nobody until membership decides who is gold
        services.coupon_claim(member=member, template_id=for_gold.pk, idempotency_key="k")
    nothing_issued(for_gold)


def test_lock_use_for_one_order(member):
    coupon = services.coupon_claim(member=member, template_id=CouponTemplateFactory().pk, idempotency_key="k")

    services.coupon_lock(member_id=member.pk, coupon_id=coupon.pk, order_no="SO-1")
    services.coupon_lock(member_id=member.pk, coupon_id=coupon.pk, order_no="SO-1")  # again: no-op
    with pytest.raises(CouponNotAvailable):
        services.coupon_lock(member_id=member.pk, coupon_id=coupon.pk, order_no="SO-2")
    used = services.coupon_use(coupon_id=coupon.pk, order_no="SO-1")
    assert services.coupon_use(coupon_id=coupon.pk, order_no="SO-1").status == "used"  # repeat: same
    with pytest.raises(CouponNotAvailable):
        services.coupon_use(coupon_id=coupon.pk, order_no="SO-2")

    assert (used.status, used.order_no) == ("used", "SO-1")
    assert list(coupon.events.order_by("id").values_list("kind", flat=True)) == ["issued", "locked", "used"]


def test_another_members_coupon_is_not_found_and_untouched(member):
    coupon = services.coupon_claim(member=member, template_id=CouponTemplateFactory().pk, idempotency_key="k")
    with pytest.raises(CouponNotFound):
        services.coupon_lock(member_id=MemberFactory().pk, coupon_id=coupon.pk, order_no="SO-1")
    coupon.refresh_from_db()
    assert coupon.status == "available"


def test_an_expired_coupon_cannot_be_locked(member):
    coupon = services.coupon_claim(
        member=member, template_id=CouponTemplateFactory(valid_days=1).pk, idempotency_key="k"
    )
    with pytest.raises(CouponNotAvailable):
        services.coupon_lock(
            member_id=member.pk, coupon_id=coupon.pk, order_no="SO", now=timezone.now() + timedelta(days=2)
        )


def test_release_makes_it_available_again_or_expired_when_past_its_validity(member):
    tpl = CouponTemplateFactory(valid_days=1, per_member_limit=2)
    one = services.coupon_claim(member=member, template_id=tpl.pk, idempotency_key="k1")
    two = services.coupon_claim(member=member, template_id=tpl.pk, idempotency_key="k2")
    services.coupon_lock(member_id=member.pk, coupon_id=one.pk, order_no="A")
    services.coupon_lock(member_id=member.pk, coupon_id=two.pk, order_no="B")

    assert services.coupon_release(coupon_id=one.pk, order_no="B").status == "locked"  # not B's coupon
    assert services.coupon_release(coupon_id=one.pk, order_no="A").status == "available"
    later = timezone.now() + timedelta(days=2)
    assert services.coupon_release(coupon_id=two.pk, order_no="B", now=later).status == "expired"


def test_restore_only_after_a_whole_refund_and_while_still_valid(member):
    tpl = CouponTemplateFactory(valid_days=5, per_member_limit=3)
    coupons = [
        services.coupon_claim(member=member, template_id=tpl.pk, idempotency_key=f"k{i}") for i in range(3)
    ]
    for i, coupon in enumerate(coupons):
        services.coupon_lock(member_id=member.pk, coupon_id=coupon.pk, order_no=f"SO-{i}")
        services.coupon_use(coupon_id=coupon.pk, order_no=f"SO-{i}")

    partial = services.coupon_restore(coupon_id=coupons[0].pk, order_no="SO-0", whole_order_refunded=False)
    whole = services.coupon_restore(coupon_id=coupons[1].pk, order_no="SO-1", whole_order_refunded=True)
    too_late = services.coupon_restore(
        coupon_id=coupons[2].pk,
        order_no="SO-2",
        whole_order_refunded=True,
        now=timezone.now() + timedelta(days=6),
    )

    assert (partial.status, whole.status, too_late.status) == ("used", "available", "used")
    assert whole.order_no == "" and whole.used_at is None


def test_an_operator_voids_an_unused_coupon_with_a_reason_but_never_a_used_one(member):
    operator = User.objects.create(username="ops")
    tpl = CouponTemplateFactory(per_member_limit=2)
    one = services.coupon_claim(member=member, template_id=tpl.pk, idempotency_key="k1")
    two = services.coupon_claim(member=member, template_id=tpl.pk, idempotency_key="k2")
    services.coupon_lock(member_id=member.pk, coupon_id=two.pk, order_no="SO")
    services.coupon_use(coupon_id=two.pk, order_no="SO")

    voided = services.coupon_void(coupon_id=one.pk, actor_id=operator.pk, reason="发错了")
    with pytest.raises(CouponNotVoidable):
        services.coupon_void(coupon_id=two.pk, actor_id=operator.pk, reason="r")

    assert voided.status == "voided"
    event = CouponEvent.objects.get(coupon=one, kind="voided")
    assert (event.reason, event.actor_id) == ("发错了", operator.pk)


def test_a_coupon_held_by_an_order_is_not_voided_so_the_order_can_still_complete(member):
    operator = User.objects.create(username="ops")
    coupon = services.coupon_claim(member=member, template_id=CouponTemplateFactory().pk, idempotency_key="k")
    services.coupon_lock(member_id=member.pk, coupon_id=coupon.pk, order_no="SO-9")

    with pytest.raises(CouponNotVoidable) as refused:
        services.coupon_void(coupon_id=coupon.pk, actor_id=operator.pk, reason="发错了")

    assert refused.value.details == {"status": "locked", "order_no": "SO-9"}
    coupon.refresh_from_db()
    assert (coupon.status, coupon.order_no) == ("locked", "SO-9")
    assert not CouponEvent.objects.filter(coupon=coupon, kind="voided").exists()
    assert services.coupon_use(coupon_id=coupon.pk, order_no="SO-9").status == "used"


def test_redeeming_a_code_at_the_counter_uses_it_once(member):
    coupon = services.coupon_claim(member=member, template_id=CouponTemplateFactory().pk, idempotency_key="k")
    used = services.coupon_redeem_code(code=coupon.code.lower(), order_no="POS-1")
    assert used.status == "used"
    with pytest.raises(CouponNotAvailable):
        services.coupon_redeem_code(code=coupon.code, order_no="POS-2")
    with pytest.raises(CouponNotFound):
        services.coupon_redeem_code(code="NOPE", order_no="POS-3")


def test_a_gift_pack_is_given_once_per_occasion_and_records_what_it_withheld(member):
    plenty, scarce = (
        CouponTemplateFactory(name="A", per_member_limit=2),
        CouponTemplateFactory(name="B", total_stock=0),
    )
    pack = GiftPackFactory(name="开卡礼", points=500)
    GiftPackItem.objects.create(pack=pack, template=plenty, quantity=2)
    GiftPackItem.objects.create(pack=pack, template=scarce, quantity=1)

    grant = services.gift_pack_issue(pack_id=pack.pk, member_id=member.pk, occasion="new_member")
    again = services.gift_pack_issue(pack_id=pack.pk, member_id=member.pk, occasion="new_member")

    assert grant.pk == again.pk and GiftPackGrant.objects.count() == 1
    assert Coupon.objects.filter(member=member, template=plenty).count() == 2
    assert grant.withheld == [{"template_id": scarce.pk, "reason": "coupon_sold_out"}]
    assert list(PointsEntry.objects.filter(source="gift_pack").values_list("amount", flat=True)) == [500]
    assert (
        services.gift_pack_issue(pack_id=pack.pk, member_id=member.pk, occasion="birthday:2026") is not None
    )
    assert CouponTemplate.objects.get(pk=plenty.pk).issued_count == 2  # limit 2: the birthday withheld both


def test_a_members_usable_coupons_price_a_basket_through_the_engine(member):
    from coupons import pricing, selectors

    tpl_a = CouponTemplateFactory(name="满100减20", per_member_limit=1)
    tpl_b = CouponTemplateFactory(
        name="8折", kind="percent_off", percent_off=20, max_discount_fen=3_000, threshold_fen=0
    )
    ship = CouponTemplateFactory(name="包邮", kind="free_shipping", threshold_fen=0)
    for tpl in (tpl_a, tpl_b, ship):
        services.coupon_claim(member=member, template_id=tpl.pk, idempotency_key="k")
    basket = pricing.Basket(
        lines=(pricing.Line(key="1", sku="TEA", category="tea", unit_price_fen=6_000, quantity=2),),
        shipping_fen=800,
    )

    best = pricing.best_combination(basket, selectors.usable_specs(member_id=member.pk))

    assert best.line_discount_fen == 2_400  # 8折 on ¥120.00 beats 满100减20
    assert best.shipping_discount_fen == 800
    assert sum(best.allocation.values()) == 2_400
