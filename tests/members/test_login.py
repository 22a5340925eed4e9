import logging

import pytest
from django.db import connection
from rest_framework.throttling import ScopedRateThrottle

from members.models import Member, MemberToken, WechatSession

LOGIN = "/api/v1/auth/wechat-login"


@pytest.fixture
def login(api, fake_wechat):
    def do(code, **extra):
        return api.post(LOGIN, {"code": code, **extra}, format="json")

    return do


@pytest.mark.django_db
def test_login_creates_a_new_member_and_returns_a_token(login, fake_wechat, api):
    fake_wechat.add_login("c1", openid="o-new", unionid="u-new", session_key="sk-secret-1")

    response = login("c1", channel="qr:store-7")

    assert response.status_code == 201
    body = response.json()
    assert body["is_new_member"] is True
    member = Member.objects.get(openid="o-new")
    assert body["member"]["id"] == member.pk
    assert member.unionid == "u-new"
    assert member.registration_channel == "qr:store-7"
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    assert api.get("/api/v1/me").json()["id"] == member.pk


@pytest.mark.django_db
def test_login_of_a_returning_member_finds_the_same_member(login, fake_wechat):
    fake_wechat.add_login("first", openid="o-back", session_key="sk-a")
    fake_wechat.add_login("second", openid="o-back", session_key="sk-b")
    first = login("first", channel="poster").json()

    response = login("second", channel="other-channel")

    assert response.status_code == 200
    assert response.json()["is_new_member"] is False
    assert response.json()["member"]["id"] == first["member"]["id"]
    assert Member.objects.count() == 1
    assert Member.objects.get().registration_channel == "poster"  # first channel is kept
    assert response.json()["token"] != first["token"]


@pytest.mark.django_db
def test_a_new_members_invite_code_drawn_again_when_another_member_holds_it(login, fake_wechat, monkeypatch):
    from tests.factories import MemberFactory

    taken = MemberFactory(invite_code="DEADBEEF")
    field = Member._meta.get_field("invite_code")
    real, draws = field.default, iter(["DEADBEEF"])
    monkeypatch.setattr(field, "default", lambda: next(draws, None) or real())
    fake_wechat.add_login("c1", openid="o-unlucky", session_key="sk-u")

    response = login("c1")

    assert response.status_code == 201
    assert Member.objects.get(openid="o-unlucky").invite_code not in ("", taken.invite_code)
    assert next(draws, None) is None  # the colliding code was drawn


@pytest.mark.django_db
def test_session_key_never_appears_in_a_response_a_log_or_the_database(login, fake_wechat, caplog):
    caplog.set_level(logging.DEBUG)
    fake_wechat.add_login("c1", openid="o-secret", session_key="SESSION-KEY-MUST-NOT-LEAK")

    response = login("c1")

    assert response.status_code == 201
    assert "SESSION-KEY-MUST-NOT-LEAK" not in response.content.decode()
    assert "SESSION-KEY-MUST-NOT-LEAK" not in caplog.text
    assert "test-app-secret" not in caplog.text  # code2session's URL carries the app secret
    stored = WechatSession.objects.get(member__openid="o-secret")
    assert "SESSION-KEY-MUST-NOT-LEAK" not in stored.session_key_encrypted
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM members_wechatsession WHERE session_key_encrypted LIKE %s",
            ["%SESSION-KEY%"],
        )
        assert cursor.fetchone()[0] == 0


@pytest.mark.django_db
def test_the_bearer_token_is_stored_only_as_a_hash(login, fake_wechat):
    fake_wechat.add_login("c1", openid="o-1", session_key="sk")
    token = login("c1").json()["token"]

    assert not MemberToken.objects.filter(key_hash=token).exists()
    assert MemberToken.objects.count() == 1


@pytest.mark.django_db
def test_login_with_an_invite_code_records_the_referrer(login, fake_wechat, member):
    fake_wechat.add_login("c1", openid="o-friend", session_key="sk")

    assert login("c1", invite_code=member.invite_code.lower()).status_code == 201

    assert Member.objects.get(openid="o-friend").referrer == member


@pytest.mark.django_db
def test_an_unknown_invite_code_is_refused_and_creates_nobody(login, fake_wechat):
    fake_wechat.add_login("c1", openid="o-x", session_key="sk")

    response = login("c1", invite_code="NOPE1234")

    assert response.status_code == 400
    assert response.json()["code"] == "referrer_not_found"
    assert Member.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "code, status, error_code",
    [
        ("never-issued", 400, "wechat_code_invalid"),
        ("busy", 503, "wechat_unavailable"),
        ("http500", 503, "wechat_unavailable"),
        ("garbage", 503, "wechat_unavailable"),
        ("slow", 503, "wechat_unavailable"),
    ],
)
def test_wechat_failures_are_clear_errors_not_500(login, code, status, error_code):
    response = login(code)

    assert response.status_code == status
    assert response.json()["code"] == error_code
    assert set(response.json()) == {"code", "message", "details"}
    assert Member.objects.count() == 0


@pytest.mark.django_db
def test_wechat_unreachable_is_503(api, settings):
    settings.WECHAT_API_BASE = "http://127.0.0.1:9"  # discard port: connection refused

    response = api.post(LOGIN, {"code": "x"}, format="json")

    assert response.status_code == 503
    assert response.json()["code"] == "wechat_unavailable"


@pytest.mark.django_db
def test_a_login_code_works_once(login, fake_wechat):
    fake_wechat.add_login("once", openid="o-1", session_key="sk")
    assert login("once").status_code == 201

    again = login("once")

    assert again.status_code == 400
    assert again.json()["code"] == "wechat_code_invalid"


@pytest.mark.django_db
def test_login_is_throttled(login, monkeypatch):
    # DRF reads the rates once at import, so patch the class, not settings.
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"login": "3/min"})

    statuses = [login(f"nope-{i}").status_code for i in range(5)]

    assert statuses == [400, 400, 400, 429, 429]


@pytest.mark.django_db
def test_dev_login_is_off_unless_debug_and_the_setting_are_both_on(api, settings):
    settings.DEBUG, settings.WECHAT_DEV_LOGIN = False, True
    assert api.post("/api/v1/auth/dev-login", {"code": "a"}, format="json").status_code == 404
    settings.DEBUG, settings.WECHAT_DEV_LOGIN = True, False
    assert api.post("/api/v1/auth/dev-login", {"code": "a"}, format="json").status_code == 404
    assert Member.objects.count() == 0

    settings.DEBUG, settings.WECHAT_DEV_LOGIN = True, True
    first = api.post("/api/v1/auth/dev-login", {"code": "alice"}, format="json")
    second = api.post("/api/v1/auth/dev-login", {"code": "alice"}, format="json")

    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["member"]["id"] == second.json()["member"]["id"]


@pytest.mark.django_db
def test_logout_revokes_the_token(member_api):
    assert member_api.post("/api/v1/auth/logout").status_code == 204

    response = member_api.get("/api/v1/me")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
