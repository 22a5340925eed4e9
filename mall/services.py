"""Every write of the points mall: redeem, pay, fulfil, ship, confirm, cancel, the jobs, codes and addresses.

Redeeming is one transaction that decides and takes everything or nothing:

1. for an item with a per-member limit, a transaction-level advisory lock on
   (item, member), so one member's parallel redemptions of it are decided
   one after the other (the limits and the idempotency key are then read in
   a statement of its own, which sees what the previous holder committed);
   a duplicate key is in any case refused by the unique (member, key) index;
2. the points spend (``points.ledger.points_spend``, keyed by the
   redemption number), which locks only this member's points account;
3. last, one statement that takes one from the stock by a conditional
   UPDATE (``stock > 0``: never oversold), inserts the redemption and its
   event.  The item row is the hot row of a popular item, so it is locked
   as late and as briefly as possible;
4. a virtual code (``FOR UPDATE SKIP LOCKED``), or the coupon, or — for
   points + cash — the payment, which holds stock and points until WeChat
   Pay's notification arrives or the payment is closed unpaid.

Locks follow the one order (``loyalty.locks``): payment row, redemption row,
advisory (item, member), a coupon item's issuing, points account, item row,
virtual codes.  Cancelling returns the
points (``points_reverse`` of the spend), the cash (a refund) and the stock,
once: only a redemption that is not cancelled yet is cancelled, under its row
lock.  Every state change writes a ``RedemptionEvent``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from coupons.exceptions import CouponLimitReached, CouponSoldOut
from coupons.models import CouponTemplate
from coupons.services import coupon_issue
from loyalty import ledger, locks
from loyalty.errors import IdempotencyConflict, ValidationFailed
from loyalty.locks import Rank, Space
from mall import carriers, sql
from mall.eligibility import item_unlocked
from mall.exceptions import (
    AddressNotFound,
    AddressRequired,
    ItemNotFound,
    NotOnSale,
    NotUnlocked,
    PickupNotFound,
    PickupNotReady,
    ReceiptNotConfirmable,
    RedemptionLimitReached,
    RedemptionNotCancellable,
    RedemptionNotFound,
    RedemptionNotShippable,
    SoldOut,
)
from mall.models import (
    ItemKind,
    LimitPeriod,
    MallItem,
    Redemption,
    RedemptionEvent,
    RedemptionStatus,
    ShippingAddress,
)
from payments import services as payments
from payments.models import Payment
from points.ledger import points_reverse, points_spend

log = logging.getLogger(__name__)

PAYMENT_PURPOSE = "mall"


def payment_timeout_minutes() -> int:
    return getattr(settings, "MALL_PAYMENT_TIMEOUT_MINUTES", 15)


def auto_complete_days() -> int:
    return getattr(settings, "MALL_AUTO_COMPLETE_DAYS", 7)


@dataclass
class _ItemRow:
    """What a redemption reads of its item (a model instance costs more CPU than the hot path can spare)."""

    id: int
    name: str
    kind: str
    points: int
    cash_fen: int
    stock: int
    coupon_template_id: int | None
    per_member_limit: int | None
    period: str
    per_period_limit: int | None
    min_tier_level: int
    required_card_type_ids: list | str
    on_sale_from: object
    on_sale_until: object

    @property
    def pk(self) -> int:
        return self.id


@dataclass
class Redeemed:
    redemption: Redemption
    replayed: bool = False


def _new_no() -> str:
    return "M" + timezone.localtime().strftime("%Y%m%d%H%M%S") + secrets.token_hex(4).upper()


def _key(idempotency_key: str) -> str:
    # Keys run to 255 characters; the column holds 128.
    return (
        idempotency_key
        if len(idempotency_key) <= 100
        else "h:" + hashlib.sha256(idempotency_key.encode()).hexdigest()
    )


def period_start(period: str, now):
    """Start of the current limit period in the merchant's time zone (weeks start on Monday)."""
    local = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == LimitPeriod.DAY:
        return local
    if period == LimitPeriod.WEEK:
        return local - timedelta(days=local.weekday())
    if period == LimitPeriod.MONTH:
        return local.replace(day=1)
    return None


