"""Every write of the coupons app: issuing (claim, gift packs, bulk), redemption and the jobs.

Stock is taken by a conditional UPDATE of the template row (``issued_count <
total_stock``), so it is never oversold whatever the concurrency; a member's
limit is checked under a transaction-level advisory lock on (template,
member), so a member's parallel claims are decided one after the other.
Locks follow the one order (``loyalty.locks``): existing coupons by id, the
advisory (template, member), the member row (FOR SHARE: nothing is issued to
an account closed meanwhile, ``members.receiving``), then the template row.
Every state change of a coupon writes a ``CouponEvent``.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from coupons import sql
from coupons.audience import member_in_audience
from coupons.exceptions import (
    ClaimWindowClosed,
    CouponLimitReached,
    CouponNotAvailable,
    CouponNotFound,
    CouponNotVoidable,
    CouponSoldOut,
    CouponTemplateNotFound,
    NotInAudience,
)
from coupons.models import (
    BulkIssue,
    BulkIssueResult,
    BulkIssueStatus,
    BulkIssueTarget,
    Coupon,
    CouponEvent,
    CouponStatus,
    CouponTemplate,
    GiftPack,
    GiftPackGrant,
    Validity,
)
from loyalty import locks
from loyalty.enqueue import enqueue_on_commit
from loyalty.locks import Rank, Space
from members.exceptions import MemberClosed
from members.receiving import lock_receiving
from notifications.services import Draft, notify_many
from points import earning as points_earning
from points import ledger as points_ledger

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud at a counter
DEFAULT_LOCK_MINUTES = 30


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))


def validity_for(template: CouponTemplate, issued_at) -> tuple:
    """(valid_from, valid_until): the template's fixed dates, or N days from the moment it is issued."""
    if template.validity == Validity.FIXED:
        return template.valid_from or issued_at, template.valid_until
    return issued_at, issued_at + timedelta(days=template.valid_days)


def _take_stock(template_id: int, count: int = 1) -> int:
    """Take up to ``count`` from the template's stock; returns how many were taken (0 when sold out)."""
    with sql.db_cursor() as cur:
        if count == 1:  # the hot path of a claim: one conditional UPDATE
            return sql.take_one(cur, template_id)
        return sql.take_up_to(cur, template_id, count)


def coupon_templates_lock(*, template_ids: list[int]) -> None:
    """Lock the templates' rows (their stock) inside the caller's transaction, in id order: a workflow
    issuing to several members takes them before any later lock, as ``coupon_issue`` would for one."""
    if template_ids:
        with sql.db_cursor() as cur:
            sql.lock_templates(cur, sorted(set(template_ids)))


def coupon_issue(
    *, template: CouponTemplate, member_id: int, source: str, issue_key: str, now=None, valid_until=None
) -> tuple[Coupon, bool]:
    """Issue one coupon of ``template`` to a member; returns (coupon, created).

    Idempotent by (member, template, issue_key): a repeat returns the first
    coupon.  Raises ``MemberClosed`` (a closed account receives nothing),
    ``CouponLimitReached`` or ``CouponSoldOut`` with nothing written.  Checks
    no window or audience: callers (claim, gift packs, mall) decide who is
    offered it.  Two round trips under the lock (it is the hot path of a
    popular claim): the lock, then the member, their holding, stock, coupon
    and event in one statement.
    """
    now = now or timezone.now()
    valid_from, template_until = validity_for(template, now)
    # ``valid_until``: a coupon carried over from another system keeps the validity it had there.
    if valid_until is not None:
        valid_from = min(valid_from, now)
    else:
        valid_until = template_until
    with transaction.atomic(), sql.db_cursor() as cur:
        locks.advisory_lock(Space.COUPON_CLAIM, template.pk, member_id)
        locks.note(Rank.MEMBER, "issue: the member (FOR SHARE)")
        locks.note(Rank.COUPON_TEMPLATE, "issue: the template's stock")
        code = new_code()
        outcome = sql.issue(
            cur,
            {
                "template": template.pk,
                "member": member_id,
                "limit": template.per_member_limit,
                "code": code,
                "source": source,
                "key": issue_key,
                "valid_from": valid_from,
                "valid_until": valid_until,
                "now": now,
            },
        )
    if outcome.replay is not None:
        return Coupon.objects.get(pk=outcome.replay), False
    if not outcome.receiving:
        raise MemberClosed()
    if outcome.held >= template.per_member_limit:
        raise CouponLimitReached(details={"per_member_limit": template.per_member_limit})
    if outcome.coupon_id is None:
        raise CouponSoldOut()
    coupon = Coupon(
        id=outcome.coupon_id,
        template=template,
        member_id=member_id,
        code=code,
        status=CouponStatus.AVAILABLE,
        source=source,
        issue_key=issue_key,
        valid_from=valid_from,
        valid_until=valid_until,
        issued_at=now,
    )
    return coupon, True


