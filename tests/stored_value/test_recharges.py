"""Recharge plans and the recharge lifecycle: the examples of docs/rules/stored-value.md, limits, cap, close, refund."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from payments import services as payments
from payments.exceptions import PaymentUnavailable
from payments.gateway import FakeGateway
from payments.models import Payment, PaymentRefund
from points.models import PointsEntry
from stored_value import recharges, selectors
from stored_value.exceptions import (
    AccountFrozen,
    AmountOutOfRange,
    BalanceCapExceeded,
    NothingToRefund,
    PlanAlreadyUsed,
    PlanUnavailable,
    RechargeNotCredited,
)
from stored_value.models import RechargeOrder, RechargePlan, StoredValueEntry, StoredValuePolicy
from stored_value.services import stored_value_set_frozen
from tests.factories import (
    CouponTemplateFactory,
    GiftPackFactory,
    OperatorFactory,
    RechargePlan1500Factory,
    RechargePlanFactory,
)
from tests.stored_value.helpers import parts, spend
from tests.stored_value.recharge_helpers import start_recharge

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("ledgers_stay_consistent")]


@pytest.fixture
def finance(db):
    return OperatorFactory(username="finance")


def pay(order):
    payments.payment_simulate_pay(payment=payments.payment_get(out_trade_no=order.out_trade_no))
    order.refresh_from_db()
    return order


def nothing_written(member):
    assert not RechargeOrder.objects.filter(member=member).exists()
    assert not Payment.objects.filter(member=member).exists()
    assert parts(member) == (0, 0)


def test_design_example_one_pay_1500_get_1650_spend_1600_leaves_50_as_liability(member):
    order, _ = start_recharge(member, RechargePlan1500Factory(), 150_000)
    assert parts(member) == (0, 0)  # nothing until the money arrives

    pay(order)
    assert order.status == "credited"
    assert parts(member) == (150_000, 15_000)

    spend(member, 160_000)
    principal, bonus = parts(member)
    assert principal + bonus == 5_000
    today = timezone.localdate()
    liability = selectors.liability_by_day(start=today, end=today)[-1]
    assert liability["principal_fen"] + liability["bonus_fen"] == 5_000


def test_design_example_two_a_2000_recharge_gets_the_best_tier_reached_never_pro_rata(member):
    plan = RechargePlanFactory(name="充值有礼", tiers=[(150_000, 15_000), (300_000, 30_000)])
    assert recharges.recharge_bonus(plan=plan, amount_fen=200_000) == 15_000
    assert recharges.recharge_bonus(plan=plan, amount_fen=300_000) == 30_000
    assert recharges.recharge_bonus(plan=plan, amount_fen=149_999) == 0

    order, _ = start_recharge(member, plan, 200_000)
    pay(order)
    assert parts(member) == (200_000, 15_000)


@pytest.mark.parametrize(
    ("amount", "bonus"), [(100_000, 10_000), (1_009, 100), (1_010, 101), (9, 0), (150_001, 15_000)]
)
def test_a_ratio_plan_gives_a_tenth_rounded_down_to_the_fen(amount, bonus):
    plan = RechargePlan.objects.create(name="10:1", kind="ratio", ratio_pay=10, ratio_bonus=1)
    assert recharges.recharge_bonus(plan=plan, amount_fen=amount) == bonus


def test_gift_points_arrive_with_the_credit_once(member):
    order, payment = start_recharge(member, RechargePlan1500Factory(gift_points=300), 150_000)
    headers, body = payments.payment_simulate_pay(payment=payment)
    payments.payment_handle_notification(headers=headers, body=body)

    gifts = PointsEntry.objects.filter(account__member=member, source="recharge_gift")
    assert [entry.amount for entry in gifts] == [300]


@pytest.mark.parametrize("amount", [0, -100, 1.5, "100", True, None])
def test_amounts_that_are_not_a_positive_whole_number_of_fen_are_refused(member, amount):
    with pytest.raises(AmountOutOfRange):
        recharges.recharge_create(member=member, plan_id=RechargePlan1500Factory().pk, amount_fen=amount)
    nothing_written(member)


def test_an_amount_outside_the_plan_range_is_refused_with_the_range(member):
    plan = RechargePlan1500Factory(min_fen=10_000)
    with pytest.raises(AmountOutOfRange) as error:
        recharges.recharge_create(member=member, plan_id=plan.pk, amount_fen=9_999)
    assert error.value.details == {"min_fen": 10_000, "max_fen": 500_000}
    nothing_written(member)


def test_inactive_out_of_window_and_unknown_plans_are_unavailable(member):
    now = timezone.now()
    plans = [
        RechargePlan1500Factory(is_active=False),
        RechargePlan1500Factory(starts_at=now + timedelta(days=1)),
        RechargePlan1500Factory(ends_at=now - timedelta(seconds=1)),
    ]
    for plan_id in [plan.pk for plan in plans] + [999_999]:
        with pytest.raises(PlanUnavailable):
            recharges.recharge_create(member=member, plan_id=plan_id, amount_fen=150_000)
    nothing_written(member)
    assert recharges.plans_available(member_id=member.pk) == []


def test_a_first_recharge_only_plan_is_gone_after_the_first_recharge(member):
    first = RechargePlan1500Factory(first_recharge_only=True)
    pay(start_recharge(member, first, 150_000)[0])

    with pytest.raises(PlanAlreadyUsed):
        recharges.recharge_create(member=member, plan_id=first.pk, amount_fen=150_000)
    assert first not in recharges.plans_available(member_id=member.pk)


def test_a_closed_recharge_does_not_use_up_a_plan(member):
    plan = RechargePlan1500Factory(max_uses_per_member=1)
    order, payment = start_recharge(member, plan, 150_000)
    with time_machine.travel(timezone.now() + timedelta(minutes=30)):
        assert payments.payments_close_stale() == 1
    order.refresh_from_db()
    assert order.status == "closed"
    assert plan in recharges.plans_available(member_id=member.pk)


def test_the_balance_cap_counts_balance_pending_recharges_and_the_bonus(member):
    StoredValuePolicy.objects.update_or_create(pk=1, defaults={"balance_cap_fen": 400_000})
    plan = RechargePlan1500Factory()
    pay(start_recharge(member, plan, 150_000)[0])  # 1650.00
    start_recharge(member, plan, 100_000)  # pending 1000.00

    with pytest.raises(BalanceCapExceeded) as error:  # 1650 + 1000 + 1500 + 150 > 4000
        recharges.recharge_create(member=member, plan_id=plan.pk, amount_fen=150_000)
    assert error.value.details == {
        "cap_fen": 400_000,
        "balance_fen": 165_000,
        "pending_fen": 100_000,
        "max_amount_fen": 135_000,
    }
    assert RechargeOrder.objects.filter(member=member).count() == 2

    order, _ = start_recharge(member, plan, 135_000)  # exactly up to the cap
    assert order.amount_fen == 135_000


def test_the_default_cap_is_5000_yuan(member):
    plan = RechargePlan.objects.create(name="open", kind="open", max_fen=10**9)
    with pytest.raises(BalanceCapExceeded):
        recharges.recharge_create(member=member, plan_id=plan.pk, amount_fen=500_001)
    nothing_written(member)
    assert start_recharge(member, plan, 500_000)[0].amount_fen == 500_000


def test_a_frozen_account_cannot_start_a_recharge(member, finance):
    stored_value_set_frozen(member_id=member.pk, frozen=True, reason="disputed", actor_id=finance.pk)
    with pytest.raises(AccountFrozen):
        recharges.recharge_create(member=member, plan_id=RechargePlan1500Factory().pk, amount_fen=150_000)
    assert not RechargeOrder.objects.exists()


def test_wechat_pay_down_at_prepay_keeps_the_order_awaiting_payment_until_the_job_closes_it(
    member, monkeypatch
):
    def down(self, **kwargs):
        raise PaymentUnavailable()

    monkeypatch.setattr(FakeGateway, "prepay", down)
    plan = RechargePlan1500Factory(max_uses_per_member=1)
    order = recharges.recharge_create(member=member, plan_id=plan.pk, amount_fen=150_000)
    with pytest.raises(PaymentUnavailable):
        payments.payment_prepay(payment=Payment.objects.get())

    assert (order.status, Payment.objects.get().status, parts(member)) == ("created", "created", (0, 0))
    assert plan not in recharges.plans_available(member_id=member.pk)  # awaiting payment: it counts
    with time_machine.travel(timezone.now() + timedelta(minutes=17)):
        assert payments.payments_close_stale() == 1
    assert list(RechargeOrder.objects.values_list("status", flat=True)) == ["closed"]
    assert plan in recharges.plans_available(member_id=member.pk)  # a closed attempt uses nothing up


def test_stale_unpaid_recharges_close_and_a_paid_one_with_a_lost_notification_is_credited(member):
    plan = RechargePlan1500Factory()
    unpaid, _ = start_recharge(member, plan, 10_000)
    lost, lost_payment = start_recharge(member, plan, 20_000)
    payments.payment_simulate_pay(payment=lost_payment, deliver=False)  # paid, notification lost
    fresh, _ = start_recharge(member, plan, 30_000)

    with time_machine.travel(timezone.now() + timedelta(minutes=17)):
        fresh_payment = Payment.objects.get(out_trade_no=fresh.out_trade_no)
        fresh_payment.expires_at = timezone.now() + timedelta(minutes=5)
        fresh_payment.save()
        assert payments.payments_close_stale() == 1
        assert payments.payments_close_stale() == 0  # a second run changes nothing

    for order in (unpaid, lost, fresh):
        order.refresh_from_db()
    assert (unpaid.status, lost.status, fresh.status) == ("closed", "credited", "created")
    assert parts(member) == (20_000, 0)


def test_money_arriving_after_the_order_closed_is_still_credited(member):
    order, payment = start_recharge(member, RechargePlan1500Factory(), 150_000)
    headers, body = payments.payment_simulate_pay(payment=payment, deliver=False)
    Payment.objects.filter(pk=payment.pk).update(status="closed")
    RechargeOrder.objects.filter(pk=order.pk).update(status="closed")

    payments.payment_handle_notification(headers=headers, body=body)

    order.refresh_from_db()
    assert order.status == "credited"
    assert parts(member) == (150_000, 15_000)


def test_refund_after_partial_spending_returns_unspent_principal_and_forfeits_unspent_bonus(
    member, finance, django_capture_on_commit_callbacks
):
    order = pay(start_recharge(member, RechargePlan1500Factory(), 150_000)[0])
    spend(member, 55_000)  # proportional: 50,000 principal + 5,000 bonus
    assert parts(member) == (100_000, 10_000)

    with django_capture_on_commit_callbacks(execute=True):
        order = recharges.recharge_refund(
            order_id=order.pk, actor_id=finance.pk, reason="customer moved away", idempotency_key="rf-1"
        )

    assert (order.status, order.refunded_fen, order.forfeited_bonus_fen) == ("refunded", 100_000, 10_000)
    assert parts(member) == (0, 0)
    entry = StoredValueEntry.objects.get(kind="recharge_refund")
    assert (entry.principal_fen, entry.bonus_fen, entry.actor_id) == (-100_000, -10_000, finance.pk)
    refund = PaymentRefund.objects.get()
    assert (refund.amount_fen, refund.status, refund.attempts) == (100_000, "succeeded", 1)
    assert refund.payment.refunded_fen == 100_000

    again = recharges.recharge_refund(
        order_id=order.pk, actor_id=finance.pk, reason="customer moved away", idempotency_key="rf-1"
    )
    assert again.refunded_fen == 100_000
    with pytest.raises(NothingToRefund):
        recharges.recharge_refund(
            order_id=order.pk, actor_id=finance.pk, reason="again", idempotency_key="rf-2"
        )
    assert PaymentRefund.objects.count() == 1


def test_spending_counts_against_the_oldest_recharge_so_a_refund_takes_only_what_is_left_of_it(
    member, finance
):
    plan = RechargePlan.objects.create(name="open", kind="open", max_fen=10**9)
    older = pay(start_recharge(member, plan, 10_000)[0])
    newer = pay(start_recharge(member, plan, 30_000)[0])
    spend(member, 15_000)  # all of the older recharge and 5,000 of the newer

    with pytest.raises(NothingToRefund):
        recharges.recharge_refund(order_id=older.pk, actor_id=finance.pk, reason="r", idempotency_key="k1")
    newer = recharges.recharge_refund(
        order_id=newer.pk, actor_id=finance.pk, reason="r", idempotency_key="k2"
    )

    assert newer.refunded_fen == 25_000
    assert parts(member) == (0, 0)


def test_a_refund_waits_for_wechat_when_it_is_down_and_the_retry_job_submits_it(
    member, finance, monkeypatch, django_capture_on_commit_callbacks
):
    order = pay(start_recharge(member, RechargePlan1500Factory(), 150_000)[0])
    original = FakeGateway.refund

    def down(self, **kwargs):
        raise PaymentUnavailable()

    monkeypatch.setattr(FakeGateway, "refund", down)
    with django_capture_on_commit_callbacks(execute=True):
        recharges.recharge_refund(order_id=order.pk, actor_id=finance.pk, reason="r", idempotency_key="k")
    refund = PaymentRefund.objects.get()
    assert refund.status == "pending"
    assert parts(member) == (0, 0)  # the money is out of the balance either way: it cannot be spent twice

    monkeypatch.setattr(FakeGateway, "refund", original)
    with time_machine.travel(timezone.now() + timedelta(minutes=6)):
        assert payments.payment_refunds_retry() == 1
    refund.refresh_from_db()
    assert refund.status == "succeeded"


def test_only_a_credited_recharge_can_be_refunded(member, finance):
    order, _ = start_recharge(member, RechargePlan1500Factory(), 150_000)
    with pytest.raises(RechargeNotCredited):
        recharges.recharge_refund(order_id=order.pk, actor_id=finance.pk, reason="r", idempotency_key="k")
    assert not StoredValueEntry.objects.exists()


def test_a_plans_gift_pack_arrives_with_the_credit_once(member):
    from coupons.models import Coupon, GiftPackItem

    pack = GiftPackFactory(name="充值礼包")
    GiftPackItem.objects.create(pack=pack, template=CouponTemplateFactory(), quantity=1)
    order, payment = start_recharge(member, RechargePlan1500Factory(gift_pack=pack), 150_000)
    headers, body = payments.payment_simulate_pay(payment=payment)
    payments.payment_handle_notification(headers=headers, body=body)

    assert Coupon.objects.filter(member=member, source="gift_pack").count() == 1


def test_principal_added_by_an_operator_is_spendable_but_never_refunded(member, finance):
    from stored_value import ledger

    order = pay(start_recharge(member, RechargePlan.objects.create(name="open", kind="open"), 10_000)[0])
    spend(member, 10_000)
    ledger.stored_value_adjust(
        member_id=member.pk,
        principal_fen=10_000,
        bonus_fen=0,
        reason="goodwill",
        actor_id=finance.pk,
        idempotency_key="gw",
    )

    with pytest.raises(NothingToRefund):
        recharges.recharge_refund(order_id=order.pk, actor_id=finance.pk, reason="r", idempotency_key="k")
    assert parts(member) == (10_000, 0)


# --- a refund takes back the recharge's gifts ---------------------------------------------


@pytest.fixture
def gift_plan(db):
    """充100送20 with 200 gift points and a gift pack of two coupons and 50 points."""
    from coupons.models import GiftPackItem

    pack = GiftPackFactory(name="充值礼包", points=50)
    GiftPackItem.objects.create(pack=pack, template=CouponTemplateFactory(per_member_limit=5), quantity=2)
    return RechargePlanFactory(name="充100送20", tiers=[(10_000, 2_000)], gift_points=200, gift_pack=pack)


def gifts_of(member) -> tuple[int, list[str]]:
    from coupons.models import Coupon

    coupons = Coupon.objects.filter(member=member, source="gift_pack").order_by("pk")
    return points_balance(member), list(coupons.values_list("status", flat=True))


def points_balance(member) -> int:
    from points.models import PointsAccount

    return PointsAccount.objects.get(member=member).balance


def refund(order, finance, key="rf", reason="customer moved away"):
    return recharges.recharge_refund(
        order_id=order.pk, actor_id=finance.pk, reason=reason, idempotency_key=key
    )


def test_a_full_refund_takes_back_the_gift_points_and_voids_the_gift_coupons(member, finance, gift_plan):
    from coupons.models import CouponEvent

    order = pay(start_recharge(member, gift_plan, 10_000)[0])
    assert gifts_of(member) == (250, ["available", "available"])

    order = refund(order, finance)

    assert (order.refunded_fen, order.forfeited_bonus_fen, parts(member)) == (10_000, 2_000, (0, 0))
    assert gifts_of(member) == (0, ["voided", "voided"])
    reversed_ = PointsEntry.objects.filter(account__member=member, kind="reverse").order_by("pk")
    assert [(e.source, e.amount) for e in reversed_] == [("recharge_gift", -200), ("gift_pack", -50)]
    voids = CouponEvent.objects.filter(coupon__member=member, kind="voided")
    assert {(e.reason, e.actor_id) for e in voids} == {("customer moved away", finance.pk)}


def test_partial_refunds_take_back_gift_points_in_proportion_rounded_down_and_all_of_them_in_the_end(
    member, finance, gift_plan
):
    from stored_value import ledger

    gift_plan.gift_points = 333
    gift_plan.save()
    order = pay(start_recharge(member, gift_plan, 10_000)[0])
    spent = spend(member, 3_600)  # proportional: 3,000 principal + 600 bonus
    assert parts(member) == (7_000, 1_400)

    order = refund(order, finance, key="rf-1")  # 7,000 of 10,000: floor(333 × 0.7) = 233
    assert order.refunded_fen == 7_000
    assert gifts_of(member) == (50 + 100, ["available", "available"])  # not all refunded: the pack stays

    ledger.stored_value_refund_spend(member_id=member.pk, entry_id=spent.entry_id, idempotency_key="back")
    order = refund(order, finance, key="rf-2")  # the last 3,000: 333 − 233 = 100, the pack goes too

    assert (order.refunded_fen, parts(member)) == (10_000, (0, 0))
    assert gifts_of(member) == (0, ["voided", "voided"])
    gift = PointsEntry.objects.filter(account__member=member, source="recharge_gift", kind="reverse")
    assert sorted(e.amount for e in gift) == [-233, -100]


def test_gift_points_already_spent_become_a_debt_that_blocks_spending(member, finance, gift_plan):
    from points import ledger as points_ledger
    from points.exceptions import InsufficientPoints

    order = pay(start_recharge(member, gift_plan, 10_000)[0])
    points_ledger.points_spend(member_id=member.pk, amount=180, idempotency_key="mall")

    refund(order, finance)

    assert points_balance(member) == 70 - 250  # 200 + 50 clawed back from the 70 left
    with pytest.raises(InsufficientPoints):
        points_ledger.points_spend(member_id=member.pk, amount=1, idempotency_key="more")


def test_used_gift_coupons_stay_used_and_the_unused_ones_are_voided(member, finance, gift_plan):
    from coupons import services as coupon_services
    from coupons.models import Coupon

    order = pay(start_recharge(member, gift_plan, 10_000)[0])
    first = Coupon.objects.filter(member=member, source="gift_pack").order_by("pk").first()
    coupon_services.coupon_redeem_code(code=first.code, order_no="TILL-1")

    refund(order, finance)

    assert gifts_of(member) == (0, ["used", "voided"])


def test_a_replayed_refund_takes_back_nothing_twice(member, finance, gift_plan):
    from coupons.models import CouponEvent
    from points.models import PointsEntry as Entry

    order = pay(start_recharge(member, gift_plan, 10_000)[0])
    refund(order, finance, key="rf-1")
    assert gifts_of(member) == (0, ["voided", "voided"])
    after = (
        gifts_of(member),
        Entry.objects.count(),
        CouponEvent.objects.count(),
        PaymentRefund.objects.count(),
    )

    assert refund(order, finance, key="rf-1").refunded_fen == 10_000
    with pytest.raises(NothingToRefund):
        refund(order, finance, key="rf-2")

    assert (
        gifts_of(member),
        Entry.objects.count(),
        CouponEvent.objects.count(),
        PaymentRefund.objects.count(),
    ) == after


def test_a_gift_coupon_held_by_an_open_order_refuses_the_full_refund_with_nothing_written(
    member, finance, gift_plan
):
    from coupons import services as coupon_services
    from coupons.exceptions import CouponNotVoidable
    from coupons.models import Coupon, CouponEvent
    from points.models import PointsEntry as Entry

    order = pay(start_recharge(member, gift_plan, 10_000)[0])
    held = Coupon.objects.filter(member=member, source="gift_pack").order_by("pk").first()
    coupon_services.coupon_lock(member_id=member.pk, coupon_id=held.pk, order_no="OPEN-1")
    before = (
        parts(member),
        gifts_of(member),
        Entry.objects.count(),
        CouponEvent.objects.count(),
        PaymentRefund.objects.count(),
    )

    with pytest.raises(CouponNotVoidable) as error:
        refund(order, finance)

    assert error.value.details["order_no"] == "OPEN-1"
    order.refresh_from_db()
    assert (order.status, order.refunded_fen) == ("credited", 0)
    assert (
        parts(member),
        gifts_of(member),
        Entry.objects.count(),
        CouponEvent.objects.count(),
        PaymentRefund.objects.count(),
    ) == before

    coupon_services.coupon_release(coupon_id=held.pk, order_no="OPEN-1")  # the order was cancelled
    refund(order, finance)
    assert gifts_of(member) == (0, ["voided", "voided"])
