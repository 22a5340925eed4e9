"""The quote: benefit discount -> coupon -> points -> stored value -> cash, line by line."""

from fractions import Fraction

import pytest

from coupons import services as coupon_services
from loyalty.errors import ApplicationError
from membership.benefits import Benefits
from orders.models import CheckoutSettings
from orders.quote import compute_quote
from points import ledger as points_ledger
from tests.factories import CouponTemplateFactory, EarnedPointsFactory, MemberFactory, RechargeFactory
from tests.orders.helpers import basket, snapshot

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("default_rules")]


@pytest.fixture
def member():
    return MemberFactory()


@pytest.fixture
def benefits(monkeypatch):
    def set_benefits(**fields):
        # Below member_benefits and existing_member_benefits (checkout's: it checks the member exists too).
        monkeypatch.setattr(
            "membership.benefits._benefits", lambda *, member_id, at: (True, Benefits(**fields))
        )

    return set_benefits


def claim(member, **fields):
    return coupon_services.coupon_claim(
        member=member, template_id=CouponTemplateFactory(**fields).pk, idempotency_key="k"
    )


def test_a_quote_applies_benefit_then_coupon_then_points_then_stored_value_and_every_line_adds_up(
    member, benefits
):
    benefits(discount_bp=500, sources={"tier": "gold"})  # 9.5折
    coupon = claim(member)  # 满100减20
    EarnedPointsFactory(member=member, amount=5_000)
    RechargeFactory(member=member, amount_fen=10_000)

    quote = compute_quote(
        member_id=member.pk,
        basket=basket(
            ("A", 3_333, 3), ("B", 5_000, 1), shipping_fen=800, points=1_000, stored_value_fen=4_000
        ),
    )

    assert [ql.benefit_discount_fen for ql in quote.lines] == [
        167 * 3,
        250,
    ]  # per unit, half a fen to the member
    assert quote.coupon_ids == [coupon.pk] and quote.coupon_discount_fen == 2_000
    assert quote.points == 1_000 and quote.points_fen == 1_000  # 100 points = ¥1
    assert quote.stored_value_fen == 4_000
    for ql in quote.lines:
        assert ql.amount_fen == (
            ql.benefit_discount_fen
            + ql.coupon_discount_fen
            + ql.points_fen
            + ql.stored_value_fen
            + ql.cash_fen
        )
    assert quote.goods_fen + quote.shipping_fen == (
        quote.benefit_discount_fen
        + quote.coupon_discount_fen
        + quote.shipping_discount_fen
        + quote.points_fen
        + quote.stored_value_fen
        + quote.cash_fen
    )
    assert quote.cash_fen == 9_999 + 5_000 + 800 - 751 - 2_000 - 1_000 - 4_000


def test_free_shipping_from_a_benefit_takes_the_whole_fee_off(member, benefits):
    benefits(free_shipping=True)

    quote = compute_quote(member_id=member.pk, basket=basket(("A", 1_000, 1), shipping_fen=600))

    assert quote.shipping_discount_fen == 600 and quote.cash_fen == 1_000


def test_without_a_choice_the_best_coupon_is_applied_and_with_an_empty_choice_none(member):
    small = claim(member, amount_off_fen=500, threshold_fen=0, kind="no_threshold", name="5")
    big = claim(member, name="20")

    best = compute_quote(member_id=member.pk, basket=basket(("A", 20_000, 1), coupon_ids=None))
    none = compute_quote(member_id=member.pk, basket=basket(("A", 20_000, 1), coupon_ids=[]))
    chosen = compute_quote(member_id=member.pk, basket=basket(("A", 20_000, 1), coupon_ids=[small.pk]))

    assert best.coupon_ids == [big.pk] and best.coupon_discount_fen == 2_000
    assert none.coupon_ids == [] and none.cash_fen == 20_000
    assert chosen.coupon_ids == [small.pk] and chosen.coupon_discount_fen == 500


def test_the_same_basket_and_state_give_the_same_fingerprint_and_a_change_another(member):
    EarnedPointsFactory(member=member, amount=1_000)
    first = compute_quote(member_id=member.pk, basket=basket(("A", 5_000, 2), points=500))
    again = compute_quote(member_id=member.pk, basket=basket(("A", 5_000, 2), points=500))
    other = compute_quote(member_id=member.pk, basket=basket(("A", 5_000, 2), points=400))

    assert first.fingerprint == again.fingerprint != other.fingerprint


