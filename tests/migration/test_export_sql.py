"""The member export's raw statement agrees with the ORM on the same data (docs/architecture.md, "Raw SQL")."""

import pytest
from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from analytics.models import MemberTag, MemberTagging
from coupons.models import Coupon
from members.models import Channel, Member
from membership.models import Membership, MembershipCard, Tier
from migration import export_sql
from points.models import PointsAccount, PointsLot
from stored_value.models import StoredValueAccount
from tests.factories import MemberFactory
from tests.migration.export_helpers import at, operator, rich_member

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("default_rules")]


def _local(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def orm_row(member: Member, now) -> export_sql.MemberRow:
    """What the statement should answer for ``member``, read through the ORM."""
    membership = Membership.objects.filter(member=member).first()
    level = membership.tier_level if membership else 0
    points = PointsAccount.objects.filter(member=member).first()
    stored = StoredValueAccount.objects.filter(member=member).first()
    lots = (
        PointsLot.objects.filter(account__member=member, remaining__gt=0)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by(F("expires_at").asc(nulls_last=True), "id")
    )
    cards = (
        MembershipCard.objects.filter(member=member, status="active")
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
        .order_by(F("valid_until").asc(nulls_last=True), "id")
    )
    coupons = Coupon.objects.filter(
        member=member, status__in=["available", "locked"], valid_until__gt=now
    ).order_by("valid_until", "id")
    tags = (
        MemberTagging.objects.filter(member=member).order_by("tag__name").values_list("tag__name", flat=True)
    )
    channel = member.registration_channel
    return export_sql.MemberRow(
        id=member.pk,
        openid=member.openid,
        unionid=member.unionid,
        phone=member.phone,
        nickname=member.nickname,
        gender=member.gender,
        birthday=member.birthday,
        registered_at=_local(member.registered_at),
        channel=channel,
        channel_name=Channel.objects.filter(code=channel).values_list("name", flat=True).first(),
        tier_level=level,
        tier_name=Tier.objects.filter(level=level).values_list("name", flat=True).first(),
        growth=membership.growth_total if membership else 0,
        tags=";".join(tags) or None,
        points_balance=points.balance if points else 0,
        points_lots=";".join(f"{lot.remaining}@{_local(lot.expires_at)}" for lot in lots) or None,
        principal_fen=stored.principal_fen if stored else 0,
        bonus_fen=stored.bonus_fen if stored else 0,
        cards=";".join(f"{c.card_type.name}@{_local(c.valid_until)}" for c in cards) or None,
        coupons=";".join(f"{c.template.name}@{_local(c.valid_until)}" for c in coupons) or None,
    )


@pytest.mark.parametrize("now", [None, at(2099, 1, 2)], ids=["today", "after the first lot expired"])
def test_the_statement_and_the_orm_agree(now):
    actor = operator()
    members = [
        rich_member(nickname="甲", phone="13800000001", actor=actor),
        rich_member(nickname="乙", phone="13800000002", actor=actor),
        MemberFactory(nickname="丙"),
    ]
    now = now or timezone.now()

    rows = export_sql.member_rows([m.pk for m in members], now=now, tz=settings.TIME_ZONE)

    assert rows == [orm_row(Member.objects.get(pk=m.pk), now) for m in members]
    if now.year == 2099:
        assert rows[0].points_lots == "200@"  # the lot that expired at 2099-01-01 is gone
        assert rows[0].coupons.count("@") == 2 and rows[0].cards == "黑金卡@2099-06-30 23:59:59"


def test_a_name_with_the_cells_separators_still_splits_back():
    actor = operator()
    member = rich_member(nickname="丁", phone="13800000003", actor=actor)
    Tier.objects.filter(level=1).update(name="a;b@c")
    MemberTag.objects.filter(name="老客").update(name="老;客@")

    row = export_sql.member_rows([member.pk], now=timezone.now(), tz=settings.TIME_ZONE)[0]

    assert row.tags == "老；客＠;高价值" and row.tier_name == "a;b@c"  # the tier has a column of its own
