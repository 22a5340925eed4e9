"""The member-facing points API: balance, history, check-in and its calendar."""

from datetime import date, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from points import ledger
from points.models import CheckIn, EarningRule, PointsEntry, RuleKind
from tests.factories import MemberFactory
from tests.helpers import assert_error, client_for, local, stopped_clock
from tests.points.helpers import balance, earn, spend

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("default_rules")]

BALANCE = "/api/v1/points"
ENTRIES = "/api/v1/points/entries"
CHECK_IN = "/api/v1/points/check-in"
CALENDAR = "/api/v1/points/check-ins"

NOW = local(2026, 11, 15, 10)


# A fixed merchant-local time; tokens are issued under it, so they are valid in it.
clock = stopped_clock(NOW)


@pytest.fixture
def alice(clock):
    return MemberFactory(nickname="Alice")


@pytest.fixture
def bob(clock):
    return MemberFactory(nickname="Bob")


def entry_ids(member) -> list[int]:
    """The member's entry ids, newest first."""
    return list(
        PointsEntry.objects.filter(account__member=member).order_by("-id").values_list("id", flat=True)
    )


# --- GET /points --------------------------------------------------------------------


def test_the_balance_shows_the_points_and_the_batch_that_expires_first(alice):
    earn(alice, 100, expires_at=local(2027, 1, 1), key="later")
    earn(alice, 30, expires_at=local(2026, 12, 1), key="sooner")
    earn(alice, 20, expires_at=local(2026, 12, 1), key="sooner-too")
    earn(alice, 50, expires_at=None, key="never")

    response = client_for(alice).get(BALANCE)

    assert response.status_code == 200
    body = response.json()
    assert (body["balance"], body["expiring_points"]) == (200, 50)  # both lots expiring on 1 December
    assert datetime.fromisoformat(body["expiring_at"]) == local(2026, 12, 1)


def test_a_spent_batch_no_longer_counts_as_expiring(alice):
    earn(alice, 30, expires_at=local(2026, 12, 1), key="sooner")
    earn(alice, 100, expires_at=local(2027, 1, 1), key="later")
    spend(alice, 40)  # all of the December lot, 10 of the January one

    body = client_for(alice).get(BALANCE).json()

    assert (body["balance"], body["expiring_points"]) == (90, 90)
    assert datetime.fromisoformat(body["expiring_at"]) == local(2027, 1, 1)


def test_points_past_their_expiry_are_not_usable_even_before_the_job_runs(alice, clock):
    earn(alice, 30, expires_at=local(2026, 11, 16), key="due-tomorrow")
    earn(alice, 100, expires_at=None, key="never")
    client = client_for(alice)

    clock.move_to(local(2026, 11, 16, 0, 0, 1))
    body = client.get(BALANCE).json()

    assert body == {"balance": 100, "expiring_points": 0, "expiring_at": None}
    assert balance(alice) == 130  # the job has not run: only the reading leaves them out


def test_a_debt_from_a_clawback_shows_as_a_negative_balance(alice):
    earned = earn(alice, 10, key="e")
    spend(alice, 4, key="s")
    ledger.points_reverse(member_id=alice.pk, entry_id=earned.entry_id, idempotency_key="claw")

    body = client_for(alice).get(BALANCE).json()

    assert body == {"balance": -4, "expiring_points": 0, "expiring_at": None}


def test_a_member_who_never_earned_has_an_empty_balance(alice):
    response = client_for(alice).get(BALANCE)

    assert response.status_code == 200
    assert response.json() == {"balance": 0, "expiring_points": 0, "expiring_at": None}


def test_the_balance_is_the_callers_own(alice, bob):
    earn(alice, 100, expires_at=local(2026, 12, 1), key="a")
    earn(bob, 7, expires_at=local(2027, 6, 1), key="b")

    alices = client_for(alice).get(BALANCE).json()
    bobs = client_for(bob).get(BALANCE).json()

    assert (alices["balance"], alices["expiring_points"]) == (100, 100)
    assert (bobs["balance"], bobs["expiring_points"]) == (7, 7)
    assert datetime.fromisoformat(bobs["expiring_at"]) == local(2027, 6, 1)


# --- GET /points/entries ---------------------------------------------------------------


def test_the_history_is_newest_first_and_pages_with_a_cursor(alice):
    for n in range(1, 6):
        earn(alice, n, key=f"e{n}")
    client = client_for(alice)

    seen, url, pages = [], f"{ENTRIES}?page_size=2", 0
    while url:
        response = client.get(url)
        assert response.status_code == 200
        body = response.json()
        seen += [row["id"] for row in body["results"]]
        assert len(body["results"]) <= 2
        url, pages = body["next"], pages + 1

    assert pages == 3
    assert seen == entry_ids(alice)  # every entry exactly once, newest first


