"""The coupon back office: template figures, void behind a permission, CSV, bulk issue with progress."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from coupons import services
from coupons.models import BulkIssue, Coupon, CouponEvent, CouponTemplate, GiftPackGrant, GiftPackItem
from loyalty.money import yuan_text, zhe_of
from members.closure import member_close
from tests.factories import CouponTemplateFactory, GiftPackFactory, MemberFactory
from tests.helpers import assert_reads_as_the_admin, csv_download, page_text
from tests.membership.helpers import standard_tiers
from tests.points.test_admin import staff

pytestmark = pytest.mark.django_db


def test_the_template_list_shows_issued_used_and_redemption_rate(admin_client, member):
    tpl = CouponTemplateFactory(name="满100减20", per_member_limit=4)
    coupons = [
        services.coupon_claim(member=member, template_id=tpl.pk, idempotency_key=f"k{i}") for i in range(4)
    ]
    services.coupon_redeem_code(code=coupons[0].code, order_no="POS-1")

    page = admin_client.get("/admin/coupons/coupontemplate/").content.decode()

    assert "满¥100.00减¥20.00" in page and "25.0%" in page


def test_voiding_needs_the_permission_and_a_reason(client, member):
    coupon = services.coupon_claim(member=member, template_id=CouponTemplateFactory().pk, idempotency_key="k")
    url = f"/admin/coupons/coupon/{coupon.pk}/void/"

    staff(client, "clerk", "coupons.view_coupon")
    assert client.post(url, {"reason": "r", "idempotency_key": "x"}).status_code == 403
    staff(client, "ops", "coupons.view_coupon", "coupons.void_coupon")
    assert client.post(url, {"reason": "", "idempotency_key": "x"}).status_code == 200  # the form again
    coupon.refresh_from_db()
    assert coupon.status == "available"

    assert client.post(url, {"reason": "发错了", "idempotency_key": "x"}).status_code == 302
    coupon.refresh_from_db()
    assert coupon.status == "voided"
    assert CouponEvent.objects.get(coupon=coupon, kind="voided").reason == "发错了"


def test_coupons_export_as_csv_with_the_filters(admin_client, member):
    tpl = CouponTemplateFactory(per_member_limit=2)
    kept = services.coupon_claim(member=member, template_id=tpl.pk, idempotency_key="a")
    used = services.coupon_claim(member=member, template_id=tpl.pk, idempotency_key="b")
    services.coupon_redeem_code(code=used.code, order_no="POS")

    name, rows = csv_download(admin_client.get("/admin/coupons/coupon/export/?status=available"))

    assert name == f"优惠券_{timezone.localdate()}.csv"
    assert_reads_as_the_admin(rows, "available", "claim")
    assert [(r["券码"], r["优惠券模板"], r["会员ID"], r["状态"], r["来源"]) for r in rows] == [
        (kept.code, tpl.name, str(member.pk), "可使用", "会员领取")
    ]
    assert "issue_key" not in str(rows) and kept.issue_key not in str(rows)


def test_a_bulk_issue_from_an_uploaded_list_runs_and_shows_its_progress(
    client, django_capture_on_commit_callbacks
):
    members = [MemberFactory(phone=f"1390000000{i}") for i in range(3)]
    tpl = CouponTemplateFactory(total_stock=2)
    user = staff(
        client, "ops", "coupons.view_coupontemplate", "coupons.issue_coupons", "coupons.view_bulkissue"
    )
    upload = SimpleUploadedFile(
        "members.csv", f"{members[0].pk}\n{members[1].openid}\n{members[2].phone}\nnobody\n".encode()
    )

    with django_capture_on_commit_callbacks(execute=True):  # the Celery task runs eagerly in tests
        response = client.post(
            f"/admin/coupons/coupontemplate/{tpl.pk}/bulk-issue/", {"members_file": upload}
        )

    bulk = BulkIssue.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/bulkissue/{bulk.pk}/change/")
    assert bulk.created_by == user
    progress = client.get(f"/admin/coupons/bulkissue/{bulk.pk}/progress.json").json()
    assert progress == {
        "status": "done",
        "status_display": "已完成",
        "total": 3,
        "processed": 3,
        "issued": 2,
        "results": {"issued": 2, "limit": 0, "sold_out": 1, "closed": 0, "pending": 0},
    }
    page = client.get(f"/admin/coupons/bulkissue/{bulk.pk}/change/").content.decode()
    assert "<progress" in page
    name, report = csv_download(client.get(f"/admin/coupons/bulkissue/{bulk.pk}/report.csv"))
    assert name == f"批量发券_{bulk.pk}.csv"
    assert_reads_as_the_admin(report, "issued", "sold_out")
    assert [(r["会员ID"], r["会员"], r["openid"], r["结果"]) for r in report] == [
        (str(m.pk), str(m), m.openid, result)
        for m, result in zip(members, ["已发放", "已发放", "已领完"], strict=True)
    ]
    assert Coupon.objects.count() == 2


def test_a_bulk_issue_needs_the_permission(client, member):
    tpl = CouponTemplateFactory()
    staff(client, "clerk", "coupons.view_coupontemplate")
    assert (
        client.post(f"/admin/coupons/coupontemplate/{tpl.pk}/bulk-issue/", {"everyone": "on"}).status_code
        == 403
    )
    assert not BulkIssue.objects.exists()


def _change_form(admin_client, tpl, **changes):
    """Post the template's change form as the page shows it: amounts in yuan, the discount in 折."""
    from django.forms.models import model_to_dict

    data = {
        k: ("" if v is None else v) for k, v in model_to_dict(tpl).items() if k not in ("id", "issued_count")
    }
    for name in ("threshold_fen", "amount_off_fen", "max_discount_fen"):
        data[name] = yuan_text(getattr(tpl, name))
    data["percent_off"] = f"{zhe_of(tpl.percent_off, scale=100):f}" if tpl.percent_off else ""
    for name in ("audience_values", "scope_values"):  # the form shows pickers and lines instead
        data.pop(name, None)
    data.update(changes)
    return admin_client.post(f"/admin/coupons/coupontemplate/{tpl.pk}/change/", data)


