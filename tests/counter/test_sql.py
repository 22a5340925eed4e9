"""The counter's hot-path statements (in their apps' SQL modules) read what the ORM reads."""

from datetime import timedelta

import pytest
from django.utils import timezone

from coupons import sql as coupons_sql
from coupons.models import Coupon
from members import codes
from members import sql as members_sql
from members.models import MemberCode
from stores import sql as stores_sql
from stores.models import Store
from tests.counter.helpers import store
from tests.factories import CouponFactory, CouponTemplateFactory

pytestmark = pytest.mark.django_db


def test_a_code_row_is_the_code_and_its_member_as_the_orm_reads_them(member):
    issued = codes.member_code_issue(member=member)
    codes.member_code_bind(code=issued.code, order_no="X-1")

    row = members_sql.member_code_row(issued.code)

    orm = MemberCode.objects.select_related("member").get(code=issued.code)
    assert (row.id, row.member_id, row.expires_at, row.replaced_at, row.order_no) == (
        orm.pk,
        orm.member_id,
        orm.expires_at,
        orm.replaced_at,
        orm.order_no,
    )
    assert (row.closed_at, row.nickname, row.phone, row.registered_at) == (
        orm.member.closed_at,
        orm.member.nickname,
        orm.member.phone,
        orm.member.registered_at,
    )
    assert members_sql.member_code_row("660000000000000000") is None


def test_a_store_by_code_is_the_orms_row():
    made = store("SH-777", status="paused")

    row = stores_sql.store_by_code("SH-777")

    orm = Store.objects.get(pk=made.pk)
    assert (row.id, row.code, row.name, row.status) == (orm.pk, orm.code, orm.name, orm.status)
    assert stores_sql.store_by_code("NOPE") is None


def test_usable_coupons_are_the_orms_available_valid_ones_soonest_first(member):
    later = CouponFactory(member=member, template=CouponTemplateFactory(name="later", valid_days=9))
    sooner = CouponFactory(member=member, template=CouponTemplateFactory(name="sooner", valid_days=2))
    used = CouponFactory(member=member, template=CouponTemplateFactory(name="used"))
    Coupon.objects.filter(pk=used.pk).update(status="used")
    expired = CouponFactory(member=member, template=CouponTemplateFactory(name="expired"))
    Coupon.objects.filter(pk=expired.pk).update(valid_until=timezone.now() - timedelta(seconds=1))
    CouponFactory(template=CouponTemplateFactory(name="someone else's"))
    now = timezone.now()

    rows = coupons_sql.usable_with_templates(member.pk, now, 50)

    orm = list(
        Coupon.objects.filter(member=member, status="available", valid_from__lte=now, valid_until__gt=now)
        .order_by("valid_until", "id")
        .values_list("id", "template__name", "template__kind", "valid_until")
    )
    assert [(r.id, r.name, r.kind, r.valid_until) for r in rows] == orm
    assert [r.id for r in rows] == [sooner.pk, later.pk]
    assert len(coupons_sql.usable_with_templates(member.pk, now, 1)) == 1
