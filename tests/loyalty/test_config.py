"""The per-process configuration cache (loyalty.config): exact across processes, never stale after a rollback."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from loyalty import config, sql
from membership.cards import cards_grant_conditional
from membership.member_days import active_member_days
from membership.models import Membership, Tier
from membership.tiers import membership_policy, tiers
from orders.quote import checkout_settings
from points.earning import earning_rule, points_policy
from points.models import EarningRule
from tests.concurrency import in_thread
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db(transaction=True)


def in_another_connection(work):
    """Run ``work`` in a thread with its own database connection, committed when it returns."""

    def committed():
        with transaction.atomic():
            work()

    in_thread(committed).result(timeout=60)


def test_every_cached_table_carries_the_version_trigger():
    from django.utils import timezone

    checkout_settings(), points_policy(), earning_rule("purchase"), membership_policy(), tiers()
    active_member_days(at=timezone.now())
    member = MemberFactory()
    cards_grant_conditional(membership=Membership.objects.create(member=member), now=timezone.now())
    with connection.cursor() as cur:
        cur.execute("SELECT tgrelid::regclass::text FROM pg_trigger WHERE tgname = %s", [config.TRIGGER])
        guarded = {row[0] for row in cur.fetchall()}
    assert len(config.cached_models) >= 7
    assert {m._meta.db_table for m in config.cached_models} <= guarded


def test_a_bulk_update_committed_by_another_process_is_seen_on_the_next_read():
    Tier.objects.all().delete()  # the migrations' tiers, still there when no earlier test flushed them
    Tier.objects.create(level=0, name="普通", growth_threshold=0)
    assert [t.name for t in tiers()] == ["普通"]
    in_another_connection(lambda: Tier.objects.update(name="银卡"))
    assert [t.name for t in tiers()] == ["银卡"]


def test_a_rolled_back_change_leaves_no_stale_copy():
    EarningRule.objects.update_or_create(kind="purchase", defaults={"points_per_yuan": 1, "is_active": True})
    with pytest.raises(RuntimeError), transaction.atomic():
        EarningRule.objects.filter(kind="purchase").update(points_per_yuan=7)
        assert earning_rule("purchase").points_per_yuan == 7  # this transaction sees its own change
        raise RuntimeError("roll back")
    assert earning_rule("purchase").points_per_yuan == 1


def test_an_unchanged_configuration_costs_one_small_statement():
    tiers()
    with CaptureQueriesContext(connection) as queries:
        tiers(), tiers()
    assert [q["sql"] for q in queries] == [f"SELECT version FROM {sql.CONFIG_VERSION_TABLE} WHERE id = 1"] * 2


def test_a_request_reads_the_version_once(client):
    seen = []

    def view_reads_twice(request):
        with CaptureQueriesContext(connection) as queries:
            tiers(), points_policy()
            tiers(), points_policy()
        seen.extend(q["sql"] for q in queries if sql.CONFIG_VERSION_TABLE in q["sql"])
        return None

    middleware = config.ConfigVersionMiddleware(view_reads_twice)
    middleware(None)
    assert len(seen) == 1