def test_saving_a_template_never_writes_back_a_stale_issued_count(admin_client, member):
    from coupons.models import CouponTemplate

    tpl = CouponTemplateFactory(total_stock=10, per_member_limit=5)
    stale = CouponTemplate.objects.get(pk=tpl.pk)  # what the operator's form was built from
    for i in range(3):  # claims while the operator edits
        services.coupon_claim(member=member, template_id=tpl.pk, idempotency_key=f"k{i}")

    response = _change_form(admin_client, stale, description="双11 备注")

    assert response.status_code == 302, response.context["adminform"].form.errors
    tpl.refresh_from_db()
    assert (tpl.description, tpl.issued_count) == ("双11 备注", 3)


def test_issued_terms_and_stock_below_issued_are_refused_in_the_admin(admin_client, member):
    tpl = CouponTemplateFactory(total_stock=10)
    services.coupon_claim(member=member, template_id=tpl.pk, idempotency_key="k")

    assert _change_form(admin_client, tpl, total_stock=0).status_code == 200  # the form again, with the error
    assert _change_form(admin_client, tpl, amount_off_fen="90.00").status_code == 200
    tpl.refresh_from_db()
    assert (tpl.total_stock, tpl.amount_off_fen) == (10, 2_000)
    assert _change_form(admin_client, tpl, total_stock=1).status_code == 302


def test_a_member_list_saved_by_excel_in_gbk_is_read(client, django_capture_on_commit_callbacks):
    member = MemberFactory(phone="13900000009")
    tpl = CouponTemplateFactory()
    staff(client, "ops", "coupons.view_coupontemplate", "coupons.issue_coupons", "coupons.view_bulkissue")
    upload = SimpleUploadedFile(
        "名单.csv", f"手机号\n{member.phone}\n".encode("gbk") + "²\n".encode("latin-1")
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/admin/coupons/coupontemplate/{tpl.pk}/bulk-issue/", {"members_file": upload}
        )

    assert response.status_code == 302
    assert Coupon.objects.get().member == member


