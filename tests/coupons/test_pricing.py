"""The coupon pricing engine: pure arithmetic, no database."""

import itertools
from datetime import datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coupons.pricing import (
    Basket,
    CouponSpec,
    Line,
    PricingError,
    Reason,
    allocate,
    best_combination,
    check_combination,
    evaluate,
)

SOON = datetime(2025, 1, 1)
LATER = SOON + timedelta(days=30)


def line(key, price, quantity=1, *, sku=None, category="tea"):
    return Line(key=key, sku=sku or f"sku-{key}", category=category, unit_price_fen=price, quantity=quantity)


def basket(*lines, shipping=0):
    return Basket(lines=tuple(lines), shipping_fen=shipping)


def amount_off(id=1, threshold=10_000, off=2_000, **fields):
    return CouponSpec(id=id, kind="amount_off", threshold_fen=threshold, amount_off_fen=off, **fields)


def percent_off(id=2, percent=20, cap=None, **fields):
    return CouponSpec(id=id, kind="percent_off", percent_off=percent, max_discount_fen=cap, **fields)


def no_threshold(id=3, off=500, **fields):
    return CouponSpec(id=id, kind="no_threshold", amount_off_fen=off, **fields)


def free_shipping(id=4, threshold=0, **fields):
    return CouponSpec(id=id, kind="free_shipping", threshold_fen=threshold, **fields)


def exchange(id=5, sku="gift", **fields):
    return CouponSpec(id=id, kind="exchange", gift_sku=sku, **fields)


# --- amount off (满减) -------------------------------------------------------------------------


def test_amount_off_applies_when_the_threshold_is_exactly_met():
    result = evaluate(basket(line("1", 6_000), line("2", 4_000)), amount_off())

    assert result.applicable
    assert result.discount_fen == 2_000
    assert result.allocation == {"1": 1_200, "2": 800}


def test_amount_off_does_not_apply_one_fen_short_of_the_threshold():
    result = evaluate(basket(line("1", 9_999)), amount_off())

    assert not result.applicable
    assert result.reason == Reason.THRESHOLD_NOT_MET
    assert result.discount_fen == 0 and result.allocation == {}
    assert result.shortfall_fen == 1


def test_amount_off_larger_than_the_eligible_amount_takes_off_only_the_eligible_amount():
    coupon = amount_off(threshold=0, off=5_000, scope="categories", scope_values={"tea"})
    result = evaluate(basket(line("1", 1_000), line("2", 9_000, category="cups")), coupon)

    assert result.discount_fen == 1_000
    assert result.allocation == {"1": 1_000}


def test_threshold_is_measured_on_the_in_scope_lines_only_and_not_the_shipping_fee():
    coupon = amount_off(scope="categories", scope_values={"tea"})
    shopping = basket(line("1", 9_000), line("2", 5_000, category="cups"), shipping=1_000)

    result = evaluate(shopping, coupon)

    assert result.reason == Reason.THRESHOLD_NOT_MET
    assert result.eligible_fen == 9_000


def test_discount_is_split_over_lines_by_largest_remainder_and_adds_up_exactly():
    # 1000 over three equal lines: 333.33 each; the odd fen goes to the first line.
    coupon = amount_off(threshold=0, off=1_000)
    result = evaluate(basket(line("a", 3_000), line("b", 3_000), line("c", 3_000)), coupon)

    assert result.allocation == {"a": 334, "b": 333, "c": 333}


# --- percent off (折扣) ------------------------------------------------------------------------


def test_percent_off_takes_the_percentage_of_the_eligible_amount_below_the_cap():
    result = evaluate(basket(line("1", 10_000)), percent_off(percent=20, cap=5_000))

    assert result.discount_fen == 2_000


def test_percent_off_is_capped_at_max_discount():
    result = evaluate(basket(line("1", 30_000)), percent_off(percent=20, cap=5_000))

    assert result.discount_fen == 5_000


def test_percent_off_exactly_at_the_cap_takes_the_cap():
    result = evaluate(basket(line("1", 25_000)), percent_off(percent=20, cap=5_000))

    assert result.discount_fen == 5_000


