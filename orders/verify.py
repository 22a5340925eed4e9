"""The order invariants, as SQL that lists every violation (run by ``verify_ledgers``)."""

CHECKS = [
    (
        "orders: an order's refunded columns differ from the sum of its refunds",
        """SELECT o.id, o.order_no FROM orders_order o
           LEFT JOIN (SELECT order_id, SUM(points) p, SUM(stored_value_fen) sv, SUM(cash_fen) c,
                             SUM(earned_points_reversed) e, SUM(shipping_fen) s
                      FROM orders_refund GROUP BY order_id) r ON r.order_id = o.id
           WHERE o.refunded_points <> COALESCE(r.p, 0) OR o.refunded_stored_value_fen <> COALESCE(r.sv, 0)
              OR o.refunded_cash_fen <> COALESCE(r.c, 0) OR o.reversed_earned_points <> COALESCE(r.e, 0)
              OR o.refunded_shipping_fen <> COALESCE(r.s, 0)""",
    ),
    (
        "orders: a line's refunded quantity differs from its refund lines",
        """SELECT l.id, l.refunded_quantity, COALESCE(SUM(rl.quantity), 0) FROM orders_orderline l
           LEFT JOIN orders_refundline rl ON rl.line_id = l.id
           GROUP BY l.id HAVING l.refunded_quantity <> COALESCE(SUM(rl.quantity), 0)""",
    ),
    (
        "orders: a refunded order did not give back everything it took",
        """SELECT id, order_no FROM orders_order WHERE status = 'refunded' AND (
               refunded_points <> points_used OR refunded_stored_value_fen <> stored_value_fen
               OR refunded_cash_fen <> cash_fen OR reversed_earned_points <> earned_points
               OR refunded_shipping_fen <> shipping_fen)""",
    ),
    (
        "orders: a refund of a closed account gave it something back",
        """SELECT id, refund_no FROM orders_refund WHERE account_closed AND (
               points_reverse_entry_id IS NOT NULL OR earn_reverse_entry_id IS NOT NULL
               OR coupons_restored <> '[]'::jsonb
               OR (stored_value_fen > 0 AND stored_value_payout_entry_id IS NULL))""",
    ),
    (
        "orders: an order's lines do not add up to its settlement",
        """SELECT o.id, o.order_no FROM orders_order o JOIN orders_orderline l ON l.order_id = o.id
           GROUP BY o.id HAVING o.goods_fen <> SUM(l.amount_fen)
              OR o.benefit_discount_fen <> SUM(l.benefit_discount_fen)
              OR o.coupon_discount_fen <> SUM(l.coupon_discount_fen)
              OR o.points_used <> SUM(l.points) OR o.points_fen <> SUM(l.points_fen)
              OR o.stored_value_fen <> SUM(l.stored_value_fen) + o.shipping_stored_value_fen
              OR o.cash_fen <> SUM(l.cash_fen) + o.shipping_cash_fen""",
    ),
]
