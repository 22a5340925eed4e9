"""The membership back office: tiers, card types with QR and poster, grant/revoke, refunds, member overview."""

import pytest
from django.utils import timezone

from membership import cards
from membership.models import CardEvent, CardPurchase, CardType, MemberDay, MembershipCard, Tier
from membership.services import membership_record_order
from payments.models import PaymentRefund
from tests.factories import CardTypeFactory, MemberFactory
from tests.helpers import assert_reads_as_the_admin, csv_download, page_text
from tests.membership.card_helpers import pay
from tests.points.test_admin import staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(tiers):
    return MemberFactory(nickname="小王")


@pytest.mark.parametrize(
    "url",
    [
        "/admin/membership/tier/",
        "/admin/membership/membershippolicy/",
        "/admin/membership/membership/",
        "/admin/membership/growthentry/",
        "/admin/membership/tierchange/",
        "/admin/membership/cardtype/",
        "/admin/membership/cardtype/add/",
        "/admin/membership/membershipcard/",
        "/admin/membership/cardevent/",
        "/admin/membership/cardpurchase/",
        "/admin/membership/memberday/",
        "/admin/membership/memberday/add/",
        "/admin/membership/growthentry/export/",
    ],
)
def test_every_membership_admin_page_opens(admin_client, member, url):
    membership_record_order(member_id=member.pk, order_no="A", paid_fen=100_000, completed_at=timezone.now())
    CardTypeFactory(kind="paid")
    MemberDay.objects.create(name="周三", recurrence="weekly", weekday=2)

    assert admin_client.get(url).status_code == 200


def test_the_growth_ledger_exports_in_chinese_with_the_paid_amount_in_yuan(admin_client, member):
    membership_record_order(
        member_id=member.pk, order_no="G-1", paid_fen=123_450, completed_at=timezone.now()
    )

    name, rows = csv_download(admin_client.get("/admin/membership/growthentry/export/"))

    assert name == f"成长值流水_{timezone.localdate()}.csv"
    assert_reads_as_the_admin(rows, "order")
    assert [(r["会员ID"], r["会员"], r["类型"], r["实付金额（元）"], r["订单号"]) for r in rows] == [
        (str(member.pk), "小王", "订单", "1234.50", "G-1")
    ]
    assert "idempotency" not in str(rows) and "order:G-1" not in str(rows)


def test_the_card_type_qr_is_a_png_carrying_the_tags(admin_client, member):
    ct = CardTypeFactory(kind="free")

    response = admin_client.get(f"/admin/membership/cardtype/{ct.pk}/qr.png?channel=store-1&staff=s007")

    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response.content.startswith(b"\x89PNG")
    assert f"card-{ct.pk}-store-1-s007.png" in response["Content-Disposition"]


def test_the_poster_embeds_the_tagged_claim_link_and_qr(admin_client, member):
    ct = CardTypeFactory(kind="paid", name="黑金卡", price_fen=19_900)

    page = admin_client.get(
        f"/admin/membership/cardtype/{ct.pk}/poster/?channel=mall&staff=s1"
    ).content.decode()

    assert "黑金卡" in page and "¥199.00" in page and "data:image/png;base64," in page
    assert f"pages/membership/claim?card_type={ct.pk}&amp;channel=mall&amp;staff=s1" in page
    assert "@media print" in page


def test_granting_and_revoking_need_the_permission_and_a_reason(client, member):
    ct = CardTypeFactory(kind="free")
    staff(client, "clerk", "membership.view_membershipcard")
    body = {"member_id": member.pk, "card_type": ct.pk, "reason": "客诉补偿", "idempotency_key": "k"}
    assert client.post("/admin/membership/membershipcard/grant/", body).status_code == 403
    assert not MembershipCard.objects.exists()

    staff(client, "ops", "membership.view_membershipcard", "membership.grant_card")
    assert client.post("/admin/membership/membershipcard/grant/", {**body, "reason": ""}).status_code == 200
    assert not MembershipCard.objects.exists()
    assert client.post("/admin/membership/membershipcard/grant/", body).status_code == 302
    card = MembershipCard.objects.get(member=member)

    response = client.post(
        f"/admin/membership/membershipcard/{card.pk}/revoke/", {"reason": "误发", "idempotency_key": "r"}
    )

    assert response.status_code == 302
    card.refresh_from_db()
    assert card.status == "revoked"
    assert list(CardEvent.objects.filter(card=card).values_list("kind", "reason")) == [
        ("operator", "客诉补偿"),
        ("revoke", "误发"),
    ]


