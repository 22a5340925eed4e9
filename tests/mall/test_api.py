"""The member mall API: catalogue and filters, item, redeem, my redemptions, confirm, cancel, addresses."""

import pytest

from mall import services
from mall.models import Category, Redemption, ShippingAddress
from payments.models import Payment
from tests.factories import EarnedPointsFactory, MallItemFactory, MemberFactory
from tests.helpers import client_for, points_of
from tests.mall.helpers import address, redeem, state

pytestmark = pytest.mark.django_db


def post_redeem(client, it, key="k1", **extra):
    return client.post(
        "/api/v1/mall/redemptions", {"item_id": it.pk, **extra}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )


def virtual_item(codes=("SECRET-CODE-1",), **fields):
    it = MallItemFactory(name="视频月卡", kind="virtual_code", stock=0, **fields)
    services.virtual_codes_import(item_id=it.pk, codes=list(codes))
    it.refresh_from_db()
    return it


def test_the_catalogue_filters_by_category_affordability_and_what_my_tier_unlocks(
    member, member_api, monkeypatch
):
    EarnedPointsFactory(member=member, amount=1_000)
    cups = Category.objects.create(name="杯具", sort_order=1)
    cup = MallItemFactory(name="保温杯", points=800, category=cups, sort_order=1)
    pricey = MallItemFactory(name="行李箱", points=5_000, sort_order=2)
    gold = MallItemFactory(name="金卡专享", points=100, min_tier_level=3, sort_order=3)
    MallItemFactory(name="已下架", is_active=False)
    monkeypatch.setattr("membership.selectors.member_tier_level", lambda *, member_id: 1)

    def names(**query):
        response = member_api.get("/api/v1/mall/items", query)
        assert response.status_code == 200
        return [row["name"] for row in response.json()]

    assert names() == ["保温杯", "行李箱", "金卡专享"]
    assert names(category=cups.pk) == ["保温杯"]
    assert names(affordable="true") == ["保温杯", "金卡专享"]
    assert names(unlocked="true") == ["保温杯", "行李箱"]
    rows = {row["id"]: row for row in member_api.get("/api/v1/mall/items").json()}
    assert (rows[pricey.pk]["affordable"], rows[gold.pk]["unlocked"], rows[cup.pk]["unlocked"]) == (
        False,
        False,
        True,
    )
    assert member_api.get("/api/v1/mall/items", {"bogus": "1"}).status_code == 400
    assert [c["name"] for c in member_api.get("/api/v1/mall/categories").json()] == ["杯具"]


def test_item_detail_and_an_item_off_the_shelf_is_404(member_api):
    cup = MallItemFactory(description="316 不锈钢", per_member_limit=2)
    off = MallItemFactory(is_active=False)

    detail = member_api.get(f"/api/v1/mall/items/{cup.pk}").json()

    assert (detail["description"], detail["per_member_limit"], detail["stock"]) == ("316 不锈钢", 2, 10)
    response = member_api.get(f"/api/v1/mall/items/{off.pk}")
    assert (response.status_code, response.json()["code"]) == (404, "item_not_found")


def test_a_member_redeems_a_virtual_code_sees_it_in_full_on_the_detail_and_masked_in_the_list(
    member, member_api
):
    EarnedPointsFactory(member=member, amount=1_000)
    card = virtual_item()

    created = post_redeem(member_api, card)

    assert created.status_code == 201
    body = created.json()
    assert body["redemption"]["code"] == "SECRET-CODE-1" and body["payment"] is None
    rid = body["redemption"]["id"]
    assert member_api.get(f"/api/v1/mall/redemptions/{rid}").json()["code"] == "SECRET-CODE-1"
    listed = member_api.get("/api/v1/mall/redemptions").json()["results"]
    assert [(r["id"], r["code"]) for r in listed] == [(rid, "SE*********-1")]
    assert points_of(member) == 500
    replay = post_redeem(member_api, card)
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert points_of(member) == 500


def test_another_members_redemption_and_address_are_404(member, member_api):
    stranger = MemberFactory()
    EarnedPointsFactory(member=stranger, amount=1_000)
    theirs = redeem(stranger, virtual_item())
    their_address = address(stranger)
    cup = MallItemFactory()
    EarnedPointsFactory(member=member, amount=1_000)
    before = state(cup, member)

    for method, url in [
        ("get", f"/api/v1/mall/redemptions/{theirs.pk}"),
        ("post", f"/api/v1/mall/redemptions/{theirs.pk}/confirm-receipt"),
        ("get", f"/api/v1/mall/addresses/{their_address.pk}"),
        ("patch", f"/api/v1/mall/addresses/{their_address.pk}"),
        ("delete", f"/api/v1/mall/addresses/{their_address.pk}"),
    ]:
        assert getattr(member_api, method)(url, {}, format="json").status_code == 404, url
    cancel = member_api.post(f"/api/v1/mall/redemptions/{theirs.pk}/cancel", HTTP_IDEMPOTENCY_KEY="c")
    assert cancel.status_code == 404
    response = post_redeem(member_api, cup, address_id=their_address.pk)
    assert (response.status_code, response.json()["code"]) == (404, "address_not_found")
    assert state(cup, member) == before
    assert ShippingAddress.objects.get(pk=their_address.pk).recipient == "王小明"


