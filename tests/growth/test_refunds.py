"""An operator's refund of a completed 拼团 place or a bought 砍价 bargain: the payment back in full, once,
what the sale minted undone (coupon, unshipped mall unit), the unit back; and the mall sending the cancel
of a unit growth sold to growth's refund."""

import pytest
from django.contrib.auth.models import Permission, User

from coupons.models import Coupon, CouponStatus
from growth import refunds
from growth.models import Bargain, BargainState, GroupMember, GroupState, PlaceStatus
from loyalty import locks
from loyalty.errors import ApplicationError
from mall import services as mall
from mall.models import MallItem, Redemption, RedemptionStatus
from payments.models import PaymentRefund
from points.models import PointsEntry
from tests.factories import MemberFactory
from tests.growth.helpers import activity, join, open_paid, pay
from tests.growth.test_bargains import bargain_activity, buy_and_pay, cut_to_floor, start
from tests.helpers import assert_ledgers_consistent, page_text
from tests.mall.helpers import address

pytestmark = pytest.mark.django_db


def completed(kind="coupon"):
    """A complete group of two; returns (the leader's place, the activity)."""
    act = activity(kind=kind, stock=5)
    leader, friend = MemberFactory(), MemberFactory()
    extra = (lambda m: {"address_id": address(m).pk}) if kind == "physical" else (lambda m: {})
    group = open_paid(leader, act, **extra(leader))
    pay(join(friend, group, **extra(friend)))
    place = GroupMember.objects.get(group=group, member=leader)
    assert place.status == PlaceStatus.COMPLETED
    return place, act


def test_refunding_a_completed_coupon_place_returns_the_payment_once_voids_the_coupon_and_the_unit():
    place, act = completed()

    done = refunds.place_refund(place_id=place.pk, reason="退货", actor_id=None)
    again = refunds.place_refund(place_id=place.pk, reason="退货", actor_id=None)

    assert (done.amount_fen, done.coupon_voided, done.replayed) == (1990, True, False)
    assert again.replayed
    refund = PaymentRefund.objects.get()
    assert (refund.out_refund_no, refund.amount_fen, refund.reason) == (
        f"GB{place.pk}",
        1990,
        "group_returned",
    )
    assert Coupon.objects.get(pk=place.coupon_id).status == CouponStatus.VOIDED
    place.refresh_from_db()
    act.refresh_from_db()
    assert (place.status, place.refund_reason) == (PlaceStatus.REFUNDED, "group_returned")
    assert act.sold_count == 1  # the unit is back on offer
    assert place.group.state == GroupState.COMPLETE  # the others were fulfilled together
    assert not PointsEntry.objects.filter(account__member_id=place.member_id).exists()  # nothing was earned
    assert_ledgers_consistent()


def test_a_used_coupon_stays_used_and_one_held_by_an_open_order_refuses_the_refund():
    place, _act = completed()
    Coupon.objects.filter(pk=place.coupon_id).update(status=CouponStatus.LOCKED, order_no="O-1")

    with pytest.raises(ApplicationError) as caught:
        refunds.place_refund(place_id=place.pk, reason="退货", actor_id=None)
    assert caught.value.code == "coupon_not_voidable"
    assert not PaymentRefund.objects.exists()
    assert GroupMember.objects.get(pk=place.pk).status == PlaceStatus.COMPLETED

    Coupon.objects.filter(pk=place.coupon_id).update(status=CouponStatus.USED)
    done = refunds.place_refund(place_id=place.pk, reason="退货", actor_id=None)
    assert done.coupon_kept == CouponStatus.USED and not done.coupon_voided
    assert Coupon.objects.get(pk=place.coupon_id).status == CouponStatus.USED


def test_refunding_a_physical_place_cancels_its_unshipped_shipment_and_keeps_a_shipped_one(admin_user):
    place, _act = completed(kind="physical")
    other = GroupMember.objects.exclude(pk=place.pk).get(group=place.group)
    mall.redemption_ship(
        redemption_id=other.redemption_id, carrier="SF", tracking_no="SF1", actor_id=admin_user.pk
    )

    with locks.recording() as trail:
        done = refunds.place_refund(place_id=place.pk, reason="未发货取消", actor_id=None)
    shipped = refunds.place_refund(place_id=other.pk, reason="退货", actor_id=None)

    assert locks.out_of_order(trail) == []
    assert done.shipment_cancelled and not shipped.shipment_cancelled
    assert Redemption.objects.get(pk=place.redemption_id).status == RedemptionStatus.CANCELLED
    assert Redemption.objects.get(pk=other.redemption_id).status == RedemptionStatus.SHIPPED
    assert MallItem.objects.get(pk=place.activity.item_id).sold_count == 1
    assert PaymentRefund.objects.count() == 2
    assert_ledgers_consistent()


