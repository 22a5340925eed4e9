"""Commit, cancel, complete and refund: each once, in order, exact to the fen."""

import pytest

from coupons import services as coupon_services
from coupons.models import Coupon
from loyalty.errors import ApplicationError
from members.closure import member_close
from orders import services
from orders.models import Order, OrderEvent, Refund
from orders.quote import compute_quote
from points import ledger as points_ledger
from points.models import PointsEntry
from tests.factories import CardTypeFactory, CouponTemplateFactory, MemberFactory, RechargeFactory
from tests.helpers import assert_ledgers_consistent, points_of
from tests.orders.helpers import basket, commit, snapshot
from tests.stored_value.helpers import parts

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("default_rules")]


@pytest.fixture
def member():
    m = MemberFactory()
    RechargeFactory(member=m, amount_fen=100_000, bonus_fen=10_000)
    points_ledger.points_earn(
        member_id=m.pk, amount=5_000, idempotency_key="seed", source="test", expires_at=None
    )
    return m


@pytest.fixture
def coupon(member):
    return coupon_services.coupon_claim(
        member=member, template_id=CouponTemplateFactory().pk, idempotency_key="k"
    )


def full_basket(**extra):
    fields = {"shipping_fen": 1_000, "points": 2_000, "stored_value_fen": 30_000, **extra}
    return basket(
        ("SHIRT", 9_900, 3, "apparel"), ("SOCKS", 1_990, 2, "apparel"), ("TEA", 4_500, 1, "tea"), **fields
    )


def refused(code, fn, member):
    before = snapshot(member)
    with pytest.raises(ApplicationError) as error:
        fn()
    assert error.value.code == code
    assert snapshot(member) == before


def test_commit_locks_the_coupon_spends_points_and_debits_stored_value_in_one_go(member, coupon):
    order = commit(member, full_basket(), order_no="A1")

    assert Coupon.objects.get(pk=coupon.pk).status == "locked"
    assert points_of(member) == 3_000 and sum(parts(member)) == 110_000 - 30_000
    assert order.status == "committed" and order.coupon_ids == [coupon.pk]
    assert order.cash_fen == 29_700 + 3_980 + 4_500 + 1_000 - 2_000 - 2_000 - 30_000
    assert list(OrderEvent.objects.filter(order=order).values_list("kind", flat=True)) == ["commit"]


def test_a_repeated_commit_returns_the_first_order_and_another_basket_under_its_number_conflicts(member):
    first = commit(member, full_basket(), order_no="A1")
    quote = compute_quote(member_id=member.pk, basket=full_basket())
    before = snapshot(member)

    again = services.order_commit(
        member_id=member.pk, order_no="A1", basket=full_basket(), quote_hash=quote.fingerprint
    )

    assert again.replayed and again.order.pk == first.pk
    assert snapshot(member) == before
    refused("idempotency_conflict", lambda: commit(member, full_basket(points=0), order_no="A1"), member)


def test_a_stale_quote_is_refused_with_a_fresh_one_and_nothing_written(member, coupon):
    quote = compute_quote(member_id=member.pk, basket=full_basket())
    coupon_services.coupon_redeem_code(code=coupon.code, order_no="POS-9")  # the coupon went elsewhere
    before = snapshot(member)

    with pytest.raises(ApplicationError) as error:
        services.order_commit(
            member_id=member.pk, order_no="A1", basket=full_basket(), quote_hash=quote.fingerprint
        )

    assert error.value.code == "quote_stale" and error.value.status_code == 409
    fresh = error.value.details["quote"]
    assert fresh["coupon_ids"] == [] and fresh["fingerprint"] != quote.fingerprint
    assert snapshot(member) == before
    # The fresh quote commits.
    order = services.order_commit(
        member_id=member.pk, order_no="A1", basket=full_basket(), quote_hash=fresh["fingerprint"]
    ).order
    assert order.coupon_discount_fen == 0


