"""The roles get the 拼团 pages: 运营 runs activities and reads groups; 财务 reads groups and the refund
report; 客服 reads groups and the refund report to answer members.  A frozen list, as in
loyalty/migrations/0005: running it again adds what is missing and takes nothing away."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUPS = {
    "运营": [
        "growth.view_groupbuyactivity",
        "growth.add_groupbuyactivity",
        "growth.change_groupbuyactivity",
        "growth.view_group",
    ],
    "财务": ["growth.view_groupbuyactivity", "growth.view_group", "growth.view_refundedplace"],
    "客服": ["growth.view_group", "growth.view_refundedplace"],
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
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in GROUPS.items():
        group = Group.objects.filter(name=name).first()
        if group is None:
            continue
        for perm in perms:
            app_label, codename = perm.split(".")
            group.permissions.remove(*Permission.objects.filter(content_type__app_label=app_label, codename=codename))


class Migration(migrations.Migration):
    # After membership took its models' content types from members: creating every app's permissions
    # before that would give membership a second set (tests/membership/test_split_migration.py).
    dependencies = [
        ("growth", "0002_event_append_only"),
        ("loyalty", "0005_membership_mall_orders_roles"),
        ("membership", "0002_content_types"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
