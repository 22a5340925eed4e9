"""Every write of 拼团 group buying: open, join, the payment's outcome, completion, failure, activity edits.

A place is bought in two steps.  ``group_open`` / ``group_join`` decide
whether the member may take a place (activity open, units left, limits, the
group still open and not full, not twice in one group) and record the place
with its payment, awaiting payment; nothing is held yet.  What decides is the
payment's arrival (``group_member_paid``, called by the payments app with the
payment row locked): under the group's row lock it takes a unit
(a conditional UPDATE: never oversold) and a place in the group; the payment
that fills the group completes it, once.  A payment that finds the group
full, expired or failed, the units gone or the account closed is refunded in
full at once.  A group past its deadline fails (``groups_fail_expired``) and
every payment in it is refunded; ``payments`` submits refunds after commit
and retries them until WeChat Pay accepts.

Locks follow the one order (``loyalty.locks``): payment, place (DOCUMENT),
group (GROWTH_GROUP), activity units (GROWTH_STOCK), then the coupon issue's
and the mall item's locks at completion.
"""

from __future__ import annotations

import hashlib
import logging
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
from growth import attribution, sql
from growth.exceptions import (
    ActivityLocked,
    ActivityNotFound,
    ActivityNotOpen,
    AlreadyInGroup,
    GroupBuyLimitReached,
    GroupExpired,
    GroupFull,
    GroupNotFound,
    GroupSoldOut,
    NewMembersOnly,
)
from growth.models import (
    LIVE_STATUSES,
    Group,
    GroupBuyActivity,
    GroupEvent,
    GroupMember,
    GroupState,
    PlaceRole,
    PlaceStatus,
)
from loyalty import ledger, locks
from loyalty.enqueue import enqueue_on_commit
from loyalty.errors import IdempotencyConflict
from loyalty.locks import Rank, Space
from loyalty.rows import db_cursor
from mall import selectors as mall_selectors
from mall import services as mall
from mall.exceptions import AddressNotFound, AddressRequired
from mall.models import ItemKind
from members.exceptions import MemberClosed
from members.receiving import members_receiving
from payments import services as payments
from payments.models import Payment, PaymentStatus

log = logging.getLogger(__name__)

PAYMENT_PURPOSE = "group_buy"

# Reasons written on refunds and events (registered with their labels in growth.apps).
LATE = "group_late"  # the group was full, complete, failed or past its deadline when the money arrived
SOLD_OUT = "group_sold_out"
CLOSED_ACCOUNT = "group_account_closed"
FAILED = "group_failed"
PAID_AFTER_CLOSE = "group_paid_after_close"
NOT_FULFILLABLE = "group_not_fulfillable"


def payment_timeout_minutes() -> int:
    return getattr(settings, "GROWTH_PAYMENT_TIMEOUT_MINUTES", 15)


@dataclass
class Placed:
    place: GroupMember
    replayed: bool = False


def _key(idempotency_key: str) -> str:
    return (
        idempotency_key
        if len(idempotency_key) <= 100
        else "h:" + hashlib.sha256(idempotency_key.encode()).hexdigest()
    )


def _event(kind: str, *, group_id=None, place_id=None, note: str = "") -> None:
    GroupEvent.objects.create(group_id=group_id, place_id=place_id, kind=kind, note=str(note)[:200])


# --- open and join -----------------------------------------------------------------------------


def group_open(
    *, member, activity_id: int, idempotency_key: str, address_id: int | None = None, now=None
) -> Placed:
    """Take a place as the leader of a new group, awaiting payment; the group opens when it is paid.

    Idempotent by (member, ``idempotency_key``): a repeat returns the first
    place; the same key for something else is ``idempotency_conflict``.
    Refusals (``activity_not_found``, ``activity_not_open``, ``sold_out``,
    ``group_buy_limit_reached``, ``member_closed``, ``address_required``,
    ``address_not_found``) write nothing.  The caller asks
    ``payments.payment_prepay`` once no transaction is open.
    """
    return _place(member, activity_id, None, idempotency_key, address_id, now or timezone.now())


def group_join(
    *, member, group_id: int, idempotency_key: str, address_id: int | None = None, now=None
) -> Placed:
    """Take a place in an open group, awaiting payment; as ``group_open``, and also refused with
    ``group_not_found``, ``group_full``, ``group_expired``, ``already_in_group`` (the leader included)
    and ``new_members_only``.  Being admitted here promises nothing: the payment that fills the group
    first wins, and a later one is refunded in full."""
    activity_id = Group.objects.filter(pk=group_id).values_list("activity_id", flat=True).first()
    if activity_id is None:
        raise GroupNotFound()
    return _place(member, activity_id, group_id, idempotency_key, address_id, now or timezone.now())


