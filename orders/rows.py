"""The order writes of checkout's hot path, each in one statement, with columns taken from the models.

The ORM would take three statements to write a new order (the order, its lines, its commit event) and
two for a status change (the event, the order's columns), and building them cost more client CPU than
PostgreSQL spends running them.  Columns and value conversion come from the models' fields
(``get_db_prep_save``), so a field added to a model is written here without a change.
"""

from __future__ import annotations

from django.db import connection
from django.utils import timezone

from loyalty.locks import Rank, takes
from loyalty.rows import Names, lock_row
from orders.models import Order, OrderEvent, OrderLine, OrderStatus

_o = Names(Order)
_l = Names(OrderLine)
_ev = Names(OrderEvent)


def _fields(model, *, skip=()):
    return [f for f in model._meta.concrete_fields if not f.primary_key and f.attname not in skip]


def _row(obj, fields, params: list) -> str:
    params.extend(f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields)
    return "(" + ", ".join(["%s"] * len(fields)) + ")"


def _columns(fields) -> str:
    return ", ".join(f.column for f in fields)


def insert_order(order: Order, lines: list[OrderLine], event: OrderEvent) -> None:
    """Insert ``order`` with its lines and its first event; sets the ids of the order and its lines."""
    order_fields = _fields(Order)
    line_fields = _fields(OrderLine, skip=("order_id",))
    event_fields = _fields(OrderEvent, skip=("order_id",))
    params: list = []
    order_row = _row(order, order_fields, params)
    line_rows = ", ".join(_row(line, line_fields, params) for line in lines)
    event_row = _row(event, event_fields, params)
    line_names = ", ".join(f"c{i}" for i in range(len(line_fields)))
    event_names = ", ".join(f"c{i}" for i in range(len(event_fields)))
    with connection.cursor() as cur:
        cur.execute(
            f"""WITH o AS (INSERT INTO {_o.table} ({_columns(order_fields)}) VALUES {order_row}
                           RETURNING {_o.id}),
                     l AS (INSERT INTO {_l.table} ({_l.order_id}, {_columns(line_fields)})
                           SELECT o.{_o.id}, v.* FROM o, (VALUES {line_rows}) AS v({line_names}) RETURNING {_l.id}),
                     e AS (INSERT INTO {_ev.table} ({_ev.order_id}, {_columns(event_fields)})
                           SELECT o.{_o.id}, v.* FROM o, (VALUES {event_row}) AS v({event_names}))
                SELECT (SELECT {_o.id} FROM o), ARRAY(SELECT {_l.id} FROM l ORDER BY {_l.id})""",
            params,
        )
        order.id, line_ids = cur.fetchone()
    order._state.adding = False
    for line, pk in zip(lines, line_ids, strict=True):  # identity values come in insertion order
        line.id, line.order_id, line._state.adding = pk, order.id, False
    event.order_id = order.id


def save_transition(order: Order, event: OrderEvent, update_fields: list[str]) -> None:
    """Insert ``event`` and write the order's ``update_fields`` (its status always) in one statement."""
    fields = [Order._meta.get_field(name) for name in dict.fromkeys(["status", *update_fields])]
    event_fields = _fields(OrderEvent)
    params: list = []
    event_row = _row(event, event_fields, params)
    sets = ", ".join(f"{f.column} = %s" for f in fields)
    params.extend(f.get_db_prep_save(getattr(order, f.attname), connection) for f in fields)
    params.append(order.pk)
    with connection.cursor() as cur:
        cur.execute(
            f"""WITH e AS (INSERT INTO {_ev.table} ({_columns(event_fields)}) VALUES {event_row})
                UPDATE {_o.table} SET {sets} WHERE {_o.id} = %s""",
            params,
        )


@takes(Rank.DOCUMENT)
def lock_order(order_no: str) -> Order | None:
    """The order, locked FOR UPDATE until the transaction ends (raw: every order event starts here)."""
    return lock_row(Order, "order_no", order_no)


def coupon_lock_open_sql() -> str:
    """Selects a row while the order named by a locked coupon (``c.order_no``) is open (committed).

    Registered with the coupons app's stale-lock backstop, which then leaves that lock alone: an open
    order's coupon is used by its completion or released by its cancel (or unpaid timeout), never
    taken away under it.
    """
    return (
        f"SELECT 1 FROM {_o.table} o "
        f"WHERE o.{_o.order_no} = c.order_no AND o.{_o.status} = '{OrderStatus.COMMITTED.value}'"
    )


_ORDER_EXISTS = f"SELECT EXISTS (SELECT 1 FROM {_o.table} WHERE {_o.order_no} = %s)"


def order_exists(order_no: str) -> bool:
    with connection.cursor() as cur:
        cur.execute(_ORDER_EXISTS, [order_no])
        return cur.fetchone()[0]


def line_values(order_id: int, names: list[str]) -> list[dict]:
    """The order's lines as ``{name: value}`` by line number (the answer of every order event)."""
    with connection.cursor() as cur:
        columns = ", ".join(OrderLine._meta.get_field(name).column for name in names)
        cur.execute(
            f"SELECT {columns} FROM {_l.table} WHERE {_l.order_id} = %s ORDER BY {_l.line_no}",
            [order_id],
        )
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def new_event(order: Order, **fields) -> OrderEvent:
    return OrderEvent(order=order, created_at=timezone.now(), **fields)