def _new_template(**fields):
    """The add form of a coupon template as an operator fills it: amounts in yuan, the discount in 折."""
    return {
        "name": "满100减20",
        "kind": "amount_off",
        "is_active": "on",
        "threshold_fen": "0.00",  # what the add form shows
        "amount_off_fen": "0.00",
        "percent_off": "",
        "max_discount_fen": "",
        "validity": "relative",
        "valid_days": "7",
        "total_stock": "1000",
        "per_member_limit": "1",
        "claimable": "on",
        "audience": "everyone",
        "scope": "all",
        "stacking": "normal",
        **fields,
    }


def test_an_operator_types_the_amounts_of_a_template_in_yuan_and_fen_is_stored(admin_client):
    response = admin_client.post(
        "/admin/coupons/coupontemplate/add/", _new_template(threshold_fen="100", amount_off_fen="¥20.00")
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    tpl = CouponTemplate.objects.get(name="满100减20")
    assert (tpl.threshold_fen, tpl.amount_off_fen, tpl.max_discount_fen) == (10_000, 2_000, None)
    page = admin_client.get(f"/admin/coupons/coupontemplate/{tpl.pk}/change/").content.decode()
    assert 'value="100.00"' in page and 'value="20.00"' in page
    assert "使用门槛" in page and "使用门槛（分）" not in page
    assert "满¥100.00减¥20.00" in admin_client.get("/admin/coupons/coupontemplate/").content.decode()


def test_a_discount_is_typed_as_zhe_and_stored_as_the_percent_taken_off(admin_client):
    response = admin_client.post(
        "/admin/coupons/coupontemplate/add/",
        _new_template(name="全场8.8折", kind="percent_off", percent_off="8.8", max_discount_fen="50"),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    tpl = CouponTemplate.objects.get(name="全场8.8折")
    assert (tpl.percent_off, tpl.max_discount_fen) == (12, 5_000)  # 12 percent off: the stored meaning
    page = admin_client.get(f"/admin/coupons/coupontemplate/{tpl.pk}/change/").content.decode()
    assert 'value="8.8"' in page and "¥100 的订单实付 ¥88.00" in page and "loyalty/zhe.js" in page


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"kind": "percent_off", "percent_off": "8.85"}, "percent_off", "最多 1 位小数"),
        ({"kind": "percent_off", "percent_off": "12"}, "percent_off", "0.1 到 9.9"),
        ({"kind": "percent_off", "percent_off": ""}, "percent_off", "折扣券需要填写折扣"),
        ({"threshold_fen": "100.005", "amount_off_fen": "20"}, "threshold_fen", "两位小数"),
        ({"threshold_fen": "-100", "amount_off_fen": "20"}, "threshold_fen", "负数"),
        ({"threshold_fen": "一百", "amount_off_fen": "20"}, "threshold_fen", "以元为单位"),
    ],
)
def test_a_template_with_an_amount_or_discount_that_is_not_exact_is_refused(
    admin_client, fields, field, message
):
    response = admin_client.post("/admin/coupons/coupontemplate/add/", _new_template(**fields))

    assert response.status_code == 200
    assert message in " ".join(response.context["adminform"].form.errors[field])
    assert not CouponTemplate.objects.exists()


def test_the_bulk_issue_page_counts_each_reason_before_the_csv(
    admin_client, admin_user, django_capture_on_commit_callbacks
):
    tpl = CouponTemplateFactory(total_stock=3, per_member_limit=1)
    holder, closing, *others = MemberFactory.create_batch(5)
    services.coupon_claim(member=holder, template_id=tpl.pk, idempotency_key="already")  # at the limit
    member_close(member_id=closing.pk)
    with django_capture_on_commit_callbacks(execute=True):
        bulk = services.bulk_issue_create(
            template_id=tpl.pk, member_ids=[m.pk for m in [holder, closing, *others]], actor_id=admin_user.pk
        )

    response = admin_client.get(f"/admin/coupons/bulkissue/{bulk.pk}/change/")
    text = page_text(response)

    # Two of the three left in stock went out; the third member found it sold out.
    assert "已发放\n2" in text
    assert "未发放，原因：" in text
    assert "已达每人上限\n1" in text and "已领完\n1" in text and "已跳过：账户已注销\n1" in text
    assert "待处理" not in text  # nothing pending once done
    page = response.content.decode()
    assert page.index("已达每人上限") < page.index(f"/bulkissue/{bulk.pk}/report.csv")  # before the CSV