def _event(
    redemption_id: int, kind: str, *, note: str = "", actor_id=None, store_id=None, staff_id=None
) -> None:
    RedemptionEvent.objects.create(
        redemption_id=redemption_id,
        kind=kind,
        note=note[:200],
        actor_id=actor_id,
        store_id=store_id,
        staff_id=staff_id,
    )


def _check_on_sale(item: MallItem, now) -> None:
    if (item.on_sale_from and now < item.on_sale_from) or (item.on_sale_until and now >= item.on_sale_until):
        raise NotOnSale(details={"on_sale_from": item.on_sale_from, "on_sale_until": item.on_sale_until})


def _check_limits(item: MallItem, counts: dict) -> None:
    """``counts``: the member's redemptions of the item not cancelled — lifetime and since the start of
    the current day, week and month (merchant time)."""
    if item.per_member_limit is not None and counts["lifetime"] >= item.per_member_limit:
        raise RedemptionLimitReached(details={"per_member_limit": item.per_member_limit})
    if item.period and counts[item.period] >= item.per_period_limit:
        raise RedemptionLimitReached(
            details={"period": item.period, "per_period_limit": item.per_period_limit}
        )


def redemption_create(
    *, member, item_id: int, idempotency_key: str, address_id: int | None = None, now=None
) -> Redeemed:
    """Redeem one item: reserve stock and spend points in one transaction (and record the payment for
    points + cash: the caller asks ``payments.payment_prepay`` for it once no transaction is open).

    Idempotent by (member, ``idempotency_key``): a repeat returns the first
    redemption; the same key for another item or address raises
    ``idempotency_conflict``.  Refusals (``item_not_found``, ``not_on_sale``,
    ``not_unlocked``, ``address_required``, ``address_not_found``,
    ``redemption_limit_reached``, ``insufficient_points``, ``sold_out``)
    write nothing.  Coupons and virtual codes are fulfilled at once; a
    physical item waits for shipping; points + cash waits for the payment.
    """
    now = now or timezone.now()
    key = _key(idempotency_key)
    request_hash = ledger.request_hash(item=item_id, address=address_id)
    try:
        redeemed = _redeem(member, item_id, key, request_hash, address_id, now)
    except IntegrityError as exc:
        # The same key used at the same instant for another item (another advisory lock): the unique
        # (member, key) index let one through; the other is a replay or a conflict.
        if "mall_redemption_key_once" not in str(exc):
            raise
        earlier = Redemption.objects.filter(member_id=member.pk, idempotency_key=key).first()
        if earlier is None:
            raise
        if earlier.request_hash != request_hash:
            raise IdempotencyConflict() from exc
        return Redeemed(earlier, replayed=True)
    return redeemed


