"""GET /api/v1/me/export: everything held about the member, and nothing about anyone else."""

import json

import pytest
from django.utils import timezone
from rest_framework.throttling import ScopedRateThrottle

from mall.models import ShippingAddress
from members.closure import member_close
from migration.exports import member_personal_data
from notifications.models import Notification
from orders.models import Order
from points.earning import points_award_invite
from points.models import PointsAccount, PointsEntry, PointsLot
from stored_value.models import StoredValueEntry
from tests.factories import MemberFactory
from tests.factories.orders import OrderFactory
from tests.factories.stored_value import RechargeFactory
from tests.helpers import client_for
from tests.migration.export_helpers import operator, rich_member
from tests.points.helpers import earn

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("default_rules")]

URL = "/api/v1/me/export"


@pytest.fixture
def actor():
    return operator("ops")


@pytest.fixture
def pair(actor):
    """Alice invited by Bob; both with rows in every ledger."""
    bob = rich_member(nickname="鲍勃", phone="13900000001", openid="o-bob", actor=actor)
    alice = rich_member(nickname="爱丽丝", phone="13900000002", openid="o-alice", actor=actor, referrer=bob)
    for member in (alice, bob):
        OrderFactory(member=member, order_no=f"SO-{member.openid}")
        RechargeFactory(member=member, amount_fen=10_000)
        ShippingAddress.objects.create(
            member=member,
            recipient=member.nickname,
            phone=member.phone,
            province="上海",
            city="上海",
            detail="路1号",
        )
        Notification.objects.create(
            member=member, kind="test", title=f"给{member.nickname}", body="b", dedupe_key="d"
        )
    # Bob's invite reward names Alice's order: his export must not.
    granted = points_award_invite(inviter_id=bob.pk, invitee_id=alice.pk, order_no="SO-o-alice")
    assert (
        granted[0].granted > 0
        and PointsEntry.objects.filter(reference="SO-o-alice", source="inviter").exists()
    )
    return alice, bob


def ids(rows) -> list:
    return sorted(row["id"] for row in rows)


def test_each_member_gets_their_own_rows_and_nothing_of_the_other(pair):
    alice, bob = pair

    response = client_for(alice).get(URL)

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="my-data_')
    data = response.json()
    assert data["profile"]["id"] == alice.pk and data["profile"]["openid"] == "o-alice"
    assert data["profile"]["has_referrer"] is True and "referrer" not in data["profile"]
    assert data["points"]["balance"] == PointsAccount.objects.get(member=alice).balance > 500  # 500 + invitee
    assert ids(data["points"]["entries"]) == sorted(
        PointsEntry.objects.filter(account__member=alice).values_list("id", flat=True)
    )
    assert ids(data["points"]["lots"]) == sorted(
        PointsLot.objects.filter(account__member=alice).values_list("id", flat=True)
    )
    assert ids(data["stored_value"]["entries"]) == sorted(
        StoredValueEntry.objects.filter(account__member=alice).values_list("id", flat=True)
    )
    assert [o["order_no"] for o in data["orders"]] == ["SO-o-alice"]
    assert [n["title"] for n in data["notifications"]["inbox"]] == ["给爱丽丝"]
    assert [a["recipient"] for a in data["mall"]["addresses"]] == ["爱丽丝"]
    assert (data["stored_value"]["principal_fen"], data["stored_value"]["bonus_fen"]) == (160_000, 15_005)
    assert len(data["stored_value"]["recharges"]) == 1
    assert data["profile"]["tags"] == ["老客", "高价值"]
    assert [c["card_type__name"] for c in data["membership"]["cards"]] == ["黑金卡"]
    assert len(data["coupons"]) == 3  # the voided one too: it is held about her
    text = json.dumps(data, ensure_ascii=False)
    for theirs in ("鲍勃", "o-bob", "13900000001", "SO-o-bob", str(bob.invite_code)):
        assert theirs not in text


