import pytest
import time_machine
from django.utils import timezone

from membership import cards
from membership.models import CardPurchase, MemberDay, Membership, MembershipCard
from membership.services import membership_record_order
from payments.models import Payment
from tests.factories import CardTypeFactory, MemberFactory
from tests.helpers import client_for, local

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(tiers):
    return MemberFactory()


@pytest.fixture
def api(member):
    return client_for(member)


def post(api, url, body, key="k1"):
    return api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_my_tier_shows_the_growth_needed_for_the_next(member, api):
    membership_record_order(member_id=member.pk, order_no="A", paid_fen=123_456, completed_at=timezone.now())

    body = api.get("/api/v1/membership/tier").json()

    assert body["tier"]["level"] == 1 and body["window_growth"] == 1234
    assert body["next_tier"]["level"] == 2 and body["growth_needed"] == 5000 - 1234
    assert [t["level"] for t in body["tiers"]] == [0, 1, 2, 3]


def test_a_new_member_is_at_the_entry_tier(api):
    body = api.get("/api/v1/membership/tier").json()
    assert body["tier"]["level"] == 0 and body["growth_needed"] == 1000 and body["completed_orders"] == 0


def test_tier_history_lists_my_changes_only(member, api):
    other = MemberFactory()
    membership_record_order(member_id=member.pk, order_no="A", paid_fen=100_000, completed_at=timezone.now())
    membership_record_order(member_id=other.pk, order_no="B", paid_fen=100_000, completed_at=timezone.now())

    body = api.get("/api/v1/membership/tier-history").json()

    assert [(r["from_level"], r["to_level"], r["reason"]) for r in body["results"]] == [(0, 1, "order")]


def test_claim_a_card_by_qr_tags_then_list_it(member, api):
    ct = CardTypeFactory(kind="free", name="门店卡")

    response = post(
        api, "/api/v1/membership/cards/claim", {"card_type_id": ct.pk, "channel": "qr", "staff": "s1"}
    )
    replay = post(
        api, "/api/v1/membership/cards/claim", {"card_type_id": ct.pk, "channel": "qr", "staff": "s1"}
    )

    assert response.status_code == 201 and replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    cards_list = api.get("/api/v1/membership/cards").json()
    assert [(c["card_type"]["name"], c["channel"], c["is_valid"]) for c in cards_list] == [
        ("门店卡", "qr", True)
    ]


def test_claiming_twice_with_new_keys_is_409_and_nothing_more_is_written(member, api):
    ct = CardTypeFactory(kind="free")
    post(api, "/api/v1/membership/cards/claim", {"card_type_id": ct.pk}, key="a")

    response = post(api, "/api/v1/membership/cards/claim", {"card_type_id": ct.pk}, key="b")

    assert response.status_code == 409 and response.json()["code"] == "card_already_held"
    assert MembershipCard.objects.filter(member=member).count() == 1


def test_claim_needs_an_idempotency_key_and_known_fields(member, api):
    ct = CardTypeFactory(kind="free")
    assert (
        api.post("/api/v1/membership/cards/claim", {"card_type_id": ct.pk}, format="json").status_code == 400
    )
    bad = post(api, "/api/v1/membership/cards/claim", {"card_type_id": ct.pk, "member_id": 1})
    assert bad.status_code == 400 and bad.json()["code"] == "validation_error"
    assert not MembershipCard.objects.exists()


def test_an_unknown_card_type_is_404(api):
    response = post(api, "/api/v1/membership/cards/claim", {"card_type_id": 999_999})
    assert response.status_code == 404 and response.json()["code"] == "card_type_not_found"


def test_offers_show_what_i_can_claim_try_or_buy_and_my_progress(member, api):
    free = CardTypeFactory(kind="free")
    cond = CardTypeFactory(kind="conditional", condition="orders", condition_threshold=3)
    paid = CardTypeFactory(kind="paid", trial_days=7)
    CardTypeFactory(kind="free", name="off", is_active=False)
    membership_record_order(member_id=member.pk, order_no="A", paid_fen=100, completed_at=timezone.now())

    body = {o["card_type"]["id"]: o for o in api.get("/api/v1/membership/card-types").json()}

    assert set(body) == {free.pk, cond.pk, paid.pk}
    assert body[free.pk]["can_claim"] and not body[cond.pk]["can_claim"] and body[cond.pk]["progress"] == 1
    assert body[paid.pk]["can_buy"] and body[paid.pk]["can_try"]


