"""What a member gets right now from tier, cards and member day.

One module answers it for every caller: points earning asks for the
multiplier, checkout asks for the discount and free shipping.

The combining rule is ONE function, ``combine``:

- **discount**: the best (largest) of the tier's and every valid card's
  discount — best of, never the sum.  An active member day's extra discount
  then applies on top of that price (the prices multiply,
  ``loyalty.rounding.stacked_discount_bp``): it is a day-long extra, as the
  merchant advertises it.
- **free shipping**: if the tier or any valid card gives it.
- **points multiplier**: the best of the tier's and the cards' multipliers,
  times the best active member day's multiplier (docs/rules/membership.md,
  "Benefits now": a ×2 member day doubles what the member earns that day,
  so a gold member at ×1.5 earns ×3 on a ×2 member day).  Exact fractions.

A member day counts only for members in its audience.  ``sources`` says
where each benefit came from: ``tier:<level>``, ``card:<card type id>``,
``member_day:<id>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction

from loyalty import rounding
from loyalty.config import cached
from members.exceptions import MemberClosed
from membership import sql
from membership.member_days import active_member_days, member_in_audience
from membership.models import CardStatus, CardType, Tier
from membership.tiers import tiers


@dataclass(frozen=True)
class Benefits:
    """Benefits in force at one instant, already combined (best of, not sum of).

    ``discount_bp`` is the share of the price taken off, in basis points
    (500 = 5 % off, "9.5折"); 0 means no discount.  ``points_multiplier``
    is an exact fraction applied to purchase points (1 = none).
    ``sources`` names where each benefit came from, for display and audit.
    """

    discount_bp: int = 0
    free_shipping: bool = False
    points_multiplier: Fraction = Fraction(1)
    sources: dict[str, str] = field(default_factory=dict)


NONE = Benefits()


@dataclass(frozen=True)
class Offer:
    """One source's benefits before combining."""

    source: str
    discount_bp: int = 0
    free_shipping: bool = False
    points_multiplier: Fraction = Fraction(1)


def combine(*, base: list[Offer], member_days: list[Offer]) -> Benefits:
    """The one combining rule (module docstring): best of tier and cards; member day on top."""
    sources: dict[str, str] = {}
    best_discount = max(base, key=lambda o: o.discount_bp, default=None)
    discount = best_discount.discount_bp if best_discount else 0
    if discount:
        sources["discount"] = best_discount.source
    day_discount = max(member_days, key=lambda o: o.discount_bp, default=None)
    if day_discount and day_discount.discount_bp:
        discount = rounding.stacked_discount_bp(best_bp=discount, extra_bp=day_discount.discount_bp)
        sources["discount"] = " + ".join(filter(None, [sources.get("discount"), day_discount.source]))
    shipping = next((o for o in base if o.free_shipping), None)
    if shipping:
        sources["free_shipping"] = shipping.source
    best_multiplier = max(base, key=lambda o: o.points_multiplier, default=None)
    day_multiplier = max(member_days, key=lambda o: o.points_multiplier, default=None)
    multiplier = Fraction(1)
    used = []
    for offer in (best_multiplier, day_multiplier):
        if offer and offer.points_multiplier != 1:
            multiplier *= offer.points_multiplier
            used.append(offer.source)
    if used:
        sources["points_multiplier"] = " × ".join(used)
    return Benefits(
        discount_bp=discount, free_shipping=bool(shipping), points_multiplier=multiplier, sources=sources
    )


def member_benefits(*, member_id: int, at: datetime) -> Benefits:
    """Tier + cards + active member day for ``member_id`` at ``at`` (merchant time zone rules apply).

    A revoked or expired card gives nothing; a member without a membership
    row is at the entry tier.  Reads only (a few small queries).
    """
    return _benefits(member_id=member_id, at=at)[1]


def existing_member_benefits(*, member_id: int, at: datetime) -> Benefits | None:
    """``member_benefits``, or None when there is no such member (checked in the same statement).

    A closed account (注销) buys nothing as a member: ``MemberClosed`` (409), so checkout's quote and
    commit refuse it before anything is priced, spent or earned.
    """
    receiving, benefits = _benefits(member_id=member_id, at=at)
    if receiving is None:
        return None
    if not receiving:
        raise MemberClosed()
    return benefits


def member_benefits_and_tier(*, member_id: int, at: datetime) -> tuple[Benefits, Tier | None, int]:
    """``member_benefits`` with the member's tier and its level (0 without a membership), from the same
    one statement: the counter shows both (``counter.selectors``)."""
    _receiving, benefits, level = _benefits(member_id=member_id, at=at, with_level=True)
    return benefits, next((t for t in tiers() if t.level == level), None), level


def _benefits(*, member_id: int, at: datetime, with_level: bool = False):
    receiving, level, card_type_ids = _level_and_cards(member_id=member_id, at=at)
    base = []
    tier = next((t for t in tiers() if t.level == level), None)
    if tier is not None:
        base.append(
            Offer(
                source=f"tier:{tier.level}",
                discount_bp=tier.discount_bp,
                free_shipping=tier.free_shipping,
                points_multiplier=Fraction(tier.points_multiplier),
            )
        )
    types = card_types()
    for t in (types[pk] for pk in card_type_ids):
        base.append(
            Offer(
                source=f"card:{t.pk}",
                discount_bp=t.discount_bp,
                free_shipping=t.free_shipping,
                points_multiplier=Fraction(t.points_multiplier),
            )
        )
    days = [
        Offer(
            source=f"member_day:{md.pk}",
            discount_bp=md.extra_discount_bp,
            points_multiplier=Fraction(md.points_multiplier),
        )
        for md in active_member_days(at=at)
        if member_in_audience(md, member_id=member_id, at=at)
    ]
    if with_level:
        return receiving, combine(base=base, member_days=days), level
    return receiving, combine(base=base, member_days=days)


def _level_and_cards(*, member_id: int, at: datetime) -> tuple[bool | None, int, list[int]]:
    """Whether the member may receive (``members.receiving``; None: no such member), their tier level (0
    without a membership) and the types of their valid cards: one statement (checkout asks for them on
    every request; the ORM's three queries cost more CPU than the database does)."""
    return sql.level_and_cards(member_id, CardStatus.ACTIVE.value, at)


def card_types() -> dict:
    """Every card type by id (cached: loyalty.config; do not mutate them)."""
    return cached("card_types", depends_on=(CardType,), load=lambda: CardType.objects.in_bulk())


def points_multiplier(*, member_id: int, at: datetime) -> Fraction:
    """The multiplier for purchase points: the one ``member_benefits`` reports."""
    return member_benefits(member_id=member_id, at=at).points_multiplier
