"""Rate limits (check-in, coupon claim) and abuse limits (rewards once per phone, invite rewards per day)."""

from __future__ import annotations

import pytest
import time_machine
from rest_framework.throttling import ScopedRateThrottle

from coupons.models import Coupon
from members.models import Member
from points import earning
from points.models import CheckIn, EarningRule, PhoneReward, PointsWithheld, RuleKind
from tests.factories import CouponTemplateFactory, MemberFactory
from tests.helpers import client_for, local
from tests.points.helpers import balance

pytestmark = pytest.mark.django_db


@pytest.fixture
def strict_rates(monkeypatch):
    # DRF reads the rates once at import, so patch the class, not settings.
    monkeypatch.setattr(
        ScopedRateThrottle,
        "THROTTLE_RATES",
        {"login": "1000/min", "check_in": "3/min", "coupon_claim": "2/min"},
    )


def test_check_in_is_throttled_per_member_with_code_throttled(strict_rates, member_api):
    statuses = [member_api.post("/api/v1/points/check-in").status_code for _ in range(5)]

    assert statuses == [201, 200, 200, 429, 429]
    refused = member_api.post("/api/v1/points/check-in")
    assert refused.json()["code"] == "throttled" and int(refused.headers["Retry-After"]) > 0
    assert CheckIn.objects.count() == 1
    # Another member has an allowance of their own.
    assert client_for(MemberFactory()).post("/api/v1/points/check-in").status_code == 201


def test_coupon_claims_are_throttled_per_member_and_a_refused_claim_issues_nothing(strict_rates, member_api):
    templates = [CouponTemplateFactory(name=f"t{i}") for i in range(4)]

    statuses = [
        member_api.post(
            "/api/v1/coupons/claim", {"template_id": t.pk}, format="json", HTTP_IDEMPOTENCY_KEY=f"k{i}"
        ).status_code
        for i, t in enumerate(templates)
    ]

    assert statuses == [201, 201, 429, 429]
    assert Coupon.objects.count() == 2


def test_the_rates_come_from_the_environment_with_safe_defaults():
    from loyalty.settings import base

    rates = base.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert set(rates) >= {"login", "check_in", "coupon_claim"}


# --- once per phone --------------------------------------------------------------------------


def bind(api_client, fake_wechat, phone, code):
    fake_wechat.add_phone(code, phone)
    return api_client.post("/api/v1/me/phone", {"code": code}, format="json")


def login(api, fake_wechat, code, openid):
    fake_wechat.add_login(code, openid=openid, session_key="sk-" + code)
    response = api.post("/api/v1/auth/wechat-login", {"code": code}, format="json")
    assert response.status_code == 201
    return client_for(Member.objects.get(openid=openid))


def test_a_phone_bound_again_to_a_new_member_does_not_earn_the_signup_bonus_twice(api, fake_wechat):
    first = login(api, fake_wechat, "c1", "o-first")
    assert bind(first, fake_wechat, "13800138000", "p1").status_code == 200
    old = Member.objects.get(openid="o-first")
    assert balance(old) == 100
    Member.objects.filter(pk=old.pk).update(phone="", nickname="")  # closed and anonymised

    second = login(api, fake_wechat, "c2", "o-second")
    new = Member.objects.get(openid="o-second")
    assert balance(new) == 100  # paid at sign-up, before the phone is known
    assert bind(second, fake_wechat, "13800138000", "p2").status_code == 200
    bind(second, fake_wechat, "13800138000", "p3")  # binding again changes nothing more

    assert balance(new) == 0
    assert balance(old) == 100
    withheld = PointsWithheld.objects.get(account__member=new)
    assert (withheld.rule_kind, withheld.withheld, withheld.reason) == ("signup", 100, "phone_rewarded")
    # Only a keyed hash of the number is kept.
    assert not PhoneReward.objects.filter(phone_hash__contains="13800138000").exists()
    assert PhoneReward.objects.get(rule_kind="signup").member_id == old.pk


def test_a_new_phone_keeps_its_signup_bonus(api, fake_wechat):
    client = login(api, fake_wechat, "c1", "o-1")
    bind(client, fake_wechat, "13900139000", "p1")

    assert balance(Member.objects.get(openid="o-1")) == 100
    assert not PointsWithheld.objects.exists()


def test_the_profile_reward_is_paid_once_per_phone(fake_wechat):
    profile = {"nickname": "n", "avatar_url": "https://img.example.com/a.png", "birthday": "1990-01-01"}
    old, new = MemberFactory(), MemberFactory()
    old_api, new_api = client_for(old), client_for(new)
    old_api.patch("/api/v1/me/profile", profile, format="json")
    bind(old_api, fake_wechat, "13700137000", "p1")
    assert balance(old) == 20
    Member.objects.filter(pk=old.pk).update(phone="")

    new_api.patch("/api/v1/me/profile", profile, format="json")
    bind(new_api, fake_wechat, "13700137000", "p2")

    assert not hasattr(new, "points_account") or balance(new) == 0
    assert PointsWithheld.objects.get(account__member=new).reason == "phone_rewarded"


# --- invite rewards per inviter per day --------------------------------------------------------


def test_invite_rewards_stop_at_the_daily_cap_and_the_rest_are_recorded(settings):
    settings.INVITE_REWARDS_PER_DAY = 2
    EarningRule.objects.filter(kind__in=[RuleKind.INVITER, RuleKind.INVITEE]).update(
        is_active=True, points=30
    )
    inviter = MemberFactory()
    friends = [MemberFactory(referrer=inviter) for _ in range(4)]

    with time_machine.travel(local(2026, 11, 16, 10), tick=False):
        awards = [earning.points_award_invite(inviter_id=inviter.pk, invitee_id=f.pk)[0] for f in friends[:3]]
        again = earning.points_award_invite(inviter_id=inviter.pk, invitee_id=friends[2].pk)[0]
    with time_machine.travel(local(2026, 11, 17, 10), tick=False):
        next_day = earning.points_award_invite(inviter_id=inviter.pk, invitee_id=friends[3].pk)[0]

    assert [a.granted for a in awards] == [30, 30, 0]
    assert (again.granted, again.withheld) == (0, 30)  # a replay does not slip past the cap
    assert next_day.granted == 30
    assert balance(inviter) == 90
    withheld = PointsWithheld.objects.get(account__member=inviter)
    assert (withheld.reason, withheld.withheld, withheld.idempotency_key) == (
        "invite_daily_cap",
        30,
        f"inviter:{friends[2].pk}",
    )
    assert all(balance(f) == 30 for f in friends)  # the invited friends are never capped


def test_the_invite_cap_defaults_to_ten():
    from loyalty.settings import base

    assert base.INVITE_REWARDS_PER_DAY == 10


def test_a_member_who_changes_to_a_number_rewarded_before_keeps_their_own_signup_bonus(api, fake_wechat):
    closed = login(api, fake_wechat, "c0", "o-closed")
    bind(closed, fake_wechat, "13600136000", "p0")
    Member.objects.filter(openid="o-closed").update(phone="")
    member = login(api, fake_wechat, "c1", "o-member")
    bind(member, fake_wechat, "13500135000", "p1")  # their own, new number: the bonus is theirs

    bind(member, fake_wechat, "13600136000", "p2")  # later they change to the recycled number

    assert balance(Member.objects.get(openid="o-member")) == 100
    assert not PointsWithheld.objects.exists()
