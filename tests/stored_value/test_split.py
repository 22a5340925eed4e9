"""Property tests of the stored-value rounding rules (loyalty.rounding)."""

from hypothesis import given
from hypothesis import strategies as st

from loyalty import rounding

fen = st.integers(min_value=0, max_value=10**12)


@given(principal=fen, bonus=fen, data=st.data())
def test_a_proportional_split_adds_up_and_never_overdraws_a_part(principal, bonus, data):
    amount = data.draw(st.integers(min_value=1, max_value=max(principal + bonus, 1)))
    if principal + bonus == 0:
        return
    p, b = rounding.split_proportional(amount_fen=amount, principal_fen=principal, bonus_fen=bonus)

    assert p + b == amount
    assert 0 <= p <= principal and 0 <= b <= bonus
    # The principal share is the exact share rounded down, never more than one fen off.
    assert p * (principal + bonus) <= amount * principal < (p + 1) * (principal + bonus)


@given(spent_p=fen, spent_b=fen, cuts=st.lists(st.integers(1, 10**12), max_size=6))
def test_partial_refunds_of_a_spend_return_exactly_its_parts(spent_p, spent_b, cuts):
    """However a spend is refunded in pieces, the pieces add up to exactly what it took from each part."""
    total = spent_p + spent_b
    if total == 0:
        return
    left_p, left_b = spent_p, spent_b
    for cut in cuts:
        amount = min(cut, left_p + left_b)
        if amount == 0:
            break
        p, b = rounding.split_refund(
            amount_fen=amount,
            principal_left=left_p,
            bonus_left=left_b,
            principal_spent=spent_p,
            bonus_spent=spent_b,
        )
        assert p + b == amount and 0 <= p <= left_p and 0 <= b <= left_b
        left_p, left_b = left_p - p, left_b - b
    p, b = (
        rounding.split_refund(
            amount_fen=left_p + left_b,
            principal_left=left_p,
            bonus_left=left_b,
            principal_spent=spent_p,
            bonus_spent=spent_b,
        )
        if left_p + left_b
        else (0, 0)
    )
    assert (p, b) == (left_p, left_b)


@given(paid=st.integers(1, 10**12), pay_per=st.integers(1, 1000), bonus_per=st.integers(1, 1000))
def test_a_ratio_bonus_is_the_exact_ratio_rounded_down_to_the_fen(paid, pay_per, bonus_per):
    bonus = rounding.recharge_ratio_bonus(paid_fen=paid, pay_per=pay_per, bonus_per=bonus_per)

    assert bonus * pay_per <= paid * bonus_per < (bonus + 1) * pay_per


def test_ten_to_one_gives_150_on_1500():
    assert rounding.recharge_ratio_bonus(paid_fen=150_000, pay_per=10, bonus_per=1) == 15_000
    assert rounding.recharge_ratio_bonus(paid_fen=1_999, pay_per=10, bonus_per=1) == 199


@given(
    gift=st.integers(0, 10**6),
    amount=st.integers(1, 10**12),
    cuts=st.lists(st.integers(0, 10**12), max_size=6),
)
def test_gift_points_taken_back_by_a_recharges_refunds_add_up_to_the_gift_when_all_is_refunded(
    gift, amount, cuts
):
    """Each partial refund takes its share rounded down; the one that completes the refund takes the rest."""
    refunded, clawed = 0, 0
    for cut in cuts:
        cut = min(cut, amount - refunded)
        claw = rounding.recharge_gift_points_clawback(
            gift_points=gift, amount_fen=amount, refunded_before_fen=refunded, refunding_fen=cut
        )
        assert 0 <= claw and clawed + claw <= gift
        refunded, clawed = refunded + cut, clawed + claw
        assert clawed == gift * refunded // amount  # never ahead of the exact share
    clawed += rounding.recharge_gift_points_clawback(
        gift_points=gift, amount_fen=amount, refunded_before_fen=refunded, refunding_fen=amount - refunded
    )
    assert clawed == gift
