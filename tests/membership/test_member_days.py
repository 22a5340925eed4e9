from datetime import date, timedelta
from fractions import Fraction

import pytest
import time_machine

from coupons.models import GiftPackGrant
from membership import member_days
from membership.benefits import member_benefits
from membership.models import MemberDay, MemberDayRun
from notifications.models import Notification
from tests.factories import CardTypeFactory, GiftPackFactory, MemberFactory
from tests.helpers import local
from tests.membership.helpers import set_tiers

pytestmark = pytest.mark.django_db

WEDNESDAY = local(2026, 12, 2, 12, 0)  # 2 December 2026 is a Wednesday


def wednesday(**fields) -> MemberDay:
    return MemberDay.objects.create(
        **{"name": "周三会员日", "recurrence": "weekly", "weekday": 2, "points_multiplier": 2, **fields}
    )


@pytest.fixture
def member(db):
    set_tiers((0, 0))
    return MemberFactory()


@pytest.mark.parametrize(
    ("at", "on"),
    [
        (local(2026, 12, 1, 23, 59, 59), False),
        (local(2026, 12, 2, 0, 0, 0), True),
        (local(2026, 12, 2, 23, 59, 59), True),
        (local(2026, 12, 3, 0, 0, 0), False),
    ],
)
def test_a_wednesday_member_day_runs_from_midnight_to_midnight_shanghai_time(member, at, on):
    wednesday()

    multiplier = member_benefits(member_id=member.pk, at=at).points_multiplier

    assert multiplier == (Fraction(2) if on else Fraction(1))


def test_a_monthly_member_day_on_the_31st_skips_short_months(member):
    md = MemberDay.objects.create(name="31", recurrence="monthly", day_of_month=31)

    assert member_days.occurs_on(md, date(2026, 12, 31))
    assert not any(member_days.occurs_on(md, date(2026, 11, d)) for d in range(1, 31))


def test_the_eighth_of_each_month(member):
    md = MemberDay.objects.create(name="8号", recurrence="monthly", day_of_month=8)

    assert [d for d in range(1, 32) if member_days.occurs_on(md, date(2026, 12, d))] == [8]


def test_a_member_day_job_fired_twice_for_one_occurrence_pushes_once(member):
    others = [MemberFactory() for _ in range(4)]
    wednesday(push_pack=GiftPackFactory(name="会员日礼包", points=10))

    with time_machine.travel(WEDNESDAY, tick=False):
        first = member_days.member_days_run(chunk_size=2)
        second = member_days.member_days_run(chunk_size=2)

    assert (first, second) == (5, 0)
    everyone = [member, *others]
    assert (
        GiftPackGrant.objects.filter(occasion=f"member-day:{MemberDay.objects.get().pk}:2026-12-02").count()
        == 5
    )
    assert all(Notification.objects.filter(member=m, kind="member_day").count() == 1 for m in everyone)
    run = MemberDayRun.objects.get()
    assert run.finished_at is not None and run.pushed == 5


def test_a_run_killed_half_way_resumes_where_it_stopped(member, monkeypatch):
    MemberFactory.create_batch(4)
    wednesday(push_pack=GiftPackFactory())
    calls = {"n": 0}
    real = member_days.notify_many

    def dies_on_second_chunk(drafts):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed")
        return real(drafts)

    monkeypatch.setattr(member_days, "notify_many", dies_on_second_chunk)
    with time_machine.travel(WEDNESDAY, tick=False):
        with pytest.raises(RuntimeError):
            member_days.member_days_run(chunk_size=2)
        assert MemberDayRun.objects.get().pushed == 2
        monkeypatch.setattr(member_days, "notify_many", real)
        assert member_days.member_days_run(chunk_size=2) == 3

    assert GiftPackGrant.objects.count() == 5 and Notification.objects.count() == 5


def test_no_push_on_a_day_that_is_not_a_member_day(member):
    wednesday(push_pack=GiftPackFactory())
    with time_machine.travel(local(2026, 12, 3, 12), tick=False):
        assert member_days.member_days_run() == 0
    assert not MemberDayRun.objects.exists()


def test_a_tier_audience_gets_the_push_and_the_benefit_others_do_not(member):
    set_tiers((0, 0), (1, 100))
    gold = MemberFactory()
    from membership.tiers import lock_membership

    lock_membership(member_id=gold.pk)
    from membership.models import Membership

    Membership.objects.filter(member=gold).update(tier_level=1)
    wednesday(audience="tiers", audience_values=[1], extra_discount_bp=500)

    with time_machine.travel(WEDNESDAY, tick=False):
        assert member_days.member_days_run() == 1
        assert member_benefits(member_id=gold.pk, at=WEDNESDAY).discount_bp == 500
        assert member_benefits(member_id=member.pk, at=WEDNESDAY).discount_bp == 0
    assert list(Notification.objects.values_list("member_id", flat=True)) == [gold.pk]


def test_a_card_holder_audience(member):
    ct = CardTypeFactory(kind="free")
    from membership import cards

    cards.card_claim(member_id=member.pk, card_type_id=ct.pk, now=WEDNESDAY - timedelta(days=1))
    MemberFactory()
    md = wednesday(audience="card_holders", audience_values=[ct.pk])

    assert list(member_days.audience_members(md, at=WEDNESDAY).values_list("pk", flat=True)) == [member.pk]


def test_a_member_tag_audience_gets_the_push_and_the_benefit_others_do_not(member):
    from analytics.models import MemberTag, MemberTagging

    vip = MemberTag.objects.create(name="高价值")
    tagged = MemberFactory()
    MemberTagging.objects.create(tag=vip, member=tagged)
    wednesday(audience="tags", audience_values=[vip.pk], extra_discount_bp=500)

    with time_machine.travel(WEDNESDAY, tick=False):
        assert member_days.member_days_run() == 1
        assert member_benefits(member_id=tagged.pk, at=WEDNESDAY).points_multiplier == 2
        assert member_benefits(member_id=tagged.pk, at=WEDNESDAY).discount_bp == 500
        assert member_benefits(member_id=member.pk, at=WEDNESDAY).points_multiplier == 1
        assert member_benefits(member_id=member.pk, at=WEDNESDAY).discount_bp == 0
    assert list(Notification.objects.values_list("member_id", flat=True)) == [tagged.pk]


def test_the_schedule_shows_the_active_day_with_its_end_and_the_next_ones(member):
    wed = wednesday()
    eighth = MemberDay.objects.create(name="8号", recurrence="monthly", day_of_month=8)

    active, upcoming = member_days.member_days_schedule(now=WEDNESDAY)

    assert [(o.member_day, o.ends_at) for o in active] == [(wed, local(2026, 12, 3))]
    assert [(o.member_day, o.starts_at) for o in upcoming] == [
        (eighth, local(2026, 12, 8)),
        (wed, local(2026, 12, 9)),
    ]
