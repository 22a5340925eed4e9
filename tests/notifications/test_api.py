"""The member's inbox: list my notifications, mark one read."""

from datetime import datetime, timedelta

import pytest
from rest_framework.test import APIClient

from notifications import services
from notifications.models import Notification
from tests.factories import MemberFactory
from tests.helpers import client_for, local, stopped_clock

pytestmark = pytest.mark.django_db

INBOX = "/api/v1/me/notifications"
NOW = local(2026, 11, 15, 10)


clock = stopped_clock(NOW)


@pytest.fixture
def alice(clock):
    return MemberFactory()


@pytest.fixture
def bob(clock):
    return MemberFactory()


def notify(member, key, *, title=None, kind="points_expiring", data=None) -> Notification:
    draft = services.Draft(
        member_id=member.pk,
        kind=kind,
        title=title or f"title {key}",
        body=f"body {key}",
        dedupe_key=key,
        data=data or {},
    )
    assert services.notify_many([draft]) == 1
    return Notification.objects.get(member=member, dedupe_key=key)


def read_url(notification) -> str:
    return f"{INBOX}/{notification.pk}/read"


def test_the_inbox_lists_my_notifications_newest_first(alice):
    first = notify(alice, "n1", title="积分即将过期", data={"points": 30})
    second = notify(alice, "n2", kind="welcome")

    response = client_for(alice).get(INBOX)

    assert response.status_code == 200
    rows = response.json()["results"]
    assert [r["id"] for r in rows] == [second.pk, first.pk]
    assert rows[1] == {
        "id": first.pk,
        "kind": "points_expiring",
        "title": "积分即将过期",
        "body": "body n1",
        "data": {"points": 30},
        "created_at": rows[1]["created_at"],
        "read_at": None,
    }
    assert datetime.fromisoformat(rows[1]["created_at"]) == NOW


def test_the_inbox_never_shows_another_members_notifications(alice, bob):
    mine = notify(alice, "n1")
    notify(bob, "n1")
    notify(bob, "n2")

    rows = client_for(alice).get(INBOX).json()["results"]

    assert [r["id"] for r in rows] == [mine.pk]
    assert client_for(MemberFactory()).get(INBOX).json()["results"] == []


def test_the_inbox_pages_with_a_cursor(alice, bob):
    mine = [notify(alice, f"n{i}") for i in range(5)]
    notify(bob, "b")
    client = client_for(alice)

    first = client.get(INBOX, {"page_size": 3}).json()
    second = client.get(first["next"]).json()

    assert [r["id"] for r in first["results"] + second["results"]] == [n.pk for n in reversed(mine)]
    assert second["next"] is None


def test_sending_the_same_reminder_twice_delivers_it_once(alice):
    draft = services.Draft(member_id=alice.pk, kind="k", title="t", body="b", dedupe_key="same")

    assert services.notify_many([draft]) == 1
    assert services.notify_many([draft]) == 0

    assert len(client_for(alice).get(INBOX).json()["results"]) == 1


def test_the_same_reminder_twice_in_one_call_delivers_the_first_once(alice):
    first = services.Draft(member_id=alice.pk, kind="k", title="first", body="b", dedupe_key="same")
    second = services.Draft(member_id=alice.pk, kind="k", title="second", body="b", dedupe_key="same")

    assert services.notify_many([first, second]) == 1

    assert list(Notification.objects.values_list("title", flat=True)) == ["first"]


def test_marking_a_notification_read(alice):
    notification = notify(alice, "n1")
    other = notify(alice, "n2")
    client = client_for(alice)

    response = client.post(read_url(notification))

    assert response.status_code == 204
    notification.refresh_from_db()
    assert notification.read_at == NOW
    rows = {r["id"]: r["read_at"] for r in client.get(INBOX).json()["results"]}
    assert datetime.fromisoformat(rows[notification.pk]) == NOW
    assert rows[other.pk] is None


def test_marking_it_read_again_succeeds_and_keeps_the_first_time(alice, clock):
    notification = notify(alice, "n1")
    client = client_for(alice)
    client.post(read_url(notification))
    clock.move_to(NOW + timedelta(hours=2))

    response = client.post(read_url(notification))

    assert response.status_code == 204
    notification.refresh_from_db()
    assert notification.read_at == NOW


def test_someone_elses_notification_is_not_found_and_stays_unread(alice, bob):
    theirs = notify(bob, "n1")

    response = client_for(alice).post(read_url(theirs))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_a_notification_that_does_not_exist_is_not_found(alice):
    notification = notify(alice, "n1")

    response = client_for(alice).post(f"{INBOX}/{notification.pk + 1000}/read")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_marking_read_is_a_post(alice, method):
    notification = notify(alice, "n1")

    response = getattr(client_for(alice), method)(read_url(notification))

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    notification.refresh_from_db()
    assert notification.read_at is None


def test_the_inbox_needs_a_member_token(alice):
    notification = notify(alice, "n1")

    listing = APIClient().get(INBOX)
    marking = APIClient().post(read_url(notification))

    assert (listing.status_code, listing.json()["code"]) == (401, "not_authenticated")
    assert (marking.status_code, marking.json()["code"]) == (401, "not_authenticated")
    notification.refresh_from_db()
    assert notification.read_at is None


@pytest.mark.parametrize("params", [{"unread": "1"}, {"page_size": "0"}, {"page_size": "101"}])
def test_the_inbox_refuses_unknown_or_bad_query_parameters(alice, params):
    response = client_for(alice).get(INBOX, params)

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
