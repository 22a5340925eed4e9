"""The clerk page: a clerk signs in, looks a code up and redeems it in one of their stores, recorded."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from coupons.models import Coupon, CouponEvent
from mall.models import Redemption, RedemptionEvent
from members import codes
from stores.models import StaffAssignment
from tests.counter.helpers import staff, store
from tests.factories import CouponFactory, EarnedPointsFactory, MallItemFactory
from tests.helpers import page_text
from tests.mall.helpers import redeem

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    return store("SH-001")


@pytest.fixture
def other_shop():
    return store("SH-002")


@pytest.fixture
def clerk(shop):
    return staff(shop, code="S012")


def signed_in(person) -> Client:
    client = Client()
    assert client.login(username=person.user.username, password="pw-" + person.code)
    return client


@pytest.fixture
def page(clerk):
    return signed_in(clerk)


@pytest.fixture
def pickup(member):
    EarnedPointsFactory(member=member, amount=10_000)
    item = MallItemFactory(name="帆布袋", kind="pickup", points=300, stock=5)
    return redeem(member, item)


def coupon_state(coupon):
    return (
        list(Coupon.objects.filter(pk=coupon.pk).values_list("status", "order_no")),
        list(CouponEvent.objects.filter(coupon=coupon).order_by("id").values_list("kind", "store_id")),
    )


def redeem_on(page, code, store_id, token="t1"):
    return page.post("/counter/redeem", {"code": code, "store_id": store_id, "token": token}, follow=True)


def test_only_staff_can_sign_in(shop):
    User.objects.create_user(username="someone", password="pw")
    response = Client().post("/counter/login/", {"username": "someone", "password": "pw"})

    assert response.status_code == 200
    assert "在职店员" in page_text(response)
    assert "_auth_user_id" not in Client().session


def test_a_clerk_signs_in_on_the_login_page(clerk):
    client = Client()
    response = client.post(
        "/counter/login/", {"username": clerk.user.username, "password": "pw-S012", "next": "/counter/"}
    )

    assert response.status_code == 302 and response["Location"] == "/counter/"
    assert "店员核销" in page_text(client.get("/counter/"))


def test_the_page_asks_a_stranger_to_sign_in(db):
    response = Client().get("/counter/")

    assert response.status_code == 302 and response["Location"].startswith("/counter/login/")


def test_a_clerk_looks_a_coupon_up_and_redeems_it_with_store_and_staff_recorded(page, clerk, shop, member):
    coupon = CouponFactory(member=member)

    looked_up = page.post("/counter/", {"code": coupon.code.lower(), "store_id": shop.pk})
    assert "可核销" in page_text(looked_up) and "确认核销" in page_text(looked_up)
    done = redeem_on(page, coupon.code, shop.pk)

    assert "核销" in page_text(done)
    coupon.refresh_from_db()
    assert coupon.status == "used" and coupon.order_no.startswith("counter:SH-001:")
    event = CouponEvent.objects.get(coupon=coupon, kind="used")
    assert (event.store_id, event.staff_id, event.actor_id) == (shop.pk, clerk.pk, clerk.user_id)
    assert coupon.template.name in page_text(page.get("/counter/"))  # the store's recent redemptions


def test_the_same_form_sent_twice_redeems_once(page, shop, member):
    coupon = CouponFactory(member=member)
    redeem_on(page, coupon.code, shop.pk, token="same")

    again = redeem_on(page, coupon.code, shop.pk, token="same")

    assert "已经" in page_text(again) or "Already" in page_text(again)
    assert CouponEvent.objects.filter(coupon=coupon, kind="used").count() == 1


def test_a_clerk_of_one_store_cannot_redeem_in_another(page, other_shop, member):
    coupon = CouponFactory(member=member)
    before = coupon_state(coupon)

    response = redeem_on(page, coupon.code, other_shop.pk)

    assert "store_not_allowed" in page_text(response)
    assert coupon_state(coupon) == before


def test_another_stores_page_is_not_offered(page, other_shop):
    response = page.get(f"/counter/?store={other_shop.pk}")

    assert other_shop.name not in page_text(response)


def test_a_sales_associate_cannot_redeem(shop, member):
    associate = staff(shop, code="A001", role="associate")
    coupon = CouponFactory(member=member)
    before = coupon_state(coupon)

    response = redeem_on(signed_in(associate), coupon.code, shop.pk)

    assert "store_not_allowed" in page_text(response)
    assert coupon_state(coupon) == before


@pytest.mark.parametrize("how", ["used", "expired", "voided", "locked"])
def test_a_coupon_that_cannot_be_used_is_refused_and_unchanged(page, shop, member, how):
    from coupons import services as coupon_services

    coupon = CouponFactory(member=member)
    if how == "used":
        coupon_services.coupon_redeem_code(code=coupon.code, order_no="POS-1")
    elif how == "expired":
        Coupon.objects.filter(pk=coupon.pk).update(valid_until=timezone.now() - timedelta(minutes=1))
    elif how == "voided":
        coupon_services.coupon_void(coupon_id=coupon.pk, actor_id=None, reason="test")
    else:
        coupon_services.coupon_lock(member_id=member.pk, coupon_id=coupon.pk, order_no="WEB-1")
    before = coupon_state(coupon)

    response = redeem_on(page, coupon.code, shop.pk)

    assert "coupon_not_available" in page_text(response)
    assert coupon_state(coupon) == before


def test_an_unknown_code_is_not_recognised(page, shop):
    response = page.post("/counter/", {"code": "NOSUCHCODE12", "store_id": shop.pk})

    assert "code_not_recognised" in page_text(response)
    assert "code_not_recognised" in page_text(redeem_on(page, "NOSUCHCODE12", shop.pk))


def test_a_clerk_hands_over_a_pick_up_with_store_and_staff_recorded(page, clerk, shop, pickup):
    assert pickup.status == "paid" and pickup.pickup_code.startswith("PU")
    looked_up = page.post("/counter/", {"code": pickup.pickup_code, "store_id": shop.pk})
    assert "待提货" in page_text(looked_up)

    redeem_on(page, pickup.pickup_code, shop.pk)

    pickup.refresh_from_db()
    assert pickup.status == "completed"
    event = RedemptionEvent.objects.get(redemption=pickup, kind="picked_up")
    assert (event.store_id, event.staff_id, event.actor_id) == (shop.pk, clerk.pk, clerk.user_id)
    again = redeem_on(page, pickup.pickup_code, shop.pk, token="t2")
    assert RedemptionEvent.objects.filter(redemption=pickup, kind="picked_up").count() == 1
    assert "已提货" in page_text(page.post("/counter/", {"code": pickup.pickup_code, "store_id": shop.pk}))
    assert again.status_code == 200


def test_a_cancelled_pick_up_is_not_handed_over(page, shop, pickup, member):
    from mall import services as mall_services

    mall_services.redemption_cancel(redemption_id=pickup.pk, reason="test", member_id=member.pk)
    events = RedemptionEvent.objects.filter(redemption=pickup).count()

    response = redeem_on(page, pickup.pickup_code, shop.pk)

    assert "pickup_not_ready" in page_text(response)
    assert Redemption.objects.get(pk=pickup.pk).status == "cancelled"
    assert RedemptionEvent.objects.filter(redemption=pickup).count() == events


def test_a_member_code_shows_the_member_and_redeems_nothing(page, shop, member):
    code = codes.member_code_issue(member=member).code

    response = page.post("/counter/", {"code": code, "store_id": shop.pk})

    assert "储值余额" in page_text(response) and "确认核销" not in page_text(response)
    assert "nothing_to_redeem" in page_text(redeem_on(page, code, shop.pk))


def test_a_manager_of_one_store_and_sales_associate_of_another_redeems_only_where_they_manage(
    shop, other_shop, member
):
    person = staff(shop, code="M001", role="manager")
    StaffAssignment.objects.create(staff=person, store=other_shop, role="associate")
    page = signed_in(person)
    refused, redeemed = CouponFactory(member=member), CouponFactory(member=member)
    before = coupon_state(refused)

    assert "store_not_allowed" in page_text(redeem_on(page, refused.code, other_shop.pk))
    assert coupon_state(refused) == before
    redeem_on(page, redeemed.code, shop.pk, token="t2")
    assert ("used", shop.pk) in coupon_state(redeemed)[1]
