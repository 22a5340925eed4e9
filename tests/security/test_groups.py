"""The back office's roles: 运营 (operator), 财务 (finance), 客服 (customer service), from the migration.

Each group can open exactly its own action pages in the admin and is refused
the others; a refused POST changes nothing.  A new custom permission anywhere
fails ``test_every_custom_permission_belongs_to_a_role`` until a migration
gives it to a group (or it is listed as superuser-only below).
"""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, User

from coupons import services as coupon_services
from coupons.models import BulkIssue
from mall.models import Redemption
from membership import cards
from membership.models import CardPurchase, MembershipCard
from points import ledger as points_ledger
from points.models import PointsAccount
from stored_value.models import RechargeOrder, StoredValueAccount
from tests.factories import (
    CardTypeFactory,
    CouponTemplateFactory,
    MallItemFactory,
    MemberFactory,
    RechargeFactory,
)
from tests.mall import helpers as mall_helpers
from tests.membership.card_helpers import pay
from tests.orders.helpers import basket, commit
from tests.security.helpers import db_fingerprint

pytestmark = pytest.mark.django_db

OPERATOR, FINANCE, SERVICE = "运营", "财务", "客服"
_roles_migration = importlib.import_module("loyalty.migrations.0003_operator_groups")
_new_roles_migration = importlib.import_module("loyalty.migrations.0005_membership_mall_orders_roles")
_moved_migration = importlib.import_module("membership.migrations.0002_content_types")


def _now_labelled(perm: str) -> str:
    """0005 names the programme's permissions ``members.*``; membership's 0002 moved them to ``membership``."""
    app_label, codename = perm.split(".")
    moved = codename in ("grant_card", "refund_card") or codename.split("_", 1)[1] in _moved_migration.MODELS
    return f"membership.{codename}" if app_label == "members" and moved else perm


@pytest.fixture(autouse=True)
def roles(db, monkeypatch):
    """Transactional tests flush every table, taking the migrations' groups with them."""
    _roles_migration.create_groups(apps, None)
    groups = {name: [_now_labelled(p) for p in perms] for name, perms in _new_roles_migration.GROUPS.items()}
    monkeypatch.setattr(_new_roles_migration, "GROUPS", groups)
    _new_roles_migration.grant(apps, None)


# Custom permissions on purpose given to no group (superusers only).
SUPERUSER_ONLY: set[str] = set()


@pytest.fixture
def world():
    member = MemberFactory()
    points_ledger.points_earn(
        member_id=member.pk, amount=100, idempotency_key="e", source="test", expires_at=None
    )
    RechargeFactory(member=member, amount_fen=10_000, bonus_fen=1_000)
    tpl = CouponTemplateFactory()
    coupon = coupon_services.coupon_claim(member=member, template_id=tpl.pk, idempotency_key="c")
    paid = CardTypeFactory(kind="paid")
    purchase = cards.card_purchase_create(member=member, card_type_id=paid.pk)
    pay(purchase)
    mall_item = MallItemFactory(points=10, stock=5)
    redemption = mall_helpers.redeem(member, mall_item, key="sec", address_id=mall_helpers.address(member).pk)
    order = commit(member, basket(("SKU", 1_000, 1)))
    return {
        "member": member.pk,
        "card_type": paid.pk,
        "card": MembershipCard.objects.get(member=member, card_type=paid).pk,
        "card_purchase": purchase.pk,
        "mall_item": mall_item.pk,
        "redemption": redemption.pk,
        "order": order.pk,
        "points_account": PointsAccount.objects.get(member=member).pk,
        "sv_account": StoredValueAccount.objects.get(member=member).pk,
        "recharge": RechargeOrder.objects.get(member=member).pk,
        "template": tpl.pk,
        "coupon": coupon.pk,
    }


