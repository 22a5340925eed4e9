"""Every write of the payments app: create (prepay), query, close, refund, and WeChat's notifications.

Money arrives only through ``_apply_trade``: it locks the payment row, checks
WeChat's appid, mchid and amount against it, and moves the payment from
created (or closed: the money arrived after all) to paid exactly once,
telling the purpose in the same transaction.  Notifications, queries and the
stale-order job all end there, so however often and in whatever order they
come, a payment is credited once.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from loyalty import locks
from loyalty.enqueue import enqueue_on_commit
from loyalty.labels import REASONS
from loyalty.locks import Rank
from payments import purposes
from payments.exceptions import (
    FakePaymentsDisabled,
    NotificationInvalid,
    PaymentNotFound,
    PaymentNotPending,
    PaymentUnavailable,
)
from payments.gateway import FakeGateway, Trade, get_gateway
from payments.models import Payment, PaymentNotification, PaymentRefund, PaymentStatus, RefundStatus

log = logging.getLogger(__name__)

REFUND_STATES = {"SUCCESS": RefundStatus.SUCCEEDED, "PROCESSING": RefundStatus.PROCESSING}


def _out_trade_no() -> str:
    # 6–32 characters of [0-9A-Za-z_-|*]: local time for people reading bills, then randomness.
    return "P" + timezone.localtime().strftime("%Y%m%d%H%M%S") + secrets.token_hex(6).upper()


def payment_create(
    *, member, purpose: str, reference: str, amount_fen: int, description: str, timeout_minutes: int
) -> Payment:
    """Record a payment to be made (no WeChat call yet), in the caller's transaction with the purpose's row.

    Then, once that transaction has committed and released its locks, call
    ``payment_prepay``.  One payment per purpose and reference.
    """
    if purpose not in purposes.PURPOSES:
        raise ValueError(f"unknown payment purpose {purpose!r}")
    return Payment.objects.create(
        member=member,
        purpose=purpose,
        reference=reference,
        out_trade_no=_out_trade_no(),
        provider=get_gateway().name,
        description=str(description)[:127],
        amount_fen=amount_fen,
        expires_at=timezone.now() + timedelta(minutes=timeout_minutes),
    )


def payment_prepay(*, payment: Payment) -> dict:
    """The wx.requestPayment parameters of a payment awaiting payment; opens it at WeChat the first time.

    Only with no transaction open (a durable block refuses otherwise): WeChat's
    round trip of up to a few seconds must never hold a row lock.  Asked again,
    the same prepay_id is signed afresh without calling WeChat.  WeChat
    unreachable: ``PaymentUnavailable`` (with ``out_trade_no``) and the payment
    stays awaiting payment, for the member to ask again until it expires; the
    stale-payment job closes it then.  Paid, closed or expired:
    ``PaymentNotPending``.
    """
    with transaction.atomic(durable=True):
        payment = Payment.objects.select_related("member").get(pk=payment.pk)
    if payment.status != PaymentStatus.CREATED or payment.expires_at <= timezone.now():
        raise PaymentNotPending()
    gateway = get_gateway()
    if not payment.prepay_id:
        try:
            prepay_id = gateway.prepay(
                out_trade_no=payment.out_trade_no,
                description=payment.description,
                amount_fen=payment.amount_fen,
                openid=payment.member.openid,
                expires_at=timezone.localtime(payment.expires_at),
            )
        except PaymentUnavailable as exc:
            raise PaymentUnavailable(details={**exc.details, "out_trade_no": payment.out_trade_no}) from exc
        # Two requests at once may both have asked WeChat (it opens one order per out_trade_no); the first
        # prepay_id stored is the one signed from now on, and either pays the same order.
        Payment.objects.filter(pk=payment.pk, prepay_id="").update(prepay_id=prepay_id)
        payment.prepay_id = prepay_id
    return gateway.jsapi_params(prepay_id=payment.prepay_id)


def payment_get(*, out_trade_no: str) -> Payment:
    payment = Payment.objects.filter(out_trade_no=out_trade_no).first()
    if payment is None:
        raise PaymentNotFound()
    return payment


def payment_lock(*, out_trade_no: str) -> Payment | None:
    """The payment row, locked until the transaction ends (None: no such payment).

    Notifications lock the payment before its purpose's document, so a workflow that will refund a
    payment locks it first too (``loyalty.locks``): the refund's later lock of it then never waits.
    """
    locks.note(Rank.PAYMENT, f"payment {out_trade_no}")
    return Payment.objects.select_for_update().filter(out_trade_no=out_trade_no).first()


def payments_lock(*, out_trade_nos) -> dict[str, Payment]:
    """Several payments locked in id order, by number (those that exist): a workflow that will refund
    several (a failing group, a closing member's places) locks them all first, as ``payment_lock``."""
    numbers = set(out_trade_nos)
    for number in sorted(numbers):
        locks.note(Rank.PAYMENT, f"payment {number}")
    return {
        p.out_trade_no: p
        for p in Payment.objects.select_for_update().filter(out_trade_no__in=numbers).order_by("pk")
    }


def _apply_trade(trade: Trade) -> Payment:
    """Bring our payment in line with what WeChat says of it. Call inside a transaction."""
    payment = payment_lock(out_trade_no=trade.out_trade_no)
    if payment is None:
        raise NotificationInvalid(details={"reason": "unknown out_trade_no"})
    if trade.state not in ("SUCCESS", "CLOSED", "REFUND"):
        return payment  # NOTPAY, USERPAYING, PAYERROR: nothing has happened yet
    config = get_gateway().config
    mismatched = {
        name: value
        for name, value, ours in (
            ("appid", trade.appid, config.appid),
            ("mchid", trade.mchid, config.mchid),
            ("amount", trade.amount_fen, payment.amount_fen),
        )
        if value != ours
    }
    if mismatched:
        log.error("WeChat Pay trade %s does not match our payment: %s", trade.out_trade_no, mismatched)
        raise NotificationInvalid(details={"reason": "mismatch", "fields": sorted(mismatched)})
    if trade.state == "REFUND" and payment.status != PaymentStatus.PAID:
        # Paid and refunded at WeChat (the merchant console) while we never heard it was paid:
        # crediting now would give value for money already returned. For finance to look at.
        log.error("WeChat Pay trade %s was refunded before we saw it paid; not credited", trade.out_trade_no)
        return payment
    if trade.state == "SUCCESS" and payment.status != PaymentStatus.PAID:
        payment.status = PaymentStatus.PAID
        payment.transaction_id = trade.transaction_id
        payment.paid_at = timezone.now()
        payment.save(update_fields=["status", "transaction_id", "paid_at"])
        purposes.notify(payment, "paid")
    elif trade.state == "CLOSED" and payment.status == PaymentStatus.CREATED:
        _mark_closed(payment)
    return payment


def _mark_closed(payment: Payment) -> None:
    payment.status = PaymentStatus.CLOSED
    payment.closed_at = timezone.now()
    payment.save(update_fields=["status", "closed_at"])
    purposes.notify(payment, "closed")


def payment_handle_notification(*, headers, body: bytes) -> None:
    """Apply one notification from WeChat (or the fake). Safe to receive any number of times.

    Raises ``NotificationRejected`` (401) or ``NotificationInvalid`` (400)
    with nothing written; the view answers 204 otherwise, which tells
    WeChat to stop retrying.
    """
    event = get_gateway().verify_notification(headers=headers, body=body)
    resource = event["resource"]
    if PaymentNotification.objects.filter(notification_id=event["id"]).exists():
        return  # a re-delivery of one already applied
    with transaction.atomic():
        if event["event_type"].startswith("TRANSACTION."):
            out_trade_no = _apply_trade(Trade.from_resource(resource)).out_trade_no
        elif event["event_type"].startswith("REFUND."):
            out_trade_no = _apply_refund_result(resource)
        else:
            out_trade_no = str(resource.get("out_trade_no", ""))[:32]
        try:
            with transaction.atomic():
                PaymentNotification.objects.create(
                    notification_id=event["id"][:64],
                    event_type=event["event_type"][:32],
                    out_trade_no=out_trade_no,
                    resource=resource,
                )
        except IntegrityError:
            pass  # a parallel delivery of the same notification recorded it; the payment lock kept it single


def _apply_refund_result(resource: dict) -> str:
    locks.note(Rank.PAYMENT, f"payment refund {resource.get('out_refund_no')}")
    refund = (
        PaymentRefund.objects.select_for_update().filter(out_refund_no=resource.get("out_refund_no")).first()
    )
    if refund is None:
        raise NotificationInvalid(details={"reason": "unknown out_refund_no"})
    status = {
        "SUCCESS": RefundStatus.SUCCEEDED,
        "CLOSED": RefundStatus.FAILED,
        "ABNORMAL": RefundStatus.FAILED,
    }
    new = status.get(resource.get("refund_status"))
    if new and refund.status != RefundStatus.SUCCEEDED:
        refund.status = new
        refund.refund_id = str(resource.get("refund_id", ""))[:32]
        refund.save(update_fields=["status", "refund_id", "updated_at"])
    return refund.payment.out_trade_no


def payment_query(*, payment: Payment) -> Payment:
    """Ask WeChat about a payment still awaiting it (a notification may be late or lost) and apply the answer."""
    if payment.status != PaymentStatus.CREATED:
        return payment
    trade = get_gateway().query(out_trade_no=payment.out_trade_no)
    with transaction.atomic():
        return _apply_trade(trade)


def payments_close_stale(*, limit: int = 500) -> int:
    """Close payments past their expiry that WeChat says are unpaid; credit those it says are paid.

    One provider query per stale payment (WeChat has no batch query), in a
    bounded batch; no lock is held while WeChat answers, so a notification
    arriving meanwhile is never kept waiting.  Returns how many were closed.
    """
    gateway, closed = get_gateway(), 0
    # A minute's grace: WeChat's own expiry and our clock may differ slightly.
    due = Payment.objects.filter(
        status=PaymentStatus.CREATED, expires_at__lt=timezone.now() - timedelta(minutes=1)
    ).order_by("expires_at")
    for payment in due[:limit]:
        try:
            # WeChat is asked with no lock held; what it says is then applied under the row lock.
            # Closing an order the member has just paid fails at WeChat (ORDERPAID), so a payment
            # can never be closed here and paid there.
            trade = gateway.query(out_trade_no=payment.out_trade_no)
            if trade.state in ("SUCCESS", "REFUND", "CLOSED"):
                with transaction.atomic():
                    _apply_trade(trade)
                continue
            if trade.opened:  # else its prepay never reached WeChat: there is nothing to close there
                gateway.close(out_trade_no=payment.out_trade_no)
            with transaction.atomic():
                locked = payment_lock(out_trade_no=payment.out_trade_no)
                if locked.status == PaymentStatus.CREATED:
                    _mark_closed(locked)
                    closed += 1
        except (PaymentUnavailable, NotificationInvalid) as exc:
            log.warning("stale payment %s left open: %s", payment.out_trade_no, exc)
    return closed


def payment_refund(*, payment: Payment, amount_fen: int, reason: str, out_refund_no: str) -> PaymentRefund:
    """Record a refund of ``amount_fen`` and submit it to WeChat once the caller's transaction commits.

    Call inside the transaction that takes the money out of the purpose's
    books, so both commit together.  The provider call happens after commit
    (never an HTTP call under the ledger's locks); ``payments.submit_refund``
    retries it until WeChat has it, and WeChat dedupes by ``out_refund_no``.
    Idempotent by ``out_refund_no``.
    """
    existing = PaymentRefund.objects.filter(out_refund_no=out_refund_no).first()
    if existing is not None:
        return existing
    with transaction.atomic():
        payment = payment_lock(out_trade_no=payment.out_trade_no)
        if payment.status != PaymentStatus.PAID or amount_fen > payment.amount_fen - payment.refunded_fen:
            raise ValueError(f"payment {payment.out_trade_no} cannot refund {amount_fen} fen")
        payment.refunded_fen += amount_fen
        payment.save(update_fields=["refunded_fen"])
        refund = PaymentRefund.objects.create(
            payment=payment, out_refund_no=out_refund_no, amount_fen=amount_fen, reason=reason[:80]
        )
        enqueue_on_commit("payments.tasks.submit_refund", refund.pk)  # the retry job covers a broker outage
    return refund


def payment_refund_submit(*, refund_id: int) -> PaymentRefund:
    """Submit a pending refund to WeChat (safe to repeat: WeChat keys refunds by out_refund_no)."""
    with transaction.atomic():
        locks.note(Rank.PAYMENT, f"payment refund {refund_id}")
        refund = PaymentRefund.objects.select_for_update().select_related("payment").get(pk=refund_id)
        if refund.status not in (RefundStatus.PENDING, RefundStatus.PROCESSING):
            return refund
        refund.attempts += 1
        try:
            answer = get_gateway().refund(
                out_trade_no=refund.payment.out_trade_no,
                out_refund_no=refund.out_refund_no,
                amount_fen=refund.amount_fen,
                total_fen=refund.payment.amount_fen,
                reason=REASONS.label(refund.reason)[:80],  # shown to the member by WeChat: words, not a code
            )
        except PaymentUnavailable as exc:
            refund.last_error = str(exc.details or exc.message)[:200]
            refund.save(update_fields=["attempts", "last_error", "updated_at"])
            return refund
        refund.status = REFUND_STATES.get(answer.get("status"), RefundStatus.FAILED)
        refund.refund_id = str(answer.get("refund_id", ""))[:32]
        refund.last_error = "" if refund.status != RefundStatus.FAILED else str(answer.get("status"))[:200]
        if refund.status == RefundStatus.FAILED:
            # The money left the member's balance but WeChat will not return it (e.g. a closed card:
            # ABNORMAL). Finance settles it by hand; the refunds list filters on this status.
            log.error("refund %s failed at WeChat Pay: %s", refund.out_refund_no, answer)
        refund.save(update_fields=["attempts", "status", "refund_id", "last_error", "updated_at"])
    return refund


def payment_refunds_retry(*, older_than_minutes: int = 5, limit: int = 200) -> int:
    """Submit refunds not settled after a while (a lost task, WeChat down, a lost result). Returns how many."""
    cutoff = timezone.now() - timedelta(minutes=older_than_minutes)
    ids = list(
        # Processing ones too: submitting again is how WeChat tells a refund's state (it dedupes by number),
        # which settles a refund whose result notification was lost.
        PaymentRefund.objects.filter(
            status__in=[RefundStatus.PENDING, RefundStatus.PROCESSING], updated_at__lt=cutoff
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    for refund_id in ids:
        payment_refund_submit(refund_id=refund_id)
    return len(ids)


def payment_simulate_pay(*, payment: Payment, deliver: bool = True) -> tuple[dict, bytes]:
    """Fake provider only: the member pays, and WeChat's signed notification is delivered to our handler.

    ``deliver=False`` loses the notification (the query path must then find
    the payment).  Returns the notification, so tests can deliver it again.
    A payment not yet opened at the fake is opened first, as the member's
    app would have asked for its parameters (so: only with no transaction open).
    """
    gateway = get_gateway()
    if not isinstance(gateway, FakeGateway) or payment.provider != gateway.name:
        raise FakePaymentsDisabled()
    if payment.status == PaymentStatus.CLOSED:
        raise PaymentNotPending()
    if not Payment.objects.filter(pk=payment.pk).values_list("prepay_id", flat=True).get():
        payment_prepay(payment=payment)
    try:
        headers, body = gateway.pay(out_trade_no=payment.out_trade_no)
    except KeyError as exc:  # the fake's trade is gone from the cache (flushed, or a week old)
        raise PaymentNotPending() from exc
    if deliver:
        payment_handle_notification(headers=headers, body=body)
    return headers, body