def _redeem(member, item_id, key, request_hash, address_id, now) -> Redeemed:
    """The hot path of a popular item: raw SQL, three or four statements and the commit (ORM query
    compilation cost more CPU than the work itself).

    The advisory lock on (item, member) is taken only for an item with a
    per-member limit, and then the decision is read again after it (a
    statement sees only what was committed before it started).  Without a
    limit nothing needs it: a duplicate of the same key is caught by the
    unique (member, key) index, which rolls its whole attempt back — points
    spend included — and returns the first redemption.
    """
    params = {"member": member.pk, "key": key, "item": item_id, "address": address_id}
    counts = None
    with transaction.atomic():
        with sql.db_cursor() as cur:
            decision = sql.decide(cur, member.pk, key, item_id, address_id)
            replay_id, replay_hash = decision.replay_id, decision.replay_hash
            limited = decision.item is not None and (
                decision.item.per_member_limit is not None or decision.item.period
            )
            if replay_id is None and limited:
                locks.advisory_lock(Space.MALL_REDEEM, item_id, member.pk)
                periods = (LimitPeriod.DAY, LimitPeriod.WEEK, LimitPeriod.MONTH)
                found = sql.counts(cur, {**params, **{p: period_start(p, now) for p in periods}})
                replay_id, replay_hash = found.replay_id, found.replay_hash
                counts = {
                    "lifetime": found.lifetime,
                    "day": found.day,
                    "week": found.week,
                    "month": found.month,
                }
        if replay_id is not None:
            if replay_hash != request_hash:
                raise IdempotencyConflict()
            return Redeemed(Redemption.objects.select_related("item").get(pk=replay_id), replayed=True)
        if decision.item is None:
            raise ItemNotFound()
        item = _ItemRow(**decision.item._asdict())
        if isinstance(item.required_card_type_ids, str):  # a raw cursor hands jsonb over as text
            item.required_card_type_ids = json.loads(item.required_card_type_ids)
        _check_on_sale(item, now)
        if not item_unlocked(item=item, member_id=member.pk, at=now):
            raise NotUnlocked()
        if item.stock <= 0:  # a cheap early answer; the conditional UPDATE below is what decides
            raise SoldOut()
        if address_id is not None and decision.address is None:
            raise AddressNotFound()
        physical = item.kind == ItemKind.PHYSICAL
        if physical and address_id is None:
            raise AddressRequired()
        if counts is not None:
            _check_limits(item, counts)
        no = _new_no()
        coupon_id = None
        if item.kind == ItemKind.COUPON and not item.cash_fen:
            # Before the points and the stock: the lock order (loyalty.locks) puts issuing first.
            coupon_id = _issue_coupon(None, no, item, member.pk, now)
        entry_id = None
        if item.points:
            entry_id = points_spend(
                member_id=member.pk,
                amount=item.points,
                idempotency_key=f"mall:{no}",
                source="mall",
                reference=no,
                savepoint=False,  # a refusal rolls the whole redemption back; the key is new
            ).entry_id
        if item.cash_fen:
            status = RedemptionStatus.PENDING_PAYMENT
        elif physical or item.kind == ItemKind.PICKUP:
            status = RedemptionStatus.PAID
        else:
            status = RedemptionStatus.FULFILLED
        address = decision.address
        redemption = Redemption(
            no=no,
            member_id=member.pk,
            item_id=item.id,
            kind=item.kind,
            points=item.points,
            cash_fen=item.cash_fen,
            status=status,
            idempotency_key=key,
            request_hash=request_hash,
            points_entry_id=entry_id,
            out_trade_no="",
            recipient=address.recipient if physical else "",
            phone=address.phone if physical else "",
            address=(
                f"{address.recipient} {address.phone} {address.province}{address.city}{address.district}"
                f"{address.detail}"[:200]
                if physical
                else ""
            ),
            created_at=now,
            paid_at=None if item.cash_fen else now,
            fulfilled_at=now if status == RedemptionStatus.FULFILLED else None,
        )
        with sql.db_cursor() as cur:
            redemption_pk = sql.take(
                cur,
                [
                    item.pk,
                    no,
                    member.pk,
                    item.kind,
                    item.points,
                    item.cash_fen,
                    status,
                    key,
                    request_hash,
                    entry_id,
                    redemption.recipient,
                    redemption.phone,
                    redemption.address,
                    now,
                    redemption.paid_at,
                    redemption.fulfilled_at,
                ],
            )
            if redemption_pk is None:
                raise SoldOut()  # everything above rolls back with it: the points are not spent
            redemption.pk = redemption_pk
            if item.kind == ItemKind.VIRTUAL_CODE:
                # Reserved now (also while a payment is pending), shown only once fulfilled.
                if sql.assign_code(cur, redemption.pk, item.pk, now) is None:
                    raise SoldOut()  # stock said yes but every code is taken: no code, no redemption
        if coupon_id is not None:
            redemption.coupon_id = coupon_id
            Redemption.objects.filter(pk=redemption.pk).update(coupon_id=coupon_id)
        if item.kind == ItemKind.PICKUP:
            # Given now (also while a payment is pending); a clerk accepts it only once paid.
            redemption.pickup_code = new_pickup_code()
            Redemption.objects.filter(pk=redemption.pk).update(pickup_code=redemption.pickup_code)
        if item.cash_fen:
            payment = payments.payment_create(
                member=member,
                purpose=PAYMENT_PURPOSE,
                reference=str(redemption.pk),
                amount_fen=item.cash_fen,
                description=_("Points mall: %(item)s") % {"item": item.name},
                timeout_minutes=payment_timeout_minutes(),
            )
            redemption.out_trade_no = payment.out_trade_no
            Redemption.objects.filter(pk=redemption.pk).update(out_trade_no=payment.out_trade_no)
    return Redeemed(redemption)


