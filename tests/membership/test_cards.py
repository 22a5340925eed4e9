from datetime import timedelta

import pytest
from django.utils import timezone

from coupons.models import Coupon, GiftPackGrant, GiftPackItem
from loyalty.errors import ApplicationError
from members.services import member_login
from members.wechat import WechatSessionInfo
from membership import cards
from membership.benefits import member_benefits
from membership.models import CardEvent, CardPurchase, CardType, MembershipCard
from membership.services import membership_record_order, membership_record_refund
from notifications.models import Notification
from payments.models import Payment, PaymentRefund
from points import earning
from points import ledger as points_ledger
from points.models import PointsEntry
from tests.factories import CardTypeFactory, CouponTemplateFactory, GiftPackFactory, MemberFactory
from tests.helpers import assert_ledgers_consistent
from tests.membership.card_helpers import DAY, pay

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(tiers):
    return MemberFactory()


def card_snapshot(member):
    return (
        list(MembershipCard.objects.filter(member=member).values_list("pk", "status", "valid_until")),
        list(CardEvent.objects.filter(card__member=member).values_list("pk", flat=True)),
        list(CardPurchase.objects.filter(member=member).values_list("pk", "status")),
        list(Payment.objects.filter(member=member).values_list("pk", flat=True)),
    )


def refused(code, call):
    with pytest.raises(ApplicationError) as exc:
        call()
    assert exc.value.code == code


def test_a_free_card_is_claimed_with_its_channel_staff_tags_and_opening_pack(member):
    ct = CardTypeFactory(kind="free", validity="days", valid_days=30, opening_pack=GiftPackFactory(points=20))

    card = cards.card_claim(member_id=member.pk, card_type_id=ct.pk, channel="store-1", staff="s007")

    assert (card.channel, card.staff, card.source) == ("store-1", "s007", "claim")
    assert card.valid_until - card.valid_from == timedelta(days=30)
    assert GiftPackGrant.objects.filter(member=member, occasion=f"card-open:{card.pk}").count() == 1


def test_claiming_twice_is_refused_and_changes_nothing(member):
    ct = CardTypeFactory(kind="free")
    cards.card_claim(member_id=member.pk, card_type_id=ct.pk)
    before = card_snapshot(member)

    refused("card_already_held", lambda: cards.card_claim(member_id=member.pk, card_type_id=ct.pk))

    assert card_snapshot(member) == before


def test_an_expired_free_card_can_be_claimed_again(member):
    ct = CardTypeFactory(kind="free", validity="days", valid_days=10)
    first = cards.card_claim(member_id=member.pk, card_type_id=ct.pk, now=timezone.now() - 11 * DAY)

    again = cards.card_claim(member_id=member.pk, card_type_id=ct.pk)

    assert again.pk == first.pk and again.is_valid_at(timezone.now())


@pytest.mark.parametrize(
    "fields",
    [
        {"is_active": False},
        {"available_until": timezone.now() - DAY},
        {"available_from": timezone.now() + DAY},
        {"validity": "range", "valid_from": timezone.now() - 10 * DAY, "valid_until": timezone.now() - DAY},
    ],
)
def test_a_card_type_outside_its_window_is_refused_and_nothing_is_written(member, fields):
    ct = CardTypeFactory(kind="free", **fields)

    refused("card_type_unavailable", lambda: cards.card_claim(member_id=member.pk, card_type_id=ct.pk))

    assert card_snapshot(member) == ([], [], [], [])


def test_a_date_range_card_is_valid_for_its_range(member):
    start, end = timezone.now() - DAY, timezone.now() + 5 * DAY
    ct = CardTypeFactory(kind="free", validity="range", valid_from=start, valid_until=end)

    card = cards.card_claim(member_id=member.pk, card_type_id=ct.pk)

    assert (card.valid_from, card.valid_until) == (start, end)


def test_claiming_a_conditional_card_without_meeting_it_is_refused_with_the_progress(member):
    ct = CardTypeFactory(kind="conditional", condition="paid_spend", condition_threshold=100_000)
    membership_record_order(member_id=member.pk, order_no="A", paid_fen=99_999, completed_at=timezone.now())

    with pytest.raises(ApplicationError) as exc:
        cards.card_claim(member_id=member.pk, card_type_id=ct.pk)

    assert exc.value.code == "card_condition_not_met"
    assert exc.value.details == {"progress": 99_999, "threshold": 100_000}
    assert card_snapshot(member) == ([], [], [], [])


