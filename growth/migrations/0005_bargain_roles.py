"""The roles get the 砍价 pages, as 0003 gave them the 拼团 ones (a frozen list; re-running adds only)."""

import importlib

from django.db import migrations

_roles = importlib.import_module("growth.migrations.0003_roles")

GROUPS = {
    "运营": [
        "growth.view_bargainactivity",
        "growth.add_bargainactivity",
        "growth.change_bargainactivity",
        "growth.view_bargain",
    ],
    "财务": ["growth.view_bargainactivity", "growth.view_bargain"],
    "客服": ["growth.view_bargain"],
}


def grant(apps, schema_editor):
    _roles.GROUPS, saved = GROUPS, _roles.GROUPS
    try:
        _roles.grant(apps, schema_editor)
    finally:
        _roles.GROUPS = saved


def revoke(apps, schema_editor):
    _roles.GROUPS, saved = GROUPS, _roles.GROUPS
    try:
        _roles.revoke(apps, schema_editor)
    finally:
        _roles.GROUPS = saved


class Migration(migrations.Migration):
    dependencies = [("growth", "0004_bargains")]

    operations = [migrations.RunPython(grant, revoke)]
