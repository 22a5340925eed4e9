"""WeChat Pay notifications: verified, decrypted, checked against the payment, applied once."""

import json
import time

import pytest

from payments import services
from payments.models import Payment, PaymentNotification
from stored_value.models import RechargeOrder, StoredValueEntry
from tests.concurrency import run_concurrently
from tests.factories import RechargePlan1500Factory
from tests.payments.helpers import body_of, deliver, paid_resource, signed
from tests.stored_value.recharge_helpers import start_recharge

pytestmark = pytest.mark.django_db


def credited(member) -> int:
    return StoredValueEntry.objects.filter(account__member=member, kind="recharge").count()


def test_a_signed_notification_credits_the_recharge_and_answers_204(member):
    order, payment = start_recharge(member, RechargePlan1500Factory(), 150_000)

    response = deliver(*signed(paid_resource(payment)))

    assert response.status_code == 204
    order.refresh_from_db()
    payment.refresh_from_db()
    assert (order.status, payment.status) == ("credited", "paid")
    assert payment.transaction_id == "4200000000000000000000000001"
    assert PaymentNotification.objects.filter(out_trade_no=payment.out_trade_no).count() == 1


def test_the_same_notification_five_times_credits_once_and_answers_204_each_time(member):
    _, payment = start_recharge(member, RechargePlan1500Factory(), 150_000)
    headers, body = signed(paid_resource(payment))

    started = time.monotonic()
    statuses = [deliver(headers, body).status_code for _ in range(5)]

    assert statuses == [204] * 5
    assert time.monotonic() - started < 3  # WeChat waits 3 s per delivery
    assert credited(member) == 1


def test_different_notifications_of_one_payment_credit_once(member):
    _, payment = start_recharge(member, RechargePlan1500Factory(), 150_000)
    for _ in range(3):  # WeChat re-sends with a new id and signature
        assert deliver(*signed(paid_resource(payment))).status_code == 204
    assert credited(member) == 1
    assert PaymentNotification.objects.count() == 3


def test_the_fake_provider_pays_through_the_same_handler(member):
    order, payment = start_recharge(member, RechargePlan1500Factory(), 150_000)
    headers, body = services.payment_simulate_pay(payment=payment)

    order.refresh_from_db()
    assert order.status == "credited"
    assert deliver(headers, body).status_code == 204  # WeChat delivering it again changes nothing
    assert credited(member) == 1


def _nothing_credited(member, payment):
    payment.refresh_from_db()
    assert payment.status == "created"
    assert credited(member) == 0
    assert not PaymentNotification.objects.exists()


def test_a_forged_signature_is_401_and_credits_nothing(member):
    _, payment = start_recharge(member, RechargePlan1500Factory(), 150_000)
    headers, body = signed(paid_resource(payment))
    forged = body.replace(b'"TRANSACTION.SUCCESS"', b'"TRANSACTION.SUCCESS" ')

    response = deliver(headers, forged)

    assert response.status_code == 401
    assert body_of(response)["code"] == "invalid_signature"
    _nothing_credited(member, payment)


def test_a_notification_signed_by_another_key_is_401(member, settings, tmp_path):
    _, payment = start_recharge(member, RechargePlan1500Factory(), 150_000)
    ours = settings.WECHATPAY_FAKE_KEYS_FILE
    settings.WECHATPAY_FAKE_KEYS_FILE = str(tmp_path / "other-keys.json")  # a stranger's keys
    headers, body = signed(paid_resource(payment))
    settings.WECHATPAY_FAKE_KEYS_FILE = ours

    assert deliver(headers, body).status_code == 401
    _nothing_credited(member, payment)


@pytest.mark.parametrize("header", ["Wechatpay-Serial", "Wechatpay-Signature", "Wechatpay-Timestamp"])
def test_a_notification_missing_a_signature_header_is_401(member, header):
    _, payment = start_recharge(member, RechargePlan1500Factory(), 150_000)
    headers, body = signed(paid_resource(payment))
    del headers[header]
    assert deliver(headers, body).status_code == 401
    _nothing_credited(member, payment)


def test_a_stale_notification_replayed_after_five_minutes_is_401(member):
    _, payment = start_recharge(member, RechargePlan1500Factory(), 150_000)
    headers, body = signed(paid_resource(payment), timestamp=int(time.time()) - 301)

    response = deliver(headers, body)

    assert response.status_code == 401
    assert body_of(response)["details"] == {"reason": "timestamp"}
    _nothing_credited(member, payment)


def test_a_notification_from_the_future_is_401(member):
    _, payment = start_recharge(member, RechargePlan1500Factory(), 150_000)
    assert deliver(*signed(paid_resource(payment), timestamp=int(time.time()) + 400)).status_code == 401
    _nothing_credited(member, payment)


@pytest.mark.parametrize(
    "change",
    [
        {"amount": {"total": 1, "payer_total": 1, "currency": "CNY"}},
        {"appid": "wx-someone-else"},
        {"mchid": "1999999999"},
    ],
    ids=["amount", "appid", "mchid"],
)
def test_a_signed_notification_that_does_not_match_the_payment_is_400(member, change):
    _, payment = start_recharge(member, RechargePlan1500Factory(), 150_000)

    response = deliver(*signed(paid_resource(payment, **change)))

    assert response.status_code == 400
    assert body_of(response)["code"] == "invalid_notification"
    _nothing_credited(member, payment)


def test_a_notification_for_an_unknown_payment_is_400(member):
    _, payment = start_recharge(member, RechargePlan1500Factory(), 150_000)
    response = deliver(*signed(paid_resource(payment, out_trade_no="P-NOT-OURS")))
    assert response.status_code == 400
    _nothing_credited(member, payment)


def test_an_undecryptable_resource_is_400(member):
    _, payment = start_recharge(member, RechargePlan1500Factory(), 150_000)
    headers, body = signed(paid_resource(payment))
    event = json.loads(body)
    event["resource"]["ciphertext"] = event["resource"]["ciphertext"][::-1]
    tampered = json.dumps(event).encode()
    from payments.gateway import get_gateway

    headers = get_gateway().sign_notification(tampered.decode())  # validly signed, wrongly encrypted

    response = deliver(headers, tampered)

    assert response.status_code == 400
    _nothing_credited(member, payment)


def test_garbage_bodies_are_refused_without_a_500(member):
    for body in [b"", b"not json", b"\xff\xfe", b"[]", b'{"resource": 1}']:
        assert deliver({}, body).status_code == 401
    from payments.gateway import get_gateway

    for text in ["[]", '{"resource": 1}', '{"id": 1, "event_type": "X", "resource": {"nonce": 5}}']:
        response = deliver(get_gateway().sign_notification(text), text.encode())
        assert response.status_code == 400, text


def test_a_not_yet_paid_trade_state_changes_nothing(member):
    _, payment = start_recharge(member, RechargePlan1500Factory(), 150_000)
    assert deliver(*signed(paid_resource(payment, trade_state="USERPAYING"))).status_code == 204
    payment.refresh_from_db()
    assert payment.status == "created"
    assert credited(member) == 0


@pytest.mark.django_db(transaction=True)
def test_parallel_duplicate_notifications_credit_once(member):
    _, payment = start_recharge(member, RechargePlan1500Factory(), 150_000)
    headers, body = signed(paid_resource(payment))

    statuses, _ = run_concurrently(lambda i: deliver(headers, body).status_code, 8)

    assert statuses == [204] * 8
    assert credited(member) == 1
    assert RechargeOrder.objects.get().status == "credited"
    assert Payment.objects.get().status == "paid"