def test_design_example_three_a_card_is_granted_the_moment_spend_reaches_the_threshold(member):
    ct = CardTypeFactory(kind="conditional", condition="paid_spend", condition_threshold=100_000)
    membership_record_order(member_id=member.pk, order_no="A", paid_fen=60_000, completed_at=timezone.now())
    assert not MembershipCard.objects.filter(member=member).exists()

    membership_record_order(member_id=member.pk, order_no="B", paid_fen=40_000, completed_at=timezone.now())

    card = MembershipCard.objects.get(member=member)
    assert (card.card_type_id, card.source) == (ct.pk, "condition")


def test_an_order_count_card_is_granted_on_the_third_completed_order(member):
    CardTypeFactory(kind="conditional", condition="orders", condition_threshold=3)
    for n in range(2):
        membership_record_order(
            member_id=member.pk, order_no=f"O{n}", paid_fen=100, completed_at=timezone.now()
        )
    assert not MembershipCard.objects.filter(member=member).exists()

    membership_record_order(member_id=member.pk, order_no="O2", paid_fen=100, completed_at=timezone.now())

    assert MembershipCard.objects.filter(member=member).count() == 1


def test_the_nightly_catch_up_grants_points_cards_and_cards_of_new_rules_once(member):
    by_points = CardTypeFactory(kind="conditional", condition="points", condition_threshold=500)
    membership_record_order(member_id=member.pk, order_no="A", paid_fen=200_000, completed_at=timezone.now())
    by_spend = CardTypeFactory(
        kind="conditional", condition="paid_spend", condition_threshold=150_000
    )  # a rule added later
    # Points earned outside an order (a check-in, an invite): no order event to grant on.
    points_ledger.points_earn(
        member_id=member.pk, amount=500, idempotency_key="e", source="test", expires_at=None
    )
    assert not MembershipCard.objects.filter(member=member).exists()

    assert cards.cards_catch_up_conditional(chunk_size=1) == 2
    assert cards.cards_catch_up_conditional() == 0

    held = set(MembershipCard.objects.filter(member=member).values_list("card_type_id", flat=True))
    assert held == {by_points.pk, by_spend.pk}


def test_an_operator_grants_and_revokes_with_a_reason_and_a_revoked_card_gives_nothing(member, admin_user):
    ct = CardTypeFactory(kind="free")
    card = cards.card_grant(member_id=member.pk, card_type_id=ct.pk, actor_id=admin_user.pk, reason="补发")

    cards.card_revoke(card_id=card.pk, actor_id=admin_user.pk, reason="误发")
    cards.card_revoke(card_id=card.pk, actor_id=admin_user.pk, reason="误发")

    assert list(CardEvent.objects.filter(card=card).values_list("kind", "reason")) == [
        ("operator", "补发"),
        ("revoke", "误发"),
    ]
    from membership.selectors import member_card_type_ids

    assert member_card_type_ids(member_id=member.pk, at=timezone.now()) == set()
    refused("card_revoked", lambda: cards.card_claim(member_id=member.pk, card_type_id=ct.pk))


def test_a_paid_card_cannot_be_claimed(member):
    ct = CardTypeFactory(kind="paid")
    refused("card_not_claimable", lambda: cards.card_claim(member_id=member.pk, card_type_id=ct.pk))
    assert card_snapshot(member) == ([], [], [], [])


# --- paid cards -----------------------------------------------------------------------------


def test_a_paid_card_is_bought_renewed_from_its_expiry_and_the_renewal_refunded_pro_rata(member, admin_user):
    ct = CardTypeFactory(kind="paid", price_fen=3_000, period="month")

    first = cards.card_purchase_create(member=member, card_type_id=ct.pk)
    assert first.status == "created" and first.amount_fen == 3_000
    pay(first)
    card = MembershipCard.objects.get(member=member)
    assert first.status == "paid" and card.valid_until == first.period_end
    first_end = card.valid_until

    second = cards.card_purchase_create(member=member, card_type_id=ct.pk)
    pay(second)
    card.refresh_from_db()
    assert second.period_start == first_end  # renewal extends from the current expiry
    assert card.valid_until == second.period_end > first_end

    at = second.period_start + timedelta(days=10)
    refunded = cards.card_purchase_refund(
        purchase_id=second.pk, actor_id=admin_user.pk, reason="不想要了", now=at
    )

    period = int((second.period_end - second.period_start).total_seconds())
    unused = int((second.period_end - at).total_seconds())
    assert refunded.refunded_fen == 3_000 * unused // period
    card.refresh_from_db()
    assert card.valid_until == at
    refund = PaymentRefund.objects.get(out_refund_no=f"CARD{second.pk}")
    assert refund.amount_fen == refunded.refunded_fen


