"""The programme's models leave ``members`` for ``membership`` (its 0001): state only, the tables stay."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0008_membership_policy_new_member_pack"),
        ("membership", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name="cardpurchase",
                    name="card",
                ),
                migrations.RemoveField(
                    model_name="cardpurchase",
                    name="card_type",
                ),
                migrations.RemoveField(
                    model_name="cardpurchase",
                    name="member",
                ),
                migrations.RemoveField(
                    model_name="cardtype",
                    name="monthly_pack",
                ),
                migrations.RemoveField(
                    model_name="cardtype",
                    name="opening_pack",
                ),
                migrations.RemoveField(
                    model_name="membershipcard",
                    name="card_type",
                ),
                migrations.RemoveField(
                    model_name="growthentry",
                    name="member",
                ),
                migrations.RemoveField(
                    model_name="memberday",
                    name="push_pack",
                ),
                migrations.RemoveField(
                    model_name="memberdayrun",
                    name="member_day",
                ),
                migrations.RemoveField(
                    model_name="membership",
                    name="member",
                ),
                migrations.RemoveField(
                    model_name="membershipcard",
                    name="member",
                ),
                migrations.RemoveField(
                    model_name="membershippolicy",
                    name="new_member_pack",
                ),
                migrations.RemoveField(
                    model_name="tier",
                    name="birthday_pack",
                ),
                migrations.RemoveField(
                    model_name="tier",
                    name="upgrade_pack",
                ),
                migrations.RemoveField(
                    model_name="tierchange",
                    name="member",
                ),
                migrations.DeleteModel(
                    name="CardEvent",
                ),
                migrations.DeleteModel(
                    name="CardPurchase",
                ),
                migrations.DeleteModel(
                    name="CardType",
                ),
                migrations.DeleteModel(
                    name="GrowthEntry",
                ),
                migrations.DeleteModel(
                    name="MemberDay",
                ),
                migrations.DeleteModel(
                    name="MemberDayRun",
                ),
                migrations.DeleteModel(
                    name="Membership",
                ),
                migrations.DeleteModel(
                    name="MembershipCard",
                ),
                migrations.DeleteModel(
                    name="MembershipPolicy",
                ),
                migrations.DeleteModel(
                    name="Tier",
                ),
                migrations.DeleteModel(
                    name="TierChange",
                ),
            ],
            database_operations=[],
        ),
    ]
