"""The membership invariants, as SQL that lists every violation (run by ``manage.py verify_ledgers``).

``SCOPE`` and ``%(accounts)s``: as in points/verify.py; the growth ledger's "account" is the member.
"""

SCOPE = ("growth", "members_growthentry", "member_id")


def _in_scope(column: str) -> str:
    return f"(%(accounts)s::bigint[] IS NULL OR {column} = ANY(%(accounts)s::bigint[]))"


CHECKS = [
    (
        "members: cached growth differs from the sum of growth entries",
        f"""SELECT m.member_id, m.growth_total, COALESCE(SUM(e.amount), 0)
           FROM members_membership m LEFT JOIN members_growthentry e ON e.member_id = m.member_id
           WHERE {_in_scope("m.member_id")}
           GROUP BY m.id HAVING m.growth_total <> COALESCE(SUM(e.amount), 0)""",
    ),
    (
        "members: an order's refunds took back more than it paid or more growth than it gave",
        f"""SELECT o.member_id, o.order_no, o.paid_fen, SUM(r.paid_fen), o.amount, -SUM(r.amount)
           FROM members_growthentry o JOIN members_growthentry r
             ON r.member_id = o.member_id AND r.order_no = o.order_no AND r.kind = 'refund'
           WHERE o.kind = 'order' AND {_in_scope("o.member_id")}
           GROUP BY o.id HAVING SUM(r.paid_fen) > o.paid_fen OR -SUM(r.amount) > o.amount""",
    ),
    (
        "members: cumulative paid spend differs from what the orders paid less their refunds",
        f"""SELECT m.member_id, m.paid_total_fen,
                  COALESCE(SUM(e.paid_fen) FILTER (WHERE e.kind = 'order'), 0)
                  - COALESCE(SUM(e.paid_fen) FILTER (WHERE e.kind = 'refund'), 0)
           FROM members_membership m LEFT JOIN members_growthentry e ON e.member_id = m.member_id
           WHERE {_in_scope("m.member_id")}
           GROUP BY m.id
           HAVING m.paid_total_fen <> COALESCE(SUM(e.paid_fen) FILTER (WHERE e.kind = 'order'), 0)
                                     - COALESCE(SUM(e.paid_fen) FILTER (WHERE e.kind = 'refund'), 0)""",
    ),
    (
        # A fully refunded order no longer counts; its refund writes the zero entry ``closed:<order_no>``.
        "members: completed-order count differs from the orders recorded less the ones refunded whole",
        f"""SELECT m.member_id, m.completed_orders,
                  COUNT(e.id) FILTER (WHERE e.kind = 'order') - COUNT(e.id) FILTER (WHERE e.kind = 'refund'
                                                                   AND e.idempotency_key LIKE 'closed:%%')
           FROM members_membership m LEFT JOIN members_growthentry e ON e.member_id = m.member_id
           WHERE {_in_scope("m.member_id")}
           GROUP BY m.id
           HAVING m.completed_orders <> COUNT(e.id) FILTER (WHERE e.kind = 'order')
                  - COUNT(e.id) FILTER (WHERE e.kind = 'refund' AND e.idempotency_key LIKE 'closed:%%')""",
    ),
    (
        # A purchase refunded whole as its money arrived (the card was revoked meanwhile) never had a card.
        "members: a paid card purchase has no card or no period",
        """SELECT id FROM members_cardpurchase
           WHERE status IN ('paid', 'refunded') AND (card_id IS NULL OR period_start IS NULL OR period_end IS NULL)
             AND NOT (status = 'refunded' AND refunded_fen = amount_fen AND card_id IS NULL)""",
    ),
    (
        # Level 0 is the entry tier every member starts at, with or without a row of its own.
        "members: a member holds a tier level that does not exist",
        """SELECT m.member_id, m.tier_level FROM members_membership m
           WHERE m.tier_level <> 0 AND NOT EXISTS (SELECT 1 FROM members_tier t WHERE t.level = m.tier_level)""",
    ),
]