def test_a_pro_rata_refund_needs_the_finance_permission(client, member):
    ct = CardTypeFactory(kind="paid", price_fen=3_000)
    purchase = cards.card_purchase_create(member=member, card_type_id=ct.pk)
    pay(purchase)
    url = f"/admin/membership/cardpurchase/{purchase.pk}/refund/"

    staff(client, "clerk", "membership.view_cardpurchase")
    assert client.post(url, {"reason": "r", "idempotency_key": "k"}).status_code == 403
    assert not PaymentRefund.objects.exists()

    staff(client, "finance", "membership.view_cardpurchase", "membership.refund_card")
    assert client.post(url, {"reason": "退卡", "idempotency_key": "k"}).status_code == 302
    purchase.refresh_from_db()
    assert purchase.status == "refunded" and 2_990 <= purchase.refunded_fen <= 3_000
    assert PaymentRefund.objects.get().amount_fen == purchase.refunded_fen


def test_the_member_overview_shows_tier_cards_points_stored_value_and_coupons(admin_client, member):
    membership_record_order(member_id=member.pk, order_no="A", paid_fen=165_000, completed_at=timezone.now())
    cards.card_claim(member_id=member.pk, card_type_id=CardTypeFactory(kind="free", name="门店会员卡").pk)

    page = admin_client.get(f"/admin/members/member/{member.pk}/overview/").content.decode()

    assert Tier.objects.get(level=1).name in page
    assert "¥1,650.00" in page and "门店会员卡" in page
    assert admin_client.get("/admin/members/member/").content.decode().count("/overview/") == 1


def test_a_tier_with_members_cannot_be_deleted(admin_client, member):
    membership_record_order(member_id=member.pk, order_no="A", paid_fen=100_000, completed_at=timezone.now())
    tier = Tier.objects.get(level=1)

    admin_client.post(f"/admin/membership/tier/{tier.pk}/delete/", {"post": "yes"})

    assert Tier.objects.filter(pk=tier.pk).exists()


def test_ledger_pages_are_read_only(admin_client, member):
    membership_record_order(member_id=member.pk, order_no="A", paid_fen=100, completed_at=timezone.now())
    assert admin_client.get("/admin/membership/growthentry/add/").status_code == 403
    assert not CardPurchase.objects.exists()


