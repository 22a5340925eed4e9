"""Checkout at a counter: the 会员码 in place of the member id, the store and the clerk on the order,
and stored value above the merchant's limit confirmed by the member in the app."""

from datetime import timedelta

import pytest
from django.utils import timezone

from members import codes
from members.models import MemberCode
from notifications.models import Notification
from orders.models import CheckoutSettings, CounterPayment, Order
from orders.quote import compute_quote
from stored_value.models import StoredValueEntry
from tests.counter.helpers import staff, store, top_up
from tests.factories import MemberFactory
from tests.helpers import assert_error, client_for, signed_request
from tests.orders.helpers import basket
from tests.stored_value.helpers import parts

ORDERS = "/api/v1/server/orders"


@pytest.fixture
def shop(db):
    return store("SH-001")


@pytest.fixture
def clerk(shop):
    return staff(shop, code="S012")


@pytest.fixture
def rich(member):
    top_up(member, 100_000)
    return member


def _body(member, b, order_no, **extra):
    quote = compute_quote(member_id=member.pk, basket=b)
    lines = [
        {"sku": line.sku, "name": line.name, "unit_price_fen": line.unit_price_fen, "quantity": line.quantity}
        for line in b.lines
    ]
    return {
        "lines": lines,
        "coupon_ids": [],
        "stored_value_fen": b.stored_value_fen,
        "order_no": order_no,
        "quote_hash": quote.fingerprint,
        **extra,
    }


def commit(api, server_client, body):
    client, secret = server_client
    return signed_request(api, client, secret, "POST", ORDERS, body)


def limit(fen):
    CheckoutSettings.objects.update_or_create(pk=1, defaults={"counter_confirm_above_fen": fen})


def state(member):
    return (
        parts(member),
        StoredValueEntry.objects.filter(account__member=member).count(),
        list(Order.objects.order_by("id").values_list("order_no", "store_id", "staff_id")),
        list(MemberCode.objects.order_by("id").values_list("code", "order_no")),
        list(CounterPayment.objects.order_by("id").values_list("order_no", "status")),
        Notification.objects.filter(member=member).count(),
    )


def test_the_till_commits_with_the_member_code_and_the_order_carries_store_and_clerk(
    api, server_client, rich, shop, clerk
):
    code = codes.member_code_issue(member=rich).code
    b = basket(("TEA", 10_000, 1), stored_value_fen=5_000, coupon_ids=[])

    response = commit(
        api, server_client, _body(rich, b, "C-1", member_code=code, store_code="SH-001", staff_code="S012")
    )

    assert response.status_code == 201, response.content
    order = Order.objects.get(order_no="C-1")
    assert (order.member_id, order.store_id, order.staff_id) == (rich.pk, shop.pk, clerk.pk)
    assert parts(rich) == (95_000, 0)
    assert MemberCode.objects.get(code=code).order_no == "C-1"
    message = Notification.objects.get(member=rich, kind="counter_payment")
    assert "¥50.00" in message.body and shop.name in message.body


def test_a_code_used_for_one_order_cannot_be_used_for_a_second(api, server_client, rich, shop):
    code = codes.member_code_issue(member=rich).code
    b = basket(("TEA", 10_000, 1), stored_value_fen=1_000, coupon_ids=[])
    assert (
        commit(api, server_client, _body(rich, b, "C-1", member_code=code, store_code="SH-001")).status_code
        == 201
    )
    before = state(rich)

    second = commit(api, server_client, _body(rich, b, "C-2", member_code=code, store_code="SH-001"))

    assert_error(second, 409, "member_code_used")
    assert state(rich) == before
    # The first order's retry is a replay, not a second use.
    again = commit(api, server_client, _body(rich, b, "C-1", member_code=code, store_code="SH-001"))
    assert again.status_code == 200 and again.json()["replayed"] is True


@pytest.mark.parametrize(
    ("extra", "status", "error"),
    [
        ({"store_code": "NOPE"}, 404, "store_not_found"),
        ({"store_code": "SH-001", "staff_code": "NOBODY"}, 404, "staff_not_found"),
        ({"store_code": "SH-001", "staff_code": "S099"}, 409, "staff_not_in_store"),
        ({"staff_code": "S012"}, 400, "staff_without_store"),
        ({"store_code": "SH-CLOSED"}, 409, "store_closed"),
        ({"store_code": "SH-001", "member_code": "661234567890123456"}, 404, "member_code_invalid"),
    ],
)
def test_unknown_stores_staff_and_codes_are_refused_and_change_nothing(
    api, server_client, rich, shop, clerk, extra, status, error
):
    staff(store("SH-002"), code="S099")
    store("SH-CLOSED", status="closed")
    b = basket(("TEA", 10_000, 1), stored_value_fen=1_000, coupon_ids=[])
    body = _body(rich, b, "C-9", **extra)
    if "member_code" not in extra:
        body["member_id"] = rich.pk
    before = state(rich)

    assert_error(commit(api, server_client, body), status, error)
    assert state(rich) == before


def test_an_expired_code_cannot_commit(api, server_client, rich, shop):
    code = codes.member_code_issue(member=rich, now=timezone.now() - timedelta(minutes=2)).code
    b = basket(("TEA", 10_000, 1), stored_value_fen=1_000, coupon_ids=[])
    before = state(rich)

    assert_error(
        commit(api, server_client, _body(rich, b, "C-1", member_code=code, store_code="SH-001")),
        409,
        "member_code_expired",
    )
    assert state(rich) == before


def test_member_id_or_member_code_exactly_one(api, server_client, rich, shop):
    b = basket(("TEA", 10_000, 1), coupon_ids=[])
    code = codes.member_code_issue(member=rich).code

    assert_error(commit(api, server_client, _body(rich, b, "C-1")), 400, "validation_error")
    both = _body(rich, b, "C-1", member_id=rich.pk, member_code=code)
    assert_error(commit(api, server_client, both), 400, "validation_error")


