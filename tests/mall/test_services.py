"""Redeeming, paying, fulfilling, shipping and cancelling mall items; every refusal changes nothing."""

from datetime import timedelta

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from coupons.models import Coupon
from loyalty.errors import IdempotencyConflict
from mall import services
from mall.exceptions import (
    AddressNotFound,
    AddressRequired,
    ItemNotFound,
    NotOnSale,
    NotUnlocked,
    ReceiptNotConfirmable,
    RedemptionLimitReached,
    RedemptionNotCancellable,
    RedemptionNotFound,
    SoldOut,
)
from mall.models import Redemption, RedemptionEvent, VirtualCode
from payments import services as payments
from payments.models import Payment, PaymentRefund
from points.exceptions import InsufficientPoints
from tests.factories import (
    CouponFactory,
    CouponTemplateFactory,
    EarnedPointsFactory,
    MallItemFactory,
    MemberFactory,
    OperatorFactory,
)
from tests.helpers import local, points_of
from tests.mall.helpers import address, redeem, state

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("ledgers_stay_consistent")]


@pytest.fixture
def rich(member):
    EarnedPointsFactory(member=member, amount=10_000)
    return member


@pytest.fixture
def operator(db):
    return OperatorFactory(username="ops")


def virtual_item(codes=("CODE-0001", "CODE-0002"), **fields):
    it = MallItemFactory(name="视频会员月卡", kind="virtual_code", stock=0, **fields)
    services.virtual_codes_import(item_id=it.pk, codes=list(codes))
    it.refresh_from_db()
    return it


def pay(redemption, deliver=True):
    payment = Payment.objects.get(out_trade_no=redemption.out_trade_no)
    headers, body = payments.payment_simulate_pay(payment=payment, deliver=deliver)
    redemption.refresh_from_db()
    return headers, body


# --- redeeming ----------------------------------------------------------------------------


def test_a_physical_item_spends_points_takes_stock_and_waits_for_shipping(rich):
    cup = MallItemFactory(points=500, stock=3)
    home = address(rich)

    r = redeem(rich, cup, address_id=home.pk)

    cup.refresh_from_db()
    assert (r.status, r.points, r.cash_fen) == ("paid", 500, 0)
    assert (cup.stock, cup.sold_count) == (2, 1)
    assert points_of(rich) == 9_500
    assert r.recipient == "王小明" and "西湖路1号" in r.address
    assert list(RedemptionEvent.objects.filter(redemption=r).values_list("kind", flat=True)) == ["paid"]


def test_the_same_key_returns_the_first_redemption_and_spends_once(rich):
    card = virtual_item()

    first = services.redemption_create(member=rich, item_id=card.pk, idempotency_key="k")
    again = services.redemption_create(member=rich, item_id=card.pk, idempotency_key="k")

    assert again.replayed and again.redemption.pk == first.redemption.pk
    assert points_of(rich) == 9_500
    assert Redemption.objects.count() == 1


def test_the_same_key_for_another_item_is_a_conflict_and_changes_nothing(rich):
    card, other = virtual_item(), virtual_item(codes=["X-1"], points=100)
    redeem(rich, card, key="k")
    before = state(other, rich)

    with pytest.raises(IdempotencyConflict):
        redeem(rich, other, key="k")

    assert state(other, rich) == before


def test_a_sold_out_item_is_refused_with_sold_out_and_nothing_changes(rich):
    cup = MallItemFactory(stock=0)
    home = address(rich)
    before = state(cup, rich)

    with pytest.raises(SoldOut) as refused:
        redeem(rich, cup, address_id=home.pk)

    assert refused.value.code == "sold_out"
    assert state(cup, rich) == before


def test_not_enough_points_is_refused_and_stock_is_untouched(member):
    EarnedPointsFactory(member=member, amount=499)
    cup = MallItemFactory(points=500)
    home = address(member)
    before = state(cup, member)

    with pytest.raises(InsufficientPoints):
        redeem(member, cup, address_id=home.pk)

    assert state(cup, member) == before


