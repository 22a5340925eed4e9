"""Every rounding rule of the project, each saying which way and why.

Money is integer fen and points are integers, so rounding happens only where
a rate or a share turns one into the other; it happens once, on exact
fractions, never on an already rounded figure.
"""

import math
from decimal import Decimal
from fractions import Fraction


def purchase_points(
    *, eligible_fen: int, points_per_yuan: Decimal, multiplier: Fraction = Fraction(1)
) -> int:
    """Points for a purchase: floor(eligible_fen / 100 × points_per_yuan × multiplier).

    Rounded down, once per order and after the multipliers: "每消费1元积1分"
    gives no point for a part of a yuan, which is what members expect, and
    flooring once (not per line, not before multiplying) costs the member at
    most one point per order.
    """
    if eligible_fen <= 0:
        return 0
    exact = Fraction(eligible_fen, 100) * Fraction(points_per_yuan) * multiplier
    return math.floor(exact)


def recharge_ratio_bonus(*, paid_fen: int, pay_per: int, bonus_per: int) -> int:
    """Bonus of a ratio plan ("充10送1": pay_per=10, bonus_per=1): floor(paid × bonus_per / pay_per) fen.

    Rounded down to the fen, once per recharge: the plan promises whole fen of
    bonus for what was paid and a fraction of a fen cannot be credited.  The
    member loses less than one fen against the exact ratio.
    """
    if paid_fen <= 0 or pay_per <= 0 or bonus_per <= 0:
        return 0
    return paid_fen * bonus_per // pay_per


def split_proportional(*, amount_fen: int, principal_fen: int, bonus_fen: int) -> tuple[int, int]:
    """Split a stored-value debit over principal and bonus in proportion to them.

    principal part = floor(amount × principal / (principal + bonus)); the bonus
    takes the rest.  Rounding the principal part down spends the odd fen from
    the bonus, which favours the member: principal is real money that a
    recharge refund can return, bonus is not.  Both parts stay within their
    balances whenever a = amount ≤ t = principal + bonus: floor(a·p/t) ≤ p,
    and a·p/t ≥ a − b (which is whole), so the bonus part a − floor(a·p/t) ≤ b.
    """
    total = principal_fen + bonus_fen
    if amount_fen <= 0 or total <= 0:
        return 0, 0
    principal_part = amount_fen * principal_fen // total
    return principal_part, amount_fen - principal_part


def split_refund(
    *, amount_fen: int, principal_left: int, bonus_left: int, principal_spent: int, bonus_spent: int
) -> tuple[int, int]:
    """Parts of a (partial) spend refund: back to the parts the spend took.

    ``*_spent`` are what the spend took, ``*_left`` what earlier refunds have
    not yet given back.  The principal share is floor(amount × principal_spent
    / spent), clamped so neither part exceeds what is left of it; the last
    refund therefore returns exactly the remainder of each part, and all the
    refunds of one spend add up to exactly what it took.
    """
    spent = principal_spent + bonus_spent
    share = amount_fen * principal_spent // spent if spent else 0
    principal_part = min(max(share, amount_fen - bonus_left), principal_left)
    return principal_part, amount_fen - principal_part


def percent_discount(eligible_fen: int, percent_off: int) -> int:
    """eligible × percent / 100, rounded to the nearest fen; an exact half fen goes to the member.

    Why not round down: the member is promised e.g. 8折 of the price, and
    rounding to the nearest fen keeps what they pay within half a fen of that
    promise, with the tie in their favour (the design brief rules out rounding
    halves against the member).  The result never exceeds ``eligible_fen``
    since percent ≤ 100.  The cap (``max_discount_fen``) applies afterwards.
    """
    return (2 * eligible_fen * percent_off + 100) // 200