def test_only_a_completed_place_is_refunded_here():
    act = activity(size=3)
    group = open_paid(MemberFactory(), act)
    with pytest.raises(ApplicationError) as caught:
        refunds.place_refund(place_id=group.places.get().pk, reason="x", actor_id=None)
    assert caught.value.code == "not_refundable" and not PaymentRefund.objects.exists()


def test_refunding_a_bought_bargain_returns_its_payment_once_voids_the_coupon_and_the_unit():
    act = bargain_activity(helpers=2)
    member = MemberFactory()
    bargain = cut_to_floor(start(member, act))
    buy_and_pay(member, bargain)
    bargain.refresh_from_db()

    done = refunds.bargain_refund(bargain_id=bargain.pk, reason="退货", actor_id=None)
    assert refunds.bargain_refund(bargain_id=bargain.pk, reason="退货", actor_id=None).replayed

    assert (done.amount_fen, done.coupon_voided) == (990, True)
    assert PaymentRefund.objects.get().amount_fen == 990
    bargain.refresh_from_db()
    act.refresh_from_db()
    assert (bargain.state, bargain.refund_note, act.sold_count) == (BargainState.REFUNDED, "退货", 0)
    assert Coupon.objects.get(pk=bargain.coupon_id).status == CouponStatus.VOIDED
    assert_ledgers_consistent()


def test_the_refund_page_confirms_in_chinese_and_yuan_and_needs_the_permission(client, admin_client):
    place, _act = completed()
    url = f"/admin/growth/group/place/{place.pk}/refund/"
    clerk = User.objects.create_user(username="clerk", password="pw", is_staff=True)
    clerk.user_permissions.add(
        Permission.objects.get(content_type__app_label="growth", codename="view_group")
    )
    client.force_login(clerk)
    assert client.post(url, {"reason": "x", "idempotency_key": "k"}).status_code == 403
    assert not PaymentRefund.objects.exists()

    text = page_text(admin_client.get(url))
    assert "¥19.90" in text and "退款" in text and "作废" in text
    group_page = page_text(admin_client.get(f"/admin/growth/group/{place.group_id}/change/"))
    assert "退款" in group_page

    response = admin_client.post(url, {"reason": "买家退货", "idempotency_key": "k"})
    assert response.status_code == 302
    assert PaymentRefund.objects.get().amount_fen == 1990


def test_the_malls_cancel_of_a_unit_growth_sold_leads_to_growths_refund(admin_client):
    place, _act = completed(kind="physical")
    redemption = Redemption.objects.get(pk=place.redemption_id)

    with pytest.raises(ApplicationError) as caught:
        mall.redemption_cancel(redemption_id=redemption.pk, reason="x", actor_id=None)
    assert caught.value.code == "not_cancellable" and "拼团" in str(caught.value.message)

    refund_url = f"/admin/growth/group/place/{place.pk}/refund/"
    page = page_text(admin_client.get(f"/admin/mall/redemption/{redemption.pk}/change/"))
    assert "退款（拼团）" in page
    response = admin_client.get(f"/admin/mall/redemption/{redemption.pk}/cancel/")
    assert response.status_code == 302 and response.url == refund_url
    assert Redemption.objects.get(pk=redemption.pk).status == RedemptionStatus.PAID

    admin_client.post(refund_url, {"reason": "买家不要了", "idempotency_key": "k"})
    assert Redemption.objects.get(pk=redemption.pk).status == RedemptionStatus.CANCELLED


def test_a_bargain_refund_page_sits_beside_the_bargain(admin_client):
    act = bargain_activity(helpers=1)
    member = MemberFactory()
    bargain = cut_to_floor(start(member, act))
    buy_and_pay(member, bargain)

    assert "退款" in page_text(admin_client.get(f"/admin/growth/bargain/{bargain.pk}/change/"))
    response = admin_client.post(
        f"/admin/growth/bargain/{bargain.pk}/refund/", {"reason": "退货", "idempotency_key": "k"}
    )
    assert response.status_code == 302
    assert Bargain.objects.get(pk=bargain.pk).state == BargainState.REFUNDED
