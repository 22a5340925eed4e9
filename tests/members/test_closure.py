"""Account closure (注销): refused while value is owed to the member, otherwise forfeit, anonymise, end sessions."""

from datetime import date, timedelta

import pytest
from rest_framework.test import APIClient

from coupons import services as coupon_services
from coupons.models import Coupon, CouponEvent
from members import closure
from members.models import Member, MemberToken, WechatSession
from members.services import member_login
from members.wechat import WechatSessionInfo
from notifications import services as notification_services
from notifications.models import SubscribeConsent, WechatDelivery, WechatTemplate
from points.models import PointsEntry
from stored_value import ledger as stored_value_ledger
from stored_value.models import RechargeOrder
from tests.concurrency import run_concurrently
from tests.factories import CardTypeFactory, CouponTemplateFactory, MemberFactory, RechargeFactory
from tests.helpers import assert_ledgers_consistent, client_for, local, stopped_clock
from tests.points.helpers import balance, earn
from tests.stored_value.helpers import spend

URL = "/api/v1/me/close"
NOW = local(2026, 11, 15, 10)


clock = stopped_clock(NOW)


@pytest.fixture
def alice(db):
    member = MemberFactory(
        openid="o-alice",
        unionid="u-alice",
        phone="13800000000",
        nickname="小王",
        avatar_url="https://example.com/a.png",
        birthday=date(1990, 3, 8),
        gender=Member.Gender.FEMALE,
    )
    WechatSession.objects.create(member=member, session_key_encrypted="encrypted")
    return member


def close(client, key="close-1", body=None):
    body = {"confirm": True} if body is None else body
    return client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def coupons_of(member, n=2):
    tpl = CouponTemplateFactory(per_member_limit=n)
    return [
        coupon_services.coupon_claim(member=member, template_id=tpl.pk, idempotency_key=f"c{i}")
        for i in range(n)
    ]


def state(member) -> tuple:
    """Everything a refused closure must leave as it was."""
    member.refresh_from_db()
    return (
        {f.name: getattr(member, f.name) for f in Member._meta.concrete_fields},
        list(PointsEntry.objects.filter(account__member=member).values_list("id", flat=True)),
        list(Coupon.objects.filter(member=member).values_list("id", "status")),
        list(MemberToken.objects.filter(member=member).values_list("id", "revoked_at")),
        WechatSession.objects.filter(member=member).count(),
    )


@pytest.mark.django_db
def test_closing_forfeits_points_and_coupons_anonymises_and_ends_every_session(alice, clock):
    earn(alice, 300, key="a", expires_at=NOW + timedelta(days=30))
    earn(alice, 200, key="b", expires_at=NOW + timedelta(days=1))
    earn(alice, 50, key="c", expires_at=None)
    coupons = coupons_of(alice)
    coupon_services.coupon_lock(member_id=alice.pk, coupon_id=coupons[1].pk, order_no="O-1")
    client = client_for(alice)
    other_session = client_for(alice)
    clock.move_to(NOW + timedelta(days=2))  # the 200 expired meanwhile; nobody ran the expiry job

    response = close(client)

    assert response.status_code == 200
    assert response.json() == {
        "closed_at": "2026-11-17T10:00:00+08:00",
        "points_forfeited": 350,
        "coupons_voided": 2,
    }
    alice.refresh_from_db()
    assert alice.closed_at == NOW + timedelta(days=2)
    assert alice.openid.startswith("closed_") and "o-alice" not in alice.openid
    assert (alice.unionid, alice.phone, alice.nickname, alice.avatar_url) == ("", "", "", "")
    assert (alice.birthday, alice.gender) == (None, Member.Gender.UNKNOWN)
    assert balance(alice) == 0
    assert list(
        PointsEntry.objects.filter(account__member=alice)
        .order_by("id")
        .values_list("kind", "amount", "source")
    ) == [
        ("earn", 300, "test"),
        ("earn", 200, "test"),
        ("earn", 50, "test"),
        ("expire", -200, "expiry"),
        ("adjust", -350, "closure"),
    ]
    assert PointsEntry.objects.get(source="closure").memo == "account closed"
    assert set(Coupon.objects.filter(member=alice).values_list("status", flat=True)) == {"voided"}
    assert CouponEvent.objects.filter(kind="voided", reason="account closed").count() == 2
    assert not MemberToken.objects.filter(member=alice, revoked_at__isnull=True).exists()
    assert not WechatSession.objects.filter(member=alice).exists()
    for session in (client, other_session):
        me = session.get("/api/v1/me")
        assert (me.status_code, me.json()["code"]) == (401, "not_authenticated")
    assert_ledgers_consistent()


