"""Reads for the stored-value API and admin."""

from __future__ import annotations

from datetime import date

from django.conf import settings

from loyalty.money import format_fen
from stored_value import sql
from stored_value.models import RechargeOrder, StoredValueEntry


def stored_value_balance(*, member_id: int) -> dict:
    # Raw: checkout reads it twice per order, and the ORM's query building costs more than the query.
    row = sql.balance(member_id) or sql.Balance(principal_fen=0, bonus_fen=0, frozen=False)
    return {
        "principal_fen": row.principal_fen,
        "bonus_fen": row.bonus_fen,
        "balance_fen": row.principal_fen + row.bonus_fen,
        "frozen": row.frozen,
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
    return [
        {"day": row.day, "principal_fen": int(row.principal_fen), "bonus_fen": int(row.bonus_fen)}
        for row in sql.liability_by_day(start, end, settings.TIME_ZONE)
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
