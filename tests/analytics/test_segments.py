from datetime import date, timedelta

import pytest
import time_machine
from django.utils import timezone

from analytics.exceptions import InvalidSegmentRule
from analytics.models import MemberTag, MemberTagging, RfmRun, RfmScore, Segment
from analytics.selectors import member_in_segment, members_matching, segment_members
from members.models import Member
from membership.cards import card_grant
from membership.models import Membership
from points.ledger import points_earn
from stored_value.ledger import stored_value_adjust
from tests.factories import CardTypeFactory, CouponTemplateFactory, MemberFactory, OrderFactory
from tests.helpers import local

pytestmark = pytest.mark.django_db


def ids(rules) -> set[int]:
    return set(members_matching(rules).values_list("pk", flat=True))


def leaf(field, value):
    return {"op": "and", "conditions": [{"field": field, "value": value}]}


@pytest.fixture
def people(admin_user):
    """Five members, each with something the rules can find."""
    a, b, c, d, e = (MemberFactory() for _ in range(5))
    Membership.objects.create(member=a, tier_level=2)
    Membership.objects.create(member=b, tier_level=1)
    OrderFactory(member=a, at=local(2026, 1, 10, 12))
    OrderFactory(member=a, at=local(2026, 3, 31, 23, 30))
    OrderFactory(member=b, at=local(2026, 2, 1, 0, 10))
    OrderFactory(
        member=c, at=local(2026, 1, 31, 23, 59), refunded_fen=10_000
    )  # fully refunded: not a purchase
    points_earn(member_id=b.pk, amount=500, idempotency_key="t-b", source="test", expires_at=None)
    points_earn(member_id=c.pk, amount=50, idempotency_key="t-c", source="test", expires_at=None)
    stored_value_adjust(
        member_id=d.pk,
        principal_fen=10_000,
        bonus_fen=1_000,
        reason="t",
        actor_id=admin_user.pk,
        idempotency_key="t-d",
    )
    Member.objects.filter(pk=a.pk).update(birthday=date(1990, 5, 3), registration_channel="store_qr")
    Member.objects.filter(pk=e.pk).update(birthday=date(1991, 12, 30), registration_channel="ad")
    vip = CardTypeFactory(name="VIP")
    card_grant(member_id=e.pk, card_type_id=vip.pk, actor_id=admin_user.pk, reason="t")
    tag = MemberTag.objects.create(name="老客")
    MemberTagging.objects.create(tag=tag, member=d)
    return {"a": a, "b": b, "c": c, "d": d, "e": e, "vip": vip, "tag": tag}


def test_each_condition_finds_its_members(people):
    p = {k: v.pk for k, v in people.items()}
    assert ids(leaf("tier", [2])) == {p["a"]}
    assert ids(leaf("tier", [0])) == {p["c"], p["d"], p["e"]}  # no membership row is level 0
    assert ids(leaf("card", [p["vip"]])) == {p["e"]}
    assert ids(leaf("last_purchase_before", "2026-02-01")) == set()  # a bought again in March
    assert ids(leaf("last_purchase_after", "2026-02-01")) == {p["a"], p["b"]}  # 00:10 local on Feb 1 counts
    assert ids(leaf("last_purchase_before", "2026-04-01")) == {p["a"], p["b"]}
    assert ids(leaf("order_count", {"min": 2})) == {p["a"]}
    assert ids(leaf("order_count", {"max": 0})) == {p["c"], p["d"], p["e"]}
    assert ids(leaf("points_balance", {"min": 100, "max": 1000})) == {p["b"]}
    assert ids(leaf("stored_value_balance", {"min": 11_000})) == {p["d"]}
    assert ids(leaf("birthday_month", [5, 12])) == {p["a"], p["e"]}
    assert ids(leaf("registration_channel", ["store_qr"])) == {p["a"]}
    assert ids(leaf("tag", [p["tag"]])) == {p["d"]}