def test_a_coupon_page_reads_its_source_and_history_in_chinese_and_hides_its_issue_key(admin_client, member):
    coupon = services.coupon_claim(member=member, template_id=CouponTemplateFactory().pk, idempotency_key="k")
    services.coupon_redeem_code(code=coupon.code, order_no="POS-1")

    response = admin_client.get(f"/admin/coupons/coupon/{coupon.pk}/change/")
    text = page_text(response)

    assert "会员领取" in text and "已发放" in text and "已使用" in text
    assert "claim" not in text and "issued" not in text and "used" not in text
    assert coupon.issue_key not in response.content.decode()
    assert "会员领取" in page_text(admin_client.get("/admin/coupons/coupon/"))  # the list and its filter


def test_a_gift_pack_grant_reads_its_occasion_and_what_was_withheld(admin_client, member):
    sold_out = CouponTemplateFactory(name="满200减50", total_stock=0)
    pack = GiftPackFactory(name="充值礼包")
    GiftPackItem.objects.create(pack=pack, template=sold_out)
    services.gift_pack_issue(pack_id=pack.pk, member_id=member.pk, occasion="recharge:42")

    for url in [
        "/admin/coupons/giftpackgrant/",
        f"/admin/coupons/giftpackgrant/{GiftPackGrant.objects.get().pk}/change/",
    ]:
        text = page_text(admin_client.get(url))
        assert "充值赠送（42）" in text and "满200减50" in text and "已领完" in text, url
        assert "recharge:42" not in text and "coupon_sold_out" not in text and "template_id" not in text, url


# --- forms, not JSON: pickers, lines, only the fields of the chosen kind ----------------------------


@pytest.fixture
def tiers(db):
    """Tiers L0–L3 (levels 0–3), which the audience picker offers by name."""
    return standard_tiers()


def _errors(response) -> dict:
    return {name: " ".join(messages) for name, messages in response.context["adminform"].form.errors.items()}


def test_tiers_are_ticked_by_name_and_stored_as_the_levels_they_always_were(admin_client, tiers):
    response = admin_client.post(
        "/admin/coupons/coupontemplate/add/",
        _new_template(amount_off_fen="20", threshold_fen="100", audience="tiers", audience_tiers=["2", "3"]),
    )

    assert response.status_code == 302, _errors(response)
    tpl = CouponTemplate.objects.get()
    assert (tpl.audience, tpl.audience_values) == ("tiers", [2, 3])
    page = admin_client.get(f"/admin/coupons/coupontemplate/{tpl.pk}/change/").content.decode()
    assert 'name="audience_tiers" value="2"' in page and "L2" in page  # ticked, by the tier's name
    assert re.search(r'name="audience_tiers" value="2"[^>]*checked', page)


def test_card_types_and_a_segment_are_picked_and_stored_as_ids(admin_client):
    from analytics.models import Segment
    from tests.factories import CardTypeFactory

    vip, plus = CardTypeFactory(name="VIP"), CardTypeFactory(name="PLUS", kind="paid")
    segment = Segment.objects.create(
        name="老客", rules={"op": "and", "conditions": [{"field": "tier", "value": [1]}]}
    )
    add = "/admin/coupons/coupontemplate/add/"

    cards = admin_client.post(
        add,
        _new_template(
            name="卡券", amount_off_fen="5", audience="card_holders", audience_cards=[plus.pk, vip.pk]
        ),
    )
    aimed = admin_client.post(
        add, _new_template(name="人群券", amount_off_fen="5", audience="segment", audience_segment=segment.pk)
    )

    assert cards.status_code == aimed.status_code == 302
    assert CouponTemplate.objects.get(name="卡券").audience_values == sorted([vip.pk, plus.pk])
    assert CouponTemplate.objects.get(name="人群券").audience_values == [segment.pk]


