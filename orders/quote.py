"""The checkout quote: a member and a basket in, the full breakdown line by line out.

Order of application, fixed:

1. **Member benefit discount** (tier, card, member day: ``membership.benefits``),
   per unit (``loyalty.rounding.member_unit_discount``), and free shipping.
   The same benefits' points multiplier is part of the quote: the order
   earns purchase points at it when it completes (``points_estimate``).
2. **Coupons**, priced by ``coupons.pricing`` on the member prices: the ones
   the member chose (``coupon_ids``), or, when ``coupon_ids`` is None, the
   best combination of the member's usable coupons.
3. **Points deduction** (积分抵现) on the goods left to pay (never shipping),
   at the settings' rate, within its cap and minimum.
4. **Stored value**, the amount asked for, on the goods and the shipping left.
5. **Cash**: the rest, which the merchant collects.

Every step is spread over the lines with ``coupons.pricing.allocate``
(largest remainder), so each line carries its exact share of every discount
and payment, and later refunds by line and quantity are exact to the fen.

A quote is deterministic: the same member, basket and state give the same
breakdown and the same ``fingerprint``, which commit compares to refuse a
stale quote.  Balances shown with it are informational and not part of the
fingerprint: only what would be applied is.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields

from django.utils import timezone

from coupons import pricing
from coupons.exceptions import CouponNotAvailable
from coupons.selectors import usable_specs
from loyalty import rounding
from loyalty.config import cached
from membership import benefits as member_benefits_module
from orders import exceptions as exc
from orders.models import CheckoutSettings
from points.earning import purchase_points_estimate
from points.exceptions import InsufficientPoints
from points.selectors import points_usable_balance
from stored_value.exceptions import AccountFrozen, InsufficientBalance
from stored_value.selectors import stored_value_balance

SHIPPING = "shipping"
MAX_LINES = 200
MAX_FEN = 10**12


@dataclass(frozen=True)
class LineInput:
    sku: str
    name: str
    unit_price_fen: int
    quantity: int
    category: str = ""


@dataclass(frozen=True)
class BasketInput:
    """What a quote or a commit asks for. ``coupon_ids`` None = the best coupons; [] = none."""

    lines: tuple[LineInput, ...]
    shipping_fen: int = 0
    coupon_ids: tuple[int, ...] | None = None
    points: int = 0
    stored_value_fen: int = 0

    def canonical(self) -> dict:
        return {
            "lines": [asdict(line) for line in self.lines],
            "shipping_fen": self.shipping_fen,
            "coupon_ids": None if self.coupon_ids is None else sorted(self.coupon_ids),
            "points": self.points,
            "stored_value_fen": self.stored_value_fen,
        }


@dataclass
class QuoteLine:
    line_no: int
    sku: str
    category: str
    name: str
    unit_price_fen: int
    quantity: int
    amount_fen: int
    benefit_discount_fen: int = 0
    coupon_discount_fen: int = 0
    points: int = 0
    points_fen: int = 0
    stored_value_fen: int = 0
    cash_fen: int = 0


@dataclass
class Quote:
    member_id: int
    lines: list[QuoteLine]
    goods_fen: int
    shipping_fen: int
    benefit_discount_bp: int
    benefit_discount_fen: int
    benefit_sources: dict
    points_multiplier: str  # exact fraction ("3/2"): what the order earns purchase points at
    coupon_ids: list[int]
    coupon_discount_fen: int
    shipping_discount_fen: int
    points: int
    points_fen: int
    stored_value_fen: int
    shipping_stored_value_fen: int
    shipping_cash_fen: int
    cash_fen: int
    # Informational (not in the fingerprint).
    points_estimate: int = 0  # purchase points the order earns when completed, before caps
    points_balance: int = 0
    points_max: int = 0
    stored_value_balance_fen: int = 0
    coupon_evaluations: list[dict] = field(default_factory=list)
    fingerprint: str = ""

    def as_dict(self) -> dict:
        """``dataclasses.asdict`` without its deep copies (four times cheaper; nothing here is mutated)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["lines"] = [dict(line.__dict__) for line in self.lines]
        return data

    def settlement(self) -> dict:
        data = self.as_dict()
        for key in (
            "points_estimate",
            "points_balance",
            "points_max",
            "stored_value_balance_fen",
            "coupon_evaluations",
            "fingerprint",
        ):
            data.pop(key)
        return data


