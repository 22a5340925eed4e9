from datetime import date, timedelta

import pytest
import time_machine

from coupons.models import GiftPackGrant
from members.models import Member
from members.services import member_update_profile
from membership import birthdays
from membership.models import Tier
from tests.factories import GiftPackFactory, MemberFactory
from tests.helpers import local
from tests.membership.helpers import policy, set_tiers

pytestmark = pytest.mark.django_db


@pytest.fixture
def gift(db):
    set_tiers((0, 0))
    pack = GiftPackFactory(name="生日礼包", points=88)
    Tier.objects.filter(level=0).update(birthday_pack=pack)
    return pack


def grants(member):
    return list(GiftPackGrant.objects.filter(member=member).values_list("occasion", flat=True))


def test_month_mode_gives_the_gift_once_in_the_birthday_month(gift):
    policy(birthday_mode="month")
    born_in_june = MemberFactory(birthday=date(1990, 6, 20))
    born_in_july = MemberFactory(birthday=date(1990, 7, 1))

    for day in (1, 2, 30):
        with time_machine.travel(local(2026, 6, day, 9), tick=False):
            birthdays.birthdays_give(chunk_size=1)

    assert grants(born_in_june) == ["birthday:2026"] and grants(born_in_july) == []


def test_day_mode_gives_it_on_the_day_only(gift):
    policy(birthday_mode="day")
    member = MemberFactory(birthday=date(1990, 6, 20))

    with time_machine.travel(local(2026, 6, 19, 9), tick=False):
        birthdays.birthdays_give()
    assert grants(member) == []
    with time_machine.travel(local(2026, 6, 20, 9), tick=False):
        birthdays.birthdays_give()
        birthdays.birthdays_give()
    assert grants(member) == ["birthday:2026"]


def test_a_leap_day_birthday_is_celebrated_on_28_february_in_other_years(gift):
    policy(birthday_mode="day")
    member = MemberFactory(birthday=date(2000, 2, 29))

    with time_machine.travel(local(2027, 2, 28, 9), tick=False):
        birthdays.birthdays_give()

    assert grants(member) == ["birthday:2027"]


def test_next_year_gives_again(gift):
    policy(birthday_mode="month")
    member = MemberFactory(birthday=date(1990, 6, 20))
    for year in (2026, 2027):
        with time_machine.travel(local(year, 6, 1, 9), tick=False):
            birthdays.birthdays_give()

    assert sorted(grants(member)) == ["birthday:2026", "birthday:2027"]


def test_a_birthday_can_be_set_then_changed_once_a_year(db):
    member = MemberFactory()
    with time_machine.travel(local(2026, 1, 1, 9), tick=False):
        member_update_profile(member=member, birthday=date(1990, 6, 20))  # setting it is not a change
        member_update_profile(member=member, birthday=date(1990, 6, 21))  # the first change
        from loyalty.errors import ApplicationError

        with pytest.raises(ApplicationError) as exc:
            member_update_profile(member=Member.objects.get(pk=member.pk), birthday=date(1990, 1, 1))
        assert exc.value.code == "birthday_change_limited"
        member_update_profile(
            member=Member.objects.get(pk=member.pk), birthday=date(1990, 6, 21)
        )  # same: fine
    assert Member.objects.get(pk=member.pk).birthday == date(1990, 6, 21)

    with time_machine.travel(local(2026, 1, 1, 9) + timedelta(days=365), tick=False):
        member_update_profile(member=Member.objects.get(pk=member.pk), birthday=date(1990, 1, 1))
    assert Member.objects.get(pk=member.pk).birthday == date(1990, 1, 1)
