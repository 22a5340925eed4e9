from decimal import Decimal
from fractions import Fraction

import pytest
import time_machine

from loyalty import rounding
from membership import benefits
from points import earning
from points.models import EarningRule, PointsBudgetMonth, PointsLot, PointsPolicy, PointsWithheld, RuleKind
from tests.factories import MemberFactory
from tests.helpers import local
from tests.points.helpers import balance

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(local(2026, 11, 18, 12), tick=False) as traveller:
        yield traveller


def rule(kind, **changes):
    EarningRule.objects.filter(kind=kind).update(**changes)
    return EarningRule.objects.get(kind=kind)


def purchase(member, order_no, paid_fen):
    return earning.points_award_purchase(member_id=member.pk, order_no=order_no, paid_fen=paid_fen)


@pytest.mark.parametrize(
    "paid_fen, per_yuan, multiplier, expected",
    [
        (9999, "1", 1, 99),  # part of a yuan earns nothing
        (10000, "1", 1, 100),
        (165000, "1", 1, 1650),
        (9999, "1", 2, 199),  # multiplied before flooring: 199.98 -> 199, not 99 × 2
        (333, "1.5", Fraction(3, 2), 7),  # 3.33 × 1.5 × 1.5 = 7.49
        (0, "1", 1, 0),
        (-100, "1", 1, 0),
    ],
)
def test_purchase_points_round_down_once_per_order(paid_fen, per_yuan, multiplier, expected):
    assert (
        rounding.purchase_points(
            eligible_fen=paid_fen, points_per_yuan=Decimal(per_yuan), multiplier=Fraction(multiplier)
        )
        == expected
    )


def test_purchase_points_use_the_benefits_multiplier(member, monkeypatch):
    monkeypatch.setattr(benefits, "points_multiplier", lambda **kw: Fraction(2))

    award = purchase(member, "SO-1", 12345)

    assert award.granted == 246
    assert balance(member) == 246


def test_an_award_is_granted_once_per_key(member):
    first = purchase(member, "SO-1", 10000)
    again = purchase(member, "SO-1", 10000)

    assert (first.granted, again.granted, again.replayed) == (100, 100, True)
    assert balance(member) == 100


def test_an_inactive_rule_grants_nothing(member):
    rule(RuleKind.SIGNUP, is_active=False)

    assert earning.points_award_signup(member_id=member.pk).granted == 0
    assert not PointsLot.objects.exists()


def test_rule_daily_cap_at_its_boundary_and_the_withheld_part_is_recorded(member):
    rule(RuleKind.PURCHASE, daily_cap=250)

    assert purchase(member, "SO-1", 15000).granted == 150
    assert purchase(member, "SO-2", 10000).granted == 100  # exactly reaches the cap
    third = purchase(member, "SO-3", 5000)

    assert (third.granted, third.withheld) == (0, 50)
    withheld = PointsWithheld.objects.get()
    assert (withheld.requested, withheld.granted, withheld.reason, withheld.reference) == (
        50,
        0,
        "rule_daily_cap",
        "SO-3",
    )
    assert purchase(member, "SO-3", 5000).withheld == 50  # a replay records nothing new
    assert PointsWithheld.objects.count() == 1


def test_a_cap_that_binds_part_way_grants_the_room_left(member):
    rule(RuleKind.PURCHASE, daily_cap=120)
    purchase(member, "SO-1", 10000)

    award = purchase(member, "SO-2", 10000)

    assert (award.granted, award.withheld) == (20, 80)
    assert balance(member) == 120


def test_the_daily_cap_starts_again_at_local_midnight(member, _clock):
    rule(RuleKind.PURCHASE, daily_cap=100)
    _clock.move_to(local(2026, 11, 18, 23, 59))
    purchase(member, "SO-1", 10000)
    assert purchase(member, "SO-2", 10000).granted == 0

    _clock.move_to(local(2026, 11, 19, 0, 0))

    assert purchase(member, "SO-3", 10000).granted == 100