def test_buy_a_paid_card_returns_payment_parameters_and_the_purchase_is_mine_only(member, api):
    ct = CardTypeFactory(kind="paid", price_fen=9_900)

    response = post(api, "/api/v1/membership/card-purchases", {"card_type_id": ct.pk})

    assert response.status_code == 201
    body = response.json()
    assert body["purchase"]["amount_fen"] == 9_900 and body["payment"]["package"].startswith("prepay_id=")
    pk = body["purchase"]["id"]
    assert api.get(f"/api/v1/membership/card-purchases/{pk}").json()["status"] == "created"
    other = client_for(MemberFactory())
    assert other.get(f"/api/v1/membership/card-purchases/{pk}").status_code == 404


def test_a_paid_purchase_is_seen_paid_when_the_notification_was_lost(member, api):
    from payments import services as payments

    ct = CardTypeFactory(kind="paid")
    pk = post(api, "/api/v1/membership/card-purchases", {"card_type_id": ct.pk}).json()["purchase"]["id"]
    payment = Payment.objects.get(out_trade_no=CardPurchase.objects.get(pk=pk).out_trade_no)
    payments.payment_simulate_pay(payment=payment, deliver=False)

    assert api.get(f"/api/v1/membership/card-purchases/{pk}").json()["status"] == "paid"
    assert MembershipCard.objects.filter(member=member, card_type=ct).exists()


def test_a_free_card_cannot_be_bought(member, api):
    ct = CardTypeFactory(kind="free")
    response = post(api, "/api/v1/membership/card-purchases", {"card_type_id": ct.pk})
    assert response.status_code == 409 and response.json()["code"] == "card_not_for_sale"
    assert not CardPurchase.objects.exists() and not Payment.objects.exists()


def test_trial_once(member, api):
    ct = CardTypeFactory(kind="paid", trial_days=3)
    assert post(api, "/api/v1/membership/cards/trial", {"card_type_id": ct.pk}, key="a").status_code == 201
    again = post(api, "/api/v1/membership/cards/trial", {"card_type_id": ct.pk}, key="b")
    assert again.status_code == 409 and again.json()["code"] == "card_trial_used"


def test_benefits_now(member, api):
    Membership.objects.create(member=member, tier_level=2)

    body = api.get("/api/v1/membership/benefits").json()

    assert body == {
        "discount_bp": 500,
        "free_shipping": True,
        "points_multiplier": "3/2",
        "sources": {"discount": "tier:2", "free_shipping": "tier:2", "points_multiplier": "tier:2"},
    }


def test_member_days_banner_and_countdown(api):
    MemberDay.objects.create(name="周三会员日", recurrence="weekly", weekday=2, points_multiplier=2)

    with time_machine.travel(local(2026, 12, 2, 20, 0), tick=False):
        body = api.get("/api/v1/membership/member-days").json()

    assert [(d["name"], d["ends_at"]) for d in body["active"]] == [
        ("周三会员日", "2026-12-03T00:00:00+08:00")
    ]
    assert [d["starts_at"] for d in body["upcoming"]] == ["2026-12-09T00:00:00+08:00"]


def test_membership_endpoints_need_a_login(db):
    from rest_framework.test import APIClient

    assert APIClient().get("/api/v1/membership/tier").status_code == 401


def test_my_cards_lists_few_queries(member, api, django_assert_max_num_queries):
    for n in range(5):
        cards.card_claim(member_id=member.pk, card_type_id=CardTypeFactory(kind="free", name=f"c{n}").pk)
    with django_assert_max_num_queries(5):
        assert len(api.get("/api/v1/membership/cards").json()) == 5
