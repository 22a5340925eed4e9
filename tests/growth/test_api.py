"""The member 拼团 API: activities, a group's public state, open, join, my groups — with stable error codes."""

from datetime import timedelta

import pytest
from django.utils import timezone

from growth.models import Group
from payments.models import Payment
from tests.factories import MemberFactory
from tests.growth.helpers import activity, join, open_paid, pay, state
from tests.helpers import client_for

pytestmark = pytest.mark.django_db


def post(client, url, body, key="k1"):
    return client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_activities_list_only_what_is_on_now_with_units_left(member_api):
    act = activity(stock=10)
    activity(starts_at=timezone.now() + timedelta(days=1), ends_at=timezone.now() + timedelta(days=2))
    activity(is_active=False)

    response = member_api.get("/api/v1/growth/group-buys")

    assert response.status_code == 200
    assert [(a["id"], a["stock_left"], a["group_price_fen"]) for a in response.json()] == [(act.pk, 10, 1990)]


def test_an_activitys_page_shows_the_groups_one_could_join_closest_to_filling_first(member_api):
    act = activity(size=3)
    nearly = open_paid(MemberFactory(), act, key="a")
    pay(join(MemberFactory(), nearly))
    fresh = open_paid(MemberFactory(), act, key="b")

    body = member_api.get(f"/api/v1/growth/group-buys/{act.pk}").json()

    assert [g["id"] for g in body["open_groups"]] == [nearly.pk, fresh.pk]
    assert member_api.get("/api/v1/growth/group-buys/999999").json()["code"] == "activity_not_found"


def test_a_groups_public_state_shows_real_members_places_left_and_a_countdown(member_api):
    act = activity(size=3)
    leader = MemberFactory(nickname="王芳", avatar_url="https://thirdwx.qlogo.cn/a.png")
    group = open_paid(leader, act)
    join(MemberFactory(nickname="未付款"), group)  # awaiting payment: not shown

    body = member_api.get(f"/api/v1/growth/groups/{group.pk}").json()

    assert body["members"] == [
        {"nickname": "王芳", "avatar_url": "https://thirdwx.qlogo.cn/a.png", "is_leader": True}
    ]
    assert (body["state"], body["places_left"], body["size"]) == ("open", 2, 3)
    assert 0 < body["seconds_left"] <= 3600
    assert "member_id" not in str(body) and "openid" not in str(body)
    assert member_api.get("/api/v1/growth/groups/999999").status_code == 404


def test_opening_answers_the_place_and_the_payment_parameters_and_a_replay_answers_the_same(
    member, member_api
):
    act = activity()

    first = post(member_api, "/api/v1/growth/groups", {"activity_id": act.pk})
    again = post(member_api, "/api/v1/growth/groups", {"activity_id": act.pk})

    assert first.status_code == 201, first.json()
    body = first.json()
    assert body["place"]["role"] == "leader" and body["place"]["status"] == "pending_payment"
    assert body["payment"]["package"].startswith("prepay_id=")
    assert again.json()["place"]["id"] == body["place"]["id"] and Payment.objects.count() == 1


def test_joining_from_a_shared_link_and_paying_completes_the_group_in_my_groups(member, member_api):
    act = activity()
    group = open_paid(MemberFactory(), act)

    response = post(member_api, f"/api/v1/growth/groups/{group.pk}/join", {})
    assert response.status_code == 201, response.json()
    place_id = response.json()["place"]["id"]
    pay(type(group).objects.get(pk=group.pk).places.get(pk=place_id))

    mine = member_api.get("/api/v1/growth/my-groups").json()
    assert [(p["id"], p["status"], p["group_state"]) for p in mine] == [(place_id, "completed", "complete")]
    assert mine[0]["coupon_id"] is not None
    detail = member_api.get(f"/api/v1/growth/my-groups/{place_id}").json()
    assert detail["status"] == "completed"


@pytest.mark.parametrize(
    ("setup", "status", "code"),
    [
        ("own", 409, "already_in_group"),
        ("full", 409, "group_full"),
        ("expired", 409, "group_expired"),
        ("sold_out", 409, "sold_out"),
    ],
)
def test_joining_is_refused_with_a_stable_code_and_nothing_written(setup, status, code):
    act = activity(stock=2)
    leader = MemberFactory()
    group = open_paid(leader, act)
    joiner = MemberFactory()
    if setup == "own":
        joiner = leader
    elif setup == "full":
        pay(join(MemberFactory(), group))
    elif setup == "expired":
        Group.objects.filter(pk=group.pk).update(deadline=timezone.now() - timedelta(minutes=1))
    elif setup == "sold_out":
        type(act).objects.filter(pk=act.pk).update(stock_total=1)
    client = client_for(joiner)
    before = state(act)

    response = post(client, f"/api/v1/growth/groups/{group.pk}/join", {})

    assert (response.status_code, response.json()["code"]) == (status, code)
    assert state(act) == before


def test_a_physical_item_without_an_address_is_a_400_and_bad_input_is_a_validation_error(member_api):
    act = activity(kind="physical")
    response = post(member_api, "/api/v1/growth/groups", {"activity_id": act.pk})
    assert (response.status_code, response.json()["code"]) == (400, "address_required")
    response = post(member_api, "/api/v1/growth/groups", {"activity_id": "x"}, key="k2")
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")
    response = member_api.post("/api/v1/growth/groups", {"activity_id": act.pk}, format="json")
    assert response.json()["code"] == "idempotency_key_required"


def test_i_see_only_my_own_places(member_api):
    act = activity()
    other = open_paid(MemberFactory(), act)
    theirs = other.places.get()
    assert member_api.get("/api/v1/growth/my-groups").json() == []
    assert member_api.get(f"/api/v1/growth/my-groups/{theirs.pk}").json()["code"] == "group_not_found"


def test_my_groups_list_in_a_bounded_number_of_queries(member, member_api, django_assert_max_num_queries):
    act = activity(size=5, per_member_limit=None)
    for i in range(5):
        open_paid(member, act, key=f"o{i}")
    with django_assert_max_num_queries(8):
        assert len(member_api.get("/api/v1/growth/my-groups").json()) == 5
