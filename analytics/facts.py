"""What counts as a purchase, in SQL, shared by RFM, segments and the reports.

An order is a purchase when it completed (``completed_at`` set) and was not
refunded in full (status ``refunded``).  Its time is ``completed_at``; its
value is what the member paid (stored value + cash, shipping included) minus
what was refunded of those two.  Points and coupons are discounts, not
payment, so they never count.  A cancelled or never-paid order has no
``completed_at``.

Both fragments read the order under the alias ``o``; column names come from the model.
"""

from loyalty.rows import Names
from orders.models import Order

_o = Names(Order)

PURCHASE_WHERE = f"o.{_o.completed_at} IS NOT NULL AND o.{_o.status} <> 'refunded'"
PAID_FEN = f"(o.{_o.stored_value_fen} + o.{_o.cash_fen} - o.{_o.refunded_stored_value_fen} - o.{_o.refunded_cash_fen})"