def _place(member, activity_id: int, group_id: int | None, idempotency_key: str, address_id, now) -> Placed:
    key = _key(idempotency_key)
    request_hash = ledger.request_hash(activity=activity_id, group=group_id, address=address_id)
    with transaction.atomic():
        # One member's opens and joins of an activity one after the other: the limit and the
        # one-place-per-group rule are read after the previous one committed.
        locks.advisory_lock(Space.GROUP_BUY_JOIN, activity_id, member.pk)
        earlier = GroupMember.objects.filter(member_id=member.pk, idempotency_key=key).first()
        if earlier is not None:
            if earlier.request_hash != request_hash:
                raise IdempotencyConflict()
            return Placed(earlier, replayed=True)
        if not members_receiving().filter(pk=member.pk).exists():
            raise MemberClosed()
        activity = GroupBuyActivity.objects.select_related("item").filter(pk=activity_id).first()
        if activity is None or not activity.is_active:
            raise ActivityNotFound()
        group = None
        if group_id is None:
            if not activity.starts_at <= now < activity.ends_at:
                raise ActivityNotOpen(details={"starts_at": activity.starts_at, "ends_at": activity.ends_at})
        else:
            group = Group.objects.get(pk=group_id)
            if group.state == GroupState.COMPLETE or group.joined_count >= group.size:
                raise GroupFull()
            if group.state != GroupState.OPEN or now >= group.deadline:
                raise GroupExpired(details={"deadline": group.deadline})
            if GroupMember.objects.filter(
                group_id=group_id, member_id=member.pk, status__in=LIVE_STATUSES
            ).exists():
                raise AlreadyInGroup()
            if activity.new_members_only and member.registered_at < activity.starts_at:
                raise NewMembersOnly()
        if activity.sold_count >= activity.stock_total:  # an early answer; the payment's UPDATE decides
            raise GroupSoldOut()
        if activity.per_member_limit is not None:
            held = GroupMember.objects.filter(
                activity_id=activity_id, member_id=member.pk, status__in=LIVE_STATUSES
            ).count()
            if held >= activity.per_member_limit:
                raise GroupBuyLimitReached(details={"per_member_limit": activity.per_member_limit})
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
        try:
            with transaction.atomic():
                place = GroupMember.objects.create(
                    activity=activity,
                    group=group,
                    member_id=member.pk,
                    role=PlaceRole.LEADER if group is None else PlaceRole.MEMBER,
                    amount_fen=group.price_fen if group is not None else activity.group_price_fen,
                    idempotency_key=key,
                    request_hash=request_hash,
                    **shipping,
                )
        except IntegrityError as exc:
            if "growth_one_live_place_per_group" in str(exc):
                raise AlreadyInGroup() from exc
            raise
        payment = payments.payment_create(
            member=member,
            purpose=PAYMENT_PURPOSE,
            reference=str(place.pk),
            amount_fen=place.amount_fen,
            description=_("Group buy: %(name)s") % {"name": activity.name},
            timeout_minutes=payment_timeout_minutes(),
        )
        place.out_trade_no = payment.out_trade_no
        place.save(update_fields=["out_trade_no"])
        _event("placed", group_id=group_id, place_id=place.pk, note=payment.out_trade_no)
    return Placed(place)


# --- the payment's outcome (payments.purposes) -----------------------------------------------------


@locks.takes(Rank.GROWTH_GROUP)
def _lock_group(group_id: int) -> Group:
    return Group.objects.select_for_update().get(pk=group_id)


@locks.takes(Rank.GROWTH_STOCK)
def _take_unit(activity_id: int) -> bool:
    """One unit of the activity, if any is left (a conditional UPDATE: never oversold)."""
    return bool(
        GroupBuyActivity.objects.filter(pk=activity_id, sold_count__lt=F("stock_total")).update(
            sold_count=F("sold_count") + 1
        )
    )


@locks.takes(Rank.GROWTH_STOCK)
def _give_back_units(activity_id: int, count: int) -> None:
    if count:
        GroupBuyActivity.objects.filter(pk=activity_id).update(sold_count=F("sold_count") - count)