def test_the_lifetime_limit_refuses_the_next_redemption_and_changes_nothing(rich):
    card = virtual_item(codes=["A", "B", "C"], per_member_limit=2)
    redeem(rich, card, key="1")
    redeem(rich, card, key="2")
    before = state(card, rich)

    with pytest.raises(RedemptionLimitReached):
        redeem(rich, card, key="3")

    assert state(card, rich) == before


def test_a_cancelled_redemption_does_not_count_against_the_limit(rich):
    cup = MallItemFactory(per_member_limit=1)
    home = address(rich)
    first = redeem(rich, cup, key="1", address_id=home.pk)
    services.redemption_cancel(redemption_id=first.pk, member_id=rich.pk, reason="changed my mind")

    again = redeem(rich, cup, key="2", address_id=home.pk)

    assert again.status == "paid"


def test_the_daily_limit_resets_at_local_midnight(rich):
    card = virtual_item(codes=["A", "B", "C"], period="day", per_period_limit=1)
    with time_machine.travel(local(2026, 11, 23, 23, 50)):
        redeem(rich, card, key="1")
        with pytest.raises(RedemptionLimitReached):
            redeem(rich, card, key="2")
    with time_machine.travel(local(2026, 11, 24, 0, 10)):
        assert redeem(rich, card, key="3").status == "fulfilled"


def test_outside_the_on_sale_window_is_refused_and_changes_nothing(rich):
    now = timezone.now()
    early = virtual_item(on_sale_from=now + timedelta(hours=1))
    late = virtual_item(codes=["L"], on_sale_until=now - timedelta(minutes=1))
    before = (state(early, rich), state(late, rich))

    for it in (early, late):
        with pytest.raises(NotOnSale):
            redeem(rich, it, key=f"k{it.pk}")

    assert (state(early, rich), state(late, rich)) == before


def test_an_item_off_the_shelf_is_not_found(rich):
    card = virtual_item(is_active=False)
    with pytest.raises(ItemNotFound):
        redeem(rich, card)


def test_a_tier_only_item_is_refused_below_its_tier_and_changes_nothing(rich, monkeypatch):
    card = virtual_item(min_tier_level=2)
    monkeypatch.setattr("membership.selectors.member_tier_level", lambda *, member_id: 1)
    before = state(card, rich)

    with pytest.raises(NotUnlocked):
        redeem(rich, card)

    assert state(card, rich) == before
    monkeypatch.setattr("membership.selectors.member_tier_level", lambda *, member_id: 2)
    assert redeem(rich, card).status == "fulfilled"


def test_a_card_only_item_needs_any_one_of_its_card_types(rich, monkeypatch):
    card = virtual_item(required_card_type_ids=[7, 9])
    monkeypatch.setattr("membership.selectors.member_card_type_ids", lambda *, member_id, at: {3})
    with pytest.raises(NotUnlocked):
        redeem(rich, card, key="1")
    monkeypatch.setattr("membership.selectors.member_card_type_ids", lambda *, member_id, at: {3, 9})
    assert redeem(rich, card, key="2").status == "fulfilled"


def test_a_physical_item_needs_an_address_of_my_own(rich):
    cup = MallItemFactory()
    stranger = MemberFactory()
    theirs = address(stranger)
    before = state(cup, rich)

    with pytest.raises(AddressRequired):
        redeem(rich, cup, key="1")
    with pytest.raises(AddressNotFound):
        redeem(rich, cup, key="2", address_id=theirs.pk)

    assert state(cup, rich) == before


