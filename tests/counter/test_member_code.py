"""会员码: issued to the member, one live at a time, resolved by the till in a store, refused with stable codes."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.throttling import ScopedRateThrottle

from members import codes
from members.closure import member_close
from members.models import MemberCode
from tests.counter.helpers import store, top_up
from tests.factories.coupons import CouponFactory
from tests.helpers import assert_error, signed_request

RESOLVE = "/api/v1/server/member-code/resolve"


@pytest.fixture
def shop(db):
    return store("SH-001")


def resolve(api, server_client, code, store_code="SH-001"):
    client, secret = server_client
    return signed_request(api, client, secret, "POST", RESOLVE, {"code": code, "store_code": store_code})


def test_the_member_gets_an_18_digit_code_and_a_qr_payload_valid_for_a_minute(member_api, member):
    response = member_api.get("/api/v1/me/member-code")

    assert response.status_code == 200
    body = response.json()
    assert len(body["code"]) == 18 and body["code"].isdigit()
    assert body["qr_payload"] == "member-code:" + body["code"]
    assert body["valid_seconds"] == 60
    assert response["Cache-Control"] == "no-store"
    issued = MemberCode.objects.get(code=body["code"])
    assert issued.member_id == member.pk
    assert timedelta(seconds=59) < issued.expires_at - issued.issued_at <= timedelta(seconds=60)


def test_a_new_code_replaces_the_old_one_so_one_is_live_at_a_time(
    member_api, member, api, server_client, shop
):
    first = member_api.get("/api/v1/me/member-code").json()["code"]
    second = member_api.get("/api/v1/me/member-code").json()["code"]

    assert first != second
    assert MemberCode.objects.filter(member=member, replaced_at__isnull=True).count() == 1
    assert_error(resolve(api, server_client, first), 409, "member_code_expired")
    assert resolve(api, server_client, second).status_code == 200


def test_codes_are_random_not_sequential(member):
    issued = [codes.member_code_issue(member=member).code for _ in range(20)]

    assert len(set(issued)) == 20
    assert all(c.startswith("66") for c in issued)
    assert len({c[2:6] for c in issued}) > 5  # the leading digits vary too: no counter in them


def test_a_closed_member_gets_no_code(member_api, member):
    member_close(member_id=member.pk)

    assert_error(member_api.get("/api/v1/me/member-code"), 401, "not_authenticated")
    with pytest.raises(Exception) as refused:
        codes.member_code_issue(member=type(member).objects.get(pk=member.pk))
    assert refused.value.code == "member_closed"
    assert not MemberCode.objects.filter(member=member).exists()


def test_the_till_resolves_a_code_to_the_member_balances_and_usable_coupons(
    member_api, member, api, server_client, shop
):
    top_up(member, 56_000)
    coupon = CouponFactory(member=member)
    code = member_api.get("/api/v1/me/member-code").json()["code"]

    response = resolve(api, server_client, code)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["member"]["id"] == member.pk
    assert body["store_code"] == "SH-001"
    assert body["stored_value"]["balance_fen"] == 56_000
    assert body["stored_value"]["balance"] == "¥560.00"
    assert body["points"] == 0
    assert body["tier"]["level"] == 0
    assert [c["id"] for c in body["coupons"]] == [coupon.pk]
    assert body["benefits"]["points_multiplier"]


def test_the_qr_payload_resolves_as_the_digits_do(member_api, api, server_client, shop):
    payload = member_api.get("/api/v1/me/member-code").json()["qr_payload"]

    assert resolve(api, server_client, payload).status_code == 200


def _snapshot():
    return list(MemberCode.objects.order_by("id").values_list("code", "order_no", "replaced_at", "bound_at"))


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("661234567890123456", 404, "member_code_invalid"),  # forged: well-formed, never issued
        ("12345", 404, "member_code_invalid"),
        ("member-code:abc", 404, "member_code_invalid"),
        ("134567890123456789", 404, "member_code_invalid"),  # a WeChat Pay payment code
    ],
)
def test_forged_or_malformed_codes_are_refused_and_change_nothing(
    api, server_client, shop, member, code, status, error
):
    codes.member_code_issue(member=member)
    before = _snapshot()

    assert_error(resolve(api, server_client, code), status, error)
    assert _snapshot() == before


def test_an_expired_code_is_refused(api, server_client, shop, member):
    issued = codes.member_code_issue(member=member, now=timezone.now() - timedelta(seconds=61))
    before = _snapshot()

    assert_error(resolve(api, server_client, issued.code), 409, "member_code_expired")
    assert _snapshot() == before


def test_a_code_bound_to_an_order_is_refused(api, server_client, shop, member):
    issued = codes.member_code_issue(member=member)
    codes.member_code_bind(code=issued.code, order_no="A-1")
    before = _snapshot()

    assert_error(resolve(api, server_client, issued.code), 409, "member_code_used")
    assert _snapshot() == before


def test_a_closed_members_live_code_never_resolves(api, server_client, shop, member):
    issued = codes.member_code_issue(member=member)
    member_close(member_id=member.pk)

    assert_error(resolve(api, server_client, issued.code), 409, "member_closed")


@pytest.mark.parametrize(("store_code", "error", "status"), [("NOPE", "store_not_found", 404)])
def test_an_unknown_store_is_refused(api, server_client, shop, member, store_code, error, status):
    issued = codes.member_code_issue(member=member)

    assert_error(resolve(api, server_client, issued.code, store_code), status, error)


@pytest.mark.parametrize("status", ["paused", "closed"])
def test_a_closed_store_cannot_resolve(api, server_client, member, status):
    store("SH-009", status=status)
    issued = codes.member_code_issue(member=member)

    assert_error(resolve(api, server_client, issued.code, "SH-009"), 409, "store_closed")


def test_an_unsigned_call_is_refused(api, shop, member):
    issued = codes.member_code_issue(member=member)

    response = api.post(RESOLVE, {"code": issued.code, "store_code": "SH-001"}, format="json")

    assert response.status_code == 401


def test_resolutions_are_rate_limited_per_store(api, server_client, member, monkeypatch):
    # DRF reads the rates once at import, so patch the class, not settings.
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"member_code_resolve": "3/min"})
    store("SH-001")
    store("SH-002")
    issued = codes.member_code_issue(member=member)

    statuses = [resolve(api, server_client, issued.code, "SH-001").status_code for _ in range(4)]
    other = resolve(api, server_client, issued.code, "SH-002").status_code

    assert statuses == [200, 200, 200, 429]
    assert other == 200  # another store's till has its own allowance


def test_old_unbound_codes_are_pruned_and_bound_ones_kept(member):
    old = timezone.now() - timedelta(days=2)
    stale = codes.member_code_issue(member=member, now=old)
    bound = codes.member_code_issue(member=member, now=old + timedelta(seconds=1))
    codes.member_code_bind(code=bound.code, order_no="B-1", now=old + timedelta(seconds=2))
    live = codes.member_code_issue(member=member)

    assert codes.member_codes_prune() == 1
    assert set(MemberCode.objects.values_list("code", flat=True)) == {bound.code, live.code}
    assert stale.code != live.code


def test_a_resolution_is_a_handful_of_indexed_reads(member, shop, django_assert_max_num_queries):
    from counter.selectors import member_code_resolve
    from loyalty.config import ConfigVersionMiddleware

    code = codes.member_code_issue(member=member).code

    def in_a_request():  # the configuration's version is read once per request, as the middleware does
        return ConfigVersionMiddleware(lambda _request: member_code_resolve(code=code, store_code="SH-001"))(
            None
        )

    in_a_request()  # the configuration cache (tiers, card types, member days) warms
    with django_assert_max_num_queries(7):  # six reads and the configuration's version
        found = in_a_request()

    assert found["member"]["id"] == member.pk