@pytest.mark.django_db
def test_the_invite_code_is_replaced_so_the_old_one_names_nobody(alice):
    old = alice.invite_code

    closure.member_close(member_id=alice.pk)

    alice.refresh_from_db()
    assert alice.invite_code != old
    assert not Member.objects.filter(invite_code=old).exists()


@pytest.mark.django_db
def test_used_coupons_and_the_ledgers_stay_for_the_books(alice):
    kept = coupons_of(alice, 1)[0]
    coupon_services.coupon_redeem_code(code=kept.code, order_no="POS-1")
    RechargeFactory(member=alice, amount_fen=1000)
    spend(alice, 1000)
    entries = PointsEntry.objects.count()

    closure.member_close(member_id=alice.pk)

    kept.refresh_from_db()
    assert kept.status == "used"
    assert Member.objects.filter(pk=alice.pk).exists()
    assert RechargeOrder.objects.filter(member=alice).count() == 1
    assert PointsEntry.objects.count() == entries  # nothing to forfeit: no entry


@pytest.mark.django_db
@pytest.mark.parametrize(("principal", "bonus"), [(1, 0), (0, 1), (150_000, 15_000)])
def test_closing_is_refused_while_stored_value_remains(alice, admin_user, principal, bonus):
    earn(alice, 100, key="p")
    coupons_of(alice, 1)
    RechargeFactory(member=alice, amount_fen=principal or 100, bonus_fen=bonus)
    if not principal:  # bonus only: take the principal back out
        stored_value_ledger.stored_value_adjust(
            member_id=alice.pk,
            principal_fen=-100,
            bonus_fen=0,
            reason="t",
            actor_id=admin_user.pk,
            idempotency_key="a",
        )
    client = client_for(alice)
    before = state(alice)

    response = close(client)

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "stored_value_remaining"
    assert body["details"] == {"principal_fen": principal, "bonus_fen": bonus}
    assert state(alice) == before
    assert client.get("/api/v1/me").status_code == 200


@pytest.mark.django_db
def test_closing_is_refused_while_a_recharge_awaits_payment(alice):
    order = RechargeFactory(member=alice, amount_fen=1000, awaiting_payment=True)
    client = client_for(alice)
    before = state(alice)

    response = close(client)

    assert response.status_code == 409
    assert response.json()["code"] == "recharge_pending"
    assert response.json()["details"] == {"recharge_ids": [order.pk]}
    assert state(alice) == before


@pytest.mark.django_db
def test_a_refused_closure_with_a_key_is_replayed_as_refused(alice):
    RechargeFactory(member=alice, amount_fen=500)
    client = client_for(alice)

    first, again = close(client), close(client)

    assert first.status_code == again.status_code == 409
    assert again.headers["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [{}, {"confirm": False}, {"confirm": "true"}, {"confirm": 1}, {"confirm": None}, [], {"confirm": [True]}],
    ids=["absent", "false", "string", "one", "null", "list", "list-of-true"],
)
def test_closing_is_refused_unless_the_body_confirms_it_with_true(alice, body):
    earn(alice, 10, key="p")
    client = client_for(alice)
    before = state(alice)

    response = close(client, body=body)

    assert (response.status_code, response.json()["code"]) == (400, "validation_error")
    assert set(response.json()["details"]) <= {"confirm", "non_field_errors"}
    assert state(alice) == before
    assert client.get("/api/v1/me").status_code == 200  # the session is still open