def group_member_paid(*, payment: Payment) -> None:
    """WeChat Pay says a place was paid (called once, with the payment row locked; idempotent all the same).

    The leader's payment opens the group (its deadline runs from now); a
    member's joins it, and the one that fills it completes it.  Refunded in
    full instead, with the reason on the place: a group no longer open, full
    or past its deadline, no unit left, a closed account, a place whose
    payment had been closed (the money came after all), a leader paying after
    the activity ended.  A member's payment is the hot path (many at once on
    a popular activity): its statements are ``growth.sql``'s, a few in all.
    """
    now = timezone.now()
    with db_cursor() as cur:
        place = sql.lock_place(cur, int(payment.reference))
        if place.status not in (PlaceStatus.PENDING_PAYMENT, PlaceStatus.CLOSED):
            return None
        if payment.amount_fen != place.amount_fen:
            raise ValueError(f"payment {payment.out_trade_no} does not match group place {place.id}")
        if place.status == PlaceStatus.CLOSED:
            return _refund_paid(place.id, payment, PAID_AFTER_CLOSE, now)
        if not place.receiving:
            return _refund_paid(place.id, payment, CLOSED_ACCOUNT, now)
        if place.role == PlaceRole.LEADER:
            return _open_group(place, payment, now)
        group = sql.lock_group(cur, place.group_id)
        if group.state != GroupState.OPEN or now >= group.deadline or group.joined_count >= group.size:
            return _refund_paid(place.id, payment, LATE, now)
        joined = sql.join(
            cur,
            activity_id=place.activity_id,
            group_id=group.id,
            place_id=place.id,
            now=now,
            out_trade_no=payment.out_trade_no,
        )
        if not joined.taken:
            return _refund_paid(place.id, payment, SOLD_OUT, now)
        if joined.state == GroupState.COMPLETE:
            _fulfil(cur, group.id, place, joined.places, now)
    return None


def _open_group(place: sql.Place, payment: Payment, now) -> None:
    """The leader's payment: a unit taken and the group opened, its deadline from now."""
    if not place.is_active or now >= place.ends_at:
        return _refund_paid(place.id, payment, LATE, now)
    if not _take_unit(place.activity_id):
        return _refund_paid(place.id, payment, SOLD_OUT, now)
    group = Group.objects.create(
        activity_id=place.activity_id,
        leader_id=place.member_id,
        size=place.group_size,
        price_fen=place.amount_fen,
        joined_count=1,
        deadline=now + timedelta(minutes=place.time_limit_minutes),
        opened_at=now,
    )
    GroupMember.objects.filter(pk=place.id).update(group=group, status=PlaceStatus.JOINED, paid_at=now)
    _event("opened", group_id=group.pk, place_id=place.id, note=payment.out_trade_no)
    return None


def _refund_paid(place_id: int, payment: Payment, reason: str, now) -> None:
    """Refund a place whose payment just arrived (the place is locked already)."""
    place = GroupMember.objects.get(pk=place_id)
    place.paid_at = now
    _refund(place, payment, reason, now)


def _refund(place: GroupMember, payment: Payment, reason: str, now) -> None:
    """Refund a place's payment in full (the payment row is locked by the caller, or by the job)."""
    payments.payment_refund(
        payment=payment, amount_fen=place.amount_fen, reason=reason, out_refund_no=f"GB{place.pk}"
    )
    place.status, place.refund_reason, place.refunded_at = PlaceStatus.REFUNDED, reason, now
    place.save(update_fields=["status", "refund_reason", "refunded_at", "paid_at"])
    _event("refunded", group_id=place.group_id, place_id=place.pk, note=reason)


