"""Schemathesis over the whole OpenAPI schema, against a real server (pytest-django's live_server).

Two callers: a logged-in member (every member and public operation) and the
merchant's order system (every signed server operation, each request signed
by ``SignedRequests`` after it is built, so the signature covers the exact
path, query and body sent).  Inputs are generated valid and invalid.  Checks:
no 5xx, and every response (status, content type, body) is the one the
schema declares.

The default run is small (``FUZZ_EXAMPLES``, 8 cases per operation and
mode); ``FULL=1`` (``make test-full``) runs 200.  Every failing operation is
reported, not only the first.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.test import APIClient
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode

from loyalty import services as platform_services
from loyalty.api.server_auth import signed_headers
from members import services as member_services
from tests.factories import CouponTemplateFactory, MemberFactory, RechargePlan1500Factory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("many-connections")]

FULL = os.environ.get("FULL") == "1"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 200 if FULL else 8))
# dev-login is off outside DEBUG; logout and closing the account would revoke the token the rest of
# the run uses (they have their own tests in tests/members).
NOT_FUZZED = {"/api/v1/auth/dev-login", "/api/v1/auth/logout", "/api/v1/me/close"}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


class SignedRequests(requests.auth.AuthBase):
    """Signs each prepared request as the order system does (loyalty.api.server_auth)."""

    def __init__(self, key_id: str, secret: str):
        self.key_id, self.secret = key_id, secret

    def __call__(self, request):
        url = urlsplit(request.url)
        path = url.path + (f"?{url.query}" if url.query else "")
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        request.headers.update(
            signed_headers(
                key_id=self.key_id, secret=self.secret, method=request.method, path=path, body=body
            )
        )
        return request


def load_schema():
    raw = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    return schemathesis.openapi.from_dict(raw)


def some_data(member):
    """Something for the generated ids to hit now and then."""
    from coupons import services as coupons

    tpl = CouponTemplateFactory()
    coupons.coupon_claim(member=member, template_id=tpl.pk, idempotency_key="fuzz")
    RechargePlan1500Factory()


def fuzz(schema, *, base_url: str, session: requests.Session, wanted) -> list[str]:
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if not wanted(operation):
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=not FULL,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case):
                response = case.call(base_url=base_url, session=session, timeout=30)
                case.validate_response(response, checks=CHECKS)

            try:
                run()
            except Unsatisfiable:
                continue  # no invalid input exists for an operation without parameters
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collect all, then report
                failures.append(f"{operation.label} ({mode.value}): {str(exc)[:1500]}")
    return failures


def security_of(operation) -> set[str]:
    return {name for requirement in operation.definition.raw.get("security", []) for name in requirement}


def test_the_api_survives_fuzzing_as_a_member(live_server, fake_wechat):
    member = MemberFactory()
    some_data(member)
    token, _ = member_services.member_token_issue(member=member)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"

    failures = fuzz(
        load_schema(),
        base_url=live_server.url,
        session=session,
        wanted=lambda op: "serverSignature" not in security_of(op) and op.path not in NOT_FUZZED,
    )

    assert not failures, "\n\n".join(failures)


def test_the_server_api_survives_fuzzing_as_the_order_system(live_server):
    some_data(MemberFactory())
    client, secret = platform_services.api_client_create(name="fuzz")
    session = requests.Session()
    session.auth = SignedRequests(client.key_id, secret)

    failures = fuzz(
        load_schema(),
        base_url=live_server.url,
        session=session,
        wanted=lambda op: "serverSignature" in security_of(op),
    )

    assert not failures, "\n\n".join(failures)
