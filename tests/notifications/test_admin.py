"""Back office: templates mapped per reminder kind (the mapping is checked), consents and messages read-only."""

import pytest

from notifications import services
from notifications.models import WechatDelivery, WechatTemplate
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

ADD = "/admin/notifications/wechattemplate/add/"


def form(**fields):
    return {
        "kind": "points_expiring",
        "template_id": "TPL-1",
        "page": "pages/points/index",
        "field_map": '{"thing1": "{title}", "number2": "{points}", "date3": "{expires_at|date}"}',
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
    "field_map",
    ['{"keyword": "{title}"}', '{"thing1": ""}', "{}", "[1]", '{"thing1": "{title"}x'],
)
def test_a_mapping_wechat_would_refuse_is_not_saved(admin_client, field_map):
    response = admin_client.post(ADD, form(field_map=field_map))

    assert response.status_code == 200  # the form again, with the problem
    assert response.context["adminform"].form.errors.get("field_map")
    assert not WechatTemplate.objects.exists()


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
