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