def test_the_inviter_sees_that_they_invited_but_not_whom_nor_the_friends_order(pair):
    alice, bob = pair

    data = client_for(bob).get(URL).json()

    assert data["profile"]["invited_members"] == 1 and data["profile"]["has_referrer"] is False
    invite = [e for e in data["points"]["entries"] if e["source"] == "inviter"]
    assert [e["reference"] for e in invite] == [""]
    text = json.dumps(data, ensure_ascii=False)
    for theirs in ("爱丽丝", "o-alice", "13900000002", "SO-o-alice"):
        assert theirs not in text


def test_no_internal_key_or_hash_is_exported(pair):
    alice, _ = pair

    text = json.dumps(client_for(alice).get(URL).json())

    for secret in ("idempotency_key", "request_hash", "quote_hash", "key_hash", "session_key", "dedupe_key"):
        assert secret not in text
    entries = PointsEntry.objects.filter(account__member=alice)
    sources = set(entries.values_list("source", flat=True))  # the invitee reward's key is its source's name
    for key in entries.values_list("idempotency_key", flat=True):
        assert key in sources or f'"{key}"' not in text


def test_the_export_takes_a_bounded_number_of_queries_however_long_the_history(
    pair, django_assert_max_num_queries
):
    alice, _ = pair
    for i in range(30):
        earn(alice, 1, key=f"more-{i}")
        OrderFactory(member=alice, order_no=f"SO-more-{i}")
    api = client_for(alice)

    with django_assert_max_num_queries(45):
        response = api.get(URL)

    assert len(response.json()["orders"]) == 31 and Order.objects.filter(member=alice).count() == 31


def test_a_closed_account_holds_nothing_personal_and_can_no_longer_ask():
    closed = MemberFactory(nickname="将注销", phone="13700000000", openid="o-closing")
    earn(closed, 10, key="c")
    api = client_for(closed)
    member_close(member_id=closed.pk)

    data = member_personal_data(member_id=closed.pk)

    assert data == {"closed_at": data["closed_at"], "profile": None}
    assert data["closed_at"] is not None and data["closed_at"] <= timezone.now()
    assert api.get(URL).status_code == 401


def test_the_export_is_throttled_per_member(pair, monkeypatch):
    alice, bob = pair
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"me_export": "2/hour"})
    api = client_for(alice)

    statuses = [api.get(URL).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    assert api.get(URL).json()["code"] == "throttled"
    assert client_for(bob).get(URL).status_code == 200


def test_the_export_needs_a_signed_in_member(api):
    response = api.get(URL)

    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"


def test_growth_holds_her_places_bargains_and_scenes_and_his_cut_without_naming_either(pair):
    from growth import bargains
    from growth.models import PosterKind, PosterScene
    from tests.growth.helpers import activity, join, open_paid
    from tests.growth.test_bargains import bargain_activity, start

    alice, bob = pair
    group = open_paid(alice, activity(size=3))
    join(bob, group)
    bargain = start(alice, bargain_activity(helpers=2))
    bargains.bargain_help(helper=bob, bargain_id=bargain.pk)
    PosterScene.objects.create(code="ABCDEF123456", member=alice, kind=PosterKind.SHOP, channel="poster:shop")

    hers = client_for(alice).get(URL).json()["growth"]
    his = client_for(bob).get(URL).json()["growth"]

    assert [(p["role"], p["status"]) for p in hers["group_places"]] == [("leader", "joined")]
    assert [b["helps_count"] for b in hers["bargains"]] == [1]
    assert len(hers["bargains"][0]["cuts"]) == 1 and hers["helps_given"] == []
    assert [s["code"] for s in hers["poster_scenes"]] == ["ABCDEF123456"]
    assert [p["role"] for p in his["group_places"]] == ["member"]
    assert [h["cut_fen"] for h in his["helps_given"]] == [hers["bargains"][0]["cuts"][0]["cut_fen"]]
    assert his["bargains"] == [] and his["poster_scenes"] == []
    for text, theirs in (
        (json.dumps(hers, ensure_ascii=False), bob),
        (json.dumps(his, ensure_ascii=False), alice),
    ):
        for value in (theirs.nickname, theirs.openid, theirs.phone, f'"{theirs.pk}"'):
            assert value not in text
