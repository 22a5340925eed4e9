"""What the fuzzer found, pinned down as plain tests (fuzzing is randomised; these are not)."""

from __future__ import annotations

import pytest

from loyalty.models import IdempotencyRecord
from members.models import Member
from tests.helpers import signed_request
from tests.security.helpers import db_fingerprint

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "body",
    [
        b'{"template_id": 1, "\\udc6bx": []}',  # an unpaired (low) surrogate in a key
        b'{"template_id": 1, "x\\u0000": 1}',  # NUL in a key
        b'{"template_id": 1, "note": "a\\u0000b"}',  # NUL in a value
    ],
    ids=["surrogate-key", "nul-key", "nul-value"],
)
def test_json_that_postgresql_cannot_store_is_refused_not_a_500(member_api, body):
    response = member_api.generic(
        "POST", "/api/v1/coupons/claim", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k"
    )

    assert (response.status_code, response.json()["code"]) == (400, "malformed_request")
    assert not IdempotencyRecord.objects.exists()


def test_a_nickname_with_a_nul_is_refused_and_the_profile_is_unchanged(member, member_api):
    before = Member.objects.filter(pk=member.pk).values().get()

    response = member_api.generic(
        "PATCH", "/api/v1/me/profile", b'{"nickname": "a\\u0000b"}', content_type="application/json"
    )

    assert response.status_code == 400
    assert Member.objects.filter(pk=member.pk).values().get() == before


def test_a_profile_without_a_birthday_matches_the_schema(member_api, api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    birthday = schema["components"]["schemas"]["Profile"]["properties"]["birthday"]

    assert member_api.get("/api/v1/me/profile").json()["birthday"] is None
    assert birthday.get("nullable") is True


def test_a_nul_in_a_query_string_is_refused_not_a_500(api, server_client):
    response = signed_request(api, *server_client, "get", "/api/v1/server/members/lookup?openid=a%00b")

    assert response.status_code in (400, 404), response.content


def test_a_subscription_report_reusing_a_key_with_other_results_is_a_documented_409(member_api, api):
    from notifications.models import SubscribeConsent, WechatTemplate

    WechatTemplate.objects.create(
        kind="points_expiring", template_id="TPL-P", field_map={"thing1": "{title}"}
    )
    url = "/api/v1/me/subscriptions"
    first = member_api.post(url, {"results": {"TPL-P": "accept"}}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    before = list(SubscribeConsent.objects.values_list("pk", "result"))

    reused = member_api.post(url, {"results": {"TPL-P": "reject"}}, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert first.status_code == 200
    assert (reused.status_code, reused.json()["code"]) == (409, "idempotency_conflict")
    assert list(SubscribeConsent.objects.values_list("pk", "result")) == before
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert "409" in schema["paths"][url]["post"]["responses"]


def test_every_operation_taking_an_idempotency_key_documents_the_409_of_a_reused_key(api):
    """The fuzzer sends one key with different bodies; the conflict must be in the schema."""
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    undocumented = [
        f"{method.upper()} {path}"
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if any(p.get("name") == "Idempotency-Key" for p in operation.get("parameters", []))
        and "409" not in operation.get("responses", {})
    ]
    assert len(schema["paths"]) > 20
    assert undocumented == []


@pytest.mark.parametrize(
    "method",
    ["get", "post cancel", "post complete", "post refunds"],
)
def test_a_nul_in_an_order_number_in_the_path_is_not_found_not_a_500(api, server_client, method, member):
    from tests.orders.helpers import basket, commit

    order = commit(member, basket(("SKU", 1_000, 1)))
    before = db_fingerprint()
    verb, _, action = method.partition(" ")
    url = f"/api/v1/server/orders/{order.order_no}%00" + (f"/{action}" if action else "")

    response = signed_request(
        api, *server_client, verb, url, {"refund_no": "r1"} if action == "refunds" else None
    )

    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert db_fingerprint() == before


def test_a_nul_in_my_order_number_or_a_payment_number_is_not_found_not_a_500(member_api):
    mine = member_api.get("/api/v1/orders/T1%00")
    pay = member_api.post("/api/v1/payments/x%00/simulate-pay")

    assert (mine.status_code, mine.json()["code"]) == (404, "not_found")
    assert (pay.status_code, pay.json()["code"]) == (404, "not_found")


def test_changing_the_birthday_again_within_a_year_is_a_documented_409_and_the_profile_is_unchanged(
    member, member_api, api
):
    url = "/api/v1/me/profile"
    assert member_api.patch(url, {"birthday": "1990-03-01"}, format="json").status_code == 200  # set
    assert member_api.patch(url, {"birthday": "1990-04-01"}, format="json").status_code == 200  # changed
    before = Member.objects.filter(pk=member.pk).values().get()

    again = member_api.patch(url, {"birthday": "0001-03-01", "nickname": "x"}, format="json")

    assert (again.status_code, again.json().get("code")) == (409, "birthday_change_limited"), again.content
    assert Member.objects.filter(pk=member.pk).values().get() == before
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert "409" in schema["paths"][url]["patch"]["responses"]
