"""The member-facing stored-value API: balance, plans, recharge orders, history; each member sees only their own."""

import pytest

from payments.models import Payment
from stored_value.models import RechargeOrder
from tests.factories import MemberFactory, RechargePlan1500Factory
from tests.helpers import client_for
from tests.stored_value.helpers import spend

pytestmark = pytest.mark.django_db

BALANCE = "/api/v1/stored-value"
PLANS = "/api/v1/stored-value/plans"
RECHARGES = "/api/v1/stored-value/recharges"
ENTRIES = "/api/v1/stored-value/entries"


def recharge(client, plan, amount_fen, key="k-1"):
    return client.post(
        RECHARGES, {"plan_id": plan.pk, "amount_fen": amount_fen}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )


def test_a_member_recharges_pays_and_sees_balance_order_and_history(member, member_api):
    plan = RechargePlan1500Factory(gift_points=100)
    assert [p["name"] for p in member_api.get(PLANS).json()] == ["充1500送150"]

    created = recharge(member_api, plan, 150_000)
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["recharge"]["status"] == "created"
    assert (body["recharge"]["amount_fen"], body["recharge"]["bonus_fen"]) == (150_000, 15_000)
    payment = body["payment"]
    assert payment["package"].startswith("prepay_id=") and payment["signType"] == "RSA" and payment["paySign"]

    out_trade_no = body["recharge"]["out_trade_no"]
    assert member_api.post(f"/api/v1/payments/{out_trade_no}/simulate-pay").status_code == 204

    detail = member_api.get(f"{RECHARGES}/{body['recharge']['id']}").json()
    assert detail["status"] == "credited"
    assert member_api.get(BALANCE).json() == {
        "principal_fen": 150_000,
        "bonus_fen": 15_000,
        "balance_fen": 165_000,
        "frozen": False,
    }
    history = member_api.get(ENTRIES).json()["results"]
    assert [(e["kind"], e["amount_fen"], e["balance_after_fen"]) for e in history] == [
        ("bonus", 15_000, 165_000),
        ("recharge", 150_000, 150_000),
    ]
    assert [r["id"] for r in member_api.get(RECHARGES).json()["results"]] == [body["recharge"]["id"]]


def test_the_same_idempotency_key_replays_the_first_recharge(member, member_api):
    plan = RechargePlan1500Factory()
    first = recharge(member_api, plan, 150_000)
    again = recharge(member_api, plan, 150_000)
    other = recharge(member_api, plan, 160_000)

    assert again.json()["recharge"] == first.json()["recharge"]
    assert again.json()["payment"]["package"] == first.json()["payment"]["package"]  # signed afresh
    assert again["Idempotent-Replayed"] == "true"
    assert other.status_code == 409 and other.json()["code"] == "idempotency_conflict"
    assert RechargeOrder.objects.count() == Payment.objects.count() == 1


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"amount_fen": 0}, "validation_error"),
        ({"amount_fen": -100}, "validation_error"),
        ({"amount_fen": 1.5}, "validation_error"),
        ({"amount_fen": "abc"}, "validation_error"),
        ({"amount_fen": 10**13}, "validation_error"),
        ({"amount_fen": 150_000, "bonus_fen": 1}, "validation_error"),
        ({"amount_fen": 50}, "amount_out_of_range"),
        ({"amount_fen": 500_001}, "amount_out_of_range"),
    ],
)
def test_bad_recharge_input_is_a_clear_error_and_writes_nothing(member, member_api, payload, code):
    plan = RechargePlan1500Factory()
    response = member_api.post(
        RECHARGES, {"plan_id": plan.pk, **payload}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert not RechargeOrder.objects.exists() and not Payment.objects.exists()


def test_a_recharge_without_an_idempotency_key_is_refused(member_api):
    response = member_api.post(
        RECHARGES, {"plan_id": RechargePlan1500Factory().pk, "amount_fen": 150_000}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_required"
    assert not RechargeOrder.objects.exists()


def test_a_used_first_recharge_plan_and_the_cap_are_409(member, member_api):
    plan = RechargePlan1500Factory(first_recharge_only=True)
    member_api.post(
        f"/api/v1/payments/{recharge(member_api, plan, 150_000).json()['recharge']['out_trade_no']}/simulate-pay"
    )

    used = recharge(member_api, plan, 150_000, key="k-2")
    assert (used.status_code, used.json()["code"]) == (409, "plan_already_used")
    open_plan = RechargePlan1500Factory()
    capped = recharge(member_api, open_plan, 400_000, key="k-3")
    assert (capped.status_code, capped.json()["code"]) == (409, "balance_cap_exceeded")
    assert capped.json()["details"]["max_amount_fen"] == 335_000 - 15_000
    assert RechargeOrder.objects.count() == 1


def test_a_member_sees_and_pays_only_their_own_recharges(member, member_api):
    created = recharge(member_api, RechargePlan1500Factory(), 150_000).json()["recharge"]
    spend_me = MemberFactory()
    other = client_for(spend_me)

    assert other.get(f"{RECHARGES}/{created['id']}").status_code == 404
    assert other.get(RECHARGES).json()["results"] == []
    response = other.post(f"/api/v1/payments/{created['out_trade_no']}/simulate-pay")
    assert (response.status_code, response.json()["code"]) == (404, "payment_not_found")
    assert other.get(BALANCE).json()["balance_fen"] == 0
    assert RechargeOrder.objects.get().status == "created"


def test_history_filters_by_kind_and_refuses_unknown_kinds(member, member_api):
    member_api.post(
        f"/api/v1/payments/{recharge(member_api, RechargePlan1500Factory(), 150_000).json()['recharge']['out_trade_no']}/simulate-pay"
    )
    spend(member, 1_000)
    kinds = [e["kind"] for e in member_api.get(ENTRIES, {"kind": "spend"}).json()["results"]]
    assert kinds == ["spend"]
    assert member_api.get(ENTRIES, {"kind": "steal"}).status_code == 400


def test_anonymous_callers_get_401(api):
    for url in (BALANCE, PLANS, RECHARGES, ENTRIES):
        assert api.get(url).status_code == 401


def test_simulated_payment_is_refused_with_the_real_provider(member, member_api, settings):
    created = recharge(member_api, RechargePlan1500Factory(), 150_000).json()["recharge"]
    Payment.objects.update(provider="wechat")  # made by the real provider
    response = member_api.post(f"/api/v1/payments/{created['out_trade_no']}/simulate-pay")
    assert (response.status_code, response.json()["code"]) == (403, "fake_payments_disabled")
    assert RechargeOrder.objects.get().status == "created"