# action -> (URL template, the groups that may open it)
ACTIONS = {
    "adjust points": ("/admin/points/pointsaccount/{points_account}/adjust/", {FINANCE}),
    "adjust stored value": ("/admin/stored_value/storedvalueaccount/{sv_account}/adjust/", {FINANCE}),
    "refund a recharge": ("/admin/stored_value/rechargeorder/{recharge}/refund/", {FINANCE}),
    "export the stored-value ledger": ("/admin/stored_value/storedvalueentry/export/", {FINANCE, SERVICE}),
    "export the points ledger": ("/admin/points/pointsentry/export/", {FINANCE, SERVICE, OPERATOR}),
    "see payments": ("/admin/payments/payment/", {FINANCE}),
    "edit the stored-value policy": ("/admin/stored_value/storedvaluepolicy/add/", set()),
    "freeze stored value": ("/admin/stored_value/storedvalueaccount/{sv_account}/freeze/", {SERVICE}),
    "void a coupon": ("/admin/coupons/coupon/{coupon}/void/", {SERVICE}),
    "add an earning rule": ("/admin/points/earningrule/add/", {OPERATOR}),
    "add a recharge plan": ("/admin/stored_value/rechargeplan/add/", {OPERATOR}),
    "add a coupon template": ("/admin/coupons/coupontemplate/add/", {OPERATOR}),
    "bulk issue coupons": ("/admin/coupons/coupontemplate/{template}/bulk-issue/", {OPERATOR}),
    "add a gift pack": ("/admin/coupons/giftpack/add/", {OPERATOR}),
    "see members": ("/admin/members/member/", {OPERATOR, FINANCE, SERVICE}),
    "export members with their balances": ("/admin/members/export/", {FINANCE}),
    "see member exports and download them": ("/admin/migration/exportjob/", {FINANCE}),
    # the import posts opening balances (points, stored value): finance's, as adjustments are
    # (migration/migrations/0003_roles.py)
    "import members with their balances": ("/admin/migration/importjob/add/", {FINANCE}),
    "see imports": ("/admin/migration/importjob/", {FINANCE}),
    "see mapping presets": ("/admin/migration/mappingpreset/", {FINANCE}),
    "see counter payment confirmations": ("/admin/orders/counterpayment/", {FINANCE, SERVICE}),
    "see member codes": ("/admin/members/membercode/", {SERVICE}),
    "see API clients": ("/admin/loyalty/apiclient/", set()),
    # membership: the programme is the operator's, card refunds are money (finance)
    "add a tier": ("/admin/membership/tier/add/", {OPERATOR}),
    "add a card type": ("/admin/membership/cardtype/add/", {OPERATOR}),
    "add a member day": ("/admin/membership/memberday/add/", {OPERATOR}),
    "grant a card": ("/admin/membership/membershipcard/grant/", {OPERATOR}),
    "revoke a card": ("/admin/membership/membershipcard/{card}/revoke/", {OPERATOR}),
    "see cards": ("/admin/membership/membershipcard/", {OPERATOR, FINANCE, SERVICE}),
    "see card purchases": ("/admin/membership/cardpurchase/", {OPERATOR, FINANCE, SERVICE}),
    "refund a card purchase": ("/admin/membership/cardpurchase/{card_purchase}/refund/", {FINANCE}),
    "see growth": ("/admin/membership/growthentry/", {OPERATOR, FINANCE}),
    "see closed accounts": ("/admin/members/closedmember/", {SERVICE}),
    # the mall: the catalogue is the operator's; shipping is the operator's or customer service's
    "add a mall item": ("/admin/mall/mallitem/add/", {OPERATOR}),
    "add a mall category": ("/admin/mall/category/add/", {OPERATOR}),
    "see virtual codes": ("/admin/mall/virtualcode/", {OPERATOR}),
    "see redemptions": ("/admin/mall/redemption/", {OPERATOR, FINANCE, SERVICE}),
    "export redemptions": ("/admin/mall/redemption/export/", {OPERATOR, FINANCE, SERVICE}),
    "ship a redemption": ("/admin/mall/redemption/{redemption}/ship/", {OPERATOR, SERVICE}),
    "cancel a redemption": ("/admin/mall/redemption/{redemption}/cancel/", {OPERATOR, SERVICE}),
    "upload a shipping file": ("/admin/mall/redemption/ship-file/", {OPERATOR, SERVICE}),
    # checkout: everyone reads orders; the points deduction rate is finance's
    "see orders": ("/admin/orders/order/", {OPERATOR, FINANCE, SERVICE}),
    "see an order": ("/admin/orders/order/{order}/change/", {OPERATOR, FINANCE, SERVICE}),
    "export orders": ("/admin/orders/order/export/", {OPERATOR, FINANCE, SERVICE}),
    "see checkout settings": ("/admin/orders/checkoutsettings/", {OPERATOR, FINANCE}),
    "edit periodic tasks": ("/admin/django_celery_beat/periodictask/", set()),
}

# Money-moving POSTs a refused group must not be able to perform.
POSTS = {
    "adjust points": {"amount": 50, "reason": "r", "idempotency_key": "k"},
    "adjust stored value": {"principal_fen": 100, "bonus_fen": 0, "reason": "r", "idempotency_key": "k"},
    "refund a recharge": {"reason": "r", "idempotency_key": "k"},
    "freeze stored value": {"reason": "r", "idempotency_key": "k"},
    "void a coupon": {"reason": "r", "idempotency_key": "k"},
    "bulk issue coupons": {"everyone": "on"},
    "grant a card": {
        "member_id": "{member}",
        "card_type": "{card_type}",
        "reason": "r",
        "idempotency_key": "k",
    },
    "revoke a card": {"reason": "r", "idempotency_key": "k"},
    "refund a card purchase": {"reason": "r", "idempotency_key": "k"},
    "ship a redemption": {"carrier": "顺丰速运", "tracking_no": "SF1"},
    "cancel a redemption": {"reason": "r", "idempotency_key": "k"},
}


def post_data(action, world) -> dict:
    return {name: str(value).format(**world) for name, value in POSTS[action].items()}


def operator_in(client, group_name):
    user = User.objects.create_user(username=f"user-{group_name}", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=group_name))
    client.force_login(user)
    return user


