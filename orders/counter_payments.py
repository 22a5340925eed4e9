"""Stored value paid at a counter: the member's confirmation above the merchant's limit, and the message.

A till's commit (``orders.services.order_commit`` with a ``store_code``) that would debit more stored value
than ``CheckoutSettings.counter_confirm_above_fen`` does not debit: it asks the member
(``counter_payment_ask``: a pending row, an inbox message) and answers 202.  No lock is held while the
member decides: the till retries the same commit (same order number, same basket), which is answered
202 again while pending, refused once declined (``counter_payment_declined``) or past its 60 seconds
(``counter_payment_timed_out``), and debits once confirmed.  Every stored-value debit at a counter tells
the member (``counter_debit_drafts``, through ``notifications.services.notify_many``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty import locks
from loyalty.errors import IdempotencyConflict
from loyalty.locks import Rank
from loyalty.money import format_fen
from members import codes
from notifications.services import Draft, notify_many
from orders import exceptions as exc
from orders.models import CounterPayment, CounterPaymentStatus

ASK_KIND = "counter_payment_confirm"
DEBIT_KIND = "counter_payment"


@dataclass(frozen=True)
class Pending:
    """The commit is waiting for the member: the till retries it until it is decided."""

    payment: CounterPayment


def needs_confirmation(*, stored_value_fen: int, limit_fen: int) -> bool:
    return stored_value_fen > 0 and stored_value_fen > limit_fen


def confirmed(*, order_no: str, request_hash: str, stored_value_fen: int, now) -> bool:
    """Whether the member confirmed this very payment; raises when it was declined or timed out.

    Read without a lock: a confirmed row never changes again, and a commit that reads "pending" just
    before the member confirms answers 202 and the till's next retry sees it confirmed.
    """
    asked = CounterPayment.objects.filter(order_no=order_no).first()
    if asked is None:
        return False
    if asked.request_hash != request_hash or asked.stored_value_fen != stored_value_fen:
        raise IdempotencyConflict()
    if asked.status == CounterPaymentStatus.DECLINED:
        raise exc.CounterPaymentDeclined()
    if asked.timed_out(now):
        raise exc.CounterPaymentTimedOut()
    return asked.status == CounterPaymentStatus.CONFIRMED


def counter_payment_ask(
    *,
    order_no: str,
    member_id: int,
    store,
    staff,
    request_hash: str,
    stored_value_fen: int,
    goods_fen: int,
    member_code: str = "",
    now=None,
) -> Pending:
    """Ask the member to confirm (once per order number: asking again returns the same request).

    The member code, when the till used one, is bound to this order now, so it serves no other while
    the member decides.  The inbox message goes out in the same transaction.
    """
    now = now or timezone.now()
    try:
        with transaction.atomic():
            if member_code:
                codes.member_code_bind(code=member_code, order_no=order_no, now=now)
            payment = CounterPayment.objects.create(
                order_no=order_no,
                member_id=member_id,
                store=store,
                staff=staff,
                request_hash=request_hash,
                stored_value_fen=stored_value_fen,
                goods_fen=goods_fen,
                created_at=now,
                expires_at=now + timedelta(seconds=CounterPayment.CONFIRM_SECONDS),
            )
            notify_many(
                [
                    Draft(
                        member_id=member_id,
                        kind=ASK_KIND,
                        title=_("Confirm a stored-value payment"),
                        body=_(
                            "%(store)s asks to pay %(amount)s from your stored value. Confirm within 60 seconds."
                        )
                        % {"store": store.name, "amount": format_fen(stored_value_fen)},
                        dedupe_key=f"counter-payment:{order_no}:ask",
                        data={"counter_payment_id": payment.pk, "order_no": order_no},
                    )
                ]
            )
    except IntegrityError:
        payment = CounterPayment.objects.filter(order_no=order_no).first()
        if payment is None:
            raise
        if payment.request_hash != request_hash:
            raise IdempotencyConflict() from None
    return Pending(payment)


def counter_debit_drafts(*, order, store) -> list[Draft]:
    """The member's message of a stored-value debit at a counter (sent inside the commit)."""
    return [
        Draft(
            member_id=order.member_id,
            kind=DEBIT_KIND,
            title=_("Stored value paid in store"),
            body=_("%(amount)s paid from your stored value at %(store)s (order %(order_no)s).")
            % {"amount": format_fen(order.stored_value_fen), "store": store.name, "order_no": order.order_no},
            dedupe_key=f"counter-payment:{order.order_no}:paid",
            data={"order_no": order.order_no, "stored_value_fen": order.stored_value_fen},
        )
    ]


def _decide(*, member_id: int, payment_id: int, to: str, now=None) -> CounterPayment:
    now = now or timezone.now()
    with transaction.atomic():
        locks.note(Rank.DOCUMENT, "counter payment")
        payment = (
            CounterPayment.objects.select_for_update()
            .select_related("store")
            .filter(pk=payment_id, member_id=member_id)
            .first()
        )
        if payment is None:  # another member's is "not found", never a hint that it exists
            raise exc.CounterPaymentNotFound()
        if payment.status == to:
            return payment
        if payment.status != CounterPaymentStatus.PENDING:
            raise exc.CounterPaymentDecided(details={"status": payment.status})
        if payment.timed_out(now):
            raise exc.CounterPaymentTimedOut()
        payment.status, payment.decided_at = to, now
        payment.save(update_fields=["status", "decided_at"])
    return payment


def counter_payment_confirm(*, member_id: int, payment_id: int, now=None) -> CounterPayment:
    """The member confirms within the 60 seconds; confirming again returns it unchanged."""
    return _decide(member_id=member_id, payment_id=payment_id, to=CounterPaymentStatus.CONFIRMED, now=now)


def counter_payment_decline(*, member_id: int, payment_id: int, now=None) -> CounterPayment:
    """The member declines; the till's retry is refused (``counter_payment_declined``)."""
    return _decide(member_id=member_id, payment_id=payment_id, to=CounterPaymentStatus.DECLINED, now=now)


def pending_for_member(*, member_id: int, now=None):
    """What the member's app polls: the payments awaiting their answer now, newest first."""
    now = now or timezone.now()
    return (
        CounterPayment.objects.filter(
            member_id=member_id, status=CounterPaymentStatus.PENDING, expires_at__gt=now
        )
        .select_related("store")
        .order_by("-id")
    )
