"""Account closure (注销), which WeChat requires every mini-program to offer.

A closed member's row stays — ledgers, orders, coupons and notifications
point at it and the merchant's books need them — but nothing in it
identifies the person any more, nothing of value is left on it and no
session opens it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from coupons import selectors as coupon_selectors
from coupons import services as coupon_services
from coupons.models import CouponStatus
from growth import closure as growth_closure
from loyalty import locks
from loyalty.locks import Rank, Space
from mall import selectors as mall_selectors
from members.exceptions import OrderInProgress, RechargePending, RedemptionInProgress, StoredValueRemaining
from members.models import Member, MemberToken, WechatSession, _new_invite_code
from membership.cards import cards_revoke_all
from membership.exceptions import CardPurchasePending
from membership.models import CardPurchase, PurchaseStatus
from membership.services import membership_lock
from notifications import services as notification_services
from orders import selectors as order_selectors
from points import ledger as points_ledger
from stored_value import ledger as stored_value_ledger
from stored_value import selectors as stored_value_selectors
from stored_value.models import RechargeStatus

REASON = "account closed"
POINTS_SOURCE = "closure"


@dataclass(frozen=True)
class Closure:
    member_id: int
    closed_at: datetime
    points_forfeited: int
    coupons_voided: int
    replayed: bool = False
    group_places_refunded: int = 0
    bargains_ended: int = 0


def closed_openid() -> str:
    """A random placeholder: not derived from the openid, so it cannot be traced back, and the
    same WeChat user logging in again later is a new member."""
    return f"closed_{secrets.token_hex(16)}"


def member_close(*, member_id: int) -> Closure:
    """Close the member's account, in one transaction; repeating it changes nothing.

    Refused, with nothing written, while stored value remains (principal or
    bonus: ``stored_value_remaining``, 409 — the member must spend it or have
    it refunded) or a recharge awaits payment (``recharge_pending``, 409: its
    payment could still arrive).  Otherwise:

    - places paid into 拼团 groups still open are refunded in full and 砍价 bargains not bought end
      (``growth.closure.member_growth_close``, first: its locks rank before all of these);
    - every usable point is forfeited by one ledger entry (``adjust``,
      source ``closure``), after expiring what is due;
    - every coupon not used yet (available, or locked by an unfinished order)
      is voided with the reason "account closed";
    - membership cards are revoked (``revoke_membership_cards``);
    - sessions are revoked, WeChat's session key and unsent subscription
      messages and credits are dropped;
    - openid becomes a random placeholder; unionid, phone, nickname, avatar,
      birthday and gender are cleared; the invite code is replaced (the old
      one no longer names anybody); ``closed_at`` is set.

    Locks in the one order (``loyalty.locks``): the member's recharge lock
    (no recharge opens meanwhile), the membership row (closures of one
    member queue here; the second finds it closed and returns the first
    result), cards, coupons by id, the member row (FOR NO KEY UPDATE: grants
    asking who may receive wait, while rows that merely refer to the member
    can still be written), the points account, the stored-value account.  A
    refusal found under a later lock rolls everything back.
    """
    now = timezone.now()
    with transaction.atomic():
        # Growth's payments and groups rank before every lock below; its refunds are submitted only
        # after commit, so a refusal below takes them back with the rest.
        growth_closed = growth_closure.member_growth_close(member_id=member_id, now=now)
        locks.advisory_lock(Space.RECHARGE, member_id)
        membership_lock(member_id=member_id)
        member = Member.objects.get(pk=member_id)
        if member.closed_at is not None:
            return Closure(member.pk, member.closed_at, 0, 0, replayed=True)
        pending = stored_value_selectors.recharge_orders(member_id=member.pk).filter(
            status=RechargeStatus.CREATED
        )
        if pending.exists():
            raise RechargePending(details={"recharge_ids": sorted(pending.values_list("pk", flat=True))})

        if CardPurchase.objects.filter(member_id=member.pk, status=PurchaseStatus.CREATED).exists():
            raise CardPurchasePending()
        # What is still in flight would hand value back to an anonymised account once it settles.
        if order_selectors.member_has_open_orders(member_id=member.pk):
            raise OrderInProgress()
        if mall_selectors.member_has_open_redemptions(member_id=member.pk):
            raise RedemptionInProgress()
        revoke_membership_cards(member_id=member.pk, reason=REASON)
        unused = (
            coupon_selectors.member_coupons(member_id=member.pk)
            .filter(status__in=[CouponStatus.AVAILABLE, CouponStatus.LOCKED])
            .order_by("id")
            .values_list("pk", flat=True)
        )
        coupon_ids = list(unused)
        for coupon_id in coupon_ids:
            coupon_services.coupon_void(
                coupon_id=coupon_id, actor_id=None, reason=REASON, even_if_locked=True
            )
        locks.note(Rank.MEMBER, "member (closure)")
        member = Member.objects.select_for_update(no_key=True).get(pk=member_id)
        forfeit = points_ledger.points_forfeit_all(
            member_id=member.pk, reason=REASON, idempotency_key=f"closure:{member.pk}", source=POINTS_SOURCE
        )
        principal_fen, bonus_fen, _frozen = stored_value_ledger.lock_account(member_id=member.pk)
        if principal_fen or bonus_fen:
            raise StoredValueRemaining(details={"principal_fen": principal_fen, "bonus_fen": bonus_fen})

        MemberToken.objects.filter(member=member, revoked_at__isnull=True).update(revoked_at=now)
        WechatSession.objects.filter(member=member).delete()
        notification_services.wechat_subscriptions_drop(member_id=member.pk, reason=REASON)

        member.openid = closed_openid()
        member.unionid = ""
        member.phone = ""
        member.nickname = ""
        member.avatar_url = ""
        member.birthday = None
        member.gender = Member.Gender.UNKNOWN
        member.invite_code = _new_invite_code()
        member.closed_at = now
        member.save(
            update_fields=[
                "openid",
                "unionid",
                "phone",
                "nickname",
                "avatar_url",
                "birthday",
                "gender",
                "invite_code",
                "closed_at",
            ]
        )
    return Closure(
        member.pk,
        now,
        -forfeit.amount,
        len(coupon_ids),
        group_places_refunded=growth_closed.places_refunded,
        bargains_ended=growth_closed.bargains_ended,
    )


def revoke_membership_cards(*, member_id: int, reason: str) -> int:
    """Revoke every card the member holds, with ``reason``; returns how many were revoked."""
    return cards_revoke_all(member_id=member_id, reason=reason)