def coupon_claim(*, member, template_id: int, idempotency_key: str, now=None) -> Coupon:
    """A member claims a coupon in the claim centre: active, claimable, in its window, in its audience."""
    now = now or timezone.now()
    template = sql.claimable_template(template_id)
    if template is None:
        raise CouponTemplateNotFound()
    if (template.claim_starts_at and now < template.claim_starts_at) or (
        template.claim_ends_at and now >= template.claim_ends_at
    ):
        raise ClaimWindowClosed()
    if template.validity == Validity.FIXED and template.valid_until <= now:
        raise ClaimWindowClosed()
    if not member_in_audience(template=template, member=member):
        raise NotInAudience()
    coupon, _created = coupon_issue(
        template=template,
        member_id=member.pk,
        source="claim",
        issue_key="claim:" + hashlib.sha256(idempotency_key.encode()).hexdigest(),  # keys run to 255 chars
        now=now,
    )
    return coupon


# --- gift packs ------------------------------------------------------------------------


def gift_pack_issue(*, pack_id: int, member_id: int, occasion: str) -> GiftPackGrant | None:
    """Give a gift pack once per member and occasion (``new_member``, ``recharge:42``, ``birthday:2026`` …).

    Coupons that are sold out or over the member's limit are withheld and
    recorded on the grant, not silently dropped; the rest is issued.  Points
    come through the points ledger.  Returns None, with nothing written, for
    an inactive pack or a member who may not receive (a closed account,
    decided under the member row's lock: ``members.receiving``).
    """
    pack = GiftPack.objects.filter(pk=pack_id, is_active=True).prefetch_related("items__template").first()
    if pack is None:
        return None
    with transaction.atomic():
        # The lock order (loyalty.locks): the member's claims of the pack's templates, then the member.
        locks.advisory_lock_each(
            Space.COUPON_CLAIM, [(item.template_id, member_id) for item in pack.items.all()]
        )
        if not lock_receiving(member_ids=[member_id]):
            return None
        try:
            with transaction.atomic():
                grant = GiftPackGrant.objects.create(pack=pack, member_id=member_id, occasion=occasion)
        except IntegrityError:
            return GiftPackGrant.objects.get(pack=pack, member_id=member_id, occasion=occasion)
        # Templates in id order: every issuing path locks template rows in the same order (no deadlock).
        for item in sorted(pack.items.all(), key=lambda item: item.template_id):
            for n in range(item.quantity):
                try:
                    coupon_issue(
                        template=item.template,
                        member_id=member_id,
                        source="gift_pack",
                        issue_key=f"pack:{grant.pk}:{item.pk}:{n}",
                    )
                except (CouponSoldOut, CouponLimitReached) as exc:
                    grant.withheld.append({"template_id": item.template_id, "reason": exc.code})
        if pack.points:
            points_earning.points_grant_gift(
                member_id=member_id,
                points=pack.points,
                idempotency_key=f"gift-pack:{grant.pk}",
                source="gift_pack",
                reference=occasion,
            )
        if grant.withheld:
            grant.save(update_fields=["withheld"])
    return grant


