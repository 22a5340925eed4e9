"""Real parallel connections: stock never oversold, limits held, codes given once, payments fulfilled once."""

import pytest

from coupons.models import Coupon
from mall import services
from mall.models import MallItem, Redemption, VirtualCode
from members.models import Member
from payments import services as payments
from payments.models import Payment
from points.models import PointsAccount
from tests.concurrency import run_concurrently
from tests.factories import CouponTemplateFactory, EarnedPointsFactory, MallItemFactory
from tests.helpers import assert_ledgers_consistent, points_of

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("many-connections")]


def members_with_points(count, points):
    members = Member.objects.bulk_create(
        [
            Member(openid=f"par-{i:05d}", nickname=f"m{i}", registration_channel="mini_program")
            for i in range(count)
        ]
    )
    for m in members:
        EarnedPointsFactory(member=m, amount=points)
    return members


def test_a_thousand_parallel_redemptions_of_a_stock_of_ten_give_exactly_ten():
    members = members_with_points(1000, 800)
    tpl = CouponTemplateFactory(total_stock=1000)
    voucher = MallItemFactory(name="20元券", kind="coupon", coupon_template=tpl, points=500, stock=10)

    results, errors = run_concurrently(
        lambda i: services.redemption_create(member=members[i], item_id=voucher.pk, idempotency_key="one"),
        len(members),
    )

    assert len(results) == 10 and len(errors) == 990 and set(errors) == {"sold_out"}
    voucher.refresh_from_db()
    assert (voucher.stock, voucher.sold_count) == (0, 10)
    winners = {r.redemption.member_id for r in results}
    assert len(winners) == 10 and Coupon.objects.count() == 10
    balances = dict(PointsAccount.objects.values_list("member_id", "balance"))
    assert all(balances[m.pk] == (300 if m.pk in winners else 800) for m in members)
    assert_ledgers_consistent()


def test_one_members_parallel_redemptions_respect_the_per_member_limit():
    member = members_with_points(1, 100_000)[0]
    card = MallItemFactory(name="月卡", kind="virtual_code", stock=0, per_member_limit=3)
    services.virtual_codes_import(item_id=card.pk, codes=[f"C{i}" for i in range(30)])

    results, errors = run_concurrently(
        lambda i: services.redemption_create(member=member, item_id=card.pk, idempotency_key=f"k{i}"), 20
    )

    assert len(results) == 3 and errors == ["redemption_limit_reached"] * 17
    assert points_of(member) == 100_000 - 3 * 500
    assert MallItem.objects.get(pk=card.pk).stock == 27
    assert_ledgers_consistent()


def test_one_key_sent_twenty_times_at_once_redeems_once():
    member = members_with_points(1, 100_000)[0]
    card = MallItemFactory(name="月卡", kind="virtual_code", stock=0)
    services.virtual_codes_import(item_id=card.pk, codes=[f"C{i}" for i in range(30)])

    results, errors = run_concurrently(
        lambda i: services.redemption_create(member=member, item_id=card.pk, idempotency_key="same"), 20
    )

    assert errors == [] and len({r.redemption.pk for r in results}) == 1
    assert Redemption.objects.count() == 1 and points_of(member) == 99_500


def test_a_virtual_code_is_never_given_twice():
    members = members_with_points(60, 1_000)
    card = MallItemFactory(name="月卡", kind="virtual_code", stock=0)
    services.virtual_codes_import(item_id=card.pk, codes=[f"CODE-{i:02d}" for i in range(25)])

    results, errors = run_concurrently(
        lambda i: services.redemption_create(member=members[i], item_id=card.pk, idempotency_key="k"),
        len(members),
        max_threads=30,
    )

    assert len(results) == 25 and set(errors) == {"sold_out"}
    codes = list(VirtualCode.objects.filter(redemption__isnull=False).values_list("redemption_id", flat=True))
    assert len(codes) == len(set(codes)) == 25
    assert sorted(codes) == sorted(r.redemption.pk for r in results)
    assert_ledgers_consistent()


def test_a_payment_notification_delivered_ten_times_at_once_fulfils_once():
    member = members_with_points(1, 1_000)[0]
    tpl = CouponTemplateFactory(total_stock=10, per_member_limit=10)
    voucher = MallItemFactory(name="20元券", kind="coupon", coupon_template=tpl, points=100, cash_fen=500)
    redeemed = services.redemption_create(member=member, item_id=voucher.pk, idempotency_key="k")
    payment = Payment.objects.get(out_trade_no=redeemed.redemption.out_trade_no)
    headers, body = payments.payment_simulate_pay(payment=payment, deliver=False)

    results, errors = run_concurrently(
        lambda i: payments.payment_handle_notification(headers=headers, body=body), 10
    )

    assert errors == [] and len(results) == 10
    r = Redemption.objects.get()
    assert r.status == "fulfilled" and Coupon.objects.filter(member=member).count() == 1
    assert points_of(member) == 900
    assert_ledgers_consistent()
