"""Segment rules: a JSON tree of AND/OR groups compiled to ONE SQL condition over ``members_member``.

A rule is a group ``{"op": "and" | "or", "conditions": [...]}`` whose
conditions are groups again or leaves ``{"field": ..., "value": ...}``.  Each
leaf becomes a condition on the member row, a join-free correlated subquery
on the facts it needs (orders, points and stored-value accounts, cards, tags,
RFM scores), so PostgreSQL plans the whole segment as one query: no member is
ever filtered in Python.  Values are passed as parameters, never
interpolated.  Closed accounts (注销) are never in a segment.

Leaves (``value`` shape):

* ``tier``: list of tier levels (no membership row = level 0)
* ``card``: list of card type ids (holds a valid card of one of them now)
* ``rfm_segment``: list of RFM segment codes (latest run)
* ``last_purchase_before`` / ``last_purchase_after``: ``"YYYY-MM-DD"``, merchant-local
  midnight; "before" needs at least one purchase, "after" is on or after the day
* ``order_count``: ``{"min": n, "max": n}`` (either may be omitted) - purchases, lifetime
* ``points_balance``: ``{"min", "max"}`` points
* ``stored_value_balance``: ``{"min", "max"}`` fen (principal + bonus)
* ``birthday_month``: list of months 1-12
* ``registration_channel``: list of channel names
* ``tag``: list of tag ids (has any of them)
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics.exceptions import InvalidSegmentRule
from analytics.facts import PAID_FEN, PURCHASE_WHERE  # noqa: F401 - PAID_FEN documents the facts used
from analytics.models import RfmSegment
from members.receiving import receiving_sql

M = "members_member"
MAX_DEPTH = 5
MAX_LEAVES = 50

FIELDS = [
    "tier",
    "card",
    "rfm_segment",
    "last_purchase_before",
    "last_purchase_after",
    "order_count",
    "points_balance",
    "stored_value_balance",
    "birthday_month",
    "registration_channel",
    "tag",
]


def _bad(message: str):
    raise InvalidSegmentRule(message)


def _int_list(value, *, low=None, high=None) -> list[int]:
    if not isinstance(value, list) or not value:
        _bad(_("A list of values is required."))
    out = []
    for v in value:
        if isinstance(v, bool) or not (isinstance(v, int) or (isinstance(v, str) and v.strip().isdigit())):
            _bad(_("%(value)s is not a whole number.") % {"value": v})
        n = int(v)
        if (low is not None and n < low) or (high is not None and n > high):
            _bad(_("%(value)s is out of range.") % {"value": v})
        out.append(n)
    return sorted(set(out))


def _str_list(value) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        _bad(_("A list of values is required."))
    return sorted(set(value))


def _range(value) -> tuple[int | None, int | None]:
    if not isinstance(value, dict) or not set(value) <= {"min", "max"}:
        _bad(_("A range needs min and/or max."))
    bounds = []
    for key in ("min", "max"):
        v = value.get(key)
        if v in (None, ""):
            bounds.append(None)
            continue
        if isinstance(v, bool) or not isinstance(v, int | str) or not str(v).lstrip("-").isdigit():
            _bad(_("%(value)s is not a whole number.") % {"value": v})
        bounds.append(int(v))
    low, high = bounds
    if low is None and high is None:
        _bad(_("A range needs min and/or max."))
    if low is not None and high is not None and low > high:
        _bad(_("The minimum is above the maximum."))
    return low, high


def _local_midnight(value) -> datetime:
    try:
        day = date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        day = None
    if day is None:
        _bad(_("A date (YYYY-MM-DD) is required."))
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(settings.TIME_ZONE))


def _between(expr: str, low, high, params: list) -> str:
    parts = []
    if low is not None:
        parts.append(f"{expr} >= %s")
        params.append(low)
    if high is not None:
        parts.append(f"{expr} <= %s")
        params.append(high)
    return "(" + " AND ".join(parts) + ")"


_LAST_PURCHASE = (
    f"(SELECT max(o.completed_at) FROM orders_order o WHERE o.member_id = {M}.id AND {PURCHASE_WHERE})"
)


def _leaf(node: dict, params: list, now: datetime) -> str:
    field, value = node.get("field"), node.get("value")
    if field == "tier":
        levels = _int_list(value, low=0)
        params.append(levels)
        return (
            f"(COALESCE((SELECT ms.tier_level FROM members_membership ms WHERE ms.member_id = {M}.id), 0)"
            " = ANY(%s))"
        )
    if field == "card":
        params.extend([_int_list(value, low=1), now, now])
        return (
            f"EXISTS (SELECT 1 FROM members_membershipcard c WHERE c.member_id = {M}.id"
            " AND c.card_type_id = ANY(%s) AND c.status = 'active' AND c.valid_from <= %s"
            " AND (c.valid_until IS NULL OR c.valid_until > %s))"
        )
    if field == "rfm_segment":
        codes = _str_list(value)
        if not set(codes) <= set(RfmSegment.values):
            _bad(_("Unknown RFM segment."))
        params.append(codes)
        return (
            f"EXISTS (SELECT 1 FROM analytics_rfmscore r WHERE r.member_id = {M}.id AND r.segment = ANY(%s))"
        )
    if field == "last_purchase_before":
        params.append(_local_midnight(value))
        return f"({_LAST_PURCHASE} < %s)"
    if field == "last_purchase_after":
        params.append(_local_midnight(value))
        return f"({_LAST_PURCHASE} >= %s)"
    if field == "order_count":
        low, high = _range(value)
        count = f"(SELECT count(*) FROM orders_order o WHERE o.member_id = {M}.id AND {PURCHASE_WHERE})"
        return _between(count, low, high, params)
    if field == "points_balance":
        low, high = _range(value)
        balance = f"COALESCE((SELECT a.balance FROM points_pointsaccount a WHERE a.member_id = {M}.id), 0)"
        return _between(balance, low, high, params)
    if field == "stored_value_balance":
        low, high = _range(value)
        balance = (
            "COALESCE((SELECT a.principal_fen + a.bonus_fen FROM stored_value_storedvalueaccount a"
            f" WHERE a.member_id = {M}.id), 0)"
        )
        return _between(balance, low, high, params)
    if field == "birthday_month":
        params.append(_int_list(value, low=1, high=12))
        return f"(extract(month FROM {M}.birthday)::int = ANY(%s))"
    if field == "registration_channel":
        params.append(_str_list(value))
        return f"({M}.registration_channel = ANY(%s))"
    if field == "tag":
        params.append(_int_list(value, low=1))
        return f"EXISTS (SELECT 1 FROM analytics_membertagging t WHERE t.member_id = {M}.id AND t.tag_id = ANY(%s))"
    _bad(_("Unknown condition: %(field)s.") % {"field": field})


def _group(node, params: list, now: datetime, depth: int, leaves: list) -> str:
    if not isinstance(node, dict):
        _bad(_("A condition must be an object."))
    if "field" in node:
        leaves.append(1)
        if len(leaves) > MAX_LEAVES:
            _bad(_("Too many conditions."))
        return _leaf(node, params, now)
    op, conditions = node.get("op"), node.get("conditions")
    if op not in ("and", "or"):
        _bad(_('A group needs op "and" or "or".'))
    if not isinstance(conditions, list) or not conditions:
        _bad(_("A group needs at least one condition."))
    if depth >= MAX_DEPTH:
        _bad(_("The rule is nested too deeply."))
    parts = [_group(c, params, now, depth + 1, leaves) for c in conditions]
    return "(" + f" {op.upper()} ".join(parts) + ")"


def compile_rules(rules, *, now: datetime) -> tuple[str, list]:
    """The segment as ``(sql, params)``: a boolean condition on ``members_member``; raises InvalidSegmentRule."""
    params: list = []
    sql = _group(rules, params, now, 0, [])
    return f"({receiving_sql(M)} AND {sql})", params


def validate_rules(rules) -> None:
    compile_rules(rules, now=timezone.now())