def test_refunding_an_earlier_period_before_the_later_one_is_refused(member, admin_user):
    ct = CardTypeFactory(kind="paid")
    first = cards.card_purchase_create(member=member, card_type_id=ct.pk)
    pay(first)
    second = cards.card_purchase_create(member=member, card_type_id=ct.pk)
    pay(second)
    before = card_snapshot(member)

    refused(
        "card_not_refundable",
        lambda: cards.card_purchase_refund(purchase_id=first.pk, actor_id=admin_user.pk, reason="x"),
    )

    assert card_snapshot(member) == before and not PaymentRefund.objects.exists()


def test_a_second_purchase_while_one_awaits_payment_is_refused(member):
    ct = CardTypeFactory(kind="paid")
    cards.card_purchase_create(member=member, card_type_id=ct.pk)
    before = card_snapshot(member)

    refused("card_purchase_pending", lambda: cards.card_purchase_create(member=member, card_type_id=ct.pk))

    assert card_snapshot(member) == before


def test_a_payment_notification_delivered_twice_credits_the_card_once(member):
    from payments import services as payments

    ct = CardTypeFactory(kind="paid")
    purchase = cards.card_purchase_create(member=member, card_type_id=ct.pk)
    payment = Payment.objects.get(out_trade_no=purchase.out_trade_no)
    headers, body = payments.payment_simulate_pay(payment=payment)
    card = MembershipCard.objects.get(member=member)
    until = card.valid_until

    payments.payment_handle_notification(headers=headers, body=body)

    card.refresh_from_db()
    assert card.valid_until == until
    assert CardEvent.objects.filter(card=card).count() == 1


def test_the_free_trial_is_once_per_member(member):
    ct = CardTypeFactory(kind="paid", trial_days=7)

    card = cards.card_trial(member_id=member.pk, card_type_id=ct.pk)
    assert card.valid_until - card.valid_from == timedelta(days=7) and card.trial_used

    refused("card_trial_used", lambda: cards.card_trial(member_id=member.pk, card_type_id=ct.pk))
    MembershipCard.objects.filter(pk=card.pk).update(valid_until=timezone.now() - DAY)
    refused("card_trial_used", lambda: cards.card_trial(member_id=member.pk, card_type_id=ct.pk))


def test_buying_during_a_trial_extends_from_the_trial_end(member):
    ct = CardTypeFactory(kind="paid", trial_days=7)
    trial = cards.card_trial(member_id=member.pk, card_type_id=ct.pk)

    purchase = cards.card_purchase_create(member=member, card_type_id=ct.pk)
    pay(purchase)

    assert purchase.period_start == trial.valid_until


# --- jobs ----------------------------------------------------------------------------------------


def test_expiring_cards_are_reminded_once_and_paid_ones_asked_to_renew(member):
    free = CardTypeFactory(kind="free", validity="days", valid_days=5)
    paid = CardTypeFactory(kind="paid", trial_days=3)
    far = CardTypeFactory(kind="free", name="far", validity="days", valid_days=30)
    cards.card_claim(member_id=member.pk, card_type_id=free.pk)
    cards.card_trial(member_id=member.pk, card_type_id=paid.pk)
    cards.card_claim(member_id=member.pk, card_type_id=far.pk)

    assert cards.cards_remind_expiring(days=7) == 2
    assert cards.cards_remind_expiring(days=7) == 0

    kinds = sorted(Notification.objects.filter(member=member).values_list("kind", flat=True))
    assert kinds == ["card_expiring", "card_renewal"]


def test_monthly_coupons_are_given_once_per_card_and_month(member):
    ct = CardTypeFactory(kind="free", monthly_pack=GiftPackFactory(name="月度券", points=5))
    card = cards.card_claim(member_id=member.pk, card_type_id=ct.pk)

    cards.cards_issue_monthly()
    cards.cards_issue_monthly()

    month = timezone.localtime().strftime("%Y-%m")
    assert list(GiftPackGrant.objects.filter(member=member).values_list("occasion", flat=True)) == [
        f"card-monthly:{card.pk}:{month}"
    ]


