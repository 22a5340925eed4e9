"""The security matrix: every /api/v1/ route is classified, and each class of caller is held to it.

A new route fails ``test_every_api_route_is_registered_with_its_kind_of_caller``
until it is added to ``tests/security/registry.py``; from then on the tests
below cover it without further work.
"""

from __future__ import annotations

import uuid

import pytest
from rest_framework.permissions import AllowAny

from loyalty.api.server_auth import IsApiClient, ServerSignatureAuthentication
from members.authentication import IsMember, MemberTokenAuthentication
from tests.factories import MemberFactory
from tests.helpers import client_for, signed_request
from tests.security.helpers import (
    WRITE_METHODS,
    api_routes,
    db_contains,
    db_fingerprint,
    schema_path,
)
from tests.security.registry import MEMBER, PAYMENT_NOTIFY, PUBLIC, ROUTES, SERVER

pytestmark = pytest.mark.django_db

ROUTES_FOUND = api_routes()


def routes_of(kind, *, with_params=None):
    return [
        r
        for r in ROUTES_FOUND
        if r.name in ROUTES
        and ROUTES[r.name].kind == kind
        and (with_params is None or bool(r.converters) == with_params)
    ]


def route_methods(kind, **kwargs):
    return [
        pytest.param(route, method, id=f"{method.upper()} {route.pattern}")
        for route in routes_of(kind, **kwargs)
        for method in route.methods
    ]


def test_every_api_route_is_registered_with_its_kind_of_caller():
    found = {r.name: r.pattern for r in ROUTES_FOUND}
    assert None not in found, f"an /api/v1/ route has no name: {found[None]}; name it in loyalty/urls.py"
    missing = {name: pattern for name, pattern in found.items() if name not in ROUTES}
    assert not missing, (
        f"routes without a security classification: {missing}. Add each to ROUTES in "
        "tests/security/registry.py as public, member (with owned= for a path parameter), server or "
        "payment_notify."
    )
    stale = set(ROUTES) - set(found)
    assert not stale, f"tests/security/registry.py lists routes that no longer exist: {sorted(stale)}"
    assert len(ROUTES_FOUND) >= 20  # the walk really saw the API


@pytest.mark.parametrize("route", ROUTES_FOUND, ids=lambda r: r.pattern)
def test_each_route_is_configured_as_its_registry_entry_says(route):
    entry = ROUTES.get(route.name)
    if entry is None:
        pytest.fail(f"{route.pattern} is not in tests/security/registry.py")
    view = route.view
    auth = list(view.authentication_classes)
    perms = list(view.permission_classes)
    if entry.kind == MEMBER:
        assert auth == [MemberTokenAuthentication] and IsMember in perms, route.pattern
        named = (entry.owned is not None) + (entry.shared is not None) + (entry.others is not None)
        assert bool(route.converters) == (named == 1), (
            f"{route.pattern}: a member route with a path parameter needs owned=, shared= or others= "
            "(one, and only then)"
        )
    elif entry.kind == SERVER:
        assert auth == [ServerSignatureAuthentication] and IsApiClient in perms, route.pattern
    else:
        assert entry.kind in (PUBLIC, PAYMENT_NOTIFY)
        assert auth == [] and perms == [AllowAny], route.pattern


@pytest.mark.parametrize(("route", "method"), route_methods(MEMBER))
def test_member_routes_refuse_a_caller_without_a_token(api, route, method):
    before = db_fingerprint()

    response = getattr(api, method)(route.url(), {}, format="json", HTTP_IDEMPOTENCY_KEY="anon")

    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert db_fingerprint() == before


@pytest.mark.parametrize(("route", "method"), route_methods(MEMBER))
def test_member_routes_refuse_an_unknown_token(api, route, method):
    api.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    response = getattr(api, method)(route.url(), {}, format="json", HTTP_IDEMPOTENCY_KEY="anon")

    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")