def test_groups_combine_with_and_and_or_and_nest(people):
    p = {k: v.pk for k, v in people.items()}
    either = {
        "op": "or",
        "conditions": [{"field": "tier", "value": [1, 2]}, {"field": "tag", "value": [p["tag"]]}],
    }
    assert ids(either) == {p["a"], p["b"], p["d"]}
    both = {"op": "and", "conditions": [either, {"field": "order_count", "value": {"min": 1}}]}
    assert ids(both) == {p["a"], p["b"]}
    nested = {
        "op": "or",
        "conditions": [both, {"op": "and", "conditions": [{"field": "birthday_month", "value": [12]}]}],
    }
    assert ids(nested) == {p["a"], p["b"], p["e"]}


def test_the_rfm_segment_condition_reads_the_latest_scores(people):
    run = RfmRun.objects.create(as_of=timezone.now(), window_days=365, status="done")
    RfmScore.objects.create(
        member=people["a"], run=run, last_purchase_at=timezone.now(), recency_days=1, frequency=2,
        monetary_fen=1, r_score=5, f_score=5, m_score=5, segment="important_value",
    )  # fmt: skip
    assert ids(leaf("rfm_segment", ["important_value"])) == {people["a"].pk}
    assert ids(leaf("rfm_segment", ["general_retain"])) == set()


def test_closed_accounts_are_in_no_segment(people):
    Member.objects.filter(pk=people["a"].pk).update(closed_at=timezone.now())
    assert ids(leaf("tier", [2])) == set()


@pytest.mark.parametrize(
    "rules",
    [
        None,
        {},
        {"op": "xor", "conditions": [{"field": "tier", "value": [1]}]},
        {"op": "and", "conditions": []},
        {"op": "and", "conditions": [{"field": "shoe_size", "value": [42]}]},
        {"op": "and", "conditions": [{"field": "tier", "value": "1; DROP TABLE members_member"}]},
        {"op": "and", "conditions": [{"field": "birthday_month", "value": [13]}]},
        {"op": "and", "conditions": [{"field": "points_balance", "value": {"min": 10, "max": 1}}]},
        {"op": "and", "conditions": [{"field": "last_purchase_after", "value": "yesterday"}]},
        {"op": "and", "conditions": [{"field": "rfm_segment", "value": ["vip"]}]},
        {"op": "and", "conditions": [{"field": "last_purchase_within_days", "value": "90 days"}]},
        {"op": "and", "conditions": [{"field": "last_purchase_not_within_days", "value": 3651}]},
    ],
)
def test_invalid_rules_are_refused_with_a_stable_code(rules):
    before = Member.objects.count()
    with pytest.raises(InvalidSegmentRule) as err:
        members_matching(rules).count()
    assert err.value.code == "invalid_segment_rule" and Member.objects.count() == before


def test_a_deleted_segment_has_no_members_rather_than_everybody(people):
    segment = Segment.objects.create(name="all tiers", rules=leaf("tier", [0, 1, 2]))
    assert segment_members(segment_id=segment.pk).count() == 5
    assert member_in_segment(segment_id=segment.pk, member_id=people["a"].pk)
    segment.delete()
    assert segment_members(segment_id=segment.pk).count() == 0


def test_a_coupon_for_a_segment_is_offered_only_to_its_members(people):
    from coupons.audience import member_in_audience

    segment = Segment.objects.create(name="buyers", rules=leaf("order_count", {"min": 1}))
    coupon = CouponTemplateFactory(audience="segment", audience_values=[segment.pk])
    assert member_in_audience(template=coupon, member=people["a"])
    assert not member_in_audience(template=coupon, member=people["d"])
    nobody = CouponTemplateFactory(audience="segment", audience_values=[])
    assert not member_in_audience(template=nobody, member=people["a"])