def checkout_settings() -> CheckoutSettings:
    """The settings row (cached: loyalty.config; do not mutate it)."""
    return cached(
        "checkout_settings",
        depends_on=(CheckoutSettings,),
        load=lambda: CheckoutSettings.objects.get_or_create(pk=1)[0],
    )


def validate_basket(basket: BasketInput) -> None:
    def fen(value, minimum):
        return isinstance(value, int) and not isinstance(value, bool) and minimum <= value <= MAX_FEN

    if not basket.lines or len(basket.lines) > MAX_LINES:
        raise exc.InvalidBasket(details={"lines": f"1 to {MAX_LINES} lines"})
    for i, line in enumerate(basket.lines, start=1):
        if not fen(line.unit_price_fen, 1) or not fen(line.quantity, 1) or line.quantity > 10**6:
            raise exc.InvalidBasket(details={"line_no": i})
        if line.unit_price_fen * line.quantity > MAX_FEN:
            raise exc.InvalidBasket(details={"line_no": i})
    if not fen(basket.shipping_fen, 0) or not fen(basket.points, 0) or not fen(basket.stored_value_fen, 0):
        raise exc.InvalidBasket()


def _coupon_error(error: pricing.PricingError) -> Exception:
    details = {"coupon_id": error.coupon_id} if error.coupon_id is not None else {}
    if error.reason:
        details["reason"] = str(error.reason)
    return {
        pricing.PricingError.COUPONS_NOT_COMBINABLE: exc.CouponsNotCombinable,
        pricing.PricingError.COUPON_REPEATED: exc.CouponRepeated,
    }.get(error.code, exc.CouponNotApplicable)(details=details)