def _issue_coupon(redemption_id: int | None, no: str, item: MallItem, member_id: int, now) -> int:
    """Issue the item's coupon to the redeemer (and note it on the redemption, when there is one yet);
    its own stock or limit refusing refuses the redemption."""
    try:
        coupon, _created = coupon_issue(
            template=CouponTemplate.objects.get(pk=item.coupon_template_id),
            member_id=member_id,
            source="mall",
            issue_key=f"mall:{no}",
            now=now,
        )
    except CouponSoldOut as exc:
        raise SoldOut(details={"coupon": exc.code}) from exc
    except CouponLimitReached as exc:
        raise RedemptionLimitReached(details={"coupon": exc.code}) from exc
    if redemption_id is not None:
        Redemption.objects.filter(pk=redemption_id).update(coupon_id=coupon.pk)
    return coupon.pk


# --- payments (purposes table) -------------------------------------------------------------


def redemption_paid(*, payment: Payment) -> None:
    """WeChat Pay says the cash part was paid (called once, with the payment row locked).

    A waiting redemption is paid and fulfilled (coupon or code at once; a
    physical item now waits for shipping).  One cancelled meanwhile (the
    payment timed out, or the member cancelled) has already given its stock
    and points back: the money is refunded in full.  Any other state: already
    done, nothing to do.
    """
    now = timezone.now()
    locks.note(Rank.DOCUMENT, "redemption")
    r = (
        Redemption.objects.select_for_update(of=("self",))
        .select_related("item__coupon_template")
        .get(pk=int(payment.reference))
    )
    if r.status == RedemptionStatus.CANCELLED:
        _refund_cash(r, payment, reason=_("Paid after the redemption was cancelled"))
        return
    if r.status != RedemptionStatus.PENDING_PAYMENT:
        return
    r.paid_at = now
    r.status = RedemptionStatus.PAID
    _event(r.pk, "paid", note=payment.out_trade_no)
    if r.kind == ItemKind.COUPON:
        try:
            with transaction.atomic():
                _issue_coupon(r.pk, r.no, r.item, r.member_id, now)
        except (SoldOut, RedemptionLimitReached) as exc:
            # The coupon ran out while the member was paying: everything goes back, money included.
            r.save(update_fields=["status", "paid_at"])
            _cancel(r, reason=f"coupon: {exc.code}", actor_id=None, payment=payment)
            return
        r.coupon_id = Redemption.objects.values_list("coupon_id", flat=True).get(pk=r.pk)
    if r.kind in (ItemKind.COUPON, ItemKind.VIRTUAL_CODE):
        r.status, r.fulfilled_at = RedemptionStatus.FULFILLED, now
        _event(r.pk, "fulfilled")
    r.save(update_fields=["status", "paid_at", "fulfilled_at"])


def redemption_payment_closed(*, payment: Payment) -> None:
    """The payment was closed unpaid (timed out): release stock and points."""
    locks.note(Rank.DOCUMENT, "redemption")
    r = Redemption.objects.select_for_update().get(pk=int(payment.reference))
    if r.status == RedemptionStatus.PENDING_PAYMENT:
        _cancel(r, reason=_("Payment not made in time"), actor_id=None, payment=None)


def _refund_cash(r: Redemption, payment: Payment, *, reason: str) -> None:
    payments.payment_refund(
        payment=payment, amount_fen=r.cash_fen, reason=str(reason)[:80], out_refund_no=f"MR{r.no}"
    )
    _event(r.pk, "refunded", note=payment.out_trade_no)


