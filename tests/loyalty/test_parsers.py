"""Request bodies: deep nesting is refused before parsing (a 400, never a RecursionError's 500), and size."""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from loyalty.api.parsers import JSONTooDeep, _storable, json_depth, json_loads
from loyalty.models import IdempotencyRecord
from members.models import Member
from tests.security.helpers import db_fingerprint

DEEP_ARRAYS = b"[" * 3000 + b"]" * 3000  # about 6 KB
DEEP_OBJECTS = b'{"a":' * 3000 + b"1" + b"}" * 3000


def post_raw(client, url, body: bytes, **extra):
    return client.generic("POST", url, body, content_type="application/json", **extra)


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/v1/auth/wechat-login", "/api/v1/auth/dev-login"])
@pytest.mark.parametrize("body", [DEEP_ARRAYS, DEEP_OBJECTS], ids=["arrays", "objects"])
def test_deeply_nested_json_on_a_login_route_is_400_and_creates_nobody(api, settings, url, body):
    settings.DEBUG = settings.WECHAT_DEV_LOGIN = True

    response = post_raw(api, url, body)

    assert response.status_code == 400
    assert response.json() == {
        "code": "malformed_request",
        "message": response.json()["message"],
        "details": {"max_depth": 32},
    }
    assert Member.objects.count() == 0


@pytest.mark.django_db
def test_deeply_nested_json_on_an_idempotent_route_is_400_and_keeps_no_key(member_api):
    before = db_fingerprint()

    response = post_raw(member_api, "/api/v1/coupons/claim", DEEP_ARRAYS, HTTP_IDEMPOTENCY_KEY="k")

    assert (response.status_code, response.json()["code"]) == (400, "malformed_request")
    assert not IdempotencyRecord.objects.exists()
    assert db_fingerprint() == before


@pytest.mark.django_db
def test_the_depth_limit_is_a_setting_and_its_edge_is_accepted(member_api, settings):
    settings.JSON_MAX_DEPTH = 3

    at_limit = member_api.patch("/api/v1/me/profile", {"nickname": [[1]]}, format="json")  # 3 levels
    over = member_api.patch("/api/v1/me/profile", {"nickname": [[[1]]]}, format="json")  # 4 levels

    # At the limit the parser takes it and the serializer judges it; over it the parser refuses it.
    assert (at_limit.status_code, at_limit.json()["code"]) == (400, "validation_error")
    assert (over.status_code, over.json()) == (
        400,
        {"code": "malformed_request", "message": over.json()["message"], "details": {"max_depth": 3}},
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        b'"' + b"[" * 3000,  # an unterminated string: the brackets are inside it
        b"[" * 3000 + b'"',
        b"\\" + b"[" * 3000,  # a backslash outside a string
        b'["\\"' + b"[" * 3000 + b'"]',  # an escaped quote does not end the string
        b'["\\\\"' + b"[" * 3000,  # an escaped backslash does not escape the quote after it
        b"[" * 3000 + b"1,",
        b'{"a":' * 3000,
        b"[" * 200_000,
        "[".encode("utf-16") * 3000,
        b"\xff" + b"[" * 3000,
    ],
    ids=[
        "open-string",
        "brackets-then-quote",
        "backslash",
        "escaped-quote",
        "escaped-backslash",
        "unclosed",
        "unclosed-objects",
        "200k",
        "utf-16",
        "not-utf-8",
    ],
)
def test_no_body_reaches_a_500(api, body):
    response = post_raw(api, "/api/v1/auth/wechat-login", body)

    assert response.status_code == 400, response.content
    assert response.json()["code"] in ("malformed_request", "validation_error")


# --- the depth count, and the walk over parsed data, without recursion ---------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ ab,:\n\u00e9'),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(alphabet='[]{}"\\ab'), children, max_size=4)
    ),
    max_leaves=30,
)


