"""The segment builder: a segment's rules built from conditions an operator picks (no JSON), with the
live count of the members they match, asked of the admin's count endpoint."""

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.models import MemberTag, Segment
from analytics.segment_builder import field_specs
from analytics.segments import FIELDS
from members.models import Channel
from points.ledger import points_earn
from tests.factories import CardTypeFactory, MemberFactory, OrderFactory
from tests.membership.helpers import standard_tiers

pytestmark = pytest.mark.django_db

PREVIEW = "/admin/analytics/segment/preview/"

BOUGHT_LATELY_WITH_POINTS = {
    "op": "and",
    "conditions": [
        {"field": "last_purchase_within_days", "value": 90},
        {"field": "points_balance", "value": {"min": 1000}},
    ],
}


@pytest.fixture
def shoppers():
    """Who bought in the last 90 days, who holds 1,000 points or more, and both."""
    now = timezone.now()
    both, recent_only, points_only, old_buyer = (MemberFactory() for _ in range(4))
    OrderFactory(member=both, at=now - timedelta(days=10))
    OrderFactory(member=recent_only, at=now - timedelta(days=89))
    OrderFactory(member=old_buyer, at=now - timedelta(days=120))
    for i, member in enumerate((both, points_only, old_buyer)):
        points_earn(
            member_id=member.pk, amount=1_000 + i, idempotency_key=f"p{i}", source="t", expires_at=None
        )
    points_earn(member_id=recent_only.pk, amount=999, idempotency_key="p9", source="t", expires_at=None)
    return {"both": both, "recent_only": recent_only, "points_only": points_only, "old_buyer": old_buyer}


def test_every_condition_of_the_segments_is_offered_by_the_builder_with_a_chinese_label():
    specs = field_specs()

    assert [s["field"] for s in specs if s["field"] in FIELDS] == [s["field"] for s in specs]
    assert {s["field"] for s in specs} == set(FIELDS)
    assert all(re.search(r"[\u4e00-\u9fff]", s["label"]) for s in specs)


def test_the_builder_offers_tiers_cards_tags_and_channels_by_name():
    standard_tiers()
    vip = CardTypeFactory(name="VIP 卡")
    tag = MemberTag.objects.create(name="老客")
    Channel.objects.create(code="qr:store-01", name="门店码·一号店")
    MemberFactory(registration_channel="wechat_ad")

    options = {s["field"]: s.get("options") for s in field_specs()}

    assert options["tier"] == [[0, "L0"], [1, "L1"], [2, "L2"], [3, "L3"]]
    assert options["card"] == [[vip.pk, "VIP 卡"]] and options["tag"] == [[tag.pk, "老客"]]
    assert ["qr:store-01", "门店码·一号店"] in options["registration_channel"]
    assert ["wechat_ad", "wechat_ad"] in options["registration_channel"]  # not named yet: its code
    assert options["birthday_month"][0] == [1, "一月"]


def test_the_segment_page_is_a_builder_not_a_json_box(admin_client):
    standard_tiers()

    page = admin_client.get("/admin/analytics/segment/add/").content.decode()

    assert 'type="hidden" name="rules"' in page and "<textarea" not in page.split('name="rules"')[0][-300:]
    assert 'class="sb"' in page and "loyalty/segment_builder.js" in page
    assert "预估人数" in page and "最近 N 天内购买过" in page and "积分余额" in page
    assert 'data-count-url="/admin/analytics/segment/preview/"' in page
    assert "{&quot;op&quot;" not in page.split('class="sb"')[1]  # the tree is drawn, not shown


def test_the_count_endpoint_answers_how_many_members_a_rule_matches(admin_client, shoppers):
    response = admin_client.post(PREVIEW, {"rules": json.dumps(BOUGHT_LATELY_WITH_POINTS)})

    assert response.status_code == 200 and response.json() == {"count": 1}  # only "both"
    either = {**BOUGHT_LATELY_WITH_POINTS, "op": "or"}
    assert admin_client.post(PREVIEW, {"rules": json.dumps(either)}).json() == {"count": 4}


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (
            {"op": "and", "conditions": [{"field": "points_balance", "value": {"min": 10, "max": 1}}]},
            "最小值大于最大值。",
        ),
        ({"op": "and", "conditions": []}, "条件组至少需要一个条件。"),
        ({"op": "and", "conditions": [{"field": "last_purchase_within_days", "value": 0}]}, "0 超出范围。"),
    ],
)
def test_the_count_endpoint_refuses_a_bad_rule_with_a_chinese_message(admin_client, rules, message):
    response = admin_client.post(PREVIEW, {"rules": json.dumps(rules)})

    assert response.status_code == 400
    assert response.json() == {"code": "invalid_segment_rule", "message": message}


def test_a_segment_built_in_the_builder_is_saved_as_its_rule_tree(admin_client, shoppers):
    response = admin_client.post(
        "/admin/analytics/segment/add/",
        {"name": "近90天消费且积分≥1000", "description": "", "rules": json.dumps(BOUGHT_LATELY_WITH_POINTS)},
    )

    assert response.status_code == 302
    segment = Segment.objects.get()
    assert segment.rules == BOUGHT_LATELY_WITH_POINTS
    bad = admin_client.post(
        f"/admin/analytics/segment/{segment.pk}/change/",
        {"name": segment.name, "description": "", "rules": json.dumps({"op": "and", "conditions": []})},
    )
    assert bad.status_code == 200
    assert bad.context["adminform"].form.errors["rules"] == ["条件组至少需要一个条件。"]


def test_a_viewer_reads_the_conditions_in_words_not_the_rule_tree(client, shoppers):
    from tests.points.test_admin import staff

    standard_tiers()
    segment = Segment.objects.create(
        name="近90天消费且积分≥1000",
        rules={
            **BOUGHT_LATELY_WITH_POINTS,
            "conditions": [
                *BOUGHT_LATELY_WITH_POINTS["conditions"],
                {
                    "op": "or",
                    "conditions": [
                        {"field": "tier", "value": [2, 3]},
                        {"field": "stored_value_balance", "value": {"max": 50_000}},
                    ],
                },
            ],
        },
    )
    staff(client, "viewer", "analytics.view_segment")

    page = client.get(f"/admin/analytics/segment/{segment.pk}/change/").content.decode()

    assert (
        "会员满足以下全部条件（并且）：最近 90 天内购买过；积分余额 不少于 1,000 积分；"
        "（以下任一条件（或者）：会员等级：L2、L3；储值余额 不超过 500.00 元）"
    ) in page
    assert "last_purchase_within_days" not in page and "&quot;op&quot;" not in page
