"""What a member gets right now from tier, cards and member day.

One module answers it for every caller: points earning asks for the
multiplier, checkout asks for the discount and free shipping.  The
membership feature fills ``member_benefits`` in; the contract below is what
callers rely on and does not change when it does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction


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


def member_benefits(*, member_id: int, at: datetime) -> Benefits:
    """Tier + cards + active member day for ``member_id`` at ``at`` (merchant time zone rules apply)."""
    return NONE


def points_multiplier(*, member_id: int, at: datetime) -> Fraction:
    """The multiplier for purchase points: the one ``member_benefits`` reports."""
    return member_benefits(member_id=member_id, at=at).points_multiplier
