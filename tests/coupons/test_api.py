"""The member coupon API (claim centre, claim, my coupons, detail with QR) and counter redemption."""

import base64

import pytest

from coupons import services
from coupons.models import Coupon
from members.closure import member_close
from tests.factories import CouponTemplateFactory, MemberFactory
from tests.helpers import client_for, signed_request

pytestmark = pytest.mark.django_db


def claim(client, tpl, key="k1"):
    return client.post(
        "/api/v1/coupons/claim", {"template_id": tpl.pk}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )


def test_claim_centre_shows_stock_and_my_allowance_and_hides_what_i_may_not_claim(member, member_api):
    open_one = CouponTemplateFactory(name="满100减20", total_stock=10, per_member_limit=2)
    CouponTemplateFactory(name="金卡专享", audience="tiers", audience_values=["gold"])
    CouponTemplateFactory(name="不可领", claimable=False)
    services.coupon_claim(member=member, template_id=open_one.pk, idempotency_key="x")

    centre = member_api.get("/api/v1/coupons/claim-centre").json()

    assert [(c["template"]["name"], c["remaining_stock"], c["my_remaining"]) for c in centre] == [
        ("满100减20", 9, 1)
    ]
    assert centre[0]["template"]["face"] == "满¥100.00减¥20.00"


def test_a_member_claims_sees_and_opens_a_coupon_with_its_qr(member, member_api):
    tpl = CouponTemplateFactory()
    created = claim(member_api, tpl)
    assert created.status_code == 201
    coupon = created.json()

    assert [
        c["id"] for c in member_api.get("/api/v1/coupons", {"status": "available"}).json()["results"]
    ] == [coupon["id"]]
    assert member_api.get("/api/v1/coupons", {"status": "used"}).json()["results"] == []
    detail = member_api.get(f"/api/v1/coupons/{coupon['id']}").json()
    assert detail["code"] == coupon["code"]
    assert base64.b64decode(detail["qr_png"].split(",", 1)[1]).startswith(b"\x89PNG")


def test_claim_errors_are_clear_and_issue_nothing(member, member_api):
    sold_out = CouponTemplateFactory(total_stock=0)
    response = claim(member_api, sold_out)
    assert (response.status_code, response.json()["code"]) == (409, "coupon_sold_out")

    limited = CouponTemplateFactory()
    assert claim(member_api, limited, key="a").status_code == 201
    response = claim(member_api, limited, key="b")
    assert (response.status_code, response.json()["code"]) == (409, "coupon_limit_reached")

    response = claim(member_api, CouponTemplateFactory(audience="segment"), key="c")
    assert (response.status_code, response.json()["code"]) == (403, "not_in_audience")
    response = member_api.post(
        "/api/v1/coupons/claim", {"template_id": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="d"
    )
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")
    assert member_api.get("/api/v1/coupons", {"status": "stolen"}).status_code == 400
    assert Coupon.objects.count() == 1


def test_a_member_never_sees_another_members_coupon(member, member_api):
    other = MemberFactory()
    theirs = services.coupon_claim(member=other, template_id=CouponTemplateFactory().pk, idempotency_key="k")

    response = member_api.get(f"/api/v1/coupons/{theirs.pk}")
    assert (response.status_code, response.json()["code"]) == (404, "coupon_not_found")
    assert member_api.get("/api/v1/coupons").json()["results"] == []
    assert client_for(other).get(f"/api/v1/coupons/{theirs.pk}").status_code == 200


def test_anonymous_callers_get_401(api):
    for url in ("/api/v1/coupons", "/api/v1/coupons/claim-centre", "/api/v1/coupons/1"):
        assert api.get(url).status_code == 401


def test_the_till_redeems_a_coupon_by_code_with_a_signed_request(member, api, server_client):
    client, secret = server_client
    coupon = services.coupon_claim(member=member, template_id=CouponTemplateFactory().pk, idempotency_key="k")

    def redeem(order_no):
        body = {"code": coupon.code, "order_no": order_no}
        return signed_request(api, client, secret, "POST", "/api/v1/server/coupons/redeem", body)

    first = redeem("POS-1")
    assert (first.status_code, first.json()["status"]) == (200, "used")
    again = redeem("POS-2")
    assert (again.status_code, again.json()["code"]) == (409, "coupon_not_available")
    unsigned = api.post(
        "/api/v1/server/coupons/redeem", {"code": coupon.code, "order_no": "X"}, format="json"
    )
    assert unsigned.status_code == 401


def test_the_till_cannot_redeem_a_coupon_of_a_closed_account(member, api, server_client):
    client, secret = server_client
    coupon = services.coupon_claim(member=member, template_id=CouponTemplateFactory().pk, idempotency_key="k")
    member_close(member_id=member.pk)
    body = {"code": coupon.code, "order_no": "POS-1"}

    response = signed_request(api, client, secret, "POST", "/api/v1/server/coupons/redeem", body)

    assert (response.status_code, response.json()["code"]) == (409, "coupon_not_available")
    coupon.refresh_from_db()
    assert (coupon.status, coupon.order_no) == ("voided", "")
