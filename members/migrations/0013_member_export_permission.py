"""The member export's permission, ``members.export_members``, given to 财务 (finance: ledgers and exports).

Like loyalty's role migrations: it adds what is missing and takes nothing from a group an operator edited.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLE = "财务"


def grant(apps, schema_editor):
    app_config = apps.get_app_config("members")
    stub = getattr(app_config, "models_module", None) is None  # a migration's app state has none
    if stub:
        app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    if stub:
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=ROLE)
    group.permissions.add(Permission.objects.get(content_type__app_label="members", codename="export_members"))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name=ROLE).first()
    if group is not None:
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="members", codename="export_members")
        )


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0012_member_code"),
        ("loyalty", "0005_membership_mall_orders_roles"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="member",
            options={
                "permissions": [("export_members", "Can export members with their balances")],
                "verbose_name": "member",
                "verbose_name_plural": "members",
            },
        ),
        migrations.RunPython(grant, revoke),
    ]
