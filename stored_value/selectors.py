"""Reads for the stored-value API and admin."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db import connection

from loyalty import prepared
from loyalty.money import format_fen
from stored_value.models import RechargeOrder, StoredValueEntry

_BALANCE = prepared.Statement(
    "stored_value_balance",
    "SELECT principal_fen, bonus_fen, frozen FROM stored_value_storedvalueaccount WHERE member_id = $1::bigint",
)


def stored_value_balance(*, member_id: int) -> dict:
    # Raw: checkout reads it twice per order, and the ORM's query building costs more than the query.
    with connection.cursor() as cur:
        prepared.execute(cur, _BALANCE, [member_id])
        principal, bonus, frozen = cur.fetchone() or (0, 0, False)
    return {
        "principal_fen": principal,
        "bonus_fen": bonus,
        "balance_fen": principal + bonus,
        "frozen": frozen,
    }


def stored_value_entries(*, member_id: int, kind: str | None = None):
    entries = StoredValueEntry.objects.filter(account__member_id=member_id)
    return entries.filter(kind=kind) if kind else entries


def recharge_orders(*, member_id: int):
    return RechargeOrder.objects.filter(member_id=member_id).select_related("plan")


def liability_by_day(*, start: date, end: date) -> list[dict]:
    """Outstanding principal and bonus at the end of each local day from ``start`` to ``end``.

    One statement: the day's net movement per part, summed over all earlier
    days with a window — the balance the merchant owes its members, as it
    stood at each local midnight, without replaying any account.
    """
    with connection.cursor() as cur:
        cur.execute(
            """
            WITH days AS (
                SELECT d::date AS day FROM generate_series(%(start)s::date, %(end)s::date, interval '1 day') d
            ), before AS (
                SELECT COALESCE(SUM(principal_fen), 0) AS principal, COALESCE(SUM(bonus_fen), 0) AS bonus
                FROM stored_value_storedvalueentry WHERE (created_at AT TIME ZONE %(tz)s)::date < %(start)s::date
            ), moves AS (
                SELECT (created_at AT TIME ZONE %(tz)s)::date AS day,
                       SUM(principal_fen) AS principal, SUM(bonus_fen) AS bonus
                FROM stored_value_storedvalueentry
                WHERE created_at >= (%(start)s::date::timestamp AT TIME ZONE %(tz)s)
                  AND created_at < ((%(end)s::date + 1)::timestamp AT TIME ZONE %(tz)s)
                GROUP BY 1
            )
            SELECT days.day,
                   before.principal + SUM(COALESCE(moves.principal, 0)) OVER w,
                   before.bonus + SUM(COALESCE(moves.bonus, 0)) OVER w
            FROM days CROSS JOIN before LEFT JOIN moves ON moves.day = days.day
            WINDOW w AS (ORDER BY days.day)
            ORDER BY days.day
            """,
            {"start": start, "end": end, "tz": settings.TIME_ZONE},
        )
        return [
            {"day": day, "principal_fen": int(principal), "bonus_fen": int(bonus)}
            for day, principal, bonus in cur.fetchall()
        ]


def member_summary_part(*, member_id: int) -> dict:
    """The "me" page's stored value (``members.selectors.member_summary``)."""
    return {"stored_value_fen": stored_value_balance(member_id=member_id)["balance_fen"]}


def member_overview_part(*, member_id: int) -> dict:
    """The operators' member overview: the balance and its principal and bonus, in 元."""
    balance = stored_value_balance(member_id=member_id)
    return {
        "stored_value": format_fen(balance["balance_fen"]),
        "principal": format_fen(balance["principal_fen"]),
        "bonus": format_fen(balance["bonus_fen"]),
    }
