"""The moved models' content types follow them to ``membership``, so their permissions keep their groups and users.

Renaming the ``django_content_type`` row keeps its id: permissions (``members.grant_card`` becomes
``membership.grant_card``), group and user grants and admin log entries keep pointing at it.  If a
``membership`` row already exists (``post_migrate`` ran in between), the grants move to its permissions.
"""

from django.db import migrations

MODELS = [
    "tier",
    "membershippolicy",
    "membership",
    "growthentry",
    "tierchange",
    "cardtype",
    "membershipcard",
    "cardevent",
    "cardpurchase",
    "memberday",
    "memberdayrun",
]


def _move(apps, source, target):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    for model in MODELS:
        old = ContentType.objects.filter(app_label=source, model=model).first()
        if old is None:
            continue
        new = ContentType.objects.filter(app_label=target, model=model).first()
        if new is None:
            old.app_label = target
            old.save(update_fields=["app_label"])
            continue
        for perm in Permission.objects.filter(content_type=old):
            twin, _ = Permission.objects.get_or_create(
                content_type=new, codename=perm.codename, defaults={"name": perm.name}
            )
            twin.group_set.add(*perm.group_set.all())
            twin.user_set.add(*perm.user_set.all())
        old.delete()


def forwards(apps, schema_editor):
    _move(apps, "members", "membership")


def backwards(apps, schema_editor):
    _move(apps, "membership", "members")


class Migration(migrations.Migration):
    dependencies = [
        ("membership", "0001_initial"),
        ("members", "0009_programme_moves_to_membership"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