def test_a_coupon_item_issues_its_coupon_at_once(rich):
    tpl = CouponTemplateFactory(total_stock=5)
    voucher = MallItemFactory(name="20元券", kind="coupon", coupon_template=tpl, points=200)

    r = redeem(rich, voucher)

    assert r.status == "fulfilled" and r.fulfilled_at is not None
    coupon = Coupon.objects.get(pk=r.coupon_id)
    assert (coupon.member_id, coupon.source) == (rich.pk, "mall")


def test_a_coupon_item_whose_coupon_ran_out_is_sold_out_and_changes_nothing(rich):
    tpl = CouponTemplateFactory(total_stock=0)
    voucher = MallItemFactory(name="20元券", kind="coupon", coupon_template=tpl, points=200)
    before = state(voucher, rich)

    with pytest.raises(SoldOut):
        redeem(rich, voucher)

    assert state(voucher, rich) == before and not Coupon.objects.exists()


def test_a_virtual_code_goes_to_one_redemption_and_the_last_code_then_sells_out(rich):
    card = virtual_item(codes=["ONLY-ONE"])
    other = MemberFactory()
    EarnedPointsFactory(member=other, amount=1_000)

    r = redeem(rich, card)
    with pytest.raises(SoldOut):
        redeem(other, card)

    assert VirtualCode.objects.get(code="ONLY-ONE").redemption_id == r.pk
    assert points_of(other) == 1_000


def test_stock_without_codes_behind_it_sells_out_rather_than_giving_nothing(rich):
    card = virtual_item(codes=["A"])
    services.item_restock(item_id=card.pk, delta=5)  # an operator raised the stock, but uploaded no codes
    redeem(rich, card, key="1")
    before = state(card, rich)

    with pytest.raises(SoldOut):
        redeem(rich, card, key="2")

    assert state(card, rich) == before


def test_uploading_codes_twice_adds_each_code_once(db):
    card = virtual_item(codes=["A", "B"])
    added, skipped = services.virtual_codes_import(item_id=card.pk, codes=["B", "C", " ", "C"])
    card.refresh_from_db()
    assert (added, skipped, card.stock) == (1, 1, 3)


def test_redemption_events_are_append_only(rich):
    r = redeem(rich, virtual_item())
    for sql in ("UPDATE mall_redemptionevent SET note = 'x'", "DELETE FROM mall_redemptionevent"):
        with pytest.raises(Exception), transaction.atomic(), connection.cursor() as cur:  # noqa: B017
            cur.execute(sql)
    assert RedemptionEvent.objects.filter(redemption=r).count() == 1


def test_the_database_refuses_negative_stock(db):
    cup = MallItemFactory(stock=0)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cur:
        cur.execute("UPDATE mall_mallitem SET stock = stock - 1 WHERE id = %s", [cup.pk])


# --- points + cash ------------------------------------------------------------------------


def test_points_and_cash_holds_stock_and_points_until_paid_then_fulfils(rich):
    card = virtual_item(cash_fen=990)

    r = services.redemption_create(member=rich, item_id=card.pk, idempotency_key="k").redemption

    assert r.status == "pending_payment"
    params = payments.payment_prepay(payment=Payment.objects.get(out_trade_no=r.out_trade_no))
    assert params["package"].startswith("prepay_id=")
    card.refresh_from_db()
    assert (card.stock, points_of(rich)) == (1, 9_500)
    pay(r)
    assert r.status == "fulfilled" and r.paid_at is not None
    assert VirtualCode.objects.get(redemption=r).code in ("CODE-0001", "CODE-0002")


def test_a_duplicated_payment_notification_fulfils_once(rich):
    tpl = CouponTemplateFactory(total_stock=5, per_member_limit=5)
    voucher = MallItemFactory(name="20元券", kind="coupon", coupon_template=tpl, points=100, cash_fen=500)
    r = redeem(rich, voucher)

    headers, body = pay(r)
    payments.payment_handle_notification(headers=headers, body=body)
    payments.payment_handle_notification(headers=headers, body=body)

    r.refresh_from_db()
    assert r.status == "fulfilled"
    assert Coupon.objects.filter(member=rich).count() == 1
    assert RedemptionEvent.objects.filter(redemption=r, kind="paid").count() == 1


