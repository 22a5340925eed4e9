"""Membership cards (会员卡): free, conditional and paid; claim, grant, trial, purchase, renewal, refund, revoke.

A member holds at most one card of a type (a unique constraint); claiming,
granting, buying and renewing all land on that one row and every change
writes a ``CardEvent``.  Every write for a member runs under the member's
``Membership`` row lock (``tiers.lock_membership``), which serialises a
member's claims, purchases and order completions, so a conditional card is
granted once however many orders complete at the same instant.

Paid cards are bought through ``payments`` (purpose ``card``): a purchase
row, a payment, then ``card_purchase_credit`` from the payment's
notification, once.  A renewal extends from the current expiry.  An
operator refunds the latest paid period pro rata: the unused time is taken
off the card and its share of the price goes back through WeChat Pay
(``loyalty.rounding.card_unused_refund``).

A conditional card is granted the moment its figure reaches the threshold:
paid spend and completed orders when an order completes, points earned
when points are posted (``cards_grant_for_points``, told by the points app).
A refund that takes the figure back below the threshold undoes a card
gained since the refunded order (``cards_undo_since``): it is revoked with
an ``undo`` event giving the reason, its opening pack is undone, and the
member is told.  Such a card, unlike one an operator revoked, is granted
again when the member genuinely meets the condition later.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from coupons.selectors import gift_pack_points_standing
from coupons.services import gift_pack_issue
from loyalty import locks, rounding
from loyalty.enqueue import enqueue_on_commit
from loyalty.locks import Rank
from members.receiving import members_receiving, receiving_q
from membership.benefits import card_types
from membership.exceptions import (
    CardAlreadyHeld,
    CardConditionNotMet,
    CardNotClaimable,
    CardNotForSale,
    CardNotFound,
    CardNotRefundable,
    CardPurchaseNotFound,
    CardPurchasePending,
    CardRevoked,
    CardTrialUsed,
    CardTypeNotFound,
    CardTypeUnavailable,
)
from membership.models import (
    CardCondition,
    CardEvent,
    CardKind,
    CardPeriod,
    CardPurchase,
    CardSource,
    CardStatus,
    CardType,
    CardValidity,
    Membership,
    MembershipCard,
    PurchaseStatus,
)
from membership.tiers import lock_membership, membership_policy, try_lock_membership
from notifications.services import Draft, notify_many
from payments import services as payments
from points.selectors import members_with_points_earned, points_earned_total
from stores.selectors import attribution

PAYMENT_PURPOSE = "card"
PAYMENT_TIMEOUT_MINUTES = 15
PERIOD_MONTHS = {CardPeriod.MONTH: 1, CardPeriod.QUARTER: 3, CardPeriod.YEAR: 12}
REVOKED_BEFORE_PAYMENT = "card revoked before payment arrived"  # the reason on its refund and event


# --- reading a card type --------------------------------------------------------------------


def type_available(card_type: CardType, now: datetime) -> bool:
    """Active, inside its availability window and (date-range validity) not already over."""
    return (
        card_type.is_active
        and (card_type.available_from is None or card_type.available_from <= now)
        and (card_type.available_until is None or now < card_type.available_until)
        and not (card_type.validity == CardValidity.RANGE and now >= card_type.valid_until)
    )


def validity_for(card_type: CardType, now: datetime) -> tuple[datetime, datetime | None]:
    """(valid_from, valid_until) of a card granted or claimed at ``now`` (paid cards: see purchases)."""
    if card_type.validity == CardValidity.DAYS:
        return now, now + timedelta(days=card_type.valid_days)
    if card_type.validity == CardValidity.RANGE:
        return card_type.valid_from, card_type.valid_until
    return now, None


def condition_progress(*, card_type: CardType, membership: Membership | None) -> int:
    """How far the member is toward a conditional card's threshold (same unit as the threshold)."""
    if card_type.condition == CardCondition.POINTS_EARNED:
        return points_earned_total(member_id=membership.member_id) if membership else 0
    if membership is None:
        return 0
    if card_type.condition == CardCondition.PAID_SPEND:
        return membership.paid_total_fen
    return membership.completed_orders


