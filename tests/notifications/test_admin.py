"""Back office: templates mapped per reminder kind (the mapping is checked), consents and messages read-only."""

import pytest

from notifications import services
from notifications.models import WechatDelivery, WechatTemplate
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

ADD = "/admin/notifications/wechattemplate/add/"


def form(rows=(("thing1", "{title}"), ("number2", "{points}"), ("date3", "{expires_at|date}")), **fields):
    """The template's form as an operator fills it: one row per keyword (and a blank row left over)."""
    return {
        "kind": "points_expiring",
        "template_id": "TPL-1",
        "page": "pages/points/index",
        "field_map_key": [keyword for keyword, _ in rows] + [""],
        "field_map_value": [text for _, text in rows] + [""],
        "is_active": "on",
        **fields,
    }


def test_an_operator_maps_a_reminder_kind_to_a_template(admin_client):
    response = admin_client.post(ADD, form())

    assert response.status_code == 302
    template = WechatTemplate.objects.get()
    assert (template.kind, template.template_id, template.page) == (
        "points_expiring",
        "TPL-1",
        "pages/points/index",
    )
    assert template.field_map == {"thing1": "{title}", "number2": "{points}", "date3": "{expires_at|date}"}


@pytest.mark.parametrize(
    ("rows", "problem"),
    [
        ([("keyword", "{title}")], "keyword 不是模板关键词"),
        ([("thing1", "")], "第 1 行：两个框都要填写"),
        ([], "请至少对应模板的一个关键词"),
        ([("thing1", "{title}"), ("thing1", "{body}")], "第 2 行：thing1 重复了"),
    ],
)
def test_a_mapping_wechat_would_refuse_is_not_saved_and_the_problem_is_said_in_chinese(
    admin_client, rows, problem
):
    response = admin_client.post(ADD, form(rows=rows))

    assert response.status_code == 200  # the form again, with the problem
    assert problem in " ".join(response.context["adminform"].form.errors.get("field_map", []))
    assert not WechatTemplate.objects.exists()


def test_the_mapping_is_rows_on_the_page_not_json(admin_client):
    admin_client.post(ADD, form())
    template = WechatTemplate.objects.get()

    page = admin_client.get(f"/admin/notifications/wechattemplate/{template.pk}/change/").content.decode()

    assert (
        'name="field_map_key" value="number2"' in page and 'name="field_map_value" value="{points}"' in page
    )
    assert "{&quot;thing1&quot;" not in page and '{"thing1"' not in page


def test_one_template_per_kind(admin_client):
    admin_client.post(ADD, form())

    response = admin_client.post(ADD, form(template_id="TPL-2"))

    assert response.status_code == 200
    assert WechatTemplate.objects.count() == 1


def test_messages_and_consents_are_listed_and_never_edited(admin_client, fake_wechat):
    WechatTemplate.objects.create(kind="k", template_id="T", field_map={"thing1": "{title}"})
    member = MemberFactory()
    services.subscription_report(member_id=member.pk, results={"T": "accept"})
    services.notify_many([services.Draft(member_id=member.pk, kind="k", title="t", body="b", dedupe_key="e")])
    delivery = WechatDelivery.objects.get()

    listing = admin_client.get("/admin/notifications/wechatdelivery/?status=pending")
    consents = admin_client.get("/admin/notifications/subscribeconsent/")

    assert listing.status_code == consents.status_code == 200
    assert f"/admin/notifications/wechatdelivery/{delivery.pk}/change/" in listing.content.decode()
    assert admin_client.get("/admin/notifications/wechatdelivery/add/").status_code == 403
    assert admin_client.post(f"/admin/notifications/wechatdelivery/{delivery.pk}/delete/").status_code == 403
    assert (
        admin_client.post(f"/admin/notifications/subscribeconsent/{delivery.consent_id}/delete/").status_code
        == 403
    )


def test_wechats_refusal_reads_in_chinese_with_its_own_words_kept(admin_client, fake_wechat):
    WechatTemplate.objects.create(kind="k", template_id="T", field_map={"thing1": "{title}"})
    member = MemberFactory()
    services.subscription_report(member_id=member.pk, results={"T": "accept"})
    services.notify_many([services.Draft(member_id=member.pk, kind="k", title="t", body="b", dedupe_key="e")])
    WechatDelivery.objects.update(status="failed", errcode=43101, error="user refuse to accept the msg")
    delivery = WechatDelivery.objects.get()

    listing = admin_client.get("/admin/notifications/wechatdelivery/").content.decode()
    detail = admin_client.get(f"/admin/notifications/wechatdelivery/{delivery.pk}/change/").content.decode()
    filtered = admin_client.get("/admin/notifications/wechatdelivery/?errcode=43101")

    assert '<span title="43101 user refuse to accept the msg">会员未订阅，或订阅次数已用完</span>' in listing
    assert (
        "会员未订阅，或订阅次数已用完" in detail and "微信原文：43101 user refuse to accept the msg" in detail
    )
    assert filtered.status_code == 200 and filtered.context["cl"].result_count == 1