def test_a_history_row_shows_what_happened(alice):
    earn(alice, 100, key="e", source="purchase")
    ledger.points_spend(
        member_id=alice.pk, amount=40, idempotency_key="s", source="order", reference="NO-1", memo="抵扣"
    )

    rows = client_for(alice).get(ENTRIES).json()["results"]

    assert [(r["kind"], r["amount"], r["balance_after"]) for r in rows] == [
        ("spend", -40, 60),
        ("earn", 100, 100),
    ]
    assert (rows[0]["source"], rows[0]["reference"], rows[0]["memo"]) == ("order", "NO-1", "抵扣")
    assert datetime.fromisoformat(rows[0]["created_at"]) == NOW
    assert set(rows[0]) == {
        "id",
        "kind",
        "amount",
        "balance_after",
        "source",
        "reference",
        "memo",
        "created_at",
    }


def test_the_history_filters_by_kind(alice):
    earn(alice, 100, key="e1")
    spend(alice, 10, key="s1")
    earn(alice, 5, key="e2")
    spend(alice, 20, key="s2")

    rows = client_for(alice).get(ENTRIES, {"kind": "spend"}).json()["results"]

    assert [(r["kind"], r["amount"]) for r in rows] == [("spend", -20), ("spend", -10)]


def test_the_kind_filter_keeps_paging_within_the_kind(alice):
    for n in range(1, 4):
        earn(alice, 100, key=f"e{n}")
        spend(alice, n, key=f"s{n}")
    client = client_for(alice)

    first = client.get(ENTRIES, {"kind": "spend", "page_size": 2}).json()
    second = client.get(first["next"]).json()

    amounts = [r["amount"] for r in first["results"] + second["results"]]
    assert amounts == [-3, -2, -1]
    assert second["next"] is None


def test_an_unknown_kind_is_refused_with_a_validation_error(alice):
    earn(alice, 100, key="e")

    body = assert_error(client_for(alice).get(ENTRIES, {"kind": "gift"}), 400, "validation_error")

    assert list(body["details"]) == ["kind"]


def test_an_unknown_query_parameter_is_refused(alice):
    earn(alice, 100, key="e")

    body = assert_error(client_for(alice).get(ENTRIES, {"knd": "earn"}), 400, "validation_error")

    assert list(body["details"]) == ["knd"]


@pytest.mark.parametrize("page_size", ["0", "101", "many"])
def test_a_bad_page_size_is_refused(alice, page_size):
    body = assert_error(client_for(alice).get(ENTRIES, {"page_size": page_size}), 400, "validation_error")

    assert list(body["details"]) == ["page_size"]


def test_the_history_shows_only_the_callers_entries(alice, bob):
    earn(alice, 100, key="a1")
    spend(alice, 10, key="a2")
    earn(bob, 7, key="b1")

    for kind in (None, "earn", "spend"):
        params = {"kind": kind} if kind else {}
        bobs = client_for(bob).get(ENTRIES, params).json()["results"]
        assert [r["id"] for r in bobs] == ([] if kind == "spend" else entry_ids(bob))
    alices = client_for(alice).get(ENTRIES).json()["results"]
    assert [r["id"] for r in alices] == entry_ids(alice)


def test_another_members_cursor_never_reveals_their_entries(alice, bob):
    for n in range(1, 4):
        earn(alice, n, key=f"a{n}")
    earn(bob, 7, key="b")
    alices_next = client_for(alice).get(ENTRIES, {"page_size": 1}).json()["next"]

    rows = client_for(bob).get(alices_next).json()["results"]

    assert {r["id"] for r in rows} <= set(entry_ids(bob))


def test_the_history_takes_a_fixed_number_of_queries(alice, django_assert_max_num_queries):
    for n in range(1, 31):
        earn(alice, n, key=f"e{n}")
    client = client_for(alice)

    with django_assert_max_num_queries(4):
        response = client.get(ENTRIES, {"page_size": 30})

    assert len(response.json()["results"]) == 30


# --- POST /points/check-in ---------------------------------------------------------


def test_the_first_check_in_of_the_day_creates_it_and_earns_points(alice):
    response = client_for(alice).post(CHECK_IN)

    assert response.status_code == 201
    assert response.json() == {"day": "2026-11-15", "streak": 1, "points": 5, "already_checked_in": False}
    assert balance(alice) == 5


def test_a_second_tap_the_same_day_returns_the_first_check_in_and_earns_nothing(alice, clock):
    client = client_for(alice)
    client.post(CHECK_IN)
    clock.move_to(local(2026, 11, 15, 22))

    response = client.post(CHECK_IN)

    assert response.status_code == 200
    assert response.json() == {"day": "2026-11-15", "streak": 1, "points": 5, "already_checked_in": True}
    assert client.get(BALANCE).json()["balance"] == 5
    assert CheckIn.objects.filter(member=alice).count() == 1
    assert PointsEntry.objects.filter(account__member=alice).count() == 1


def test_check_ins_on_consecutive_days_build_a_streak(alice, clock):
    client = client_for(alice)
    days = []
    for day in range(15, 22):
        clock.move_to(local(2026, 11, day, 9))
        days.append(client.post(CHECK_IN).json())

    assert [d["streak"] for d in days] == [1, 2, 3, 4, 5, 6, 7]
    assert [d["points"] for d in days] == [5, 5, 5, 5, 5, 5, 25]
    assert client.get(BALANCE).json()["balance"] == 55


