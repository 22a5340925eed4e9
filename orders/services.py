"""Every write of the orders app: commit, cancel, complete, refund, and the unpaid-order timeout.

Each public function is one transaction and takes its locks in the one
order of ``loyalty.locks``, so two of them never deadlock: the order row,
the membership row (complete, refund), coupons by id, the member's points
account, the stored-value account (the ledgers lock their own accounts).  A commit inserts its order
row last (it then carries the ledger entries): a row that does not exist yet
can only be waited for by a duplicate commit of the same order_no, which
takes the same locks in the same order and then answers as a replay.

A complete or refund event may arrive any number of times:

- commit is idempotent by ``order_no`` (same basket: the order as first
  committed; another basket: ``idempotency_conflict``);
- cancel and complete of an order already in that state return it unchanged;
- a refund is idempotent by (order, ``refund_no``), with the same rule.

Events out of order are refused with a stable code and nothing written:
complete after cancel (``order_cancelled``) or after a full refund
(``order_fully_refunded``), refund before complete (``order_not_completed``),
cancel after complete (``order_already_completed``), a refund larger than
what remains (``refund_exceeds_remaining``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from coupons import services as coupon_services
from coupons.exceptions import CouponNotAvailable, CouponNotFound
from loyalty import ledger, locks, rounding
from loyalty.errors import IdempotencyConflict
from members import codes
from members.models import Member
from members.receiving import lock_receiving, receiving_q
from membership import services as membership
from notifications.services import notify_many
from orders import counter_payments, rows
from orders import exceptions as exc
from orders.models import TRANSITIONS, Order, OrderLine, OrderStatus, Refund, RefundLine
from orders.quote import BasketInput, Quote, checkout_settings, compute_quote
from points import earning
from points import ledger as points_ledger
from points.exceptions import InsufficientPoints
from stored_value import ledger as sv_ledger
from stored_value.exceptions import AccountFrozen, InsufficientBalance
from stores.selectors import open_store, store_staff

log = logging.getLogger(__name__)

#: A coupon stays locked this much longer than its order's payment window: the
#: order's own timeout releases it, the coupons job is only the backstop.
COUPON_LOCK_MARGIN_MINUTES = 30

#: The memo of the entries a refund of a closed account posts: the closure's own reason code (members
#: registers its label; members.closure is above this app), so the ledger reads "账户注销" for both.
REASON_ACCOUNT_CLOSED = "account closed"

#: What can make a quote go stale between quote and commit.
STALE = (CouponNotAvailable, CouponNotFound, InsufficientPoints, InsufficientBalance, AccountFrozen)


@dataclass(frozen=True)
class Result:
    order: Order
    replayed: bool = False
    lines: list[OrderLine] | None = None  # the order's lines when they are at hand (a new commit)


@dataclass(frozen=True)
class RefundResult:
    refund: Refund
    replayed: bool = False


def _transition(
    order: Order, event: str, *, to: str | None = None, reference: str = "", save: tuple[str, ...] = ()
) -> None:
    """Move ``order`` to its next status: its event and its columns (status and ``save``) in one write."""
    allowed = TRANSITIONS[event]
    if order.status not in allowed:  # callers have raised the precise error before; this is the guard
        raise AssertionError(f"{event} not allowed from {order.status}")
    before, order.status = order.status, to or allowed[order.status]
    rows.save_transition(
        order,
        rows.new_event(order, kind=event, from_status=before, to_status=order.status, reference=reference),
        list(save),
    )


def _locked(order_no: str) -> Order:
    order = rows.lock_order(order_no)
    if order is None:
        raise exc.OrderNotFound()
    return order


# --- commit ------------------------------------------------------------------------------


def order_commit(
    *,
    order_no: str,
    basket: BasketInput,
    quote_hash: str,
    member_id: int | None = None,
    member_code: str = "",
    store_code: str = "",
    staff_code: str = "",
) -> Result | counter_payments.Pending:
    """Apply a quote atomically: lock the coupons, spend the points, debit the stored value.

    ``quote_hash`` is the ``fingerprint`` of the quote the member saw; the
    quote is recomputed here and a different one (or a coupon, points or
    balance no longer there) is refused with ``quote_stale`` (409) carrying a
    fresh quote in ``details.quote``; nothing is written.  Returns the order
    with ``cash_fen``, the cash the merchant collects.

    At a counter (``store_code``, optionally ``staff_code``): the order carries the store and the staff
    member; the member may be given by their 会员码 (``member_code``), which is then bound to this order
    and serves no other.  Stored value above the merchant's limit waits for the member's confirmation
    (``orders.counter_payments``): the answer is a ``Pending`` (nothing debited, no lock held) until the
    member confirms and the till commits again.
    """
    if not order_no or len(order_no) > 64:
        raise exc.InvalidBasket(details={"order_no": "1 to 64 characters"})
    if member_code:
        member_id = codes.member_of_code(code=member_code)
    elif member_id is None:
        raise exc.MemberRequired()
    if staff_code and not store_code:
        raise exc.StaffWithoutStore()
    at_counter = {"store": store_code, "staff": staff_code} if store_code else {}
    request_hash = ledger.request_hash(member_id=member_id, **basket.canonical(), **at_counter)
    if rows.order_exists(order_no):
        return _commit_replay(Order.objects.get(order_no=order_no), request_hash)
    store = open_store(code=store_code) if store_code else None
    staff = store_staff(store=store, code=staff_code) if staff_code else None
    now = timezone.now()
    if member_code:  # the precise refusal (expired, used, closed) before any work
        codes.member_code_check(code=member_code, order_no=order_no, now=now)
    try:
        with transaction.atomic():
            config = checkout_settings()
            quote = compute_quote(member_id=member_id, basket=basket, config=config)
            if quote.fingerprint != quote_hash:
                raise _Stale("quote_changed")
            if (
                store is not None
                and counter_payments.needs_confirmation(
                    stored_value_fen=quote.stored_value_fen, limit_fen=config.counter_confirm_above_fen
                )
                and not counter_payments.confirmed(
                    order_no=order_no,
                    request_hash=request_hash,
                    stored_value_fen=quote.stored_value_fen,
                    now=now,
                )
            ):
                raise _AwaitConfirmation(quote)
            if member_code:
                codes.member_code_bind(code=member_code, order_no=order_no, now=now)
            # The spends first, the order row last (it then carries their entries: no second write).
            points_entry_id, stored_value_entry_id = _apply(order_no, quote, config.commit_timeout_minutes)
            order, lines = _create_order(
                order_no,
                request_hash,
                quote,
                config.commit_timeout_minutes,
                points_spend_entry_id=points_entry_id,
                stored_value_entry_id=stored_value_entry_id,
                store=store,
                staff=staff,
            )
            if store is not None and order.stored_value_fen:
                notify_many(counter_payments.counter_debit_drafts(order=order, store=store))
    except _AwaitConfirmation as waiting:
        return counter_payments.counter_payment_ask(
            order_no=order_no,
            member_id=member_id,
            store=store,
            staff=staff,
            request_hash=request_hash,
            stored_value_fen=waiting.quote.stored_value_fen,
            goods_fen=waiting.quote.goods_fen,
            member_code=member_code,
            now=now,
        )
    except IntegrityError:
        existing = Order.objects.filter(order_no=order_no).first()
        if existing is None:
            raise
        return _commit_replay(existing, request_hash)
    except (_Stale, *STALE) as error:
        # A duplicate of this very commit may have taken the coupon, points or balance a moment ago.
        existing = Order.objects.filter(order_no=order_no).first()
        if existing is not None:
            return _commit_replay(existing, request_hash)
        reason = error.reason if isinstance(error, _Stale) else error.code
        fresh = compute_quote(member_id=member_id, basket=basket, clamp=True)
        raise exc.QuoteStale(details={"reason": reason, "quote": quote_as_dict(fresh)}) from None
    return Result(order, lines=lines)


class _AwaitConfirmation(Exception):
    """Leaves the commit's transaction (nothing written) to ask the member outside it."""

    def __init__(self, quote: Quote):
        super().__init__("awaiting the member's confirmation")
        self.quote = quote