def test_a_payment_that_times_out_releases_the_stock_the_code_and_restores_the_points(rich):
    card = virtual_item(codes=["ONLY"], cash_fen=990)
    r = redeem(rich, card)
    assert VirtualCode.objects.filter(redemption=r).exists()

    with time_machine.travel(timezone.now() + timedelta(minutes=20)):
        assert payments.payments_close_stale() == 1
        assert payments.payments_close_stale() == 0

    r.refresh_from_db()
    card.refresh_from_db()
    assert r.status == "cancelled"
    assert (card.stock, card.sold_count, points_of(rich)) == (1, 0, 10_000)
    assert not VirtualCode.objects.filter(redemption__isnull=False).exists()


def test_money_arriving_after_the_timeout_is_refunded_in_full(rich):
    cup = MallItemFactory(cash_fen=1_990)
    r = redeem(rich, cup, address_id=address(rich).pk)
    headers, body = pay(r, deliver=False)  # the member paid; the notification is late
    Payment.objects.filter(out_trade_no=r.out_trade_no).update(status="closed")
    services.redemption_payment_closed(payment=Payment.objects.get(out_trade_no=r.out_trade_no))

    payments.payment_handle_notification(headers=headers, body=body)

    r.refresh_from_db()
    assert r.status == "cancelled" and points_of(rich) == 10_000
    refund = PaymentRefund.objects.get()
    assert (refund.amount_fen, refund.out_refund_no) == (1_990, f"MR{r.no}")


def test_a_coupon_that_runs_out_while_the_member_pays_gives_everything_back(rich):
    tpl = CouponTemplateFactory(total_stock=1, per_member_limit=5)
    voucher = MallItemFactory(name="20元券", kind="coupon", coupon_template=tpl, points=100, cash_fen=500)
    r = redeem(rich, voucher)
    CouponFactory(template=tpl)  # the last one in stock, to someone else

    pay(r)

    voucher.refresh_from_db()
    assert r.status == "cancelled" and points_of(rich) == 10_000 and voucher.stock == 10
    assert PaymentRefund.objects.get().amount_fen == 500


def test_wechat_pay_down_at_prepay_keeps_the_redemption_payable_with_its_stock_and_points(rich, monkeypatch):
    from payments.exceptions import PaymentUnavailable
    from payments.gateway import FakeGateway

    def down(self, **kwargs):
        raise PaymentUnavailable()

    card = virtual_item(cash_fen=990)
    r = redeem(rich, card)
    monkeypatch.setattr(FakeGateway, "prepay", down)
    with pytest.raises(PaymentUnavailable):
        payments.payment_prepay(payment=Payment.objects.get(out_trade_no=r.out_trade_no))
    monkeypatch.undo()

    card.refresh_from_db()
    assert (card.stock, points_of(rich)) == (1, 9_500)
    assert Redemption.objects.get().status == "pending_payment"
    pay(r)
    assert r.status == "fulfilled"


# --- cancel, ship, confirm ---------------------------------------------------------------------


def test_cancelling_a_paid_physical_redemption_restores_points_cash_and_stock_once(rich):
    cup = MallItemFactory(points=300, cash_fen=1_000, stock=2)
    r = redeem(rich, cup, address_id=address(rich).pk)
    pay(r)
    assert r.status == "paid"

    services.redemption_cancel(redemption_id=r.pk, member_id=rich.pk, reason="no longer needed")
    services.redemption_cancel(redemption_id=r.pk, member_id=rich.pk, reason="again")

    r.refresh_from_db()
    cup.refresh_from_db()
    assert r.status == "cancelled"
    assert (cup.stock, cup.sold_count, points_of(rich)) == (2, 0, 10_000)
    assert PaymentRefund.objects.get().amount_fen == 1_000


