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
               OR (p.status = 'refunded' AND p.refund_reason = 'group_not_fulfillable'))
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
]