@pytest.mark.parametrize(
    ("eligible", "percent", "discount"),
    [
        (1_001, 12, 120),  # 120.12 → 120: rounded to the nearest fen, down here
        (1_005, 12, 121),  # 120.6 → 121: up here
        (1_050, 5, 53),  # 52.5 exactly: the half fen goes to the member
        (1_049, 5, 52),  # 52.45 → 52
    ],
)
def test_percent_off_rounds_to_the_nearest_fen_with_a_half_fen_going_to_the_member(
    eligible, percent, discount
):
    assert evaluate(basket(line("1", eligible)), percent_off(percent=percent)).discount_fen == discount


def test_percent_off_that_rounds_to_nothing_is_not_applicable():
    result = evaluate(basket(line("1", 2)), percent_off(percent=20))

    assert not result.applicable
    assert result.reason == Reason.ZERO_DISCOUNT


def test_percent_off_respects_its_threshold():
    coupon = percent_off(percent=10, threshold_fen=5_000)

    assert evaluate(basket(line("1", 4_999)), coupon).reason == Reason.THRESHOLD_NOT_MET
    assert evaluate(basket(line("1", 5_000)), coupon).discount_fen == 500


# --- no threshold (无门槛) ---------------------------------------------------------------------


def test_no_threshold_applies_to_any_basket_and_ignores_a_stray_threshold():
    result = evaluate(basket(line("1", 100)), no_threshold(off=500, threshold_fen=99_999))

    assert result.applicable
    assert result.discount_fen == 100


# --- scope --------------------------------------------------------------------------------------


def test_category_scope_includes_only_the_listed_categories():
    coupon = no_threshold(off=900, scope="categories", scope_values={"tea"})
    result = evaluate(basket(line("1", 2_000), line("2", 1_000, category="cups")), coupon)

    assert result.allocation == {"1": 900}
    assert result.eligible_fen == 2_000


def test_category_scope_with_exclude_leaves_out_the_listed_categories():
    coupon = no_threshold(off=900, scope="categories", scope_values={"tea"}, scope_exclude=True)
    result = evaluate(basket(line("1", 2_000), line("2", 1_000, category="cups")), coupon)

    assert result.allocation == {"2": 900}


def test_sku_scope_includes_only_the_listed_skus():
    coupon = no_threshold(off=900, scope="skus", scope_values={"sku-2"})
    result = evaluate(basket(line("1", 2_000), line("2", 1_000), line("3", 1_000)), coupon)

    assert result.allocation == {"2": 900}


def test_sku_scope_with_exclude_leaves_out_the_listed_skus():
    coupon = no_threshold(off=900, scope="skus", scope_values={"sku-2"}, scope_exclude=True)
    result = evaluate(basket(line("1", 2_000), line("2", 1_000), line("3", 1_000)), coupon)

    assert result.allocation == {"1": 600, "3": 300}


def test_a_coupon_with_no_line_in_scope_is_out_of_scope():
    coupon = no_threshold(scope="categories", scope_values={"coffee"})

    assert evaluate(basket(line("1", 2_000)), coupon).reason == Reason.OUT_OF_SCOPE


# --- free shipping (包邮) ----------------------------------------------------------------------


def test_free_shipping_takes_off_the_shipping_fee_and_no_line():
    result = evaluate(basket(line("1", 2_000), shipping=800), free_shipping())

    assert result.discount_fen == 800
    assert result.shipping_fen == 800
    assert result.allocation == {}


def test_free_shipping_is_not_applicable_when_shipping_is_already_free():
    result = evaluate(basket(line("1", 2_000), shipping=0), free_shipping())

    assert not result.applicable
    assert result.reason == Reason.NO_SHIPPING_FEE


def test_free_shipping_respects_its_threshold_on_goods_not_shipping():
    coupon = free_shipping(threshold=5_000)

    assert evaluate(basket(line("1", 4_999), shipping=800), coupon).reason == Reason.THRESHOLD_NOT_MET
    assert evaluate(basket(line("1", 5_000), shipping=800), coupon).discount_fen == 800


# --- exchange (兑换券) -------------------------------------------------------------------------


def test_exchange_is_not_applicable_when_the_gift_is_not_in_the_basket():
    result = evaluate(basket(line("1", 2_000)), exchange())

    assert result.reason == Reason.GIFT_NOT_IN_BASKET


def test_exchange_makes_the_gift_free_on_its_own_line():
    result = evaluate(basket(line("1", 2_000), line("2", 1_500, sku="gift")), exchange())

    assert result.discount_fen == 1_500
    assert result.allocation == {"2": 1_500}


