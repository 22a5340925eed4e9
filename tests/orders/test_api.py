"""The checkout API: signed calls from the order system, bearer calls from the mini-program."""

import json

import pytest

from members.closure import member_close
from orders.models import Order
from tests.factories import MemberFactory, RechargeFactory
from tests.helpers import client_for, signed_request
from tests.orders.helpers import basket, commit, snapshot
from tests.stored_value.helpers import parts

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("default_rules")]

# Statements of the hot path inside a test transaction (savepoints included; a first completion, so the
# first-order reward runs too).
QUOTE_QUERIES, COMMIT_QUERIES, COMPLETE_QUERIES = 5, 11, 36

BASKET = {
    "lines": [
        {"sku": "BUNDLE", "name": "礼盒", "category": "gift", "unit_price_fen": 160_000, "quantity": 1},
    ],
    "stored_value_fen": 160_000,
}


@pytest.fixture
def signed(api, server_client):
    client, secret = server_client

    def call(method, path, data=None):
        return signed_request(api, client, secret, method, path, data)

    return call


def test_the_order_system_quotes_commits_completes_and_refunds_over_signed_requests(member, signed):
    RechargeFactory(member=member, amount_fen=150_000, bonus_fen=15_000)

    quote = signed("POST", "/api/v1/server/checkout/quote", {**BASKET, "member_id": member.pk})
    assert quote.status_code == 200, quote.json()
    commit_body = {
        **BASKET,
        "member_id": member.pk,
        "order_no": "M-1",
        "quote_hash": quote.json()["fingerprint"],
    }
    committed = signed("POST", "/api/v1/server/orders", commit_body)
    replay = signed("POST", "/api/v1/server/orders", commit_body)
    completed = signed("POST", "/api/v1/server/orders/M-1/complete")
    refund = signed("POST", "/api/v1/server/orders/M-1/refunds", {"refund_no": "R-1"})
    shown = signed("GET", "/api/v1/server/orders/M-1")

    assert committed.status_code == 201 and committed.json()["cash_fen"] == 0
    assert replay.status_code == 200 and replay.json()["replayed"] is True
    assert completed.status_code == 200 and completed.json()["status"] == "completed"
    assert refund.status_code == 201 and refund.json()["stored_value_fen"] == 160_000
    assert refund.json()["order_status"] == "refunded"
    assert [e["kind"] for e in shown.json()["events"]] == ["commit", "complete", "refund"]
    assert parts(member) == (150_000, 15_000)


def test_a_stale_commit_answers_409_with_a_fresh_quote(member, signed):
    RechargeFactory(member=member, amount_fen=150_000, bonus_fen=15_000)
    quote = signed("POST", "/api/v1/server/checkout/quote", {**BASKET, "member_id": member.pk}).json()
    RechargeFactory(member=member, amount_fen=1)  # the balance changed; the settlement did not: still fine
    commit_body = {**BASKET, "member_id": member.pk, "order_no": "M-1", "quote_hash": "0" * 64}

    response = signed("POST", "/api/v1/server/orders", commit_body)

    assert response.status_code == 409 and response.json()["code"] == "quote_stale"
    assert response.json()["details"]["quote"]["fingerprint"] == quote["fingerprint"]
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    "change",
    [
        {"lines": [{"sku": "A", "name": "A", "unit_price_fen": 100, "quantity": 0}]},
        {"lines": [{"sku": "A", "name": "A", "unit_price_fen": -1, "quantity": 1}]},
        {"lines": []},
        {"points": -5},
        {"surprise": 1},
    ],
)
def test_bad_baskets_get_400_validation_error_and_nothing_is_written(member, signed, change):
    before = snapshot(member)

    response = signed("POST", "/api/v1/server/checkout/quote", {**BASKET, "member_id": member.pk, **change})

    assert response.status_code == 400 and response.json()["code"] == "validation_error"
    assert snapshot(member) == before