class _Stale(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _commit_replay(order: Order, request_hash: str) -> Result:
    if order.request_hash != request_hash:
        raise IdempotencyConflict()
    return Result(order, replayed=True)


def _create_order(
    order_no: str, request_hash: str, quote: Quote, timeout_minutes: int, **entries
) -> tuple[Order, list[OrderLine]]:
    now = timezone.now()
    order = Order(
        order_no=order_no,
        member_id=quote.member_id,
        status=OrderStatus.COMMITTED,
        request_hash=request_hash,
        quote_hash=quote.fingerprint,
        goods_fen=quote.goods_fen,
        shipping_fen=quote.shipping_fen,
        benefit_discount_fen=quote.benefit_discount_fen,
        coupon_discount_fen=quote.coupon_discount_fen,
        shipping_discount_fen=quote.shipping_discount_fen,
        points_used=quote.points,
        points_fen=quote.points_fen,
        stored_value_fen=quote.stored_value_fen,
        cash_fen=quote.cash_fen,
        shipping_stored_value_fen=quote.shipping_stored_value_fen,
        shipping_cash_fen=quote.shipping_cash_fen,
        coupon_ids=quote.coupon_ids,
        benefit_sources=quote.benefit_sources,
        points_multiplier=_decimal(Fraction(quote.points_multiplier)),
        committed_at=now,
        expires_at=now + timedelta(minutes=timeout_minutes),
        **entries,
    )
    lines = [
        OrderLine(
            order=order,
            line_no=ql.line_no,
            sku=ql.sku,
            category=ql.category,
            name=ql.name,
            unit_price_fen=ql.unit_price_fen,
            quantity=ql.quantity,
            amount_fen=ql.amount_fen,
            benefit_discount_fen=ql.benefit_discount_fen,
            coupon_discount_fen=ql.coupon_discount_fen,
            points=ql.points,
            points_fen=ql.points_fen,
            stored_value_fen=ql.stored_value_fen,
            cash_fen=ql.cash_fen,
        )
        for ql in quote.lines
    ]
    rows.insert_order(order, lines, rows.new_event(order, kind="commit", to_status=OrderStatus.COMMITTED))
    return order, lines


def _decimal(multiplier: Fraction) -> Decimal:
    """Exact: multipliers have two decimals and at most two multiply (tier or card, member day)."""
    return Decimal(multiplier.numerator) / Decimal(multiplier.denominator)


def _apply(order_no: str, quote: Quote, timeout_minutes: int) -> tuple[int | None, int | None]:
    """Lock the coupons, spend the points, debit the stored value; returns the two ledger entries' ids.

    The spends run without savepoints: a refusal aborts the whole commit (order_commit rolls back and
    answers quote_stale), and their keys are new, since a second commit of an order number is a replay.
    """
    minutes = timeout_minutes + COUPON_LOCK_MARGIN_MINUTES
    for coupon_id in sorted(quote.coupon_ids):
        coupon_services.coupon_lock(
            member_id=quote.member_id, coupon_id=coupon_id, order_no=order_no, minutes=minutes
        )
    points_entry_id = stored_value_entry_id = None
    if quote.points:
        points_entry_id = points_ledger.points_spend(
            member_id=quote.member_id,
            amount=quote.points,
            idempotency_key=f"order:{order_no}",
            source="order",
            reference=order_no,
            savepoint=False,
        ).entry_id
    if quote.stored_value_fen:
        stored_value_entry_id = sv_ledger.stored_value_spend(
            member_id=quote.member_id,
            amount_fen=quote.stored_value_fen,
            idempotency_key=f"order:{order_no}",
            source="order",
            reference=order_no,
            savepoint=False,
        ).entry_id
    return points_entry_id, stored_value_entry_id


# --- cancel and the timeout --------------------------------------------------------------


def order_cancel(*, order_no: str, reason: str = "") -> Result:
    """Release everything a committed order holds: coupons, points, stored value. Idempotent."""
    with transaction.atomic():
        order = _locked(order_no)
        if order.status == OrderStatus.CANCELLED:
            return Result(order, replayed=True)
        if order.status != OrderStatus.COMMITTED:
            raise exc.OrderAlreadyCompleted(details={"status": order.status})
        for coupon_id in sorted(order.coupon_ids):
            coupon_services.coupon_release(coupon_id=coupon_id, order_no=order.order_no)
        if order.points_spend_entry_id:
            points_ledger.points_reverse(
                member_id=order.member_id,
                entry_id=order.points_spend_entry_id,
                idempotency_key=f"order:{order.order_no}:cancel",
                memo=reason[:200],
            )
        if order.stored_value_entry_id:
            sv_ledger.stored_value_refund_spend(
                member_id=order.member_id,
                entry_id=order.stored_value_entry_id,
                idempotency_key=f"order:{order.order_no}:cancel",
                memo=reason[:200],
            )
        order.cancelled_at = timezone.now()
        _transition(order, "cancel", reference=reason[:64], save=("cancelled_at",))
    return Result(order)


def orders_cancel_expired(*, now=None, chunk_size: int = 100) -> int:
    """Cancel committed orders past their payment window; returns how many were cancelled.

    Reads due orders in chunks by id; each is cancelled in its own
    transaction under its row lock, which re-checks the status, so an order
    completed meanwhile is left alone, a killed run is simply run again and
    two runs at once cancel each order once.
    """
    now = now or timezone.now()
    after, cancelled = 0, 0
    while True:
        due = list(
            Order.objects.filter(status=OrderStatus.COMMITTED, expires_at__lte=now, id__gt=after)
            .order_by("id")
            .values_list("id", "order_no")[:chunk_size]
        )
        if not due:
            return cancelled
        for _, order_no in due:
            try:
                # In words, as the mall's timeout says it: the ledgers' memos and the order's history show it.
                result = order_cancel(order_no=order_no, reason=gettext("Payment not made in time"))
            except exc.OrderAlreadyCompleted:
                continue
            except Exception:  # noqa: BLE001 - one bad order must not stop the others; it is retried next run
                log.exception("could not cancel expired order %s", order_no)
                continue
            cancelled += not result.replayed
        after = due[-1][0]


# --- complete ----------------------------------------------------------------------------


def _eligible_fen(lines) -> int:
    """What the member paid for the goods (stored value + cash): points are earned and growth counted on it."""
    return sum(line.stored_value_fen + line.cash_fen for line in lines)


def order_complete(*, order_no: str) -> Result:
    """The order is paid and fulfilled: use the coupons, earn points, count it for membership. Once.

    Purchase points (rule × multipliers × caps) are earned at the benefits in
    force when the order was committed, as its quote showed: an upgrade this
    very completion causes does not change them.  First-order and invite
    rewards go with the member's first order that counts (none before it, a
    fully refunded one not counting).  Each is keyed so a repeat posts
    nothing; a repeated complete returns the order unchanged before touching
    any of them.
    """
    with transaction.atomic():
        order = _locked(order_no)
        if order.status in (OrderStatus.COMPLETED, OrderStatus.PARTIALLY_REFUNDED):
            return Result(order, replayed=True)
        if order.status == OrderStatus.REFUNDED:
            raise exc.OrderFullyRefunded()
        if order.status == OrderStatus.CANCELLED:
            raise exc.OrderCancelled()
        now = timezone.now()
        # What was paid for the goods: everything paid in stored value and cash but the shipping's part.
        eligible = (
            order.stored_value_fen
            - order.shipping_stored_value_fen
            + order.cash_fen
            - order.shipping_cash_fen
        )
        # The lock order (loyalty.locks): membership, the order's coupons, then what the upgrade gives.
        locked = membership.membership_lock(member_id=order.member_id)
        for coupon_id in sorted(order.coupon_ids):
            coupon_services.coupon_use(coupon_id=coupon_id, order_no=order.order_no, now=now)
        completed_before = membership.membership_record_order(
            member_id=order.member_id,
            order_no=order.order_no,
            paid_fen=eligible,
            completed_at=now,
            savepoint=False,
            locked=locked,
        )
        # No savepoint: any error aborts the completion, and the award's key is asked for only here, once.
        award = earning.points_award_purchase(
            member_id=order.member_id,
            order_no=order.order_no,
            paid_fen=eligible,
            multiplier=None if order.points_multiplier is None else Fraction(order.points_multiplier),
            savepoint=False,
        )
        order.earned_points, order.points_earn_entry_id = award.granted, award.entry_id
        # A first order that paid nothing (all points and coupons) earns no first-order or invite reward.
        # Membership counts every completion but the fully refunded ones (it is told of each above).
        if eligible > 0 and completed_before == 0:
            earning.points_award_first_order(member_id=order.member_id, order_no=order.order_no)
            referrer_id = (
                Member.objects.filter(pk=order.member_id).values_list("referrer_id", flat=True).first()
            )
            if referrer_id:
                # A closed inviter gets nothing; decided under its row lock, so a closure racing this
                # completion either takes the reward back or is seen.
                locks.another_member()
                inviter = referrer_id if lock_receiving(member_ids=[referrer_id]) else None
                earning.points_award_invite(
                    inviter_id=inviter, invitee_id=order.member_id, order_no=order.order_no
                )
        order.completed_at = now
        _transition(order, "complete", save=("completed_at", "earned_points", "points_earn_entry_id"))
    return Result(order)


# --- refund ------------------------------------------------------------------------------


def order_refund(
    *, order_no: str, refund_no: str, lines: list[tuple[int, int]] | None = None
) -> RefundResult:
    """Refund all that remains (``lines`` None) or some units of some lines, exactly.

    Each refunded unit takes its line's share of every discount and payment
    (``loyalty.rounding.refund_share``): the points it used go back to their
    lots, its stored value to the principal and bonus it came from, its cash
    is reported for the merchant to return (``cash_fen``), and the purchase
    points it earned are clawed back (``earned_points_clawback``).  The
    refund that leaves nothing of the goods also returns the shipping paid
    and restores the coupons (per the coupon policy: whole order refunded and
    still valid).  Cumulative refunded columns are CHECKed in the database.
    Membership is told first (``membership_record_refund``): it takes back
    growth, spend and, for the last refund, the completed order, and undoes
    the tiers and conditional cards the refund takes below their thresholds.

    The account closed (注销) before the refund (``_account_closed``, under the
    membership lock): nothing goes back to it — no points, no coupons, no
    clawback of points the closure already forfeited — and its stored value
    is paid out (``stored_value_refund_spend_paid_out``): the principal is
    reported in ``stored_value_paid_out_fen`` for the merchant to return with
    the cash, the bonus is forfeited.  The refund says so (``account_closed``).
    """
    if not refund_no or len(refund_no) > 64:
        raise exc.InvalidBasket(details={"refund_no": "1 to 64 characters"})
    wanted = None if lines is None else sorted(lines)
    request_hash = ledger.request_hash(lines=wanted)
    with transaction.atomic():
        order = _locked(order_no)
        existing = Refund.objects.filter(order=order, refund_no=refund_no).first()
        if existing is not None:
            if existing.request_hash != request_hash:
                raise IdempotencyConflict()
            return RefundResult(existing, replayed=True)
        if order.status == OrderStatus.COMMITTED:
            raise exc.OrderNotCompleted()
        if order.status == OrderStatus.CANCELLED:
            raise exc.OrderCancelled()
        if order.status == OrderStatus.REFUNDED:
            raise exc.OrderFullyRefunded()
        order_lines = {line.line_no: line for line in order.lines.all()}
        if wanted is None:
            wanted = [(no, line.quantity - line.refunded_quantity) for no, line in order_lines.items()]
            wanted = [(no, qty) for no, qty in wanted if qty > 0]
        seen = set()
        for line_no, quantity in wanted:
            line = order_lines.get(line_no)
            if line is None or line_no in seen:
                raise exc.RefundLineNotFound(details={"line_no": line_no})
            seen.add(line_no)
            if not isinstance(quantity, int) or quantity < 1:
                raise exc.InvalidBasket(details={"line_no": line_no})
            if quantity > line.quantity - line.refunded_quantity:
                raise exc.RefundExceedsRemaining(
                    details={
                        "line_no": line_no,
                        "refundable_quantity": line.quantity - line.refunded_quantity,
                    }
                )
        return RefundResult(_refund(order, order_lines, wanted, refund_no, request_hash))


_PARTS = (
    "benefit_discount_fen",
    "coupon_discount_fen",
    "points",
    "points_fen",
    "stored_value_fen",
    "cash_fen",
)


def _refund(order: Order, order_lines: dict, wanted, refund_no: str, request_hash: str) -> Refund:
    refund_lines = []
    for line_no, quantity in wanted:
        line = order_lines[line_no]
        shares = {
            part: rounding.refund_share(
                total=getattr(line, part),
                quantity=line.quantity,
                refunded_before=line.refunded_quantity,
                refunding=quantity,
            )
            for part in _PARTS
        }
        refund_lines.append(RefundLine(line=line, quantity=quantity, **shares))
        line.refunded_quantity += quantity
    is_full = all(line.refunded_quantity == line.quantity for line in order_lines.values())

    def total(part):
        return sum(getattr(rl, part) for rl in refund_lines)

    shipping_sv = order.shipping_stored_value_fen if is_full else 0
    shipping_cash = order.shipping_cash_fen if is_full else 0
    points_back, sv_back = total("points"), total("stored_value_fen") + shipping_sv
    eligible_now = total("stored_value_fen") + total("cash_fen")
    # Shipping is refunded only by the last refund, so what was refunded before is all goods.
    refunded_eligible_before = order.refunded_stored_value_fen + order.refunded_cash_fen
    clawback = rounding.earned_points_clawback(
        earned=order.earned_points,
        eligible_fen=_eligible_fen(order_lines.values()),
        refunded_before_fen=refunded_eligible_before,
        refunding_fen=eligible_now,
    )
    key = f"refund:{order.order_no}:{refund_no}"
    refund = Refund(
        order=order,
        refund_no=refund_no,
        request_hash=request_hash,
        goods_fen=sum(rl.quantity * rl.line.unit_price_fen for rl in refund_lines),
        shipping_fen=order.shipping_fen if is_full else 0,
        points=points_back,
        points_fen=total("points_fen"),
        stored_value_fen=sv_back,
        cash_fen=total("cash_fen") + shipping_cash,
        earned_points_reversed=clawback,
    )
    # The lock order (loyalty.locks): membership, the order's coupons, then the ledgers' accounts.
    membership.membership_lock(member_id=order.member_id)
    refund.account_closed = closed = _account_closed(order.member_id)
    if is_full and not closed:
        for coupon_id in sorted(order.coupon_ids):
            coupon = coupon_services.coupon_restore(
                coupon_id=coupon_id, order_no=order.order_no, whole_order_refunded=True
            )
            if coupon.status == "available":
                refund.coupons_restored.append(coupon_id)
    membership.membership_record_refund(
        member_id=order.member_id,
        order_no=order.order_no,
        refund_no=refund_no,
        paid_fen=eligible_now,
        fully_refunded=is_full,
        points_clawed_back=0
        if closed
        else clawback
        + (
            earning.order_rewards_standing(order_no=order.order_no, member_id=order.member_id)
            if is_full
            else 0
        ),
    )
    if points_back and not closed:
        refund.points_reverse_entry_id = points_ledger.points_reverse(
            member_id=order.member_id,
            entry_id=order.points_spend_entry_id,
            amount=points_back,
            idempotency_key=key,
        ).entry_id
    if sv_back and closed:
        back, paid_out = sv_ledger.stored_value_refund_spend_paid_out(
            member_id=order.member_id,
            entry_id=order.stored_value_entry_id,
            amount_fen=sv_back,
            idempotency_key=key,
            reference=order.order_no,
            memo=REASON_ACCOUNT_CLOSED,
        )
        refund.stored_value_entry_id, refund.stored_value_payout_entry_id = back.entry_id, paid_out.entry_id
        refund.stored_value_paid_out_fen = back.principal_fen
    elif sv_back:
        refund.stored_value_entry_id = sv_ledger.stored_value_refund_spend(
            member_id=order.member_id,
            entry_id=order.stored_value_entry_id,
            amount_fen=sv_back,
            idempotency_key=key,
        ).entry_id
    if clawback and order.points_earn_entry_id and not closed:
        refund.earn_reverse_entry_id = points_ledger.points_reverse(
            member_id=order.member_id,
            entry_id=order.points_earn_entry_id,
            amount=clawback,
            idempotency_key=f"{key}:earned",
        ).entry_id
    if is_full:
        _take_back_order_rewards(order, key, member_closed=closed)
    refund.save()
    for rl in refund_lines:
        rl.refund = refund
    RefundLine.objects.bulk_create(refund_lines)
    for rl in refund_lines:
        OrderLine.objects.filter(pk=rl.line_id).update(refunded_quantity=F("refunded_quantity") + rl.quantity)
    Order.objects.filter(pk=order.pk).update(
        refunded_goods_fen=F("refunded_goods_fen") + refund.goods_fen,
        refunded_shipping_fen=F("refunded_shipping_fen") + refund.shipping_fen,
        refunded_points=F("refunded_points") + refund.points,
        refunded_points_fen=F("refunded_points_fen") + refund.points_fen,
        refunded_stored_value_fen=F("refunded_stored_value_fen") + refund.stored_value_fen,
        refunded_cash_fen=F("refunded_cash_fen") + refund.cash_fen,
        reversed_earned_points=F("reversed_earned_points") + clawback,
    )
    _transition(order, "refund", to=OrderStatus.REFUNDED if is_full else None, reference=refund_no)
    order.refresh_from_db()
    return refund


def _account_closed(member_id: int) -> bool:
    """Whether the member's account is closed (注销): then a refund gives nothing back to it.

    Read under the membership row lock the caller holds.  The closure takes
    that lock before it decides anything and keeps it until it commits, so
    the answer stands for the caller's whole transaction: a refund that
    locked first gives back as usual (and the closure, after it, takes the
    points and coupons back, or is refused while the stored value is there);
    one that waited for a closure sees the account closed.
    """
    return not Member.objects.filter(receiving_q(), pk=member_id).exists()


def _take_back_order_rewards(order: Order, key: str, *, member_closed: bool) -> None:
    """The whole order is refunded: its first-order and invite rewards go too (clawed back, debt if spent).

    A closed member's own rewards are not clawed back: the closure forfeited them with every other point,
    and a debt on an account nobody can use is no repayment."""
    referrer_id = Member.objects.filter(pk=order.member_id).values_list("referrer_id", flat=True).first()
    members = ([] if member_closed else [order.member_id]) + ([referrer_id] if referrer_id else [])
    for member_id, entry_id in earning.order_rewards(order_no=order.order_no, member_ids=members):
        if member_id != order.member_id:
            locks.another_member()
            if not lock_receiving(member_ids=[member_id]):  # the inviter has closed since: forfeited too
                continue
        points_ledger.points_reverse(
            member_id=member_id, entry_id=entry_id, idempotency_key=f"{key}:reward:{entry_id}"
        )


def quote_as_dict(quote: Quote) -> dict:
    return quote.as_dict()
