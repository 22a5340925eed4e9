"""砍价: cuts reach the floor in exactly N helps to the fen; every refusal writes nothing; buying pays once."""

from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from coupons.models import Coupon
from growth import bargains
from growth.cuts import cut_sequence
from growth.models import Bargain, BargainActivity, BargainHelp, BargainState
from loyalty import locks
from loyalty.errors import ApplicationError
from mall.models import Redemption, RedemptionStatus
from members.models import Member
from payments import services as payments
from payments.models import Payment, PaymentRefund
from tests.factories import CouponTemplateFactory, MallItemFactory, MemberFactory
from tests.helpers import assert_ledgers_consistent, client_for, page_text
from tests.mall.helpers import address


@given(
    total=st.integers(min_value=1, max_value=10**9),
    helpers=st.integers(min_value=1, max_value=100),
    seed=st.integers(min_value=0, max_value=2**62),
)
@settings(max_examples=500, deadline=None)
def test_the_cuts_reach_the_floor_in_exactly_n_helps_summing_to_the_fen(total, helpers, seed):
    if total < helpers:
        with pytest.raises(ValueError):
            cut_sequence(total_fen=total, helpers=helpers, seed=seed)
        return
    cuts = cut_sequence(total_fen=total, helpers=helpers, seed=seed)
    assert len(cuts) == helpers and sum(cuts) == total and min(cuts) >= 1
    assert cuts == cut_sequence(total_fen=total, helpers=helpers, seed=seed)  # the seed says it all


def test_the_first_cuts_are_larger_than_the_last_ones_on_average():
    sequences = [cut_sequence(total_fen=18910, helpers=10, seed=seed) for seed in range(200)]
    assert sum(s[0] for s in sequences) > 3 * sum(s[-1] for s in sequences)


pytestmark = pytest.mark.django_db


def bargain_activity(*, kind="coupon", helpers=3, original=10_000, floor=990, stock=50, **fields):
    now = timezone.now()
    if kind == "coupon":
        item = MallItemFactory(
            name="砍价券", kind="coupon", coupon_template=CouponTemplateFactory(total_stock=1000)
        )
    else:
        item = MallItemFactory(name="蓝牙音箱", kind="physical", stock=0)
    defaults = {
        "name": "好友帮砍",
        "item": item,
        "original_price_fen": original,
        "floor_price_fen": floor,
        "helpers_needed": helpers,
        "stock_total": stock,
        "starts_at": now - timedelta(days=1),
        "ends_at": now + timedelta(days=7),
    }
    return BargainActivity.objects.create(**{**defaults, **fields})


def start(member, act, key="s", **kwargs) -> Bargain:
    return bargains.bargain_start(member=member, activity_id=act.pk, idempotency_key=key, **kwargs).place


def cut_to_floor(bargain):
    for _i in range(bargain.helpers_needed - bargain.helps_count):
        bargains.bargain_help(helper=MemberFactory(), bargain_id=bargain.pk)
    bargain.refresh_from_db()
    return bargain


def buy_and_pay(member, bargain) -> Payment:
    bargain = bargains.bargain_buy(member=member, bargain_id=bargain.pk)
    payment = Payment.objects.get(out_trade_no=bargain.out_trade_no)
    payments.payment_simulate_pay(payment=payment)
    payment.refresh_from_db()
    return payment


def snapshot(bargain) -> tuple:
    bargain.refresh_from_db()
    return (
        bargain.price_fen,
        bargain.helps_count,
        bargain.state,
        BargainHelp.objects.count(),
        Payment.objects.count(),
    )


def refused(code, bargain, call):
    before = snapshot(bargain)
    with pytest.raises(ApplicationError) as caught:
        call()
    assert caught.value.code == code
    assert snapshot(bargain) == before


def test_a_bargain_is_cut_by_its_drawn_cuts_and_reaches_the_floor_with_the_last_helper():
    act = bargain_activity(helpers=4, original=10_000, floor=990)
    bargain = start(MemberFactory(), act)
    assert bargain.price_fen == 10_000 and sum(bargain.cuts) == 9_010 and len(bargain.cuts) == 4

    cuts = [bargains.bargain_help(helper=MemberFactory(), bargain_id=bargain.pk) for _i in range(4)]

    assert [c.cut_fen for c in cuts] == bargain.cuts and [c.seq for c in cuts] == [1, 2, 3, 4]
    assert cuts[-1].price_after_fen == 990
    refused(
        "bargain_at_floor",
        bargain,
        lambda: bargains.bargain_help(helper=MemberFactory(), bargain_id=bargain.pk),
    )
    assert_ledgers_consistent("growth")