def test_the_migration_creates_the_three_roles():
    assert set(Group.objects.values_list("name", flat=True)) >= {OPERATOR, FINANCE, SERVICE}
    finance = set(Group.objects.get(name=FINANCE).permissions.values_list("codename", flat=True))
    assert {"adjust_points", "adjust_stored_value", "refund_recharge"} <= finance


def test_every_custom_permission_belongs_to_a_role():
    granted = {
        f"{p.content_type.app_label}.{p.codename}"
        for g in Group.objects.filter(name__in=[OPERATOR, FINANCE, SERVICE])
        for p in g.permissions.select_related("content_type")
    }
    custom = {
        f"{model._meta.app_label}.{codename}"
        for model in apps.get_models()
        for codename, _ in model._meta.permissions
    }
    orphans = custom - granted - SUPERUSER_ONLY
    assert not orphans, (
        f"custom permissions no role has: {sorted(orphans)}. Give each to 运营, 财务 or 客服 in a migration "
        "(see loyalty/migrations/0003_operator_groups.py) or list it in SUPERUSER_ONLY."
    )


@pytest.mark.parametrize("group", [OPERATOR, FINANCE, SERVICE])
def test_each_role_opens_exactly_its_own_admin_pages(client, world, group):
    operator_in(client, group)

    outcome = {action: client.get(url.format(**world)).status_code for action, (url, _) in ACTIONS.items()}

    assert outcome == {action: 200 if group in allowed else 403 for action, (_, allowed) in ACTIONS.items()}


@pytest.mark.parametrize("group", [OPERATOR, FINANCE, SERVICE])
def test_a_role_is_refused_the_money_actions_of_the_others_and_nothing_changes(client, world, group):
    operator_in(client, group)
    refused = [action for action in POSTS if group not in ACTIONS[action][1]]
    assert refused
    before = db_fingerprint()

    outcome = {
        action: client.post(ACTIONS[action][0].format(**world), post_data(action, world)).status_code
        for action in refused
    }

    assert outcome == dict.fromkeys(refused, 403)
    assert db_fingerprint() == before


def test_the_demo_has_one_user_per_role_who_can_log_in(client):
    from loyalty.management.commands.rundemo import Command

    Command().role_users("demo-password-1")
    Command().role_users("demo-password-1")  # every demo run: no duplicates, same login

    for username, group in Command.ROLE_USERS.items():
        user = User.objects.get(username=username)
        assert user.is_staff and not user.is_superuser
        assert list(user.groups.values_list("name", flat=True)) == [group]
        assert client.login(username=username, password="demo-password-1")
    assert User.objects.get(username="caiwu").has_perm("points.adjust_points")
    assert not User.objects.get(username="kefu").has_perm("points.adjust_points")


def test_each_role_performs_its_own_money_actions(client, world):
    operator_in(client, FINANCE)
    balance = PointsAccount.objects.get(pk=world["points_account"]).balance
    assert client.post(ACTIONS["adjust points"][0].format(**world), POSTS["adjust points"]).status_code == 302
    assert PointsAccount.objects.get(pk=world["points_account"]).balance == balance + 50
    client.logout()

    operator_in(client, SERVICE)
    assert (
        client.post(
            ACTIONS["freeze stored value"][0].format(**world), POSTS["freeze stored value"]
        ).status_code
        == 302
    )
    assert StoredValueAccount.objects.get(pk=world["sv_account"]).frozen
    assert client.post(ACTIONS["void a coupon"][0].format(**world), POSTS["void a coupon"]).status_code == 302
    client.logout()

    operator_in(client, OPERATOR)
    assert (
        client.post(ACTIONS["bulk issue coupons"][0].format(**world), POSTS["bulk issue coupons"]).status_code
        == 302
    )
    assert BulkIssue.objects.filter(template_id=world["template"]).exists()


def test_each_role_performs_its_own_membership_and_mall_actions(client, world):
    operator_in(client, FINANCE)
    refund = client.post(
        ACTIONS["refund a card purchase"][0].format(**world), post_data("refund a card purchase", world)
    )
    assert refund.status_code == 302, refund.content
    assert CardPurchase.objects.get(pk=world["card_purchase"]).refunded_fen > 0
    client.logout()

    operator_in(client, SERVICE)
    shipped = client.post(
        ACTIONS["ship a redemption"][0].format(**world), post_data("ship a redemption", world)
    )
    assert shipped.status_code == 302, shipped.content
    assert Redemption.objects.get(pk=world["redemption"]).tracking_no == "SF1"
    client.logout()

    operator_in(client, OPERATOR)
    granted = client.post(ACTIONS["grant a card"][0].format(**world), post_data("grant a card", world))
    assert granted.status_code == 302, granted.content
    revoked = client.post(ACTIONS["revoke a card"][0].format(**world), post_data("revoke a card", world))
    assert revoked.status_code == 302, revoked.content
    assert MembershipCard.objects.get(pk=world["card"]).status == "revoked"
