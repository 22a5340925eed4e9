"""The payments back office: what each payment is for and what WeChat Pay said, in Chinese, never as JSON."""

from datetime import timedelta

import pytest
from django.utils import timezone

from payments.models import Payment, PaymentNotification
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