def test_no_one_helps_their_own_bargain_or_the_same_one_twice_and_a_closed_account_cannot_help():
    act = bargain_activity()
    starter, friend, closed = MemberFactory(), MemberFactory(), MemberFactory()
    bargain = start(starter, act)
    refused("own_bargain", bargain, lambda: bargains.bargain_help(helper=starter, bargain_id=bargain.pk))
    bargains.bargain_help(helper=friend, bargain_id=bargain.pk)
    refused("already_helped", bargain, lambda: bargains.bargain_help(helper=friend, bargain_id=bargain.pk))
    Member.objects.filter(pk=closed.pk).update(closed_at=timezone.now())
    closed.refresh_from_db()
    refused("member_closed", bargain, lambda: bargains.bargain_help(helper=closed, bargain_id=bargain.pk))
    with pytest.raises(ApplicationError) as caught:
        start(closed, act)
    assert caught.value.code == "member_closed" and Bargain.objects.count() == 1


def test_a_helper_cuts_at_most_the_daily_limit_of_an_activity_and_new_members_only_when_asked():
    act = bargain_activity(helper_daily_limit=2, helpers_must_be_new=True)
    helper = MemberFactory()
    targets = [start(MemberFactory(), act) for _i in range(3)]
    bargains.bargain_help(helper=helper, bargain_id=targets[0].pk)
    bargains.bargain_help(helper=helper, bargain_id=targets[1].pk)
    refused(
        "help_limit_reached",
        targets[2],
        lambda: bargains.bargain_help(helper=helper, bargain_id=targets[2].pk),
    )
    veteran = MemberFactory()
    Member.objects.filter(pk=veteran.pk).update(registered_at=act.starts_at - timedelta(days=1))
    veteran.refresh_from_db()
    refused(
        "new_members_only",
        targets[2],
        lambda: bargains.bargain_help(helper=veteran, bargain_id=targets[2].pk),
    )