def test_unknown_members_and_orders_are_404(signed):
    quote = signed("POST", "/api/v1/server/checkout/quote", {**BASKET, "member_id": 999_999})
    complete = signed("POST", "/api/v1/server/orders/NOPE/complete")

    assert (quote.status_code, quote.json()["code"]) == (404, "member_not_found")
    assert (complete.status_code, complete.json()["code"]) == (404, "order_not_found")


def test_a_closed_account_is_refused_at_quote_and_commit_with_member_closed_and_nothing_written(
    member, signed
):
    member_close(member_id=member.pk)
    before = snapshot(member)
    cash_basket = {"lines": BASKET["lines"], "member_id": member.pk}

    quote = signed("POST", "/api/v1/server/checkout/quote", cash_basket)
    committed = signed(
        "POST", "/api/v1/server/orders", {**cash_basket, "order_no": "M-1", "quote_hash": "0" * 64}
    )

    assert (quote.status_code, quote.json()["code"]) == (409, "member_closed")
    assert (committed.status_code, committed.json()["code"]) == (409, "member_closed")
    assert snapshot(member) == before and not Order.objects.exists()


def test_out_of_order_events_over_the_api_are_409_with_their_code(member, signed):
    commit(member, basket(("A", 1_000, 2)), "M-2")

    refund = signed("POST", "/api/v1/server/orders/M-2/refunds", {"refund_no": "R"})
    signed("POST", "/api/v1/server/orders/M-2/complete")
    too_much = signed(
        "POST",
        "/api/v1/server/orders/M-2/refunds",
        {"refund_no": "R", "lines": [{"line_no": 1, "quantity": 3}]},
    )
    cancel = signed("POST", "/api/v1/server/orders/M-2/cancel", {})

    assert (refund.status_code, refund.json()["code"]) == (409, "order_not_completed")
    assert (too_much.status_code, too_much.json()["code"]) == (409, "refund_exceeds_remaining")
    assert (cancel.status_code, cancel.json()["code"]) == (409, "order_already_completed")


def test_unsigned_server_calls_are_refused(api, member):
    response = api.post("/api/v1/server/orders/X/complete")
    assert response.status_code == 401


def test_a_member_quotes_their_basket_and_sees_only_their_own_orders(member, member_api):
    other = MemberFactory()
    commit(member, basket(("A", 1_000, 1)), "MINE")
    commit(other, basket(("A", 1_000, 1)), "THEIRS")

    quote = member_api.post("/api/v1/checkout/quote", {"lines": BASKET["lines"]}, format="json")
    mine = member_api.get("/api/v1/orders")
    detail = member_api.get("/api/v1/orders/MINE")
    theirs = member_api.get("/api/v1/orders/THEIRS")

    assert quote.status_code == 200 and quote.json()["cash_fen"] == 160_000
    assert [o["order_no"] for o in mine.json()["results"]] == ["MINE"]
    assert detail.status_code == 200 and detail.json()["lines"][0]["sku"] == "A"
    assert theirs.status_code == 404 and theirs.json()["code"] == "order_not_found"


def test_the_member_quote_cannot_price_for_someone_else(member_api):
    response = member_api.post(
        "/api/v1/checkout/quote", {"lines": BASKET["lines"], "member_id": 1}, format="json"
    )
    assert response.status_code == 400 and response.json()["code"] == "validation_error"


def test_listing_orders_takes_a_bounded_number_of_queries(member, member_api, django_assert_max_num_queries):
    for i in range(5):
        commit(member, basket(("A", 1_000, 1), ("B", 500, 2)), f"L{i}")
    client = client_for(member)
    with django_assert_max_num_queries(6):
        assert client.get("/api/v1/orders").status_code == 200


