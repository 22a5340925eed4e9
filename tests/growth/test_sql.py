"""拼团's raw statements (growth/sql.py) read and write what the ORM would on the same data."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from growth import sql
from growth.models import Group, GroupBuyActivity, GroupEvent, GroupMember, PlaceStatus
from members.models import Member
from tests.factories import MemberFactory
from tests.growth.helpers import activity, join, open_paid
from tests.mall.helpers import address

pytestmark = pytest.mark.django_db


def physical_group(size):
    act = activity(kind="physical", size=size)
    leader = MemberFactory()
    group = open_paid(leader, act, address_id=address(leader).pk)
    friends = [MemberFactory() for _ in range(size - 1)]
    places = [join(f, group, address_id=address(f, recipient=f"友{n}").pk) for n, f in enumerate(friends)]
    return act, group, places


def test_the_place_lock_reads_the_place_its_activity_item_and_member_as_the_orm_does():
    act, group, (place,) = physical_group(2)
    with transaction.atomic(), connection.cursor() as cur:
        found = sql.lock_place(cur, place.pk)
        stored = GroupMember.objects.select_related("activity__item").get(pk=place.pk)
        assert {name: getattr(found, name) for name in sql.PLACE_FIELDS} == {
            name: getattr(stored, name) for name in sql.PLACE_FIELDS
        }
        assert {name: getattr(found, name) for name in sql.ACTIVITY_FIELDS} == {
            name: getattr(stored.activity, name) for name in sql.ACTIVITY_FIELDS
        }
        item = stored.activity.item
        assert (found.item_id, found.item_kind, found.coupon_template_id, found.receiving) == (
            item.pk,
            item.kind,
            item.coupon_template_id,
            True,
        )
        assert sql.lock_place(cur, place.pk + 1_000) is None
    Member.objects.filter(pk=place.member_id).update(closed_at=timezone.now())
    with transaction.atomic(), connection.cursor() as cur:
        assert sql.lock_place(cur, place.pk).receiving is False
        g = sql.lock_group(cur, group.pk)
        stored = Group.objects.get(pk=group.pk)
        assert g == sql.LockedGroup(
            stored.pk, stored.state, stored.deadline, stored.joined_count, stored.size
        )


def test_joining_takes_a_unit_and_the_payment_that_fills_the_group_completes_it_once():
    act, group, (first, last) = physical_group(3)
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cur:
        one = sql.join(
            cur, activity_id=act.pk, group_id=group.pk, place_id=first.pk, now=now, out_trade_no="T1"
        )
    assert one == sql.Joined(True, "open", [])
    group.refresh_from_db()
    act.refresh_from_db()
    first.refresh_from_db()
    assert (group.joined_count, group.state, group.completed_at, act.sold_count) == (2, "open", None, 2)
    assert (first.status, first.paid_at) == (PlaceStatus.JOINED, now)

    with transaction.atomic(), connection.cursor() as cur:
        full = sql.join(
            cur, activity_id=act.pk, group_id=group.pk, place_id=last.pk, now=now, out_trade_no="T2"
        )
    group.refresh_from_db()
    assert (full.taken, full.state, group.state, group.joined_count, group.completed_at) == (
        True,
        "complete",
        "complete",
        3,
        now,
    )
    paid = GroupMember.objects.filter(group=group, status=PlaceStatus.JOINED).order_by("pk")
    assert full.places == [sql.GroupPlace(p.pk, p.member_id, p.recipient, p.phone, p.address) for p in paid]
    assert [p.recipient for p in full.places][1:] == ["友0", "友1"]
    events = GroupEvent.objects.filter(group=group, created_at=now).order_by("pk")
    assert list(events.values_list("kind", "place_id", "note")) == [
        ("joined", first.pk, "T1"),
        ("joined", last.pk, "T2"),
        ("completed", None, ""),
    ]


def test_no_unit_left_joins_nothing():
    act, group, (place,) = physical_group(2)
    GroupBuyActivity.objects.filter(pk=act.pk).update(stock_total=1)
    before = (GroupEvent.objects.count(), Group.objects.get(pk=group.pk).joined_count)
    with transaction.atomic(), connection.cursor() as cur:
        joined = sql.join(
            cur,
            activity_id=act.pk,
            group_id=group.pk,
            place_id=place.pk,
            now=timezone.now(),
            out_trade_no="T",
        )
    assert joined == sql.Joined(False, None, [])
    assert (GroupEvent.objects.count(), Group.objects.get(pk=group.pk).joined_count) == before
    assert GroupMember.objects.get(pk=place.pk).status == PlaceStatus.PENDING_PAYMENT
    assert GroupBuyActivity.objects.get(pk=act.pk).sold_count == 1


def test_completing_marks_only_the_groups_paid_places_fulfilled_with_their_events():
    act, group, (place,) = physical_group(2)
    leader = GroupMember.objects.get(group=group, role="leader")
    GroupMember.objects.filter(pk=place.pk).update(status=PlaceStatus.JOINED)
    now = timezone.now() + timedelta(seconds=1)
    with transaction.atomic(), connection.cursor() as cur:
        sql.complete(cur, group_id=group.pk, now=now, fulfilled=[(leader.pk, None, 71), (place.pk, 9, None)])
        sql.complete(cur, group_id=group.pk, now=now, fulfilled=[(place.pk, 9, None)])  # done already
    rows = GroupMember.objects.filter(group=group).order_by("pk")
    assert list(rows.values_list("status", "completed_at", "coupon_id", "redemption_id")) == [
        (PlaceStatus.COMPLETED, now, None, 71),
        (PlaceStatus.COMPLETED, now, 9, None),
    ]
    assert list(
        GroupEvent.objects.filter(kind="fulfilled").order_by("pk").values_list("group_id", "place_id")
    ) == [(group.pk, leader.pk), (group.pk, place.pk)]