def test_member_caps_across_sources_per_day_and_per_month(member, _clock):
    PointsPolicy.objects.update(member_daily_cap=300, member_monthly_cap=500)
    assert purchase(member, "SO-1", 20000).granted == 200
    award = earning.points_award_signup(member_id=member.pk)  # 100 points: reaches the day cap exactly
    assert award.granted == 100
    assert earning.points_award_profile_completed(member_id=member.pk).withheld == 20

    _clock.move_to(local(2026, 11, 20, 9))
    award = purchase(member, "SO-2", 30000)

    assert (award.granted, award.withheld) == (200, 100)
    assert PointsWithheld.objects.latest("id").reason == "member_monthly_cap"
    _clock.move_to(local(2026, 12, 1, 0, 0))
    assert purchase(member, "SO-3", 10000).granted == 100


def test_the_merchant_monthly_budget_is_shared_by_all_members(member):
    PointsPolicy.objects.update(monthly_budget=250)
    other = MemberFactory()

    assert purchase(member, "SO-1", 20000).granted == 200
    award = purchase(other, "SO-2", 20000)

    assert (award.granted, award.withheld) == (50, 150)
    assert PointsWithheld.objects.get().reason == "monthly_budget"
    assert PointsBudgetMonth.objects.get().issued == 250


def test_expiry_policies(member):
    earned = local(2026, 11, 18, 12)

    assert earning.expiry_for(
        rule(RuleKind.SIGNUP, expiry_policy="rolling_days", expiry_days=30), earned
    ) == local(2026, 12, 19)
    assert earning.expiry_for(rule(RuleKind.SIGNUP, expiry_policy="end_of_next_year"), earned) == local(
        2028, 1, 1
    )
    assert earning.expiry_for(rule(RuleKind.SIGNUP, expiry_policy="never"), earned) is None
    late = local(2026, 12, 31, 23, 59)
    assert earning.expiry_for(
        rule(RuleKind.SIGNUP, expiry_policy="rolling_days", expiry_days=1), late
    ) == local(2027, 1, 2)


def test_a_new_member_gets_the_signup_bonus_once(api, fake_wechat):
    fake_wechat.add_login("c1", openid="o-new", session_key="sk")
    fake_wechat.add_login("c2", openid="o-new", session_key="sk")

    api.post("/api/v1/auth/wechat-login", {"code": "c1"}, format="json")
    api.post("/api/v1/auth/wechat-login", {"code": "c2"}, format="json")

    from members.models import Member

    assert balance(Member.objects.get(openid="o-new")) == 100


def test_completing_the_profile_earns_points_once(member_api, member, fake_wechat):
    fake_wechat.add_phone("p1", "13800138000")
    member_api.patch(
        "/api/v1/me/profile",
        {"avatar_url": "https://img.example.com/a.png", "birthday": "1990-01-01"},
        format="json",
    )
    assert not PointsLot.objects.exists()

    member_api.post("/api/v1/me/phone", {"code": "p1"}, format="json")
    member_api.patch("/api/v1/me/profile", {"nickname": "again"}, format="json")

    assert balance(member) == 20


def test_the_first_order_bonus_is_granted_once_whatever_the_order(member):
    rule(RuleKind.FIRST_ORDER, points=300, is_active=True)

    first = earning.points_award_first_order(member_id=member.pk, order_no="SO-1")
    second = earning.points_award_first_order(member_id=member.pk, order_no="SO-2")

    assert (first.granted, second.replayed) == (300, True)
    assert balance(member) == 300


def test_an_invite_rewards_both_sides_once(member):
    rule(RuleKind.INVITER, points=200, is_active=True)
    rule(RuleKind.INVITEE, points=100, is_active=True)
    friend, other_friend = MemberFactory(referrer=member), MemberFactory(referrer=member)

    inviter, invitee = earning.points_award_invite(inviter_id=member.pk, invitee_id=friend.pk)
    again = earning.points_award_invite(inviter_id=member.pk, invitee_id=friend.pk)
    earning.points_award_invite(inviter_id=member.pk, invitee_id=other_friend.pk)

    assert (inviter.granted, invitee.granted) == (200, 100)
    assert all(award.replayed for award in again)
    assert (balance(member), balance(friend), balance(other_friend)) == (400, 100, 100)