def test_exchange_makes_only_one_unit_free_when_the_gift_quantity_is_more_than_one():
    result = evaluate(basket(line("1", 1_500, quantity=3, sku="gift")), exchange())

    assert result.discount_fen == 1_500
    assert result.allocation == {"1": 1_500}


def test_exchange_frees_the_dearest_unit_when_the_gift_sku_is_on_several_lines():
    shopping = basket(
        line("1", 1_000, sku="gift"), line("2", 1_200, sku="gift"), line("3", 1_200, sku="gift")
    )

    assert evaluate(shopping, exchange()).allocation == {"2": 1_200}


# --- best combination --------------------------------------------------------------------------


def test_best_combination_picks_the_largest_discount_coupon():
    shopping = basket(line("1", 20_000))
    coupons = [amount_off(id=1), percent_off(id=2, percent=15), no_threshold(id=3, off=500)]

    combination = best_combination(shopping, coupons)

    assert combination.coupon_ids == (2,)
    assert combination.discount_fen == 3_000
    assert combination.allocation == {"1": 3_000}
    assert combination.payable_fen == 17_000
    assert [e.coupon_id for e in combination.evaluations] == [1, 2, 3]


def test_best_combination_stacks_free_shipping_with_one_discount_coupon_applied_first():
    shopping = basket(line("1", 20_000), shipping=1_000)
    combination = best_combination(shopping, [free_shipping(id=4), amount_off(id=1)])

    assert combination.coupon_ids == (1, 4)
    assert combination.discount_fen == 3_000
    assert combination.line_discount_fen == 2_000
    assert combination.shipping_discount_fen == 1_000
    assert combination.payable_fen == 18_000


def test_best_combination_uses_an_exclusive_coupon_alone_when_it_is_worth_more():
    shopping = basket(line("1", 20_000), shipping=1_000)
    coupons = [amount_off(id=1), free_shipping(id=4), no_threshold(id=9, off=3_500, stacking="exclusive")]

    combination = best_combination(shopping, coupons)

    assert combination.coupon_ids == (9,)
    assert combination.discount_fen == 3_500


def test_best_combination_prefers_the_stack_over_an_exclusive_coupon_worth_less_than_the_stack():
    shopping = basket(line("1", 20_000), shipping=1_000)
    coupons = [amount_off(id=1), free_shipping(id=4), no_threshold(id=9, off=2_500, stacking="exclusive")]

    assert best_combination(shopping, coupons).coupon_ids == (1, 4)


def test_best_combination_never_stacks_an_exclusive_free_shipping_coupon():
    shopping = basket(line("1", 20_000), shipping=1_000)
    coupons = [amount_off(id=1), free_shipping(id=4, stacking="exclusive")]

    assert best_combination(shopping, coupons).coupon_ids == (1,)


def test_best_combination_breaks_ties_by_the_coupon_that_expires_first():
    shopping = basket(line("1", 20_000))
    coupons = [no_threshold(id=1, off=500, expires_at=LATER), no_threshold(id=2, off=500, expires_at=SOON)]

    assert best_combination(shopping, coupons).coupon_ids == (2,)


def test_best_combination_breaks_ties_by_the_lower_id_when_expiry_is_the_same():
    shopping = basket(line("1", 20_000))
    coupons = [no_threshold(id=7, off=500, expires_at=SOON), no_threshold(id=3, off=500, expires_at=SOON)]

    assert best_combination(shopping, coupons).coupon_ids == (3,)
    assert best_combination(shopping, coupons[::-1]).coupon_ids == (3,)


def test_best_combination_with_nothing_applicable_uses_no_coupon_and_says_why():
    shopping = basket(line("1", 5_000))
    combination = best_combination(shopping, [amount_off(), free_shipping(), exchange()])

    assert combination.coupons == ()
    assert combination.discount_fen == 0
    assert combination.allocation == {"1": 0}
    assert combination.payable_fen == 5_000
    assert [e.reason for e in combination.evaluations] == [
        Reason.THRESHOLD_NOT_MET,
        Reason.NO_SHIPPING_FEE,
        Reason.GIFT_NOT_IN_BASKET,
    ]