def test_a_shipped_or_fulfilled_redemption_cannot_be_cancelled(rich, operator):
    cup = MallItemFactory()
    shipped = redeem(rich, cup, key="1", address_id=address(rich).pk)
    services.redemption_ship(
        redemption_id=shipped.pk, carrier="顺丰", tracking_no="SF1", actor_id=operator.pk
    )
    fulfilled = redeem(rich, virtual_item(), key="2")
    before = points_of(rich)

    for r in (shipped, fulfilled):
        with pytest.raises(RedemptionNotCancellable):
            services.redemption_cancel(redemption_id=r.pk, member_id=rich.pk, reason="x")

    assert points_of(rich) == before


def test_another_members_redemption_is_not_found(rich):
    r = redeem(rich, virtual_item())
    with pytest.raises(RedemptionNotFound):
        services.redemption_cancel(redemption_id=r.pk, member_id=MemberFactory().pk, reason="x")
    with pytest.raises(RedemptionNotFound):
        services.redemption_confirm_receipt(redemption_id=r.pk, member_id=MemberFactory().pk)


def test_ship_then_confirm_receipt_completes(rich, operator):
    r = redeem(rich, MallItemFactory(), address_id=address(rich).pk)
    with pytest.raises(ReceiptNotConfirmable):
        services.redemption_confirm_receipt(redemption_id=r.pk, member_id=rich.pk)

    r, shipped = services.redemption_ship(
        redemption_id=r.pk, carrier="顺丰", tracking_no="SF100", actor_id=operator.pk
    )
    again, shipped_again = services.redemption_ship(
        redemption_id=r.pk, carrier="顺丰", tracking_no="SF100", actor_id=operator.pk
    )
    done = services.redemption_confirm_receipt(redemption_id=r.pk, member_id=rich.pk)

    assert (shipped, shipped_again) == (True, False)
    assert done.status == "completed" and done.completed_at is not None


def test_shipped_redemptions_complete_automatically_after_n_days_once(rich, operator):
    old = redeem(rich, MallItemFactory(), key="1", address_id=address(rich).pk)
    fresh = redeem(rich, MallItemFactory(), key="2", address_id=address(rich).pk)
    with time_machine.travel(timezone.now() - timedelta(days=8)):
        services.redemption_ship(redemption_id=old.pk, carrier="EMS", tracking_no="E1", actor_id=operator.pk)
    services.redemption_ship(redemption_id=fresh.pk, carrier="EMS", tracking_no="E2", actor_id=operator.pk)

    assert services.redemptions_auto_complete(chunk_size=1) == 1
    assert services.redemptions_auto_complete() == 0

    old.refresh_from_db()
    fresh.refresh_from_db()
    assert (old.status, fresh.status) == ("completed", "shipped")


def test_shipping_from_rows_reports_each_row(rich, operator):
    paid = redeem(rich, MallItemFactory(), key="1", address_id=address(rich).pk)
    code = redeem(rich, virtual_item(), key="2")

    results = services.redemptions_ship_rows(
        rows=[
            [paid.no, "顺丰", "SF1"],
            [paid.no, "顺丰", "SF1"],
            ["M-NOPE", "顺丰", "SF2"],
            [code.no, "顺丰", "SF3"],
            [paid.no, "", ""],
        ],
        actor_id=operator.pk,
    )

    assert [r["result"] for r in results] == [
        "shipped",
        "already_shipped",
        "not_found",
        "not_shippable",
        "missing_tracking",
    ]


# --- addresses ----------------------------------------------------------------------------------


def test_the_first_address_is_the_default_and_one_default_moves(member):
    home = address(member)
    office = address(member, detail="文三路2号", is_default=True)
    home.refresh_from_db()
    assert (home.is_default, office.is_default) == (False, True)

    services.address_delete(member_id=member.pk, address_id=office.pk)
    home.refresh_from_db()
    assert home.is_default
