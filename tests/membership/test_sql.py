"""The membership app's raw statements (membership/sql.py) read and write what the ORM would."""

from datetime import date, timedelta

import pytest
from django.db import connection, transaction
from django.db.models import Sum
from django.forms.models import model_to_dict
from django.utils import timezone

from members.models import Member
from membership import sql, tiers
from membership.models import CardStatus, GrowthEntry, Membership, MembershipCard, TierChange
from tests.factories import CardTypeFactory, MemberFactory
from tests.membership.helpers import standard_tiers

pytestmark = pytest.mark.django_db


def test_the_membership_row_is_created_once_and_try_locked_as_the_orm_reads_it():
    member = MemberFactory()
    with transaction.atomic():
        sql.create_membership(member.pk)
        sql.create_membership(member.pk)
        stored = Membership.objects.get(member=member)
        assert (stored.tier_level, stored.growth_total, stored.paid_total_fen, stored.completed_orders) == (
            0,
            0,
            0,
            0,
        )
        locked = sql.try_lock_membership(member.pk)
        assert model_to_dict(locked) == model_to_dict(stored) and locked.pk == stored.pk
        assert sql.try_lock_membership(MemberFactory().pk) is None


def test_growth_is_appended_once_per_key_and_summed_over_the_window_as_the_orm_sums_it():
    member = MemberFactory()
    sql.create_membership(member.pk)
    ms = Membership.objects.get(member=member)
    now = timezone.now()
    for n, days_ago in enumerate([1, 10, 400]):
        entry_id = sql.insert_growth(
            member_id=member.pk,
            kind="order",
            amount=100 * (n + 1),
            paid_fen=1_000,
            order_no=f"O{n}",
            idempotency_key=f"k{n}",
            counts_at=now - timedelta(days=days_ago),
        )
        entry = GrowthEntry.objects.get(pk=entry_id)
        assert (entry.member_id, entry.amount, entry.order_no, entry.idempotency_key) == (
            member.pk,
            100 * (n + 1),
            f"O{n}",
            f"k{n}",
        )
    assert (
        sql.insert_growth(
            member_id=member.pk,
            kind="order",
            amount=5,
            paid_fen=0,
            order_no="",
            idempotency_key="k0",
            counts_at=now,
        )
        is None
    )
    with connection.cursor() as cur:
        for entry in GrowthEntry.objects.filter(member=member):
            assert sql.growth_by_key(cur, member.pk, entry.idempotency_key) == sql.KeyedGrowth(
                entry.id, entry.kind, entry.amount, entry.paid_fen, entry.order_no
            )
        assert sql.growth_by_key(cur, member.pk, "nope") is None
    start = now - timedelta(days=365)

    def orm_sum():
        return GrowthEntry.objects.filter(member=member, counts_at__gt=start, counts_at__lte=now).aggregate(
            s=Sum("amount")
        )["s"]

    assert sql.window_growth(member.pk, start, now) == orm_sum() == 300
    assert sql.window_growth(MemberFactory().pk, start, now) == 0
    counted = sql.save_totals(
        membership_id=ms.pk,
        member_id=member.pk,
        growth_total=600,
        paid_total_fen=3_000,
        completed_orders=3,
        start=start,
        end=now,
    )
    assert counted == orm_sum()
    ms.refresh_from_db()
    assert (ms.growth_total, ms.paid_total_fen, ms.completed_orders) == (600, 3_000, 3)


