"""The real gateway (wechatpayv3) against a fake WeChat Pay server on loopback: signed both ways."""

from base64 import b64decode
from datetime import timedelta

import pytest
import time_machine
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.hashes import SHA256
from django.utils import timezone

from payments import services as payments
from payments.exceptions import PaymentUnavailable
from payments.gateway import FakeGateway, WechatGateway, _new_rsa_pem, get_gateway
from payments.models import Payment, PaymentRefund
from stored_value import recharges
from stored_value.models import RechargeOrder
from tests.factories import RechargePlan1500Factory
from tests.fakes.wechatpay_server import FakeWechatPayServer
from tests.payments.helpers import deliver, paid_resource
from tests.stored_value.helpers import parts
from tests.stored_value.recharge_helpers import start_recharge

pytestmark = pytest.mark.django_db

MCHID, SERIAL = "1230000109", "PUB_KEY_ID_0112345678901234567890"


@pytest.fixture(scope="module")
def keys():
    return _new_rsa_pem(), _new_rsa_pem()


@pytest.fixture
def wechat(settings, keys):
    (merchant_private, merchant_public), (platform_private, platform_public) = keys
    server = FakeWechatPayServer(
        platform_private_key=platform_private, serial=SERIAL, merchant_public_key=merchant_public, mchid=MCHID
    ).start()
    settings.WECHATPAY_PROVIDER = "wechat"
    settings.WECHATPAY_MCHID = MCHID
    settings.WECHATPAY_APP_ID = "wx-test-app"
    settings.WECHATPAY_APIV3_KEY = "0123456789abcdef0123456789abcdef"
    settings.WECHATPAY_PRIVATE_KEY = merchant_private
    settings.WECHATPAY_CERT_SERIAL_NO = "444F4864EA9B34415ABCDEF"
    settings.WECHATPAY_PUBLIC_KEY = platform_public
    settings.WECHATPAY_PUBLIC_KEY_ID = SERIAL
    settings.WECHATPAY_NOTIFY_URL = "https://loyalty.example.com/api/v1/payments/wechat/notify"
    settings.WECHATPAY_API_BASE = server.url
    settings.WECHATPAY_TIMEOUT_SECONDS = 2
    server.merchant_public = merchant_public
    # WeChat's side of notifications: the same builder the fake provider uses, with the server's key.
    server.notifier = FakeGateway(get_gateway().config, platform_private)
    yield server
    server.stop()


def test_a_recharge_prepays_with_a_signed_request_and_returns_signed_payment_parameters(
    member, wechat, member_api
):
    response = member_api.post(
        "/api/v1/stored-value/recharges",
        {"plan_id": RechargePlan1500Factory().pk, "amount_fen": 150_000},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k",
    )

    assert response.status_code == 201
    order, params = RechargeOrder.objects.get(), response.json()["payment"]
    assert isinstance(get_gateway(), WechatGateway) and not isinstance(get_gateway(), FakeGateway)
    assert wechat.requests == [("POST", "/v3/pay/transactions/jsapi", True)]
    sent = wechat.trades[order.out_trade_no]
    assert sent["amount"] == {"total": 150_000, "currency": "CNY"}
    assert sent["payer"] == {"openid": member.openid}
    assert (sent["appid"], sent["mchid"], sent["notify_url"]) == (
        "wx-test-app",
        MCHID,
        "https://loyalty.example.com/api/v1/payments/wechat/notify",
    )
    message = f"{params['appId']}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n"
    merchant_key = serialization.load_pem_public_key(wechat.merchant_public.encode())
    merchant_key.verify(b64decode(params["paySign"]), message.encode(), PKCS1v15(), SHA256())  # raises if bad


def test_a_notification_signed_by_the_platform_key_credits_the_recharge(member, wechat):
    order, payment = start_recharge(member, RechargePlan1500Factory(), 150_000)

    response = deliver(
        *wechat.notifier.notification(event_type="TRANSACTION.SUCCESS", resource=paid_resource(payment))
    )

    assert response.status_code == 204
    assert parts(member) == (150_000, 15_000)