# --- units sold elsewhere, shipped from here ----------------------------------------------------

#: The idempotency keys of redemptions recorded for another app's sale (a 拼团 group).  A member's
#: Idempotency-Key arrives in an HTTP header, which cannot hold a control character (RFC 9110), so no
#: member's redemption can carry this prefix.
SOLD_ELSEWHERE = "\x01ext:"


def redemptions_record_sold_elsewhere(*, item_id: int, rows: list[dict], note: str) -> dict[str, int]:
    """Physical units another app sold (and was paid for) join the shipping queue as paid redemptions.

    ``rows``: one dict per unit — ``source_key`` (the seller's reference of the unit), ``member_id``,
    ``recipient``, ``phone``, ``address``.  No points and no cash here (the money is the other app's
    payment, refunded there), no stock taken (the other app sold units of its own); counted in the
    item's ``sold_count`` so the mall's figures and ``verify_ledgers`` agree.  Such a redemption is
    shipped, tracked and completed like any other, but not cancelled here.  Set-based: one statement
    (``mall.sql.record_sold_elsewhere``) updates the item and inserts the redemptions and their events; idempotent by ``source_key``.
    Returns each ``source_key``'s redemption id.
    """
    keys = {SOLD_ELSEWHERE + row["source_key"]: row for row in rows}
    with sql.db_cursor() as cur:
        done = sql.record_sold_elsewhere(
            cur,
            item_id=item_id,
            rows=[{**row, "no": _new_no(), "key": key} for key, row in keys.items()],
            now=timezone.now(),
            note=str(note)[:200],
        )
    if done is None:
        raise ValueError(f"item {item_id} is not a physical item")
    return {keys[key]["source_key"]: pk for key, pk in done.items()}


def sold_elsewhere(redemption: Redemption) -> bool:
    return redemption.idempotency_key.startswith(SOLD_ELSEWHERE)


def sold_elsewhere_source(redemption: Redemption) -> str | None:
    """The seller's reference of a unit sold elsewhere (``group:<place id>``), or None."""
    return redemption.idempotency_key[len(SOLD_ELSEWHERE) :] if sold_elsewhere(redemption) else None


@locks.takes(Rank.DOCUMENT)
def sold_elsewhere_lock(*, redemption_id: int) -> Redemption:
    """The redemption of a unit sold elsewhere, locked: the seller's refund takes it with its own
    document, before the ranks that follow (``sold_elsewhere_cancel`` then writes the item)."""
    r = Redemption.objects.select_for_update().get(pk=redemption_id)
    if not sold_elsewhere(r):
        raise ValueError(f"redemption {redemption_id} was not sold elsewhere")
    return r


def sold_elsewhere_cancel(*, redemption: Redemption, reason: str, actor_id: int | None) -> bool:
    """The seller refunded a unit it sold: take it out of the shipping queue if it has not shipped.

    For the selling app's refund only, in its transaction, with ``redemption`` from
    ``sold_elsewhere_lock``.  No points or cash here to give back (the money was the seller's payment,
    refunded there) and no stock (none was taken); the item's redeemed count drops by one.  True if
    cancelled now; False if cancelled already (idempotent) or shipped (the goods are on their way: the
    redemption stays as it is, the seller's refund goes on).
    """
    if redemption.status != RedemptionStatus.PAID:
        return False
    locks.note(Rank.MALL_ITEM, "mall item: sold elsewhere, cancelled")
    MallItem.objects.filter(pk=redemption.item_id).update(sold_count=F("sold_count") - 1)
    redemption.status, redemption.cancelled_at = RedemptionStatus.CANCELLED, timezone.now()
    redemption.cancel_reason = str(reason)[:200]
    redemption.save(update_fields=["status", "cancelled_at", "cancel_reason"])
    _event(redemption.pk, "cancelled", note=str(reason), actor_id=actor_id)
    return True


# --- cancel, ship, confirm -------------------------------------------------------------------