def test_level_and_cards_are_what_the_orm_finds():
    standard_tiers()
    member = MemberFactory()
    sql.create_membership(member.pk)
    Membership.objects.filter(member=member).update(tier_level=2)
    now = timezone.now()
    kinds = [CardTypeFactory(name=f"卡{n}") for n in range(3)]
    for kind, valid_until in zip(
        kinds, [None, now + timedelta(days=1), now - timedelta(days=1)], strict=True
    ):
        MembershipCard.objects.create(
            member=member,
            card_type=kind,
            status=CardStatus.ACTIVE,
            source="t",
            valid_from=now - timedelta(days=2),
            valid_until=valid_until,
        )
    valid = sorted(
        c.card_type_id
        for c in MembershipCard.objects.filter(member=member, status=CardStatus.ACTIVE, valid_from__lte=now)
        if c.valid_until is None or c.valid_until > now
    )
    assert sql.level_and_cards(member.pk, CardStatus.ACTIVE.value, now) == sql.LevelAndCards(True, 2, valid)
    assert len(valid) == 2
    assert sql.level_and_cards(MemberFactory().pk, CardStatus.ACTIVE.value, now) == (True, 0, [])
    Member.objects.filter(pk=member.pk).update(closed_at=now)
    assert sql.level_and_cards(member.pk, CardStatus.ACTIVE.value, now).receiving is False
    assert sql.level_and_cards(0, CardStatus.ACTIVE.value, now).receiving is None


def test_a_recalculation_chunk_writes_the_tier_changes_the_orm_reads_back():
    standard_tiers()
    now = timezone.now()
    members = [MemberFactory() for _ in range(3)]
    for member, (level, growth) in zip(members, [(0, 1_500), (2, 0), (1, 1_200)], strict=True):
        sql.create_membership(member.pk)
        Membership.objects.filter(member=member).update(tier_level=level)
        if growth:
            sql.insert_growth(
                member_id=member.pk,
                kind="order",
                amount=growth,
                paid_fen=0,
                order_no="",
                idempotency_key="g",
                counts_at=now,
            )
    params = {
        "window_start": now - timedelta(days=365),
        "now": now,
        "protect": 30,
        "period": 30,
        "limit": 10,
        "after": 0,
    }
    with transaction.atomic(), connection.cursor() as cur:
        chunk = sql.recalc_chunk(cur, params)
    assert (chunk.last, chunk.count) == (members[-1].pk, 3)
    assert chunk.changes == [
        sql.TierChangeRow(c.pk, c.member_id, c.from_level, c.to_level)
        for c in TierChange.objects.order_by("pk")
    ]
    assert [(c.member_id, c.from_level, c.to_level) for c in chunk.changes] == [
        (members[0].pk, 0, 1),
        (members[1].pk, 2, 1),
    ]
    assert dict(Membership.objects.filter(member__in=members).values_list("member_id", "tier_level")) == {
        members[0].pk: 1,
        members[1].pk: 1,
        members[2].pk: 1,
    }
    with transaction.atomic(), connection.cursor() as cur:
        assert sql.recalc_chunk(cur, {**params, "after": members[-1].pk}) == (None, 0, [])


def test_birthdays_are_the_receiving_members_the_orm_finds_with_their_level():
    standard_tiers()
    born = [MemberFactory(birthday=date(1990, 5, d)) for d in (3, 4, 4)]
    MemberFactory(birthday=date(1990, 6, 4))
    MemberFactory()
    sql.create_membership(born[1].pk)
    Membership.objects.filter(member=born[1]).update(tier_level=3)
    Member.objects.filter(pk=born[2].pk).update(closed_at=timezone.now())
    assert sql.birthdays(after=0, month=5, day=None, days=[], limit=10) == [
        sql.BirthdayMember(born[0].pk, 0),
        sql.BirthdayMember(born[1].pk, 3),
    ]
    assert sql.birthdays(after=0, month=5, day=4, days=[4], limit=10) == [(born[1].pk, 3)]
    assert sql.birthdays(after=born[0].pk, month=5, day=None, days=[], limit=1) == [(born[1].pk, 3)]


def test_the_membership_lock_reads_the_row_the_orm_reads_and_creates_it_first():
    member = MemberFactory()
    with transaction.atomic():
        created = tiers.lock_membership(member_id=member.pk)
        Membership.objects.filter(pk=created.pk).update(
            tier_level=2, growth_total=7, tier_changed_at=timezone.now()
        )
        locked = tiers.lock_membership(member_id=member.pk)
        assert model_to_dict(locked) == model_to_dict(Membership.objects.get(member=member))
        assert locked.tier_level == 2 and Membership.objects.filter(member=member).count() == 1
