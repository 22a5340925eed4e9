"""The three store roles as back-office groups: 店长 (store manager), 店员 (clerk, 核销员), 导购 (sales associate).

What each group may open is always limited to the user's own stores
(``stores/scoping.py``); the groups only say which pages.

- 店长 runs a store: its members, orders, recharges (and refunds them),
  cards, coupons and mall pick-ups used there, its staff and its figures on
  the dashboard.
- 店员 serves at the counter: the store's members, orders, recharges, and
  the coupons and pick-ups redeemed there.
- 导购 brings members: the store's members, orders and cards, and the
  figures of the store.

Like loyalty's 0005, a frozen list: running it again adds what is missing and
takes nothing away from a group an operator has edited.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUPS = {
    "店长": [
        "stores.view_store",
        "stores.view_staff",
        "members.view_member",
        "orders.view_order",
        "stored_value.view_rechargeorder",
        "stored_value.refund_recharge",
        "membership.view_membershipcard",
        "coupons.view_coupon",
        "coupons.view_couponevent",
        "mall.view_redemption",
        "mall.view_redemptionevent",
        "analytics.view_dailymetrics",
    ],
    "店员": [
        "stores.view_store",
        "members.view_member",
        "orders.view_order",
        "stored_value.view_rechargeorder",
        "coupons.view_coupon",
        "coupons.view_couponevent",
        "mall.view_redemption",
        "mall.view_redemptionevent",
    ],
    "导购": [
        "stores.view_store",
        "members.view_member",
        "orders.view_order",
        "membership.view_membershipcard",
        "analytics.view_dailymetrics",
    ],
}


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        stub = getattr(app_config, "models_module", None) is None  # a migration's app state has none
        if stub:
            app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        if stub:
            app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for perm in perms:
            app_label, codename = perm.split(".")
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in GROUPS.items():
        group = Group.objects.filter(name=name).first()
        if group is None:
            continue
        for perm in perms:
            app_label, codename = perm.split(".")
            group.permissions.remove(
                *Permission.objects.filter(content_type__app_label=app_label, codename=codename)
            )


class Migration(migrations.Migration):
    dependencies = [
        ("stores", "0001_initial"),
        ("loyalty", "0005_membership_mall_orders_roles"),
        ("members", "0011_member_stores"),
        ("orders", "0005_order_store"),
        ("stored_value", "0005_recharge_store"),
        ("coupons", "0006_couponevent_store"),
        ("mall", "0005_redemptionevent_store"),
        ("membership", "0005_membershipcard_store"),
        ("analytics", "0001_initial"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
