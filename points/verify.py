"""The points invariants (docs/rules/points.md), as SQL that lists every violation."""

CHECKS = [
    (
        "points: cached balance differs from the sum of entries",
        """SELECT a.id, a.balance, COALESCE(SUM(e.amount), 0)
           FROM points_pointsaccount a LEFT JOIN points_pointsentry e ON e.account_id = a.id
           GROUP BY a.id HAVING a.balance <> COALESCE(SUM(e.amount), 0)""",
    ),
    (
        "points: latest entry's balance_after differs from the balance",
        """SELECT a.id, a.balance, e.balance_after FROM points_pointsaccount a
           JOIN LATERAL (SELECT balance_after FROM points_pointsentry WHERE account_id = a.id
                         ORDER BY id DESC LIMIT 1) e ON true
           WHERE e.balance_after <> a.balance""",
    ),
    (
        "points: lot remaining differs from amount minus allocations",
        """SELECT l.id, l.remaining, l.amount - COALESCE(SUM(al.amount), 0)
           FROM points_pointslot l LEFT JOIN points_pointsallocation al ON al.lot_id = l.id
           GROUP BY l.id HAVING l.remaining <> l.amount - COALESCE(SUM(al.amount), 0)""",
    ),
    (
        "points: open lots do not add up to the positive part of the balance",
        """SELECT a.id, a.balance, COALESCE(SUM(l.remaining), 0)
           FROM points_pointsaccount a LEFT JOIN points_pointslot l ON l.account_id = a.id
           GROUP BY a.id HAVING COALESCE(SUM(l.remaining), 0) <> GREATEST(a.balance, 0)""",
    ),
    (
        "points: allocation links an entry to another account's lot",
        """SELECT al.id, e.account_id, l.account_id FROM points_pointsallocation al
           JOIN points_pointsentry e ON e.id = al.entry_id JOIN points_pointslot l ON l.id = al.lot_id
           WHERE e.account_id <> l.account_id""",
    ),
    (
        "points: a spend or expiry is not fully allocated to lots",
        """SELECT e.id, e.amount, COALESCE(SUM(al.amount), 0) FROM points_pointsentry e
           LEFT JOIN points_pointsallocation al ON al.entry_id = e.id
           WHERE e.kind IN ('spend', 'expire') GROUP BY e.id HAVING COALESCE(SUM(al.amount), 0) <> -e.amount""",
    ),
    (
        "points: a reversal exceeds its original entry",
        """SELECT o.id, ABS(o.amount), SUM(ABS(r.amount)) FROM points_pointsentry o
           JOIN points_pointsentry r ON r.reverses_id = o.id
           GROUP BY o.id HAVING SUM(ABS(r.amount)) > ABS(o.amount)""",
    ),
]