@dataclass(frozen=True)
class GiftPackRevoked:
    voided_coupon_ids: list[int]
    held_coupon_ids: list[int]
    points_reversed: int


def _pack_grant_ids(*, member_id: int, occasions: list[str], since=None) -> list[int]:
    grants = GiftPackGrant.objects.filter(member_id=member_id, occasion__in=occasions)
    if since is not None:
        grants = grants.filter(created_at__gte=since)
    return list(grants.order_by("pk").values_list("pk", flat=True))


@locks.takes(Rank.COUPON)
def _gift_pack_coupons(*, member_id: int, grant_ids: list[int]) -> list[Coupon]:
    """The coupons these grants issued, locked in id order (coupons' place in the lock order)."""
    if not grant_ids:
        return []
    issued_by = Q()
    for grant_id in grant_ids:
        issued_by |= Q(issue_key__startswith=f"pack:{grant_id}:")  # gift_pack_issue's keys
    return list(
        Coupon.objects.select_for_update(of=("self",))  # not their templates: issuing locks those
        .filter(issued_by, member_id=member_id, source="gift_pack")
        .order_by("pk")
    )


def gift_pack_coupons_lock(*, member_id: int, occasion: str) -> list[int]:
    """Lock the coupons of the member's gift pack for ``occasion`` inside the caller's transaction.

    For a workflow that may revoke the pack but decides so only under a later lock (a recharge
    refund, under the stored-value account's): coupons come before the ledgers' accounts.
    """
    grant_ids = _pack_grant_ids(member_id=member_id, occasions=[occasion])
    return [coupon.pk for coupon in _gift_pack_coupons(member_id=member_id, grant_ids=grant_ids)]


def gift_pack_revoke(
    *,
    member_id: int,
    occasions: list[str],
    reason: str,
    since=None,
    actor_id: int | None = None,
    refuse_while_held: bool = False,
) -> GiftPackRevoked:
    """Take back the packs given for ``occasions`` (at or after ``since``): their cause was undone.

    Nothing of an undone cause survives it: each pack's coupons not used yet
    are voided (with ``reason``), then its points are clawed back like any
    earn (a debt if already spent): coupons by id, then the points account
    (the lock order).  Used and expired coupons stay.  A coupon held by an
    open order stays with it, or (``refuse_while_held``: a recharge refund,
    which may wait) the call is refused with ``coupon_not_voidable`` and
    nothing changed.  The grant stays recorded, so the occasion stays used.
    Idempotent: a second call voids and claws back nothing more.
    """
    with transaction.atomic():
        grant_ids = _pack_grant_ids(member_id=member_id, occasions=occasions, since=since)
        coupons = _gift_pack_coupons(member_id=member_id, grant_ids=grant_ids)
        held = [c for c in coupons if c.status == CouponStatus.LOCKED]
        if held and refuse_while_held:
            raise CouponNotVoidable(
                message=_(
                    "A coupon of this gift pack is held by order %(order_no)s; "
                    "try again once that order is completed or cancelled."
                )
                % {"order_no": held[0].order_no},
                details={"coupon_id": held[0].pk, "order_no": held[0].order_no},
            )
        voided = []
        for coupon in coupons:
            if coupon.status == CouponStatus.AVAILABLE:
                _void(coupon, reason=reason, actor_id=actor_id)
                voided.append(coupon.pk)
        reversed_points = 0
        for grant_id in grant_ids:
            posting = points_ledger.points_reverse_earn(
                member_id=member_id,
                earn_key=f"gift-pack:{grant_id}",  # gift_pack_issue's key
                idempotency_key=f"gift-pack:{grant_id}:revoke",
                memo=reason[:200],
            )
            if posting is not None and not posting.replayed:
                reversed_points -= posting.amount
    return GiftPackRevoked(
        voided_coupon_ids=voided, held_coupon_ids=[c.pk for c in held], points_reversed=reversed_points
    )


