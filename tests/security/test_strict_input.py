"""Input is held to its type and its bounds: every field of every input serializer, on every route.

``test_every_input_serializer_is_strict_and_bounds_its_integers`` walks the
serializers each API view reads input with (from the URL resolver and the
OpenAPI schema), so a new endpoint or field is covered without further work.
The rest sends what a careless or hostile client sends (integers past bigint,
``"12"`` for 12, ``0`` for false, ``?page_size=null``) and expects 400
``validation_error`` with nothing written, never a 500 and never a guess.
"""

from __future__ import annotations

import ast
import inspect
import sys
import textwrap
import uuid

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.settings import spectacular_settings
from rest_framework import serializers

from loyalty.api.serializers import MAX_ID, StrictQuerySerializer, StrictSerializer
from tests.factories import CouponTemplateFactory, EarnedPointsFactory, MallItemFactory
from tests.helpers import signed_request
from tests.security.helpers import OUR_APPS, WRITE_METHODS, api_routes, db_fingerprint

BIGINT = (-(2**63), 2**63 - 1)
OUT_OF_RANGE = [2**63, -(2**63) - 1, 10**30]


# --- the walk ----------------------------------------------------------------------------------


def _called_with_data(klass) -> set[type]:
    """Serializer classes a class's own code instantiates with ``data=`` (how every view reads input)."""
    module = sys.modules[klass.__module__]
    found = set()
    for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(klass)))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and any(keyword.arg == "data" for keyword in node.keywords)
        ):
            target = getattr(module, node.func.id, None)
            if isinstance(target, type) and issubclass(target, serializers.BaseSerializer):
                found.add(target)
    return found


def _declared_for_input(view, method) -> set:
    """What the OpenAPI schema says the operation reads: its request body and its parameter serializers."""
    schema = view.schema
    schema.method = method.upper()
    view.request = spectacular_settings.GET_MOCK_REQUEST(method.upper(), "/", view, None)
    found = list(schema.get_override_parameters())
    if method.lower() in WRITE_METHODS:
        found.append(schema.get_request_serializer())  # a raw dict (WeChat Pay's notification) is skipped
    return {
        s if isinstance(s, type) else type(s)
        for s in found
        if isinstance(s, serializers.BaseSerializer)
        or (isinstance(s, type) and issubclass(s, serializers.BaseSerializer))
    }


def input_serializers() -> dict[type, set[str]]:
    """Every serializer class an API view reads input with -> the routes that use it."""
    used: dict[type, set[str]] = {}
    ours = tuple(OUR_APPS)
    for route in api_routes():
        classes = [route.view, getattr(route.view, "pagination_class", None)]
        for klass in {k for c in classes if c for k in c.__mro__ if k.__module__.startswith(ours)}:
            for serializer in _called_with_data(klass):
                used.setdefault(serializer, set()).add(route.pattern)
    generator = SchemaGenerator()
    generator._initialise_endpoints()
    for path, _regex, method, view in generator._get_paths_and_endpoints():
        if path.startswith("/api/v1/"):
            for serializer in _declared_for_input(view, method):
                used.setdefault(serializer, set()).add(path)
    return used


def _field_problems(field, where: str, query: bool) -> list[str]:
    if field.read_only:
        return []
    if isinstance(field, serializers.ListSerializer):
        bound = [] if field.max_length is not None else [f"{where}: a list needs max_length"]
        return bound + serializer_problems(field.child, where + "[]")
    if isinstance(field, serializers.BaseSerializer):
        return serializer_problems(field, where)
    problems = []
    strict = (StrictQuerySerializer if query else StrictSerializer).field_types.values()
    if not isinstance(field, tuple(strict)):  # a strict form, or a subclass of one
        problems.append(f"{where}: {type(field).__name__} is not a strict field")
    if isinstance(field, serializers.ListField):
        if field.max_length is None:
            problems.append(f"{where}: a list needs max_length")
        problems += _field_problems(field.child, where + "[]", query)
    if isinstance(field, serializers.DictField):
        problems += _field_problems(field.child, where + "{}", query)
    if isinstance(field, serializers.IntegerField):
        low, high = field.min_value, field.max_value
        if low is None or high is None:
            problems.append(f"{where}: an integer needs min_value and max_value")
        elif not BIGINT[0] <= low <= high <= BIGINT[1]:
            problems.append(f"{where}: bounds {low}..{high} are not within bigint")
    return problems