def test_a_targeted_audience_needs_its_pick_and_everyone_takes_none(admin_client, tiers):
    add = "/admin/coupons/coupontemplate/add/"

    nobody = admin_client.post(add, _new_template(amount_off_fen="5", audience="tiers"))
    stray = admin_client.post(
        add, _new_template(amount_off_fen="5", audience="everyone", audience_tiers=["2"])
    )

    assert "请至少勾选一个会员等级" in _errors(nobody)["audience_tiers"]
    assert "不适用于「所有会员」" in _errors(stray)["audience_tiers"]
    assert not CouponTemplate.objects.exists()


def test_member_tags_are_ticked_by_name_stored_as_tag_ids_and_read_by_name_in_the_list(admin_client):
    from analytics.models import MemberTag

    valuable, repeat = MemberTag.objects.create(name="高价值"), MemberTag.objects.create(name="复购")

    response = admin_client.post(
        "/admin/coupons/coupontemplate/add/",
        _new_template(amount_off_fen="5", audience="tags", audience_tags=[valuable.pk, repeat.pk]),
    )

    assert response.status_code == 302, _errors(response)
    tpl = CouponTemplate.objects.get()
    assert (tpl.audience, tpl.audience_values) == ("tags", sorted([valuable.pk, repeat.pk]))
    page = admin_client.get(f"/admin/coupons/coupontemplate/{tpl.pk}/change/").content.decode()
    assert re.search(rf'name="audience_tags" value="{repeat.pk}"[^>]*checked', page) and "复购" in page
    listed = page_text(admin_client.get("/admin/coupons/coupontemplate/"))
    assert "会员标签：高价值、复购" in listed  # in the order of the ids, 高价值 first


def test_a_tag_audience_needs_a_ticked_tag_and_saves_nothing_without_one(admin_client):
    from analytics.models import MemberTag

    MemberTag.objects.create(name="高价值")

    response = admin_client.post(
        "/admin/coupons/coupontemplate/add/", _new_template(amount_off_fen="5", audience="tags")
    )

    assert response.status_code == 200
    assert "请至少勾选一个会员标签" in _errors(response)["audience_tags"]
    assert not CouponTemplate.objects.exists()


def test_a_deleted_tag_stays_shown_as_gone_on_the_template_and_in_the_list(admin_client):
    from analytics.models import MemberTag

    kept, gone = MemberTag.objects.create(name="复购"), MemberTag.objects.create(name="流失")
    gone_pk = gone.pk
    tpl = CouponTemplateFactory(audience="tags", audience_values=[kept.pk, gone_pk])
    gone.delete()

    page = admin_client.get(f"/admin/coupons/coupontemplate/{tpl.pk}/change/").content.decode()

    assert re.search(rf'name="audience_tags" value="{gone_pk}"[^>]*checked', page)
    assert f"#{gone_pk}（已不存在）" in page
    assert f"会员标签：复购、#{gone_pk}（已不存在）" in page_text(
        admin_client.get("/admin/coupons/coupontemplate/")
    )


def test_categories_and_skus_are_typed_one_per_line_and_stored_as_a_list(admin_client):
    add = "/admin/coupons/coupontemplate/add/"

    by_category = admin_client.post(
        add,
        _new_template(
            name="茶饮券",
            amount_off_fen="5",
            scope="categories",
            scope_categories="茶饮\r\n 甜点 \r\n\r\n茶饮，咖啡",
        ),
    )
    by_sku = admin_client.post(
        add,
        _new_template(
            name="单品券", amount_off_fen="5", scope="skus", scope_skus="TEA-001\nTEA-002", scope_exclude="on"
        ),
    )

    assert by_category.status_code == by_sku.status_code == 302
    tea = CouponTemplate.objects.get(name="茶饮券")
    assert (tea.scope, tea.scope_values, tea.scope_exclude) == ("categories", ["茶饮", "甜点", "咖啡"], False)
    single = CouponTemplate.objects.get(name="单品券")
    assert (single.scope, single.scope_values, single.scope_exclude) == ("skus", ["TEA-001", "TEA-002"], True)
    page = admin_client.get(f"/admin/coupons/coupontemplate/{single.pk}/change/").content.decode()
    assert "TEA-001\nTEA-002</textarea>" in page and "&quot;TEA-001&quot;" not in page  # lines, not JSON