def test_best_combination_refuses_the_same_coupon_twice():
    with pytest.raises(PricingError) as raised:
        best_combination(basket(line("1", 5_000)), [no_threshold(id=1), no_threshold(id=1)])

    assert raised.value.code == "coupon_repeated"


# --- check combination -------------------------------------------------------------------------


def test_check_combination_refuses_two_discount_coupons():
    with pytest.raises(PricingError) as raised:
        check_combination(basket(line("1", 20_000)), [amount_off(id=1), no_threshold(id=3)])

    assert raised.value.code == "coupons_not_combinable"
    assert isinstance(raised.value, ValueError)


def test_check_combination_refuses_an_exclusive_coupon_with_free_shipping():
    coupons = [no_threshold(id=3, stacking="exclusive"), free_shipping(id=4)]
    with pytest.raises(PricingError) as raised:
        check_combination(basket(line("1", 20_000), shipping=800), coupons)

    assert raised.value.code == "coupons_not_combinable"
    assert raised.value.coupon_id == 3


def test_check_combination_refuses_two_free_shipping_coupons():
    with pytest.raises(PricingError) as raised:
        check_combination(basket(line("1", 20_000), shipping=800), [free_shipping(id=4), free_shipping(id=6)])

    assert raised.value.code == "coupons_not_combinable"


def test_check_combination_refuses_a_coupon_that_does_not_apply_and_says_why():
    with pytest.raises(PricingError) as raised:
        check_combination(basket(line("1", 9_999)), [amount_off(id=1)])

    assert raised.value.code == "coupon_not_applicable"
    assert raised.value.coupon_id == 1
    assert raised.value.reason == Reason.THRESHOLD_NOT_MET


def test_check_combination_prices_a_valid_choice_even_when_it_is_not_the_best():
    shopping = basket(line("1", 12_000), line("2", 8_000), shipping=1_000)
    combination = check_combination(shopping, [free_shipping(id=4), no_threshold(id=3, off=500)])

    assert combination.coupon_ids == (3, 4)
    assert combination.allocation == {"1": 300, "2": 200}
    assert combination.discount_fen == 1_500
    assert combination.payable_fen == 19_500


def test_check_combination_with_no_coupon_takes_nothing_off():
    combination = check_combination(basket(line("1", 100), shipping=50), [])

    assert combination.discount_fen == 0
    assert combination.payable_fen == 150


# --- input validation --------------------------------------------------------------------------


def test_money_given_as_a_float_is_refused():
    with pytest.raises(TypeError):
        Line(key="1", sku="a", category="tea", unit_price_fen=19.9, quantity=1)
    with pytest.raises(TypeError):
        CouponSpec(id=1, kind="no_threshold", amount_off_fen=5.0)


def test_allocating_more_than_the_weights_allow_is_refused():
    with pytest.raises(ValueError):
        allocate(11, {"a": 5, "b": 5})


# --- properties --------------------------------------------------------------------------------

fen = st.integers(min_value=0, max_value=2_000_000)
categories = st.sampled_from(["tea", "cups", "snacks"])
skus = st.sampled_from(["s1", "s2", "s3", "s4", "gift"])


@st.composite
def baskets(draw):
    count = draw(st.integers(min_value=0, max_value=6))
    lines = tuple(
        Line(
            key=str(index),
            sku=draw(skus),
            category=draw(categories),
            unit_price_fen=draw(st.integers(min_value=0, max_value=100_000)),
            quantity=draw(st.integers(min_value=1, max_value=5)),
        )
        for index in range(count)
    )
    return Basket(lines=lines, shipping_fen=draw(st.sampled_from([0, 1, 800, 1_200])))


@st.composite
def coupon_specs(draw, id=None):
    scope = draw(st.sampled_from(["all", "categories", "skus"]))
    values = {"all": [], "categories": ["tea", "cups", "snacks"], "skus": ["s1", "s2", "s3", "gift"]}[scope]
    return CouponSpec(
        id=draw(st.integers(min_value=1, max_value=10_000)) if id is None else id,
        kind=draw(
            st.sampled_from(["amount_off", "percent_off", "no_threshold", "free_shipping", "exchange"])
        ),
        threshold_fen=draw(st.integers(min_value=0, max_value=300_000)),
        amount_off_fen=draw(st.integers(min_value=0, max_value=300_000)),
        percent_off=draw(st.integers(min_value=0, max_value=100)),
        max_discount_fen=draw(st.none() | st.integers(min_value=1, max_value=50_000)),
        gift_sku=draw(skus),
        scope=scope,
        scope_values=draw(st.frozensets(st.sampled_from(values) if values else st.nothing())),
        scope_exclude=draw(st.booleans()),
        stacking=draw(st.sampled_from(["normal", "normal", "exclusive"])),
        expires_at=draw(st.none() | st.sampled_from([SOON, LATER])),
    )