def test_an_ended_bargain_is_neither_cut_nor_bought_and_the_job_ends_it():
    act = bargain_activity(helpers=1)
    member = MemberFactory()
    bargain = start(member, act)
    Bargain.objects.filter(pk=bargain.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    refused(
        "bargain_closed",
        bargain,
        lambda: bargains.bargain_help(helper=MemberFactory(), bargain_id=bargain.pk),
    )
    refused("bargain_closed", bargain, lambda: bargains.bargain_buy(member=member, bargain_id=bargain.pk))
    assert bargains.bargains_expire() == 1 and bargains.bargains_expire() == 0
    bargain.refresh_from_db()
    assert bargain.state == BargainState.EXPIRED


def test_buying_above_the_floor_is_refused_unless_the_activity_allows_it():
    strict, lenient = bargain_activity(), bargain_activity(buy_above_floor=True)
    member = MemberFactory()
    held = start(member, strict, key="a")
    refused("bargain_not_at_floor", held, lambda: bargains.bargain_buy(member=member, bargain_id=held.pk))
    other = start(member, lenient, key="b")
    bargains.bargain_help(helper=MemberFactory(), bargain_id=other.pk)
    other.refresh_from_db()
    payment = buy_and_pay(member, other)
    assert payment.amount_fen == other.price_fen > other.floor_price_fen
    other.refresh_from_db()
    assert other.state == BargainState.PAID and other.paid_fen == payment.amount_fen


def test_buying_at_the_floor_pays_the_floor_price_and_issues_the_coupon_once():
    act = bargain_activity()
    member = MemberFactory()
    bargain = cut_to_floor(start(member, act))
    refused(
        "bargain_not_found",
        bargain,
        lambda: bargains.bargain_buy(member=MemberFactory(), bargain_id=bargain.pk),
    )

    payment = buy_and_pay(member, bargain)

    bargain.refresh_from_db()
    assert payment.amount_fen == 990 and bargain.state == BargainState.PAID
    assert Coupon.objects.filter(member=member).count() == 1 and bargain.coupon_id
    act.refresh_from_db()
    assert act.sold_count == 1
    refused("bargain_closed", bargain, lambda: bargains.bargain_buy(member=member, bargain_id=bargain.pk))
    assert_ledgers_consistent()


def test_a_bought_physical_bargain_joins_the_malls_shipping_queue():
    act = bargain_activity(kind="physical")
    member = MemberFactory()
    bargain = cut_to_floor(start(member, act, address_id=address(member).pk))
    buy_and_pay(member, bargain)
    shipment = Redemption.objects.get(item=act.item)
    assert (shipment.member_id, shipment.status) == (member.pk, RedemptionStatus.PAID)
    assert_ledgers_consistent()


def test_a_payment_arriving_with_no_unit_left_is_refunded_and_the_bargain_reopens():
    act = bargain_activity(stock=1)
    first, second = MemberFactory(), MemberFactory()
    a, b = cut_to_floor(start(first, act)), cut_to_floor(start(second, act))
    bargains.bargain_buy(member=first, bargain_id=a.pk)
    bargains.bargain_buy(member=second, bargain_id=b.pk)
    a.refresh_from_db()
    b.refresh_from_db()
    payments.payment_simulate_pay(payment=Payment.objects.get(out_trade_no=a.out_trade_no))

    payments.payment_simulate_pay(payment=Payment.objects.get(out_trade_no=b.out_trade_no))

    b.refresh_from_db()
    late = Payment.objects.get(out_trade_no=b.out_trade_no)
    assert b.state == BargainState.OPEN and late.refunded_fen == late.amount_fen
    assert PaymentRefund.objects.get(payment=late).reason == bargains.SOLD_OUT
    assert_ledgers_consistent()


def test_a_payment_closed_unpaid_reopens_the_bargain_and_money_arriving_later_is_refunded():
    act = bargain_activity()
    member = MemberFactory()
    bargain = bargains.bargain_buy(member=member, bargain_id=cut_to_floor(start(member, act)).pk)
    payment = Payment.objects.get(out_trade_no=bargain.out_trade_no)
    payments.payment_prepay(payment=payment)
    Payment.objects.filter(pk=payment.pk).update(expires_at=timezone.now() - timedelta(minutes=5))
    payments.payments_close_stale()
    bargain.refresh_from_db()
    assert bargain.state == BargainState.OPEN
    again = bargains.bargain_buy(member=member, bargain_id=bargain.pk)
    assert again.out_trade_no != payment.out_trade_no and again.state == BargainState.PENDING_PAYMENT

    Payment.objects.filter(pk=payment.pk).update(status="created")
    headers, body = payments.get_gateway().pay(out_trade_no=payment.out_trade_no)
    payments.payment_handle_notification(headers=headers, body=body)

    payment.refresh_from_db()
    assert payment.refunded_fen == payment.amount_fen
    again.refresh_from_db()
    assert again.state == BargainState.PENDING_PAYMENT


def test_helping_takes_the_bargain_then_the_helpers_lock_in_the_one_order():
    act = bargain_activity(helper_daily_limit=3)
    bargain = start(MemberFactory(), act)
    with locks.recording() as trail:
        bargains.bargain_help(helper=MemberFactory(), bargain_id=bargain.pk)
    assert locks.out_of_order(trail) == [] and len(trail) == 2


def test_the_api_starts_shows_helps_and_buys(member):
    act = bargain_activity(helpers=2)
    client = client_for(member)
    started = client.post(
        "/api/v1/growth/bargains", {"activity_id": act.pk}, format="json", HTTP_IDEMPOTENCY_KEY="s"
    )
    assert started.status_code == 201, started.json()
    bargain_id = started.json()["id"]
    helper = client_for(MemberFactory(nickname="李雷"))

    cut = helper.post(f"/api/v1/growth/bargains/{bargain_id}/help")
    twice = helper.post(f"/api/v1/growth/bargains/{bargain_id}/help")
    own = client.post(f"/api/v1/growth/bargains/{bargain_id}/help")

    assert cut.status_code == 201 and cut.json()["nickname"] == "李雷"
    assert (twice.status_code, twice.json()["code"]) == (409, "already_helped")
    assert (own.status_code, own.json()["code"]) == (409, "own_bargain")
    shown = helper.get(f"/api/v1/growth/bargains/{bargain_id}").json()
    assert shown["helps_count"] == 1 and shown["helps"][0]["cut_fen"] == cut.json()["cut_fen"]
    early = client.post(f"/api/v1/growth/bargains/{bargain_id}/buy", HTTP_IDEMPOTENCY_KEY="b1")
    assert (early.status_code, early.json()["code"]) == (409, "bargain_not_at_floor")
    client_for(MemberFactory()).post(f"/api/v1/growth/bargains/{bargain_id}/help")
    bought = client.post(f"/api/v1/growth/bargains/{bargain_id}/buy", HTTP_IDEMPOTENCY_KEY="b2")
    assert bought.status_code == 200, bought.json()
    assert bought.json()["bargain"]["state"] == "pending_payment" and bought.json()["payment"]["paySign"]
    mine = client.get("/api/v1/growth/bargains").json()
    assert [b["id"] for b in mine] == [bargain_id] and mine[0]["price_fen"] == 990
    assert helper.get("/api/v1/growth/bargains").json() == []
    assert client.get("/api/v1/growth/bargain-activities").json()[0]["stock_left"] == 50


def test_the_admin_shows_a_bargain_with_its_helpers_and_cuts_in_yuan(admin_client):
    act = bargain_activity(helpers=2)
    bargain = start(MemberFactory(nickname="发起人"), act)
    bargains.bargain_help(helper=MemberFactory(nickname="帮砍者"), bargain_id=bargain.pk)

    text = page_text(admin_client.get(f"/admin/growth/bargain/{bargain.pk}/change/"))
    assert "发起人" in text and "帮砍者" in text and "¥100.00" in text and "1 / 2" in text
    listing = page_text(admin_client.get("/admin/growth/bargainactivity/"))
    assert "好友帮砍" in listing and "¥9.90" in listing


def test_a_started_bargain_activity_keeps_its_prices_and_helpers():
    act = bargain_activity()
    start(MemberFactory(), act)
    act.floor_price_fen = 1
    with pytest.raises(ApplicationError) as caught:
        bargains.bargain_activity_save(activity=act)
    assert caught.value.code == "activity_started"
    act.refresh_from_db()
    assert act.floor_price_fen == 990