def test_wechat_down_at_prepay_is_503_and_the_order_is_paid_by_a_retry_once_wechat_is_back(
    member, wechat, member_api
):
    plan = RechargePlan1500Factory()

    def start():
        return member_api.post(
            "/api/v1/stored-value/recharges",
            {"plan_id": plan.pk, "amount_fen": 150_000},
            format="json",
            HTTP_IDEMPOTENCY_KEY="k",
        )

    wechat.mode = "down"
    failed = start()

    assert (failed.status_code, failed.json()["code"]) == (503, "payment_unavailable")
    order = RechargeOrder.objects.get()
    payment = Payment.objects.get()
    assert (order.status, payment.status, payment.prepay_id) == ("created", "created", "")
    assert failed.json()["details"] == {"provider_code": "SYSTEM_ERROR", "out_trade_no": order.out_trade_no}

    wechat.mode = "ok"
    retried = start()

    assert retried.status_code == 201 and retried["Idempotent-Replayed"] == "true"
    assert retried.json()["recharge"]["out_trade_no"] == order.out_trade_no
    assert retried.json()["payment"]["package"] == f"prepay_id={Payment.objects.get().prepay_id}"
    assert wechat.trades[order.out_trade_no]["trade_state"] == "NOTPAY"
    assert RechargeOrder.objects.count() == Payment.objects.count() == 1


def test_an_answer_with_a_forged_signature_is_not_believed(member, wechat):
    order = recharges.recharge_create(member=member, plan_id=RechargePlan1500Factory().pk, amount_fen=150_000)
    wechat.mode = "forged"

    with pytest.raises(PaymentUnavailable):
        payments.payment_prepay(payment=Payment.objects.get())

    order.refresh_from_db()
    assert order.status == "created" and Payment.objects.get().prepay_id == ""


def test_the_stale_job_queries_then_closes_at_wechat(member, wechat):
    order, payment = start_recharge(member, RechargePlan1500Factory(), 150_000)

    with time_machine.travel(timezone.now() + timedelta(minutes=20)):
        assert payments.payments_close_stale() == 1

    assert [r[:2] for r in wechat.requests[1:]] == [
        ("GET", f"/v3/pay/transactions/out-trade-no/{payment.out_trade_no}?mchid={MCHID}"),
        ("POST", f"/v3/pay/transactions/out-trade-no/{payment.out_trade_no}/close"),
    ]
    assert wechat.trades[payment.out_trade_no]["trade_state"] == "CLOSED"
    order.refresh_from_db()
    assert order.status == "closed"


def test_the_stale_job_closes_a_payment_wechat_never_opened_without_asking_wechat_to_close_it(member, wechat):
    order = recharges.recharge_create(member=member, plan_id=RechargePlan1500Factory().pk, amount_fen=150_000)

    with time_machine.travel(timezone.now() + timedelta(minutes=20)):
        assert payments.payments_close_stale() == 1

    assert [r[:2] for r in wechat.requests] == [
        ("GET", f"/v3/pay/transactions/out-trade-no/{order.out_trade_no}?mchid={MCHID}")
    ]
    order.refresh_from_db()
    assert order.status == "closed" and Payment.objects.get().status == "closed"


def test_a_refund_is_submitted_after_commit_and_settled_by_wechats_refund_notification(
    member, wechat, django_capture_on_commit_callbacks
):
    order, payment = start_recharge(member, RechargePlan1500Factory(), 150_000)
    deliver(*wechat.notifier.notification(event_type="TRANSACTION.SUCCESS", resource=paid_resource(payment)))
    from django.contrib.auth.models import User

    finance = User.objects.create(username="finance")
    with django_capture_on_commit_callbacks(execute=True):
        recharges.recharge_refund(order_id=order.pk, actor_id=finance.pk, reason="退卡", idempotency_key="k")

    refund = PaymentRefund.objects.get()
    assert refund.status == "processing"
    sent = wechat.refunds[refund.out_refund_no]
    assert sent["amount"] == {"refund": 150_000, "total": 150_000, "currency": "CNY"}
    assert sent["out_trade_no"] == payment.out_trade_no

    result = {"out_refund_no": refund.out_refund_no, "refund_id": "50300000001", "refund_status": "SUCCESS"}
    assert (
        deliver(*wechat.notifier.notification(event_type="REFUND.SUCCESS", resource=result)).status_code
        == 204
    )
    refund.refresh_from_db()
    assert (refund.status, refund.refund_id) == ("succeeded", "50300000001")


def test_a_refund_the_system_starts_tells_wechat_its_reason_in_words_not_its_code(member, wechat):
    from payments import services as payments

    order, payment = start_recharge(member, RechargePlan1500Factory(), 150_000)
    deliver(*wechat.notifier.notification(event_type="TRANSACTION.SUCCESS", resource=paid_resource(payment)))
    payment.refresh_from_db()

    refund = payments.payment_refund(
        payment=payment, amount_fen=100, reason="account closed", out_refund_no="RTEST1"
    )
    payments.payment_refund_submit(refund_id=refund.pk)

    assert wechat.refunds["RTEST1"]["reason"] == "账户注销"
    assert PaymentRefund.objects.get(out_refund_no="RTEST1").reason == "account closed"  # stored as written
