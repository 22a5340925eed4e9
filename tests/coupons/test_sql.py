"""The coupons app's raw statements (coupons/sql.py) read and write what the ORM would on the same data."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import Count, Min
from django.utils import timezone

from coupons import services, sql
from coupons.models import BulkIssue, BulkIssueTarget, Coupon, CouponEvent, CouponTemplate
from members.receiving import receiving_q
from tests.factories import CouponTemplateFactory, MemberFactory

pytestmark = pytest.mark.django_db


def _issue_params(t, member_id, key, now, code="C0DE"):
    return {
        "template": t.pk,
        "member": member_id,
        "limit": t.per_member_limit,
        "code": code,
        "source": "test",
        "key": key,
        "valid_from": now,
        "valid_until": now + timedelta(days=7),
        "now": now,
    }


def test_stock_is_taken_as_the_orm_counts_it_and_never_oversold():
    t = CouponTemplateFactory(total_stock=5)
    with transaction.atomic(), connection.cursor() as cur:
        assert sql.take_one(cur, t.pk) == 1
        assert sql.take_up_to(cur, t.pk, 3) == 3
        assert sql.take_up_to(cur, t.pk, 3) == 1
        assert sql.take_one(cur, t.pk) == 0
        assert sql.take_up_to(cur, t.pk, 3) == 0
    t.refresh_from_db()
    assert t.issued_count == t.total_stock == 5


def _fields(template) -> dict:
    return {f.attname: getattr(template, f.attname) for f in CouponTemplate._meta.concrete_fields}


def test_the_claimable_template_is_the_one_the_orm_finds_active_and_claimable():
    found = CouponTemplateFactory(
        fixed=True, audience="tiers", audience_values=[1, 2], scope="skus", scope_values=["A-1"]
    )
    inactive = CouponTemplateFactory(is_active=False)
    not_claimable = CouponTemplateFactory(claimable=False)
    claimable = CouponTemplate.objects.filter(is_active=True, claimable=True)
    raw = sql.claimable_template(found.pk)
    assert isinstance(raw, CouponTemplate)
    assert _fields(raw) == _fields(claimable.get(pk=found.pk))
    for template in (inactive, not_claimable):
        assert sql.claimable_template(template.pk) is None
        assert not claimable.filter(pk=template.pk).exists()
    assert sql.claimable_template(not_claimable.pk + 1000) is None


def test_an_issue_writes_the_coupon_and_event_the_orm_reads_and_reports_what_the_orm_counts():
    t = CouponTemplateFactory(total_stock=10, per_member_limit=2)
    member, closed = MemberFactory(), MemberFactory()
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cur:
        first = sql.issue(cur, _issue_params(t, member.pk, "k1", now))
        coupon = Coupon.objects.get(pk=first.coupon_id)
        assert first == sql.IssueOutcome(0, None, coupon.pk, True)
        assert (coupon.template_id, coupon.member_id, coupon.code, coupon.status, coupon.issue_key) == (
            t.pk,
            member.pk,
            "C0DE",
            "available",
            "k1",
        )
        assert (coupon.valid_until, coupon.issued_at, coupon.order_no) == (now + timedelta(days=7), now, "")
        assert list(CouponEvent.objects.filter(coupon=coupon).values_list("kind", "reason")) == [
            ("issued", "test")
        ]
        held = Coupon.objects.filter(template=t, member=member).count()
        assert sql.issue(cur, _issue_params(t, member.pk, "k1", now)) == sql.IssueOutcome(
            held, coupon.pk, None, True
        )
        second = sql.issue(cur, _issue_params(t, member.pk, "k2", now, code="C0DF"))
        assert second.held == held and second.coupon_id is not None
        assert sql.issue(cur, _issue_params(t, member.pk, "k3", now, code="C0DG")) == (2, None, None, True)
        type(member).objects.filter(pk=closed.pk).update(closed_at=now)
        assert sql.issue(cur, _issue_params(t, closed.pk, "k1", now, code="C0DH")) == (0, None, None, False)
    t.refresh_from_db()
    assert t.issued_count == Coupon.objects.filter(template=t).count() == 2


def test_the_expiry_and_release_jobs_change_what_the_orm_finds_due():
    t = CouponTemplateFactory(total_stock=10, per_member_limit=10)
    now = timezone.now()
    coupons = [
        services.coupon_issue(template=t, member_id=MemberFactory().pk, source="t", issue_key=f"k{n}")[0]
        for n in range(4)
    ]
    Coupon.objects.filter(pk=coupons[0].pk).update(valid_until=now - timedelta(minutes=1))
    Coupon.objects.filter(pk__in=[coupons[1].pk, coupons[2].pk]).update(
        status="locked", order_no="GONE", locked_until=now - timedelta(minutes=1)
    )
    Coupon.objects.filter(pk=coupons[2].pk).update(valid_until=now - timedelta(minutes=1))
    due = set(Coupon.objects.filter(status="available", valid_until__lte=now).values_list("pk", flat=True))
    stale = dict(
        Coupon.objects.filter(status="locked", locked_until__lte=now).values_list("pk", "valid_until")
    )
    with transaction.atomic(), connection.cursor() as cur:
        assert sql.expire_due(cur, now, 100) == len(due) == 1
        assert sql.release_stale(cur, now, 100, ()) == len(stale) == 2
        assert sql.release_stale(cur, now, 100, ("SELECT 1",)) == 0  # a holder keeps its locks
    expired = set(CouponEvent.objects.filter(kind="expired").values_list("coupon_id", flat=True))
    assert expired == due
    for pk, valid_until in stale.items():
        coupon = Coupon.objects.get(pk=pk)
        assert (coupon.status, coupon.order_no, coupon.locked_until) == (
            "expired" if valid_until <= now else "available",
            "",
            None,
        )
        assert CouponEvent.objects.filter(coupon_id=pk, kind="released", order_no="GONE").count() == 1


def test_the_expiring_coupons_per_member_are_the_orms():
    t = CouponTemplateFactory(total_stock=10, per_member_limit=10)
    now = timezone.now()
    twice, closed = MemberFactory(), MemberFactory()
    for n, member in enumerate([twice, MemberFactory(), twice, closed, MemberFactory()]):
        services.coupon_issue(template=t, member_id=member.pk, source="t", issue_key=f"k{n}")
    type(closed).objects.filter(pk=closed.pk).update(closed_at=now)
    end = now + timedelta(days=30)
    expected = [
        sql.ExpiringCoupons(row["member_id"], row["n"], row["soonest"])
        for row in Coupon.objects.filter(status="available", valid_until__gt=now, valid_until__lte=end)
        .filter(receiving_q("member__"))
        .values("member_id")
        .annotate(n=Count("id"), soonest=Min("valid_until"))
        .order_by("member_id")
    ]
    with connection.cursor() as cur:
        assert sql.expiring(cur, now, end, 0, 100) == expected
        assert sql.expiring(cur, now, end, expected[0].member_id, 1) == expected[1:2]


def test_the_bulk_statements_lock_count_insert_and_mark_as_the_orm_sees_it():
    t = CouponTemplateFactory(total_stock=10, per_member_limit=1)
    members = [MemberFactory() for _ in range(3)]
    services.coupon_issue(template=t, member_id=members[0].pk, source="t", issue_key="before")
    bulk = BulkIssue.objects.create(template=t, created_by=User.objects.create(username="ops"), total=3)
    BulkIssueTarget.objects.bulk_create(BulkIssueTarget(bulk_issue=bulk, member=m) for m in members)
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cur:
        rows = sql.bulk_chunk(cur, template_id=t.pk, bulk_id=bulk.pk, chunk=10, limit=1)
        assert rows == [
            sql.BulkTarget(
                target.id,
                target.member_id,
                not Coupon.objects.filter(template=t, member_id=target.member_id).exists(),
            )
            for target in BulkIssueTarget.objects.filter(bulk_issue=bulk, result="pending").order_by("id")
        ]
        under = sql.under_limit(cur, [m.pk for m in members], t.pk, 1)
        assert under == {m.pk for m in members if not Coupon.objects.filter(template=t, member=m).exists()}
        sql.bulk_insert(
            cur,
            template_id=t.pk,
            issue_key=f"bulk:{bulk.pk}",
            valid_from=now,
            valid_until=now + timedelta(days=1),
            now=now,
            member_ids=sorted(under),
            codes=[f"B{n}" for n in range(len(under))],
        )
        sql.mark_targets(
            cur, [row.id for row in rows], ["issued" if row.under_limit else "limit" for row in rows]
        )
        sql.count_processed(cur, bulk.pk, 3, 2)
    new = Coupon.objects.filter(issue_key=f"bulk:{bulk.pk}")
    assert sorted(new.values_list("member_id", flat=True)) == sorted(under)
    assert set(new.values_list("status", "source", "order_no")) == {("available", "bulk", "")}
    assert CouponEvent.objects.filter(coupon__in=new, kind="issued", reason="bulk").count() == 2
    assert dict(BulkIssueTarget.objects.filter(bulk_issue=bulk).values_list("member_id", "result")) == {
        members[0].pk: "limit",
        members[1].pk: "issued",
        members[2].pk: "issued",
    }
    bulk.refresh_from_db()
    assert (bulk.processed, bulk.issued) == (3, 2)