@pytest.mark.django_db
def test_closing_needs_an_idempotency_key_and_a_member(alice):
    no_key = client_for(alice).post(URL, {"confirm": True}, format="json")
    anonymous = close(APIClient())

    assert (no_key.status_code, no_key.json()["code"]) == (400, "idempotency_key_required")
    assert anonymous.status_code == 401
    alice.refresh_from_db()
    assert alice.closed_at is None


@pytest.mark.django_db
def test_closing_twice_changes_nothing_the_second_time(alice):
    earn(alice, 10, key="p")
    first = closure.member_close(member_id=alice.pk)
    alice.refresh_from_db()
    openid = alice.openid

    second = closure.member_close(member_id=alice.pk)

    assert (first.points_forfeited, first.replayed) == (10, False)
    assert (second.closed_at, second.replayed) == (first.closed_at, True)
    alice.refresh_from_db()
    assert alice.openid == openid
    assert PointsEntry.objects.filter(source="closure").count() == 1


@pytest.mark.django_db
def test_the_same_wechat_user_can_sign_up_again_as_a_new_member(alice):
    closure.member_close(member_id=alice.pk)

    again = member_login(session=WechatSessionInfo(openid="o-alice", unionid="u-alice", session_key="sk2"))

    assert again.created and again.member.pk != alice.pk
    assert Member.objects.filter(openid="o-alice").get().pk == again.member.pk


@pytest.mark.django_db
def test_another_members_things_are_untouched(alice):
    bob = MemberFactory(phone="13900000000")
    earn(bob, 70, key="b")
    bob_coupon = coupons_of(bob, 1)[0]
    bob_client = client_for(bob)

    closure.member_close(member_id=alice.pk)

    bob.refresh_from_db()
    assert (bob.phone, bob.closed_at, balance(bob)) == ("13900000000", None, 70)
    bob_coupon.refresh_from_db()
    assert bob_coupon.status == "available"
    assert bob_client.get("/api/v1/me").status_code == 200


@pytest.mark.django_db
def test_unsent_wechat_messages_and_unspent_credits_go_with_the_account(alice, fake_wechat):
    WechatTemplate.objects.create(kind="k", template_id="T", field_map={"thing1": "{title}"})
    for _ in range(3):
        notification_services.subscription_report(member_id=alice.pk, results={"T": "accept"})
    notification_services.notify_many(
        [notification_services.Draft(member_id=alice.pk, kind="k", title="t", body="b", dedupe_key="e")]
    )

    closure.member_close(member_id=alice.pk)

    delivery = WechatDelivery.objects.get(member=alice)
    assert (delivery.status, delivery.error) == ("cancelled", "account closed")
    assert list(SubscribeConsent.objects.filter(member=alice).values_list("pk", flat=True)) == [
        delivery.consent_id
    ]
    assert notification_services.wechat_deliveries_send() == {"sent": 0, "pending": 0, "failed": 0}
    assert fake_wechat.send_attempts == []


@pytest.mark.django_db
def test_closing_is_refused_while_an_order_awaits_payment_and_allowed_once_it_is_cancelled(alice):
    from orders import services as order_services
    from tests.orders.helpers import basket, commit

    RechargeFactory(member=alice, amount_fen=5_000)
    commit(alice, basket(("TEA", 5_000, 1), stored_value_fen=5_000), order_no="OPEN-1")

    response = close(client_for(alice))

    assert response.status_code == 409 and response.json()["code"] == "order_in_progress"
    alice.refresh_from_db()
    assert alice.closed_at is None
    order_services.order_cancel(order_no="OPEN-1", reason="member")
    assert close(client_for(alice), key="close-2").json()["code"] == "stored_value_remaining"