def test_a_chosen_coupon_gone_or_a_balance_spent_meanwhile_makes_the_quote_stale(member, coupon):
    chosen = full_basket(coupon_ids=[coupon.pk], stored_value_fen=30_000)
    quote = compute_quote(member_id=member.pk, basket=chosen)
    from tests.stored_value.helpers import spend

    spend(member, 90_000)

    with pytest.raises(ApplicationError) as error:
        services.order_commit(member_id=member.pk, order_no="A1", basket=chosen, quote_hash=quote.fingerprint)

    assert error.value.code == "quote_stale"
    assert error.value.details["reason"] == "insufficient_balance"
    assert error.value.details["quote"]["stored_value_fen"] == 20_000  # what is left
    assert not Order.objects.exists()


def test_cancel_releases_everything_and_a_second_cancel_changes_nothing(member, coupon):
    before = (parts(member), points_of(member))
    order = commit(member, full_basket(), order_no="A1")

    services.order_cancel(order_no="A1")
    after_cancel = snapshot(member)
    again = services.order_cancel(order_no="A1")

    assert again.replayed and snapshot(member) == after_cancel
    assert (parts(member), points_of(member)) == before
    assert Coupon.objects.get(pk=coupon.pk).status == "available"
    assert Order.objects.get(pk=order.pk).status == "cancelled"


def test_complete_uses_the_coupon_earns_points_once_and_pays_first_order_and_invite_rewards(coupon):
    inviter = MemberFactory()
    member = coupon.member
    member.referrer = inviter
    member.save()
    order = commit(member, full_basket(), order_no="A1")
    points_before = points_of(member)

    services.order_complete(order_no="A1")
    after = snapshot(member), points_of(inviter)
    replay = services.order_complete(order_no="A1")

    order.refresh_from_db()
    paid = order.stored_value_fen + order.cash_fen - 1_000  # shipping earns nothing
    assert order.status == "completed" and order.earned_points == paid // 100
    assert points_of(member) == points_before + paid // 100 + 50 + 50  # purchase, first order, invitee
    assert points_of(inviter) == 100
    assert Coupon.objects.get(pk=coupon.pk).status == "used"
    assert replay.replayed and (snapshot(member), points_of(inviter)) == after


def test_an_inviter_who_closed_their_account_gets_no_invite_reward_and_the_friend_still_does(member):
    inviter = MemberFactory()
    member.referrer = inviter
    member.save()
    member_close(member_id=inviter.pk)
    inviter_entries = PointsEntry.objects.filter(account__member=inviter).count()
    points_before = points_of(member)
    commit(member, basket(("TEA", 4_500, 2), stored_value_fen=9_000), order_no="F1")

    services.order_complete(order_no="F1")

    assert PointsEntry.objects.filter(account__member=inviter).count() == inviter_entries
    assert points_of(inviter) == 0
    assert points_of(member) == points_before + 90 + 50 + 50  # purchase, first order, invitee


def test_a_whole_refund_takes_back_the_first_order_and_invite_rewards_of_that_order(member):
    inviter = MemberFactory()
    member.referrer = inviter
    member.save()
    points_before = points_of(member)
    commit(member, basket(("TEA", 4_500, 2), stored_value_fen=9_000), order_no="F1")
    services.order_complete(order_no="F1")
    services.order_refund(order_no="F1", refund_no="R1", lines=[(1, 1)])
    assert points_of(inviter) == 100  # a partial refund keeps them

    services.order_refund(order_no="F1", refund_no="R2")

    assert points_of(member) == points_before and points_of(inviter) == 0
    rewards = PointsEntry.objects.filter(
        kind="earn", reference="F1", source__in=["first_order", "invitee", "inviter"]
    )
    assert rewards.count() == 3 and all(e.reversals.exists() for e in rewards)