def _locked(redemption_id: int, member_id: int | None = None) -> tuple[Redemption, Payment | None]:
    """The redemption and its payment, locked payment first (the order a notification locks them in)."""
    found = Redemption.objects.filter(pk=redemption_id)
    if member_id is not None:
        found = found.filter(member_id=member_id)
    out_trade_no = found.values_list("out_trade_no", flat=True).first()
    if out_trade_no is None:  # another member's redemption is "not found", never a hint that it exists
        raise RedemptionNotFound()
    payment = payments.payment_lock(out_trade_no=out_trade_no) if out_trade_no else None
    locks.note(Rank.DOCUMENT, "redemption")
    return Redemption.objects.select_for_update(of=("self",)).select_related("item").get(
        pk=redemption_id
    ), payment


def redemption_cancel(
    *, redemption_id: int, reason: str, member_id: int | None = None, actor_id: int | None = None
) -> Redemption:
    """Cancel before shipping (by the member, ``member_id``, or an operator, ``actor_id``).

    Points go back to the lots they came from, paid cash is refunded, the
    stock and a reserved code are released — once: cancelling again returns
    the cancelled redemption.  Shipped, fulfilled or completed ones are
    refused (``not_cancellable``) with nothing changed.
    """
    with transaction.atomic():
        r, payment = _locked(redemption_id, member_id)
        if r.status == RedemptionStatus.CANCELLED:
            return r
        if sold_elsewhere(r):  # its money and its unit belong to the app that sold it: refunded there
            raise RedemptionNotCancellable(
                message=_(
                    "This unit was sold by a group buy or a bargain: refund it there, which cancels its "
                    "shipment and returns the payment."
                ),
                details={"status": r.status, "sold_elsewhere": sold_elsewhere_source(r)},
            )
        cancellable = r.status == RedemptionStatus.PENDING_PAYMENT or (
            r.status == RedemptionStatus.PAID and r.kind in (ItemKind.PHYSICAL, ItemKind.PICKUP)
        )
        if not cancellable:
            raise RedemptionNotCancellable(details={"status": r.status})
        _cancel(
            r,
            reason=reason,
            actor_id=actor_id,
            payment=payment if r.status == RedemptionStatus.PAID else None,
        )
    return r


def _cancel(r: Redemption, *, reason: str, actor_id, payment: Payment | None) -> None:
    """Give everything back. Call with the redemption (and its payment, if any) locked."""
    now = timezone.now()
    if r.points_entry_id:
        points_reverse(
            member_id=r.member_id,
            entry_id=r.points_entry_id,
            idempotency_key=f"mall-cancel:{r.no}",
            memo=str(reason)[:200],
        )
    sql.give_back(r.pk, r.item_id)
    if payment is not None and r.cash_fen:
        _refund_cash(r, payment, reason=reason)
    r.status, r.cancelled_at, r.cancel_reason = RedemptionStatus.CANCELLED, now, str(reason)[:200]
    r.save(update_fields=["status", "cancelled_at", "cancel_reason"])
    _event(r.pk, "cancelled", note=str(reason), actor_id=actor_id)


def redemption_ship(
    *, redemption_id: int, carrier: str, tracking_no: str, actor_id: int
) -> tuple[Redemption, bool]:
    """An operator ships a paid physical redemption; returns (redemption, shipped now).

    Shipping again with the same tracking number changes nothing (an uploaded
    file may be uploaded twice); with another number it corrects it.
    """
    carrier, tracking_no = carrier.strip(), tracking_no.strip()
    if not carrier or not tracking_no:
        raise RedemptionNotShippable(details={"reason": "carrier and tracking number are required"})
    with transaction.atomic():
        r, _payment = _locked(redemption_id)
        if r.status == RedemptionStatus.SHIPPED and (r.carrier, r.tracking_no) == (carrier, tracking_no):
            return r, False
        if r.kind != ItemKind.PHYSICAL or r.status not in (RedemptionStatus.PAID, RedemptionStatus.SHIPPED):
            raise RedemptionNotShippable(details={"status": r.status})
        first = r.status == RedemptionStatus.PAID
        r.status, r.carrier, r.tracking_no = RedemptionStatus.SHIPPED, carrier[:40], tracking_no[:64]
        if first:
            r.shipped_at = timezone.now()
        r.save(update_fields=["status", "carrier", "tracking_no", "shipped_at"])
        _event(r.pk, "shipped" if first else "tracking", note=f"{carrier} {tracking_no}", actor_id=actor_id)
    return r, True


