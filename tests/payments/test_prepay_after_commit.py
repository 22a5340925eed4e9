"""WeChat Pay's prepay runs after the order is committed, with no transaction open and no row locked.

With real transactions (``transaction=True``): while the patched prepay is in
flight, a second connection takes at once, with ``NOWAIT``, what the order
locked (the item and points account rows, the membership row, the member's
recharge lock).  A failing prepay leaves the order and its payment committed
and payable: a retry with the same Idempotency-Key (or ``POST
/payments/{no}/prepay``) pays it, and the stale-payment job still closes it
after the timeout and gives everything back.
"""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, connections, transaction
from django.utils import timezone

from loyalty.locks import Space, advisory_key
from mall.models import MallItem, Redemption
from membership.models import CardPurchase, Membership
from payments import services as payments
from payments.exceptions import PaymentUnavailable
from payments.gateway import FakeGateway
from payments.models import Payment
from points.models import PointsAccount
from stored_value.models import RechargeOrder
from tests.factories import (
    CardTypeFactory,
    EarnedPointsFactory,
    MallItemFactory,
    MemberFactory,
    RechargePlan1500Factory,
)
from tests.helpers import client_for, points_of
from tests.mall.helpers import address
from tests.stored_value.helpers import parts

pytestmark = pytest.mark.django_db

REDEEM = "/api/v1/mall/redemptions"
CARDS = "/api/v1/membership/card-purchases"
RECHARGE = "/api/v1/stored-value/recharges"


def lockable_elsewhere(statements) -> dict:
    """Run each (name, SQL) on a connection of its own, in a thread; name -> True if it got its lock at once."""
    outcome = {}

    def run():
        try:
            with connections["default"].cursor() as cur:
                for name, sql, params in statements:
                    cur.execute("BEGIN")
                    try:
                        cur.execute(sql, params)
                        outcome[name] = cur.fetchone() != (False,)
                    except Exception:  # LockNotAvailable: another transaction holds it
                        outcome[name] = False
                    finally:
                        cur.execute("ROLLBACK")
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return outcome


@pytest.fixture
def in_flight(monkeypatch):
    """Patch the fake's prepay: record what a second connection can lock while WeChat is being asked."""
    seen = {}
    original = FakeGateway.prepay

    def prepay(self, **kwargs):
        seen["in_atomic_block"] = connection.in_atomic_block
        seen.update(lockable_elsewhere(seen.get("statements", [])))
        return original(self, **kwargs)

    monkeypatch.setattr(FakeGateway, "prepay", prepay)
    return seen


@pytest.fixture
def wechat_down(monkeypatch):
    def down(self, **kwargs):
        raise PaymentUnavailable(details={"provider_code": "SYSTEM_ERROR"})

    monkeypatch.setattr(FakeGateway, "prepay", down)
    return lambda: monkeypatch.undo()


def post(client, url, body, key="k1"):
    return client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def stale_job_runs():
    with time_machine.travel(timezone.now() + timedelta(minutes=20)):
        return payments.payments_close_stale()


# --- no transaction, no lock while WeChat answers ------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.xdist_group("many-connections")
def test_a_points_and_cash_redemption_asks_wechat_after_commit_with_the_item_and_points_free(
    member, in_flight
):
    EarnedPointsFactory(member=member, amount=1_000)
    cup = MallItemFactory(points=300, cash_fen=990)
    home = address(member)
    in_flight["statements"] = [
        ("item", f"SELECT id FROM {MallItem._meta.db_table} WHERE id = %s FOR UPDATE NOWAIT", [cup.pk]),
        (
            "points",
            f"SELECT id FROM {PointsAccount._meta.db_table} WHERE member_id = %s FOR UPDATE NOWAIT",
            [member.pk],
        ),
    ]

    response = post(client_for(member), REDEEM, {"item_id": cup.pk, "address_id": home.pk})

    assert response.status_code == 201 and response.json()["payment"]["package"].startswith("prepay_id=")
    assert in_flight == {**in_flight, "in_atomic_block": False, "item": True, "points": True}


