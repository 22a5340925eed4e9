"""Account closure and growth: open group places refunded in full, unbought bargains ended, and a closed
account starts, helps and joins nothing."""

import pytest

from growth import bargains
from growth.models import Bargain, BargainState, Group, GroupMember, GroupState, PlaceStatus
from loyalty import locks
from loyalty.errors import ApplicationError
from members import closure
from payments.models import Payment, PaymentRefund
from stored_value.models import StoredValueAccount
from tests.factories import MemberFactory, RechargeFactory
from tests.growth.helpers import activity, join, open_paid, pay
from tests.growth.test_bargains import bargain_activity, start
from tests.helpers import assert_ledgers_consistent

pytestmark = pytest.mark.django_db


def test_closing_refunds_the_members_open_group_places_in_full_and_ends_their_bargains():
    act = activity(size=3)
    leaving, friend = MemberFactory(), MemberFactory()
    group = open_paid(leaving, act)
    pay(join(friend, group))
    alone = open_paid(leaving, act, key="second")
    waiting = join(leaving, open_paid(MemberFactory(), act, key="other"), key="waiting")
    bargain = start(leaving, bargain_activity())

    closed = closure.member_close(member_id=leaving.pk)

    assert (closed.group_places_refunded, closed.bargains_ended) == (2, 1)
    refunded = GroupMember.objects.filter(member=leaving, status=PlaceStatus.REFUNDED)
    assert {p.refund_reason for p in refunded} == {"group_account_closed"}
    assert sorted(PaymentRefund.objects.values_list("amount_fen", flat=True)) == [1990, 1990]
    group.refresh_from_db()
    alone.refresh_from_db()
    act.refresh_from_db()
    assert (group.state, group.joined_count) == (GroupState.OPEN, 1)  # the friend's place stays
    assert alone.state == GroupState.FAILED  # nobody paid is left in it
    assert act.sold_count == 2  # the friend's unit and the other leader's
    waiting.refresh_from_db()
    assert waiting.status == PlaceStatus.PENDING_PAYMENT  # its money, if it comes, is refunded on arrival
    assert Bargain.objects.get(pk=bargain.pk).state == BargainState.EXPIRED
    assert_ledgers_consistent()

    # Run again (the closure replays): nothing more is refunded.
    closure.member_close(member_id=leaving.pk)
    assert PaymentRefund.objects.count() == 2

    # Money for the place that was awaiting payment arrives after all: refunded in full.
    pay(waiting)
    waiting.refresh_from_db()
    assert (waiting.status, waiting.refund_reason) == (PlaceStatus.REFUNDED, "group_account_closed")
    assert_ledgers_consistent()


def test_a_closed_account_can_neither_start_nor_help_nor_join():
    act, bargain_act = activity(), bargain_activity()
    leaving = MemberFactory()
    group = open_paid(MemberFactory(), act)
    others = start(MemberFactory(), bargain_act)
    closure.member_close(member_id=leaving.pk)
    leaving.refresh_from_db()
    before = (GroupMember.objects.count(), Bargain.objects.count(), Payment.objects.count())

    for call in (
        lambda: join(leaving, group),
        lambda: bargains.bargain_start(member=leaving, activity_id=bargain_act.pk, idempotency_key="s"),
        lambda: bargains.bargain_help(helper=leaving, bargain_id=others.pk),
    ):
        with pytest.raises(ApplicationError) as caught:
            call()
        assert caught.value.code == "member_closed"
    assert (GroupMember.objects.count(), Bargain.objects.count(), Payment.objects.count()) == before
    others.refresh_from_db()
    assert others.helps_count == 0


def test_a_closure_refused_for_stored_value_refunds_nothing():
    act = activity()
    leaving = MemberFactory()
    group = open_paid(leaving, act)
    bargain = start(leaving, bargain_activity())
    RechargeFactory(member=leaving, amount_fen=100)

    with pytest.raises(ApplicationError) as caught:
        closure.member_close(member_id=leaving.pk)

    assert caught.value.code == "stored_value_remaining"
    assert StoredValueAccount.objects.get(member=leaving).principal_fen == 100
    assert not PaymentRefund.objects.exists()
    assert Group.objects.get(pk=group.pk).joined_count == 1
    assert Bargain.objects.get(pk=bargain.pk).state == BargainState.OPEN


def test_closing_a_member_with_open_places_and_bargains_locks_in_the_one_order():
    act = activity(size=3)
    leaving = MemberFactory()
    open_paid(leaving, act)
    bargain = start(leaving, bargain_activity(helpers=1))
    bargains.bargain_help(helper=MemberFactory(), bargain_id=bargain.pk)
    bargains.bargain_buy(member=leaving, bargain_id=bargain.pk)  # awaiting payment

    with locks.recording() as trail:
        closure.member_close(member_id=leaving.pk)

    assert locks.out_of_order(trail) == []
    assert Bargain.objects.get(pk=bargain.pk).state == BargainState.EXPIRED