def compute_quote(
    *,
    member_id: int,
    basket: BasketInput,
    clamp: bool = False,
    now=None,
    config: CheckoutSettings | None = None,
) -> Quote:
    """Price ``basket`` for the member; raises an ``ApplicationError`` with a stable code, writes nothing.

    With ``clamp`` (the fresh quote sent back with ``quote_stale``) what is
    no longer possible is reduced instead of refused: coupons no longer
    usable are dropped, points and stored value cut to what the member has
    and the rules allow.
    """
    validate_basket(basket)
    now = now or timezone.now()
    benefit = member_benefits_module.existing_member_benefits(member_id=member_id, at=now)
    if benefit is None:
        raise exc.MemberNotFound()
    config = config or checkout_settings()

    # 1. member benefit, per unit
    lines = []
    for i, line in enumerate(basket.lines, start=1):
        unit_off = rounding.member_unit_discount(line.unit_price_fen, benefit.discount_bp)
        lines.append(
            QuoteLine(
                line_no=i,
                sku=line.sku,
                category=line.category,
                name=line.name,
                unit_price_fen=line.unit_price_fen,
                quantity=line.quantity,
                amount_fen=line.unit_price_fen * line.quantity,
                benefit_discount_fen=unit_off * line.quantity,
            )
        )
    shipping_discount = basket.shipping_fen if benefit.free_shipping else 0

    # 2. coupons, on the member prices
    coupon_basket = pricing.Basket(
        lines=[
            pricing.Line(
                key=str(ql.line_no),
                sku=ql.sku,
                category=ql.category,
                unit_price_fen=ql.unit_price_fen - ql.benefit_discount_fen // ql.quantity,
                quantity=ql.quantity,
            )
            for ql in lines
        ],
        shipping_fen=basket.shipping_fen - shipping_discount,
    )
    # An explicit "no coupon" needs none of the member's coupons read.
    specs = {} if basket.coupon_ids == () else {s.id: s for s in usable_specs(member_id=member_id, now=now)}
    wants_points = basket.points > 0 and not (clamp and not config.points_deduction_enabled)
    try:
        if basket.coupon_ids is None:
            if wants_points and not config.combine_with_coupons:
                combination = pricing.check_combination(coupon_basket, [])
            else:
                combination = pricing.best_combination(coupon_basket, list(specs.values()))
        else:
            chosen = []
            for coupon_id in basket.coupon_ids:
                if coupon_id in specs:
                    chosen.append(specs[coupon_id])
                elif not clamp:
                    raise CouponNotAvailable(details={"coupon_id": coupon_id})
            combination = pricing.check_combination(coupon_basket, chosen)
    except pricing.PricingError as error:
        raise _coupon_error(error) from None
    for ql in lines:
        ql.coupon_discount_fen = combination.allocation[str(ql.line_no)]
    shipping_discount += combination.shipping_discount_fen
    coupon_ids = sorted(int(c) for c in combination.coupon_ids)

    # 3. points deduction, on the goods left
    net = {ql.line_no: ql.amount_fen - ql.benefit_discount_fen - ql.coupon_discount_fen for ql in lines}
    unit_points, unit_fen = rounding.points_unit(config.points_per_yuan)
    cap_fen = rounding.points_cap_fen(payable_fen=sum(net.values()), max_share_bp=config.max_share_bp)
    balance = points_usable_balance(member_id=member_id, now=now)
    points_max = cap_fen // unit_fen * unit_points if config.points_deduction_enabled else 0
    if config.combine_with_coupons is False and coupon_ids:
        points_max = 0
    points = basket.points
    if clamp:
        points = min(points, points_max, max(balance, 0)) // unit_points * unit_points
        if points < config.min_points:
            points = 0
    if points:
        if not config.points_deduction_enabled:
            raise exc.PointsDeductionDisabled()
        if coupon_ids and not config.combine_with_coupons:
            raise exc.PointsNotCombinable()
        if points % unit_points:
            raise exc.InvalidPoints(details={"unit": unit_points})
        if points < config.min_points:
            raise exc.PointsBelowMinimum(details={"min_points": config.min_points})
        if points > points_max:
            raise exc.PointsAboveCap(details={"max_points": points_max})
        if points > balance:
            raise InsufficientPoints(details={"balance": max(balance, 0), "requested": points})
    points_fen = points // unit_points * unit_fen
    fen_parts = pricing.allocate(points_fen, net)
    # The points themselves in the same proportion (weights scaled so they total at least ``points``).
    point_parts = pricing.allocate(points, {k: v * unit_points for k, v in fen_parts.items()})
    for ql in lines:
        ql.points_fen, ql.points = fen_parts[ql.line_no], point_parts[ql.line_no]

    # 4. stored value, on the goods and shipping left
    due = {ql.line_no: net[ql.line_no] - ql.points_fen for ql in lines}
    due[SHIPPING] = basket.shipping_fen - shipping_discount
    sv_state = stored_value_balance(member_id=member_id)
    sv = basket.stored_value_fen
    if clamp:
        sv = 0 if sv_state["frozen"] else min(sv, sv_state["balance_fen"], sum(due.values()))
    if sv:
        if sv > sum(due.values()):
            raise exc.StoredValueExceedsDue(details={"due_fen": sum(due.values())})
        if sv_state["frozen"]:
            raise AccountFrozen()
        if sv > sv_state["balance_fen"]:
            raise InsufficientBalance(details={"balance_fen": sv_state["balance_fen"], "requested_fen": sv})
    sv_parts = pricing.allocate(sv, due)
    for ql in lines:
        ql.stored_value_fen = sv_parts[ql.line_no]
        ql.cash_fen = due[ql.line_no] - ql.stored_value_fen

    quote = Quote(
        member_id=member_id,
        lines=lines,
        goods_fen=sum(ql.amount_fen for ql in lines),
        shipping_fen=basket.shipping_fen,
        benefit_discount_bp=benefit.discount_bp,
        benefit_discount_fen=sum(ql.benefit_discount_fen for ql in lines),
        benefit_sources=dict(benefit.sources),
        points_multiplier=str(benefit.points_multiplier),
        coupon_ids=coupon_ids,
        coupon_discount_fen=combination.line_discount_fen,
        shipping_discount_fen=shipping_discount,
        points=points,
        points_fen=points_fen,
        stored_value_fen=sv,
        shipping_stored_value_fen=sv_parts[SHIPPING],
        shipping_cash_fen=due[SHIPPING] - sv_parts[SHIPPING],
        cash_fen=sum(ql.cash_fen for ql in lines) + due[SHIPPING] - sv_parts[SHIPPING],
        points_estimate=purchase_points_estimate(
            paid_fen=sum(ql.stored_value_fen + ql.cash_fen for ql in lines),
            multiplier=benefit.points_multiplier,
        ),
        points_balance=max(balance, 0),
        points_max=min(points_max, max(balance, 0) // unit_points * unit_points),
        stored_value_balance_fen=sv_state["balance_fen"],
        coupon_evaluations=[
            {
                "coupon_id": e.coupon_id,
                "applicable": e.applicable,
                "reason": str(e.reason) if e.reason else None,
                "discount_fen": e.discount_fen,
                "shortfall_fen": e.shortfall_fen,
            }
            for e in combination.evaluations
        ],
    )
    quote.fingerprint = fingerprint(quote)
    return quote


def fingerprint(quote: Quote) -> str:
    payload = json.dumps(quote.settlement(), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()