def test_stored_value_up_to_the_limit_needs_no_confirmation(api, server_client, rich, shop):
    limit(20_000)
    b = basket(("TEA", 30_000, 1), stored_value_fen=20_000, coupon_ids=[])

    response = commit(api, server_client, _body(rich, b, "C-1", member_id=rich.pk, store_code="SH-001"))

    assert response.status_code == 201
    assert parts(rich) == (80_000, 0)
    assert not CounterPayment.objects.exists()


def test_online_orders_never_wait_for_a_confirmation(api, server_client, rich):
    limit(0)
    b = basket(("TEA", 30_000, 1), stored_value_fen=25_000, coupon_ids=[])

    assert commit(api, server_client, _body(rich, b, "W-1", member_id=rich.pk)).status_code == 201
    assert not Notification.objects.filter(kind="counter_payment").exists()


def test_above_the_limit_the_member_confirms_and_the_retried_commit_debits(api, server_client, rich, shop):
    limit(20_000)
    code = codes.member_code_issue(member=rich).code
    b = basket(("TEA", 30_000, 1), stored_value_fen=25_000, coupon_ids=[])
    body = _body(rich, b, "C-1", member_code=code, store_code="SH-001")

    waiting = commit(api, server_client, body)

    assert waiting.status_code == 202, waiting.content
    assert waiting.json()["status"] == "awaiting_confirmation"
    assert parts(rich) == (100_000, 0) and not Order.objects.exists()
    assert MemberCode.objects.get(code=code).order_no == "C-1"  # held for this order while the member decides
    assert commit(api, server_client, body).status_code == 202  # the till polls by committing again
    app = client_for(rich)
    pending = app.get("/api/v1/me/counter-payments/pending").json()
    assert [(p["order_no"], p["stored_value_fen"], p["store_name"]) for p in pending] == [
        ("C-1", 25_000, shop.name)
    ]
    assert Notification.objects.filter(member=rich, kind="counter_payment_confirm").count() == 1

    confirmed = app.post(f"/api/v1/me/counter-payments/{pending[0]['id']}/confirm")
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
    done = commit(api, server_client, body)

    assert done.status_code == 201, done.content
    assert parts(rich) == (75_000, 0)
    assert Order.objects.get(order_no="C-1").store_id == shop.pk
    assert app.get("/api/v1/me/counter-payments/pending").json() == []
    assert Notification.objects.filter(member=rich, kind="counter_payment").count() == 1


def test_a_declined_payment_is_refused_and_nothing_is_debited(api, server_client, rich, shop):
    limit(0)
    b = basket(("TEA", 30_000, 1), stored_value_fen=100, coupon_ids=[])
    body = _body(rich, b, "C-1", member_id=rich.pk, store_code="SH-001")
    payment_id = commit(api, server_client, body).json()["counter_payment_id"]

    declined = client_for(rich).post(f"/api/v1/me/counter-payments/{payment_id}/decline")
    assert declined.status_code == 200
    before = state(rich)

    assert_error(commit(api, server_client, body), 409, "counter_payment_declined")
    assert state(rich) == before
    assert parts(rich) == (100_000, 0)
    assert_error(
        client_for(rich).post(f"/api/v1/me/counter-payments/{payment_id}/confirm"),
        409,
        "counter_payment_decided",
    )


def test_an_unanswered_payment_times_out_after_a_minute(api, server_client, rich, shop):
    limit(0)
    b = basket(("TEA", 30_000, 1), stored_value_fen=100, coupon_ids=[])
    body = _body(rich, b, "C-1", member_id=rich.pk, store_code="SH-001")
    payment_id = commit(api, server_client, body).json()["counter_payment_id"]
    CounterPayment.objects.filter(pk=payment_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    before = state(rich)

    assert_error(commit(api, server_client, body), 409, "counter_payment_timed_out")
    assert_error(
        client_for(rich).post(f"/api/v1/me/counter-payments/{payment_id}/confirm"),
        409,
        "counter_payment_timed_out",
    )
    assert state(rich) == before
    assert client_for(rich).get("/api/v1/me/counter-payments/pending").json() == []


def test_a_confirmation_is_for_the_basket_asked_about(api, server_client, rich, shop):
    limit(0)
    b = basket(("TEA", 30_000, 1), stored_value_fen=100, coupon_ids=[])
    payment_id = commit(
        api, server_client, _body(rich, b, "C-1", member_id=rich.pk, store_code="SH-001")
    ).json()["counter_payment_id"]
    client_for(rich).post(f"/api/v1/me/counter-payments/{payment_id}/confirm")
    bigger = basket(("TEA", 30_000, 1), stored_value_fen=20_000, coupon_ids=[])
    before = state(rich)

    assert_error(
        commit(api, server_client, _body(rich, bigger, "C-1", member_id=rich.pk, store_code="SH-001")),
        409,
        "idempotency_conflict",
    )
    assert state(rich) == before


def test_another_member_cannot_see_or_answer_my_confirmation(api, server_client, rich, shop):
    limit(0)
    b = basket(("TEA", 30_000, 1), stored_value_fen=100, coupon_ids=[])
    payment_id = commit(
        api, server_client, _body(rich, b, "C-1", member_id=rich.pk, store_code="SH-001")
    ).json()["counter_payment_id"]
    other = client_for(MemberFactory())

    assert other.get("/api/v1/me/counter-payments/pending").json() == []
    assert_error(
        other.post(f"/api/v1/me/counter-payments/{payment_id}/confirm"), 404, "counter_payment_not_found"
    )
    assert CounterPayment.objects.get(pk=payment_id).status == "pending"