def _fulfil(cur, group_id: int, paid: sql.Place, places: list[sql.GroupPlace], now) -> None:
    """A complete group's units (``places``: its paid places, in id order): a coupon issued to each member
    at once, or the physical units into the mall's shipping queue together; then the places completed with
    their events (``sql.complete``).  A member whose coupon cannot be issued (a closed account, the
    template's own stock or limit) is refunded instead (``place_refund_unfulfilled``); the group stays
    complete for the others."""
    fulfilled: list[tuple[int, int | None, int | None]] = []
    if paid.item_kind == ItemKind.COUPON:
        template = CouponTemplate.objects.get(pk=paid.coupon_template_id)
        # Every member's claim lock of the template first, in key order: issuing to one member after
        # another would otherwise take a claim lock while holding the template's row.
        locks.advisory_lock_each(Space.COUPON_CLAIM, [(template.pk, place.member_id) for place in places])
        for place in places:
            try:
                with transaction.atomic():
                    coupon, _created = coupon_issue(
                        template=template,
                        member_id=place.member_id,
                        source="growth",
                        issue_key=f"group:{place.id}",
                        now=now,
                    )
            except (CouponSoldOut, CouponLimitReached, MemberClosed) as exc:
                # Refunding needs the place's payment row, which ranks before the group held here: the
                # place is marked and refunded right after commit (and by the job, should that be lost).
                log.warning("group place %s: coupon not issued (%s), to be refunded", place.id, exc.code)
                GroupMember.objects.filter(pk=place.id).update(refund_reason=NOT_FULFILLABLE)
                enqueue_on_commit("growth.tasks.refund_unfulfilled", place.id)
                continue
            fulfilled.append((place.id, coupon.pk, None))
    else:
        shipped = mall.redemptions_record_sold_elsewhere(
            item_id=paid.item_id,
            rows=[
                {
                    "source_key": f"group:{place.id}",
                    "member_id": place.member_id,
                    "recipient": place.recipient,
                    "phone": place.phone,
                    "address": place.address,
                }
                for place in places
            ],
            note=_("Group buy #%(group)s") % {"group": group_id},
        )
        fulfilled = [(place.id, None, shipped[f"group:{place.id}"]) for place in places]
    if fulfilled:
        sql.complete(cur, group_id=group_id, now=now, fulfilled=fulfilled)


def group_member_payment_closed(*, payment: Payment) -> None:
    """The payment was closed unpaid: the place is given up (nothing was held for it)."""
    locks.note(Rank.DOCUMENT, "group place")
    place = GroupMember.objects.select_for_update().get(pk=int(payment.reference))
    if place.status == PlaceStatus.PENDING_PAYMENT:
        place.status = PlaceStatus.CLOSED
        place.save(update_fields=["status"])
        _event("closed", group_id=place.group_id, place_id=place.pk)


def place_refund_unfulfilled(*, place_id: int) -> bool:
    """Refund a place of a complete group that could not be fulfilled and give its unit back; True if now.

    Locks payment, place, activity units, in the one order.  Idempotent: a
    place refunded (or fulfilled) already is left as it is.
    """
    with transaction.atomic():
        out_trade_no = GroupMember.objects.values_list("out_trade_no", flat=True).get(pk=place_id)
        payment = payments.payment_lock(out_trade_no=out_trade_no)
        locks.note(Rank.DOCUMENT, "group place")
        place = GroupMember.objects.select_for_update().get(pk=place_id)
        if place.status != PlaceStatus.JOINED or place.refund_reason != NOT_FULFILLABLE:
            return False
        _refund(place, payment, NOT_FULFILLABLE, timezone.now())
        _give_back_units(place.activity_id, 1)
    return True


def places_refund_unfulfilled(*, limit: int = 500) -> int:
    """The job's sweep for places left unfulfilled whose on-commit refund was lost; how many refunded."""
    ids = GroupMember.objects.filter(status=PlaceStatus.JOINED, refund_reason=NOT_FULFILLABLE).order_by("pk")
    return sum(place_refund_unfulfilled(place_id=pk) for pk in ids.values_list("pk", flat=True)[:limit])


# --- groups past their deadline ---------------------------------------------------------------------


class _Moved(Exception):
    """A payment arrived between reading a group's places and locking the group: read again."""


def group_fail(*, group_id: int, now=None) -> bool:
    """Fail a group past its deadline and refund every payment in it, in full, once; True if failed now.

    Locks in the one order: the places' payments, the places, the group, the
    activity's units.  A group completed meanwhile, or failed already, or
    not yet past its deadline is left as it is.  The refunds are written in
    this transaction and submitted to WeChat Pay after it commits
    (``payments`` retries them until accepted).
    """
    now = now or timezone.now()
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return _fail(group_id, now)
        except _Moved:
            continue
    raise RuntimeError(f"group {group_id} kept changing while it was failed")


