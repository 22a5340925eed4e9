"""Real parallel connections against one stored-value account."""

import pytest

from stored_value import ledger
from stored_value.models import StoredValueEntry
from tests.concurrency import in_thread, run_concurrently
from tests.factories import (
    CouponTemplateFactory,
    GiftPackFactory,
    MemberFactory,
    OperatorFactory,
    RechargeFactory,
    RechargePlan1500Factory,
    RechargePlanFactory,
)
from tests.stored_value.helpers import parts

# One xdist worker runs every module with many connections (see tests/points/test_concurrency.py).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("many-connections")]


def test_a_hundred_parallel_spends_never_overdraw_a_100_yuan_balance():
    """100 spends released at once over at most 50 connections, two or more each: PostgreSQL's
    default of 100 connections (CI's real server) leaves no room for 100 at once beside the rest."""
    member = MemberFactory()
    RechargeFactory(member=member, amount_fen=9_000, bonus_fen=1_000)  # ¥100.00

    results, errors = run_concurrently(
        lambda i: ledger.stored_value_spend(member_id=member.pk, amount_fen=300, idempotency_key=f"s{i}"),
        100,
    )

    assert len(results) == 33 and errors == ["insufficient_balance"] * 67
    assert sum(parts(member)) == 100
    assert min(parts(member)) >= 0
    assert StoredValueEntry.objects.filter(kind="spend").count() == 33


def test_parallel_duplicates_of_one_spend_post_once():
    member = MemberFactory()
    RechargeFactory(member=member, amount_fen=10_000)

    results, errors = run_concurrently(
        lambda i: ledger.stored_value_spend(member_id=member.pk, amount_fen=2_500, idempotency_key="order-9"),
        30,
    )

    assert errors == [] and len({r.entry_id for r in results}) == 1
    assert parts(member) == (7_500, 0)


def test_a_recharge_waiting_on_wechat_never_holds_up_the_members_spends(monkeypatch):
    """The recharge decides under a lock of its own, not the account's: WeChat's slowness is not ours."""
    import threading
    import time

    from payments.gateway import FakeGateway
    from tests.helpers import client_for

    member = MemberFactory()
    RechargeFactory(member=member, amount_fen=10_000)
    plan = RechargePlan1500Factory()
    real_prepay, entered = FakeGateway.prepay, threading.Event()

    def slow_prepay(self, **kwargs):
        entered.set()
        time.sleep(1.5)
        return real_prepay(self, **kwargs)

    monkeypatch.setattr(FakeGateway, "prepay", slow_prepay)

    recharge = in_thread(
        lambda: client_for(member).post(
            "/api/v1/stored-value/recharges",
            {"plan_id": plan.pk, "amount_fen": 150_000},
            format="json",
            HTTP_IDEMPOTENCY_KEY="r1",
        )
    )
    assert entered.wait(5)
    started = time.monotonic()
    ledger.stored_value_spend(member_id=member.pk, amount_fen=100, idempotency_key="coffee")
    waited = time.monotonic() - started

    assert recharge.result(timeout=60).status_code == 201
    assert waited < 1.0
    assert sum(parts(member)) == 9_900


def _gift_plan():
    from coupons.models import GiftPackItem

    pack = GiftPackFactory(name="充值礼包", points=50)
    GiftPackItem.objects.create(pack=pack, template=CouponTemplateFactory(per_member_limit=10), quantity=1)
    return RechargePlanFactory(name="充100送20", tiers=[(10_000, 2_000)], gift_points=200, gift_pack=pack)


def _paid_recharge(member, plan):
    from payments import services as payments
    from tests.stored_value.recharge_helpers import start_recharge

    order, payment = start_recharge(member, plan, 10_000)
    payments.payment_simulate_pay(payment=payment)
    order.refresh_from_db()
    return order


