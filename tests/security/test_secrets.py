"""Secrets never leave the server: not in a response body or header, not in a log record.

Every log record of every logger (DEBUG and up) is captured while a member logs
in through WeChat, binds a phone, recharges and pays through the WeChat Pay
provider, and the order system calls a signed endpoint; then each secret is
looked for, whole and in its most likely fragments.
"""

from __future__ import annotations

import logging

import pytest

from coupons import services as coupon_services
from loyalty.api.server_auth import signed_headers
from members.models import Member
from payments.gateway import get_gateway
from tests.factories import CouponTemplateFactory, RechargePlan1500Factory
from tests.helpers import as_meta, client_for

pytestmark = pytest.mark.django_db

SESSION_KEY = "SeSsIoNkEy0123456789abcd=="


def _pem_body(pem: str) -> list[str]:
    """Distinctive lines of a PEM key (any one of them in a log would be a leak)."""
    return [line for line in pem.splitlines() if line and not line.startswith("-----")][1:4]


def test_session_key_client_secret_and_payment_keys_never_appear_in_responses_or_logs(
    api, fake_wechat, server_client, caplog
):
    caplog.set_level(logging.DEBUG)
    client, client_secret = server_client
    config = get_gateway().config
    secrets = {
        "session_key": [SESSION_KEY],
        "api client secret": [client_secret],
        "APIv3 key": [config.apiv3_key],
        "merchant private key": _pem_body(config.private_key),
        "WeChat app secret": ["test-app-secret"],
    }
    seen: list[str] = []

    def record(response):
        seen.append(response.content.decode(errors="replace"))
        seen.append(repr(dict(response.headers)))
        return response

    fake_wechat.add_login("c1", openid="o-secret", session_key=SESSION_KEY)
    login = record(api.post("/api/v1/auth/wechat-login", {"code": "c1"}, format="json"))
    assert login.status_code == 201
    member = Member.objects.get(openid="o-secret")
    me = client_for(member)
    record(api.post("/api/v1/auth/wechat-login", {"code": "c1"}, format="json"))  # a used code: an error path
    fake_wechat.add_phone("p1", "13800138000")
    record(me.post("/api/v1/me/phone", {"code": "p1"}, format="json"))
    record(me.get("/api/v1/me"))

    plan = RechargePlan1500Factory()
    recharge = record(
        me.post(
            "/api/v1/stored-value/recharges",
            {"plan_id": plan.pk, "amount_fen": 150_000},
            format="json",
            HTTP_IDEMPOTENCY_KEY="r1",
        )
    )
    assert recharge.status_code == 201
    out_trade_no = recharge.json()["recharge"]["out_trade_no"]
    assert record(me.post(f"/api/v1/payments/{out_trade_no}/simulate-pay")).status_code == 204
    record(me.get(f"/api/v1/stored-value/recharges/{recharge.json()['recharge']['id']}"))
    record(api.post("/api/v1/payments/wechat/notify", b"{}", content_type="application/json"))

    coupon = coupon_services.coupon_claim(
        member=member, template_id=CouponTemplateFactory().pk, idempotency_key="k"
    )
    body = f'{{"code": "{coupon.code}", "order_no": "POS-1"}}'.encode()
    path = "/api/v1/server/coupons/redeem"
    headers = signed_headers(key_id=client.key_id, secret=client_secret, method="POST", path=path, body=body)
    meta = as_meta(headers)
    assert record(api.generic("POST", path, body, content_type="application/json", **meta)).status_code == 200
    record(api.generic("POST", path, body, content_type="application/json", **meta))  # replayed nonce: 401

    assert caplog.records, "the flows above log nothing: the capture is not working"
    logged = [caplog.text] + [repr(r.__dict__) for r in caplog.records]
    for name, fragments in secrets.items():
        for fragment in fragments:
            assert len(fragment) >= 12
            assert not any(fragment in text for text in seen), f"{name} in an API response"
            assert not any(fragment in text for text in logged), f"{name} in a log record"
