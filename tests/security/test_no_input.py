"""Operations without input take no body, an empty one or ``{}``; anything else is 400 and does nothing.

The operations are found, not listed: every write under /api/v1/ whose
OpenAPI operation has no request body (``loyalty.api.views.NoInputMixin``
is the one rule they share).  A new one is held to the rule without a line
here.
"""

from __future__ import annotations

import uuid

import pytest
from drf_spectacular.generators import SchemaGenerator

from tests.factories import MemberFactory
from tests.helpers import client_for, signed_request
from tests.security.helpers import WRITE_METHODS, api_routes, db_fingerprint, schema_path
from tests.security.registry import MEMBER, ROUTES, SERVER

pytestmark = pytest.mark.django_db

SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
NO_INPUT = [
    pytest.param(route, method, id=f"{method.upper()} {route.pattern}")
    for route in api_routes()
    for method in route.methods
    if method in (*WRITE_METHODS, "delete")
    and "requestBody" not in SCHEMA["paths"][schema_path(route)][method]
]

# (body, content type): JSON that is not an object, an object with a field, and what is not JSON at all.
REFUSED = [
    (b"[]", "application/json"),
    (b"null", "application/json"),
    (b"0", "application/json"),
    (b"false", "application/json"),
    (b'""', "application/json"),
    (b'"yes"', "application/json"),
    (b"[{}]", "application/json"),
    (b'{"points": 999}', "application/json"),
    (b"points=999", "application/x-www-form-urlencoded"),
    (b"yes", "text/plain"),
]


def send(api, route, method, body: bytes, content_type: str, *, server_client, owner, kwargs):
    entry = ROUTES[route.name]
    url = route.url(kwargs)
    if entry.kind == SERVER:
        return signed_request(api, *server_client, method, url, body, content_type=content_type)
    caller = client_for(owner) if entry.kind == MEMBER else api
    return caller.generic(
        method.upper(), url, body, content_type=content_type, HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex
    )


def test_the_walk_finds_the_operations_without_input():
    found = {(p.values[0].name, p.values[1]) for p in NO_INPUT}

    assert {
        ("points-check-in", "post"),
        ("server-order-complete", "post"),
        ("mall-redemption-confirm", "post"),
        ("mall-redemption-cancel", "post"),
        ("me-notification-read", "post"),
        ("payments-simulate-pay", "post"),
        ("auth-logout", "post"),
        ("mall-address", "delete"),
    } <= found
    assert ("me-close", "post") not in found  # it takes {"confirm": true}


@pytest.mark.parametrize(("route", "method"), NO_INPUT)
def test_an_operation_without_input_refuses_any_body_but_an_empty_object(api, route, method, server_client):
    owner = MemberFactory()
    # The caller's own object where the route names one: without the rule, the operation would succeed.
    entry = ROUTES[route.name]
    kwargs = entry.owned(owner) if entry.owned else entry.others() if entry.others else None
    before = db_fingerprint()

    for body, content_type in REFUSED:
        response = send(
            api, route, method, body, content_type, server_client=server_client, owner=owner, kwargs=kwargs
        )

        assert response.status_code == 400, (route.pattern, body, response.content)
        assert response.json()["code"] == "validation_error", (route.pattern, body, response.json())
    assert db_fingerprint() == before, route.pattern
    # {} and no body at all are not input: whatever the operation answers, it is not validation_error.
    for body in (b"{}", b""):
        response = send(
            api,
            route,
            method,
            body,
            "application/json",
            server_client=server_client,
            owner=owner,
            kwargs=kwargs,
        )
        refused = response.status_code == 400 and response.json()["code"] == "validation_error"
        assert not refused, (route.pattern, body, response.content)
