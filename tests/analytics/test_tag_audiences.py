"""Member tags (会员标签) as an audience: analytics tells coupons and member days who carries the tags."""

from datetime import timedelta

import pytest
import time_machine

from analytics.models import MemberTag, MemberTagging, Segment
from coupons import audience, selectors, services
from coupons.models import Coupon
from loyalty.errors import ApplicationError
from membership import member_days
from membership.benefits import member_benefits
from membership.models import MemberDay
from notifications.models import Notification
from tests.factories import CouponTemplateFactory, MemberFactory
from tests.helpers import local, page_text
from tests.membership.helpers import set_tiers

pytestmark = pytest.mark.django_db

WEDNESDAY = local(2026, 12, 2, 12, 0)  # 2 December 2026 is a Wednesday


@pytest.fixture
def people(db):
    """高价值 on a, 复购 on b and on a, nothing on c."""
    set_tiers((0, 0))
    valuable, repeat = MemberTag.objects.create(name="高价值"), MemberTag.objects.create(name="复购")
    a, b, c = MemberFactory(), MemberFactory(), MemberFactory()
    MemberTagging.objects.bulk_create(
        [
            MemberTagging(tag=valuable, member=a),
            MemberTagging(tag=repeat, member=a),
            MemberTagging(tag=repeat, member=b),
        ]
    )
    return {"valuable": valuable, "repeat": repeat, "a": a, "b": b, "c": c}


def claim(member, template, key="k"):
    return services.coupon_claim(member=member, template_id=template.pk, idempotency_key=key)


def refused(member, template) -> str:
    with pytest.raises(ApplicationError) as exc:
        claim(member, template, key=f"refused-{member.pk}")
    return exc.value.code


def test_a_member_carrying_any_one_of_the_tags_may_claim_the_coupon(people):
    tpl = CouponTemplateFactory(audience="tags", audience_values=[people["valuable"].pk, people["repeat"].pk])

    assert claim(people["a"], tpl, key="a").member_id == people["a"].pk
    assert claim(people["b"], tpl, key="b").member_id == people["b"].pk  # 复购 only: one tag is enough
    tpl.refresh_from_db()
    assert tpl.issued_count == 2


def test_a_member_carrying_none_of_the_tags_is_refused_and_nothing_is_issued(people):
    tpl = CouponTemplateFactory(audience="tags", audience_values=[people["valuable"].pk])

    assert refused(people["b"], tpl) == refused(people["c"], tpl) == "not_in_audience"
    tpl.refresh_from_db()
    assert tpl.issued_count == 0 and not Coupon.objects.exists()


def test_the_claim_centre_offers_a_tag_coupon_only_to_those_carrying_a_tag(people):
    tpl = CouponTemplateFactory(audience="tags", audience_values=[people["repeat"].pk])

    assert [row["template"] for row in selectors.claim_centre(member=people["b"])] == [tpl]
    assert selectors.claim_centre(member=people["c"]) == []


def test_a_deleted_tag_or_no_tag_is_nobody_never_everybody(people):
    gone = CouponTemplateFactory(audience="tags", audience_values=[people["valuable"].pk])
    empty = CouponTemplateFactory(audience="tags", audience_values=[])
    people["valuable"].delete()

    for member in (people["a"], people["b"], people["c"]):
        assert not audience.member_in_audience(template=gone, member=member)
        assert not audience.member_in_audience(template=empty, member=member)
    assert refused(people["a"], gone) == "not_in_audience"
    assert not Coupon.objects.exists()


def test_the_tag_picker_offers_every_tag_by_name(people):
    assert audience.audience_choices("tags") == [
        (people["repeat"].pk, "复购"),
        (people["valuable"].pk, "高价值"),
    ]


def test_a_member_day_for_a_tag_gives_its_multiplier_and_discount_to_carriers_only(people):
    MemberDay.objects.create(
        name="标签日",
        recurrence="weekly",
        weekday=2,
        points_multiplier=2,
        extra_discount_bp=500,
        audience="tags",
        audience_values=[people["valuable"].pk],
    )

    tagged = member_benefits(member_id=people["a"].pk, at=WEDNESDAY)
    other = member_benefits(member_id=people["b"].pk, at=WEDNESDAY)

    assert (tagged.points_multiplier, tagged.discount_bp) == (2, 500)
    assert (other.points_multiplier, other.discount_bp) == (1, 0)