@st.composite
def coupon_lists(draw):
    count = draw(st.integers(min_value=0, max_value=6))
    return [draw(coupon_specs(id=index)) for index in range(1, count + 1)]


@given(amount=fen, weights=st.dictionaries(st.text(max_size=3), fen, max_size=8))
def test_allocate_parts_add_up_stay_within_their_weights_and_are_within_a_fen_of_exact(amount, weights):
    total = sum(weights.values())
    amount = min(amount, total)

    parts = allocate(amount, weights)

    assert list(parts) == list(weights)
    assert sum(parts.values()) == amount
    for key, part in parts.items():
        assert 0 <= part <= weights[key]
        assert abs(part - Fraction(amount * weights[key], total or 1)) < 1
    assert allocate(amount, dict(weights)) == parts


@given(shopping=baskets(), coupon=coupon_specs())
def test_a_coupon_never_takes_more_than_it_applies_to_and_its_allocation_adds_up(shopping, coupon):
    result = evaluate(shopping, coupon)
    amounts = {ln.key: ln.amount_fen for ln in shopping.lines}
    in_scope = {ln.key for ln in shopping.lines if coupon.in_scope(ln)}

    if not result.applicable:
        assert result.reason is not None
        assert result.discount_fen == 0 and result.allocation == {} and result.shipping_fen == 0
        return
    assert result.discount_fen >= 1
    assert sum(result.allocation.values()) + result.shipping_fen == result.discount_fen
    assert 0 <= result.shipping_fen <= shopping.shipping_fen
    for key, part in result.allocation.items():
        assert 0 <= part <= amounts[key]
    if coupon.kind in ("amount_off", "percent_off", "no_threshold"):
        assert result.discount_fen <= result.eligible_fen
        assert set(result.allocation) == in_scope
    if coupon.kind == "amount_off":
        assert result.discount_fen == min(coupon.amount_off_fen, result.eligible_fen)
    if coupon.kind == "percent_off":
        exact = Fraction(result.eligible_fen * coupon.percent_off, 100)
        cap = coupon.max_discount_fen
        assert result.discount_fen == cap or abs(result.discount_fen - exact) <= Fraction(1, 2)
        assert cap is None or result.discount_fen <= cap


def _allowed(combo):
    if len(combo) > 1 and any(c.stacking == "exclusive" for c in combo):
        return False
    discounts = sum(c.kind != "free_shipping" for c in combo)
    return discounts <= 1 and len(combo) - discounts <= 1


@given(shopping=baskets(), coupons=coupon_lists())
def test_best_combination_is_the_largest_allowed_total_and_check_combination_agrees(shopping, coupons):
    best = best_combination(shopping, coupons)
    evaluations = {c.id: evaluate(shopping, c) for c in coupons}
    applicable = [c for c in coupons if evaluations[c.id].applicable]
    brute_force = max(
        sum(evaluations[c.id].discount_fen for c in combo)
        for size in range(3)
        for combo in itertools.combinations(applicable, size)
        if _allowed(combo)
    )

    assert best.discount_fen == brute_force
    assert sum(best.allocation.values()) == best.line_discount_fen
    assert best.line_discount_fen + best.shipping_discount_fen == best.discount_fen
    assert best.payable_fen == shopping.total_fen - best.discount_fen >= 0
    for ln in shopping.lines:
        assert 0 <= best.allocation[ln.key] <= ln.amount_fen
    chosen = check_combination(shopping, list(best.coupons))
    assert (chosen.coupon_ids, chosen.discount_fen, chosen.allocation, chosen.shipping_discount_fen) == (
        best.coupon_ids,
        best.discount_fen,
        best.allocation,
        best.shipping_discount_fen,
    )
    assert best_combination(shopping, coupons[::-1]).coupon_ids == best.coupon_ids
