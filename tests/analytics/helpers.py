"""Members' registration times and the clock, as the analytics tests set them (orders: ``OrderFactory``),
and the growth report's groups, bargains and attributed members."""

from datetime import datetime, timedelta

from django.utils import timezone

from growth import services
from growth.attribution import bargain_channel, group_buy_channel
from growth.models import Group
from tests.factories import MemberFactory
from tests.growth.helpers import activity, join, open_paid, pay
from tests.growth.test_bargains import bargain_activity, buy_and_pay, cut_to_floor, start


def registered(member, at) -> None:
    type(member).objects.filter(pk=member.pk).update(registered_at=at)


def now() -> datetime:
    return timezone.now()


def growth_report_data():
    """Three groups of a 拼团 (one complete, one open, one failed), two bargains (one bought), and six members
    from shares: two sharers' (two, then one of another activity; one more sharer's), one long ago, one from
    a channel no activity has."""
    group_buy = activity(name="双人团", price=1990)
    complete = open_paid(MemberFactory(), group_buy, key="a")
    pay(join(MemberFactory(), complete))
    open_paid(MemberFactory(), group_buy, key="b")  # still open
    failing = open_paid(MemberFactory(), group_buy, key="c")
    Group.objects.filter(pk=failing.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    assert services.group_fail(group_id=failing.pk)

    bargain = bargain_activity(name="好友帮砍", helpers=1, original=10_000, floor=990)
    buyer = MemberFactory()
    buy_and_pay(buyer, cut_to_floor(start(buyer, bargain)))
    start(MemberFactory(), bargain)  # started, not bought

    sharer, other = MemberFactory(nickname="小红"), MemberFactory(nickname="小明")
    for channel, referrer in [
        (group_buy_channel(group_buy.pk), sharer),
        (group_buy_channel(group_buy.pk), sharer),
        (bargain_channel(bargain.pk), sharer),
        (bargain_channel(bargain.pk), other),
        ("groupbuy:not-an-id", sharer),  # a channel no activity has: not counted
    ]:
        MemberFactory(registration_channel=channel, referrer=referrer)
    long_ago = MemberFactory(registration_channel=group_buy_channel(group_buy.pk), referrer=other)
    long_ago.registered_at = timezone.now() - timedelta(days=200)
    long_ago.save(update_fields=["registered_at"])  # before the period
    return group_buy, bargain, sharer, other
