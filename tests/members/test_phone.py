import pytest

from members.models import Member
from tests.factories import MemberFactory
from tests.helpers import client_for

PHONE = "/api/v1/me/phone"


@pytest.mark.django_db
def test_binding_a_phone_stores_the_number_wechat_returns(member_api, member, fake_wechat):
    fake_wechat.add_phone("p1", "13800138000")

    response = member_api.post(PHONE, {"code": "p1"}, format="json")

    assert response.status_code == 200
    assert response.json()["phone"] == "13800138000"
    member.refresh_from_db()
    assert member.phone == "13800138000"


@pytest.mark.django_db
def test_a_foreign_number_keeps_its_country_code(member_api, member, fake_wechat):
    fake_wechat.add_phone("p1", "91234567", country_code="852")

    member_api.post(PHONE, {"code": "p1"}, format="json")

    member.refresh_from_db()
    assert member.phone == "+85291234567"


@pytest.mark.django_db
def test_the_access_token_is_cached_and_refreshed_once_when_wechat_revokes_it(member_api, fake_wechat):
    fake_wechat.add_phone("p1", "13800138001")
    fake_wechat.add_phone("p2", "13800138001")
    member_api.post(PHONE, {"code": "p1"}, format="json")
    assert fake_wechat.tokens_issued == ["token-1"]

    fake_wechat.revoke_tokens()
    response = member_api.post(PHONE, {"code": "p2"}, format="json")

    assert response.status_code == 200
    assert fake_wechat.tokens_issued == ["token-1", "token-2"]


@pytest.mark.django_db
def test_a_phone_bound_to_another_member_is_refused(member, fake_wechat):
    MemberFactory(phone="13900000000")
    fake_wechat.add_phone("p1", "13900000000")

    response = client_for(member).post(PHONE, {"code": "p1"}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "phone_taken"
    member.refresh_from_db()
    assert member.phone == ""


@pytest.mark.django_db
def test_an_invalid_phone_code_is_400_and_changes_nothing(member_api, member, fake_wechat):
    response = member_api.post(PHONE, {"code": "unknown"}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "wechat_code_invalid"
    assert Member.objects.get(pk=member.pk).phone == ""


@pytest.mark.django_db
def test_wechat_down_during_phone_binding_is_503(member_api, fake_wechat):
    response = member_api.post(PHONE, {"code": "http500"}, format="json")

    assert response.status_code == 503
    assert response.json()["code"] == "wechat_unavailable"
