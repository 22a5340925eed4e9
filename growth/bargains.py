"""Every write of 砍价 bargaining: start, help (cut), buy, the payment's outcome, expiry, activity edits.

A bargain's cuts are drawn when it starts (``growth.cuts``, from a stored
seed) and taken in order, one per helper, under the bargain's row lock: the
price reaches the floor with exactly the configured number of helps, never
below it (a CHECK as well), whatever the concurrency.  One cut per helper per
bargain (a unique index), none by the starter, and a helper's cuts per day
are counted under an advisory lock on the helper, so parallel requests cannot
pass the limit.  Buying records a WeChat Pay payment (purpose ``bargain``) at
the price reached; the unit is taken when the payment arrives (a conditional
UPDATE: never oversold) and the item fulfilled at once (a coupon, or the
mall's shipping queue); money that arrives with no unit left, for a closed
account or for a bargain already bought is refunded in full.

Locks: payment, bargain (DOCUMENT), the helper's advisory lock
(MEMBER_WORKFLOW), the activity's units (GROWTH_STOCK), then the coupon
issue's or the mall item's.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from coupons.exceptions import CouponLimitReached, CouponSoldOut
from coupons.models import CouponTemplate
from coupons.services import coupon_issue
from growth import attribution
from growth.cuts import cut_sequence
from growth.exceptions import (
    ActivityNotFound,
    ActivityNotOpen,
    AlreadyHelped,
    BargainAtFloor,
    BargainClosed,
    BargainLimitReached,
    BargainNotFound,
    GroupSoldOut,
    HelpLimitReached,
    NewHelpersOnly,
    NotAtFloor,
    OwnBargain,
)
from growth.models import Bargain, BargainActivity, BargainHelp, BargainState
from growth.services import Placed, _key, activity_save_checked, payment_timeout_minutes
from loyalty import ledger, locks
from loyalty.errors import IdempotencyConflict
from loyalty.locks import Rank, Space
from mall import selectors as mall_selectors
from mall import services as mall
from mall.exceptions import AddressNotFound, AddressRequired
from mall.models import ItemKind
from members.exceptions import MemberClosed
from members.receiving import members_receiving
from payments import services as payments
from payments.models import Payment

PAYMENT_PURPOSE = "bargain"

# Refund reasons (labels registered in growth.apps).
SOLD_OUT = "bargain_sold_out"
CLOSED_ACCOUNT = "bargain_account_closed"
NOT_CURRENT = "bargain_not_current"  # paid for a purchase the bargain no longer waits for
NOT_FULFILLABLE = "bargain_not_fulfillable"


def _receiving(member_id: int) -> bool:
    return members_receiving().filter(pk=member_id).exists()


@locks.takes(Rank.DOCUMENT)
def _lock(bargain_id: int) -> Bargain | None:
    return (
        Bargain.objects.select_for_update(of=("self",))
        .select_related("activity__item")
        .filter(pk=bargain_id)
        .first()
    )


def bargain_start(*, member, activity_id: int, idempotency_key: str, address_id: int | None = None, now=None):
    """Start a bargain of an activity at its original price; its cuts are drawn now and stored.

    Idempotent by (member, ``idempotency_key``).  Refusals write nothing:
    ``activity_not_found``, ``activity_not_open``, ``sold_out``,
    ``bargain_limit_reached``, ``member_closed``, ``address_required``,
    ``address_not_found``.
    """
    now = now or timezone.now()
    key = _key(idempotency_key)
    request_hash = ledger.request_hash(activity=activity_id, address=address_id, bargain=True)
    with transaction.atomic():
        locks.advisory_lock(Space.BARGAIN_START, activity_id, member.pk)
        earlier = Bargain.objects.filter(member_id=member.pk, idempotency_key=key).first()
        if earlier is not None:
            if earlier.request_hash != request_hash:
                raise IdempotencyConflict()
            return Placed(earlier, replayed=True)
        if not _receiving(member.pk):
            raise MemberClosed()
        activity = (
            BargainActivity.objects.select_related("item").filter(pk=activity_id, is_active=True).first()
        )
        if activity is None:
            raise ActivityNotFound()
        if not activity.starts_at <= now < activity.ends_at:
            raise ActivityNotOpen(details={"starts_at": activity.starts_at, "ends_at": activity.ends_at})
        if activity.sold_count >= activity.stock_total:
            raise GroupSoldOut()
        if activity.per_member_limit is not None:
            started = Bargain.objects.filter(activity_id=activity_id, member_id=member.pk).count()
            if started >= activity.per_member_limit:
                raise BargainLimitReached(details={"per_member_limit": activity.per_member_limit})
        shipping = {}
        if activity.item.kind == ItemKind.PHYSICAL:
            if address_id is None:
                raise AddressRequired()
            address = mall_selectors.member_addresses(member_id=member.pk).filter(pk=address_id).first()
            if address is None:
                raise AddressNotFound()
            shipping = {
                "recipient": address.recipient,
                "phone": address.phone,
                "address": address.one_line()[:200],
            }
        seed = secrets.randbits(62)
        bargain = Bargain.objects.create(
            activity=activity,
            member_id=member.pk,
            original_price_fen=activity.original_price_fen,
            floor_price_fen=activity.floor_price_fen,
            price_fen=activity.original_price_fen,
            helpers_needed=activity.helpers_needed,
            seed=seed,
            cuts=cut_sequence(
                total_fen=activity.original_price_fen - activity.floor_price_fen,
                helpers=activity.helpers_needed,
                seed=seed,
            ),
            buy_above_floor=activity.buy_above_floor,
            deadline=min(now + timedelta(minutes=activity.time_limit_minutes), activity.ends_at),
            idempotency_key=key,
            request_hash=request_hash,
            **shipping,
        )
    return Placed(bargain)


def bargain_help(*, helper, bargain_id: int, now=None) -> BargainHelp:
    """A helper cuts a bargain by its next drawn cut; returns the cut.

    Under the bargain's row lock, so parallel helps take the cuts in turn and
    the price never passes the floor.  Refused, with nothing written:
    ``bargain_not_found``, ``member_closed``, ``own_bargain``,
    ``bargain_closed`` (ended, bought or being paid for), ``bargain_at_floor``,
    ``new_members_only``, ``already_helped``, ``help_limit_reached`` (the
    activity's cuts per helper per merchant day, across its bargains).
    """
    now = now or timezone.now()
    try:
        with transaction.atomic():
            bargain = _lock(bargain_id)
            if bargain is None:
                raise BargainNotFound()
            if not _receiving(helper.pk):
                raise MemberClosed()
            if bargain.member_id == helper.pk:
                raise OwnBargain()
            if bargain.state != BargainState.OPEN or now >= bargain.deadline:
                raise BargainClosed()
            if bargain.helps_count >= bargain.helpers_needed:
                raise BargainAtFloor()
            activity = bargain.activity
            if activity.helpers_must_be_new and helper.registered_at < activity.starts_at:
                raise NewHelpersOnly()
            if BargainHelp.objects.filter(bargain_id=bargain_id, helper_id=helper.pk).exists():
                raise AlreadyHelped()
            day = timezone.localdate(now)
            if activity.helper_daily_limit is not None:
                # The helper's cuts today, read after their previous cut committed (one at a time).
                locks.advisory_lock(Space.BARGAIN_HELPER, helper.pk)
                today = BargainHelp.objects.filter(
                    helper_id=helper.pk, day=day, bargain__activity_id=activity.pk
                ).count()
                if today >= activity.helper_daily_limit:
                    raise HelpLimitReached(details={"helper_daily_limit": activity.helper_daily_limit})
            cut = bargain.cuts[bargain.helps_count]
            bargain.helps_count += 1
            bargain.price_fen -= cut
            bargain.save(update_fields=["helps_count", "price_fen"])
            return BargainHelp.objects.create(
                bargain=bargain,
                helper_id=helper.pk,
                seq=bargain.helps_count,
                cut_fen=cut,
                price_after_fen=bargain.price_fen,
                day=day,
            )
    except IntegrityError as exc:
        if "growth_help_once_per_bargain" in str(exc):
            raise AlreadyHelped() from exc
        raise


def bargain_buy(*, member, bargain_id: int, now=None) -> Bargain:
    """The starter buys at the price reached: records the payment, awaiting payment (no unit held yet).

    At the floor, or above it when the activity allows; before the deadline.
    Asked again while a payment is awaited, returns the bargain with that
    payment.  Refused, with nothing written: ``bargain_not_found`` (another
    member's is never a hint), ``bargain_closed``, ``bargain_not_at_floor``,
    ``sold_out``, ``member_closed``.  No cut is taken while a payment is
    awaited; a payment closed unpaid reopens the bargain.
    """
    now = now or timezone.now()
    with transaction.atomic():
        bargain = _lock(bargain_id)
        if bargain is None or bargain.member_id != member.pk:
            raise BargainNotFound()
        if bargain.state == BargainState.PENDING_PAYMENT:
            return bargain
        if not _receiving(member.pk):
            raise MemberClosed()
        if bargain.state != BargainState.OPEN or now >= bargain.deadline:
            raise BargainClosed()
        if bargain.price_fen > bargain.floor_price_fen and not bargain.buy_above_floor:
            raise NotAtFloor(
                details={"price_fen": bargain.price_fen, "floor_price_fen": bargain.floor_price_fen}
            )
        activity = bargain.activity
        if activity.sold_count >= activity.stock_total:
            raise GroupSoldOut()
        bargain.purchases += 1
        payment = payments.payment_create(
            member=member,
            purpose=PAYMENT_PURPOSE,
            reference=f"{bargain.pk}-{bargain.purchases}",
            amount_fen=bargain.price_fen,
            description=_("Bargain: %(name)s") % {"name": activity.name},
            timeout_minutes=payment_timeout_minutes(),
        )
        bargain.state, bargain.out_trade_no = BargainState.PENDING_PAYMENT, payment.out_trade_no
        bargain.save(update_fields=["state", "out_trade_no", "purchases"])
    return bargain


@locks.takes(Rank.GROWTH_STOCK)
def _take_unit(activity_id: int) -> bool:
    return bool(
        BargainActivity.objects.filter(pk=activity_id, sold_count__lt=F("stock_total")).update(
            sold_count=F("sold_count") + 1
        )
    )


def _refund(payment: Payment, reason: str) -> None:
    payments.payment_refund(
        payment=payment, amount_fen=payment.amount_fen, reason=reason, out_refund_no=f"BG{payment.reference}"
    )


def bargain_paid(*, payment: Payment) -> None:
    """WeChat Pay says a purchase was paid (called once, with the payment locked; idempotent all the same).

    The bargain waiting for this payment is bought: a unit taken, the item
    fulfilled at once.  Refunded in full instead: no unit left (the bargain
    reopens until its deadline), a closed account, a payment the bargain no
    longer waits for (closed, then paid after all), a coupon that cannot be
    issued.
    """
    now = timezone.now()
    bargain = _lock(int(payment.reference.split("-", 1)[0]))
    if bargain.state == BargainState.PAID and bargain.out_trade_no == payment.out_trade_no:
        return
    if bargain.state != BargainState.PENDING_PAYMENT or bargain.out_trade_no != payment.out_trade_no:
        return _refund(payment, NOT_CURRENT)
    if not _receiving(bargain.member_id):
        bargain.state = BargainState.EXPIRED
        bargain.save(update_fields=["state"])
        return _refund(payment, CLOSED_ACCOUNT)
    if not _take_unit(bargain.activity_id):
        bargain.state = BargainState.OPEN if now < bargain.deadline else BargainState.EXPIRED
        bargain.save(update_fields=["state"])
        return _refund(payment, SOLD_OUT)
    item = bargain.activity.item
    if item.kind == ItemKind.COUPON:
        try:
            with transaction.atomic():
                coupon, _created = coupon_issue(
                    template=CouponTemplate.objects.get(pk=item.coupon_template_id),
                    member_id=bargain.member_id,
                    source="growth",
                    issue_key=f"bargain:{bargain.pk}",
                    now=now,
                )
        except (CouponSoldOut, CouponLimitReached, MemberClosed):
            BargainActivity.objects.filter(pk=bargain.activity_id).update(sold_count=F("sold_count") - 1)
            bargain.state = BargainState.EXPIRED
            bargain.save(update_fields=["state"])
            return _refund(payment, NOT_FULFILLABLE)
        bargain.coupon_id = coupon.pk
    else:
        source_key = f"bargain:{bargain.pk}"
        bargain.redemption_id = mall.redemptions_record_sold_elsewhere(
            item_id=item.pk,
            rows=[
                {
                    "source_key": source_key,
                    "member_id": bargain.member_id,
                    "recipient": bargain.recipient,
                    "phone": bargain.phone,
                    "address": bargain.address,
                }
            ],
            note=_("Bargain #%(bargain)s") % {"bargain": bargain.pk},
        )[source_key]
    bargain.state, bargain.paid_at, bargain.paid_fen = BargainState.PAID, now, payment.amount_fen
    bargain.save(update_fields=["state", "paid_at", "paid_fen", "coupon_id", "redemption_id"])
    return None


def bargain_payment_closed(*, payment: Payment) -> None:
    """A purchase's payment closed unpaid: the bargain may be cut and bought again until its deadline."""
    bargain = _lock(int(payment.reference.split("-", 1)[0]))
    if bargain.state == BargainState.PENDING_PAYMENT and bargain.out_trade_no == payment.out_trade_no:
        bargain.state = BargainState.OPEN if timezone.now() < bargain.deadline else BargainState.EXPIRED
        bargain.save(update_fields=["state"])


def bargains_expire(*, chunk_size: int = 1000, now=None) -> int:
    """End every bargain still cutting past its deadline (no money is held by one): set-based, in
    chunks, skipping a bargain being helped or bought right now; how many ended."""
    now = now or timezone.now()
    total = 0
    while True:
        with transaction.atomic():
            ids = list(
                Bargain.objects.select_for_update(skip_locked=True)
                .filter(state=BargainState.OPEN, deadline__lte=now)
                .order_by("pk")
                .values_list("pk", flat=True)[:chunk_size]
            )
            Bargain.objects.filter(pk__in=ids, state=BargainState.OPEN).update(state=BargainState.EXPIRED)
        total += len(ids)
        if len(ids) < chunk_size:
            return total


FROZEN_ONCE_STARTED = ("original_price_fen", "floor_price_fen", "helpers_needed", "item_id")


def bargain_activity_edit_refused(*, current: BargainActivity, edited: dict, now=None) -> dict | None:
    """As ``growth.services.activity_edit_refused``: once started its item, prices and helpers needed are
    frozen; its units offered never drop below those taken."""
    now = now or timezone.now()
    started = current.starts_at <= now or current.sold_count > 0 or current.bargains.exists()
    changed = [f for f in FROZEN_ONCE_STARTED if f in edited and getattr(current, f) != edited[f]]
    if started and changed:
        return {"fields": changed}
    if edited.get("stock_total", current.stock_total) < current.sold_count:
        return {"stock_total": edited["stock_total"], "sold_count": current.sold_count}
    return None


def bargain_activity_save(*, activity: BargainActivity, now=None) -> BargainActivity:
    """Create or edit an activity; never writes ``sold_count`` back (see ``growth.services.activity_save``)."""
    return activity_save_checked(
        activity=activity,
        edit_refused=bargain_activity_edit_refused,
        channel_code=attribution.bargain_channel,
        channel_name=_("Bargain: %(name)s"),
        now=now,
    )
