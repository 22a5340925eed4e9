"""The dashboard's preset periods, seen from the merchant's today (both ends included)."""

from datetime import date

import pytest

from analytics.periods import CUSTOM, PRESETS, preset_of, preset_range, previous_range


def test_last_month_on_the_first_of_a_month_is_the_whole_previous_month():
    assert preset_range("last_month", today=date(2026, 3, 1)) == (date(2026, 2, 1), date(2026, 2, 28))
    assert preset_range("last_month", today=date(2026, 1, 1)) == (date(2025, 12, 1), date(2025, 12, 31))
    assert preset_range("last_month", today=date(2028, 3, 31)) == (date(2028, 2, 1), date(2028, 2, 29))


def test_this_month_runs_from_the_first_to_today():
    assert preset_range("this_month", today=date(2026, 9, 7)) == (date(2026, 9, 1), date(2026, 9, 7))
    assert preset_range("this_month", today=date(2026, 9, 1)) == (date(2026, 9, 1), date(2026, 9, 1))


def test_last_7_and_30_days_include_today():
    today = date(2026, 9, 7)
    start, end = preset_range("last_7_days", today=today)
    assert end == today and (end - start).days + 1 == 7
    start, end = preset_range("last_30_days", today=today)
    assert (start, end) == (date(2026, 8, 9), today) and (end - start).days + 1 == 30
    assert preset_range("today", today=today) == (today, today)


def test_a_range_is_named_by_its_preset_or_custom():
    today = date(2026, 9, 17)
    for key, _label in PRESETS:
        assert preset_of(*preset_range(key, today=today), today=today) == key
    assert preset_of(date(2026, 1, 1), date(2026, 1, 9), today=today) == CUSTOM


def test_an_unknown_preset_is_refused():
    with pytest.raises(KeyError):
        preset_range("next_year", today=date(2026, 9, 7))


def test_a_whole_month_is_compared_with_the_month_before_and_other_ranges_with_as_many_days_before():
    assert previous_range(date(2026, 3, 1), date(2026, 3, 31)) == (date(2026, 2, 1), date(2026, 2, 28))
    assert previous_range(date(2026, 1, 1), date(2026, 1, 31)) == (date(2025, 12, 1), date(2025, 12, 31))
    assert previous_range(date(2026, 4, 1), date(2026, 6, 30)) == (date(2026, 1, 1), date(2026, 3, 31))
    assert previous_range(date(2026, 3, 10), date(2026, 3, 16)) == (date(2026, 3, 3), date(2026, 3, 9))
    assert previous_range(date(2026, 3, 1), date(2026, 3, 5)) == (date(2026, 2, 24), date(2026, 2, 28))
