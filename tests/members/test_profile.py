import pytest

from members.models import Member
from tests.factories import CouponTemplateFactory, MemberFactory, RechargeFactory
from tests.helpers import client_for

PROFILE = "/api/v1/me/profile"


@pytest.mark.django_db
def test_a_member_reads_their_own_profile(member_api, member):
    body = member_api.get(PROFILE).json()

    assert body["id"] == member.pk
    assert body["nickname"] == member.nickname
    assert "openid" not in body


@pytest.mark.django_db
def test_a_member_updates_their_profile(member_api, member):
    response = member_api.patch(
        PROFILE, {"nickname": "小王", "gender": 2, "birthday": "1990-03-08"}, format="json"
    )

    assert response.status_code == 200
    member.refresh_from_db()
    assert (member.nickname, member.gender, str(member.birthday)) == ("小王", 2, "1990-03-08")


@pytest.mark.django_db
def test_one_member_cannot_read_or_change_another_members_profile(member):
    other = MemberFactory(nickname="other")
    intruder = client_for(member)

    assert intruder.get(PROFILE).json()["id"] == member.pk
    # There is no id to aim at: "me" endpoints act on the token's member only,
    # and smuggling an id in the body is refused, not ignored.
    response = intruder.patch(
        PROFILE, {"id": other.pk, "nickname": "hacked"}, format="json", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 400
    assert response.json()["details"] == {"id": ["This field is unknown or read-only."]}
    intruder.patch(PROFILE, {"nickname": "mine"}, format="json")

    other.refresh_from_db()
    assert other.nickname == "other"
    assert Member.objects.get(pk=member.pk).nickname == "mine"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/me", PROFILE])
def test_me_endpoints_need_a_token(api, path):
    response = api.get(path)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.django_db
def test_a_forged_token_is_refused(api, member):
    api.credentials(HTTP_AUTHORIZATION="Bearer forged-token")

    assert api.get("/api/v1/me").status_code == 401


@pytest.mark.django_db
def test_an_expired_token_is_refused(member_api, member):
    member.tokens.update(expires_at="2000-01-01T00:00:00Z")

    assert member_api.get("/api/v1/me").status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload, field",
    [
        ({"gender": "alien"}, "gender"),
        ({"birthday": "not-a-date"}, "birthday"),
        ({"nickname": "x" * 65}, "nickname"),
        ({"phone": "13800000000"}, "phone"),  # read-only: bound through WeChat only
        ({"favourite_colour": "red"}, "favourite_colour"),
    ],
)
def test_bad_profile_input_is_400_and_changes_nothing(member_api, member, payload, field):
    before = Member.objects.values().get(pk=member.pk)

    response = member_api.patch(PROFILE, payload, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["details"]
    assert Member.objects.values().get(pk=member.pk) == before


@pytest.mark.django_db
def test_me_summary(member_api, member):
    body = member_api.get("/api/v1/me").json()

    assert body["id"] == member.pk
    assert body["phone_bound"] is False
    assert body["invite_code"] == member.invite_code


@pytest.mark.django_db
def test_me_sums_up_points_stored_value_and_usable_coupons(member, member_api):
    from coupons import services as coupons
    from points import ledger as points

    points.points_earn(member_id=member.pk, amount=120, idempotency_key="k", source="test", expires_at=None)
    RechargeFactory(member=member, amount_fen=150_000, bonus_fen=15_000)
    coupons.coupon_claim(member=member, template_id=CouponTemplateFactory().pk, idempotency_key="k")

    me = member_api.get("/api/v1/me").json()

    assert (me["points"], me["stored_value_fen"], me["coupons_available"]) == (120, 165_000, 1)
