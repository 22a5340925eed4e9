"""The mini-program reports wx.requestSubscribeMessage answers; each accept is one message we may send."""

import pytest
from rest_framework.test import APIClient

from notifications.models import SubscribeConsent, WechatTemplate
from tests.factories import MemberFactory
from tests.helpers import client_for

pytestmark = pytest.mark.django_db

URL = "/api/v1/me/subscriptions"


@pytest.fixture
def templates(db):
    return [
        WechatTemplate.objects.create(
            kind="coupons_expiring", template_id="TPL-C", field_map={"thing1": "{title}"}
        ),
        WechatTemplate.objects.create(
            kind="points_expiring", template_id="TPL-P", field_map={"thing1": "{title}"}
        ),
        WechatTemplate.objects.create(
            kind="old", template_id="TPL-OLD", field_map={"thing1": "{title}"}, is_active=False
        ),
    ]


def report(client, results, key="k1"):
    return client.post(URL, {"results": results}, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_the_mini_program_learns_which_templates_to_ask_for(templates, member, member_api):
    response = member_api.get(URL)

    assert response.status_code == 200
    assert response.json() == {
        "results": [
            {"kind": "coupons_expiring", "template_id": "TPL-C", "credits": 0},
            {"kind": "points_expiring", "template_id": "TPL-P", "credits": 0},
        ]
    }


def test_each_accept_is_one_credit_and_a_reject_none(templates, member, member_api):
    report(member_api, {"TPL-C": "accept", "TPL-P": "reject"}, key="a")

    response = report(member_api, {"TPL-C": "accept", "TPL-P": "ban"}, key="b")

    assert response.status_code == 200
    assert response.json() == {
        "results": [
            {"kind": "coupons_expiring", "template_id": "TPL-C", "credits": 2},
            {"kind": "points_expiring", "template_id": "TPL-P", "credits": 0},
        ]
    }
    assert sorted(SubscribeConsent.objects.values_list("result", flat=True)) == [
        "accept",
        "accept",
        "ban",
        "reject",
    ]


def test_a_replayed_report_adds_no_credit(templates, member, member_api):
    first = report(member_api, {"TPL-C": "accept"})
    again = report(member_api, {"TPL-C": "accept"})

    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert SubscribeConsent.objects.count() == 1


def test_a_report_for_an_inactive_template_still_counts(templates, member, member_api):
    response = report(member_api, {"TPL-OLD": "accept"})

    assert response.json() == {"results": [{"kind": "old", "template_id": "TPL-OLD", "credits": 1}]}


def test_credits_are_my_own(templates, member, member_api):
    report(client_for(MemberFactory()), {"TPL-C": "accept"})

    assert member_api.get(URL).json()["results"][0]["credits"] == 0


def test_a_template_id_nobody_mapped_is_refused_and_nothing_recorded(templates, member, member_api):
    response = report(member_api, {"TPL-C": "accept", "NOPE": "accept"})

    assert response.status_code == 400
    assert response.json()["code"] == "unknown_template"
    assert response.json()["details"] == {"template_ids": ["NOPE"]}
    assert not SubscribeConsent.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"results": {}},
        {"results": {"TPL-C": "maybe"}},
        {"results": {"TPL-C": "accept", "TPL-P": "accept", "TPL-OLD": "accept", "X": "accept"}},
        {"results": ["TPL-C"]},
        {"results": {"TPL-C": "accept"}, "extra": 1},
        {},
    ],
)
def test_bad_reports_are_refused_and_nothing_recorded(templates, member, member_api, body):
    response = member_api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert not SubscribeConsent.objects.exists()


def test_a_report_needs_an_idempotency_key_and_a_member(templates, member, member_api):
    no_key = member_api.post(URL, {"results": {"TPL-C": "accept"}}, format="json")
    anonymous = report(APIClient(), {"TPL-C": "accept"})

    assert (no_key.status_code, no_key.json()["code"]) == (400, "idempotency_key_required")
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "not_authenticated")
    assert not SubscribeConsent.objects.exists()


def test_unspent_credits_are_capped(templates, member, monkeypatch):
    from notifications import services

    monkeypatch.setattr(services, "MAX_UNSPENT_CREDITS", 2)
    for _ in range(4):
        services.subscription_report(member_id=member.pk, results={"TPL-C": "accept"})

    assert services.subscription_credits(member_id=member.pk, template_ids=["TPL-C"]) == {"TPL-C": 2}
