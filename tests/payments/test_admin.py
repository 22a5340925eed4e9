"""The payments back office: what each payment is for and what WeChat Pay said, in Chinese, never as JSON."""

from datetime import timedelta

import pytest
from django.utils import timezone

from loyalty.wechat_errors import error_in_words, wechatpay_error_label
from payments.models import Payment, PaymentNotification, PaymentRefund
from tests.factories import MemberFactory
from tests.helpers import page_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid():
    payment = Payment.objects.create(
        member=MemberFactory(),
        purpose="recharge",
        reference="1",
        out_trade_no="R20261205000001",
        provider="fake",
        description="充值",
        amount_fen=150_000,
        status="paid",
        expires_at=timezone.now() + timedelta(minutes=30),
        prepay_id="wx201410272009395522657a690389285100",
    )
    notification = PaymentNotification.objects.create(
        notification_id="EV-018",
        event_type="TRANSACTION.SUCCESS",
        out_trade_no=payment.out_trade_no,
        resource={
            "out_trade_no": payment.out_trade_no,
            "transaction_id": "4200000001",
            "trade_state": "SUCCESS",
            "amount": {"total": 150_000, "payer_total": 150_000, "currency": "CNY"},
            "payer": {"openid": "o-abc"},
        },
    )
    return payment, notification


def test_a_payment_reads_its_purpose_and_provider_and_hides_its_prepay_token(admin_client, paid):
    payment, _ = paid

    listing = page_text(admin_client.get("/admin/payments/payment/"))
    detail = admin_client.get(f"/admin/payments/payment/{payment.pk}/change/")

    assert "储值充值" in listing and "模拟支付（测试）" in listing  # the column and the filters
    assert "储值充值" in page_text(detail) and payment.prepay_id not in detail.content.decode()


def test_a_notification_reads_what_wechat_pay_said_as_a_table(admin_client, paid):
    _, notification = paid

    listing = page_text(admin_client.get("/admin/payments/paymentnotification/"))
    text = page_text(admin_client.get(f"/admin/payments/paymentnotification/{notification.pk}/change/"))

    assert "支付成功" in listing and "TRANSACTION.SUCCESS" not in listing
    assert "支付成功" in text and "微信支付订单号\n4200000001" in text and "¥1,500.00" in text
    assert "{" not in text and "payer_total" not in text


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("{'provider_code': 'NOT_ENOUGH'}", "商户微信支付账户余额不足，无法退款"),
        ("ABNORMAL", "退款无法退回会员账户（如银行卡已注销），请线下处理"),
    ],
)
def test_a_refund_wechat_pay_refused_says_why_in_chinese(admin_client, paid, stored, shown):
    payment, _ = paid
    refund = PaymentRefund.objects.create(
        payment=payment, out_refund_no="RF-1", amount_fen=100, status="failed", last_error=stored
    )

    listing = admin_client.get("/admin/payments/paymentrefund/")
    detail = admin_client.get(f"/admin/payments/paymentrefund/{refund.pk}/change/")

    assert shown in page_text(listing) and shown in page_text(detail)
    assert "微信原文：" in page_text(detail)


def test_a_code_we_do_not_know_reads_as_wechat_pay_wrote_it():
    assert wechatpay_error_label("SOMETHING_NEW") is None
    assert error_in_words(None, "SOMETHING_NEW") == "SOMETHING_NEW"
    assert error_in_words(None, "") == "—"
