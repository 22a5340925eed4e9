"""What a member gets right now from tier, cards and member day.

The membership issue fills these in; callers (points earning, checkout)
already go through them so nothing else changes when it lands.
"""

from datetime import datetime
from fractions import Fraction


def points_multiplier(*, member_id: int, at: datetime) -> Fraction:
    """The multiplier for purchase points (tier × best card × member day). 1 until membership lands."""
    return Fraction(1)