def _type(card_type_id: int) -> CardType:
    card_type = CardType.objects.filter(pk=card_type_id).first()
    if card_type is None:
        raise CardTypeNotFound()
    return card_type


@locks.takes(Rank.CARD)
def _held(member_id: int, card_type_id: int) -> MembershipCard | None:
    return (
        MembershipCard.objects.select_for_update()
        .filter(member_id=member_id, card_type_id=card_type_id)
        .first()
    )


def _event(
    card: MembershipCard, kind: str, *, reason: str = "", reference: str = "", actor_id=None
) -> CardEvent:
    return CardEvent.objects.create(
        card=card,
        kind=kind,
        valid_until=card.valid_until,
        reason=reason,
        reference=reference,
        actor_id=actor_id,
    )


def _issue(
    *,
    member_id: int,
    card_type: CardType,
    source: str,
    valid_from: datetime,
    valid_until: datetime | None,
    existing: MembershipCard | None,
    channel: str = "",
    staff: str = "",
    store_id: int | None = None,
    reason: str = "",
    actor_id=None,
    trial: bool = False,
    opening_pack: bool = True,
) -> MembershipCard:
    """Create the member's card of this type, or renew the existing row; event and opening gift pack."""
    if existing is None:
        card = MembershipCard.objects.create(
            member_id=member_id,
            card_type=card_type,
            source=source,
            valid_from=valid_from,
            valid_until=valid_until,
            channel=channel[:64],
            staff=staff[:64],
            store_id=store_id,
            trial_used=trial,
        )
    else:
        card = existing
        card.status = CardStatus.ACTIVE
        card.valid_from, card.valid_until = valid_from, valid_until
        card.trial_used = card.trial_used or trial
        fields = ["status", "valid_from", "valid_until", "trial_used"]
        if store_id is not None:  # claimed again at a counter: the card belongs to that store now
            card.store_id = store_id
            fields.append("store")
        card.save(update_fields=fields)
    _event(
        card,
        source,
        reason=reason,
        reference=f"{channel}/{staff}" if channel or staff else "",
        actor_id=actor_id,
    )
    if opening_pack and card_type.opening_pack_id:
        gift_pack_issue(
            pack_id=card_type.opening_pack_id, member_id=member_id, occasion=opening_occasion(card.pk)
        )
    return card


def opening_occasion(card_id: int) -> str:
    """The occasion of a card's opening pack: once per card row, so a card granted again gets none."""
    return f"card-open:{card_id}"


# --- free and conditional cards ---------------------------------------------------------------


def card_claim(
    *,
    member_id: int,
    card_type_id: int,
    channel: str = "",
    staff: str = "",
    store_code: str = "",
    now: datetime | None = None,
) -> MembershipCard:
    """A member claims a free card, or a conditional one whose condition they meet.

    ``channel`` / ``staff`` come from the link or QR code and attribute the
    claim: ``staff`` is kept as given (the tag old links carry) and is a
    staff member's 工号 when one has it, which the store reports count by;
    ``store_code`` (or, without it, the store of a staff member working in
    one) is the card's store.  Unknown codes are ignored
    (``stores.selectors.attribution``).  Refused with nothing written: a paid card (``card_not_claimable``),
    a type not available now, an unmet condition, a card already held and
    valid (``card_already_held``) or revoked.  An expired free card is
    claimed again (its validity starts afresh).
    """
    now = now or timezone.now()
    where = attribution(store_code=store_code, staff_code=staff)
    with transaction.atomic():
        membership = lock_membership(member_id=member_id)
        card_type = _type(card_type_id)
        if card_type.kind == CardKind.PAID:
            raise CardNotClaimable()
        if not type_available(card_type, now):
            raise CardTypeUnavailable()
        existing = _held(member_id, card_type.pk)
        _refuse_held(existing, now)
        if card_type.kind == CardKind.CONDITIONAL:
            progress = condition_progress(card_type=card_type, membership=membership)
            if progress < card_type.condition_threshold:
                raise CardConditionNotMet(
                    details={"progress": progress, "threshold": card_type.condition_threshold}
                )
        valid_from, valid_until = validity_for(card_type, now)
        return _issue(
            member_id=member_id,
            card_type=card_type,
            source="claim",
            valid_from=valid_from,
            valid_until=valid_until,
            existing=existing,
            channel=channel,
            staff=staff,
            store_id=where.store_id,
        )