def _fail(group_id: int, now) -> bool:
    numbers = list(
        GroupMember.objects.filter(group_id=group_id, status=PlaceStatus.JOINED)
        .order_by("pk")
        .values_list("out_trade_no", flat=True)
    )
    paid = payments.payments_lock(out_trade_nos=numbers)  # refunding locks each again, never waiting
    locks.note(Rank.DOCUMENT, "places of a failing group")
    places = list(
        GroupMember.objects.select_for_update()
        .filter(group_id=group_id, status=PlaceStatus.JOINED)
        .order_by("pk")
    )
    group = _lock_group(group_id)
    if group.state != GroupState.OPEN or group.deadline > now:
        return False
    if {p.out_trade_no for p in places} != set(paid) or len(places) != group.joined_count:
        raise _Moved()
    for place in places:
        payment = paid[place.out_trade_no]
        if payment.status != PaymentStatus.PAID:
            raise RuntimeError(f"group place {place.pk} is joined but its payment is {payment.status}")
        _refund(place, payment, FAILED, now)
    _give_back_units(group.activity_id, len(places))
    group.state, group.failed_at, group.joined_count = GroupState.FAILED, now, 0
    group.save(update_fields=["state", "failed_at", "joined_count"])
    _event("failed", group_id=group.pk, note=f"{len(places)} refunded")
    return True


def groups_fail_expired(*, chunk_size: int = 200, now=None) -> int:
    """Fail every open group past its deadline (the scheduled job); how many failed.

    The due groups are read a chunk at a time by one indexed query, in id
    order from where the last chunk ended (a group that cannot be failed now
    is not read again in this run); each is failed in a transaction of its
    own, so one group's refunds never wait for another's.  Safe to run twice
    or in parallel: a failed group is not open any more.
    """
    now = now or timezone.now()
    failed, after = 0, 0
    while True:
        ids = list(
            Group.objects.filter(state=GroupState.OPEN, deadline__lte=now, pk__gt=after)
            .order_by("pk")
            .values_list("pk", flat=True)[:chunk_size]
        )
        for group_id in ids:
            failed += group_fail(group_id=group_id, now=now)
        if len(ids) < chunk_size:
            return failed
        after = ids[-1]


# --- operators -------------------------------------------------------------------------------------

FROZEN_ONCE_STARTED = ("group_price_fen", "original_price_fen", "group_size", "item_id")


def activity_edit_refused(*, current: GroupBuyActivity, edited: dict, now=None) -> dict | None:
    """Why an edit of ``current`` to the values in ``edited`` (by attribute name) is refused, or None.

    Once started (or once any unit is taken) the item, prices and group size are frozen; the units
    offered never drop below those taken.  The admin's form asks first; ``activity_save`` decides.
    """
    now = now or timezone.now()
    started = current.starts_at <= now or current.sold_count > 0
    changed = [f for f in FROZEN_ONCE_STARTED if f in edited and getattr(current, f) != edited[f]]
    if started and changed:
        return {"fields": changed}
    if edited.get("stock_total", current.stock_total) < current.sold_count:
        return {"stock_total": edited["stock_total"], "sold_count": current.sold_count}
    return None


def activity_save(*, activity: GroupBuyActivity, now=None) -> GroupBuyActivity:
    """Create an activity, or save an operator's edit of one.

    Once it has started (or any unit is taken) its item, prices and group
    size cannot change (``activity_started``); its units offered can never
    drop below those taken — decided by the UPDATE itself, so a payment taking
    a unit at the same moment cannot slip under it.  ``sold_count`` is never
    written from the form (a stale copy would undo units taken meanwhile).
    """
    return activity_save_checked(
        activity=activity,
        edit_refused=activity_edit_refused,
        channel_code=attribution.group_buy_channel,
        channel_name=_("Group buy: %(name)s"),
        now=now,
    )


def activity_save_checked(*, activity, edit_refused, channel_code, channel_name: str, now=None):
    """``activity_save`` for either kind of activity (拼团, 砍价): ``edit_refused(current=, edited=, now=)``
    says why an edit may not be saved; a new activity names its registration channel."""
    model = type(activity)
    if activity.pk is None:
        with transaction.atomic():
            activity.sold_count = 0
            activity.save()
            attribution.name_channel(
                code=channel_code(activity.pk), name=channel_name % {"name": activity.name}
            )
        return activity
    fields = [
        f.attname for f in model._meta.concrete_fields if f.attname not in ("id", "sold_count", "created_at")
    ]
    values = {name: getattr(activity, name) for name in fields}
    with transaction.atomic():
        current = model.objects.get(pk=activity.pk)
        refusal = edit_refused(current=current, edited=values, now=now)
        if refusal is not None:
            raise ActivityLocked(details=refusal)
        if not model.objects.filter(pk=activity.pk, sold_count__lte=activity.stock_total).update(**values):
            raise ActivityLocked(details={"stock_total": activity.stock_total})
    activity.refresh_from_db()
    return activity