def test_a_first_order_that_paid_nothing_earns_no_first_order_or_invite_reward(member):
    inviter = MemberFactory()
    member.referrer = inviter
    member.save()
    from orders.quote import checkout_settings

    checkout_settings().__class__.objects.update(max_share_bp=10_000)  # points may pay it all
    commit(member, basket(("TEA", 1_000, 1), points=1_000), order_no="Z1")
    points_before = points_of(member)

    services.order_complete(order_no="Z1")

    assert points_of(member) == points_before and points_of(inviter) == 0


def test_refund_numbers_are_per_order_so_two_orders_may_both_have_a_refund_number_1(member):
    for order_no in ("N1", "N2"):
        commit(member, basket(("TEA", 4_500, 1), stored_value_fen=4_500), order_no=order_no)
        services.order_complete(order_no=order_no)
    before = sum(parts(member))

    for order_no in ("N1", "N2"):
        services.order_refund(order_no=order_no, refund_no="1")

    assert sum(parts(member)) == before + 9_000
    assert Refund.objects.filter(refund_no="1").count() == 2


def test_membership_is_told_of_the_completion_and_every_refund(member, monkeypatch):
    calls = []
    monkeypatch.setattr(
        "membership.services.membership_record_order", lambda **kw: calls.append(("order", kw))
    )
    monkeypatch.setattr(
        "membership.services.membership_record_refund", lambda **kw: calls.append(("refund", kw))
    )
    commit(member, full_basket(points=0, stored_value_fen=0), order_no="A1")

    services.order_complete(order_no="A1")
    services.order_refund(order_no="A1", refund_no="R1", lines=[(3, 1)])

    assert [c[0] for c in calls] == ["order", "refund"]
    assert calls[0][1]["paid_fen"] == 29_700 + 3_980 + 4_500
    assert calls[1][1]["paid_fen"] == 4_500
    assert calls[1][1]["refund_no"] == "R1"


def test_partial_refunds_by_line_and_quantity_add_up_to_the_order_exactly(member, coupon):
    before = (parts(member), points_of(member))
    order = commit(member, full_basket(), order_no="A1")
    services.order_complete(order_no="A1")
    earned = Order.objects.get(pk=order.pk).earned_points

    r1 = services.order_refund(order_no="A1", refund_no="R1", lines=[(1, 1)]).refund
    r2 = services.order_refund(order_no="A1", refund_no="R2", lines=[(1, 1), (2, 2)]).refund
    r3 = services.order_refund(order_no="A1", refund_no="R3").refund  # the rest

    refunds = [r1, r2, r3]
    order.refresh_from_db()
    assert order.status == "refunded"
    assert sum(r.stored_value_fen for r in refunds) == order.stored_value_fen
    assert sum(r.cash_fen for r in refunds) == order.cash_fen
    assert sum(r.points for r in refunds) == order.points_used
    assert sum(r.earned_points_reversed for r in refunds) == earned
    assert r3.shipping_fen == 1_000 and r1.shipping_fen == r2.shipping_fen == 0
    # Everything back as before the order, the first-order bonus included (it was this order's).
    assert (parts(member), points_of(member)) == before
    assert Coupon.objects.get(pk=coupon.pk).status == "available"  # whole order refunded, still valid


def test_events_out_of_order_are_refused_with_stable_codes_and_nothing_written(member):
    commit(member, full_basket(), order_no="A1")
    refused("order_not_completed", lambda: services.order_refund(order_no="A1", refund_no="R1"), member)
    services.order_complete(order_no="A1")
    refused("order_already_completed", lambda: services.order_cancel(order_no="A1"), member)
    refused(
        "refund_exceeds_remaining",
        lambda: services.order_refund(order_no="A1", refund_no="R1", lines=[(1, 4)]),
        member,
    )
    refused(
        "refund_line_not_found",
        lambda: services.order_refund(order_no="A1", refund_no="R1", lines=[(9, 1)]),
        member,
    )
    services.order_refund(order_no="A1", refund_no="R1")
    refused("order_fully_refunded", lambda: services.order_complete(order_no="A1"), member)
    refused("order_fully_refunded", lambda: services.order_refund(order_no="A1", refund_no="R2"), member)
    refused("order_not_found", lambda: services.order_complete(order_no="nope"), member)

    commit(member, full_basket(points=0, stored_value_fen=0), order_no="A2")
    services.order_cancel(order_no="A2")
    refused("order_cancelled", lambda: services.order_complete(order_no="A2"), member)


