"""The programme's models, moved from ``members`` with their tables: state only, nothing in the database changes.

Each keeps its ``members_*`` table (``Meta.db_table``), constraints, indexes and triggers.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("members", "0008_membership_policy_new_member_pack"),
        ("coupons", "0001_initial"),
        # after the roles got the programme's permissions under ``members`` (0002_content_types moves them)
        ("loyalty", "0005_membership_mall_orders_roles"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="CardType",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("name", models.CharField(max_length=60, verbose_name="name")),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("free", "free (claim at will)"),
                                    ("conditional", "conditional"),
                                    ("paid", "paid"),
                                ],
                                max_length=12,
                                verbose_name="kind",
                            ),
                        ),
                        ("description", models.TextField(blank=True, verbose_name="description")),
                        (
                            "validity",
                            models.CharField(
                                choices=[
                                    ("permanent", "permanent"),
                                    ("days", "N days"),
                                    ("range", "date range"),
                                ],
                                default="permanent",
                                max_length=10,
                                verbose_name="validity",
                            ),
                        ),
                        (
                            "valid_days",
                            models.PositiveIntegerField(default=365, verbose_name="valid for (days)"),
                        ),
                        (
                            "valid_from",
                            models.DateTimeField(blank=True, null=True, verbose_name="valid from"),
                        ),
                        (
                            "valid_until",
                            models.DateTimeField(blank=True, null=True, verbose_name="valid until"),
                        ),
                        (
                            "condition",
                            models.CharField(
                                blank=True,
                                choices=[
                                    ("paid_spend", "cumulative paid spend (fen)"),
                                    ("orders", "completed orders"),
                                    ("points", "points earned"),
                                ],
                                max_length=12,
                                verbose_name="condition",
                            ),
                        ),
                        (
                            "condition_threshold",
                            models.BigIntegerField(default=0, verbose_name="condition threshold"),
                        ),
                        (
                            "period",
                            models.CharField(
                                choices=[("month", "monthly"), ("quarter", "quarterly"), ("year", "yearly")],
                                default="month",
                                max_length=8,
                                verbose_name="paid period",
                            ),
                        ),
                        ("price_fen", models.BigIntegerField(default=0, verbose_name="price (fen)")),
                        (
                            "trial_days",
                            models.PositiveIntegerField(
                                default=0,
                                help_text="Paid cards: a free trial once per member; 0 = none.",
                                verbose_name="free trial (days)",
                            ),
                        ),
                        (
                            "discount_bp",
                            models.PositiveIntegerField(default=0, verbose_name="discount (basis points)"),
                        ),
                        ("free_shipping", models.BooleanField(default=False, verbose_name="free shipping")),
                        (
                            "points_multiplier",
                            models.DecimalField(
                                decimal_places=2, default=1, max_digits=5, verbose_name="points multiplier"
                            ),
                        ),
                        (
                            "background_image",
                            models.URLField(blank=True, max_length=500, verbose_name="background image"),
                        ),
                        ("colour", models.CharField(default="#1F2937", max_length=7, verbose_name="colour")),
                        ("logo_url", models.URLField(blank=True, max_length=500, verbose_name="logo")),
                        (
                            "available_from",
                            models.DateTimeField(blank=True, null=True, verbose_name="available from"),
                        ),
                        (
                            "available_until",
                            models.DateTimeField(blank=True, null=True, verbose_name="available until"),
                        ),
                        ("is_active", models.BooleanField(default=True, verbose_name="active")),
                        ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="created at")),
                        (
                            "monthly_pack",
                            models.ForeignKey(
                                blank=True,
                                help_text="Given to every holder of a valid card once a month.",
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="coupons.giftpack",
                                verbose_name="monthly coupons",
                            ),
                        ),
                        (
                            "opening_pack",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="coupons.giftpack",
                                verbose_name="opening gift pack",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "card type",
                        "verbose_name_plural": "card types",
                        "db_table": "members_cardtype",
                    },
                ),
                migrations.CreateModel(
                    name="GrowthEntry",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("order", "order"),
                                    ("refund", "refund"),
                                    ("task", "task"),
                                    ("adjust", "adjust"),
                                ],
                                max_length=8,
                                verbose_name="kind",
                            ),
                        ),
                        ("amount", models.BigIntegerField(verbose_name="growth value")),
                        ("paid_fen", models.BigIntegerField(default=0, verbose_name="paid")),
                        (
                            "order_no",
                            models.CharField(
                                blank=True, db_index=True, max_length=64, verbose_name="order number"
                            ),
                        ),
                        ("idempotency_key", models.CharField(max_length=128, verbose_name="idempotency key")),
                        ("counts_at", models.DateTimeField(verbose_name="counts at")),
                        ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="time")),
                        (
                            "member",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="members.member",
                                verbose_name="member",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "growth entry",
                        "verbose_name_plural": "growth ledger",
                        "db_table": "members_growthentry",
                    },
                ),
                migrations.CreateModel(
                    name="MemberDay",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("name", models.CharField(max_length=60, verbose_name="name")),
                        (
                            "recurrence",
                            models.CharField(
                                choices=[("weekly", "every week"), ("monthly", "every month")],
                                max_length=8,
                                verbose_name="recurrence",
                            ),
                        ),
                        (
                            "weekday",
                            models.PositiveSmallIntegerField(
                                blank=True,
                                choices=[
                                    (0, "Monday"),
                                    (1, "Tuesday"),
                                    (2, "Wednesday"),
                                    (3, "Thursday"),
                                    (4, "Friday"),
                                    (5, "Saturday"),
                                    (6, "Sunday"),
                                ],
                                null=True,
                                verbose_name="weekday",
                            ),
                        ),
                        (
                            "day_of_month",
                            models.PositiveSmallIntegerField(
                                blank=True, null=True, verbose_name="day of month"
                            ),
                        ),
                        (
                            "points_multiplier",
                            models.DecimalField(
                                decimal_places=2, default=1, max_digits=5, verbose_name="points multiplier"
                            ),
                        ),
                        (
                            "extra_discount_bp",
                            models.PositiveIntegerField(
                                default=0, verbose_name="extra discount (basis points)"
                            ),
                        ),
                        (
                            "audience",
                            models.CharField(
                                choices=[
                                    ("everyone", "everyone"),
                                    ("tiers", "tiers"),
                                    ("card_holders", "card holders"),
                                    ("segment", "segment"),
                                ],
                                default="everyone",
                                max_length=16,
                                verbose_name="audience",
                            ),
                        ),
                        (
                            "audience_values",
                            models.JSONField(
                                blank=True,
                                default=list,
                                help_text="Tier levels, card type ids or a segment id.",
                                verbose_name="audience values",
                            ),
                        ),
                        ("starts_on", models.DateField(blank=True, null=True, verbose_name="first day")),
                        ("ends_on", models.DateField(blank=True, null=True, verbose_name="last day")),
                        ("is_active", models.BooleanField(default=True, verbose_name="active")),
                        (
                            "push_pack",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="coupons.giftpack",
                                verbose_name="gift pack pushed",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "member day",
                        "verbose_name_plural": "member days",
                        "db_table": "members_memberday",
                    },
                ),
                migrations.CreateModel(
                    name="MemberDayRun",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("occurrence", models.DateField(verbose_name="day")),
                        ("last_member_id", models.BigIntegerField(default=0)),
                        ("pushed", models.PositiveIntegerField(default=0, verbose_name="pushed")),
                        ("started_at", models.DateTimeField(auto_now_add=True, verbose_name="started at")),
                        (
                            "finished_at",
                            models.DateTimeField(blank=True, null=True, verbose_name="finished at"),
                        ),
                        (
                            "member_day",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="runs",
                                to="membership.memberday",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "member day run",
                        "verbose_name_plural": "member day runs",
                        "db_table": "members_memberdayrun",
                    },
                ),
                migrations.CreateModel(
                    name="Membership",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "tier_level",
                            models.PositiveSmallIntegerField(default=0, verbose_name="tier level"),
                        ),
                        (
                            "growth_total",
                            models.BigIntegerField(default=0, verbose_name="growth value (lifetime)"),
                        ),
                        (
                            "paid_total_fen",
                            models.BigIntegerField(default=0, verbose_name="cumulative paid spend"),
                        ),
                        (
                            "completed_orders",
                            models.PositiveIntegerField(default=0, verbose_name="completed orders"),
                        ),
                        (
                            "tier_changed_at",
                            models.DateTimeField(blank=True, null=True, verbose_name="tier changed at"),
                        ),
                        (
                            "protected_until",
                            models.DateTimeField(blank=True, null=True, verbose_name="no downgrade before"),
                        ),
                        (
                            "member",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="membership",
                                to="members.member",
                                verbose_name="member",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "membership",
                        "verbose_name_plural": "memberships",
                        "db_table": "members_membership",
                    },
                ),
                migrations.CreateModel(
                    name="MembershipCard",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "status",
                            models.CharField(
                                choices=[("active", "active"), ("revoked", "revoked")],
                                default="active",
                                max_length=8,
                                verbose_name="status",
                            ),
                        ),
                        ("source", models.CharField(max_length=12, verbose_name="source")),
                        ("valid_from", models.DateTimeField(verbose_name="valid from")),
                        (
                            "valid_until",
                            models.DateTimeField(blank=True, null=True, verbose_name="valid until"),
                        ),
                        ("trial_used", models.BooleanField(default=False, verbose_name="trial used")),
                        (
                            "channel",
                            models.CharField(
                                blank=True, db_index=True, max_length=64, verbose_name="channel"
                            ),
                        ),
                        (
                            "staff",
                            models.CharField(blank=True, db_index=True, max_length=64, verbose_name="staff"),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="created at")),
                        (
                            "card_type",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="cards",
                                to="membership.cardtype",
                                verbose_name="card type",
                            ),
                        ),
                        (
                            "member",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="cards",
                                to="members.member",
                                verbose_name="member",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "membership card",
                        "verbose_name_plural": "membership cards",
                        "db_table": "members_membershipcard",
                        "permissions": [("grant_card", "Can grant and revoke membership cards")],
                    },
                ),
                migrations.CreateModel(
                    name="CardPurchase",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "period",
                            models.CharField(
                                choices=[("month", "monthly"), ("quarter", "quarterly"), ("year", "yearly")],
                                max_length=8,
                                verbose_name="period",
                            ),
                        ),
                        ("amount_fen", models.BigIntegerField(verbose_name="amount")),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("created", "awaiting payment"),
                                    ("paid", "paid"),
                                    ("closed", "closed"),
                                    ("refunded", "refunded"),
                                ],
                                default="created",
                                max_length=8,
                                verbose_name="status",
                            ),
                        ),
                        (
                            "out_trade_no",
                            models.CharField(blank=True, max_length=32, verbose_name="payment number"),
                        ),
                        (
                            "period_start",
                            models.DateTimeField(blank=True, null=True, verbose_name="period start"),
                        ),
                        (
                            "period_end",
                            models.DateTimeField(blank=True, null=True, verbose_name="period end"),
                        ),
                        ("refunded_fen", models.BigIntegerField(default=0, verbose_name="refunded")),
                        ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="created at")),
                        ("paid_at", models.DateTimeField(blank=True, null=True, verbose_name="paid at")),
                        (
                            "refunded_at",
                            models.DateTimeField(blank=True, null=True, verbose_name="refunded at"),
                        ),
                        (
                            "member",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="card_purchases",
                                to="members.member",
                                verbose_name="member",
                            ),
                        ),
                        (
                            "card_type",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                to="membership.cardtype",
                                verbose_name="card type",
                            ),
                        ),
                        (
                            "card",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                to="membership.membershipcard",
                                verbose_name="card",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "card purchase",
                        "verbose_name_plural": "card purchases",
                        "db_table": "members_cardpurchase",
                        "permissions": [("refund_card", "Can refund paid cards")],
                    },
                ),
                migrations.CreateModel(
                    name="CardEvent",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("kind", models.CharField(max_length=12, verbose_name="kind")),
                        (
                            "valid_until",
                            models.DateTimeField(blank=True, null=True, verbose_name="valid until after"),
                        ),
                        ("reason", models.CharField(blank=True, max_length=200, verbose_name="reason")),
                        ("reference", models.CharField(blank=True, max_length=64, verbose_name="reference")),
                        ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="time")),
                        (
                            "actor",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                to=settings.AUTH_USER_MODEL,
                                verbose_name="operator",
                            ),
                        ),
                        (
                            "card",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="events",
                                to="membership.membershipcard",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "card event",
                        "verbose_name_plural": "card events",
                        "db_table": "members_cardevent",
                    },
                ),
                migrations.CreateModel(
                    name="MembershipPolicy",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "window_months",
                            models.PositiveSmallIntegerField(
                                default=12,
                                help_text="Growth earned in this window decides the tier.",
                                verbose_name="rolling window (months)",
                            ),
                        ),
                        (
                            "protection_days",
                            models.PositiveIntegerField(
                                default=90,
                                help_text="No downgrade within this period.",
                                verbose_name="protection after an upgrade (days)",
                            ),
                        ),
                        (
                            "downgrade_period_days",
                            models.PositiveIntegerField(
                                default=30,
                                help_text="A member drops at most one level per period.",
                                verbose_name="days between downgrades",
                            ),
                        ),
                        (
                            "growth_per_yuan",
                            models.PositiveIntegerField(default=1, verbose_name="growth value per yuan paid"),
                        ),
                        (
                            "birthday_mode",
                            models.CharField(
                                choices=[
                                    ("month", "on the first day of the birthday month"),
                                    ("day", "on the birthday"),
                                ],
                                default="month",
                                max_length=8,
                                verbose_name="birthday gift",
                            ),
                        ),
                        (
                            "card_reminder_days",
                            models.PositiveSmallIntegerField(
                                default=7, verbose_name="remind of expiring cards (days ahead)"
                            ),
                        ),
                        (
                            "new_member_pack",
                            models.ForeignKey(
                                blank=True,
                                help_text="Given once to each new member when they register. Empty: none.",
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="coupons.giftpack",
                                verbose_name="new-member gift pack",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "membership policy",
                        "verbose_name_plural": "membership policy",
                        "db_table": "members_membershippolicy",
                    },
                ),
                migrations.CreateModel(
                    name="Tier",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "level",
                            models.PositiveSmallIntegerField(
                                help_text="0 is the entry tier.", unique=True, verbose_name="level"
                            ),
                        ),
                        ("name", models.CharField(max_length=30, verbose_name="name")),
                        (
                            "growth_threshold",
                            models.BigIntegerField(
                                help_text="Growth value in the rolling window needed to reach this tier.",
                                verbose_name="growth threshold",
                            ),
                        ),
                        (
                            "discount_bp",
                            models.PositiveIntegerField(
                                default=0,
                                help_text="500 = 5% off (9.5折).",
                                verbose_name="discount (basis points)",
                            ),
                        ),
                        (
                            "points_multiplier",
                            models.DecimalField(
                                decimal_places=2, default=1, max_digits=5, verbose_name="points multiplier"
                            ),
                        ),
                        ("free_shipping", models.BooleanField(default=False, verbose_name="free shipping")),
                        (
                            "birthday_pack",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="coupons.giftpack",
                                verbose_name="birthday gift pack",
                            ),
                        ),
                        (
                            "upgrade_pack",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="coupons.giftpack",
                                verbose_name="upgrade gift pack",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "tier",
                        "verbose_name_plural": "tiers",
                        "db_table": "members_tier",
                        "ordering": ["level"],
                    },
                ),
                migrations.CreateModel(
                    name="TierChange",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("from_level", models.PositiveSmallIntegerField(verbose_name="from level")),
                        ("to_level", models.PositiveSmallIntegerField(verbose_name="to level")),
                        (
                            "reason",
                            models.CharField(
                                choices=[
                                    ("order", "order completed"),
                                    ("task", "task"),
                                    ("nightly_up", "nightly recalculation: upgrade"),
                                    ("nightly_down", "nightly recalculation: downgrade"),
                                    ("refund", "refund"),
                                    ("operator", "operator"),
                                ],
                                max_length=12,
                                verbose_name="reason",
                            ),
                        ),
                        ("window_growth", models.BigIntegerField(verbose_name="growth in window")),
                        ("note", models.CharField(blank=True, max_length=200, verbose_name="note")),
                        ("created_at", models.DateTimeField(db_index=True, verbose_name="time")),
                        (
                            "member",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="tier_changes",
                                to="members.member",
                                verbose_name="member",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "tier change",
                        "verbose_name_plural": "tier history",
                        "db_table": "members_tierchange",
                    },
                ),
                migrations.AddConstraint(
                    model_name="cardtype",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("discount_bp__lt", 10000)), name="cardtype_discount_below_100"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="cardtype",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("points_multiplier__gte", 1)),
                        name="cardtype_multiplier_at_least_one",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="cardtype",
                    constraint=models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("kind", "paid"), _negated=True), ("price_fen__gte", 1), _connector="OR"
                        ),
                        name="cardtype_paid_price",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="cardtype",
                    constraint=models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("kind", "conditional"), _negated=True),
                            models.Q(
                                models.Q(("condition", ""), _negated=True), ("condition_threshold__gte", 1)
                            ),
                            _connector="OR",
                        ),
                        name="cardtype_conditional_condition",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="cardtype",
                    constraint=models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("validity", "range"), _negated=True),
                            models.Q(("valid_from__isnull", False), ("valid_until__isnull", False)),
                            _connector="OR",
                        ),
                        name="cardtype_range_dates",
                    ),
                ),
                migrations.AddIndex(
                    model_name="growthentry",
                    index=models.Index(fields=["member", "counts_at"], name="growth_member_counts_at"),
                ),
                migrations.AddConstraint(
                    model_name="growthentry",
                    constraint=models.UniqueConstraint(
                        fields=("member", "idempotency_key"), name="uniq_growth_entry_key"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="memberday",
                    constraint=models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("recurrence", "weekly"), ("weekday__isnull", False)),
                            models.Q(
                                ("recurrence", "monthly"), ("day_of_month__gte", 1), ("day_of_month__lte", 31)
                            ),
                            _connector="OR",
                        ),
                        name="memberday_recurrence_day",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="memberday",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("points_multiplier__gte", 1)), name="memberday_multiplier"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="memberday",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("extra_discount_bp__lt", 10000)), name="memberday_discount"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="memberdayrun",
                    constraint=models.UniqueConstraint(
                        fields=("member_day", "occurrence"), name="uniq_memberday_occurrence"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="membership",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("growth_total__gte", 0)), name="membership_growth_nonnegative"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="membership",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("paid_total_fen__gte", 0)), name="membership_paid_nonnegative"
                    ),
                ),
                migrations.AddIndex(
                    model_name="membershipcard",
                    index=models.Index(
                        condition=models.Q(("status", "active")),
                        fields=["valid_until"],
                        name="card_active_until",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="membershipcard",
                    constraint=models.UniqueConstraint(
                        fields=("member", "card_type"), name="uniq_card_per_member_type"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="cardpurchase",
                    constraint=models.CheckConstraint(
                        condition=models.Q(
                            ("amount_fen__gte", 1),
                            ("refunded_fen__gte", 0),
                            ("refunded_fen__lte", models.F("amount_fen")),
                        ),
                        name="cardpurchase_amounts",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="tier",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("growth_threshold__gte", 0)), name="tier_threshold_nonnegative"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="tier",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("level__gt", 0), ("growth_threshold", 0), _connector="OR"),
                        name="tier_entry_at_zero",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="tier",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("discount_bp__lt", 10000)), name="tier_discount_below_100"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="tier",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("points_multiplier__gte", 1)), name="tier_multiplier_at_least_one"
                    ),
                ),
                migrations.AddIndex(
                    model_name="tierchange",
                    index=models.Index(fields=["member", "-id"], name="tierchange_member_recent"),
                ),
            ],
            database_operations=[],
        ),
    ]
