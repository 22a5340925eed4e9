"""拼团: open, join, pay, complete, fail, refund — and every refusal writes nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from coupons.models import Coupon
from growth import services
from growth.models import Group, GroupEvent, GroupMember, GroupState, PlaceStatus
from loyalty import locks
from loyalty.errors import ApplicationError, IdempotencyConflict
from mall import services as mall
from mall.exceptions import RedemptionNotCancellable
from mall.models import Redemption, RedemptionStatus
from members.models import Member
from payments import services as payments
from payments.exceptions import PaymentUnavailable
from payments.gateway import FakeGateway
from payments.models import Payment, PaymentRefund, PaymentStatus, RefundStatus
from tests.factories import MemberFactory
from tests.growth.helpers import activity, join, open_paid, pay, state
from tests.helpers import assert_ledgers_consistent
from tests.mall.helpers import address

pytestmark = pytest.mark.django_db


def refused(code, act, call):
    before = state(act)
    with pytest.raises(ApplicationError) as caught:
        call()
    assert caught.value.code == code
    assert state(act) == before


def test_opening_records_a_place_awaiting_payment_and_paying_it_opens_the_group_with_its_deadline():
    act = activity(time_limit_minutes=90)
    leader = MemberFactory()
    place = services.group_open(member=leader, activity_id=act.pk, idempotency_key="k").place
    assert (place.status, place.group_id, place.role) == ("pending_payment", None, "leader")
    assert Payment.objects.get(out_trade_no=place.out_trade_no).purpose == "group_buy"

    before = timezone.now()
    pay(place)

    place.refresh_from_db()
    group = place.group
    assert place.status == PlaceStatus.JOINED and group.state == GroupState.OPEN
    assert (group.joined_count, group.size, group.price_fen) == (1, 2, 1990)
    assert before + timedelta(minutes=90) <= group.deadline <= timezone.now() + timedelta(minutes=90)
    act.refresh_from_db()
    assert act.sold_count == 1
    assert_ledgers_consistent("growth")


def test_the_payment_that_fills_a_group_completes_it_and_issues_every_member_a_coupon():
    act = activity(size=3)
    leader, a, b = MemberFactory(), MemberFactory(), MemberFactory()
    group = open_paid(leader, act)
    pay(join(a, group))
    group.refresh_from_db()
    assert group.state == GroupState.OPEN and Coupon.objects.count() == 0

    pay(join(b, group))

    group.refresh_from_db()
    assert group.state == GroupState.COMPLETE and group.joined_count == 3 and group.completed_at
    places = GroupMember.objects.filter(group=group)
    assert {p.status for p in places} == {PlaceStatus.COMPLETED}
    assert sorted(Coupon.objects.values_list("member_id", flat=True)) == sorted([leader.pk, a.pk, b.pk])
    assert {p.coupon_id for p in places} == set(Coupon.objects.values_list("pk", flat=True))
    assert GroupEvent.objects.filter(group=group, kind="completed").count() == 1
    assert_ledgers_consistent()


def test_a_complete_physical_group_puts_each_unit_in_the_malls_shipping_queue_which_cannot_cancel_it():
    act = activity(kind="physical")
    leader, friend = MemberFactory(), MemberFactory()
    group = open_paid(leader, act, address_id=address(leader).pk)
    pay(join(friend, group, address_id=address(friend, recipient="李雷").pk))

    shipments = Redemption.objects.filter(item=act.item).order_by("pk")
    assert [(r.member_id, r.status, r.points, r.cash_fen) for r in shipments] == [
        (leader.pk, RedemptionStatus.PAID, 0, 0),
        (friend.pk, RedemptionStatus.PAID, 0, 0),
    ]
    assert shipments[1].recipient == "李雷"
    act.item.refresh_from_db()
    assert (act.item.stock, act.item.sold_count) == (0, 2)
    with pytest.raises(RedemptionNotCancellable):
        mall.redemption_cancel(redemption_id=shipments[0].pk, reason="x", actor_id=None)
    shipped, _now = mall.redemption_ship(
        redemption_id=shipments[0].pk, carrier="顺丰速运", tracking_no="SF1", actor_id=None
    )
    assert shipped.status == RedemptionStatus.SHIPPED
    assert_ledgers_consistent()


def test_a_physical_item_needs_one_of_the_members_addresses():
    act = activity(kind="physical")
    member, other = MemberFactory(), MemberFactory()
    refused(
        "address_required",
        act,
        lambda: services.group_open(member=member, activity_id=act.pk, idempotency_key="k"),
    )
    theirs = address(other)
    refused(
        "address_not_found",
        act,
        lambda: services.group_open(
            member=member, activity_id=act.pk, idempotency_key="k", address_id=theirs.pk
        ),
    )


def test_a_leader_cannot_join_their_own_group_nor_a_member_twice():
    act = activity(size=3)
    leader, friend = MemberFactory(), MemberFactory()
    group = open_paid(leader, act)
    refused("already_in_group", act, lambda: join(leader, group))
    join(friend, group, key="first")
    refused("already_in_group", act, lambda: join(friend, group, key="second"))


def test_a_closed_account_can_neither_open_nor_join():
    act = activity()
    group = open_paid(MemberFactory(), act)
    closed = MemberFactory()
    Member.objects.filter(pk=closed.pk).update(closed_at=timezone.now())
    closed.refresh_from_db()
    refused(
        "member_closed",
        act,
        lambda: services.group_open(member=closed, activity_id=act.pk, idempotency_key="k"),
    )
    refused("member_closed", act, lambda: join(closed, group))


def test_new_members_only_lets_anyone_open_but_only_members_registered_since_the_start_join():
    act = activity(new_members_only=True, size=3)
    old = MemberFactory()
    Member.objects.filter(pk=old.pk).update(registered_at=act.starts_at - timedelta(days=30))
    old.refresh_from_db()
    group = open_paid(old, act)
    veteran = MemberFactory()
    Member.objects.filter(pk=veteran.pk).update(registered_at=act.starts_at - timedelta(seconds=1))
    veteran.refresh_from_db()
    refused("new_members_only", act, lambda: join(veteran, group))
    assert join(MemberFactory(), group).status == PlaceStatus.PENDING_PAYMENT


def test_a_full_or_expired_group_refuses_joins():
    act = activity()
    group = open_paid(MemberFactory(), act)
    pay(join(MemberFactory(), group))
    refused("group_full", act, lambda: join(MemberFactory(), group))

    other = open_paid(MemberFactory(), act, key="o2")
    Group.objects.filter(pk=other.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    refused("group_expired", act, lambda: join(MemberFactory(), other))
    refused(
        "group_not_found",
        act,
        lambda: services.group_join(member=MemberFactory(), group_id=10**9, idempotency_key="k"),
    )


def test_an_activity_outside_its_window_or_switched_off_opens_no_group():
    act = activity(starts_at=timezone.now() + timedelta(hours=1), ends_at=timezone.now() + timedelta(days=1))
    member = MemberFactory()
    refused(
        "activity_not_open",
        act,
        lambda: services.group_open(member=member, activity_id=act.pk, idempotency_key="k"),
    )
    act.is_active = False
    act.save()
    refused(
        "activity_not_found",
        act,
        lambda: services.group_open(member=member, activity_id=act.pk, idempotency_key="k"),
    )


def test_the_per_member_limit_counts_places_held_or_awaiting_payment():
    act = activity(per_member_limit=1)
    member = MemberFactory()
    services.group_open(member=member, activity_id=act.pk, idempotency_key="a")
    refused(
        "group_buy_limit_reached",
        act,
        lambda: services.group_open(member=member, activity_id=act.pk, idempotency_key="b"),
    )


def test_opening_again_with_the_same_key_returns_the_first_place_and_another_activity_is_a_conflict():
    act, other = activity(), activity()
    member = MemberFactory()
    first = services.group_open(member=member, activity_id=act.pk, idempotency_key="same")
    again = services.group_open(member=member, activity_id=act.pk, idempotency_key="same")
    assert again.replayed and again.place.pk == first.place.pk and Payment.objects.count() == 1
    with pytest.raises(IdempotencyConflict):
        services.group_open(member=member, activity_id=other.pk, idempotency_key="same")


def test_sold_out_refuses_to_open_and_a_payment_arriving_after_the_last_unit_is_refunded_in_full():
    act = activity(stock=1)
    first = services.group_open(member=MemberFactory(), activity_id=act.pk, idempotency_key="k").place
    second = services.group_open(member=MemberFactory(), activity_id=act.pk, idempotency_key="k").place
    pay(first)
    refused(
        "sold_out",
        act,
        lambda: services.group_open(member=MemberFactory(), activity_id=act.pk, idempotency_key="k"),
    )

    payment = pay(second)

    second.refresh_from_db()
    assert second.status == PlaceStatus.REFUNDED and second.refund_reason == services.SOLD_OUT
    assert payment.refunded_fen == payment.amount_fen
    act.refresh_from_db()
    assert act.sold_count == 1
    assert_ledgers_consistent("growth")


def test_a_payment_arriving_after_the_group_filled_is_refunded_in_full():
    act = activity()
    group = open_paid(MemberFactory(), act)
    early, late = join(MemberFactory(), group), join(MemberFactory(), group)
    pay(early)

    payment = pay(late)

    late.refresh_from_db()
    assert late.status == PlaceStatus.REFUNDED and late.refund_reason == services.LATE
    assert payment.refunded_fen == 1990
    refund = PaymentRefund.objects.get(payment=payment)
    assert refund.amount_fen == 1990
    assert payments.payment_refund_submit(refund_id=refund.pk).status == RefundStatus.SUCCEEDED
    group.refresh_from_db()
    assert group.joined_count == 2 and Coupon.objects.count() == 2
    assert_ledgers_consistent()


def test_a_place_whose_payment_closed_unpaid_is_given_up_and_money_arriving_later_is_refunded():
    act = activity()
    group = open_paid(MemberFactory(), act)
    place = join(MemberFactory(), group)
    payment = Payment.objects.get(out_trade_no=place.out_trade_no)
    payments.payment_prepay(payment=payment)
    Payment.objects.filter(pk=payment.pk).update(expires_at=timezone.now() - timedelta(minutes=5))
    assert payments.payments_close_stale() == 1
    place.refresh_from_db()
    assert place.status == PlaceStatus.CLOSED

    # WeChat's notification of a payment made just before the close arrives after all.
    Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.CREATED)
    headers, body = FakeGateway.pay(payments.get_gateway(), out_trade_no=payment.out_trade_no)
    payments.payment_handle_notification(headers=headers, body=body)

    place.refresh_from_db()
    assert place.status == PlaceStatus.REFUNDED and place.refund_reason == services.PAID_AFTER_CLOSE
    group.refresh_from_db()
    assert group.joined_count == 1
    assert_ledgers_consistent("growth")


def test_an_expired_group_fails_and_every_payment_is_refunded_once_and_its_units_given_back():
    act = activity(size=3)
    group = open_paid(MemberFactory(), act)
    pay(join(MemberFactory(), group))
    pending = join(MemberFactory(), group)  # never paid before the deadline
    Group.objects.filter(pk=group.pk).update(deadline=timezone.now() - timedelta(seconds=1))

    assert services.groups_fail_expired() == 1
    assert services.groups_fail_expired() == 0

    group.refresh_from_db()
    assert group.state == GroupState.FAILED and group.failed_at
    paid = Payment.objects.filter(status=PaymentStatus.PAID)
    assert paid.count() == 2 and all(p.refunded_fen == p.amount_fen for p in paid)
    assert PaymentRefund.objects.count() == 2
    act.refresh_from_db()
    assert act.sold_count == 0
    pay(pending)  # the straggler pays after the failure: refunded too
    pending.refresh_from_db()
    assert pending.status == PlaceStatus.REFUNDED and pending.refund_reason == services.LATE
    assert_ledgers_consistent()


def test_an_expired_group_is_refunded_once_even_when_wechat_refuses_the_first_attempts(monkeypatch):
    act = activity(size=3)
    group = open_paid(MemberFactory(), act)
    pay(join(MemberFactory(), group))
    Group.objects.filter(pk=group.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    real_refund, calls = FakeGateway.refund, []

    def refusing(self, **kwargs):
        calls.append(kwargs["out_refund_no"])
        if len(calls) <= 5:
            raise PaymentUnavailable(details={"reason": "SYSTEM_ERROR"})
        return real_refund(self, **kwargs)

    monkeypatch.setattr(FakeGateway, "refund", refusing)

    services.groups_fail_expired()
    assert set(PaymentRefund.objects.values_list("status", flat=True)) == {RefundStatus.PENDING}
    for _attempt in range(5):
        payments.payment_refunds_retry(older_than_minutes=0)

    refunds = PaymentRefund.objects.all()
    assert refunds.count() == 2 and {r.status for r in refunds} == {RefundStatus.SUCCEEDED}
    assert all(p.refunded_fen == p.amount_fen for p in Payment.objects.all())
    assert sorted(set(calls)) == sorted(r.out_refund_no for r in refunds)
    services.groups_fail_expired()
    assert PaymentRefund.objects.count() == 2
    assert_ledgers_consistent()


def test_a_started_activity_keeps_its_price_and_size_and_its_units_never_drop_below_those_taken():
    act = activity(stock=5)
    open_paid(MemberFactory(), act)
    act.refresh_from_db()
    for field, value in (("group_price_fen", 990), ("group_size", 3)):
        edited = type(act).objects.get(pk=act.pk)
        setattr(edited, field, value)
        with pytest.raises(ApplicationError) as caught:
            services.activity_save(activity=edited)
        assert caught.value.code == "activity_started"
    edited = type(act).objects.get(pk=act.pk)
    edited.stock_total = 0
    with pytest.raises(ApplicationError):
        services.activity_save(activity=edited)
    edited.stock_total, edited.name = 1, "改名"
    services.activity_save(activity=edited)
    act.refresh_from_db()
    assert (act.stock_total, act.sold_count, act.name, act.group_price_fen) == (1, 1, "改名", 1990)


def test_an_activity_not_started_yet_may_change_everything():
    act = activity(starts_at=timezone.now() + timedelta(days=1), ends_at=timezone.now() + timedelta(days=2))
    act.group_price_fen, act.group_size = 990, 5
    services.activity_save(activity=act)
    act.refresh_from_db()
    assert (act.group_price_fen, act.group_size) == (990, 5)


def test_a_payment_completing_a_group_takes_its_locks_in_the_one_order():
    act = activity()
    group = open_paid(MemberFactory(), act)
    place = join(MemberFactory(), group)
    payment = Payment.objects.get(out_trade_no=place.out_trade_no)
    payments.payment_prepay(payment=payment)
    headers, body = payments.get_gateway().pay(out_trade_no=payment.out_trade_no)
    with locks.recording() as trail:
        payments.payment_handle_notification(headers=headers, body=body)
    assert locks.out_of_order(trail) == [], trail
    assert {rank for rank, _what in trail} >= {
        locks.Rank.PAYMENT,
        locks.Rank.GROWTH_GROUP,
        locks.Rank.GROWTH_STOCK,
    }
    group.refresh_from_db()
    assert group.state == GroupState.COMPLETE


def test_failing_a_group_takes_its_locks_in_the_one_order():
    act = activity(size=3)
    group = open_paid(MemberFactory(), act)
    pay(join(MemberFactory(), group))
    Group.objects.filter(pk=group.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    with locks.recording() as trail:
        services.group_fail(group_id=group.pk)
    assert locks.out_of_order(trail) == []
