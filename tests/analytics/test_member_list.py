"""The member list: tier, points, balance, last purchase and total spend in one query; filters by tier,
channel, tag and segment; search by phone, nickname or openid."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics.models import MemberTag, MemberTagging, Segment
from membership.models import Membership
from tests.factories import EarnedPointsFactory, MemberFactory, OrderFactory, RechargeFactory
from tests.membership.helpers import standard_tiers

pytestmark = pytest.mark.django_db


@pytest.fixture
def gold():
    """A tier-2 member with points, stored value, a purchase and a tag; and a member with nothing."""
    standard_tiers()
    member = MemberFactory(nickname="金卡会员", phone="13900000001", openid="o-gold", registration_channel="")
    Membership.objects.create(member=member, tier_level=2, paid_total_fen=123_400)
    EarnedPointsFactory(member=member, amount=800)
    RechargeFactory(member=member, amount_fen=5_000, bonus_fen=500)
    OrderFactory(member=member, cash_fen=20_000, at=timezone.now() - timedelta(days=2))
    MemberTagging.objects.create(tag=MemberTag.objects.create(name="高价值"), member=member)
    MemberFactory(nickname="新会员", phone="13900000002", openid="o-new")
    return member


def _rows(response) -> dict[str, list[str]]:
    cl = response.context["cl"]
    return {
        m.nickname: [str(column(m)) for column in cl.list_display if callable(column)] for m in cl.result_list
    }


def test_the_list_shows_tier_points_balance_last_purchase_and_spend_in_one_query(
    admin_client, gold, django_assert_max_num_queries
):
    admin_client.get("/admin/members/member/")  # warm the session and the caches

    # session, user, the filters' choices (channels, tiers, tags, segments, home stores), the count, the
    # sidebar's settings pages, the date hierarchy, and ONE query for the page of members with all its columns
    with django_assert_max_num_queries(17):
        response = admin_client.get("/admin/members/member/")

    page = response.content.decode()
    for header in ("等级", "积分", "储值余额", "最近消费", "累计消费"):
        assert header in page
    rows = _rows(response)
    assert rows["金卡会员"] == [
        "L2",
        "800",
        "¥55.00",
        (timezone.localdate() - timedelta(days=2)).isoformat(),
        "¥1,234.00",
    ]
    assert rows["新会员"] == ["L0", "0", "¥0.00", "—", "¥0.00"]


def test_the_columns_cost_the_same_queries_for_many_members_as_for_few(admin_client, gold):
    admin_client.get("/admin/members/member/")
    few = _queries(admin_client)
    for n in range(10):
        member = MemberFactory(nickname=f"会员{n}")
        EarnedPointsFactory(member=member, amount=10)
        OrderFactory(member=member)

    assert _queries(admin_client) == few


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/admin/members/member/").status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    "query, shown",
    [
        ("tier=2", {"金卡会员"}),
        ("tier=0", {"新会员"}),
        ("tag=TAG", {"金卡会员"}),
        ("segment=SEGMENT", {"金卡会员"}),
        ("q=13900000002", {"新会员"}),
        ("q=金卡", {"金卡会员"}),
        ("q=o-gold", {"金卡会员"}),
    ],
)
def test_the_list_filters_by_tier_tag_and_segment_and_searches_phone_nickname_openid(
    admin_client, gold, query, shown
):
    tag = MemberTag.objects.get(name="高价值")
    segment = Segment.objects.create(
        name="买过的", rules={"op": "and", "conditions": [{"field": "order_count", "value": {"min": 1}}]}
    )
    query = query.replace("TAG", str(tag.pk)).replace("SEGMENT", str(segment.pk))

    response = admin_client.get(f"/admin/members/member/?{query}")

    assert response.status_code == 200
    assert {m.nickname for m in response.context["cl"].result_list} == shown


def test_the_filters_offer_tiers_tags_and_segments_by_name(admin_client, gold):
    Segment.objects.create(name="买过的", rules={})
    page = admin_client.get("/admin/members/member/").content.decode()

    for choice in ("L2", "高价值", "买过的"):
        assert choice in page


def test_a_member_page_carries_its_actions_as_buttons(admin_client, gold):
    page = admin_client.get(f"/admin/members/member/{gold.pk}/change/").content.decode()

    assert f'href="/admin/members/member/{gold.pk}/overview/"' in page
    assert f'href="/admin/membership/membershipcard/grant/?member={gold.pk}"' in page
    assert f'href="/admin/points/pointsaccount/{gold.points_account.pk}/adjust/"' in page
    assert f'href="/admin/stored_value/storedvalueaccount/{gold.stored_value_account.pk}/adjust/"' in page
    grant = admin_client.get(f"/admin/membership/membershipcard/grant/?member={gold.pk}").content.decode()
    assert f'value="{gold.pk}"' in grant
