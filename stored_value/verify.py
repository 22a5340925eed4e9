"""The stored-value invariants (docs/rules/stored-value.md), as SQL that lists every violation.

``SCOPE`` and ``%(accounts)s``: as in points/verify.py (an incremental run passes the accounts with an
entry after its last clean run; NULL: every account).
"""

SCOPE = ("stored value", "stored_value_storedvalueentry", "account_id")


def _in_scope(column: str) -> str:
    return f"(%(accounts)s::bigint[] IS NULL OR {column} = ANY(%(accounts)s::bigint[]))"


CHECKS = [
    (
        "stored value: cached parts differ from the sums of entries",
        f"""SELECT a.id, a.principal_fen, a.bonus_fen, COALESCE(SUM(e.principal_fen), 0), COALESCE(SUM(e.bonus_fen), 0)
           FROM stored_value_storedvalueaccount a LEFT JOIN stored_value_storedvalueentry e ON e.account_id = a.id
           WHERE {_in_scope("a.id")}
           GROUP BY a.id
           HAVING a.principal_fen <> COALESCE(SUM(e.principal_fen), 0) OR a.bonus_fen <> COALESCE(SUM(e.bonus_fen), 0)""",
    ),
    (
        "stored value: latest entry's balances-after differ from the account",
        f"""SELECT a.id, a.principal_fen, a.bonus_fen, e.principal_after_fen, e.bonus_after_fen
           FROM stored_value_storedvalueaccount a
           JOIN LATERAL (SELECT principal_after_fen, bonus_after_fen FROM stored_value_storedvalueentry
                         WHERE account_id = a.id ORDER BY id DESC LIMIT 1) e ON true
           WHERE (e.principal_after_fen <> a.principal_fen OR e.bonus_after_fen <> a.bonus_fen) AND {_in_scope("a.id")}""",
    ),
    (
        "stored value: a part is negative",
        f"""SELECT id, principal_fen, bonus_fen FROM stored_value_storedvalueaccount
           WHERE (principal_fen < 0 OR bonus_fen < 0) AND {_in_scope("id")}""",
    ),
    (
        "stored value: a spend's refunds exceed a part it took",
        f"""SELECT s.id, -s.principal_fen, -s.bonus_fen, SUM(r.principal_fen), SUM(r.bonus_fen)
           FROM stored_value_storedvalueentry s JOIN stored_value_storedvalueentry r ON r.reverses_id = s.id
           WHERE {_in_scope("s.account_id")}
           GROUP BY s.id HAVING SUM(r.principal_fen) > -s.principal_fen OR SUM(r.bonus_fen) > -s.bonus_fen""",
    ),
    (
        "stored value: a credited recharge's entries differ from the order",
        """SELECT o.id, o.amount_fen, o.bonus_fen,
                  COALESCE(SUM(e.principal_fen) FILTER (WHERE e.kind = 'recharge'), 0),
                  COALESCE(SUM(e.bonus_fen) FILTER (WHERE e.kind = 'bonus'), 0)
           FROM stored_value_rechargeorder o LEFT JOIN stored_value_storedvalueentry e ON e.recharge_id = o.id
           WHERE o.status IN ('credited', 'refunded')
           GROUP BY o.id
           HAVING COALESCE(SUM(e.principal_fen) FILTER (WHERE e.kind = 'recharge'), 0) <> o.amount_fen
               OR COALESCE(SUM(e.bonus_fen) FILTER (WHERE e.kind = 'bonus'), 0) <> o.bonus_fen""",
    ),
    (
        "stored value: a recharge refund's entries differ from the order's refunded and forfeited amounts",
        """SELECT o.id, o.refunded_fen, o.forfeited_bonus_fen,
                  -COALESCE(SUM(e.principal_fen), 0), -COALESCE(SUM(e.bonus_fen), 0)
           FROM stored_value_rechargeorder o LEFT JOIN stored_value_storedvalueentry e
                ON e.recharge_id = o.id AND e.kind = 'recharge_refund'
           GROUP BY o.id
           HAVING -COALESCE(SUM(e.principal_fen), 0) <> o.refunded_fen
               OR -COALESCE(SUM(e.bonus_fen), 0) <> o.forfeited_bonus_fen""",
    ),
]