def test_a_member_day_for_a_segment_reaches_only_its_members(people):
    from membership.member_days import audience_members
    from membership.models import MemberDay

    segment = Segment.objects.create(name="birthday in May", rules=leaf("birthday_month", [5]))
    day = MemberDay.objects.create(
        name="d", recurrence="weekly", weekday=2, audience="segment", audience_values=[segment.pk]
    )
    assert set(audience_members(day, at=timezone.now()).values_list("pk", flat=True)) == {people["a"].pk}
    day.audience_values = []
    assert not audience_members(day, at=timezone.now()).exists()


def test_bulk_issue_to_a_segment_queues_exactly_its_members(people, admin_client):
    from coupons.models import BulkIssue, BulkIssueTarget

    segment = Segment.objects.create(name="tiers", rules=leaf("tier", [1, 2]))
    coupon = CouponTemplateFactory(total_stock=100)
    url = f"/admin/coupons/coupontemplate/{coupon.pk}/bulk-issue/"
    response = admin_client.post(url, {"segment": segment.pk})
    assert response.status_code == 302
    bulk = BulkIssue.objects.get()
    assert set(BulkIssueTarget.objects.filter(bulk_issue=bulk).values_list("member_id", flat=True)) == {
        people["a"].pk,
        people["b"].pk,
    }


def test_bulk_issue_to_an_empty_segment_is_refused_and_queues_nothing(people, admin_client):
    from coupons.models import BulkIssue

    segment = Segment.objects.create(name="nobody", rules=leaf("tier", [9]))
    coupon = CouponTemplateFactory(total_stock=100)
    response = admin_client.post(
        f"/admin/coupons/coupontemplate/{coupon.pk}/bulk-issue/", {"segment": segment.pk}
    )
    assert response.status_code == 200 and not BulkIssue.objects.exists()


def test_the_admin_previews_the_live_count_and_explains_a_bad_rule(people, admin_client):
    import json

    url = "/admin/analytics/segment/preview/"
    ok = admin_client.post(url, {"rules": json.dumps(leaf("tier", [1, 2]))})
    assert ok.status_code == 200 and ok.json() == {"count": 2}
    bad = admin_client.post(url, {"rules": json.dumps(leaf("tier", "x"))})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_segment_rule"
    garbled = admin_client.post(url, {"rules": "{not json"})
    assert garbled.status_code == 400


def test_the_admin_refuses_to_save_a_segment_with_a_bad_rule(admin_client):
    import json

    response = admin_client.post(
        "/admin/analytics/segment/add/",
        {"name": "x", "description": "", "rules": json.dumps(leaf("tier", "x"))},
    )
    assert response.status_code == 200 and not Segment.objects.exists()
    response = admin_client.post(
        "/admin/analytics/segment/add/",
        {"name": "x", "description": "", "rules": json.dumps(leaf("tier", [1]))},
    )
    assert response.status_code == 302 and Segment.objects.count() == 1


def test_a_coupon_template_for_a_segment_must_name_an_existing_one(admin_client):
    from coupons.admin import CouponTemplateForm

    form = CouponTemplateForm(data={"audience": "segment", "audience_segment": "999"})
    form.is_valid()
    assert "audience_segment" in form.errors


def test_the_relative_purchase_conditions_count_back_from_today_as_the_days_pass():
    now = timezone.now()
    lately, long_ago, never = MemberFactory(), MemberFactory(), MemberFactory()
    OrderFactory(member=lately, at=now - timedelta(days=5))
    OrderFactory(member=long_ago, at=now - timedelta(days=100))

    assert ids(leaf("last_purchase_within_days", 30)) == {lately.pk}
    assert ids(leaf("last_purchase_not_within_days", 30)) == {long_ago.pk}  # never bought: in neither
    with time_machine.travel(now + timedelta(days=60)):  # the same rule, two months on
        assert ids(leaf("last_purchase_within_days", 30)) == set()
        assert ids(leaf("last_purchase_not_within_days", 30)) == {lately.pk, long_ago.pk}
    assert never.pk not in ids(leaf("last_purchase_within_days", 3650))