def test_a_scope_of_categories_needs_one_and_all_items_takes_none(admin_client):
    add = "/admin/coupons/coupontemplate/add/"

    empty = admin_client.post(add, _new_template(amount_off_fen="5", scope="categories", scope_categories=""))
    stray = admin_client.post(add, _new_template(amount_off_fen="5", scope="all", scope_skus="TEA-001"))

    assert "请至少填写一个品类" in _errors(empty)["scope_categories"]
    assert "不适用于「全部商品」" in _errors(stray)["scope_skus"]
    assert not CouponTemplate.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"percent_off": "8.8"}, "percent_off"),  # 折扣比例 on a 满减 template
        ({"gift_sku": "TEA-001"}, "gift_sku"),  # 兑换商品 SKU on a 满减 template
        ({"max_discount_fen": "50"}, "max_discount_fen"),
    ],
)
def test_a_full_reduction_template_refuses_the_fields_of_other_kinds_in_chinese(admin_client, fields, field):
    response = admin_client.post(
        "/admin/coupons/coupontemplate/add/",
        _new_template(threshold_fen="100", amount_off_fen="20", **fields),
    )

    assert response.status_code == 200
    assert re.fullmatch(r"「.+」不适用于「满减券」，请留空。", _errors(response)[field])
    assert not CouponTemplate.objects.exists()


def test_fields_of_other_kinds_left_out_of_the_post_are_stored_as_their_defaults(admin_client):
    """What the page's script sends: the hidden fields of other kinds are not posted at all."""
    data = _new_template(name="包邮券", kind="free_shipping", threshold_fen="59")
    for name in ("amount_off_fen", "percent_off", "max_discount_fen", "valid_days"):
        data.pop(name, None)
    data.update(
        validity="fixed",
        valid_from_0="2026-12-01",
        valid_from_1="00:00:00",
        valid_until_0="2026-12-31",
        valid_until_1="23:59:59",
    )

    response = admin_client.post("/admin/coupons/coupontemplate/add/", data)

    assert response.status_code == 302, _errors(response)
    tpl = CouponTemplate.objects.get()
    assert (tpl.threshold_fen, tpl.amount_off_fen, tpl.percent_off, tpl.max_discount_fen, tpl.valid_days) == (
        5_900,
        0,
        0,
        None,
        30,
    )


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"amount_off_fen": "0"}, "amount_off_fen", "请填写减免金额"),
        ({"kind": "exchange", "amount_off_fen": "0"}, "gift_sku", "兑换券需要填写兑换商品 SKU"),
        ({"validity": "fixed", "valid_days": "30"}, "valid_until", "固定日期有效的券需要填写失效时间"),
        (
            {"validity": "fixed", "valid_days": "7", "valid_until_0": "2026-12-31", "valid_until_1": "00:00"},
            "valid_days",
            "不适用于「固定日期」",
        ),
        (
            {
                "claim_starts_at_0": "2026-12-02",
                "claim_starts_at_1": "00:00",
                "claim_ends_at_0": "2026-12-01",
                "claim_ends_at_1": "00:00",
            },
            "claim_ends_at",
            "结束时间必须晚于开始时间",
        ),
    ],
)
def test_cross_field_rules_of_a_template_are_explained_in_chinese(admin_client, fields, field, message):
    response = admin_client.post(
        "/admin/coupons/coupontemplate/add/", _new_template(**{"amount_off_fen": "20", **fields})
    )

    assert response.status_code == 200
    assert message in _errors(response)[field]
    assert not CouponTemplate.objects.exists()


def test_a_viewer_reads_the_audience_by_name_and_only_the_fields_of_the_kind(client, tiers):
    tpl = CouponTemplateFactory(
        audience="tiers", audience_values=[2, 3], scope="skus", scope_values=["TEA-001"]
    )
    staff(client, "viewer", "coupons.view_coupontemplate")

    page = client.get(f"/admin/coupons/coupontemplate/{tpl.pk}/change/").content.decode()

    assert "L2、L3" in page and "TEA-001" in page
    assert "field-percent_off" not in page and "field-audience_segment" not in page  # not of this kind
