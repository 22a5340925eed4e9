import pytest
import time_machine

from points import earning
from points.exceptions import CheckInDisabled
from points.models import CheckIn, EarningRule, RuleKind
from tests.helpers import local
from tests.points.helpers import balance

pytestmark = pytest.mark.django_db


def check_in_on(member, day):
    with time_machine.travel(day, tick=False):
        return earning.points_check_in(member_id=member.pk)


def test_a_streak_runs_across_a_month_end_and_pays_the_day_7_bonus(member):
    results = [check_in_on(member, local(2026, 11, d, 9)) for d in (26, 27, 28, 29, 30)]
    results += [check_in_on(member, local(2026, 12, d, 9)) for d in (1, 2, 3)]

    assert [r.streak for r in results] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert [r.points for r in results] == [5, 5, 5, 5, 5, 5, 25, 5]  # cycle of 7 starts again on day 8
    assert balance(member) == 60


def test_a_missed_day_starts_the_streak_again(member):
    check_in_on(member, local(2026, 11, 1, 9))
    check_in_on(member, local(2026, 11, 2, 9))

    result = check_in_on(member, local(2026, 11, 4, 9))

    assert result.streak == 1


def test_the_day_is_the_merchants_local_day(member):
    check_in_on(member, local(2026, 11, 1, 23, 59))

    # 00:01 in Shanghai is still the previous day in UTC: a new day here.
    result = check_in_on(member, local(2026, 11, 2, 0, 1))

    assert (result.created, result.streak) == (True, 2)


def test_checking_in_twice_a_day_returns_the_first(member):
    first = check_in_on(member, local(2026, 11, 1, 9))
    second = check_in_on(member, local(2026, 11, 1, 18))

    assert (second.created, second.points, second.streak) == (False, first.points, 1)
    assert CheckIn.objects.count() == 1
    assert balance(member) == 5


def test_check_in_needs_the_rule_to_be_active(member):
    EarningRule.objects.filter(kind=RuleKind.CHECKIN).update(is_active=False)

    with pytest.raises(CheckInDisabled):
        check_in_on(member, local(2026, 11, 1, 9))
    assert not CheckIn.objects.exists()


def test_a_capped_check_in_records_the_points_actually_granted(member):
    EarningRule.objects.filter(kind=RuleKind.CHECKIN).update(monthly_cap=12)
    results = [check_in_on(member, local(2026, 11, d, 9)) for d in (1, 2, 3)]

    assert [r.points for r in results] == [5, 5, 2]
