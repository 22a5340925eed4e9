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


def recharge_gift_points_clawback(
    *, gift_points: int, amount_fen: int, refunded_before_fen: int, refunding_fen: int
) -> int:
    """Gift points of a recharge taken back when ``refunding_fen`` more of its ``amount_fen`` principal is refunded.

    Cumulative and rounded down, as ``earned_points_clawback``: floor(gift ×
    refunded after / amount) − floor(gift × refunded before / amount).  Down,
    so a partial refund leaves the member the fraction of a point for the
    principal they kept (and spent); cumulative, so the refunds of a recharge
    take back exactly its gift once all of its principal is refunded, never more.
    """
    return earned_points_clawback(
        earned=gift_points,
        eligible_fen=amount_fen,
        refunded_before_fen=refunded_before_fen,
        refunding_fen=refunding_fen,
    )


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
    promise, with the tie in their favour (a half fen is never rounded against
    the member: docs/rules/coupons.md).  The result never exceeds ``eligible_fen``
    since percent ≤ 100.  The cap (``max_discount_fen``) applies afterwards.
    """
    return (2 * eligible_fen * percent_off + 100) // 200


def growth_for_paid(*, paid_fen: int, growth_per_yuan: int) -> int:
    """Growth value (成长值) for what a member paid on one order: floor(paid yuan × growth per yuan).

    Rounded down once per order, like purchase points: a part of a yuan earns
    no growth.  Refunds recompute the order's growth from what is left paid
    (``paid − refunded``) and take back the difference, so an order's growth
    after any number of partial refunds is exactly floor(net paid yuan ×
    rate) and a full refund takes back all of it.
    """
    if paid_fen <= 0 or growth_per_yuan <= 0:
        return 0
    return paid_fen * growth_per_yuan // 100


def stacked_discount_bp(*, best_bp: int, extra_bp: int) -> int:
    """A member-day extra discount on top of the best tier/card discount, in basis points.

    The prices multiply: (1 − best)(1 − extra); e.g. 9.5折 then another 9.5折
    is 9.025折 = 975 bp off, never the 10 % a plain sum would give.  The
    result is rounded to the nearest basis point with an exact half going to
    the member (rounded up), for the same reason as ``percent_discount``,
    but never to 10000: two discounts short of 100 % never make a price free.
    """
    kept = (10000 - best_bp) * (10000 - extra_bp)  # in 1/10^8
    off = 10**8 - kept
    return min((2 * off + 10000) // 20000, 9999)


def card_unused_refund(*, amount_fen: int, unused_seconds: int, period_seconds: int) -> int:
    """What a pro-rata refund of a paid card returns: floor(amount × unused ÷ period) fen.

    Time is counted in whole seconds of the period not yet used.  Rounded
    down to the fen once: the member gets back the exact unused share less
    than one fen (a fraction of a fen cannot be paid out), and the time
    taken off the card is exactly the unused time.
    """
    if amount_fen <= 0 or unused_seconds <= 0 or period_seconds <= 0:
        return 0
    return amount_fen * min(unused_seconds, period_seconds) // period_seconds


# --- checkout and order refunds (orders app) ---------------------------------------


def member_unit_discount(unit_price_fen: int, discount_bp: int) -> int:
    """A member discount (tier, card, member day) on one unit: price × bp / 10000, nearest fen, half to the member.

    Taken per unit, not per line, so the member price of a unit is a whole
    number of fen (会员价) and a refund of any number of units returns exactly
    that many member prices.  To the nearest fen with a half fen going to the
    member, for the same reason as ``percent_discount``.
    """
    if unit_price_fen <= 0 or discount_bp <= 0:
        return 0
    return min((2 * unit_price_fen * discount_bp + 10000) // 20000, unit_price_fen)


def points_unit(points_per_yuan: int) -> tuple[int, int]:
    """(points, fen) of the smallest deduction a rate allows: 100 points = ¥1 gives (1, 1); 1000 gives (10, 1).

    Points deduction (积分抵现) only accepts whole multiples of this unit,
    so the points used and the fen taken off always match exactly and no
    point is spent for a fraction of a fen.
    """
    g = math.gcd(points_per_yuan, 100)
    return points_per_yuan // g, 100 // g


def points_cap_fen(*, payable_fen: int, max_share_bp: int) -> int:
    """The most points may take off: floor(payable × share / 10000) fen.

    Rounded down because it is a ceiling the merchant set ("at most 50 %"):
    rounding up would let points pay more than the share.
    """
    return payable_fen * max_share_bp // 10000


def refund_share(*, total: int, quantity: int, refunded_before: int, refunding: int) -> int:
    """The part of a line's ``total`` (a discount, points, stored value or cash) that goes with
    ``refunding`` units, after ``refunded_before`` units of ``quantity`` were refunded.

    Cumulative and rounded up: ceil(total × (before + refunding) / quantity) −
    ceil(total × before / quantity).  Rounded up so a partial refund gives the
    member the odd fen (or point) now rather than later; cumulative so the
    parts of all refunds of a line add up to exactly ``total`` once every
    unit is refunded, never more, and no refund's part is negative.
    """
    after = refunded_before + refunding

    def upto(units: int) -> int:
        return -((-total * units) // quantity)

    return upto(after) - upto(refunded_before)


def earned_points_clawback(
    *, earned: int, eligible_fen: int, refunded_before_fen: int, refunding_fen: int
) -> int:
    """Purchase points taken back for a refund of ``refunding_fen`` of the ``eligible_fen`` they were earned on.

    Cumulative and rounded down: floor(earned × refunded after / eligible) −
    floor(earned × refunded before / eligible).  Down, so a partial refund
    leaves the member the fraction of a point; cumulative, so the clawbacks
    of all refunds add up to exactly ``earned`` when everything is refunded.
    """
    if earned <= 0 or eligible_fen <= 0:
        return 0
    after = min(refunded_before_fen + refunding_fen, eligible_fen)
    return earned * after // eligible_fen - earned * refunded_before_fen // eligible_fen


def points_liability_fen(*, points: int, points_per_yuan: int) -> int:
    """What outstanding points are worth at the checkout deduction rate: floor(points × 100 / points_per_yuan) fen.

    Rounded down, once, on the total: a report of the merchant's liability,
    and at checkout a part of a fen of points can never be redeemed either
    (see ``points_unit``), so flooring the total overstates nothing.
    """
    if points <= 0:
        return 0
    return points * 100 // points_per_yuan
