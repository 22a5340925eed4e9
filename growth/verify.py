"""The 拼团 invariants (docs/rules/growth.md), as SQL that lists every violation."""

CHECKS = [
    (
        "growth: an activity's units taken differ from its places holding a unit",
        """SELECT a.id, a.sold_count, count(p.id) FROM growth_groupbuyactivity a
           LEFT JOIN growth_groupmember p ON p.activity_id = a.id AND p.status IN ('joined', 'completed')
           GROUP BY a.id HAVING a.sold_count <> count(p.id)""",
    ),
    (
        "growth: a group's members joined differ from its places holding a unit",
        """SELECT g.id, g.joined_count, count(p.id) FROM growth_group g
           LEFT JOIN growth_groupmember p ON p.group_id = g.id AND (p.status IN ('joined', 'completed')
               OR (p.status = 'refunded' AND p.refund_reason IN ('group_not_fulfillable', 'group_returned')))
           WHERE g.state <> 'failed' GROUP BY g.id HAVING g.joined_count <> count(p.id)""",
    ),
    (
        "growth: a refunded place's payment was not refunded in full",
        """SELECT p.id, p.amount_fen, pay.refunded_fen FROM growth_groupmember p
           JOIN payments_payment pay ON pay.out_trade_no = p.out_trade_no
           WHERE p.status = 'refunded' AND pay.refunded_fen <> p.amount_fen""",
    ),
    (
        "growth: a place holding a unit has no paid payment, or one refunded",
        """SELECT p.id FROM growth_groupmember p
           LEFT JOIN payments_payment pay ON pay.out_trade_no = p.out_trade_no
           WHERE p.status IN ('joined', 'completed') AND (pay.status IS DISTINCT FROM 'paid' OR pay.refunded_fen <> 0)""",
    ),
    (
        "growth: a failed group still holds a paid place",
        """SELECT g.id FROM growth_group g JOIN growth_groupmember p ON p.group_id = g.id
           WHERE g.state = 'failed' AND p.status IN ('joined', 'completed')""",
    ),
    (
        "growth: a complete group has a place neither fulfilled nor refunded",
        """SELECT g.id, p.id FROM growth_group g JOIN growth_groupmember p ON p.group_id = g.id
           WHERE g.state = 'complete' AND p.status = 'joined' AND p.refund_reason = ''""",
    ),
    (
        "growth: a bargain refunded by an operator has a payment not refunded in full",
        """SELECT b.id FROM growth_bargain b LEFT JOIN payments_payment p ON p.out_trade_no = b.out_trade_no
           WHERE b.state = 'refunded' AND p.refunded_fen IS DISTINCT FROM b.paid_fen""",
    ),
    (
        "growth: a bargain's price differs from its original price less its cuts",
        """SELECT b.id, b.price_fen, b.original_price_fen - coalesce(sum(h.cut_fen), 0), b.helps_count, count(h.id)
           FROM growth_bargain b LEFT JOIN growth_bargainhelp h ON h.bargain_id = b.id GROUP BY b.id
           HAVING b.price_fen <> b.original_price_fen - coalesce(sum(h.cut_fen), 0) OR b.helps_count <> count(h.id)""",
    ),
    (
        "growth: a bargain's cuts do not reach its floor in its helpers, or a cut is not the one drawn",
        """SELECT b.id FROM growth_bargain b
           WHERE (SELECT sum(c) FROM unnest(b.cuts) c) <> b.original_price_fen - b.floor_price_fen
              OR cardinality(b.cuts) <> b.helpers_needed
              OR EXISTS (SELECT 1 FROM growth_bargainhelp h WHERE h.bargain_id = b.id AND h.cut_fen <> b.cuts[h.seq])""",
    ),
    (
        "growth: a bargain activity's units taken differ from its bargains bought",
        """SELECT a.id, a.sold_count, count(b.id) FROM growth_bargainactivity a
           LEFT JOIN growth_bargain b ON b.activity_id = a.id AND b.state = 'paid'
           GROUP BY a.id HAVING a.sold_count <> count(b.id)""",
    ),
    (
        "growth: a bought bargain's payment is not paid, or refunded",
        """SELECT b.id FROM growth_bargain b LEFT JOIN payments_payment p ON p.out_trade_no = b.out_trade_no
           WHERE b.state = 'paid' AND (p.status IS DISTINCT FROM 'paid' OR p.refunded_fen <> 0
                                       OR p.amount_fen <> b.paid_fen)""",
    ),
]