def test_a_replayed_refund_changes_nothing_and_the_same_number_with_other_lines_conflicts(member):
    commit(member, full_basket(), order_no="A1")
    services.order_complete(order_no="A1")
    first = services.order_refund(order_no="A1", refund_no="R1", lines=[(1, 2)]).refund
    before = snapshot(member)

    again = services.order_refund(order_no="A1", refund_no="R1", lines=[(1, 2)])

    assert again.replayed and again.refund.pk == first.pk and snapshot(member) == before
    refused(
        "idempotency_conflict",
        lambda: services.order_refund(order_no="A1", refund_no="R1", lines=[(1, 1)]),
        member,
    )
    assert Refund.objects.count() == 1


def test_the_timeout_job_cancels_unpaid_orders_only_and_running_it_twice_changes_nothing(member, coupon):
    from datetime import timedelta

    from django.utils import timezone

    before = (parts(member), points_of(member))
    commit(member, full_basket(), order_no="OLD")
    commit(member, full_basket(points=0, stored_value_fen=0, coupon_ids=[]), order_no="PAID")
    services.order_complete(order_no="PAID")
    later = timezone.now() + timedelta(minutes=31)

    assert services.orders_cancel_expired(now=later) == 1
    after = snapshot(member)
    assert services.orders_cancel_expired(now=later) == 0

    assert snapshot(member) == after
    assert dict(Order.objects.values_list("order_no", "status")) == {"OLD": "cancelled", "PAID": "completed"}
    assert (
        parts(member),
        points_of(member) - Order.objects.get(order_no="PAID").earned_points - 50,
    ) == before
    assert Coupon.objects.get(pk=coupon.pk).status == "available"


def test_refunded_points_go_back_to_the_lots_they_came_from():
    member = MemberFactory()
    for i, expires in enumerate([None, "2099-01-01T00:00:00+08:00"]):
        points_ledger.points_earn(
            member_id=member.pk, amount=1_000, idempotency_key=f"lot{i}", source="test", expires_at=expires
        )
    commit(member, basket(("A", 10_000, 2), points=1_500), order_no="A1")
    services.order_complete(order_no="A1")

    services.order_refund(order_no="A1", refund_no="R1")

    from points.models import PointsLot

    assert sorted(
        PointsLot.objects.filter(account__member=member, source="test").values_list("remaining", flat=True)
    ) == [
        1_000,
        1_000,
    ]
    # The spend given back, the purchase points and the first-order reward clawed back.
    assert PointsEntry.objects.filter(account__member=member, kind="reverse").count() == 3


def test_the_timeout_task_runs_the_job(member, settings):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    from orders.tasks import cancel_expired

    commit(member, full_basket(), order_no="OLD")
    with time_machine.travel(timezone.now() + timedelta(minutes=31)):
        assert cancel_expired.apply().get() == 1
    assert Order.objects.get(order_no="OLD").status == "cancelled"


def test_the_stale_lock_backstop_leaves_an_open_orders_coupon_so_the_order_still_completes(member, coupon):
    from datetime import timedelta

    import time_machine

    from coupons.tasks import release_stale_locks

    commit(member, full_basket(), order_no="LATE")
    locked_until = Coupon.objects.get(pk=coupon.pk).locked_until

    # The unpaid-order timeout did not run (or failed on this order): the lock is past its expiry.
    with time_machine.travel(locked_until + timedelta(minutes=5)):
        released = release_stale_locks.apply().get()
        order = services.order_complete(order_no="LATE").order  # coupon_not_available if it was released

    assert (released, order.status) == (0, "completed")
    used = Coupon.objects.get(pk=coupon.pk)
    assert (used.status, used.order_no) == ("used", "LATE")


