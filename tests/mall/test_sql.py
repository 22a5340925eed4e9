"""The points mall's raw statements (mall/sql.py) read and write what the ORM would on the same data."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from mall import sql
from mall.models import MallItem, Redemption, RedemptionEvent, VirtualCode
from tests.factories import EarnedPointsFactory, MallItemFactory, MemberFactory
from tests.mall.helpers import address, redeem

pytestmark = pytest.mark.django_db


def test_the_decision_reads_the_replay_item_and_address_the_orm_reads():
    member = MemberFactory()
    EarnedPointsFactory(member=member, amount=5_000)
    it = MallItemFactory(per_member_limit=3)
    home = address(member)
    first = redeem(member, it, key="k1", address_id=home.pk)
    MallItem.objects.filter(pk=it.pk).update(
        required_card_type_ids=[4, 2]
    )  # jsonb, read back as the ORM does
    with connection.cursor() as cur:
        found = sql.decide(cur, member.pk, "k1", it.pk, home.pk)
        assert (found.replay_id, found.replay_hash) == (first.pk, first.request_hash)
        stored = MallItem.objects.get(pk=it.pk)
        item_fields = {name: getattr(stored, name) for name in sql.ITEM_FIELDS}
        decoded = found.item._replace(required_card_type_ids=_json(found.item.required_card_type_ids))
        assert decoded._asdict() == item_fields
        assert found.address._asdict() == {name: getattr(home, name) for name in sql.ADDRESS_FIELDS}
        other = sql.decide(cur, MemberFactory().pk, "k1", it.pk + 1_000, home.pk)
        assert other == sql.Decision(None, None, None, None)
        MallItem.objects.filter(pk=it.pk).update(is_active=False)
        assert sql.decide(cur, member.pk, "k2", it.pk, None).item is None


def _json(value):
    import json

    return json.loads(value) if isinstance(value, str) else value


def test_the_counts_are_the_orms_redemptions_not_cancelled():
    member = MemberFactory()
    EarnedPointsFactory(member=member, amount=5_000)
    it = MallItemFactory()
    home = address(member)
    for n in range(3):
        redeem(member, it, key=f"k{n}", address_id=home.pk)
    Redemption.objects.filter(idempotency_key="k0").update(status="cancelled")
    Redemption.objects.filter(idempotency_key="k1").update(created_at=timezone.now() - timedelta(days=40))
    now = timezone.now()
    starts = {
        "day": now - timedelta(hours=1),
        "week": now - timedelta(days=7),
        "month": now - timedelta(days=30),
    }
    live = Redemption.objects.filter(item=it, member=member).exclude(status="cancelled")
    with transaction.atomic(), connection.cursor() as cur:
        counts = sql.counts(cur, {"member": member.pk, "key": "k2", "item": it.pk, **starts})
    k2 = Redemption.objects.get(idempotency_key="k2")
    assert counts == sql.Counts(
        k2.pk,
        k2.request_hash,
        live.count(),
        live.filter(created_at__gte=starts["day"]).count(),
        live.filter(created_at__gte=starts["week"]).count(),
        live.filter(created_at__gte=starts["month"]).count(),
    )
    assert counts[2:] == (2, 1, 1, 1)


def test_taking_stock_writes_the_redemption_and_event_the_orm_reads_and_codes_come_and_go():
    member = MemberFactory()
    it = MallItemFactory(kind="virtual_code", stock=1)
    VirtualCode.objects.create(item=it, code="C-1")
    now = timezone.now()
    params = [
        it.pk,
        "M1",
        member.pk,
        "virtual_code",
        500,
        0,
        "fulfilled",
        "k",
        "h",
        None,
        "",
        "",
        "",
        now,
        now,
        now,
    ]
    with transaction.atomic(), connection.cursor() as cur:
        pk = sql.take(cur, params)
        assert sql.assign_code(cur, pk, it.pk, now) == VirtualCode.objects.get(code="C-1").pk
        assert sql.assign_code(cur, pk, it.pk, now) is None
        assert sql.take(cur, [*params[:1], "M2", *params[2:7], "k2", *params[8:]]) is None  # sold out
    r = Redemption.objects.get(pk=pk)
    assert (r.no, r.member_id, r.item_id, r.kind, r.points, r.status, r.idempotency_key, r.created_at) == (
        "M1",
        member.pk,
        it.pk,
        "virtual_code",
        500,
        "fulfilled",
        "k",
        now,
    )
    assert list(RedemptionEvent.objects.filter(redemption=r).values_list("kind", "note")) == [
        ("fulfilled", "")
    ]
    it.refresh_from_db()
    assert (it.stock, it.sold_count) == (0, 1)
    sql.give_back(r.pk, it.pk)
    it.refresh_from_db()
    assert (it.stock, it.sold_count) == (1, 0)
    assert VirtualCode.objects.get(code="C-1").redemption_id is None
    assert sql.restock(it.pk, 2) == MallItem.objects.get(pk=it.pk).stock == 3
    assert sql.restock(it.pk, -4) is None
    with transaction.atomic(), connection.cursor() as cur:
        assert sql.import_codes(cur, it.pk, ["C-1", "C-2", "C-3"]) == 2
    assert MallItem.objects.get(pk=it.pk).stock == 5
    assert VirtualCode.objects.filter(item=it).count() == 3


def test_auto_complete_completes_what_the_orm_finds_shipped_before_the_cutoff():
    member = MemberFactory()
    EarnedPointsFactory(member=member, amount=5_000)
    it = MallItemFactory()
    home = address(member)
    rs = [redeem(member, it, key=f"k{n}", address_id=home.pk) for n in range(3)]
    now = timezone.now()
    Redemption.objects.filter(pk__in=[rs[0].pk, rs[1].pk]).update(
        status="shipped", carrier="SF", tracking_no="T1", shipped_at=now - timedelta(days=20)
    )
    Redemption.objects.filter(pk=rs[2].pk).update(
        status="shipped", carrier="SF", tracking_no="T1", shipped_at=now
    )
    due = set(
        Redemption.objects.filter(status="shipped", shipped_at__lt=now - timedelta(days=10)).values_list(
            "pk", flat=True
        )
    )
    with transaction.atomic(), connection.cursor() as cur:
        assert sql.auto_complete(cur, now - timedelta(days=10), 100, now) == len(due) == 2
    assert (
        set(Redemption.objects.filter(status="completed", completed_at=now).values_list("pk", flat=True))
        == due
    )
    assert RedemptionEvent.objects.filter(redemption_id__in=due, kind="completed", note="auto").count() == 2


def test_units_sold_elsewhere_are_recorded_once_as_the_orm_reads_them_and_only_for_a_physical_item():
    members = [MemberFactory(), MemberFactory()]
    it = MallItemFactory(kind="physical", stock=0)
    now = timezone.now()
    rows = [
        {"no": f"N{n}", "key": f"\x01ext:g:{n}", "member_id": m.pk, "recipient": "王" * 50, "phone": "138",
         "address": "杭州"}
        for n, m in enumerate(members)
    ]  # fmt: skip
    with transaction.atomic(), connection.cursor() as cur:
        made = sql.record_sold_elsewhere(cur, item_id=it.pk, rows=rows, now=now, note="拼团 #1")
        again = sql.record_sold_elsewhere(cur, item_id=it.pk, rows=rows, now=now, note="拼团 #1")
        coupon_item = MallItemFactory(kind="virtual_code")
        assert sql.record_sold_elsewhere(cur, item_id=coupon_item.pk, rows=rows, now=now, note="") is None
    stored = Redemption.objects.filter(item=it).order_by("pk")
    assert made == again == {r.idempotency_key: r.pk for r in stored}
    assert [
        (r.no, r.member_id, r.status, r.kind, r.points, r.cash_fen, r.recipient, r.paid_at) for r in stored
    ] == [(f"N{n}", m.pk, "paid", "physical", 0, 0, "王" * 40, now) for n, m in enumerate(members)]
    assert list(
        RedemptionEvent.objects.filter(redemption__item=it)
        .order_by("pk")
        .values_list("redemption_id", "kind", "note")
    ) == [(r.pk, "paid", "拼团 #1") for r in stored]
    it.refresh_from_db()
    assert it.sold_count == 2 and not Redemption.objects.filter(item=coupon_item).exists()
