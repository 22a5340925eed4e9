"""The cuts of a bargain, drawn once at its start: pure arithmetic, no database.

``cut_sequence(total_fen, helpers, seed)`` gives ``helpers`` cuts of at least one fen each that sum
to ``total_fen`` exactly (original price less the floor), so the floor is reached with the last
helper's cut, never passed, never missed.  The first cuts are larger (a friend's cut feels
generous; the last few fen are hard to get, as members expect of 砍价), and random: each weight is
drawn from a seeded RNG and decays with its position.  The same seed always gives the same cuts, so
a bargain's sequence can be checked from its stored seed.  Fen are shared out by largest remainder:
the floors of the exact shares first, then one more fen to the shares with the largest fractions
(ties to the earlier cut) — a whole-fen allocation that cannot drift from the total.
"""

from __future__ import annotations

import random
from fractions import Fraction

DECAY = Fraction(4, 5)  # each weight's scale is 4/5 of the one before it


def cut_sequence(*, total_fen: int, helpers: int, seed: int) -> list[int]:
    if helpers < 1 or total_fen < helpers:
        raise ValueError(f"cannot cut {total_fen} fen into {helpers} cuts of at least 1 fen")
    rng = random.Random(seed)
    # Weights as exact fractions (integers out of a million), so the allocation is exact arithmetic.
    weights = [Fraction(rng.randint(200_000, 1_000_000)) * DECAY**i for i in range(helpers)]
    spare = total_fen - helpers  # each cut has one fen before the spare is shared out
    whole = sum(weights)
    shares = [spare * w / whole for w in weights]
    cuts = [1 + int(share) for share in shares]  # shares are non-negative: int() is the floor
    left = total_fen - sum(cuts)
    by_fraction = sorted(range(helpers), key=lambda i: (-(shares[i] - int(shares[i])), i))
    for i in by_fraction[:left]:
        cuts[i] += 1
    return cuts
