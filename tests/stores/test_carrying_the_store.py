"""Registrations, recharges and card claims carry the store and the staff member of the QR code they came from.

Unknown codes, a store closed for good and an inactive staff member are
ignored (the member is still registered, the recharge still opens): a printed
QR code outlives its store or clerk.  A malformed code is refused (400,
``validation_error``) with nothing written.
"""

from __future__ import annotations

import pytest

from members.models import Member
from membership.models import MembershipCard
from stored_value.models import RechargeOrder
from stores.models import StoreRole, StoreStatus
from tests.factories import (
    CardTypeFactory,
    MemberFactory,
    RechargePlan1500Factory,
    StaffFactory,
    StoreFactory,
)
from tests.helpers import assert_error, client_for
from tests.security.helpers import db_fingerprint

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/wechat-login"
RECHARGES = "/api/v1/stored-value/recharges"
CLAIM = "/api/v1/membership/cards/claim"


@pytest.fixture
def shop():
    store = StoreFactory(code="HZ-01", name="西湖店")
    other = StoreFactory(code="HZ-02", name="滨江店")
    clerk = StaffFactory(code="S012", name="小王", stores={store: StoreRole.ASSOCIATE})
    roaming = StaffFactory(code="S013", stores={store: StoreRole.CLERK, other: StoreRole.CLERK})
    return store, other, clerk, roaming


@pytest.fixture
def login(api, fake_wechat):
    def do(code, openid=None, **extra):
        fake_wechat.add_login(code, openid=openid or f"o-{code}", session_key="sk")
        return api.post(LOGIN, {"code": code, **extra}, format="json")

    return do


def test_a_member_registering_from_a_store_code_and_a_staff_code_is_theirs(login, shop):
    store, _other, clerk, _roaming = shop

    response = login("c1", store_code="HZ-01", staff_code="S012")

    assert response.status_code == 201, response.json()
    member = Member.objects.get(openid="o-c1")
    assert (member.registration_store, member.home_store, member.registration_staff) == (store, store, clerk)


def test_a_staff_code_alone_brings_the_store_of_a_staff_member_working_in_one(login, shop):
    store, _other, clerk, roaming = shop

    login("c1", staff_code="S012")
    login("c2", staff_code="S013")  # works in two stores: which one is not known

    one, two = Member.objects.get(openid="o-c1"), Member.objects.get(openid="o-c2")
    assert (one.registration_store, one.home_store, one.registration_staff) == (store, store, clerk)
    assert (two.registration_store, two.home_store, two.registration_staff) == (None, None, roaming)


def test_a_returning_member_keeps_the_store_they_registered_in(login, shop):
    store, other, _clerk, _roaming = shop
    login("c1", store_code="HZ-01")

    again = login("c2", openid="o-c1", store_code="HZ-02")

    assert again.status_code == 200
    member = Member.objects.get(openid="o-c1")
    assert (member.registration_store, member.home_store) == (store, store)


@pytest.mark.parametrize(
    "codes",
    [
        {"store_code": "NO-SUCH"},
        {"store_code": "HZ-09"},  # closed for good
        {"staff_code": "S999"},
        {"staff_code": "S014"},  # no longer works here
    ],
)
def test_unknown_or_closed_codes_are_ignored_and_the_member_still_registers(login, shop, codes):
    StoreFactory(code="HZ-09", status=StoreStatus.CLOSED)
    StaffFactory(code="S014", active=False, stores={shop[0]: StoreRole.CLERK})

    response = login("c1", **codes)

    assert response.status_code == 201
    member = Member.objects.get(openid="o-c1")
    assert (member.registration_store, member.home_store, member.registration_staff) == (None, None, None)


def test_a_temporarily_closed_store_still_counts(login, shop):
    shop[0].status = StoreStatus.PAUSED
    shop[0].save()

    login("c1", store_code="HZ-01")

    assert Member.objects.get(openid="o-c1").registration_store == shop[0]


@pytest.mark.parametrize("bad", ["HZ 01", "门店一", "x" * 33, "a;drop"])
def test_a_malformed_store_or_staff_code_is_refused_and_no_member_is_created(login, shop, bad):
    before = db_fingerprint()

    for field in ("store_code", "staff_code"):
        response = login(f"c-{field}", **{field: bad})
        assert_error(response, 400, "validation_error")

    assert not Member.objects.exists()
    assert db_fingerprint() == before


def test_a_recharge_opened_from_a_store_code_carries_the_store_and_the_clerk(shop):
    store, _other, clerk, _roaming = shop
    plan = RechargePlan1500Factory()
    api = client_for(MemberFactory())

    response = api.post(
        RECHARGES,
        {"plan_id": plan.pk, "amount_fen": 150_000, "store_code": "HZ-01", "staff_code": "S012"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k1",
    )

    assert response.status_code == 201, response.json()
    order = RechargeOrder.objects.get(pk=response.json()["recharge"]["id"])
    assert (order.store, order.staff) == (store, clerk)


def test_a_recharge_with_an_unknown_store_opens_online_and_a_malformed_one_is_refused(shop):
    plan = RechargePlan1500Factory()
    api = client_for(MemberFactory())

    unknown = api.post(
        RECHARGES,
        {"plan_id": plan.pk, "amount_fen": 150_000, "store_code": "NOPE"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k1",
    )
    before = db_fingerprint()
    malformed = api.post(
        RECHARGES,
        {"plan_id": plan.pk, "amount_fen": 150_000, "store_code": "<script>"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k2",
    )

    assert unknown.status_code == 201
    assert RechargeOrder.objects.get().store is None
    assert_error(malformed, 400, "validation_error")
    assert db_fingerprint() == before


def test_a_card_claimed_from_a_store_code_carries_the_store_and_the_staff_tag(shop):
    store, other, _clerk, _roaming = shop
    api = client_for(MemberFactory())
    free = CardTypeFactory(kind="free")

    response = api.post(
        CLAIM,
        {"card_type_id": free.pk, "channel": "qr", "staff": "S012", "store_code": "HZ-02"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k1",
    )

    assert response.status_code == 201, response.json()
    card = MembershipCard.objects.get()
    assert (card.store, card.staff) == (other, "S012")


def test_a_card_claimed_with_only_a_staff_code_belongs_to_their_store_and_an_old_free_text_tag_stays(shop):
    store = shop[0]
    api = client_for(MemberFactory())

    api.post(
        CLAIM,
        {"card_type_id": CardTypeFactory(kind="free").pk, "staff": "S012"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k1",
    )
    api.post(
        CLAIM,
        {"card_type_id": CardTypeFactory(kind="free").pk, "staff": "王店员"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k2",
    )

    by_staff = dict(MembershipCard.objects.values_list("staff", "store"))
    assert by_staff == {"S012": store.pk, "王店员": None}


def test_an_operator_changes_a_members_home_store(admin_client, shop):
    store, other, _clerk, _roaming = shop
    member = MemberFactory(home_store=store, registration_store=store, nickname="小李")

    response = admin_client.post(
        f"/admin/members/member/{member.pk}/change/",
        {"nickname": "小李", "avatar_url": "", "gender": member.gender, "birthday": "", "phone": "",
         "referrer": "", "home_store": other.pk},
    )  # fmt: skip

    assert response.status_code == 302, response.content.decode()[:2000]
    member.refresh_from_db()
    assert (member.home_store, member.registration_store) == (other, store)
