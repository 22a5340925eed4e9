"""Operators refund a completed 拼团 place or a bought 砍价 bargain (growth.refunds): the permission, given
to 财务 (who refunds money elsewhere too), a refunded state and its time and reason on bargains."""

import importlib

from django.db import migrations, models

_roles = importlib.import_module("growth.migrations.0003_roles")

GROUPS = {"财务": ["growth.refund_sale"]}


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

    dependencies = [
        ('growth', '0005_bargain_roles'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='groupmember',
            options={'permissions': [('refund_sale', 'Can refund a completed group place or a bought bargain')], 'verbose_name': 'group place', 'verbose_name_plural': 'group places'},
        ),
        migrations.AddField(
            model_name='bargain',
            name='refund_note',
            field=models.CharField(blank=True, max_length=200, verbose_name='refund reason'),
        ),
        migrations.AddField(
            model_name='bargain',
            name='refunded_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='refunded at'),
        ),
        migrations.AlterField(
            model_name='bargain',
            name='state',
            field=models.CharField(choices=[('open', 'cutting'), ('pending_payment', 'awaiting payment'), ('paid', 'bought, fulfilled'), ('expired', 'ended unbought'), ('refunded', 'bought, then refunded')], default='open', max_length=16, verbose_name='state'),
        ),
        migrations.RunPython(grant, revoke),
    ]
