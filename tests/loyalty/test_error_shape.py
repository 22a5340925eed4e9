import pytest
from django.test import override_settings

from members.models import Member
from tests.helpers import assert_error

PROFILE = "/api/v1/me/profile"


@pytest.mark.django_db
def test_malformed_json_is_400(member_api, member):
    response = member_api.generic("PATCH", PROFILE, '{"nickname": ', content_type="application/json")

    assert_error(response, 400, "malformed_request")
    assert Member.objects.get(pk=member.pk).nickname == member.nickname


@pytest.mark.django_db
def test_a_json_array_instead_of_an_object_is_400(member_api):
    response = member_api.patch(PROFILE, [1, 2], format="json")

    assert_error(response, 400, "validation_error")


@pytest.mark.django_db
def test_wrong_types_are_400_with_field_details(member_api):
    response = member_api.patch(PROFILE, {"gender": [1], "birthday": 19900101}, format="json")

    body = assert_error(response, 400, "validation_error")
    assert set(body["details"]) == {"gender", "birthday"}


@pytest.mark.django_db
def test_form_encoded_bodies_are_415(member_api):
    response = member_api.patch(PROFILE, "nickname=x", content_type="application/x-www-form-urlencoded")

    assert_error(response, 415, "unsupported_media_type")


@pytest.mark.django_db
def test_an_oversized_body_is_400_and_changes_nothing(member_api, member, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024

    response = member_api.patch(PROFILE, {"nickname": "x", "pad": "y" * 2048}, format="json")

    assert_error(response, 400, "request_too_large")
    assert Member.objects.get(pk=member.pk).nickname == member.nickname


@pytest.mark.django_db
def test_an_unknown_api_path_is_a_json_404(api):
    assert_error(api.get("/api/v1/no-such-thing"), 404, "not_found")


@pytest.mark.django_db
def test_a_wrong_method_is_405(member_api):
    assert_error(member_api.delete(PROFILE), 405, "method_not_allowed")


@pytest.mark.django_db
def test_messages_follow_accept_language(api):
    english = api.get("/api/v1/me", HTTP_ACCEPT_LANGUAGE="en").json()["message"]
    chinese = api.get("/api/v1/me", HTTP_ACCEPT_LANGUAGE="zh-hans").json()["message"]
    default = api.get("/api/v1/me").json()["message"]

    assert english == "Authentication credentials were not provided."
    assert chinese == default  # zh-hans is the default language
    assert chinese != english


@pytest.mark.django_db
def test_our_own_error_messages_are_translated(api, settings, fake_wechat):
    english = api.post(
        "/api/v1/auth/wechat-login", {"code": "busy"}, format="json", HTTP_ACCEPT_LANGUAGE="en"
    )
    chinese = api.post(
        "/api/v1/auth/wechat-login", {"code": "busy"}, format="json", HTTP_ACCEPT_LANGUAGE="zh-hans"
    )

    assert english.json()["message"] == "WeChat could not be reached. Please try again shortly."
    assert chinese.json()["message"] == "暂时无法连接微信，请稍后再试。"


@pytest.mark.django_db
@override_settings(DEBUG_PROPAGATE_EXCEPTIONS=False)
def test_an_unexpected_error_in_the_api_is_a_json_500(member_api, monkeypatch):
    from members import selectors

    monkeypatch.setattr(selectors, "member_summary", lambda **kw: 1 / 0)
    member_api.raise_request_exception = False

    assert_error(member_api.get("/api/v1/me"), 500, "server_error")