# --- redemption --------------------------------------------------------------------------


@locks.takes(Rank.COUPON)
def _locked_coupon(coupon_id: int, member_id: int | None = None) -> Coupon:
    # Not the template row: redeeming changes no template, and issuing locks templates before coupons.
    coupons = Coupon.objects.select_for_update(of=("self",)).select_related("template").filter(pk=coupon_id)
    coupon = coupons.filter(member_id=member_id).first() if member_id is not None else coupons.first()
    if coupon is None:  # another member's coupon is "not found", never a hint that it exists
        raise CouponNotFound()
    return coupon


def _event(
    coupon: Coupon,
    kind: str,
    *,
    order_no: str = "",
    reason: str = "",
    actor_id=None,
    store_id=None,
    staff_id=None,
) -> None:
    CouponEvent.objects.create(
        coupon=coupon,
        kind=kind,
        order_no=order_no,
        reason=reason[:200],
        actor_id=actor_id,
        store_id=store_id,
        staff_id=staff_id,
    )


def coupon_lock(
    *, member_id: int, coupon_id: int, order_no: str, minutes: int = DEFAULT_LOCK_MINUTES, now=None
):
    """Reserve a member's available, valid coupon for one order until it is used or released.

    Locking again for the same order is a no-op (and extends the lock); for
    another order it is refused: one coupon, one order.
    """
    now = now or timezone.now()
    with transaction.atomic():
        coupon = _locked_coupon(coupon_id, member_id)
        if coupon.status == CouponStatus.LOCKED and coupon.order_no == order_no:
            coupon.locked_until = now + timedelta(minutes=minutes)
            coupon.save(update_fields=["locked_until"])
            return coupon
        if coupon.status != CouponStatus.AVAILABLE or not coupon.valid_from <= now < coupon.valid_until:
            raise CouponNotAvailable(details={"status": coupon.status})
        coupon.status, coupon.order_no = CouponStatus.LOCKED, order_no
        coupon.locked_until = now + timedelta(minutes=minutes)
        coupon.save(update_fields=["status", "order_no", "locked_until"])
        _event(coupon, "locked", order_no=order_no)
    return coupon


def coupon_use(*, coupon_id: int, order_no: str, now=None) -> Coupon:
    """The order that locked the coupon was paid: the coupon is used. Idempotent for that order."""
    now = now or timezone.now()
    with transaction.atomic():
        coupon = _locked_coupon(coupon_id)
        if coupon.status == CouponStatus.USED and coupon.order_no == order_no:
            return coupon
        if coupon.status != CouponStatus.LOCKED or coupon.order_no != order_no:
            raise CouponNotAvailable(details={"status": coupon.status})
        coupon.status, coupon.used_at, coupon.locked_until = CouponStatus.USED, now, None
        coupon.save(update_fields=["status", "used_at", "locked_until"])
        _event(coupon, "used", order_no=order_no)
    return coupon