def test_a_member_day_for_tags_is_pushed_to_the_carriers_of_any_of_them(people):
    MemberDay.objects.create(
        name="标签日", recurrence="weekly", weekday=2, audience="tags", audience_values=[people["repeat"].pk]
    )

    with time_machine.travel(WEDNESDAY, tick=False):
        assert member_days.member_days_run() == 2

    assert set(Notification.objects.values_list("member_id", flat=True)) == {people["a"].pk, people["b"].pk}


def test_a_member_day_whose_tags_are_deleted_reaches_nobody(people):
    day = MemberDay.objects.create(
        name="标签日",
        recurrence="weekly",
        weekday=2,
        audience="tags",
        audience_values=[people["valuable"].pk],
    )
    people["valuable"].delete()

    assert not member_days.audience_members(day, at=WEDNESDAY).exists()
    assert not member_days.member_in_audience(day, member_id=people["a"].pk, at=WEDNESDAY)
    day.audience_values = []
    assert not member_days.audience_members(day, at=WEDNESDAY).exists()
    with time_machine.travel(WEDNESDAY + timedelta(minutes=1), tick=False):
        assert member_days.member_days_run() == 0
    assert not Notification.objects.exists()


def test_a_bulk_issue_to_a_tag_reaches_its_members_and_no_closed_account(
    people, admin_client, django_capture_on_commit_callbacks
):
    from coupons.models import BulkIssue
    from members.closure import member_close

    closed = MemberFactory()
    MemberTagging.objects.create(tag=people["repeat"], member=closed)
    member_close(member_id=closed.pk)
    tpl = CouponTemplateFactory(total_stock=100)
    url = f"/admin/coupons/coupontemplate/{tpl.pk}/bulk-issue/"

    refused = admin_client.post(url, {"tags": [str(people["valuable"].pk + people["repeat"].pk + 99)]})
    assert refused.status_code == 200 and BulkIssue.objects.count() == 0  # an unknown tag: refused
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, {"tags": [str(people["repeat"].pk)]})

    assert response.status_code == 302
    assert BulkIssue.objects.get().total == 2
    assert set(Coupon.objects.values_list("member_id", flat=True)) == {people["a"].pk, people["b"].pk}


def test_a_tag_an_audience_uses_is_not_deleted_and_the_page_names_the_audiences(admin_client, people):
    """Deleting it would leave the audiences below pointing at no one: refused, each audience linked."""
    valuable, repeat = people["valuable"], people["repeat"]
    Segment.objects.create(
        name="高价值复购",
        rules={
            "op": "and",
            "conditions": [{"op": "or", "conditions": [{"field": "tag", "value": [valuable.pk]}]}],
        },
    )
    template = CouponTemplateFactory(name="高价值专享券", audience="tags", audience_values=[valuable.pk])
    MemberDay.objects.create(
        name="高价值会员日",
        recurrence="weekly",
        weekday=2,
        audience="tags",
        audience_values=[str(valuable.pk)],
    )
    url = f"/admin/analytics/membertag/{valuable.pk}/delete/"

    page = admin_client.get(url)
    refused = admin_client.post(url, {"post": "yes"})
    selected = admin_client.post(
        "/admin/analytics/membertag/",
        {"action": "delete_selected", "_selected_action": [valuable.pk, repeat.pk], "post": "yes"},
    )

    text = page_text(page)
    assert "该标签无法删除" in text
    assert all(name in text for name in ("高价值复购", "高价值专享券", "高价值会员日"))
    assert f"/admin/coupons/coupontemplate/{template.pk}/change/" in page.content.decode()
    assert refused.status_code == 200 and "该标签无法删除" in page_text(refused)
    assert "该标签无法删除" in page_text(selected)
    assert MemberTag.objects.filter(pk__in=[valuable.pk, repeat.pk]).count() == 2
    assert MemberTagging.objects.filter(tag=valuable).count() == 1


def test_a_tag_no_audience_uses_is_deleted_with_its_taggings(admin_client, people):
    repeat = people["repeat"]

    response = admin_client.post(f"/admin/analytics/membertag/{repeat.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not MemberTag.objects.filter(pk=repeat.pk).exists()
    assert not MemberTagging.objects.filter(tag_id=repeat.pk).exists()