@pytest.mark.django_db
def test_closing_revokes_every_membership_card_with_an_event(alice):
    from membership import cards
    from membership.models import CardEvent, CardStatus, MembershipCard

    free, trial = CardTypeFactory(kind="free"), CardTypeFactory(kind="paid", trial_days=7)
    cards.card_claim(member_id=alice.pk, card_type_id=free.pk)
    cards.card_trial(member_id=alice.pk, card_type_id=trial.pk)

    close(client_for(alice))

    assert set(MembershipCard.objects.filter(member=alice).values_list("status", flat=True)) == {
        CardStatus.REVOKED
    }
    assert CardEvent.objects.filter(card__member=alice, kind="revoke", reason="account closed").count() == 2


@pytest.mark.django_db
def test_closing_is_refused_while_a_card_purchase_awaits_payment(alice):
    from membership import cards

    cards.card_purchase_create(member=alice, card_type_id=CardTypeFactory(kind="paid").pk)

    response = close(client_for(alice))

    assert response.status_code == 409 and response.json()["code"] == "card_purchase_pending"
    alice.refresh_from_db()
    assert alice.closed_at is None and alice.nickname == "小王"


# --- the admin ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_admin_lists_closed_accounts_read_only(alice, admin_client):
    open_member = MemberFactory(nickname="还在")
    closure.member_close(member_id=alice.pk)

    page = admin_client.get("/admin/members/closedmember/")
    detail = admin_client.get(f"/admin/members/closedmember/{alice.pk}/change/")

    assert page.status_code == 200
    assert f">{alice.pk}<" in page.content.decode() and "还在" not in page.content.decode()
    assert admin_client.get(f"/admin/members/closedmember/{open_member.pk}/change/").status_code == 302
    assert detail.status_code == 200
    assert admin_client.get("/admin/members/closedmember/add/").status_code == 403
    assert admin_client.post(f"/admin/members/closedmember/{alice.pk}/delete/").status_code == 403


@pytest.mark.django_db
def test_the_member_page_shows_the_closure_and_refuses_edits(alice, admin_client):
    closure.member_close(member_id=alice.pk)

    page = admin_client.get(f"/admin/members/member/{alice.pk}/change/")
    edit = admin_client.post(f"/admin/members/member/{alice.pk}/change/", {"nickname": "改名"})

    assert page.status_code == 200 and "账户注销" in page.content.decode()
    assert edit.status_code == 403
    alice.refresh_from_db()
    assert alice.nickname == ""
    closed_only = admin_client.get("/admin/members/member/?closed_at__isnull=False").content.decode()
    assert f"/admin/members/member/{alice.pk}/change/" in closed_only


# --- concurrency -------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.xdist_group("many-connections")
def test_parallel_closures_close_once():
    member = MemberFactory()
    earn(member, 40, key="p")

    results, errors = run_concurrently(lambda i: closure.member_close(member_id=member.pk), 8)

    assert errors == []
    assert sum(not r.replayed for r in results) == 1
    assert PointsEntry.objects.filter(source="closure").count() == 1
    assert balance(member) == 0


@pytest.mark.django_db
def test_a_points_debt_is_left_on_the_books_not_written_off(alice):
    from points import ledger

    earned = earn(alice, 100, key="e")
    ledger.points_spend(member_id=alice.pk, amount=80, idempotency_key="s")
    ledger.points_reverse(
        member_id=alice.pk, entry_id=earned.entry_id, idempotency_key="r"
    )  # clawed back: -80
    entries = PointsEntry.objects.count()

    result = closure.member_close(member_id=alice.pk)

    assert result.points_forfeited == 0
    assert balance(alice) == -80 and PointsEntry.objects.count() == entries
    assert_ledgers_consistent()