def test_another_member_cannot_be_granted_a_card_twice_by_the_catch_up_and_an_order(tiers):
    member = MemberFactory()
    CardTypeFactory(kind="conditional", condition="orders", condition_threshold=1)
    membership_record_order(member_id=member.pk, order_no="A", paid_fen=1, completed_at=timezone.now())

    assert cards.cards_catch_up_conditional() == 0
    assert MembershipCard.objects.filter(member=member).count() == 1


def test_money_arriving_for_a_card_revoked_meanwhile_is_refunded_whole_and_the_card_stays_revoked(
    member, admin_user
):

    ct = CardTypeFactory(kind="paid", trial_days=7)
    trial = cards.card_trial(member_id=member.pk, card_type_id=ct.pk)
    purchase = cards.card_purchase_create(member=member, card_type_id=ct.pk)
    cards.card_revoke(card_id=trial.pk, actor_id=admin_user.pk, reason="abuse")

    pay(purchase)

    assert purchase.status == "refunded" and purchase.refunded_fen == purchase.amount_fen
    assert MembershipCard.objects.get(pk=trial.pk).status == "revoked"
    assert PaymentRefund.objects.filter(out_refund_no=f"CARD{purchase.pk}", amount_fen=1_990).exists()
    assert_ledgers_consistent()


# --- refunds undo the cards they take below their condition (issue #19) ---------------------------


def card_state(member, ct):
    """(status, last event kind, its reason) of the member's card of ``ct``."""
    card = MembershipCard.objects.get(member=member, card_type=ct)
    last = card.events.order_by("-id").first()
    return card.status, last.kind, last.reason


def opening_pack_state(member, ct):
    """(coupon statuses, points left) of the opening pack of the member's card of ``ct``."""
    card = MembershipCard.objects.get(member=member, card_type=ct)
    grant = GiftPackGrant.objects.get(member=member, occasion=f"card-open:{card.pk}")
    coupons = list(
        Coupon.objects.filter(member=member, issue_key__startswith=f"pack:{grant.pk}:").values_list(
            "status", flat=True
        )
    )
    gift = PointsEntry.objects.get(account__member=member, idempotency_key=f"gift-pack:{grant.pk}")
    return coupons, gift.amount + sum(r.amount for r in gift.reversals.all())


def test_a_refund_below_a_spend_card_threshold_revokes_the_card_with_its_reason_pack_and_notice(member):
    opening = GiftPackFactory(points=30)
    GiftPackItem.objects.create(pack=opening, template=CouponTemplateFactory(per_member_limit=5))
    ct = CardTypeFactory(
        kind="conditional",
        condition="paid_spend",
        condition_threshold=100_000,
        opening_pack=opening,
        discount_bp=1000,
    )
    membership_record_order(member_id=member.pk, order_no="A", paid_fen=120_000, completed_at=timezone.now())
    membership_record_refund(member_id=member.pk, order_no="A", refund_no="R1", paid_fen=20_000)
    assert card_state(member, ct) == ("active", "condition", "")  # 100,000 left: still met

    membership_record_refund(member_id=member.pk, order_no="A", refund_no="R2", paid_fen=1)

    assert card_state(member, ct) == ("revoked", "undo", "order A refunded (R2)")
    assert opening_pack_state(member, ct) == (["voided"], 0)
    assert member_benefits(member_id=member.pk, at=timezone.now()).discount_bp == 0
    notices = Notification.objects.filter(member=member, kind="card_revoked")
    assert notices.count() == 1 and notices.get().data["reason"] == "order A refunded (R2)"
    membership_record_refund(member_id=member.pk, order_no="A", refund_no="R2", paid_fen=1)  # replay
    assert notices.count() == 1 and CardEvent.objects.filter(kind="undo").count() == 1