def coupon_redeem_code(
    *,
    code: str,
    order_no: str,
    now=None,
    store_id: int | None = None,
    staff_id: int | None = None,
    actor_id: int | None = None,
) -> Coupon:
    """核销 at a counter: the merchant scans a coupon's code (or QR) and uses it for an order at once.

    Idempotent for ``order_no`` (using it again for the same order returns it).  A used, locked (by
    another order), expired or voided coupon is ``coupon_not_available`` with its status; an unknown code
    (mistyped, another merchant's) ``coupon_not_found``; nothing is written.  At a store, the ``used``
    event carries the store, the staff member and the signed-in clerk.
    """
    now = now or timezone.now()
    coupon_id = Coupon.objects.filter(code=code.strip().upper()).values_list("pk", flat=True).first()
    if coupon_id is None:
        raise CouponNotFound()
    with transaction.atomic():
        coupon = _locked_coupon(coupon_id)
        if coupon.status == CouponStatus.USED and coupon.order_no == order_no:
            return coupon
        held_here = coupon.status == CouponStatus.LOCKED and coupon.order_no == order_no
        if not held_here and coupon.status != CouponStatus.AVAILABLE:
            raise CouponNotAvailable(details={"status": coupon.status})
        if not coupon.valid_from <= now < coupon.valid_until:
            raise CouponNotAvailable(
                details={"status": "expired" if now >= coupon.valid_until else "not_yet_valid"}
            )
        coupon.status, coupon.order_no, coupon.used_at, coupon.locked_until = (
            CouponStatus.USED,
            order_no,
            now,
            None,
        )
        coupon.save(update_fields=["status", "order_no", "used_at", "locked_until"])
        _event(coupon, "used", order_no=order_no, actor_id=actor_id, store_id=store_id, staff_id=staff_id)
    return coupon


