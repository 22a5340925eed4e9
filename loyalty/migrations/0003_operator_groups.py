"""The back office's three roles as permission groups: 运营 (operator), 财务 (finance), 客服 (customer service).

The list is frozen here, as a migration must be; a later change is a new
migration.  Permissions are created first (Django only makes them after the
whole ``migrate``), so this also works on an empty database.  Running it again
adds what is missing and never takes a permission away from a group an
operator has edited.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW_MEMBERS = ["members.view_member"]

GROUPS = {
    # 运营: rules, plans, coupon templates, gift packs, bulk issue; sees members and ledgers.
    "运营": VIEW_MEMBERS
    + [
        "points.view_earningrule",
        "points.add_earningrule",
        "points.change_earningrule",
        "points.view_pointspolicy",
        "points.view_pointsaccount",
        "points.view_pointsentry",
        "points.view_pointswithheld",
        "points.view_checkin",
        "stored_value.view_rechargeplan",
        "stored_value.add_rechargeplan",
        "stored_value.change_rechargeplan",
        "stored_value.view_storedvaluepolicy",
        "coupons.view_coupontemplate",
        "coupons.add_coupontemplate",
        "coupons.change_coupontemplate",
        "coupons.issue_coupons",
        "coupons.view_bulkissue",
        "coupons.view_giftpack",
        "coupons.add_giftpack",
        "coupons.change_giftpack",
        "coupons.view_giftpackgrant",
        "coupons.view_coupon",
        "notifications.view_notification",
    ],
    # 财务: adjusts points and stored value, refunds recharges, reads and exports every ledger.
    "财务": VIEW_MEMBERS
    + [
        "points.view_pointsaccount",
        "points.adjust_points",
        "points.view_pointsentry",
        "points.view_pointslot",
        "points.view_pointswithheld",
        "points.view_pointspolicy",
        "points.change_pointspolicy",
        "stored_value.view_storedvalueaccount",
        "stored_value.adjust_stored_value",
        "stored_value.refund_recharge",
        "stored_value.view_storedvalueentry",
        "stored_value.view_rechargeorder",
        "stored_value.view_rechargeplan",
        "stored_value.view_freezeevent",
        "stored_value.view_storedvaluepolicy",
        "stored_value.change_storedvaluepolicy",
        "payments.view_payment",
        "payments.view_paymentrefund",
        "payments.view_paymentnotification",
        "coupons.view_coupon",
        "coupons.view_coupontemplate",
    ],
    # 客服: finds members, freezes and unfreezes stored value, voids coupons; reads their histories.
    "客服": VIEW_MEMBERS
    + [
        "points.view_pointsaccount",
        "points.view_pointsentry",
        "points.view_checkin",
        "stored_value.view_storedvalueaccount",
        "stored_value.freeze_stored_value",
        "stored_value.view_freezeevent",
        "stored_value.view_storedvalueentry",
        "stored_value.view_rechargeorder",
        "coupons.view_coupon",
        "coupons.void_coupon",
        "coupons.view_coupontemplate",
        "notifications.view_notification",
    ],
}


def create_groups(apps, schema_editor):
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


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0002_append_only_trigger"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("members", "0001_initial"),
        ("points", "0002_ledger_triggers_and_default_rules"),
        ("stored_value", "0003_rechargeplan_gift_pack"),
        ("coupons", "0002_event_append_only"),
        ("payments", "0001_initial"),
        ("notifications", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