def true_depth(value) -> int:
    deepest, pending = 0, [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, list | dict):
            depth += 1
            deepest = max(deepest, depth)
            pending.extend((child, depth) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


@hypothesis_settings(max_examples=300, deadline=None)
@given(value=json_values, ensure_ascii=st.booleans(), indent=st.sampled_from([None, 1]))
def test_the_depth_counted_on_the_text_is_the_depth_of_the_value(value, ensure_ascii, indent):
    text = json.dumps(value, ensure_ascii=ensure_ascii, indent=indent)

    assert json_depth(text) == true_depth(value)


def test_json_loads_refuses_over_the_limit_as_a_json_error(settings):
    settings.JSON_MAX_DEPTH = 2

    assert json_loads('{"a": [1]}') == {"a": [1]}
    with pytest.raises(JSONTooDeep) as refused:
        json_loads('{"a": [[1]]}')
    assert isinstance(refused.value, json.JSONDecodeError)  # every handler of bad JSON catches it
    with pytest.raises(ValueError):
        json_loads("[NaN]")


def test_storable_walks_any_depth_without_recursion():
    deep = inner = []
    for _ in range(100_000):
        inner.append([])
        inner = inner[0]
    inner.append("a\x00b")

    assert _storable(deep) is False
    inner[0] = "ab"
    assert _storable(deep) is True


# --- JSON read outside DRF ----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_signed_notification_nested_too_deeply_is_400_not_a_500(member):
    from payments.gateway import get_gateway
    from payments.models import PaymentNotification
    from tests.payments.helpers import deliver

    text = '{"id": "1", "event_type": "TRANSACTION.SUCCESS", "resource": ' + "[" * 3000 + "]" * 3000 + "}"

    response = deliver(get_gateway().sign_notification(text), text.encode())

    assert (response.status_code, response.json()["code"]) == (400, "invalid_notification")
    assert not PaymentNotification.objects.exists()


@pytest.mark.django_db
def test_a_notification_whose_decrypted_resource_is_nested_too_deeply_is_400(member):
    from base64 import b64encode

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from payments.gateway import get_gateway
    from payments.models import PaymentNotification
    from tests.payments.helpers import deliver

    gateway = get_gateway()
    plain = "[" * 3000 + "]" * 3000
    ciphertext = AESGCM(gateway.config.apiv3_key.encode()).encrypt(b"n0nce0n0nce0", plain.encode(), b"t")
    text = json.dumps(
        {
            "id": uuid.uuid4().hex,
            "event_type": "TRANSACTION.SUCCESS",
            "resource": {
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": b64encode(ciphertext).decode(),
                "associated_data": "t",
                "nonce": "n0nce0n0nce0",
            },
        }
    )

    response = deliver(gateway.sign_notification(text), text.encode())

    assert (response.status_code, response.json()["code"]) == (400, "invalid_notification")
    assert not PaymentNotification.objects.exists()


@pytest.mark.django_db
def test_the_segment_preview_refuses_deep_rules_with_its_json_error(admin_client):
    rules = '{"op": "and", "conditions": ' + "[" * 3000 + "]" * 3000 + "}"

    response = admin_client.post("/admin/analytics/segment/preview/", {"rules": rules})

    assert (response.status_code, response.json()["code"]) == (400, "invalid_segment_rule")


@pytest.mark.django_db
def test_an_admin_form_with_deep_json_shows_a_form_error_and_saves_nothing(admin_client):
    from analytics.models import Segment

    rules = '{"op": "and", "conditions": ' + "[" * 3000 + "]" * 3000 + "}"

    response = admin_client.post("/admin/analytics/segment/add/", {"name": "deep", "rules": rules})

    assert response.status_code == 200  # the form again, with its error
    assert response.context["adminform"].form.errors["rules"]
    assert not Segment.objects.exists()


def test_no_admin_form_shows_a_json_box_and_the_one_json_field_left_reads_with_the_depth_limit(
    rf, admin_user
):
    """Operators fill forms, not JSON (pickers, lines, rows, the segment builder); the segment's rule tree,
    which the builder writes into a hidden input, is still read with the API's nesting limit."""
    from django import forms
    from django.contrib import admin

    from analytics.segment_builder import SegmentBuilder
    from loyalty.api.parsers import LimitedJSONDecoder

    request = rf.get("/")
    request.user = admin_user
    checked = []
    for model, model_admin in admin.site._registry.items():
        if not (model_admin.has_add_permission(request) or model_admin.has_change_permission(request)):
            continue
        for name, field in model_admin.get_form(request, None).base_fields.items():
            if isinstance(field, forms.JSONField):
                checked.append(f"{model.__name__}.{name}")
                assert field.decoder is LimitedJSONDecoder, (
                    f"{model.__name__}.{name}: add loyalty.admin_tools.LimitedJSONAdminMixin to its admin"
                )
                assert isinstance(field.widget, SegmentBuilder), f"{model.__name__}.{name} is a JSON box"
    assert checked == ["Segment.rules"]
