"""Hypothesis: random baskets, discounts and payments, then random sequences of partial refunds."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyalty import rounding
from membership.benefits import Benefits
from orders import services
from orders.models import Order
from orders.quote import compute_quote
from points import ledger as points_ledger
from tests.factories import MemberFactory, RechargeFactory
from tests.helpers import assert_ledgers_consistent, points_of
from tests.orders.helpers import basket, commit
from tests.stored_value.helpers import parts

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("default_rules")]

lines = st.lists(st.tuples(st.integers(1, 50_000), st.integers(1, 7)), min_size=1, max_size=4)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lines=lines,
    shipping=st.integers(0, 2_000),
    discount_bp=st.integers(0, 3_000),
    points_share=st.integers(0, 100),
    sv_share=st.integers(0, 100),
    cuts=st.lists(st.tuples(st.integers(0, 3), st.integers(1, 7)), max_size=8),
    finish=st.booleans(),
)
def test_partial_refunds_never_exceed_the_original_and_a_full_refund_restores_the_state(
    monkeypatch, lines, shipping, discount_bp, points_share, sv_share, cuts, finish
):
    monkeypatch.setattr(
        "membership.benefits._benefits", lambda *, member_id, at: (True, Benefits(discount_bp=discount_bp))
    )
    member = MemberFactory()
    RechargeFactory(
        member=member, amount_fen=1_500_000, bonus_fen=150_000
    )  # more than any generated basket costs
    points_ledger.points_earn(
        member_id=member.pk, amount=200_000, idempotency_key="seed", source="t", expires_at=None
    )
    b = basket(*[(f"S{i}", price, qty) for i, (price, qty) in enumerate(lines)], shipping_fen=shipping)
    probe = compute_quote(member_id=member.pk, basket=b)
    points = probe.points_max * points_share // 100
    due = probe.cash_fen - points  # 100 points = ¥1
    b = basket(
        *[(f"S{i}", price, qty) for i, (price, qty) in enumerate(lines)],
        shipping_fen=shipping,
        points=points,
        stored_value_fen=due * sv_share // 100,
    )
    before = (parts(member), points_of(member))
    order = commit(member, b)
    services.order_complete(order_no=order.order_no)
    order.refresh_from_db()

    remaining = {line.line_no: line.quantity for line in order.lines.all()}
    for n, (index, quantity) in enumerate(cuts):
        line_no = index % len(remaining) + 1
        if remaining[line_no] == 0:
            continue
        quantity = min(quantity, remaining[line_no])
        services.order_refund(order_no=order.order_no, refund_no=f"R{n}", lines=[(line_no, quantity)])
        remaining[line_no] -= quantity
        current = Order.objects.get(pk=order.pk)
        assert current.refunded_stored_value_fen <= current.stored_value_fen
        assert current.refunded_cash_fen <= current.cash_fen
        assert current.refunded_points <= current.points_used
        assert current.reversed_earned_points <= current.earned_points
    if finish and any(remaining.values()):
        services.order_refund(order_no=order.order_no, refund_no="FINAL")
    if finish or not any(remaining.values()):
        # The whole order refunded: its first-order reward goes back too, so nothing is left of it.
        assert (parts(member), points_of(member)) == before
        assert Order.objects.get(pk=order.pk).status == "refunded"
    assert_ledgers_consistent()


@given(
    total=st.integers(0, 10**9),
    quantity=st.integers(1, 50),
    steps=st.lists(st.integers(1, 50), max_size=10),
)
def test_refund_shares_of_a_line_are_never_negative_and_add_up_to_its_total(total, quantity, steps):
    done, given_back = 0, 0
    for step in steps:
        step = min(step, quantity - done)
        if step == 0:
            break
        share = rounding.refund_share(total=total, quantity=quantity, refunded_before=done, refunding=step)
        assert 0 <= share and given_back + share <= total
        # never less than the exact share: rounded in the member's favour
        assert (given_back + share) * quantity >= total * (done + step)
        done, given_back = done + step, given_back + share
    last = rounding.refund_share(
        total=total, quantity=quantity, refunded_before=done, refunding=quantity - done
    )
    assert given_back + last == total


@given(
    earned=st.integers(0, 10**6),
    eligible=st.integers(1, 10**9),
    cuts=st.lists(st.integers(0, 10**9), max_size=8),
)
def test_earned_points_clawbacks_add_up_to_the_points_earned_on_a_full_refund(earned, eligible, cuts):
    refunded, clawed = 0, 0
    for cut in cuts:
        cut = min(cut, eligible - refunded)
        claw = rounding.earned_points_clawback(
            earned=earned, eligible_fen=eligible, refunded_before_fen=refunded, refunding_fen=cut
        )
        assert claw >= 0 and clawed + claw <= earned
        refunded, clawed = refunded + cut, clawed + claw
    clawed += rounding.earned_points_clawback(
        earned=earned, eligible_fen=eligible, refunded_before_fen=refunded, refunding_fen=eligible - refunded
    )
    assert clawed == earned
