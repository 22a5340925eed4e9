"""The three roles get the membership, mall and checkout pages: 运营 (operator), 财务 (finance), 客服 (service).

- 运营 runs the programme: tiers, card types (and granting/revoking cards,
  ``members.grant_card``), member days, the mall catalogue and virtual codes,
  and ships redemptions (``mall.ship_redemption``); it sees orders.
- 财务 moves money: refunds paid cards pro rata (``members.refund_card``) and
  sets the checkout's points deduction (``orders.change_checkoutsettings``); it
  reads cards, card purchases, growth, orders and redemptions.
- 客服 answers members: ships and cancels redemptions before shipment
  (``mall.ship_redemption``), reads members' tiers, cards, orders,
  redemptions, subscriptions and closed accounts.

Like 0003, a frozen list: running it again adds what is missing and takes
nothing away from a group an operator has edited.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUPS = {
    "运营": [
        "members.view_tier",
        "members.add_tier",
        "members.change_tier",
        "members.view_membershippolicy",
        "members.view_membership",
        "members.view_growthentry",
        "members.view_tierchange",
        "members.view_cardtype",
        "members.add_cardtype",
        "members.change_cardtype",
        "members.view_membershipcard",
        "members.grant_card",
        "members.view_cardevent",
        "members.view_cardpurchase",
        "members.view_memberday",
        "members.add_memberday",
        "members.change_memberday",
        "mall.view_category",
        "mall.add_category",
        "mall.change_category",
        "mall.view_mallitem",
        "mall.add_mallitem",
        "mall.change_mallitem",
        "mall.view_virtualcode",
        "mall.view_redemption",
        "mall.ship_redemption",
        "orders.view_order",
        "orders.view_checkoutsettings",
        "notifications.view_wechattemplate",
        "notifications.add_wechattemplate",
        "notifications.change_wechattemplate",
    ],
    "财务": [
        "members.view_membership",
        "members.view_growthentry",
        "members.view_cardtype",
        "members.view_membershipcard",
        "members.view_cardevent",
        "members.view_cardpurchase",
        "members.refund_card",
        "mall.view_mallitem",
        "mall.view_redemption",
        "orders.view_order",
        "orders.view_checkoutsettings",
        "orders.change_checkoutsettings",
    ],
    "客服": [
        "members.view_membership",
        "members.view_tierchange",
        "members.view_cardtype",
        "members.view_membershipcard",
        "members.view_cardevent",
        "members.view_cardpurchase",
        "members.view_closedmember",
        "mall.view_mallitem",
        "mall.view_redemption",
        "mall.ship_redemption",
        "orders.view_order",
        "notifications.view_subscribeconsent",
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
        ("loyalty", "0004_merge_0003_job_run_0003_operator_groups"),
        ("members", "0006_merge_closure_and_membership"),
        ("mall", "0003_fewer_redemption_indexes"),
        ("orders", "0002_append_only_and_settings"),
        ("notifications", "0002_wechat_channel"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
