"""What counts as a purchase, in SQL, shared by RFM, segments and the reports.

An order is a purchase when it completed (``completed_at`` set) and was not
refunded in full (status ``refunded``).  Its time is ``completed_at``; its
value is what the member paid (stored value + cash, shipping included) minus
what was refunded of those two.  Points and coupons are discounts, not
payment, so they never count.  A cancelled or never-paid order has no
``completed_at``.
"""

PURCHASE_WHERE = "o.completed_at IS NOT NULL AND o.status <> 'refunded'"
PAID_FEN = "(o.stored_value_fen + o.cash_fen - o.refunded_stored_value_fen - o.refunded_cash_fen)"