@pytest.mark.django_db(transaction=True)
@pytest.mark.xdist_group("many-connections")
def test_a_card_purchase_asks_wechat_after_commit_with_the_membership_row_free(member, in_flight):
    ct = CardTypeFactory(kind="paid")
    Membership.objects.create(member=member)
    in_flight["statements"] = [
        (
            "membership",
            f"SELECT id FROM {Membership._meta.db_table} WHERE member_id = %s FOR UPDATE NOWAIT",
            [member.pk],
        ),
    ]

    response = post(client_for(member), CARDS, {"card_type_id": ct.pk})

    assert response.status_code == 201 and "paySign" in response.json()["payment"]
    assert in_flight == {**in_flight, "in_atomic_block": False, "membership": True}


@pytest.mark.django_db(transaction=True)
@pytest.mark.xdist_group("many-connections")
def test_a_recharge_asks_wechat_after_commit_with_the_members_recharge_lock_free(member, in_flight):
    plan = RechargePlan1500Factory()
    in_flight["statements"] = [
        (
            "recharge lock",
            "SELECT pg_try_advisory_xact_lock(%s)",
            [advisory_key(Space.RECHARGE, member.pk)],
        ),
    ]

    response = post(client_for(member), RECHARGE, {"plan_id": plan.pk, "amount_fen": 150_000})

    assert response.status_code == 201 and "paySign" in response.json()["payment"]
    assert in_flight == {**in_flight, "in_atomic_block": False, "recharge lock": True}


@pytest.mark.django_db(transaction=True)
@pytest.mark.xdist_group("many-connections")
def test_prepay_refuses_to_run_inside_a_transaction(member):
    ct = CardTypeFactory(kind="paid")
    post(client_for(member), CARDS, {"card_type_id": ct.pk})
    payment = Payment.objects.get()

    with pytest.raises(RuntimeError), transaction.atomic():
        payments.payment_prepay(payment=payment)


# --- WeChat down at prepay: the order stays, payable ---------------------------------------------


def test_wechat_down_keeps_the_redemption_payable_and_a_retry_with_the_same_key_pays_it(member, wechat_down):
    EarnedPointsFactory(member=member, amount=1_000)
    cup = MallItemFactory(points=300, cash_fen=990, stock=5)
    home = address(member)
    client = client_for(member)

    failed = post(client, REDEEM, {"item_id": cup.pk, "address_id": home.pk})

    assert (failed.status_code, failed.json()["code"]) == (503, "payment_unavailable")
    r = Redemption.objects.get()
    assert failed.json()["details"]["out_trade_no"] == r.out_trade_no
    cup.refresh_from_db()
    assert (r.status, cup.stock, points_of(member)) == ("pending_payment", 4, 700)
    assert Payment.objects.get().status == "created"

    wechat_down()  # WeChat is back
    retried = post(client, REDEEM, {"item_id": cup.pk, "address_id": home.pk})
    again = post(client, REDEEM, {"item_id": cup.pk, "address_id": home.pk})

    assert retried.status_code == again.status_code == 201
    assert retried["Idempotent-Replayed"] == "true"
    assert retried.json()["redemption"]["out_trade_no"] == r.out_trade_no
    assert retried.json()["payment"]["package"] == again.json()["payment"]["package"]
    assert retried.json()["payment"]["package"].startswith("prepay_id=")
    assert Redemption.objects.count() == Payment.objects.count() == 1
    assert client.post(f"/api/v1/payments/{r.out_trade_no}/simulate-pay").status_code == 204
    r.refresh_from_db()
    assert r.status == "paid" and points_of(member) == 700


def test_a_redemption_whose_prepay_failed_is_released_by_the_stale_job(member, wechat_down):
    EarnedPointsFactory(member=member, amount=1_000)
    cup = MallItemFactory(points=300, cash_fen=990, stock=5)

    post(client_for(member), REDEEM, {"item_id": cup.pk, "address_id": address(member).pk})

    assert stale_job_runs() == 1
    r = Redemption.objects.get()
    cup.refresh_from_db()
    assert (r.status, cup.stock, cup.sold_count, points_of(member)) == ("cancelled", 5, 0, 1_000)
    assert Payment.objects.get().status == "closed"