def test_check_in_is_refused_when_the_rule_is_off(alice):
    EarningRule.objects.filter(kind=RuleKind.CHECKIN).update(is_active=False)

    assert_error(client_for(alice).post(CHECK_IN), 403, "checkin_disabled")

    assert not CheckIn.objects.exists()
    assert not PointsEntry.objects.exists()


def test_one_members_check_in_does_not_check_in_another(alice, bob):
    client_for(alice).post(CHECK_IN)

    response = client_for(bob).post(CHECK_IN)

    assert response.status_code == 201
    assert response.json()["already_checked_in"] is False
    assert (balance(alice), balance(bob)) == (5, 5)


# --- GET /points/check-ins -------------------------------------------------------------


def check_in_on(client, clock, *days):
    for day in days:
        clock.move_to(local(*day, 9))
        assert client.post(CHECK_IN).status_code == 201


def test_the_calendar_lists_the_days_of_the_month_checked_in(alice, clock):
    client = client_for(alice)
    check_in_on(client, clock, (2026, 10, 31), (2026, 11, 1), (2026, 11, 2), (2026, 11, 4))

    response = client.get(CALENDAR, {"month": "2026-11"})

    assert response.status_code == 200
    body = response.json()
    assert body["month"] == "2026-11"
    assert body["days"] == [
        {"day": "2026-11-01", "streak": 2, "points": 5},
        {"day": "2026-11-02", "streak": 3, "points": 5},
        {"day": "2026-11-04", "streak": 1, "points": 5},
    ]
    october = client.get(CALENDAR, {"month": "2026-10"}).json()
    assert october["days"] == [{"day": "2026-10-31", "streak": 1, "points": 5}]


def test_the_calendar_defaults_to_this_month_and_shows_the_current_streak(alice, clock):
    client = client_for(alice)
    check_in_on(client, clock, (2026, 11, 13), (2026, 11, 14))
    clock.move_to(local(2026, 11, 15, 8))

    before = client.get(CALENDAR).json()
    client.post(CHECK_IN)
    after = client.get(CALENDAR).json()

    assert before["month"] == "2026-11"
    assert (before["checked_in_today"], before["current_streak"]) == (False, 2)  # still alive until tonight
    assert [d["day"] for d in before["days"]] == ["2026-11-13", "2026-11-14"]
    assert (after["checked_in_today"], after["current_streak"]) == (True, 3)
    assert after["days"][-1] == {"day": "2026-11-15", "streak": 3, "points": 5}


def test_a_broken_streak_shows_as_zero(alice, clock):
    client = client_for(alice)
    check_in_on(client, clock, (2026, 11, 12))
    clock.move_to(local(2026, 11, 15, 8))

    body = client.get(CALENDAR).json()

    assert (body["checked_in_today"], body["current_streak"]) == (False, 0)
    assert [d["day"] for d in body["days"]] == ["2026-11-12"]


@pytest.mark.parametrize("month", ["2026-13", "2026-00", "abc", "2026-1", "202611", "2026-11-01"])
def test_a_bad_month_is_refused(alice, month):
    body = assert_error(client_for(alice).get(CALENDAR, {"month": month}), 400, "validation_error")

    assert list(body["details"]) == ["month"]


def test_the_year_zero_is_refused_as_a_bad_month(alice):
    client = client_for(alice)
    client.raise_request_exception = False

    assert_error(client.get(CALENDAR, {"month": "0000-01"}), 400, "validation_error")


def test_an_unknown_calendar_parameter_is_refused(alice):
    body = assert_error(client_for(alice).get(CALENDAR, {"year": "2026"}), 400, "validation_error")

    assert list(body["details"]) == ["year"]


def test_the_calendar_shows_only_the_callers_check_ins(alice, bob, clock):
    alices = client_for(alice)
    check_in_on(alices, clock, (2026, 11, 14), (2026, 11, 15))

    body = client_for(bob).get(CALENDAR, {"month": "2026-11"}).json()

    assert body == {"month": "2026-11", "days": [], "checked_in_today": False, "current_streak": 0}
    assert len(alices.get(CALENDAR, {"month": "2026-11"}).json()["days"]) == 2


# --- authentication ---------------------------------------------------------------------

ENDPOINTS = [("get", BALANCE), ("get", ENTRIES), ("post", CHECK_IN), ("get", CALENDAR)]


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_every_endpoint_needs_a_member_token(method, url):
    response = getattr(APIClient(), method)(url)

    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Bearer"
    assert not CheckIn.objects.exists()


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_every_endpoint_refuses_an_unknown_token(method, url):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    assert_error(getattr(client, method)(url), 401, "not_authenticated")


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_every_endpoint_refuses_an_expired_token(alice, clock, method, url):
    client = client_for(alice)
    clock.move_to(NOW + timedelta(days=31))

    assert_error(getattr(client, method)(url), 401, "not_authenticated")
    assert not CheckIn.objects.filter(day__gte=date(2026, 12, 1)).exists()