def serializer_problems(serializer, where: str) -> list[str]:
    if not isinstance(serializer, StrictSerializer):
        return [f"{where}: {type(serializer).__name__} does not derive from StrictSerializer"]
    query = isinstance(serializer, StrictQuerySerializer)
    return [
        problem
        for name, field in serializer.fields.items()
        for problem in _field_problems(field, f"{where}.{name}", query)
    ]


def test_every_input_serializer_is_strict_and_bounds_its_integers():
    used = input_serializers()
    problems = [
        f"{problem} (used by {sorted(routes)[0]})"
        for serializer, routes in used.items()
        for problem in serializer_problems(serializer(), serializer.__qualname__)
    ]

    assert not problems, (
        "Input serializers must derive from loyalty.api.serializers.StrictSerializer (or "
        "StrictQuerySerializer for a query string) and bound every integer (min_value and max_value; "
        "ids 1..MAX_ID) and every list (max_length):\n" + "\n".join(sorted(problems))
    )


def test_the_walk_sees_the_input_serializers_of_bodies_queries_and_pagination():
    used = input_serializers()
    names = {serializer.__name__ for serializer in used}

    assert {
        "BasketSerializer",  # a body with nested lines and a list of ints
        "CommitInput",  # a signed server body
        "RefundInput",
        "MallRedeemInput",
        "AddressSerializer",  # a ModelSerializer
        "ProfileSerializer",
        "CatalogueQuery",  # a filter read in the view, not in the schema
        "CalendarQuery",  # a query declared in the schema
        "PageQuery",  # read by the pagination class
        "SubscriptionReportInput",
    } <= names
    assert len(used) >= 25


def test_a_field_with_no_strict_form_cannot_be_declared_on_an_input_serializer():
    with pytest.raises(ImproperlyConfigured, match="FloatField"):
        type("Loose", (StrictSerializer,), {"amount": serializers.FloatField()})
    with pytest.raises(ImproperlyConfigured, match="StrictSerializer"):
        type("Nested", (StrictSerializer,), {"inner": serializers.Serializer()})
    with pytest.raises(ImproperlyConfigured, match="_UnvalidatedField"):
        type("AnyList", (StrictSerializer,), {"ids": serializers.ListField()})


# --- integers past bigint ----------------------------------------------------------------------

LINE = {"sku": "SKU", "name": "杯子", "unit_price_fen": 1_000, "quantity": 1}


def _member_bodies(member):
    it = MallItemFactory(points=10, stock=5)
    return [
        ("/api/v1/coupons/claim", lambda v: {"template_id": v}, "template_id"),
        ("/api/v1/mall/redemptions", lambda v: {"item_id": v}, "item_id"),
        ("/api/v1/mall/redemptions", lambda v: {"item_id": it.pk, "address_id": v}, "address_id"),
        ("/api/v1/membership/cards/claim", lambda v: {"card_type_id": v}, "card_type_id"),
        ("/api/v1/stored-value/recharges", lambda v: {"plan_id": v, "amount_fen": 100}, "plan_id"),
        ("/api/v1/stored-value/recharges", lambda v: {"plan_id": 1, "amount_fen": v}, "amount_fen"),
        ("/api/v1/checkout/quote", lambda v: {"lines": [LINE], "coupon_ids": [v]}, "coupon_ids"),
        ("/api/v1/checkout/quote", lambda v: {"lines": [LINE], "points": v}, "points"),
        ("/api/v1/checkout/quote", lambda v: {"lines": [{**LINE, "quantity": v}]}, "lines"),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("value", OUT_OF_RANGE, ids=["2**63", "-2**63-1", "10**30"])
def test_integers_out_of_range_from_a_member_are_400_and_change_nothing(member, member_api, value):
    EarnedPointsFactory(member=member, amount=1_000)
    cases = _member_bodies(member)
    before = db_fingerprint()

    for url, body, field in cases:
        response = member_api.post(url, body(value), format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)

        assert response.status_code == 400, (url, field, response.content)
        assert response.json()["code"] == "validation_error"
        assert field in response.json()["details"], (url, response.json())
    assert db_fingerprint() == before


@pytest.mark.django_db
@pytest.mark.parametrize("value", OUT_OF_RANGE, ids=["2**63", "-2**63-1", "10**30"])
def test_integers_out_of_range_from_the_order_system_are_400_and_change_nothing(
    api, server_client, member, value
):
    cases = [
        ("/api/v1/server/checkout/quote", {"member_id": value, "lines": [LINE]}, "member_id"),
        (
            "/api/v1/server/orders",
            {"member_id": value, "lines": [LINE], "order_no": "O-1", "quote_hash": "x"},
            "member_id",
        ),
        (
            "/api/v1/server/orders",
            {"member_id": member.pk, "lines": [LINE], "order_no": "O-1", "quote_hash": "x", "points": value},
            "points",
        ),
        (
            "/api/v1/server/orders/O-1/refunds",
            {"refund_no": "R-1", "lines": [{"line_no": value, "quantity": 1}]},
            "lines",
        ),
    ]
    before = db_fingerprint()

    for url, body, field in cases:
        response = signed_request(api, *server_client, "post", url, body)

        assert response.status_code == 400, (url, field, response.content)
        assert response.json()["code"] == "validation_error"
        assert field in response.json()["details"], (url, response.json())
    assert db_fingerprint() == before


INT_PATH_ROUTES = [
    pytest.param(route, method, id=f"{method.upper()} {route.pattern}")
    for route in api_routes()
    if "IntConverter" in route.converters.values()
    for method in route.methods
]


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "method"), INT_PATH_ROUTES)
def test_an_id_in_the_path_past_bigint_is_not_found_before_any_statement(member_api, route, method):
    for value in (2**63, 10**30):
        url = route.url({key: value for key in route.converters})
        with CaptureQueriesContext(connection) as queries:
            response = getattr(member_api, method)(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="k")

        assert (response.status_code, response.json()["code"]) == (404, "not_found"), url
        assert len(queries) == 0, (url, [q["sql"] for q in queries])