def test_wechat_down_keeps_the_card_purchase_payable_by_the_same_key_or_its_payment_number(
    member, wechat_down
):
    ct = CardTypeFactory(kind="paid")
    client = client_for(member)

    failed = post(client, CARDS, {"card_type_id": ct.pk})

    assert (failed.status_code, failed.json()["code"]) == (503, "payment_unavailable")
    purchase = CardPurchase.objects.get()
    assert purchase.status == "created" and failed.json()["details"]["out_trade_no"] == purchase.out_trade_no
    pending = post(client, CARDS, {"card_type_id": ct.pk}, key="another")
    assert pending.json()["code"] == "card_purchase_pending"
    assert pending.json()["details"] == {"purchase_id": purchase.pk, "out_trade_no": purchase.out_trade_no}

    wechat_down()  # WeChat is back
    retried = post(client, CARDS, {"card_type_id": ct.pk})
    fresh = client.post(f"/api/v1/payments/{purchase.out_trade_no}/prepay")

    assert retried.status_code == 201 and retried.json()["purchase"]["id"] == purchase.pk
    assert fresh.status_code == 200 and fresh.json()["package"] == retried.json()["payment"]["package"]
    assert CardPurchase.objects.count() == Payment.objects.count() == 1
    assert client.post(f"/api/v1/payments/{purchase.out_trade_no}/simulate-pay").status_code == 204
    purchase.refresh_from_db()
    assert purchase.status == "paid"


def test_a_card_purchase_whose_prepay_failed_is_closed_by_the_stale_job(member, wechat_down):
    ct = CardTypeFactory(kind="paid")

    post(client_for(member), CARDS, {"card_type_id": ct.pk})

    assert stale_job_runs() == 1
    assert CardPurchase.objects.get().status == "closed" and Payment.objects.get().status == "closed"


def test_wechat_down_keeps_the_recharge_payable_and_counted_against_the_cap_until_it_closes(
    member, wechat_down
):
    plan = RechargePlan1500Factory()
    client = client_for(member)

    failed = post(client, RECHARGE, {"plan_id": plan.pk, "amount_fen": 150_000})

    assert (failed.status_code, failed.json()["code"]) == (503, "payment_unavailable")
    order = RechargeOrder.objects.get()
    assert order.status == "created" and failed.json()["details"]["out_trade_no"] == order.out_trade_no

    wechat_down()  # WeChat is back
    retried = post(client, RECHARGE, {"plan_id": plan.pk, "amount_fen": 150_000})

    assert retried.status_code == 201 and retried.json()["recharge"]["id"] == order.pk
    assert client.post(f"/api/v1/payments/{order.out_trade_no}/simulate-pay").status_code == 204
    assert parts(member) == (150_000, 15_000)


def test_a_recharge_whose_prepay_failed_is_closed_by_the_stale_job(member, wechat_down):
    post(client_for(member), RECHARGE, {"plan_id": RechargePlan1500Factory().pk, "amount_fen": 150_000})

    assert stale_job_runs() == 1
    assert RechargeOrder.objects.get().status == "closed"


# --- asking again -----------------------------------------------------------------------------------


def test_a_payment_no_longer_awaiting_payment_gives_no_parameters(member):
    ct = CardTypeFactory(kind="paid")
    client = client_for(member)
    post(client, CARDS, {"card_type_id": ct.pk})
    payment = Payment.objects.get()
    assert stale_job_runs() == 1

    replay = post(client, CARDS, {"card_type_id": ct.pk})
    fresh = client.post(f"/api/v1/payments/{payment.out_trade_no}/prepay")

    assert (replay.status_code, replay.json()["code"]) == (409, "payment_not_pending")
    assert (fresh.status_code, fresh.json()["code"]) == (409, "payment_not_pending")


def test_another_members_payment_is_not_found(member):
    ct = CardTypeFactory(kind="paid")
    post(client_for(member), CARDS, {"card_type_id": ct.pk})
    payment = Payment.objects.get()

    response = client_for(MemberFactory()).post(f"/api/v1/payments/{payment.out_trade_no}/prepay")

    assert (response.status_code, response.json()["code"]) == (404, "payment_not_found")