def coupon_release(*, coupon_id: int, order_no: str, now=None) -> Coupon:
    """The order was cancelled before payment: its coupon is available again (or expired, if it is past
    its validity meanwhile). Releasing a coupon this order does not hold changes nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        coupon = _locked_coupon(coupon_id)
        if coupon.status != CouponStatus.LOCKED or coupon.order_no != order_no:
            return coupon
        coupon.status = CouponStatus.AVAILABLE if now < coupon.valid_until else CouponStatus.EXPIRED
        coupon.order_no, coupon.locked_until = "", None
        coupon.save(update_fields=["status", "order_no", "locked_until"])
        _event(coupon, "released", order_no=order_no)
    return coupon


def coupon_restore(*, coupon_id: int, order_no: str, whole_order_refunded: bool, now=None) -> Coupon:
    """Give a used coupon back after a refund — only when the WHOLE order was refunded and the coupon is
    still within its validity.

    A partial refund keeps the coupon used: the rest of the order still
    enjoyed its discount (the refund is reduced by the discount allocated to
    the refunded lines instead).  An expired coupon is not revived: the
    member could not have used it any more.
    """
    now = now or timezone.now()
    with transaction.atomic():
        coupon = _locked_coupon(coupon_id)
        if (
            not whole_order_refunded
            or coupon.status != CouponStatus.USED
            or coupon.order_no != order_no
            or now >= coupon.valid_until
        ):
            return coupon
        coupon.status, coupon.order_no, coupon.used_at = CouponStatus.AVAILABLE, "", None
        coupon.save(update_fields=["status", "order_no", "used_at"])
        _event(coupon, "restored", order_no=order_no)
    return coupon


def coupon_void(*, coupon_id: int, actor_id: int | None, reason: str, even_if_locked: bool = False) -> Coupon:
    """An operator voids a coupon that is not used yet, with a reason (kept as its event).

    Not while an order holds it (locked): that order may already be paid, and its completion would then
    fail; the order's cancel (or its timeout) releases it first.  ``even_if_locked``: account closure, which
    has already refused while any order of the member is open, voids what a lost order still holds."""
    if not reason.strip():
        raise ValueError("a reason is required")
    with transaction.atomic():
        coupon = _locked_coupon(coupon_id)
        if coupon.status == CouponStatus.VOIDED:
            return coupon
        if coupon.status == CouponStatus.USED:
            raise CouponNotVoidable()
        if coupon.status == CouponStatus.LOCKED and not even_if_locked:
            raise CouponNotVoidable(
                message=_("This coupon is held by order %(order_no)s; cancel the order first.")
                % {"order_no": coupon.order_no},
                details={"status": coupon.status, "order_no": coupon.order_no},
            )
        _void(coupon, reason=reason, actor_id=actor_id)
    return coupon


def _void(coupon: Coupon, *, reason: str, actor_id: int | None) -> None:
    coupon.status, coupon.locked_until = CouponStatus.VOIDED, None
    coupon.save(update_fields=["status", "locked_until"])
    _event(coupon, "voided", order_no=coupon.order_no, reason=reason, actor_id=actor_id)


# --- jobs (set-based, in chunks, SKIP LOCKED: safe beside live traffic and to run twice) ---------


#: name -> SQL that selects a row while the order named by a locked coupon ``c.order_no`` is still
#: open.  The apps that lock coupons for their orders register one (orders does, in its
#: ``AppConfig.ready``): the coupons app knows none of their tables, and the backstop never takes a
#: coupon from an order that may still complete.
_OPEN_HOLDERS: dict[str, str] = {}


def coupon_lock_holder_register(*, name: str, open_sql: str) -> None:
    """Register what keeps a lock from the stale-lock backstop: ``open_sql`` selects a row while the
    holder of ``c.order_no`` is open (its own cancel or completion then releases or uses the coupon)."""
    _OPEN_HOLDERS[name] = open_sql


def _run_in_chunks(run, *, now, chunk_size: int) -> int:
    done = 0
    while True:
        with transaction.atomic(), sql.db_cursor() as cur:
            count = run(cur, now, chunk_size)
        done += count
        if count < chunk_size:
            return done


def coupons_expire_due(*, now=None, chunk_size: int = 5000) -> int:
    """Expire available coupons past their validity; returns how many."""
    return _run_in_chunks(sql.expire_due, now=now or timezone.now(), chunk_size=chunk_size)


def coupons_release_stale_locks(*, now=None, chunk_size: int = 5000) -> int:
    """Release coupons locked past ``locked_until`` whose order is gone, closed or never existed; returns
    how many.  A lock whose order is still open stays, however late: the order's completion uses it, its
    cancel (or unpaid timeout) releases it."""
    holders = tuple(open_sql for _, open_sql in sorted(_OPEN_HOLDERS.items()))
    return _run_in_chunks(
        lambda cur, now, chunk: sql.release_stale(cur, now, chunk, holders),
        now=now or timezone.now(),
        chunk_size=chunk_size,
    )


def coupons_remind_expiring(*, days: int = 3, now=None, chunk_size: int = 5000) -> int:
    """Tell each member whose available coupons expire within ``days``, once per member and day.

    Closed accounts are told nothing (``members.receiving``)."""
    now = now or timezone.now()
    after, sent = 0, 0
    while True:
        with sql.db_cursor() as cur:
            rows = sql.expiring(cur, now, now + timedelta(days=days), after, chunk_size)
        if not rows:
            return sent
        sent += notify_many(_reminder(row.member_id, row.count, row.soonest) for row in rows)
        after = rows[-1].member_id


def _reminder(member_id: int, count: int, soonest) -> Draft:
    day = timezone.localtime(soonest).date().isoformat()
    return Draft(
        member_id=member_id,
        kind="coupons_expiring",
        title=_("Coupons expiring soon"),
        body=_("%(count)s of your coupons expire soon, the first on %(day)s.") % {"count": count, "day": day},
        dedupe_key=f"coupons_expiring:{day}",
        data={"count": count, "expires_at": soonest.isoformat()},
    )


# --- bulk issue ------------------------------------------------------------------------------


def bulk_issue_create(*, template_id: int, member_ids, actor_id: int) -> BulkIssue:
    """Queue an issue of one coupon of the template to each member (duplicates ignored); runs after commit."""
    template = CouponTemplate.objects.get(pk=template_id)
    if not template.is_active or (
        template.validity == Validity.FIXED and template.valid_until <= timezone.now()
    ):
        raise ClaimWindowClosed(_("This coupon is inactive or past its validity: nothing would be usable."))
    member_ids = sorted(set(member_ids))
    with transaction.atomic():
        bulk = BulkIssue.objects.create(
            template_id=template_id, created_by_id=actor_id, total=len(member_ids)
        )
        BulkIssueTarget.objects.bulk_create(
            (BulkIssueTarget(bulk_issue=bulk, member_id=m) for m in member_ids), batch_size=5000
        )
        enqueue_on_commit("coupons.tasks.run_bulk_issue", bulk.pk)  # the resume job covers a broker outage
    return bulk


def bulk_issues_resume() -> int:
    """Run every bulk issue not finished (a lost task, a killed worker); safe beside a running one."""
    unfinished = list(
        BulkIssue.objects.exclude(status=BulkIssueStatus.DONE).order_by("pk").values_list("pk", flat=True)
    )
    for bulk_issue_id in unfinished:
        bulk_issue_run(bulk_issue_id=bulk_issue_id)
    return len(unfinished)


def bulk_issue_run(*, bulk_issue_id: int, chunk_size: int = 1000) -> BulkIssue:
    """Issue a bulk issue's pending members, a chunk per transaction; safe to kill and run again.

    Each chunk, in one transaction: lock its pending targets (SKIP LOCKED, so
    two workers share the work), take the per-member advisory locks, see
    who may receive (a closed account is marked ``closed``: skipped) and is
    under the limit, take that much stock in one conditional UPDATE, insert
    the coupons and their events with one statement each and mark every
    target issued, closed, limit or sold_out.  A killed run loses only its
    open chunk, which the next run does again; committed chunks are never
    repeated because their targets are no longer pending.
    """
    bulk = BulkIssue.objects.select_related("template").get(pk=bulk_issue_id)
    template = bulk.template
    BulkIssue.objects.filter(pk=bulk.pk, status=BulkIssueStatus.QUEUED).update(status=BulkIssueStatus.RUNNING)
    while True:
        with transaction.atomic(), sql.db_cursor() as cur:
            rows = sql.bulk_chunk(
                cur,
                template_id=template.pk,
                bulk_id=bulk.pk,
                chunk=chunk_size,
                limit=template.per_member_limit,
            )
            if not rows:
                break
            # Advisory locks in member order, as coupon_issue takes them, then the member rows (a closed
            # account is skipped), then recount under them.
            locks.advisory_lock_each(Space.COUPON_CLAIM, [(template.pk, row.member_id) for row in rows])
            receiving = lock_receiving(member_ids=[row.member_id for row in rows])
            under_limit = sql.under_limit(
                cur,
                [row.member_id for row in rows if row.member_id in receiving],
                template.pk,
                template.per_member_limit,
            )
            wanted = [(row.id, row.member_id) for row in rows if row.member_id in under_limit]
            granted = _take_stock(template.pk, len(wanted)) if wanted else 0
            issued = wanted[:granted]
            now = timezone.now()
            valid_from, valid_until = validity_for(template, now)
            if issued:
                sql.bulk_insert(
                    cur,
                    template_id=template.pk,
                    issue_key=f"bulk:{bulk.pk}",
                    valid_from=valid_from,
                    valid_until=valid_until,
                    now=now,
                    member_ids=[member for _, member in issued],
                    codes=[new_code() for _ in issued],
                )
            issued_ids = {target for target, _ in issued}
            results = [
                (
                    target,
                    BulkIssueResult.ISSUED
                    if target in issued_ids
                    else BulkIssueResult.CLOSED
                    if member not in receiving
                    else BulkIssueResult.LIMIT
                    if member not in under_limit
                    else BulkIssueResult.SOLD_OUT,
                )
                for target, member in ((row.id, row.member_id) for row in rows)
            ]
            sql.mark_targets(cur, [t for t, _ in results], [r for _, r in results])
            sql.count_processed(cur, bulk.pk, len(rows), len(issued))
    if not BulkIssueTarget.objects.filter(bulk_issue=bulk, result=BulkIssueResult.PENDING).exists():
        BulkIssue.objects.filter(pk=bulk.pk).exclude(status=BulkIssueStatus.DONE).update(
            status=BulkIssueStatus.DONE, finished_at=timezone.now()
        )
    bulk.refresh_from_db()
    return bulk