def redemptions_ship_rows(*, rows: list[list[str]], actor_id: int) -> list[dict]:
    """Ship from an uploaded table of (redemption number, carrier, tracking number); one result per row.

    Each row is its own transaction: a bad row is reported, not fatal to the others.
    """
    results = []
    for line, row in enumerate(rows, start=1):
        cells = [c.strip() for c in row] + ["", "", ""]
        no, carrier, tracking_no = cells[:3]
        carrier = carriers.canonical(carrier)
        result = {"line": line, "no": no, "carrier": carrier, "tracking_no": tracking_no}
        redemption_id = Redemption.objects.filter(no=no).values_list("pk", flat=True).first() if no else None
        if redemption_id is None:
            result["result"] = "not_found"
        elif not carrier or not tracking_no:
            result["result"] = "missing_tracking"
        else:
            try:
                _r, shipped = redemption_ship(
                    redemption_id=redemption_id, carrier=carrier, tracking_no=tracking_no, actor_id=actor_id
                )
                result["result"] = "shipped" if shipped else "already_shipped"
            except RedemptionNotShippable as exc:
                result["result"] = exc.code
        results.append(result)
    return results


PICKUP_PREFIX = "PU"
PICKUP_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud at a counter


def new_pickup_code() -> str:
    """``PU`` and 10 random characters (50 bits): unguessable, and a clerk can type it."""
    return PICKUP_PREFIX + "".join(secrets.choice(PICKUP_ALPHABET) for _ in range(10))


def redemption_pick_up(
    *, pickup_code: str, store_id: int, staff_id: int | None, actor_id: int | None, now=None
) -> tuple[Redemption, bool]:
    """A clerk hands a paid pick-up item over in a store; returns (redemption, picked up now).

    Completed at once, with a ``picked_up`` event carrying the store, the staff member and the clerk's
    account.  Handing it over again returns it unchanged (``False``: the clerk page says it was already
    picked up, and where).  Unknown code ``pickup_not_found``; not paid yet, cancelled
    ``pickup_not_ready``; nothing written.
    """
    now = now or timezone.now()
    code = (pickup_code or "").strip().upper()
    redemption_id = (
        Redemption.objects.filter(pickup_code=code).values_list("pk", flat=True).first() if code else None
    )
    if redemption_id is None:
        raise PickupNotFound()
    with transaction.atomic():
        r, _payment = _locked(redemption_id)
        if r.status == RedemptionStatus.COMPLETED:
            return r, False
        if r.kind != ItemKind.PICKUP or r.status != RedemptionStatus.PAID:
            raise PickupNotReady(details={"status": r.status})
        r.status, r.fulfilled_at, r.completed_at = RedemptionStatus.COMPLETED, now, now
        r.save(update_fields=["status", "fulfilled_at", "completed_at"])
        _event(r.pk, "picked_up", actor_id=actor_id, store_id=store_id, staff_id=staff_id)
    return r, True


def redemption_confirm_receipt(*, redemption_id: int, member_id: int) -> Redemption:
    """The member confirms receipt of a shipped item: completed. Confirming again changes nothing."""
    with transaction.atomic():
        r, _payment = _locked(redemption_id, member_id)
        if r.status == RedemptionStatus.COMPLETED:
            return r
        if r.status != RedemptionStatus.SHIPPED:
            raise ReceiptNotConfirmable(details={"status": r.status})
        r.status, r.completed_at = RedemptionStatus.COMPLETED, timezone.now()
        r.save(update_fields=["status", "completed_at"])
        _event(r.pk, "completed", note="member")
    return r