def test_the_stale_lock_backstop_still_releases_the_coupon_of_a_closed_order(member, coupon):
    from datetime import timedelta

    from django.utils import timezone

    from coupons.models import CouponEvent

    commit(member, full_basket(), order_no="GONE")
    # A cancel that did not release its coupon (an order closed outside the services).
    Order.objects.filter(order_no="GONE").update(status="cancelled")
    assert coupon_services.coupons_release_stale_locks(now=timezone.now() + timedelta(minutes=10)) == 0

    assert coupon_services.coupons_release_stale_locks(now=timezone.now() + timedelta(minutes=61)) == 1

    released = Coupon.objects.get(pk=coupon.pk)
    assert (released.status, released.order_no, released.locked_until) == ("available", "", None)
    assert CouponEvent.objects.get(coupon=coupon, kind="released").order_no == "GONE"


# --- what an order earns, and what its refund takes back (issue #19) ----------------------------


def _membership_rules(upgrade_packs=False):
    from tests.membership.helpers import policy, set_tiers

    policy(window_months=12, protection_days=90, downgrade_period_days=30, growth_per_yuan=1)
    # Level 1 from ¥1,000 of growth: 2% off and ×1.5 points.
    set_tiers((0, 0), (1, 100_000 // 100, 200, "1.5"), upgrade_packs=upgrade_packs)


def _spend_card(**fields):

    return CardTypeFactory(kind="conditional", condition="paid_spend", condition_threshold=100_000, **fields)


def test_a_refunded_order_keeps_none_of_the_tier_card_count_and_perks_it_earned(member):
    from django.utils import timezone

    from membership.benefits import member_benefits
    from membership.models import Membership, MembershipCard, TierChange
    from notifications.models import Notification

    _membership_rules(upgrade_packs=True)
    card = _spend_card(discount_bp=1_000)
    points_before = points_of(member)
    commit(member, basket(("COAT", 120_000, 1)), order_no="C1")  # ¥1,200 in cash
    services.order_complete(order_no="C1")
    m = Membership.objects.get(member=member)
    assert (m.tier_level, m.completed_orders) == (1, 1) and m.protected_until is not None
    assert MembershipCard.objects.get(member=member, card_type=card).status == "active"
    assert member_benefits(member_id=member.pk, at=timezone.now()).discount_bp == 1_000

    services.order_refund(order_no="C1", refund_no="R1")

    m.refresh_from_db()
    assert (m.tier_level, m.growth_total, m.paid_total_fen, m.completed_orders) == (0, 0, 0, 0)
    assert m.protected_until is None
    change = TierChange.objects.filter(member=member).order_by("pk").last()
    assert (change.from_level, change.to_level, change.reason, change.note) == (
        1,
        0,
        "refund",
        "order C1 refunded (R1)",
    )
    revoked = MembershipCard.objects.get(member=member, card_type=card)
    undo = revoked.events.order_by("id").last()
    assert (revoked.status, undo.kind, undo.reason) == ("revoked", "undo", "order C1 refunded (R1)")
    assert member_benefits(member_id=member.pk, at=timezone.now()).discount_bp == 0
    kinds = list(Notification.objects.filter(member=member).order_by("pk").values_list("kind", flat=True))
    assert kinds == ["tier_change", "tier_change", "card_revoked"]
    # Purchase points, the first-order reward and the upgrade pack's points: all taken back.
    assert points_of(member) == points_before
    assert_ledgers_consistent("members", "orders", "points")


def test_partial_refunds_undo_only_what_they_take_below_a_threshold(member):
    from membership.models import Membership, MembershipCard

    _membership_rules()
    card = _spend_card()
    commit(member, basket(("SHIRT", 50_000, 3)), order_no="P1")  # ¥1,500
    services.order_complete(order_no="P1")

    services.order_refund(order_no="P1", refund_no="R1", lines=[(1, 1)])  # ¥1,000 left: both still met
    m = Membership.objects.get(member=member)
    assert (m.tier_level, m.completed_orders) == (1, 1)
    assert MembershipCard.objects.get(member=member, card_type=card).status == "active"

    services.order_refund(order_no="P1", refund_no="R2", lines=[(1, 1)])  # ¥500 left: both go

    m.refresh_from_db()
    assert (m.tier_level, m.completed_orders) == (0, 1)  # not fully refunded: it still counts
    assert MembershipCard.objects.get(member=member, card_type=card).status == "revoked"


def test_a_fully_refunded_first_order_leaves_the_member_with_no_first_order(member):
    inviter = MemberFactory()
    member.referrer = inviter
    member.save()
    commit(member, basket(("TEA", 4_500, 1), stored_value_fen=4_500), order_no="F1")
    services.order_complete(order_no="F1")
    services.order_refund(order_no="F1", refund_no="R1")
    points_after_refund = points_of(member)

    commit(member, basket(("TEA", 4_500, 1), stored_value_fen=4_500), order_no="F2")
    services.order_complete(order_no="F2")

    # F2 is now the first order: its rewards are paid (F1's were clawed back), once each.
    assert points_of(member) == points_after_refund + 45 + 50 + 50
    assert points_of(inviter) == 100
    rewards = PointsEntry.objects.filter(
        kind="earn", reference="F2", source__in=["first_order", "invitee", "inviter"]
    )
    assert sorted(rewards.values_list("idempotency_key", flat=True)) == sorted(
        ["first_order#2", "invitee#2", f"inviter:{member.pk}#2"]
    )


def test_purchase_points_grant_a_points_card_at_completion_and_the_refund_takes_it_back(member):
    from membership.models import MembershipCard

    card = CardTypeFactory(
        kind="conditional", condition="points", condition_threshold=5_100
    )  # seed 5,000 + this order
    commit(member, basket(("TEA", 12_000, 1)), order_no="G1")

    services.order_complete(order_no="G1")  # 120 purchase points and the 50 of the first order
    assert MembershipCard.objects.get(member=member, card_type=card).status == "active"

    services.order_refund(order_no="G1", refund_no="R1")

    held = MembershipCard.objects.get(member=member, card_type=card)
    assert (held.status, held.events.order_by("id").last().kind) == ("revoked", "undo")


def test_an_order_earns_at_the_benefits_of_its_commit_not_at_the_tier_its_completion_gives(member):
    _membership_rules()
    order_basket = basket(("COAT", 120_000, 1))
    quote = compute_quote(member_id=member.pk, basket=order_basket)
    assert (quote.points_multiplier, quote.points_estimate) == ("1", 1_200)
    commit(member, order_basket, order_no="M1")

    services.order_complete(order_no="M1")  # upgrades the member to ×1.5 on the way

    order = Order.objects.get(order_no="M1")
    assert order.earned_points == quote.points_estimate == 1_200
    from membership.models import Membership

    assert Membership.objects.get(member=member).tier_level == 1


def test_a_member_day_multiplier_in_force_at_commit_is_earned_even_when_completed_after_it(member):
    import time_machine

    from membership.models import MemberDay
    from tests.helpers import local

    MemberDay.objects.create(name="周三会员日", recurrence="weekly", weekday=2, points_multiplier=2)
    order_basket = basket(("TEA", 4_500, 1))
    with time_machine.travel(local(2026, 12, 2, 23, 50), tick=False):  # a Wednesday
        quote = compute_quote(member_id=member.pk, basket=order_basket)
        commit(member, order_basket, order_no="D1")
    with time_machine.travel(local(2026, 12, 3, 0, 10), tick=False):  # Thursday: the day is over
        services.order_complete(order_no="D1")

    assert Order.objects.get(order_no="D1").earned_points == quote.points_estimate == 90