def test_an_order_card_goes_with_its_fully_refunded_order_and_comes_back_with_a_real_one(member):
    ct = CardTypeFactory(
        kind="conditional", condition="orders", condition_threshold=1, opening_pack=GiftPackFactory(points=20)
    )
    membership_record_order(member_id=member.pk, order_no="A", paid_fen=5_000, completed_at=timezone.now())
    membership_record_refund(
        member_id=member.pk, order_no="A", refund_no="R", paid_fen=5_000, fully_refunded=True
    )
    assert card_state(member, ct) == ("revoked", "undo", "order A refunded (R)")

    membership_record_order(member_id=member.pk, order_no="B", paid_fen=5_000, completed_at=timezone.now())

    card = MembershipCard.objects.get(member=member)
    assert card.status == "active"
    assert list(card.events.order_by("id").values_list("kind", flat=True)) == [
        "condition",
        "undo",
        "condition",
    ]
    # The opening pack was given once, undone with the card, and is not given again.
    assert opening_pack_state(member, ct) == ([], 0)
    assert GiftPackGrant.objects.filter(member=member).count() == 1


def test_a_card_an_undone_refund_took_may_be_claimed_again_once_the_condition_is_met(member):
    ct = CardTypeFactory(kind="conditional", condition="paid_spend", condition_threshold=100_000)
    membership_record_order(member_id=member.pk, order_no="A", paid_fen=100_000, completed_at=timezone.now())
    membership_record_refund(member_id=member.pk, order_no="A", refund_no="R", paid_fen=100_000)
    membership_record_order(member_id=member.pk, order_no="B", paid_fen=50_000, completed_at=timezone.now())
    refused("card_condition_not_met", lambda: cards.card_claim(member_id=member.pk, card_type_id=ct.pk))
    CardType.objects.filter(pk=ct.pk).update(condition_threshold=50_000)  # the merchant lowers the bar

    card = cards.card_claim(member_id=member.pk, card_type_id=ct.pk)

    assert card.status == "active" and card_state(member, ct)[1] == "claim"


def test_a_card_an_operator_granted_stays_through_a_refund(member, admin_user):
    ct = CardTypeFactory(kind="conditional", condition="paid_spend", condition_threshold=100_000)
    membership_record_order(member_id=member.pk, order_no="A", paid_fen=10_000, completed_at=timezone.now())
    cards.card_grant(member_id=member.pk, card_type_id=ct.pk, actor_id=admin_user.pk, reason="VIP")

    membership_record_refund(
        member_id=member.pk, order_no="A", refund_no="R", paid_fen=10_000, fully_refunded=True
    )

    assert card_state(member, ct) == ("active", "operator", "VIP")


# --- points-earned cards are granted when the points are posted (issue #19) --------------------


def test_a_check_in_grants_a_points_card_at_once(member):
    ct = CardTypeFactory(kind="conditional", condition="points", condition_threshold=105)
    membership_record_order(member_id=member.pk, order_no="A", paid_fen=100, completed_at=timezone.now())
    points_ledger.points_earn(
        member_id=member.pk, amount=100, idempotency_key="e", source="test", expires_at=None
    )
    assert not MembershipCard.objects.filter(member=member).exists()

    earning.points_check_in(member_id=member.pk)  # 5 points

    assert card_state(member, ct) == ("active", "condition", "")


def test_a_sign_up_grants_a_points_card_once_its_transaction_commits(db, django_capture_on_commit_callbacks):
    ct = CardTypeFactory(kind="conditional", condition="points", condition_threshold=100)
    session = WechatSessionInfo(openid="o-new", unionid="", session_key="k")

    with django_capture_on_commit_callbacks(execute=True):
        result = member_login(session=session)  # 100 sign-up points; no membership row yet: a task grants

    assert card_state(result.member, ct) == ("active", "condition", "")


def test_an_operator_adjustment_is_not_points_earned_and_grants_no_points_card(member, admin_user):
    CardTypeFactory(kind="conditional", condition="points", condition_threshold=100)
    membership_record_order(member_id=member.pk, order_no="A", paid_fen=100, completed_at=timezone.now())

    points_ledger.points_adjust(
        member_id=member.pk, amount=1_000, reason="goodwill", actor_id=admin_user.pk, idempotency_key="adj"
    )

    assert cards.cards_catch_up_conditional() == 0
    assert not MembershipCard.objects.filter(member=member).exists()


def test_points_clawed_back_no_longer_count_as_earned(member):
    CardTypeFactory(kind="conditional", condition="points", condition_threshold=100)
    entry = points_ledger.points_earn(
        member_id=member.pk, amount=100, idempotency_key="e", source="test", expires_at=None
    )
    points_ledger.points_reverse(member_id=member.pk, entry_id=entry.entry_id, idempotency_key="r", amount=1)

    assert cards.cards_catch_up_conditional() == 0
    assert not MembershipCard.objects.filter(member=member).exists()
