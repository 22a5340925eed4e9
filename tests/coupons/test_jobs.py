"""Coupon jobs and bulk issue: set-based, resumable, safe to run twice."""

from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from coupons import services
from coupons.models import BulkIssue, BulkIssueTarget, Coupon, CouponEvent
from notifications.models import Notification
from tests.factories import CouponTemplateFactory, MemberFactory
from tests.helpers import assert_ledgers_consistent

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(db):
    return User.objects.create(username="ops")


def test_expiry_expires_only_available_coupons_past_their_validity_once(member):
    tpl = CouponTemplateFactory(valid_days=1, per_member_limit=3)
    due, locked, fresh = (
        services.coupon_claim(member=member, template_id=tpl.pk, idempotency_key=f"k{i}") for i in range(3)
    )
    services.coupon_lock(member_id=member.pk, coupon_id=locked.pk, order_no="SO", minutes=10_000)
    Coupon.objects.filter(pk=fresh.pk).update(valid_until=timezone.now() + timedelta(days=5))
    later = timezone.now() + timedelta(days=2)

    assert services.coupons_expire_due(now=later, chunk_size=1) == 1
    assert services.coupons_expire_due(now=later) == 0

    statuses = dict(Coupon.objects.values_list("pk", "status"))
    assert statuses == {due.pk: "expired", locked.pk: "locked", fresh.pk: "available"}
    assert CouponEvent.objects.filter(kind="expired").count() == 1


def test_stale_locks_are_released(member):
    tpl = CouponTemplateFactory(per_member_limit=2)
    stale, live = (
        services.coupon_claim(member=member, template_id=tpl.pk, idempotency_key=f"k{i}") for i in range(2)
    )
    services.coupon_lock(member_id=member.pk, coupon_id=stale.pk, order_no="SO-1", minutes=5)
    services.coupon_lock(member_id=member.pk, coupon_id=live.pk, order_no="SO-2", minutes=60)

    assert services.coupons_release_stale_locks(now=timezone.now() + timedelta(minutes=10)) == 1

    stale.refresh_from_db()
    live.refresh_from_db()
    assert (stale.status, stale.order_no, live.status) == ("available", "", "locked")
    assert CouponEvent.objects.get(coupon=stale, kind="released").order_no == "SO-1"


def test_members_are_reminded_of_coupons_expiring_soon_once_a_day(member):
    tpl = CouponTemplateFactory(valid_days=2, per_member_limit=2)
    for i in range(2):
        services.coupon_claim(member=member, template_id=tpl.pk, idempotency_key=f"k{i}")
    services.coupon_claim(
        member=MemberFactory(), template_id=CouponTemplateFactory(valid_days=30).pk, idempotency_key="k"
    )

    assert services.coupons_remind_expiring(days=3) == 1
    assert services.coupons_remind_expiring(days=3) == 0
    note = Notification.objects.get()
    assert note.member_id == member.pk and note.data["count"] == 2


def test_a_bulk_issue_gives_one_to_each_member_within_stock_and_limits_and_reports_each(operator):
    tpl = CouponTemplateFactory(total_stock=5, per_member_limit=1)
    members = [MemberFactory() for _ in range(7)]
    services.coupon_claim(member=members[0], template_id=tpl.pk, idempotency_key="k")  # already has one

    bulk = services.bulk_issue_create(
        template_id=tpl.pk, member_ids=[m.pk for m in members] + [members[1].pk], actor_id=operator.pk
    )
    bulk = services.bulk_issue_run(bulk_issue_id=bulk.pk, chunk_size=3)

    assert (bulk.status, bulk.total, bulk.processed, bulk.issued) == ("done", 7, 7, 4)
    results = dict(BulkIssueTarget.objects.values_list("member_id", "result"))
    assert results[members[0].pk] == "limit"
    assert list(results.values()).count("issued") == 4 and list(results.values()).count("sold_out") == 2
    assert Coupon.objects.filter(template=tpl).count() == 5
    assert_ledgers_consistent()


def test_a_bulk_issue_killed_half_way_and_run_again_issues_each_member_once(operator):
    tpl = CouponTemplateFactory(total_stock=1000)
    members = [MemberFactory() for _ in range(10)]
    bulk = BulkIssue.objects.create(template=tpl, created_by=operator, total=10)
    BulkIssueTarget.objects.bulk_create(BulkIssueTarget(bulk_issue=bulk, member=m) for m in members)

    real = services._take_stock
    calls = {"n": 0}

    def dies_on_the_third_chunk(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise SystemExit("worker killed")
        return real(*args, **kwargs)

    with mock.patch.object(services, "_take_stock", dies_on_the_third_chunk), pytest.raises(SystemExit):
        services.bulk_issue_run(bulk_issue_id=bulk.pk, chunk_size=3)
    assert Coupon.objects.count() == 6  # two chunks committed, the third rolled back

    bulk = services.bulk_issue_run(bulk_issue_id=bulk.pk, chunk_size=3)
    services.bulk_issue_run(bulk_issue_id=bulk.pk, chunk_size=3)  # a third run finds nothing to do

    assert (bulk.status, bulk.processed, bulk.issued) == ("done", 10, 10)
    assert sorted(Coupon.objects.values_list("member_id", flat=True)) == sorted(m.pk for m in members)
    assert_ledgers_consistent()


def test_a_bulk_issue_whose_task_was_lost_is_resumed_by_the_job(
    operator, monkeypatch, django_capture_on_commit_callbacks
):
    from coupons import tasks

    def broker_down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(tasks.run_bulk_issue, "apply_async", broker_down)
    members = [MemberFactory() for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        bulk = services.bulk_issue_create(
            template_id=CouponTemplateFactory().pk, member_ids=[m.pk for m in members], actor_id=operator.pk
        )
    bulk.refresh_from_db()
    assert bulk.status == "queued"

    assert services.bulk_issues_resume() == 1
    bulk.refresh_from_db()
    assert (bulk.status, bulk.issued) == ("done", 3)
    assert services.bulk_issues_resume() == 0


def test_a_bulk_issue_of_an_inactive_or_expired_template_is_refused(operator, member):
    from coupons.exceptions import ClaimWindowClosed

    now = timezone.now()
    for tpl in (
        CouponTemplateFactory(is_active=False),
        CouponTemplateFactory(validity="fixed", valid_from=now - timedelta(days=5), valid_until=now),
    ):
        with pytest.raises(ClaimWindowClosed):
            services.bulk_issue_create(template_id=tpl.pk, member_ids=[member.pk], actor_id=operator.pk)
    assert not BulkIssue.objects.exists()
