"""The coupon pricing engine: what each coupon takes off a basket, and which ones to use.

Pure functions over frozen dataclasses: no database, no Django.  The checkout
builds a ``Basket`` and one ``CouponSpec`` per coupon of the member and calls
``best_combination`` (quote with the best coupons) or ``check_combination``
(quote with the coupons the member picked).  ``allocate`` is the exact
proportional split, public so the checkout can reuse it for points deduction
and stored-value payment.

Money is integer fen everywhere.  Rounding happens in exactly two places,
each done once on an exact fraction:

- percent off (折扣): the discount is eligible × percent / 100 rounded to the
  nearest fen, a half fen going to the member (``loyalty.rounding.percent_discount``);
- spreading a discount over lines (``allocate``): largest remainder, so the
  parts add up exactly to the discount.

Order of application, and what each coupon is measured on:

1. Thresholds (满X) and scope are measured on the basket *as given*: the
   in-scope lines' ``amount_fen`` before any coupon, never the shipping fee.
   So a free-shipping coupon's threshold is not lowered by the discount coupon
   it is combined with.
2. The discount coupon (amount off, percent off, no threshold, exchange) goes
   on the lines first.  At most one does, so no line is discounted twice.
3. Free shipping then takes the whole shipping fee off; it never touches lines.

Discounts never take anything below zero: a coupon's discount is capped at
the amount it applies to (满100减120 on 100.00 of in-scope goods takes 100.00
off), its allocation gives no line more than the line's amount, and free
shipping takes off at most the shipping fee.

Stacking (``best_combination`` chooses within it, ``check_combination``
enforces it): at most one discount coupon per order, plus at most one free
shipping coupon, which stacks with it; a coupon with ``stacking="exclusive"``
is used alone, not even with free shipping.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from loyalty import rounding  # plain Python, no Django

K = TypeVar("K")


class Kind(StrEnum):
    AMOUNT_OFF = "amount_off"  # 满减
    PERCENT_OFF = "percent_off"  # 折扣
    NO_THRESHOLD = "no_threshold"  # 无门槛
    FREE_SHIPPING = "free_shipping"  # 包邮
    EXCHANGE = "exchange"  # 兑换券


#: Coupons that take money off the lines; at most one of them per order.
DISCOUNT_KINDS = frozenset({Kind.AMOUNT_OFF, Kind.PERCENT_OFF, Kind.NO_THRESHOLD, Kind.EXCHANGE})


class Scope(StrEnum):
    ALL = "all"
    CATEGORIES = "categories"
    SKUS = "skus"


class Stacking(StrEnum):
    NORMAL = "normal"
    EXCLUSIVE = "exclusive"


class Reason(StrEnum):
    """Why a coupon does not apply to a basket (``Evaluation.reason``).

    Checked in this order, the first that holds is reported: the kind's own
    precondition (no shipping fee, gift not in the basket), then scope, then
    threshold, then a discount that would be zero.
    """

    NO_SHIPPING_FEE = "no_shipping_fee"  # free shipping, but the basket ships free already
    GIFT_NOT_IN_BASKET = "gift_not_in_basket"  # exchange coupon whose SKU is not in the basket
    OUT_OF_SCOPE = "out_of_scope"  # no line is in the coupon's scope
    THRESHOLD_NOT_MET = "threshold_not_met"  # in-scope amount below threshold_fen
    ZERO_DISCOUNT = "zero_discount"  # it would take off 0 fen; using it would only burn it


class PricingError(ValueError):
    """A combination the member chose cannot be used; ``code`` is stable and machine-readable.

    Codes: ``coupons_not_combinable`` (breaks the stacking rules),
    ``coupon_not_applicable`` (``coupon_id`` and ``reason`` say which and why),
    ``coupon_repeated`` (the same coupon twice).
    """

    COUPONS_NOT_COMBINABLE = "coupons_not_combinable"
    COUPON_NOT_APPLICABLE = "coupon_not_applicable"
    COUPON_REPEATED = "coupon_repeated"

    def __init__(self, code: str, message: str = "", *, coupon_id: int | str | None = None, reason=None):
        super().__init__(message or code)
        self.code = code
        self.coupon_id = coupon_id
        self.reason = reason


def _require_fen(name: str, value: Any, *, minimum: int = 0) -> None:
    # bool is an int subclass and a float is never money: refuse both loudly.
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int (fen), got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")


@dataclass(frozen=True)
class Line:
    """One basket line. ``key`` names it in allocations (e.g. the order line number)."""

    key: str
    sku: str
    category: str
    unit_price_fen: int
    quantity: int

    def __post_init__(self):
        _require_fen("unit_price_fen", self.unit_price_fen)
        _require_fen("quantity", self.quantity, minimum=1)

    @property
    def amount_fen(self) -> int:
        return self.unit_price_fen * self.quantity


@dataclass(frozen=True)
class Basket:
    lines: tuple[Line, ...]
    shipping_fen: int = 0

    def __post_init__(self):
        object.__setattr__(self, "lines", tuple(self.lines))
        _require_fen("shipping_fen", self.shipping_fen)
        keys = [line.key for line in self.lines]
        if len(set(keys)) != len(keys):
            raise ValueError("basket line keys must be unique")

    @property
    def lines_fen(self) -> int:
        return sum(line.amount_fen for line in self.lines)

    @property
    def total_fen(self) -> int:
        return self.lines_fen + self.shipping_fen


@dataclass(frozen=True)
class CouponSpec:
    """One member's coupon, as the pricing engine needs it (copied from its template).

    - ``amount_off``: ``amount_off_fen`` off when the in-scope amount reaches
      ``threshold_fen`` (满减).
    - ``percent_off``: ``percent_off`` is the percentage taken *off*, as on the
      template: 20 means 8折.  Optional ``threshold_fen`` and ``max_discount_fen``.
    - ``no_threshold``: ``amount_off_fen`` off; ``threshold_fen`` is ignored.
    - ``free_shipping``: the shipping fee off; optional ``threshold_fen``.
    - ``exchange``: one unit of ``gift_sku`` free when it is in the basket;
      optional ``threshold_fen``.  Scope only decides what counts towards the
      threshold: the gift itself is named by its SKU.

    ``scope`` is ``all``, ``categories`` or ``skus``; ``scope_values`` lists the
    categories or SKUs, which are the only ones in scope, or with
    ``scope_exclude`` the only ones out of it.  ``expires_at`` (any sortable
    value, ``None`` = never) only breaks ties in ``best_combination``.
    """

    id: int | str
    kind: Kind | str
    threshold_fen: int = 0
    amount_off_fen: int = 0
    percent_off: int = 0
    max_discount_fen: int | None = None
    gift_sku: str = ""
    scope: Scope | str = Scope.ALL
    scope_values: frozenset[str] = frozenset()
    scope_exclude: bool = False
    stacking: Stacking | str = Stacking.NORMAL
    expires_at: Any = None

    def __post_init__(self):
        object.__setattr__(self, "kind", Kind(self.kind))
        object.__setattr__(self, "scope", Scope(self.scope))
        object.__setattr__(self, "stacking", Stacking(self.stacking))
        if isinstance(self.scope_values, str):
            raise TypeError("scope_values must be a collection of strings, not one string")
        object.__setattr__(self, "scope_values", frozenset(self.scope_values))
        _require_fen("threshold_fen", self.threshold_fen)
        _require_fen("amount_off_fen", self.amount_off_fen)
        _require_fen("percent_off", self.percent_off)
        if self.percent_off > 100:
            raise ValueError(f"percent_off must be <= 100, got {self.percent_off}")
        if self.max_discount_fen is not None:
            _require_fen("max_discount_fen", self.max_discount_fen)
        if self.kind == Kind.EXCHANGE and not self.gift_sku:
            raise ValueError("an exchange coupon needs a gift_sku")

    @property
    def is_discount(self) -> bool:
        return self.kind in DISCOUNT_KINDS

    @property
    def is_exclusive(self) -> bool:
        return self.stacking == Stacking.EXCLUSIVE

    def in_scope(self, line: Line) -> bool:
        if self.scope == Scope.ALL:
            return True
        value = line.category if self.scope == Scope.CATEGORIES else line.sku
        return (value in self.scope_values) != self.scope_exclude


@dataclass(frozen=True)
class Evaluation:
    """What one coupon does to one basket.

    ``discount_fen`` = sum(``allocation``) + ``shipping_fen``.  ``allocation``
    maps line keys to their share of the discount (every in-scope line for
    amount/percent/no-threshold, the gift's line for exchange, none for free
    shipping).  ``eligible_fen`` is the in-scope amount the threshold is
    measured on; ``shortfall_fen`` is what is missing to reach the threshold
    (for "再买¥X可用"), 0 otherwise.
    """

    coupon_id: int | str
    kind: Kind
    applicable: bool
    reason: Reason | None = None
    discount_fen: int = 0
    allocation: dict[str, int] = field(default_factory=dict)
    shipping_fen: int = 0
    eligible_fen: int = 0
    shortfall_fen: int = 0

    @property
    def line_discount_fen(self) -> int:
        return self.discount_fen - self.shipping_fen


@dataclass(frozen=True)
class Combination:
    """The coupons used on a basket, in order of application, and what they take off together.

    ``allocation`` has every basket line (0 where nothing is taken off) and adds
    up to ``line_discount_fen``; ``discount_fen`` = ``line_discount_fen`` +
    ``shipping_discount_fen``.  ``evaluations`` has one entry per coupon
    offered, in the order given, applicable or not.
    """

    coupons: tuple[CouponSpec, ...]
    discount_fen: int
    line_discount_fen: int
    shipping_discount_fen: int
    allocation: dict[str, int]
    payable_fen: int
    evaluations: tuple[Evaluation, ...]

    @property
    def coupon_ids(self) -> tuple[int | str, ...]:
        return tuple(coupon.id for coupon in self.coupons)


def allocate(amount_fen: int, weights: Mapping[K, int]) -> dict[K, int]:
    """Split ``amount_fen`` over ``weights`` in proportion, exactly (largest remainder).

    Each key first gets floor(amount × weight / total); the fen left over (fewer
    than the number of keys) go one each to the keys with the largest
    remainder, ties going to the key that comes first in ``weights``.  So:

    - the parts add up to ``amount_fen`` exactly;
    - each part is its exact share rounded down or up, never further off;
    - no part exceeds its weight and none is negative (a part reaches its
      weight only when amount = total, where every remainder is 0);
    - the result depends only on the arguments and the order of ``weights``.

    Raises ``ValueError`` when the amount is negative or larger than the sum of
    the weights (it could not be split without some part exceeding its weight),
    or when a weight is negative.  The result has every key, in the same order.
    """
    _require_fen("amount_fen", amount_fen)
    for key, weight in weights.items():
        _require_fen(f"weight of {key!r}", weight)
    total = sum(weights.values())
    if amount_fen > total:
        raise ValueError(f"cannot allocate {amount_fen} over weights totalling {total}")
    if amount_fen == 0:
        return dict.fromkeys(weights, 0)
    parts: dict[K, int] = {}
    remainders: list[tuple[int, int, K]] = []
    for position, (key, weight) in enumerate(weights.items()):
        part, remainder = divmod(amount_fen * weight, total)
        parts[key] = part
        remainders.append((-remainder, position, key))
    left_over = amount_fen - sum(parts.values())
    for _, _, key in sorted(remainders)[:left_over]:
        parts[key] += 1
    return parts


def _not_applicable(coupon: CouponSpec, reason: Reason, eligible_fen: int = 0, shortfall_fen: int = 0):
    return Evaluation(
        coupon_id=coupon.id,
        kind=coupon.kind,
        applicable=False,
        reason=reason,
        eligible_fen=eligible_fen,
        shortfall_fen=shortfall_fen,
    )


def _gift_line(basket: Basket, sku: str) -> Line | None:
    # Should one SKU appear on several lines (say, at two prices), the dearest
    # unit is the one made free, then the first line: the member's favour, and
    # deterministic.
    best = None
    for line in basket.lines:
        if line.sku == sku and (best is None or line.unit_price_fen > best.unit_price_fen):
            best = line
    return best


def evaluate(basket: Basket, coupon: CouponSpec) -> Evaluation:
    """What ``coupon`` takes off ``basket`` on its own, or why it does not apply.

    Never raises for a coupon that does not fit: it returns ``applicable=False``
    with a ``Reason`` (see ``Reason`` for the order they are checked in).  An
    applicable coupon always takes off at least 1 fen.

    Discount by kind, on the in-scope amount E (the in-scope lines as given):
    amount off / no threshold: min(amount_off_fen, E); percent off:
    min(round(E × percent / 100), max_discount_fen), see ``_percent_discount``;
    exchange: the gift line's unit price; free shipping: the shipping fee.
    Line discounts are spread over the in-scope lines with ``allocate``,
    weighted by line amount.
    """
    gift = None
    if coupon.kind == Kind.FREE_SHIPPING and basket.shipping_fen == 0:
        return _not_applicable(coupon, Reason.NO_SHIPPING_FEE)
    if coupon.kind == Kind.EXCHANGE:
        gift = _gift_line(basket, coupon.gift_sku)
        if gift is None:
            return _not_applicable(coupon, Reason.GIFT_NOT_IN_BASKET)

    eligible = [line for line in basket.lines if coupon.in_scope(line)]
    if not eligible:
        return _not_applicable(coupon, Reason.OUT_OF_SCOPE)
    eligible_fen = sum(line.amount_fen for line in eligible)
    threshold_fen = 0 if coupon.kind == Kind.NO_THRESHOLD else coupon.threshold_fen
    if eligible_fen < threshold_fen:
        return _not_applicable(coupon, Reason.THRESHOLD_NOT_MET, eligible_fen, threshold_fen - eligible_fen)

    shipping_fen = 0
    if coupon.kind == Kind.FREE_SHIPPING:
        shipping_fen = basket.shipping_fen
        allocation: dict[str, int] = {}
    elif coupon.kind == Kind.EXCHANGE:
        allocation = {gift.key: gift.unit_price_fen}
    else:
        if coupon.kind == Kind.PERCENT_OFF:
            discount = rounding.percent_discount(eligible_fen, coupon.percent_off)
            if coupon.max_discount_fen is not None:
                discount = min(discount, coupon.max_discount_fen)
        else:
            discount = min(coupon.amount_off_fen, eligible_fen)
        allocation = allocate(discount, {line.key: line.amount_fen for line in eligible})

    discount_fen = sum(allocation.values()) + shipping_fen
    if discount_fen == 0:
        return _not_applicable(coupon, Reason.ZERO_DISCOUNT, eligible_fen)
    return Evaluation(
        coupon_id=coupon.id,
        kind=coupon.kind,
        applicable=True,
        discount_fen=discount_fen,
        allocation=allocation,
        shipping_fen=shipping_fen,
        eligible_fen=eligible_fen,
    )


def _check_unique(coupons: Sequence[CouponSpec]) -> None:
    seen = set()
    for coupon in coupons:
        if coupon.id in seen:
            raise PricingError(
                PricingError.COUPON_REPEATED, f"coupon {coupon.id!r} given twice", coupon_id=coupon.id
            )
        seen.add(coupon.id)


def _combine(
    basket: Basket,
    chosen: Iterable[tuple[CouponSpec, Evaluation]],
    evaluations: tuple[Evaluation, ...],
) -> Combination:
    # Discount coupon first, then free shipping: the documented order of application.
    chosen = sorted(chosen, key=lambda pair: pair[0].kind == Kind.FREE_SHIPPING)
    allocation = {line.key: 0 for line in basket.lines}
    shipping = 0
    for _, evaluation in chosen:
        for key, part in evaluation.allocation.items():
            allocation[key] += part
        shipping += evaluation.shipping_fen
    amounts = {line.key: line.amount_fen for line in basket.lines}
    # Guaranteed by the stacking rules (one coupon on the lines); kept as a last line of defence.
    if any(allocation[key] > amounts[key] for key in allocation) or shipping > basket.shipping_fen:
        raise AssertionError("a combination took a line or the shipping fee below zero")
    line_discount = sum(allocation.values())
    return Combination(
        coupons=tuple(coupon for coupon, _ in chosen),
        discount_fen=line_discount + shipping,
        line_discount_fen=line_discount,
        shipping_discount_fen=shipping,
        allocation=allocation,
        payable_fen=basket.total_fen - line_discount - shipping,
        evaluations=evaluations,
    )


def _preference(coupon: CouponSpec) -> tuple:
    """Among equal discounts: the coupon that expires first, then the lower id (ints before strs)."""
    expires = (1,) if coupon.expires_at is None else (0, coupon.expires_at)
    ident = (0, coupon.id, "") if isinstance(coupon.id, int) else (1, 0, str(coupon.id))
    return expires, ident


def best_combination(basket: Basket, coupons: Sequence[CouponSpec]) -> Combination:
    """The allowed combination of ``coupons`` that takes the most off ``basket``.

    Candidates: the best non-exclusive discount coupon together with the best
    non-exclusive free-shipping coupon (either may be missing), and each
    applicable exclusive coupon alone.  The largest total discount wins; ties
    go to the candidate with fewer coupons (keep the others for later), then
    to the one whose coupons expire first, then the lower ids.  With nothing
    applicable the result uses no coupon.  Every coupon's evaluation is
    returned, so a UI can say why each other one was not used.

    Raises ``PricingError("coupon_repeated")`` if a coupon id appears twice.
    """
    _check_unique(coupons)
    evaluations = tuple(evaluate(basket, coupon) for coupon in coupons)
    usable = [(c, e) for c, e in zip(coupons, evaluations, strict=True) if e.applicable]

    def best(pairs):
        return min(pairs, key=lambda pair: (-pair[1].discount_fen, _preference(pair[0])), default=None)

    stackable = [
        best([(c, e) for c, e in usable if not c.is_exclusive and c.is_discount]),
        best([(c, e) for c, e in usable if not c.is_exclusive and c.kind == Kind.FREE_SHIPPING]),
    ]
    candidates = [[pair for pair in stackable if pair is not None]]
    candidates += [[(c, e)] for c, e in usable if c.is_exclusive]

    def rank(candidate):
        total = sum(e.discount_fen for _, e in candidate)
        return -total, len(candidate), sorted(_preference(c) for c, _ in candidate)

    return _combine(basket, min(candidates, key=rank), evaluations)


def check_combination(basket: Basket, coupons: Sequence[CouponSpec]) -> Combination:
    """Price ``basket`` with exactly the ``coupons`` the member chose, or refuse.

    Raises ``PricingError`` with code ``coupon_repeated`` (the same id twice),
    ``coupons_not_combinable`` (an exclusive coupon with another one, two
    discount coupons, or two free-shipping coupons), or
    ``coupon_not_applicable`` (``coupon_id`` and ``reason`` set) — checked in
    that order.  No coupons at all is a valid choice: nothing off.
    """
    _check_unique(coupons)
    if len(coupons) > 1:
        exclusive = next((c for c in coupons if c.is_exclusive), None)
        if exclusive is not None:
            raise PricingError(
                PricingError.COUPONS_NOT_COMBINABLE,
                f"coupon {exclusive.id!r} cannot be combined with another coupon",
                coupon_id=exclusive.id,
            )
        if sum(c.is_discount for c in coupons) > 1:
            raise PricingError(PricingError.COUPONS_NOT_COMBINABLE, "only one discount coupon per order")
        if sum(c.kind == Kind.FREE_SHIPPING for c in coupons) > 1:
            raise PricingError(PricingError.COUPONS_NOT_COMBINABLE, "only one free-shipping coupon per order")
    evaluations = tuple(evaluate(basket, coupon) for coupon in coupons)
    for coupon, evaluation in zip(coupons, evaluations, strict=True):
        if not evaluation.applicable:
            raise PricingError(
                PricingError.COUPON_NOT_APPLICABLE,
                f"coupon {coupon.id!r} does not apply: {evaluation.reason}",
                coupon_id=coupon.id,
                reason=evaluation.reason,
            )
    return _combine(basket, zip(coupons, evaluations, strict=True), evaluations)