@pytest.mark.parametrize(
    ("route", "method"),
    [p for p in route_methods(MEMBER, with_params=True) if ROUTES[p.values[0].name].owned],
)
def test_another_members_object_is_not_found_and_untouched(route, method):
    owner, intruder = MemberFactory(), MemberFactory()
    kwargs = ROUTES[route.name].owned(owner)
    before = db_fingerprint()

    response = getattr(client_for(intruder), method)(
        route.url(kwargs), {}, format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex
    )

    assert response.status_code == 404, (route.pattern, response.content)
    assert response.json()["code"].endswith("not_found")
    assert db_fingerprint() == before
    # The object is real: its owner reaches it.
    owned = getattr(client_for(owner), method)(
        route.url(kwargs), {}, format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex
    )
    assert owned.status_code < 400, (route.pattern, owned.content)


@pytest.mark.parametrize(
    ("route", "method"),
    [p for p in route_methods(MEMBER, with_params=True) if ROUTES[p.values[0].name].shared],
)
def test_a_shared_object_such_as_a_mall_item_is_the_same_for_every_member(route, method):
    kwargs = ROUTES[route.name].shared()
    callers = [client_for(MemberFactory()), client_for(MemberFactory())]
    before = db_fingerprint()

    answers = [getattr(caller, method)(route.url(kwargs), format="json") for caller in callers]

    assert [a.status_code for a in answers] == [200, 200], (route.pattern, answers[0].content)
    assert _object_id(answers[0].json()) == _object_id(answers[1].json()) == kwargs["pk"]
    assert method == "get"  # a shared object is only read; anything a member changes is owned=
    assert db_fingerprint() == before


@pytest.mark.parametrize(
    ("route", "method"),
    [p for p in route_methods(MEMBER, with_params=True) if ROUTES[p.values[0].name].others],
)
def test_a_route_for_acting_on_another_members_object_reaches_it_and_an_unknown_one_is_not_found(
    route, method
):
    """Joining someone's 拼团 or helping their 砍价 is the point; an id that names nothing is 404 and
    changes nothing."""
    kwargs = ROUTES[route.name].others()
    stranger = client_for(MemberFactory())
    before = db_fingerprint()

    missing = getattr(stranger, method)(
        route.url({"pk": kwargs["pk"] + 10_000}), {}, format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex
    )

    assert missing.status_code == 404, (route.pattern, missing.content)
    assert missing.json()["code"].endswith("not_found")
    assert db_fingerprint() == before
    acted = getattr(stranger, method)(
        route.url(kwargs), {}, format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex
    )
    assert acted.status_code < 400, (route.pattern, acted.content)


def _object_id(body: dict):
    """The id of the object a detail answer is about: its own, or its one nested object's (an activity
    with its open groups beside it)."""
    if "id" in body:
        return body["id"]
    (nested,) = [value for value in body.values() if isinstance(value, dict) and "id" in value]
    return nested["id"]


def _others_or_shared(entry):
    return entry.others() if entry.others else entry.shared() if entry.shared else None


@pytest.mark.parametrize(("route", "method"), route_methods(SERVER))
def test_server_routes_refuse_an_unsigned_request(api, route, method, server_client):
    before = db_fingerprint()

    response = getattr(api, method)(route.url(), {}, format="json", HTTP_X_API_KEY=server_client[0].key_id)

    assert response.status_code == 401
    assert db_fingerprint() == before


@pytest.mark.parametrize(("route", "method"), route_methods(SERVER))
def test_server_routes_refuse_a_member_token(route, method):
    response = getattr(client_for(MemberFactory()), method)(route.url(), {}, format="json")

    assert response.status_code == 401


@pytest.mark.parametrize(("route", "method"), route_methods(PAYMENT_NOTIFY))
def test_payment_notifications_without_wechat_pays_signature_are_refused(api, route, method):
    before = db_fingerprint()

    response = getattr(api, method)(route.url(), {"id": "x", "resource": {"ciphertext": "x"}}, format="json")

    assert response.status_code in (400, 401)
    assert db_fingerprint() == before


# --- read-only fields -----------------------------------------------------------------------------

