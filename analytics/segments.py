"""Segment rules: a JSON tree of AND/OR groups, checked here and compiled to ONE SQL condition on members.

A rule is a group ``{"op": "and" | "or", "conditions": [...]}`` whose
conditions are groups again or leaves ``{"field": ..., "value": ...}``.  Each
leaf becomes a condition on the member row (its SQL is ``analytics.sql``'s), a
join-free correlated subquery on the facts it needs (orders, points and
stored-value accounts, cards, tags, RFM scores), so PostgreSQL plans the whole
segment as one query: no member is ever filtered in Python.  Values are passed
as parameters, never interpolated.  Closed accounts (注销) are never in a segment.

Leaves (``value`` shape):

* ``tier``: list of tier levels (no membership row = level 0)
* ``card``: list of card type ids (holds a valid card of one of them now)
* ``rfm_segment``: list of RFM segment codes (latest run)
* ``last_purchase_before`` / ``last_purchase_after``: ``"YYYY-MM-DD"``, merchant-local
  midnight; "before" needs at least one purchase, "after" is on or after the day
* ``last_purchase_within_days`` / ``last_purchase_not_within_days``: n days (1-3650), the same two
  conditions counted back from today's merchant-local midnight, so "bought in the last 90 days"
  stays true to its words as the days pass
* ``order_count``: ``{"min": n, "max": n}`` (either may be omitted) - purchases, lifetime
* ``points_balance``: ``{"min", "max"}`` points
* ``stored_value_balance``: ``{"min", "max"}`` fen (principal + bonus)
* ``birthday_month``: list of months 1-12
* ``registration_channel``: list of channel names
* ``tag``: list of tag ids (has any of them)
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics import sql
from analytics.exceptions import InvalidSegmentRule
from analytics.models import RfmSegment

MAX_DEPTH = 5
MAX_LEAVES = 50
MAX_DAYS = 3650

# The leaves counted back from today, and the dated leaf each one is on the day it is compiled.
RELATIVE = {
    "last_purchase_within_days": "last_purchase_after",
    "last_purchase_not_within_days": "last_purchase_before",
}

FIELDS = [
    "tier",
    "card",
    "rfm_segment",
    "last_purchase_before",
    "last_purchase_after",
    "last_purchase_within_days",
    "last_purchase_not_within_days",
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


def _days_back(value, now: datetime) -> datetime:
    """Merchant-local midnight ``value`` days before the day of ``now``."""
    if isinstance(value, bool) or not (
        isinstance(value, int) or (isinstance(value, str) and value.isdigit())
    ):
        _bad(_("%(value)s is not a whole number.") % {"value": value})
    days = int(value)
    if not 1 <= days <= MAX_DAYS:
        _bad(_("%(value)s is out of range.") % {"value": value})
    tz = ZoneInfo(settings.TIME_ZONE)
    return datetime.combine(now.astimezone(tz).date() - timedelta(days=days), time.min, tzinfo=tz)


def _leaf(node: dict, params: list, now: datetime) -> str:
    """The leaf's condition (``analytics.sql``), its values appended to ``params`` in order."""
    field, value = node.get("field"), node.get("value")
    if field == "tier":
        params.append(_int_list(value, low=0))
    elif field == "card":
        params.extend([_int_list(value, low=1), now, now])
    elif field == "rfm_segment":
        codes = _str_list(value)
        if not set(codes) <= set(RfmSegment.values):
            _bad(_("Unknown RFM segment."))
        params.append(codes)
    elif field in ("last_purchase_before", "last_purchase_after"):
        params.append(_local_midnight(value))
    elif field in RELATIVE:
        params.append(_days_back(value, now))
        return sql.SEGMENT_TESTS[RELATIVE[field]]
    elif field == "birthday_month":
        params.append(_int_list(value, low=1, high=12))
    elif field == "registration_channel":
        params.append(_str_list(value))
    elif field == "tag":
        params.append(_int_list(value, low=1))
    elif field in ("order_count", "points_balance", "stored_value_balance"):
        low, high = _range(value)
        params.extend(v for v in (low, high) if v is not None)
        return sql.segment_between(field, low=low is not None, high=high is not None)
    else:
        _bad(_("Unknown condition: %(field)s.") % {"field": field})
    return sql.SEGMENT_TESTS[field]


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
    return sql.segment_group(op, [_group(c, params, now, depth + 1, leaves) for c in conditions])


def compile_rules(rules, *, now: datetime) -> tuple[str, list]:
    """The segment as ``(where, params)`` for ``sql.segment_members``; raises InvalidSegmentRule."""
    params: list = []
    return sql.segment_where(_group(rules, params, now, 0, [])), params


def validate_rules(rules) -> None:
    compile_rules(rules, now=timezone.now())