# --- loose types -------------------------------------------------------------------------------

ADDRESS = {
    "recipient": "王小明",
    "phone": "13800000000",
    "province": "浙江省",
    "city": "杭州市",
    "detail": "1号",
}

LOOSE_BODIES = [
    # an integer: not a string, a float or a boolean
    ("post", "/api/v1/coupons/claim", {"template_id": "{tpl}"}, "template_id"),
    ("post", "/api/v1/coupons/claim", {"template_id": "{tpl}.0"}, "template_id"),
    ("post", "/api/v1/coupons/claim", {"template_id": 1.0}, "template_id"),
    ("post", "/api/v1/coupons/claim", {"template_id": True}, "template_id"),
    ("post", "/api/v1/checkout/quote", {"lines": [{**LINE, "quantity": "2"}]}, "lines"),  # nested
    ("post", "/api/v1/checkout/quote", {"lines": [LINE], "coupon_ids": ["1"]}, "coupon_ids"),  # list child
    ("post", "/api/v1/checkout/quote", {"lines": [LINE], "shipping_fen": 0.0}, "shipping_fen"),
    ("post", "/api/v1/checkout/quote", {"lines": [{**LINE, "unit_price_fen": 1e3}]}, "lines"),
    # a string: not a number or a boolean
    ("patch", "/api/v1/me/profile", {"nickname": 0}, "nickname"),
    ("patch", "/api/v1/me/profile", {"nickname": False}, "nickname"),
    ("post", "/api/v1/checkout/quote", {"lines": [{**LINE, "sku": 12}]}, "lines"),
    ("post", "/api/v1/mall/addresses", {**ADDRESS, "phone": 13800000000}, "phone"),  # ModelSerializer
    # a choice: of its own type (gender is 0, 1 or 2)
    ("patch", "/api/v1/me/profile", {"gender": "1"}, "gender"),
    ("patch", "/api/v1/me/profile", {"gender": True}, "gender"),
    # a boolean: true or false
    ("post", "/api/v1/mall/addresses", {**ADDRESS, "is_default": 0}, "is_default"),
    ("post", "/api/v1/mall/addresses", {**ADDRESS, "is_default": 1}, "is_default"),
    ("post", "/api/v1/mall/addresses", {**ADDRESS, "is_default": "true"}, "is_default"),
]


