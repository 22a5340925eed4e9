"""The import pages get a role: 财务 (finance) imports members with their balances; and the two read-only
pages that had none, 柜台付款确认 (counter payment confirmations) and 会员码 (member codes).

An import posts opening entries in the points and stored-value ledgers (the liabilities finance
reconciles: only 财务 adjusts points or stored value), its dry run's totals are checked against the old
system's figures, and its undo reverses balances; so it is finance's, as the member export (financial
data, ``members.export_members``) already is.  运营 and 客服 move no balance and get neither.
The counter's confirmations are read by 财务 (stored value paid) and 客服 (a member asking why the till
waited for them); the member codes by 客服 (a member whose code did not scan).
A frozen list, as in loyalty/migrations/0005: running it again adds what is missing and takes nothing away.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUPS = {
    "财务": [
        "migration.view_importjob",
        "migration.add_importjob",
        "migration.change_importjob",
        "migration.view_mappingpreset",
        "migration.change_mappingpreset",
        "migration.delete_mappingpreset",
        "orders.view_counterpayment",
    ],
    "客服": ["orders.view_counterpayment", "members.view_membercode"],
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
    # After membership took its models' content types from members (as growth's 0003_roles).
    dependencies = [
        ("migration", "0002_export_job"),
        ("loyalty", "0005_membership_mall_orders_roles"),
        ("membership", "0002_content_types"),
        ("orders", "0006_counter_payment"),
        ("members", "0012_member_code"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
