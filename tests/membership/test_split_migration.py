"""The programme's move from ``members`` to ``membership`` keeps every row, every invariant and every grant.

The database is taken back to the last migrations before the split, filled
through the historical models, and migrated forward again.  The move is
state-only (the tables keep their ``members_*`` names), so each table must
hold exactly the rows it held, and ``verify_ledgers`` must find nothing on
either side.  The content types are renamed, so a group's permissions stay
the same rows under their new label.  All of it rolls back with the test.
"""

from datetime import date, timedelta

import pytest
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from membership.models import (
    CardPurchase,
    GrowthEntry,
    MemberDay,
    Membership,
    MembershipCard,
    Tier,
    TierChange,
)
from tests.helpers import assert_ledgers_consistent

pytestmark = pytest.mark.django_db

BEFORE_SPLIT = [("members", "0008_membership_policy_new_member_pack"), ("membership", None)]
MOVED_TABLES = [
    "members_tier",
    "members_membershippolicy",
    "members_membership",
    "members_growthentry",
    "members_tierchange",
    "members_cardtype",
    "members_membershipcard",
    "members_cardevent",
    "members_cardpurchase",
    "members_memberday",
    "members_memberdayrun",
]
# The ledgers whose tables exist at the state before the split (growth's came later).
LEDGERS_BEFORE_SPLIT = ("coupons", "mall", "members", "orders", "points", "stored value")
PERMISSIONS = ["grant_card", "refund_card", "view_tier", "change_memberday"]


def _latest(executor) -> list[tuple[str, str]]:
    return list(executor.loader.graph.leaf_nodes())


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return MigrationExecutor(connection)


def _columns() -> dict[str, list[str]]:
    """Each table's columns now (later migrations may add some: the digest compares these)."""
    with connection.cursor() as cursor:
        return {
            table: [c.name for c in connection.introspection.get_table_description(cursor, table)]
            for table in [*MOVED_TABLES, "members_member"]
        }


def _tables(columns: dict[str, list[str]]) -> dict[str, tuple[int, str]]:
    """Row count and a digest of every row's ``columns``, per table."""
    found = {}
    with connection.cursor() as cursor:
        for table, names in columns.items():
            row = "ROW(" + ", ".join(f't."{name}"' for name in names) + ")::text"
            cursor.execute(
                f"SELECT count(*), md5(coalesce(string_agg({row}, '|' ORDER BY t.id), '')) FROM {table} t"
            )
            found[table] = cursor.fetchone()
    return found


def _fill(apps) -> dict[str, int]:
    """One member with a bit of everything, written through the models as they were before the split."""
    Member = apps.get_model("members", "Member")
    get = lambda name: apps.get_model("members", name)  # noqa: E731
    now = timezone.now()
    member = Member.objects.create(openid="split-1", nickname="迁移")
    get("Tier").objects.create(level=9, name="迁移档", growth_threshold=1_000_000)
    policy = get("MembershipPolicy").objects.first() or get("MembershipPolicy").objects.create()
    get("Membership").objects.create(
        member=member, tier_level=9, growth_total=150, paid_total_fen=15_000, completed_orders=1
    )
    for kind, amount, paid, key in [("order", 150, 15_000, "order:S1"), ("task", 0, 0, "task:noop")]:
        get("GrowthEntry").objects.create(
            member=member,
            kind=kind,
            amount=amount,
            paid_fen=paid,
            order_no="S1" if kind == "order" else "",
            idempotency_key=key,
            counts_at=now,
        )
    get("TierChange").objects.create(
        member=member, from_level=0, to_level=9, reason="operator", window_growth=150, created_at=now
    )
    card_type = get("CardType").objects.create(name="迁移卡", kind="paid", price_fen=1_990)
    card = get("MembershipCard").objects.create(
        member=member,
        card_type=card_type,
        source="purchase",
        valid_from=now,
        valid_until=now + timedelta(days=30),
    )
    get("CardEvent").objects.create(card=card, kind="purchase", valid_until=card.valid_until)
    get("CardPurchase").objects.create(
        member=member,
        card_type=card_type,
        card=card,
        period="month",
        amount_fen=1_990,
        status="paid",
        period_start=now,
        period_end=card.valid_until,
        paid_at=now,
    )
    day = get("MemberDay").objects.create(name="迁移日", recurrence="weekly", weekday=2)
    get("MemberDayRun").objects.create(member_day=day, occurrence=date(2026, 12, 2), pushed=1)

    Permission = apps.get_model("auth", "Permission")
    group = apps.get_model("auth", "Group").objects.create(name="split-test")
    perms = [Permission.objects.get(content_type__app_label="members", codename=c) for c in PERMISSIONS]
    group.permissions.add(*perms)
    return {"member": member.pk, "policy": policy.pk, "card": card.pk, "group": group.pk} | {
        p.codename: p.pk for p in perms
    }


def test_the_split_keeps_every_row_every_invariant_and_every_grant():
    latest = _latest(MigrationExecutor(connection))
    try:
        executor = _migrate(BEFORE_SPLIT)
        old_apps = executor.loader.project_state([n for n in BEFORE_SPLIT if n[1]]).apps
        assert old_apps.get_model("members", "CardPurchase")._meta.db_table == "members_cardpurchase"
        ids = _fill(old_apps)
        with connection.cursor() as cursor:
            # Check the rows' deferred foreign keys now: a later migration alters members_member, which
            # PostgreSQL refuses while the transaction still has trigger events pending on it.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        columns = _columns()
        before = _tables(columns)
        assert_ledgers_consistent(*LEDGERS_BEFORE_SPLIT)

        _migrate(latest)
        ContentType.objects.clear_cache()

        assert _tables(columns) == before
        assert_ledgers_consistent()
        assert all(count for count, _ in before.values())
    finally:
        _migrate(latest)
        ContentType.objects.clear_cache()

    # The rows read through the models where they now live.
    membership = Membership.objects.get(member_id=ids["member"])
    assert (membership.tier_level, membership.growth_total, membership.paid_total_fen) == (9, 150, 15_000)
    assert GrowthEntry.objects.filter(member_id=ids["member"]).count() == 2
    assert TierChange.objects.get(member_id=ids["member"]).to_level == 9
    assert Tier.objects.filter(level=9).exists()
    assert MembershipCard.objects.get(pk=ids["card"]).events.count() == 1
    assert CardPurchase.objects.get(card_id=ids["card"]).status == "paid"
    assert MemberDay.objects.get(name="迁移日").runs.count() == 1
    # The same permission rows, now labelled membership: the group kept them.
    group = Group.objects.get(pk=ids["group"])
    assert {(p.pk, p.content_type.app_label, p.codename) for p in group.permissions.all()} == {
        (ids[c], "membership", c) for c in PERMISSIONS
    }
    assert not ContentType.objects.filter(app_label="members", model__in=["tier", "cardpurchase"]).exists()


def test_the_move_runs_backwards_too():
    """Unapplying gives the content types back to ``members`` and touches no table."""
    latest = _latest(MigrationExecutor(connection))
    ids = {table: ["id"] for table in _columns()}  # the columns later migrations added go with them
    before = _tables(ids)
    try:
        _migrate(BEFORE_SPLIT)
        ContentType.objects.clear_cache()
        assert ContentType.objects.filter(app_label="members", model="cardpurchase").exists()
        assert not ContentType.objects.filter(app_label="membership").exists()
        assert _tables(ids) == before
    finally:
        _migrate(latest)
        ContentType.objects.clear_cache()
    assert ContentType.objects.filter(app_label="membership", model="cardpurchase").exists()
