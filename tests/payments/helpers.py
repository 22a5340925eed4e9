import json

from django.urls import reverse
from rest_framework.test import APIClient

from payments.gateway import get_gateway
from tests.helpers import as_meta

NOTIFY_URL = reverse("payments-wechat-notify")


def deliver(headers: dict, body: bytes):
    """POST a notification to our endpoint as WeChat does: raw body, Wechatpay-* headers."""
    return APIClient().generic("POST", NOTIFY_URL, body, content_type="application/json", **as_meta(headers))


def signed(resource: dict, *, event_type="TRANSACTION.SUCCESS", timestamp=None):
    """A notification signed and encrypted with the fake provider's keys (made by the test run)."""
    return get_gateway().notification(event_type=event_type, resource=resource, timestamp=timestamp)


def paid_resource(payment, **changes) -> dict:
    config = get_gateway().config
    resource = {
        "out_trade_no": payment.out_trade_no,
        "transaction_id": "4200000000000000000000000001",
        "trade_state": "SUCCESS",
        "trade_type": "JSAPI",
        "appid": config.appid,
        "mchid": config.mchid,
        "amount": {"total": payment.amount_fen, "payer_total": payment.amount_fen, "currency": "CNY"},
        "payer": {"openid": payment.member.openid},
        "success_time": "2026-11-23T10:00:00+08:00",
    }
    resource.update(changes)
    return resource


def body_of(response) -> dict:
    return json.loads(response.content) if response.content else {}