def test_a_tier_discount_is_typed_as_zhe_and_listed_as_zhe(admin_client, member):
    tier = Tier.objects.get(level=1)
    data = {
        "level": tier.level,
        "name": tier.name,
        "growth_threshold": tier.growth_threshold,
        "discount_bp": "9.5",
        "points_multiplier": "1.00",
    }

    response = admin_client.post(f"/admin/membership/tier/{tier.pk}/change/", data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    tier.refresh_from_db()
    assert tier.discount_bp == 500  # basis points off: the stored meaning
    assert "9.5折" in admin_client.get("/admin/membership/tier/").content.decode()
    page = admin_client.get(f"/admin/membership/tier/{tier.pk}/change/").content.decode()
    assert 'value="9.5"' in page and "¥100 的订单实付 ¥95.00" in page and "基点" not in page


def _card_type_form(**fields):
    return {
        "name": "千元卡",
        "kind": "conditional",
        "is_active": "on",
        "validity": "permanent",
        "valid_days": "365",
        "condition": "paid_spend",
        "spend_threshold": "",
        "condition_threshold": "",
        "period": "month",
        "price_fen": "0",
        "trial_days": "0",
        "discount_bp": "",
        "points_multiplier": "1",
        "colour": "#1F2937",
        **fields,
    }


def test_a_card_earned_by_paid_spend_takes_its_threshold_in_yuan(admin_client, member):
    response = admin_client.post(
        "/admin/membership/cardtype/add/", _card_type_form(spend_threshold="1,000", discount_bp="9.8")
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    card_type = CardType.objects.get(name="千元卡")
    assert (card_type.condition_threshold, card_type.discount_bp) == (100_000, 200)
    page = admin_client.get(f"/admin/membership/cardtype/{card_type.pk}/change/").content.decode()
    assert 'name="spend_threshold" value="1000.00"' in page


def test_a_card_earned_by_orders_keeps_its_count_and_a_spend_card_needs_its_amount(admin_client, member):
    admin_client.post(
        "/admin/membership/cardtype/add/",
        _card_type_form(name="五单卡", condition="orders", condition_threshold="5"),
    )
    refused = admin_client.post("/admin/membership/cardtype/add/", _card_type_form(name="空卡"))

    assert CardType.objects.get(name="五单卡").condition_threshold == 5
    assert refused.status_code == 200 and "spend_threshold" in refused.context["adminform"].form.errors
    assert not CardType.objects.filter(name="空卡").exists()


def test_a_viewer_reads_a_spend_threshold_in_yuan(client, member):
    card_type = CardTypeFactory(kind="conditional", name="千元卡")  # ¥1,000 of paid spend
    staff(client, "viewer", "membership.view_cardtype")

    page = client.get(f"/admin/membership/cardtype/{card_type.pk}/change/").content.decode()

    assert "¥1,000.00" in page and "100000" not in page


# --- member days and card types: only the fields of the chosen kind, audiences as pickers -----------


def _member_day_form(**fields):
    return {
        "name": "周三会员日",
        "is_active": "on",
        "recurrence": "weekly",
        "weekday": "2",
        "points_multiplier": "2",
        "extra_discount_bp": "",
        "audience": "everyone",
        "runs-TOTAL_FORMS": "0",
        "runs-INITIAL_FORMS": "0",
        **fields,
    }


def test_a_wednesday_member_day_for_two_tiers_is_ticked_and_stored_as_levels(admin_client, member):
    response = admin_client.post(
        "/admin/membership/memberday/add/", _member_day_form(audience="tiers", audience_tiers=["2", "3"])
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    day = MemberDay.objects.get()
    assert (day.weekday, day.day_of_month, day.audience, day.audience_values) == (2, None, "tiers", [2, 3])
    assert str(day.points_multiplier) == "2.00"
    page = admin_client.get(f"/admin/membership/memberday/{day.pk}/change/").content.decode()
    assert 'name="audience_tiers" value="3"' in page and "L3" in page and "[2, 3]" not in page


def test_a_member_day_for_card_holders_stores_the_card_type_ids(admin_client, member):
    vip = CardTypeFactory(name="VIP")

    response = admin_client.post(
        "/admin/membership/memberday/add/", _member_day_form(audience="card_holders", audience_cards=[vip.pk])
    )

    assert response.status_code == 302
    assert MemberDay.objects.get().audience_values == [vip.pk]


def test_a_member_day_for_member_tags_stores_the_tag_ids_and_lists_them_by_name(admin_client, member):
    from analytics.models import MemberTag

    valuable, repeat = MemberTag.objects.create(name="高价值"), MemberTag.objects.create(name="复购")

    response = admin_client.post(
        "/admin/membership/memberday/add/",
        _member_day_form(audience="tags", audience_tags=[repeat.pk, valuable.pk]),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    day = MemberDay.objects.get()
    assert (day.audience, day.audience_values) == ("tags", sorted([valuable.pk, repeat.pk]))
    assert "会员标签：高价值、复购" in page_text(admin_client.get("/admin/membership/memberday/"))


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"recurrence": "monthly", "weekday": ""}, "day_of_month", "每月的会员日需要填写日期"),
        ({"recurrence": "monthly", "day_of_month": "8"}, "weekday", "不适用于「每月」"),
        ({"weekday": ""}, "weekday", "每周的会员日需要选择星期几"),
        ({"audience": "segment"}, "audience_segment", "请选择一个人群"),
        ({"audience": "tags"}, "audience_tags", "请至少勾选一个会员标签"),
        ({"audience": "everyone", "audience_tiers": ["1"]}, "audience_tiers", "不适用于「所有会员」"),
        ({"points_multiplier": "0.5"}, "points_multiplier", "积分倍数至少为 1"),
    ],
)
def test_a_member_day_that_does_not_add_up_is_explained_in_chinese(
    admin_client, member, fields, field, message
):
    response = admin_client.post("/admin/membership/memberday/add/", _member_day_form(**fields))

    assert response.status_code == 200
    assert message in " ".join(response.context["adminform"].form.errors[field])
    assert not MemberDay.objects.exists()


def test_a_free_card_refuses_a_price_and_a_paid_card_needs_one(admin_client, member):
    add = "/admin/membership/cardtype/add/"

    free = admin_client.post(
        add, _card_type_form(name="免费卡", kind="free", condition="", price_fen="19.90")
    )
    paid = admin_client.post(add, _card_type_form(name="付费卡", kind="paid", condition="", price_fen="0"))
    ranged = admin_client.post(
        add, _card_type_form(name="限时卡", kind="free", condition="", validity="range")
    )

    assert "不适用于「免费卡（随时领取）」" in " ".join(free.context["adminform"].form.errors["price_fen"])
    assert "付费卡需要填写价格" in " ".join(paid.context["adminform"].form.errors["price_fen"])
    assert "需要填写开始和结束时间" in " ".join(ranged.context["adminform"].form.errors["valid_until"])
    assert not CardType.objects.exists()


def test_a_conditional_card_posted_without_the_fields_of_other_kinds_stores_their_defaults(
    admin_client, member
):
    data = _card_type_form(name="五单卡", condition="orders", condition_threshold="5")
    for name in ("spend_threshold", "period", "price_fen", "trial_days", "valid_days"):
        data.pop(name)  # hidden by the page's script, so not posted

    response = admin_client.post("/admin/membership/cardtype/add/", data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    card = CardType.objects.get()
    assert (card.condition_threshold, card.price_fen, card.period, card.valid_days) == (5, 0, "month", 365)