def test_redeem_errors_are_clear_and_change_nothing(member, member_api):
    EarnedPointsFactory(member=member, amount=100)
    sold_out, expensive = virtual_item(codes=[]), virtual_item(codes=["A"], points=1_000)

    for it, status, code in [(sold_out, 409, "sold_out"), (expensive, 409, "insufficient_points")]:
        before = state(it, member)
        response = post_redeem(member_api, it, key=f"k{it.pk}")
        assert (response.status_code, response.json()["code"]) == (status, code)
        assert state(it, member) == before
    assert post_redeem(member_api, expensive, key="x", extra=1).status_code == 400
    assert (
        member_api.post("/api/v1/mall/redemptions", {"item_id": expensive.pk}, format="json").status_code
        == 400
    )


def test_points_and_cash_returns_payment_parameters_and_pays_through_simulate_pay(member, member_api):
    EarnedPointsFactory(member=member, amount=1_000)
    cup = MallItemFactory(points=300, cash_fen=990)
    home = member_api.post(
        "/api/v1/mall/addresses",
        {
            "recipient": "李雷",
            "phone": "13900000000",
            "province": "上海市",
            "city": "上海市",
            "detail": "南京路1号",
        },
        format="json",
    ).json()

    body = post_redeem(member_api, cup, address_id=home["id"]).json()

    assert body["redemption"]["status"] == "pending_payment" and body["payment"]["package"].startswith(
        "prepay_id="
    )
    out_trade_no = body["redemption"]["out_trade_no"]
    assert member_api.post(f"/api/v1/payments/{out_trade_no}/simulate-pay").status_code == 204
    assert Redemption.objects.get().status == "paid"
    assert Payment.objects.get(out_trade_no=out_trade_no).status == "paid"


def test_cancel_then_confirm_receipt_flow(member, member_api):
    EarnedPointsFactory(member=member, amount=1_000)
    home = address(member)
    first = post_redeem(member_api, MallItemFactory(), key="a", address_id=home.pk).json()["redemption"]
    second = post_redeem(member_api, MallItemFactory(), key="b", address_id=home.pk).json()["redemption"]

    cancelled = member_api.post(f"/api/v1/mall/redemptions/{first['id']}/cancel", HTTP_IDEMPOTENCY_KEY="c1")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert points_of(member) == 500
    early = member_api.post(f"/api/v1/mall/redemptions/{second['id']}/confirm-receipt")
    assert (early.status_code, early.json()["code"]) == (409, "not_confirmable")

    from django.contrib.auth.models import User

    ops = User.objects.create(username="ops")
    services.redemption_ship(redemption_id=second["id"], carrier="顺丰", tracking_no="SF9", actor_id=ops.pk)
    done = member_api.post(f"/api/v1/mall/redemptions/{second['id']}/confirm-receipt")
    assert done.status_code == 200 and done.json()["status"] == "completed"
    shipped_cancel = member_api.post(
        f"/api/v1/mall/redemptions/{second['id']}/cancel", HTTP_IDEMPOTENCY_KEY="c2"
    )
    assert (shipped_cancel.status_code, shipped_cancel.json()["code"]) == (409, "not_cancellable")
    assert [
        r["status"]
        for r in member_api.get("/api/v1/mall/redemptions", {"status": "completed"}).json()["results"]
    ] == ["completed"]


def test_addresses_crud_with_one_default(member, member_api):
    data = {
        "recipient": "李雷",
        "phone": "13900000000",
        "province": "上海市",
        "city": "上海市",
        "detail": "南京路1号",
    }
    first = member_api.post("/api/v1/mall/addresses", data, format="json").json()
    second = member_api.post("/api/v1/mall/addresses", {**data, "detail": "淮海路2号"}, format="json").json()
    assert (first["is_default"], second["is_default"]) == (True, False)

    patched = member_api.patch(f"/api/v1/mall/addresses/{second['id']}", {"is_default": True}, format="json")
    assert patched.status_code == 200 and patched.json()["is_default"] is True
    listed = member_api.get("/api/v1/mall/addresses").json()
    assert [(a["id"], a["is_default"]) for a in listed] == [(second["id"], True), (first["id"], False)]
    assert (
        member_api.patch(f"/api/v1/mall/addresses/{first['id']}", {"member": 5}, format="json").status_code
        == 400
    )
    assert member_api.post("/api/v1/mall/addresses", {**data, "phone": ""}, format="json").status_code == 400
    assert member_api.delete(f"/api/v1/mall/addresses/{second['id']}").status_code == 204
    assert member_api.get("/api/v1/mall/addresses").json()[0]["is_default"] is True


def test_my_redemptions_list_costs_a_fixed_number_of_queries(member, django_assert_max_num_queries):
    EarnedPointsFactory(member=member, amount=100_000)
    card = virtual_item(codes=[f"C{i}" for i in range(12)])
    for i in range(12):
        redeem(member, card, key=f"k{i}")
    client = client_for(member)
    with django_assert_max_num_queries(4):
        response = client.get("/api/v1/mall/redemptions")
    assert len(response.json()["results"]) == 12
