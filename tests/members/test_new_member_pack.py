"""The new-member gift pack (新人礼): chosen in the membership policy, given once when a member registers."""

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from coupons.demo import Coupons
from coupons.models import Coupon, GiftPackGrant, GiftPackItem
from loyalty.demo import Timeline
from members.demo import member_register
from members.models import Member
from members.services import member_login_dev
from membership.models import MembershipPolicy
from points.models import PointsEntry
from tests.concurrency import run_concurrently
from tests.factories import CouponTemplateFactory, GiftPackFactory
from tests.membership.helpers import policy

LOGIN = "/api/v1/auth/wechat-login"


def welcome_pack(points=88):
    p = GiftPackFactory(name="新人礼包", points=points)
    GiftPackItem.objects.create(
        pack=p, template=CouponTemplateFactory(name="新人券", total_stock=100), quantity=1
    )
    policy(new_member_pack=p)
    return p


def grants_of(member) -> list[tuple[int, str]]:
    return list(GiftPackGrant.objects.filter(member=member).values_list("pack_id", "occasion"))


@pytest.mark.django_db
def test_a_member_registering_through_wechat_gets_the_chosen_pack_once(api, fake_wechat):
    p = welcome_pack()
    fake_wechat.add_login("c1", openid="o-new", session_key="sk-1")
    fake_wechat.add_login("c2", openid="o-new", session_key="sk-2")

    first = api.post(LOGIN, {"code": "c1"}, format="json")
    again = api.post(LOGIN, {"code": "c2"}, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    member = Member.objects.get(openid="o-new")
    assert grants_of(member) == [(p.pk, "new_member")]
    assert list(Coupon.objects.filter(member=member).values_list("template__name", "source")) == [
        ("新人券", "gift_pack")
    ]
    assert list(
        PointsEntry.objects.filter(account__member=member, source="gift_pack").values_list(
            "amount", flat=True
        )
    ) == [88]


@pytest.mark.django_db
def test_the_dev_login_that_creates_a_member_gives_it_too():
    p = welcome_pack()

    first = member_login_dev(code="alice")
    again = member_login_dev(code="alice")

    assert first.created and not again.created
    assert grants_of(first.member) == [(p.pk, "new_member")]


@pytest.mark.django_db
def test_with_no_pack_chosen_registration_gives_none():
    policy(new_member_pack=None)

    result = member_login_dev(code="bob")

    assert result.created and not GiftPackGrant.objects.exists() and not Coupon.objects.exists()


@pytest.mark.django_db
def test_the_policy_page_offers_the_gift_packs_in_a_select(admin_client):
    p = welcome_pack()

    page = admin_client.get(f"/admin/membership/membershippolicy/{MembershipPolicy.objects.get().pk}/change/")

    html = page.content.decode()
    assert page.status_code == 200
    assert 'name="new_member_pack"' in html and "<select" in html and "新人礼包" in html
    assert f'<option value="{p.pk}" selected>' in html


@pytest.mark.django_db
def test_the_demo_chooses_the_pack_in_the_policy_and_gives_it_the_way_registration_does():
    now = timezone.now()
    Coupons(Timeline(start=now - timedelta(days=365), end=now))  # its templates, the pack, the policy
    for n in range(3):
        member_register(n=n, rng=random.Random(n), inviters=[])

    chosen = MembershipPolicy.objects.get().new_member_pack
    assert chosen is not None and chosen.name == "新人礼包"
    assert set(GiftPackGrant.objects.values_list("pack_id", "occasion")) == {(chosen.pk, "new_member")}
    assert GiftPackGrant.objects.count() == 3
    later = member_login_dev(code="after-the-demo")
    assert grants_of(later.member) == [(chosen.pk, "new_member")]


@pytest.mark.django_db(transaction=True)
@pytest.mark.xdist_group("many-connections")
def test_two_first_logins_in_parallel_make_one_member_and_one_grant():
    p = welcome_pack(points=50)
    results, codes = run_concurrently(lambda i: member_login_dev(code="same-code"), 2)

    assert codes == [] and len(results) == 2
    assert sorted(r.created for r in results) == [False, True]
    member = Member.objects.get()
    assert {r.member.pk for r in results} == {member.pk}
    assert grants_of(member) == [(p.pk, "new_member")]
    assert Coupon.objects.filter(member=member).count() == 1
    assert list(PointsEntry.objects.filter(source="gift_pack").values_list("amount", flat=True)) == [50]