def test_points_are_capped_at_the_configured_share_of_the_goods(member):
    EarnedPointsFactory(member=member, amount=100_000)
    CheckoutSettings.objects.filter(pk=1).update(max_share_bp=2_000)  # 20 %

    quote = compute_quote(member_id=member.pk, basket=basket(("A", 10_000, 1)))
    with pytest.raises(ApplicationError) as error:
        compute_quote(member_id=member.pk, basket=basket(("A", 10_000, 1), points=2_001))

    assert quote.points_max == 2_000
    assert error.value.code == "points_above_cap" and error.value.details == {"max_points": 2_000}


def test_points_rate_minimum_and_combination_with_coupons_come_from_the_settings(member):
    EarnedPointsFactory(member=member, amount=100_000)
    claim(member)
    CheckoutSettings.objects.filter(pk=1).update(
        points_per_yuan=1_000, min_points=500, combine_with_coupons=False
    )

    quote = compute_quote(member_id=member.pk, basket=basket(("A", 20_000, 1), points=1_000, coupon_ids=None))
    codes = []
    for b in [
        basket(("A", 20_000, 1), points=1_005, coupon_ids=[]),  # not a multiple of 10 points
        basket(("A", 20_000, 1), points=400, coupon_ids=[]),  # below the minimum
    ]:
        with pytest.raises(ApplicationError) as error:
            compute_quote(member_id=member.pk, basket=b)
        codes.append(error.value.code)

    assert quote.coupon_ids == [] and quote.points_fen == 100  # 1,000 points at 1000 per yuan = ¥1
    assert codes == ["invalid_points", "points_below_minimum"]


@pytest.mark.parametrize(
    ("make_basket", "code"),
    [
        (lambda m, c: basket(("A", 0, 1)), "invalid_basket"),
        (lambda m, c: basket(("A", -100, 1)), "invalid_basket"),
        (lambda m, c: basket(("A", 100, 0)), "invalid_basket"),
        (lambda m, c: basket(("A", 100, -2)), "invalid_basket"),
        (lambda m, c: basket(), "invalid_basket"),
        (lambda m, c: basket(("A", 20_000, 1), points=10), "insufficient_points"),
        (lambda m, c: basket(("A", 20_000, 1), stored_value_fen=10), "insufficient_balance"),
        (lambda m, c: basket(("A", 100, 1), stored_value_fen=101), "stored_value_exceeds_due"),
        (lambda m, c: basket(("A", 20_000, 1, "tea"), coupon_ids=[c.pk]), "coupon_not_applicable"),
        (lambda m, c: basket(("A", 20_000, 1), coupon_ids=[999_999]), "coupon_not_available"),
    ],
)
def test_bad_input_is_refused_with_a_stable_code_and_nothing_written(member, make_basket, code):
    coupon = claim(member, scope="categories", scope_values=["shoes"])
    before = snapshot(member)

    with pytest.raises(ApplicationError) as error:
        compute_quote(member_id=member.pk, basket=make_basket(member, coupon))

    assert error.value.code == code
    assert snapshot(member) == before


def test_an_unknown_member_is_not_found():
    with pytest.raises(ApplicationError) as error:
        compute_quote(member_id=987_654, basket=basket(("A", 100, 1)))
    assert error.value.code == "member_not_found" and error.value.status_code == 404


def test_purchase_points_use_the_benefit_multiplier(member, benefits):
    from orders.services import order_complete
    from tests.helpers import points_of
    from tests.orders.helpers import commit

    benefits(points_multiplier=Fraction(2))
    order = commit(member, basket(("A", 12_345, 1)))
    order_complete(order_no=order.order_no)

    assert points_of(member) == 2 * 123 + 50  # purchase ×2, plus the first-order bonus


def test_the_quote_counts_only_points_a_spend_could_use(member):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    from points.selectors import points_balance, points_usable_balance

    EarnedPointsFactory(member=member, amount=700)
    points_ledger.points_earn(
        member_id=member.pk,
        amount=300,
        idempotency_key="soon",
        source="test",
        expires_at=timezone.now() + timedelta(days=1),
    )
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        quote = compute_quote(member_id=member.pk, basket=basket(("A", 100_000, 1)))

        assert quote.points_balance == 700 == points_balance(member_id=member.pk)["balance"]
        assert points_usable_balance(member_id=member.pk) == 700


def test_the_hot_path_dict_of_a_quote_is_dataclasses_asdict(member, benefits):
    from dataclasses import asdict

    benefits(discount_bp=500, sources={"tier": "gold"})
    claim(member)
    RechargeFactory(member=member, amount_fen=10_000)
    quote = compute_quote(
        member_id=member.pk, basket=basket(("A", 3_333, 3), ("B", 5_000, 1), shipping_fen=800)
    )

    assert quote.coupon_ids and quote.coupon_evaluations  # every nested kind is there
    assert quote.as_dict() == asdict(quote)
