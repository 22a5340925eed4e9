"""The analytics app's SQL module: the member portrait's purchases.

Table and column names come from the models (``loyalty.rows.Names``); the statement is written once.
(The reports' and RFM's set-based statements, in ``analytics.reports`` and ``analytics.rfm``, are
still to move here.)  tests/analytics/test_sql.py checks it against the ORM.
"""

from __future__ import annotations

from collections import namedtuple

from analytics.facts import PAID_FEN, PURCHASE_WHERE
from loyalty.rows import Names, db_cursor
from orders.models import Order

_o = Names(Order)

Purchase = namedtuple("Purchase", "order_no status completed_at paid_fen goods_fen counts")

_MEMBER_PURCHASES = f"""
            SELECT o.{_o.order_no}, o.{_o.status}, o.{_o.completed_at}, {PAID_FEN} AS paid, o.{_o.goods_fen},
                   o.{_o.completed_at} IS NOT NULL AND {PURCHASE_WHERE} AS counts
            FROM {_o.table} o WHERE o.{_o.member_id} = %s ORDER BY o.{_o.id} DESC LIMIT %s
            """


def member_purchases(member_id: int, limit: int) -> list[Purchase]:
    """The member's latest orders, newest first: what each paid and whether it counts as a purchase."""
    with db_cursor() as cur:
        cur.execute(_MEMBER_PURCHASES, [member_id, limit])
        return [Purchase(*row) for row in cur.fetchall()]