# Never writable by a caller, whatever the endpoint: balances, stock, status, issued counts, owners.
READ_ONLY_ALWAYS = {
    "id": 987654321,
    "member": 987654321,
    "member_id": 987654321,
    "balance": 987654321,
    "balance_fen": 987654321,
    "principal_fen": 987654321,
    "bonus_fen": 987654321,
    "points": 987654321,
    "status": "sentinel_ro",
    "issued_count": 987654321,
    "total_stock": 987654321,
    "remaining_stock": 987654321,
    "stock": 987654321,
    "phone": "19987654321",
    "openid": "sentinel_ro",
}
SENTINELS = ("987654321", "sentinel_ro", "19987654321")


def _schema(api):
    return api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def _resolve(schema, node):
    while isinstance(node, dict) and "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        node = schema["components"]["schemas"][name]
    return node or {}


def _properties(schema, node):
    node = _resolve(schema, node)
    if node.get("type") == "array":
        node = _resolve(schema, node.get("items"))
    props = dict(node.get("properties", {}))
    for part in node.get("allOf", []):
        props.update(_properties(schema, part))
    return props


def read_only_fields(schema, route, method) -> dict:
    """What a write to this route must refuse: the generic list, and every response field it does not accept."""
    operation = schema["paths"][schema_path(route)][method]
    accepted = _properties(
        schema, operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    )
    fields = dict(READ_ONLY_ALWAYS)
    for code, response in operation.get("responses", {}).items():
        if code.startswith("2"):
            content = response.get("content", {}).get("application/json", {})
            for name, prop in _properties(schema, content.get("schema")).items():
                prop = _resolve(schema, prop)
                fields.setdefault(name, 987654321 if prop.get("type") == "integer" else "sentinel_ro")
    return {name: value for name, value in fields.items() if name not in accepted}


def write_methods():
    return [
        pytest.param(route, method, id=f"{method.upper()} {route.pattern}")
        for route in ROUTES_FOUND
        if route.name in ROUTES and ROUTES[route.name].kind in (MEMBER, SERVER, PUBLIC)
        for method in route.methods
        if method in WRITE_METHODS
    ]


@pytest.mark.parametrize(("route", "method"), write_methods())
def test_read_only_fields_are_refused_and_never_written(api, route, method, server_client, settings):
    settings.DEBUG = settings.WECHAT_DEV_LOGIN = True  # dev-login answers, so its input is checked too
    schema = _schema(api)
    owner = MemberFactory()
    entry = ROUTES[route.name]
    url = route.url(entry.owned(owner) if entry.owned else _others_or_shared(entry))
    before = db_fingerprint()

    for name, value in read_only_fields(schema, route, method).items():
        body = {name: value}
        if entry.kind == SERVER:
            response = signed_request(api, *server_client, method, url, body)
        else:
            caller = client_for(owner) if entry.kind == MEMBER else api
            response = getattr(caller, method)(
                url, body, format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex
            )
        # Operations without input refuse any field too (loyalty.api.views.NoInputMixin).
        assert response.status_code == 400, (route.pattern, name, response.content)
        error = response.json()
        assert error["code"] == "validation_error", (route.pattern, name, error)
        assert name in error["details"], (route.pattern, name, error)
        assert not any(s in response.content.decode() for s in SENTINELS), (route.pattern, name)

    assert db_fingerprint() == before, route.pattern
    assert db_contains("987654321") == [] and db_contains("sentinel_ro") == []


def test_an_operation_without_input_takes_no_body_or_an_empty_one_and_refuses_anything_else(member_api):
    assert member_api.post("/api/v1/points/check-in", {}, format="json").status_code == 201
    assert member_api.post("/api/v1/points/check-in").status_code == 200
    form = member_api.post(
        "/api/v1/points/check-in", "points=999", content_type="application/x-www-form-urlencoded"
    )
    listed = member_api.post("/api/v1/points/check-in", [1], format="json")

    assert (form.status_code, form.json()["code"]) == (400, "validation_error")
    assert (listed.status_code, listed.json()["code"]) == (400, "validation_error")