#: The event that revokes a conditional card whose cause was refunded (see ``cards_undo_since``).
UNDO = "undo"


def _last_event_kind():
    return Subquery(CardEvent.objects.filter(card=OuterRef("pk")).order_by("-id").values("kind")[:1])


def _holding(cards):
    """``cards`` less the ones a refund undid: those do not count as held (they may be granted again)."""
    return cards.annotate(last_event=_last_event_kind()).exclude(status=CardStatus.REVOKED, last_event=UNDO)


def _refuse_held(existing: MembershipCard | None, now: datetime) -> None:
    if existing is None:
        return
    if existing.status == CardStatus.REVOKED:
        if existing.events.order_by("-id").values_list("kind", flat=True).first() == UNDO:
            return  # its cause was refunded: the member may meet the condition again
        raise CardRevoked()
    if existing.valid_until is None or existing.valid_until > now:
        raise CardAlreadyHeld()


def cards_grant_conditional(*, membership: Membership, now: datetime) -> list[MembershipCard]:
    """Grant every available conditional card whose threshold the member now meets. Membership row locked.

    Called when an order completes (inside checkout's transaction), when
    points are posted and by the nightly catch-up.  A card already held
    (valid, expired or revoked) is not granted again, except one a refund
    undid (``cards_undo_since``), which is granted again on its row.
    """
    offered = [t for _, t in sorted(card_types().items()) if t.kind == CardKind.CONDITIONAL and t.is_active]
    if not offered:
        return []

    def held() -> dict[int, MembershipCard]:
        cards = MembershipCard.objects.filter(member_id=membership.member_id).annotate(
            last_event=_last_event_kind()
        )
        return {c.card_type_id: c for c in cards}

    cards = held()
    granted = []
    for card_type in offered:
        existing = cards.get(card_type.pk)
        undone = (
            existing is not None and existing.status == CardStatus.REVOKED and existing.last_event == UNDO
        )
        if (existing is not None and not undone) or not type_available(card_type, now):
            continue
        if condition_progress(card_type=card_type, membership=membership) < card_type.condition_threshold:
            continue
        valid_from, valid_until = validity_for(card_type, now)
        granted.append(
            _issue(
                member_id=membership.member_id,
                card_type=card_type,
                source="condition",
                valid_from=valid_from,
                valid_until=valid_until,
                existing=existing,
            )
        )
        # The card's opening pack may have posted points, which may have granted a points card already.
        cards = held()
    return granted


def cards_grant_for_points(*, member_id: int, now: datetime | None = None) -> list[MembershipCard]:
    """Points were just posted to the member: grant the points-earned cards whose threshold they now reach.

    Told by ``points.earning`` (registered by ``MembershipConfig.ready``) after every earn,
    in the caller's transaction: sign-up, profile, check-in, purchase, the
    first-order and invite rewards, gift points.  An operator's adjustment
    is a correction, not an earning, and grants nothing.  Costs no query
    unless a points-earned card is offered and not yet held.

    The caller holds the member's points account, which comes after the
    membership in the lock order, so the membership is taken without
    waiting: held by this transaction already (an order completing, a card
    opening), the cards are granted under it; held by another (which may be
    waiting for these very points), they are granted by a task once this
    commits, and the nightly catch-up is the backstop.
    """
    now = now or timezone.now()
    offered = [
        t
        for t in card_types().values()
        if t.kind == CardKind.CONDITIONAL
        and t.condition == CardCondition.POINTS_EARNED
        and type_available(t, now)
    ]
    if not offered:
        return []
    held = set(
        _holding(MembershipCard.objects.filter(member_id=member_id, card_type__in=offered)).values_list(
            "card_type_id", flat=True
        )
    )
    due = [t for t in offered if t.pk not in held]
    if not due or points_earned_total(member_id=member_id) < min(t.condition_threshold for t in due):
        return []
    with transaction.atomic():
        membership = try_lock_membership(member_id=member_id)
        if membership is None:  # the nightly catch-up covers a broker outage
            enqueue_on_commit("membership.tasks.grant_conditional_cards", member_id)
            return []
        return cards_grant_conditional(membership=membership, now=now)


