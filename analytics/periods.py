"""The dashboard's preset periods (今天, 近7天, 近30天, 近90天, 本月, 上月), as date ranges in the merchant's time zone.

One pure function computes every range from the merchant's "today", so the links, the view and the tests
agree; both ends are included (近7天 is today and the six days before it).
"""

from __future__ import annotations

from datetime import date, timedelta

from django.utils.translation import gettext_lazy as _

#: The presets in the order the page offers them: key (the ``period`` query value) and label.
PRESETS = [
    ("today", _("Today")),
    ("last_7_days", _("Last 7 days")),
    ("last_30_days", _("Last 30 days")),
    ("last_90_days", _("Last 90 days")),
    ("this_month", _("This month")),
    ("last_month", _("Last month")),
]
CUSTOM = "custom"


def preset_range(key: str, *, today: date) -> tuple[date, date]:
    """The first and last day (both included) of the preset ``key``, seen from ``today``; KeyError if unknown."""
    if key == "today":
        return today, today
    if key == "last_7_days":
        return today - timedelta(days=6), today
    if key == "last_30_days":
        return today - timedelta(days=29), today
    if key == "last_90_days":  # the dashboard's default
        return today - timedelta(days=89), today
    if key == "this_month":
        return today.replace(day=1), today
    if key == "last_month":
        end = today.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end
    raise KeyError(key)


def preset_of(start: date, end: date, *, today: date) -> str:
    """The preset whose range is exactly ``start``–``end`` today, else ``custom``."""
    for key, _label in PRESETS:
        if preset_range(key, today=today) == (start, end):
            return key
    return CUSTOM


def previous_range(start: date, end: date) -> tuple[date, date]:
    """The period compared with ``start``–``end``: the month before when the range is whole calendar
    months (上月 against the month before it, not against the 30 days before it), else as many days
    just before."""
    next_day = end + timedelta(days=1)
    if start.day == 1 and next_day.day == 1:
        months = (end.year - start.year) * 12 + end.month - start.month + 1
        first = start
        for _month in range(months):
            first = (first - timedelta(days=1)).replace(day=1)
        return first, start - timedelta(days=1)
    prev_end = start - timedelta(days=1)
    return prev_end - (end - start), prev_end
