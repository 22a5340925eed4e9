"""A refund of an order whose member has since closed the account (注销) gives nothing back to it.

The cash goes back as always (the merchant returns ``cash_fen``); points, coupons and earned points
stay as the closure left them; the stored value is paid out in the same transaction (principal for
the merchant to return with the cash, bonus forfeited), so the closed account still holds nothing.
"""

import pytest

from coupons import services as coupon_services
from coupons.models import Coupon
from loyalty.management.commands.verify_ledgers import find_violations
from members.closure import member_close
from members.models import Member
from orders import services
from orders.models import Refund
from points import ledger as points_ledger
from points.models import PointsEntry
from stored_value.models import StoredValueEntry
from tests.concurrency import run_concurrently
from tests.factories import CouponTemplateFactory, MemberFactory, RechargeFactory
from tests.helpers import assert_ledgers_consistent, points_of, signed_request
from tests.orders.helpers import basket, commit
from tests.stored_value.helpers import parts

pytestmark = pytest.mark.usefixtures("default_rules")

SERVER_REFUND = "/api/v1/server/orders/{}/refunds"


def paid_with_everything(order_no="C1"):
    """A member who paid an order with all their stored value (principal and bonus), points and a
    coupon, completed it, and could then close the account."""
    member = MemberFactory()
    inviter = MemberFactory()
    member.referrer = inviter
    member.save()
    RechargeFactory(member=member, amount_fen=10_000, bonus_fen=1_000)
    points_ledger.points_earn(
        member_id=member.pk, amount=500, idempotency_key="seed", source="test", expires_at=None
    )
    coupon = coupon_services.coupon_claim(
        member=member, template_id=CouponTemplateFactory().pk, idempotency_key="k"
    )
    commit(
        member,
        basket(("TEA", 8_000, 2), points=500, stored_value_fen=11_000, coupon_ids=[coupon.pk]),
        order_no=order_no,
    )
    services.order_complete(order_no=order_no)
    assert parts(member) == (0, 0)
    return member, inviter, coupon


@pytest.mark.django_db
def test_a_refund_after_closure_pays_the_stored_value_out_and_gives_the_account_nothing():
    member, inviter, coupon = paid_with_everything()
    assert points_of(member) > 0 and points_of(inviter) > 0  # purchase, first-order and invite points
    member_close(member_id=member.pk)
    assert points_of(member) == 0
    points_entries = PointsEntry.objects.filter(account__member=member).count()

    partial = services.order_refund(order_no="C1", refund_no="R1", lines=[(1, 1)]).refund
    whole = services.order_refund(order_no="C1", refund_no="R2").refund

    for refund in (partial, whole):
        assert refund.account_closed
        assert refund.points_reverse_entry_id is None and refund.earn_reverse_entry_id is None
        assert refund.coupons_restored == []
        back = StoredValueEntry.objects.get(pk=refund.stored_value_entry_id)
        out = StoredValueEntry.objects.get(pk=refund.stored_value_payout_entry_id)
        assert back.kind == "spend_refund" and back.reverses_id is not None
        assert (out.kind, out.source, out.reference) == ("adjust", "closure", "C1")
        assert (out.principal_fen, out.bonus_fen) == (-back.principal_fen, -back.bonus_fen)
        assert out.principal_after_fen == out.bonus_after_fen == 0
        assert refund.stored_value_paid_out_fen == back.principal_fen
    # All the stored value the order took is refunded; the principal of it the merchant returns.
    assert partial.stored_value_fen + whole.stored_value_fen == 11_000
    assert partial.stored_value_paid_out_fen + whole.stored_value_paid_out_fen == 10_000
    assert parts(member) == (0, 0) and points_of(member) == 0
    assert PointsEntry.objects.filter(account__member=member).count() == points_entries
    assert Coupon.objects.get(pk=coupon.pk).status == "used"
    # The inviter is still a member: the invite reward of the refunded first order is taken back.
    assert points_of(inviter) == 0
    assert_ledgers_consistent()


@pytest.mark.django_db
def test_a_replayed_refund_of_a_closed_account_answers_the_same(api, server_client):
    member, _, _ = paid_with_everything()
    member_close(member_id=member.pk)
    client, secret = server_client
    url = SERVER_REFUND.format("C1")

    first = signed_request(api, client, secret, "POST", url, {"refund_no": "R1"})
    again = signed_request(api, client, secret, "POST", url, {"refund_no": "R1"})

    assert first.status_code == 201 and again.status_code == 200
    body = first.json()
    assert body["account_closed"] is True and body["stored_value_paid_out_fen"] == 10_000
    assert {k: v for k, v in again.json().items() if k != "replayed"} == {
        k: v for k, v in body.items() if k != "replayed"
    }
    assert StoredValueEntry.objects.filter(account__member=member, source="closure").count() == 1
    assert Refund.objects.filter(order__order_no="C1").count() == 1
    assert_ledgers_consistent()


@pytest.mark.django_db
def test_a_refund_of_a_member_still_open_gives_everything_back_as_before():
    member, _, coupon = paid_with_everything()

    refund = services.order_refund(order_no="C1", refund_no="R1").refund

    assert not refund.account_closed and refund.stored_value_paid_out_fen == 0
    assert refund.stored_value_payout_entry_id is None
    assert parts(member) == (10_000, 1_000) and points_of(member) == 500
    assert Coupon.objects.get(pk=coupon.pk).status == "available"


@pytest.mark.django_db(transaction=True)
@pytest.mark.xdist_group("many-connections")
def test_a_refund_racing_the_closure_either_lands_first_and_blocks_it_or_pays_out():
    member, _, _ = paid_with_everything(order_no="RACE")

    def work(i):
        if i == 0:
            return member_close(member_id=member.pk)
        return services.order_refund(order_no="RACE", refund_no="R1")

    _results, codes = run_concurrently(work, 2)

    refund = Refund.objects.get(order__order_no="RACE")
    if Member.objects.get(pk=member.pk).closed_at is None:  # the refund first: value is back, so no closure
        assert codes == ["stored_value_remaining"] and not refund.account_closed
        assert parts(member) == (10_000, 1_000)
    else:  # the closure first: the refund found it closed
        assert codes == [] and refund.account_closed and refund.stored_value_paid_out_fen == 10_000
        assert parts(member) == (0, 0) and points_of(member) == 0
    assert_ledgers_consistent()


@pytest.mark.django_db
def test_verify_ledgers_reports_a_closed_account_refund_that_gave_it_something_back():
    member, _, _ = paid_with_everything()
    member_close(member_id=member.pk)
    refund = services.order_refund(order_no="C1", refund_no="R1").refund
    assert_ledgers_consistent()

    # Refund rows are append-only: a wrong one is a new row (all of its amounts zero, so the order's
    # sums still hold and only this check speaks).
    Refund.objects.create(
        order=refund.order,
        refund_no="BAD",
        request_hash="x",
        goods_fen=0,
        shipping_fen=0,
        points=0,
        points_fen=0,
        stored_value_fen=0,
        cash_fen=0,
        earned_points_reversed=0,
        account_closed=True,
        points_reverse_entry_id=refund.stored_value_entry_id,
    )

    found = [v for v in find_violations() if v[0].startswith("orders:")]
    assert [v[0] for v in found] == ["orders: a refund of a closed account gave it something back"]