def test_the_schema_lists_the_checkout_endpoints_with_their_security(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    assert schema["paths"]["/api/v1/checkout/quote"]["post"]["security"] == [{"memberToken": []}]
    assert schema["paths"]["/api/v1/orders/{order_no}"]["get"]["security"] == [{"memberToken": []}]
    for path in [
        "/api/v1/server/checkout/quote",
        "/api/v1/server/orders",
        "/api/v1/server/orders/{order_no}/cancel",
        "/api/v1/server/orders/{order_no}/complete",
        "/api/v1/server/orders/{order_no}/refunds",
    ]:
        assert schema["paths"][path]["post"]["security"] == [{"serverSignature": []}]


def test_the_hand_built_commit_answer_has_the_documented_shape(member, signed):
    from orders.api import CommitResultSerializer, QuoteSerializer
    from orders.quote import BasketInput, LineInput, compute_quote

    RechargeFactory(member=member, amount_fen=200_000)
    quote = signed("POST", "/api/v1/server/checkout/quote", {**BASKET, "member_id": member.pk})
    expected_quote = compute_quote(
        member_id=member.pk,
        basket=BasketInput(
            lines=tuple(LineInput(**line) for line in BASKET["lines"]), stored_value_fen=160_000
        ),
    )
    body = {**BASKET, "member_id": member.pk, "order_no": "S-1", "quote_hash": quote.json()["fingerprint"]}
    committed = signed("POST", "/api/v1/server/orders", body)
    completed = signed("POST", "/api/v1/server/orders/S-1/complete")

    assert quote.json() == json.loads(json.dumps(QuoteSerializer(expected_quote).data))
    order = Order.objects.get(order_no="S-1")
    assert completed.json() == json.loads(json.dumps(CommitResultSerializer(order).data)) | {
        "replayed": False
    }
    assert committed.json()["lines"] == completed.json()["lines"]


def test_quote_commit_and_complete_take_a_bounded_number_of_queries(
    member, signed, django_assert_max_num_queries
):
    """Counts of the checkout's hot path (HMAC nonce statement included); a regression shows here first."""
    RechargeFactory(member=member, amount_fen=150_000, bonus_fen=15_000)
    body = {**BASKET, "member_id": member.pk, "stored_value_fen": 5_000}
    signed("POST", "/api/v1/server/checkout/quote", body)  # warms the API client cache

    with django_assert_max_num_queries(QUOTE_QUERIES):
        quote = signed("POST", "/api/v1/server/checkout/quote", body)
    with django_assert_max_num_queries(COMMIT_QUERIES):
        committed = signed(
            "POST",
            "/api/v1/server/orders",
            {**body, "order_no": "Q-1", "quote_hash": quote.json()["fingerprint"]},
        )
    with django_assert_max_num_queries(COMPLETE_QUERIES):
        completed = signed("POST", "/api/v1/server/orders/Q-1/complete")

    assert committed.status_code == 201
    assert completed.status_code == 200 and completed.json()["earned_points"] > 0


def test_a_signed_call_reads_the_configuration_version_in_its_nonce_statement(member, signed):
    """The cached configuration (checkout settings, rules, tiers) costs a signed call no statement."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from loyalty import prepared
    from loyalty import sql as loyalty_sql

    body = {**BASKET, "member_id": member.pk, "stored_value_fen": 0}
    signed("POST", "/api/v1/server/checkout/quote", body)  # loads the cached copies
    with CaptureQueriesContext(connection) as queries:
        assert signed("POST", "/api/v1/server/checkout/quote", body).status_code == 200

    statements = [q["sql"] for q in queries]
    assert not [
        sql for sql in statements if sql.startswith(f"SELECT version FROM {loyalty_sql.CONFIG_VERSION_TABLE}")
    ]
    nonce = loyalty_sql._NONCE  # the signature's statement: prepared, or plain behind a transaction pooler
    assert statements[0].startswith(
        f"EXECUTE {nonce.name}(" if prepared.preparing() else nonce.plain_sql[:40]
    )
    assert loyalty_sql.CONFIG_VERSION_SUBQUERY in loyalty_sql._NONCE.sql
