"""Real parallel connections: the last place is taken once, units are never oversold, a group fails once."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from coupons.models import Coupon
from growth import bargains, services
from growth.models import (
    Bargain,
    BargainHelp,
    BargainState,
    Group,
    GroupEvent,
    GroupMember,
    GroupState,
    PlaceStatus,
)
from members.models import Member
from payments import services as payments
from payments.models import Payment, PaymentRefund
from tests.concurrency import run_concurrently
from tests.growth.helpers import activity, join, open_paid
from tests.helpers import assert_ledgers_consistent

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("many-connections")]


def new_members(count, prefix="g"):
    return Member.objects.bulk_create(
        [
            Member(openid=f"{prefix}-{i:05d}", nickname=f"m{i}", registration_channel="mini_program")
            for i in range(count)
        ]
    )


def opened_at_wechat(places):
    """Each place's payment opened at the fake WeChat Pay (as the member's app asks for its parameters)."""
    found = {
        p.out_trade_no: p for p in Payment.objects.filter(out_trade_no__in=[pl.out_trade_no for pl in places])
    }
    for place in places:
        payments.payment_prepay(payment=found[place.out_trade_no])
    return [found[place.out_trade_no] for place in places]


def test_parallel_last_payments_complete_the_group_once_and_refund_every_latecomer_in_full():
    act = activity(size=3)
    leader, *friends = new_members(13)
    group = open_paid(leader, act)
    places = [join(friend, group, key="j") for friend in friends]
    paying = opened_at_wechat(places)

    run_concurrently(lambda i: payments.payment_simulate_pay(payment=paying[i]), len(paying))

    group.refresh_from_db()
    assert group.state == GroupState.COMPLETE and group.joined_count == 3
    statuses = [GroupMember.objects.get(pk=p.pk).status for p in places]
    assert statuses.count(PlaceStatus.COMPLETED) == 2 and statuses.count(PlaceStatus.REFUNDED) == 10
    assert GroupEvent.objects.filter(group=group, kind="completed").count() == 1
    assert Coupon.objects.count() == 3
    refunded = Payment.objects.filter(refunded_fen__gt=0)
    assert refunded.count() == 10 and all(p.refunded_fen == p.amount_fen for p in refunded)
    assert PaymentRefund.objects.count() == 10
    act.refresh_from_db()
    assert act.sold_count == 3
    assert_ledgers_consistent()


def test_a_storm_of_payments_never_takes_more_units_than_offered():
    act = activity(size=2, stock=7)
    members = new_members(40, prefix="storm")
    places = [
        services.group_open(member=m, activity_id=act.pk, idempotency_key="open").place for m in members
    ]
    paying = opened_at_wechat(places)

    run_concurrently(lambda i: payments.payment_simulate_pay(payment=paying[i]), len(paying))

    act.refresh_from_db()
    assert (act.sold_count, act.stock_total) == (7, 7)
    assert Group.objects.filter(activity=act).count() == 7
    statuses = list(GroupMember.objects.filter(activity=act).values_list("status", "refund_reason"))
    assert statuses.count((PlaceStatus.JOINED, "")) == 7
    assert statuses.count((PlaceStatus.REFUNDED, services.SOLD_OUT)) == 33
    assert PaymentRefund.objects.count() == 33
    assert_ledgers_consistent()


def test_parallel_runs_of_the_failing_job_refund_each_payment_of_an_expired_group_once():
    act = activity(size=5)
    leader, *friends = new_members(4, prefix="fail")
    group = open_paid(leader, act)
    places = [join(friend, group, key="j") for friend in friends]
    for payment in opened_at_wechat(places):
        payments.payment_simulate_pay(payment=payment)
    Group.objects.filter(pk=group.pk).update(deadline=timezone.now() - timedelta(seconds=1))

    results, _codes = run_concurrently(lambda i: services.groups_fail_expired(), 8)

    assert sum(results) == 1
    group.refresh_from_db()
    assert group.state == GroupState.FAILED
    assert PaymentRefund.objects.count() == 4
    assert all(p.refunded_fen == p.amount_fen for p in Payment.objects.all())
    act.refresh_from_db()
    assert act.sold_count == 0
    assert_ledgers_consistent()


def test_a_payment_racing_the_deadline_job_is_either_in_the_failed_group_and_refunded_or_refunded_late():
    act = activity(size=3)
    leader, friend = new_members(2, prefix="race")
    group = open_paid(leader, act)
    place = join(friend, group, key="j")
    (payment,) = opened_at_wechat([place])
    deadline = timezone.now() + timedelta(milliseconds=300)
    Group.objects.filter(pk=group.pk).update(deadline=deadline)

    def work(i):
        if i == 0:
            time.sleep(0.25)  # arrives about when the deadline passes
            return payments.payment_simulate_pay(payment=payment)
        time.sleep(max(0.0, (deadline - timezone.now()).total_seconds()) + 0.01)
        return services.groups_fail_expired()

    run_concurrently(work, 2)

    group.refresh_from_db()
    assert group.state == GroupState.FAILED
    assert all(p.refunded_fen == p.amount_fen for p in Payment.objects.filter(status="paid"))
    assert PaymentRefund.objects.count() == 2
    assert_ledgers_consistent()


# --- 砍价 -------------------------------------------------------------------------------------------


def test_parallel_helps_reach_the_floor_in_exactly_n_cuts_to_the_fen_and_never_below():
    from tests.growth.test_bargains import bargain_activity, start

    act = bargain_activity(helpers=10, original=19_900, floor=990)
    starter, *helpers = new_members(31, prefix="help")
    bargain = start(starter, act)

    results, codes = run_concurrently(
        lambda i: bargains.bargain_help(helper=helpers[i], bargain_id=bargain.pk), 30
    )

    assert len(results) == 10 and codes == ["bargain_at_floor"] * 20
    bargain.refresh_from_db()
    assert (bargain.price_fen, bargain.helps_count) == (990, 10)
    helps = list(BargainHelp.objects.filter(bargain=bargain).order_by("seq"))
    assert [h.seq for h in helps] == list(range(1, 11)) and [h.cut_fen for h in helps] == bargain.cuts
    assert sum(h.cut_fen for h in helps) == 19_900 - 990
    assert_ledgers_consistent("growth")


def test_a_helpers_parallel_cuts_never_pass_the_daily_limit():
    from tests.growth.test_bargains import bargain_activity, start

    act = bargain_activity(helpers=5, helper_daily_limit=2)
    helper, *starters = new_members(9, prefix="daily")
    targets = [start(s, act) for s in starters]

    results, codes = run_concurrently(
        lambda i: bargains.bargain_help(helper=helper, bargain_id=targets[i].pk), 8
    )

    assert len(results) == 2 and codes == ["help_limit_reached"] * 6
    assert BargainHelp.objects.filter(helper=helper).count() == 2
    assert_ledgers_consistent("growth")


def test_a_storm_of_bargain_purchases_takes_no_more_units_than_offered():
    from tests.growth.test_bargains import bargain_activity, cut_to_floor, start

    act = bargain_activity(helpers=1, stock=3)
    buyers = new_members(12, prefix="buy")
    bought = [bargains.bargain_buy(member=m, bargain_id=cut_to_floor(start(m, act)).pk) for m in buyers]
    paying = list(Payment.objects.filter(out_trade_no__in=[b.out_trade_no for b in bought]))
    for payment in paying:
        payments.payment_prepay(payment=payment)

    run_concurrently(lambda i: payments.payment_simulate_pay(payment=paying[i]), len(paying))

    act.refresh_from_db()
    assert act.sold_count == 3
    states = list(Bargain.objects.filter(activity=act).values_list("state", flat=True))
    assert states.count(BargainState.PAID) == 3 and states.count(BargainState.OPEN) == 9
    assert PaymentRefund.objects.count() == 9
    assert_ledgers_consistent()