def test_refunding_one_recharge_while_another_is_credited_takes_the_locks_in_one_order(monkeypatch):
    """Both lock the member's points and stored value (and gift coupons): in the same order, so the
    credit arriving while the refund holds the points account waits for it instead of deadlocking."""
    import threading
    import time

    from django.db import connections

    from payments import services as payments
    from points import ledger as points_ledger
    from points.models import PointsAccount
    from stored_value import recharges
    from tests.stored_value.recharge_helpers import start_recharge

    finance = OperatorFactory(username="finance")
    plan = _gift_plan()
    member = MemberFactory()
    refunded = _paid_recharge(member, plan)
    payment_due = start_recharge(member, plan, 10_000)[1]
    real_lock, points_locked = points_ledger.lock_account, threading.Event()

    def lock_then_linger(**kwargs):
        balance = real_lock(**kwargs)
        points_locked.set()
        time.sleep(1)  # the credit runs meanwhile, as far as its locks let it
        return balance

    monkeypatch.setattr(points_ledger, "lock_account", lock_then_linger)
    outcomes = []

    def run(work):
        try:
            outcomes.append(work())
        except Exception as exc:  # noqa: BLE001 - a deadlock is the failure this test looks for
            outcomes.append(exc)
        finally:
            connections.close_all()

    def refund():
        return recharges.recharge_refund(
            order_id=refunded.pk, actor_id=finance.pk, reason="r", idempotency_key="rf"
        )

    def credit():
        assert points_locked.wait(10)
        return payments.payment_simulate_pay(payment=payment_due)

    threads = [threading.Thread(target=run, args=(work,)) for work in (refund, credit)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [o for o in outcomes if isinstance(o, Exception)] == []
    assert parts(member) == (10_000, 2_000)  # the second recharge, credited; the first refunded
    assert PointsAccount.objects.get(member=member).balance == 250  # the second recharge's gifts


def test_a_refund_racing_a_checkout_for_a_gift_coupon_lets_one_of_them_have_it():
    """Either the order locks the coupon and the full refund is refused, or the refund voids it and the
    commit's quote is stale: never both, never a deadlock."""

    from coupons.models import Coupon
    from orders.quote import compute_quote
    from orders.services import order_commit
    from stored_value import recharges
    from tests.orders.helpers import basket

    finance = OperatorFactory(username="finance")
    plan = _gift_plan()
    outcomes = []
    for n in range(4):
        member = MemberFactory()
        order = _paid_recharge(member, plan)
        coupon = Coupon.objects.get(member=member, source="gift_pack")
        b = basket(("TEA", 12_000, 1), coupon_ids=[coupon.pk])
        quote = compute_quote(member_id=member.pk, basket=b)

        def work(i, member=member, order=order, b=b, quote=quote, n=n):
            if i:
                return order_commit(
                    member_id=member.pk, order_no=f"O{n}", basket=b, quote_hash=quote.fingerprint
                )
            return recharges.recharge_refund(
                order_id=order.pk, actor_id=finance.pk, reason="r", idempotency_key="rf"
            )

        results, errors = run_concurrently(work, 2)
        coupon.refresh_from_db()
        order.refresh_from_db()
        assert len(results) == 1 and len(errors) == 1
        if errors == ["coupon_not_voidable"]:
            assert (coupon.status, order.refunded_fen) == ("locked", 0)
        else:
            assert errors == ["quote_stale"]
            assert (coupon.status, order.refunded_fen) == ("voided", 10_000)
        outcomes.append(errors[0])
    assert set(outcomes) <= {"coupon_not_voidable", "quote_stale"}


def test_parallel_duplicates_of_one_recharge_refund_take_the_gifts_back_once():

    from points.models import PointsAccount, PointsEntry
    from stored_value import recharges

    finance = OperatorFactory(username="finance")
    member = MemberFactory()
    order = _paid_recharge(member, _gift_plan())

    results, errors = run_concurrently(
        lambda i: recharges.recharge_refund(
            order_id=order.pk, actor_id=finance.pk, reason="r", idempotency_key="rf"
        ),
        10,
    )

    assert errors == [] and {r.refunded_fen for r in results} == {10_000}
    assert PointsAccount.objects.get(member=member).balance == 0
    assert PointsEntry.objects.filter(account__member=member, kind="reverse").count() == 2
    assert StoredValueEntry.objects.filter(kind="recharge_refund").count() == 1