def redemptions_auto_complete(*, days: int | None = None, chunk_size: int = 500, now=None) -> int:
    """Complete redemptions shipped more than ``days`` ago (default ``MALL_AUTO_COMPLETE_DAYS``).

    Set-based in chunks, each its own transaction (``SKIP LOCKED``: one a
    member is confirming right now is left to them); a completed one is
    never selected again, so a killed run is finished by the next.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=auto_complete_days() if days is None else days)
    total = 0
    while True:
        with transaction.atomic(), sql.db_cursor() as cur:
            done = sql.auto_complete(cur, cutoff, chunk_size, now)
        total += done
        if done < chunk_size:
            return total


# --- operator: stock and codes ----------------------------------------------------------------


def item_restock(*, item_id: int, delta: int) -> int:
    """Add (or with a negative ``delta`` remove) stock; returns the stock now. Never below zero."""
    stock = sql.restock(item_id, delta)
    if stock is None:
        raise ValueError("the stock cannot go below zero")
    return stock


def virtual_codes_import(*, item_id: int, codes: list[str]) -> tuple[int, int]:
    """Add codes to a virtual-code item; each new code adds one to its stock. Returns (added, duplicates).

    A code already uploaded for the item is skipped (uploading a file twice adds nothing).
    """
    cleaned = list(dict.fromkeys(c.strip() for c in codes if c.strip() and len(c.strip()) <= 128))
    if not MallItem.objects.filter(pk=item_id, kind=ItemKind.VIRTUAL_CODE).exists():
        raise ValueError("codes belong to virtual-code items only")
    with transaction.atomic(), sql.db_cursor() as cur:
        added = sql.import_codes(cur, item_id, cleaned)
    return added, len(cleaned) - added


# --- addresses ------------------------------------------------------------------------------------

ADDRESS_FIELDS = ["recipient", "phone", "province", "city", "district", "detail", "postal_code"]
MAX_ADDRESSES = 20


@locks.takes(Rank.MEMBER_WORKFLOW)
def _lock_addresses(member_id: int) -> list[ShippingAddress]:
    return list(ShippingAddress.objects.select_for_update().filter(member_id=member_id).order_by("pk"))


def address_create(*, member_id: int, is_default: bool = False, **fields) -> ShippingAddress:
    """A new address; the first one is the default, and ``is_default`` moves the default to it."""
    with transaction.atomic():
        locks.advisory_lock(Space.ADDRESS_BOOK, member_id)  # a member's address edits one at a time
        existing = _lock_addresses(member_id)
        if len(existing) >= MAX_ADDRESSES:
            raise ValidationFailed(details={"addresses": [f"at most {MAX_ADDRESSES}"]})
        make_default = is_default or not existing
        if make_default:
            ShippingAddress.objects.filter(member_id=member_id, is_default=True).update(is_default=False)
        return ShippingAddress.objects.create(member_id=member_id, is_default=make_default, **fields)


def address_update(
    *, member_id: int, address_id: int, is_default: bool | None = None, **fields
) -> ShippingAddress:
    with transaction.atomic():
        locks.advisory_lock(Space.ADDRESS_BOOK, member_id)
        address = next((a for a in _lock_addresses(member_id) if a.pk == address_id), None)
        if address is None:
            raise AddressNotFound()
        for name, value in fields.items():
            setattr(address, name, value)
        if is_default and not address.is_default:
            ShippingAddress.objects.filter(member_id=member_id, is_default=True).update(is_default=False)
            address.is_default = True
        address.save()
    return address


def address_delete(*, member_id: int, address_id: int) -> None:
    """Delete an address (redemptions keep their own copy); the newest remaining one becomes the default."""
    with transaction.atomic():
        locks.advisory_lock(Space.ADDRESS_BOOK, member_id)
        addresses = _lock_addresses(member_id)
        address = next((a for a in addresses if a.pk == address_id), None)
        if address is None:
            raise AddressNotFound()
        rest = [a for a in addresses if a.pk != address_id]
        address.delete()
        if address.is_default and rest:
            ShippingAddress.objects.filter(pk=rest[-1].pk).update(is_default=True)
