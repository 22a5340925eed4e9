"""The points invariants (docs/rules/points.md), as SQL that lists every violation.

``SCOPE``: an incremental run of ``verify_ledgers`` checks only the accounts with an entry after its
last clean run, passed as ``%(accounts)s`` (NULL: every account).  Entries, lots and allocations moved
to the archive (``points.ledger.points_archive``) still count: a balance is the sum over both tables.
"""

#: (ledger, its entries table, the entries' account column) for incremental runs.
SCOPE = ("points", "points_pointsentry", "account_id")


def _in_scope(column: str) -> str:
    return f"(%(accounts)s::bigint[] IS NULL OR {column} = ANY(%(accounts)s::bigint[]))"


CHECKS = [
    (
        "points: cached balance differs from the sum of entries",
        f"""SELECT a.id, a.balance, COALESCE(SUM(e.amount), 0)
           FROM points_pointsaccount a LEFT JOIN (
               SELECT account_id, amount FROM points_pointsentry
               UNION ALL SELECT account_id, amount FROM points_pointsentryarchive) e ON e.account_id = a.id
           WHERE {_in_scope("a.id")}
           GROUP BY a.id HAVING a.balance <> COALESCE(SUM(e.amount), 0)""",
    ),
    (
        "points: latest entry's balance_after differs from the balance",
        f"""SELECT a.id, a.balance, e.balance_after FROM points_pointsaccount a
           JOIN LATERAL (SELECT balance_after FROM points_pointsentry WHERE account_id = a.id
                         ORDER BY id DESC LIMIT 1) e ON true
           WHERE e.balance_after <> a.balance AND {_in_scope("a.id")}""",
    ),
    (
        "points: lot remaining differs from amount minus allocations",
        f"""SELECT l.id, l.remaining, l.amount - COALESCE(SUM(al.amount), 0)
           FROM points_pointslot l LEFT JOIN points_pointsallocation al ON al.lot_id = l.id
           WHERE {_in_scope("l.account_id")}
           GROUP BY l.id HAVING l.remaining <> l.amount - COALESCE(SUM(al.amount), 0)""",
    ),
    (
        "points: open lots do not add up to the positive part of the balance",
        f"""SELECT a.id, a.balance, COALESCE(SUM(l.remaining), 0)
           FROM points_pointsaccount a LEFT JOIN points_pointslot l ON l.account_id = a.id
           WHERE {_in_scope("a.id")}
           GROUP BY a.id HAVING COALESCE(SUM(l.remaining), 0) <> GREATEST(a.balance, 0)""",
    ),
    (
        "points: allocation links an entry to another account's lot",
        f"""SELECT al.id, e.account_id, l.account_id FROM points_pointsallocation al
           JOIN points_pointsentry e ON e.id = al.entry_id JOIN points_pointslot l ON l.id = al.lot_id
           WHERE e.account_id <> l.account_id AND {_in_scope("e.account_id")}""",
    ),
    (
        "points: a spend or expiry is not fully allocated to lots",
        f"""SELECT e.id, e.amount, COALESCE(SUM(al.amount), 0) FROM points_pointsentry e
           LEFT JOIN points_pointsallocation al ON al.entry_id = e.id
           WHERE e.kind IN ('spend', 'expire') AND {_in_scope("e.account_id")}
           GROUP BY e.id HAVING COALESCE(SUM(al.amount), 0) <> -e.amount""",
    ),
    (
        "points: a reversal exceeds its original entry",
        f"""SELECT o.id, ABS(o.amount), SUM(ABS(r.amount)) FROM points_pointsentry o
           JOIN points_pointsentry r ON r.reverses_id = o.id
           WHERE {_in_scope("o.account_id")}
           GROUP BY o.id HAVING SUM(ABS(r.amount)) > ABS(o.amount)""",
    ),
    (
        "points: an archived lot has points left or differs from its archived allocations",
        f"""SELECT l.id, l.remaining, l.amount - COALESCE(SUM(al.amount), 0)
           FROM points_pointslotarchive l LEFT JOIN points_pointsallocationarchive al ON al.lot_id = l.id
           WHERE {_in_scope("l.account_id")}
           GROUP BY l.id HAVING l.remaining <> 0 OR l.amount - COALESCE(SUM(al.amount), 0) <> 0""",
    ),
    (
        "points: an idempotency key is both live and archived",
        f"""SELECT e.account_id, e.id, x.id FROM points_pointsentry e
           JOIN points_pointsentryarchive x ON x.account_id = e.account_id AND x.idempotency_key = e.idempotency_key
           WHERE {_in_scope("e.account_id")}""",
    ),
]