def _fill(body, tpl):
    return {k: (v.format(tpl=tpl.pk) if isinstance(v, str) and "{tpl}" in v else v) for k, v in body.items()}


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "url", "body", "field"), LOOSE_BODIES)
def test_a_value_of_the_wrong_json_type_is_400_and_changes_nothing(member_api, method, url, body, field):
    body = _fill(body, CouponTemplateFactory())
    before = db_fingerprint()

    response = getattr(member_api, method)(url, body, format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["details"]
    assert db_fingerprint() == before


@pytest.mark.django_db
def test_the_same_values_of_the_right_type_are_accepted(member, member_api):
    tpl = CouponTemplateFactory()

    claimed = member_api.post(
        "/api/v1/coupons/claim", {"template_id": tpl.pk}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    profile = member_api.patch("/api/v1/me/profile", {"nickname": "0", "gender": 1}, format="json")
    added = member_api.post("/api/v1/mall/addresses", {**ADDRESS, "is_default": True}, format="json")
    quote = member_api.post(
        "/api/v1/checkout/quote", {"lines": [{**LINE, "quantity": 2}], "coupon_ids": []}, format="json"
    )

    assert [r.status_code for r in (claimed, profile, added, quote)] == [201, 200, 201, 200]
    assert (profile.json()["nickname"], profile.json()["gender"]) == ("0", 1)
    assert added.json()["is_default"] is True


@pytest.mark.django_db
def test_a_signed_server_body_is_held_to_the_same_types(api, server_client, member):
    before = db_fingerprint()

    response = signed_request(
        api,
        *server_client,
        "post",
        "/api/v1/server/checkout/quote",
        {"member_id": str(member.pk), "lines": [LINE]},
    )

    assert (response.status_code, response.json()["code"]) == (400, "validation_error")
    assert "member_id" in response.json()["details"]
    assert db_fingerprint() == before


# --- query strings -----------------------------------------------------------------------------

PAGINATED = [
    pytest.param(route, id=route.pattern)
    for route in api_routes()
    if "get" in route.methods
    and getattr(route.view, "pagination_class", None)
    and not route.converters
    and hasattr(route.view, "get_queryset")
]
BAD_PAGE_SIZES = ["null", "abc", "0", "-1", "1.0", " 5", "+5", "5 ", "1e2", "101", "٥", ""]


@pytest.mark.django_db
@pytest.mark.parametrize("route", PAGINATED)
def test_every_list_refuses_a_page_size_it_cannot_read_exactly(member_api, route):
    assert len(PAGINATED) >= 6
    for page_size in BAD_PAGE_SIZES:
        response = member_api.get(route.url(), {"page_size": page_size})

        assert response.status_code == 400, (route.pattern, page_size, response.content)
        assert response.json()["code"] == "validation_error"
        assert "page_size" in response.json()["details"]
    assert member_api.get(route.url(), {"page_size": "5"}).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "affordable=1",
        "affordable=0",
        "affordable=yes",
        "affordable=True",
        "unlocked=on",
        "category=1.0",
        f"category={2**63}",
        "category=-1",
        "category=null",
    ],
)
def test_a_filter_must_parse_exactly(member_api, query):
    response = member_api.get(f"/api/v1/mall/items?{query}")

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "validation_error"
    assert query.split("=")[0] in response.json()["details"]


@pytest.mark.django_db
def test_filters_spelt_exactly_are_accepted(member_api):
    for query in ("affordable=true", "unlocked=false", "category=1", f"category={MAX_ID}"):
        assert member_api.get(f"/api/v1/mall/items?{query}").status_code == 200, query


# --- the schema --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_schema_states_the_bounds_so_clients_and_the_fuzzer_see_them(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    components = schema["components"]["schemas"]
    redeem = components["MallRedeemInputRequest"]["properties"]
    basket = components["BasketRequest"]["properties"]
    page_size = next(
        p for p in schema["paths"]["/api/v1/orders"]["get"]["parameters"] if p["name"] == "page_size"
    )
    category = next(
        p for p in schema["paths"]["/api/v1/mall/items"]["get"]["parameters"] if p["name"] == "category"
    )

    assert (redeem["item_id"]["minimum"], redeem["item_id"]["maximum"]) == (1, MAX_ID)
    assert (basket["coupon_ids"]["items"]["minimum"], basket["coupon_ids"]["items"]["maximum"]) == (1, MAX_ID)
    assert (basket["points"]["minimum"], basket["points"]["maximum"]) == (0, 10**12)
    assert (page_size["schema"]["minimum"], page_size["schema"]["maximum"]) == (1, 100)
    assert (category["schema"]["minimum"], category["schema"]["maximum"]) == (1, MAX_ID)