def cards_grant_conditional_now(*, member_id: int) -> list[MembershipCard]:
    """The conditional cards a member now meets, in a transaction of its own (the task behind
    ``cards_grant_for_points`` when the membership was busy). Safe to run twice."""
    with transaction.atomic():
        return cards_grant_conditional(membership=lock_membership(member_id=member_id), now=timezone.now())


def cards_undo_since(
    *, membership: Membership, since: datetime, now: datetime, note: str, points_clawed_back: int = 0
) -> list[MembershipCard]:
    """A refund took the member's figures back: revoke each conditional card gained since ``since`` (the
    refunded order's completion) whose condition they no longer meet.  Membership row locked.

    ``membership`` carries the figures after the refund (paid spend,
    completed orders); ``points_clawed_back`` is what the refund is about to
    take back of earned points (its order's points, the gift packs it
    undoes), which a points-earned card counts without; points cards are
    decided last, so the opening packs of the cards undone before them count
    too.  A card gained since: granted on its condition or claimed at or
    after ``since``.  Each is revoked at once with an ``undo`` event whose
    reason is ``note`` and the member notified (deduplicated per event); the
    caller undoes their opening packs (``opening_occasion``) with the other
    packs the refund undoes.  A card granted by an operator stays.
    """
    gained = sorted(
        MembershipCard.objects.filter(
            member_id=membership.member_id, status=CardStatus.ACTIVE, card_type__kind=CardKind.CONDITIONAL
        )
        .filter(
            Exists(
                CardEvent.objects.filter(
                    card=OuterRef("pk"), kind__in=("condition", "claim"), created_at__gte=since
                )
            )
        )
        .select_related("card_type"),
        key=lambda card: (card.card_type.condition == CardCondition.POINTS_EARNED, card.pk),
    )
    points_cards = any(card.card_type.condition == CardCondition.POINTS_EARNED for card in gained)
    undone, drafts = [], []
    for card in gained:
        card_type = card.card_type
        progress = condition_progress(card_type=card_type, membership=membership)
        if card_type.condition == CardCondition.POINTS_EARNED:
            progress -= points_clawed_back
        if progress >= card_type.condition_threshold:
            continue
        card.status = CardStatus.REVOKED
        card.save(update_fields=["status"])
        event = _event(card, UNDO, reason=note)
        undone.append(card)
        if points_cards and card_type.opening_pack_id:
            points_clawed_back += gift_pack_points_standing(
                member_id=membership.member_id, occasions=[opening_occasion(card.pk)], since=since
            )
        drafts.append(
            Draft(
                member_id=membership.member_id,
                kind="card_revoked",
                title=_("Your %(card)s has been withdrawn") % {"card": card_type.name},
                body=_("A refund took you below its condition. Meet it again and the card is yours again."),
                dedupe_key=f"card-undo:{event.pk}",
                data={"card_id": card.pk, "card_type_id": card_type.pk, "reason": note},
            )
        )
    notify_many(drafts)
    return undone


def cards_catch_up_conditional(*, now: datetime | None = None, chunk_size: int = 500) -> int:
    """Nightly: grant conditional cards the moment-of-completion path missed (rules changed, points earned).

    Candidates are found set-based per card type (members meeting the
    threshold without a card of it, never a closed account), then granted in
    bounded chunks, each member under their own lock in their own
    transaction.  Safe to rerun.
    """
    now = now or timezone.now()
    granted = 0
    for card_type in CardType.objects.filter(kind=CardKind.CONDITIONAL, is_active=True).order_by("pk"):
        if not type_available(card_type, now):
            continue
        if card_type.condition == CardCondition.POINTS_EARNED:
            candidates = members_with_points_earned(at_least=card_type.condition_threshold)
        else:
            field = (
                "paid_total_fen" if card_type.condition == CardCondition.PAID_SPEND else "completed_orders"
            )
            candidates = Membership.objects.filter(**{f"{field}__gte": card_type.condition_threshold}).values(
                "member_id"
            )
        pending = (
            members_receiving()
            .filter(pk__in=candidates)
            .exclude(
                Exists(_holding(MembershipCard.objects.filter(member=OuterRef("pk"), card_type=card_type)))
            )
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        after = 0
        while True:
            ids = list(pending.filter(pk__gt=after)[:chunk_size])
            if not ids:
                break
            for member_id in ids:
                with transaction.atomic():
                    membership = lock_membership(member_id=member_id)
                    granted += len(cards_grant_conditional(membership=membership, now=now))
            after = ids[-1]
    return granted


# --- operator grant and revoke ------------------------------------------------------------------


def card_grant(*, member_id: int, card_type_id: int, actor_id: int, reason: str, now=None) -> MembershipCard:
    """An operator gives a member a card of any kind (reactivating a revoked or expired one)."""
    now = now or timezone.now()
    with transaction.atomic():
        lock_membership(member_id=member_id)
        card_type = _type(card_type_id)
        existing = _held(member_id, card_type.pk)
        if existing is not None and existing.is_valid_at(now):
            raise CardAlreadyHeld()
        if card_type.kind == CardKind.PAID:
            valid_from, valid_until = now, _add_months(now, PERIOD_MONTHS[card_type.period])
        else:
            valid_from, valid_until = validity_for(card_type, now)
        return _issue(
            member_id=member_id,
            card_type=card_type,
            source="operator",
            valid_from=valid_from,
            valid_until=valid_until,
            existing=existing,
            reason=reason,
            actor_id=actor_id,
        )


def card_import(
    *, member_id: int, card_type_id: int, valid_until, actor_id: int, reason: str, now=None
) -> tuple[MembershipCard, bool]:
    """A card the member held in another system, carried over with its own validity; (card, created).

    No opening gift pack: the member had the card already.  A card of this type the member holds
    and that is still valid is kept as it is (``created`` False), so importing it again changes
    nothing; an expired or revoked one is renewed to the imported validity.
    """
    now = now or timezone.now()
    with transaction.atomic():
        lock_membership(member_id=member_id)
        card_type = _type(card_type_id)
        existing = _held(member_id, card_type.pk)
        if existing is not None and existing.is_valid_at(now):
            return existing, False
        card = _issue(
            member_id=member_id,
            card_type=card_type,
            source=CardSource.OPERATOR,
            valid_from=now,
            valid_until=valid_until,
            existing=existing,
            reason=reason,
            actor_id=actor_id,
            opening_pack=False,
        )
        return card, True


def card_revoke(*, card_id: int, actor_id: int, reason: str) -> MembershipCard:
    """An operator revokes a card: it stops giving benefits at once. Idempotent (revoking twice is a no-op)."""
    with transaction.atomic():
        card = MembershipCard.objects.filter(pk=card_id).first()
        if card is None:
            raise CardNotFound()
        lock_membership(member_id=card.member_id)
        locks.note(Rank.CARD, "card")
        card = MembershipCard.objects.select_for_update().get(pk=card_id)
        if card.status == CardStatus.REVOKED:
            return card
        card.status = CardStatus.REVOKED
        card.save(update_fields=["status"])
        _event(card, "revoke", reason=reason, actor_id=actor_id)
    return card


def cards_revoke_all(*, member_id: int, reason: str, actor_id: int | None = None) -> int:
    """Revoke every card the member still holds (account closure); returns how many. Idempotent."""
    with transaction.atomic():
        lock_membership(member_id=member_id)
        locks.note(Rank.CARD, "cards")
        held = list(
            MembershipCard.objects.select_for_update()
            .filter(member_id=member_id)
            .exclude(status=CardStatus.REVOKED)
            .order_by("pk")
        )
        for card in held:
            card.status = CardStatus.REVOKED
            card.save(update_fields=["status"])
            _event(card, "revoke", reason=reason, actor_id=actor_id)
    return len(held)


# --- paid cards -------------------------------------------------------------------------------


def _add_months(at: datetime, months: int) -> datetime:
    """Calendar months in merchant-local time (31 Jan + 1 month = 28/29 Feb, same clock time)."""
    return timezone.localtime(at) + relativedelta(months=months)


def card_trial(*, member_id: int, card_type_id: int, now=None) -> MembershipCard:
    """The free trial of a paid card: once per member, only before any purchase of it."""
    now = now or timezone.now()
    with transaction.atomic():
        lock_membership(member_id=member_id)
        card_type = _type(card_type_id)
        if card_type.kind != CardKind.PAID or card_type.trial_days <= 0:
            raise CardNotForSale()
        if not type_available(card_type, now):
            raise CardTypeUnavailable()
        existing = _held(member_id, card_type.pk)
        bought = CardPurchase.objects.filter(
            member_id=member_id,
            card_type=card_type,
            status__in=[PurchaseStatus.PAID, PurchaseStatus.REFUNDED],
        ).exists()
        if (existing is not None and existing.trial_used) or bought:
            raise CardTrialUsed()
        _refuse_held(existing, now)
        return _issue(
            member_id=member_id,
            card_type=card_type,
            source="trial",
            valid_from=now,
            valid_until=now + timedelta(days=card_type.trial_days),
            existing=existing,
            trial=True,
        )


def card_purchase_create(*, member, card_type_id: int, now=None) -> CardPurchase:
    """Start buying (or renewing) a paid card: the purchase and its payment, awaiting payment.

    Decided under the member's lock: the type must be a paid card available
    now, and no other purchase of it may be awaiting payment
    (``card_purchase_pending``, naming that purchase and its payment: two taps
    in parallel buy once).  The price and period are frozen on the purchase.
    No WeChat call: the caller asks ``payments.payment_prepay`` once no
    transaction is open (the API does it after its commit).
    """
    now = now or timezone.now()
    with transaction.atomic():
        lock_membership(member_id=member.pk)
        card_type = _type(card_type_id)
        if card_type.kind != CardKind.PAID:
            raise CardNotForSale()
        if not type_available(card_type, now):
            raise CardTypeUnavailable()
        existing = MembershipCard.objects.filter(member=member, card_type=card_type).first()
        if existing is not None and existing.status == CardStatus.REVOKED:
            raise CardRevoked()
        pending = (
            CardPurchase.objects.filter(
                member=member,
                card_type=card_type,
                status=PurchaseStatus.CREATED,
                created_at__gt=now - timedelta(minutes=PAYMENT_TIMEOUT_MINUTES),
            )
            .values("pk", "out_trade_no")
            .first()
        )
        if pending is not None:
            raise CardPurchasePending(
                details={"purchase_id": pending["pk"], "out_trade_no": pending["out_trade_no"]}
            )
        purchase = CardPurchase.objects.create(
            member=member, card_type=card_type, period=card_type.period, amount_fen=card_type.price_fen
        )
        payment = payments.payment_create(
            member=member,
            purpose=PAYMENT_PURPOSE,
            reference=str(purchase.pk),
            amount_fen=purchase.amount_fen,
            description=_("Membership card: %(name)s") % {"name": card_type.name},
            timeout_minutes=PAYMENT_TIMEOUT_MINUTES,
        )
        purchase.out_trade_no = payment.out_trade_no
        purchase.save(update_fields=["out_trade_no"])
    return purchase


def card_purchase_credit(*, payment) -> CardPurchase:
    """The payment succeeded: extend the card by one period from its current expiry (or from now). Once.

    Called by the payments app inside the transaction holding the payment's
    lock; idempotent all the same.  A purchase closed meanwhile is still
    credited: the money arrived.
    """
    locks.note(Rank.DOCUMENT, "card purchase")
    purchase = (
        CardPurchase.objects.select_for_update().select_related("card_type").get(pk=int(payment.reference))
    )
    if purchase.status not in (PurchaseStatus.CREATED, PurchaseStatus.CLOSED):
        return purchase
    if payment.amount_fen != purchase.amount_fen:
        raise ValueError(f"payment {payment.out_trade_no} does not match card purchase {purchase.pk}")
    now = timezone.now()
    lock_membership(member_id=purchase.member_id)
    existing = _held(purchase.member_id, purchase.card_type_id)
    if (existing is not None and existing.status == CardStatus.REVOKED) or not members_receiving().filter(
        pk=purchase.member_id
    ).exists():
        # Money for a card that was revoked (or an account closed) meanwhile: nothing is given, all is returned.
        purchase.status = PurchaseStatus.REFUNDED
        purchase.paid_at = purchase.refunded_at = now
        purchase.refunded_fen = purchase.amount_fen
        purchase.save(update_fields=["status", "paid_at", "refunded_at", "refunded_fen"])
        payments.payment_refund(
            payment=payment,
            amount_fen=purchase.amount_fen,
            reason=REVOKED_BEFORE_PAYMENT,
            out_refund_no=f"CARD{purchase.pk}",
        )
        return purchase
    start = now
    if (
        existing is not None
        and existing.status == CardStatus.ACTIVE
        and existing.valid_until
        and existing.valid_until > now
    ):
        start = existing.valid_until  # a renewal extends from the current expiry
    end = _add_months(start, PERIOD_MONTHS[purchase.period])
    renewal = existing is not None and existing.status == CardStatus.ACTIVE and start > now
    card = _issue(
        member_id=purchase.member_id,
        card_type=purchase.card_type,
        source="renew" if renewal else "purchase",
        valid_from=existing.valid_from if renewal else now,
        valid_until=end,
        existing=existing,
    )
    purchase.card = card
    purchase.status = PurchaseStatus.PAID
    purchase.paid_at = now
    purchase.period_start, purchase.period_end = start, end
    purchase.save(update_fields=["card", "status", "paid_at", "period_start", "period_end"])
    return purchase


def card_purchase_close(*, payment) -> None:
    CardPurchase.objects.filter(pk=int(payment.reference), status=PurchaseStatus.CREATED).update(
        status=PurchaseStatus.CLOSED
    )


def card_purchase_refund(*, purchase_id: int, actor_id: int, reason: str, now=None) -> CardPurchase:
    """Refund the latest paid period of a card pro rata, by an operator.

    The unused part of the period (from ``max(now, period_start)`` to its
    end) is taken off the card and floor(price × unused ÷ period) fen goes
    back through WeChat Pay, in one transaction with the card change.  Only
    the period that ends when the card ends can be refunded (refund later
    renewals first), so the time taken back is always the card's last.
    Idempotent: a refunded purchase is not refunded again.
    """
    now = now or timezone.now()
    with transaction.atomic():
        purchase = CardPurchase.objects.filter(pk=purchase_id).first()
        if purchase is None:
            raise CardPurchaseNotFound()
        if purchase.out_trade_no:
            payments.payment_lock(out_trade_no=purchase.out_trade_no)
        locks.note(Rank.DOCUMENT, "card purchase")
        purchase = CardPurchase.objects.select_for_update().get(pk=purchase_id)
        if purchase.status == PurchaseStatus.REFUNDED:
            return purchase
        lock_membership(member_id=purchase.member_id)
        locks.note(Rank.CARD, "card")
        card = MembershipCard.objects.select_for_update().filter(pk=purchase.card_id).first()
        if (
            purchase.status != PurchaseStatus.PAID
            or card is None
            or card.valid_until != purchase.period_end
            or purchase.period_end <= now
        ):
            raise CardNotRefundable()
        used_until = max(now, purchase.period_start)
        unused = int((purchase.period_end - used_until).total_seconds())
        period = int((purchase.period_end - purchase.period_start).total_seconds())
        refund_fen = rounding.card_unused_refund(
            amount_fen=purchase.amount_fen, unused_seconds=unused, period_seconds=period
        )
        card.valid_until = used_until
        card.save(update_fields=["valid_until"])
        _event(card, "refund", reason=reason, reference=purchase.out_trade_no, actor_id=actor_id)
        purchase.status = PurchaseStatus.REFUNDED
        purchase.refunded_fen = refund_fen
        purchase.refunded_at = now
        purchase.save(update_fields=["status", "refunded_fen", "refunded_at"])
        if refund_fen:
            payments.payment_refund(
                payment=payments.payment_get(out_trade_no=purchase.out_trade_no),
                amount_fen=refund_fen,
                reason=reason[:80],
                out_refund_no=f"CARD{purchase.pk}",
            )
    return purchase


# --- jobs ---------------------------------------------------------------------------------------


def cards_remind_expiring(*, now=None, days: int | None = None, chunk_size: int = 1000) -> int:
    """Remind holders of cards ending within ``days`` (policy default): once per card and expiry date.

    Paid cards get a renewal reminder; closed accounts get none.  Deduplicated
    by the notification service, so the job can run any number of times.
    Returns how many new.
    """
    now = now or timezone.now()
    days = days if days is not None else membership_policy().card_reminder_days
    due = (
        MembershipCard.objects.filter(
            receiving_q("member__"),
            status=CardStatus.ACTIVE,
            valid_until__gt=now,
            valid_until__lte=now + timedelta(days=days),
        )
        .select_related("card_type")
        .order_by("pk")
    )
    sent, after = 0, 0
    while True:
        batch = list(due.filter(pk__gt=after)[:chunk_size])
        if not batch:
            return sent
        sent += notify_many(_expiry_draft(card) for card in batch)
        after = batch[-1].pk


def _expiry_draft(card: MembershipCard) -> Draft:
    until = timezone.localtime(card.valid_until)
    paid = card.card_type.kind == CardKind.PAID
    return Draft(
        member_id=card.member_id,
        kind="card_renewal" if paid else "card_expiring",
        title=_("Your %(card)s expires soon") % {"card": card.card_type.name},
        body=(
            _("It expires on %(date)s. Renew now to keep its benefits.")
            if paid
            else _("It expires on %(date)s.")
        )
        % {"date": until.strftime("%Y-%m-%d %H:%M")},
        dedupe_key=f"card-expiring:{card.pk}:{until:%Y%m%d%H%M}",
        data={
            "card_id": card.pk,
            "card_type_id": card.card_type_id,
            "valid_until": card.valid_until.isoformat(),
        },
    )


def cards_issue_monthly(*, now=None, chunk_size: int = 500) -> int:
    """Give every valid card's monthly coupons (its type's monthly pack) once per card and month.

    The gift pack's occasion ``card-monthly:<card>:<YYYY-MM>`` makes a rerun
    a no-op.  Closed accounts get nothing.  Chunks by card id.  Returns how many cards were processed.
    """
    now = now or timezone.now()
    month = timezone.localtime(now).strftime("%Y-%m")
    cards = (
        MembershipCard.objects.filter(
            Q(valid_until__isnull=True) | Q(valid_until__gt=now),
            receiving_q("member__"),
            status=CardStatus.ACTIVE,
            valid_from__lte=now,
            card_type__monthly_pack__isnull=False,
            card_type__is_active=True,
        )
        .order_by("pk")
        .values_list("pk", "member_id", "card_type__monthly_pack_id")
    )
    done, after = 0, 0
    while True:
        batch = list(cards.filter(pk__gt=after)[:chunk_size])
        if not batch:
            return done
        for card_id, member_id, pack_id in batch:
            gift_pack_issue(pack_id=pack_id, member_id=member_id, occasion=f"card-monthly:{card_id}:{month}")
        done += len(batch)
        after = batch[-1][0]


def member_card_rows(*, member_id: int):
    return MembershipCard.objects.filter(member_id=member_id).select_related("card_type").order_by("-id")
