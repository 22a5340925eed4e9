"""The nightly tier rules are written twice: in Python (``membership.tiers.nightly_level``, with
``level_for_growth``, ``is_protected`` and ``protected_until_after``) and, for speed, in the nightly
statement (``membership.sql._RECALC``).  On random tiers, growth, levels and protection dates, the
statement decides as the Python does."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from membership import sql, tiers
from membership.models import Membership, Tier, TierChange
from tests.factories import MemberFactory
from tests.membership.helpers import policy, set_tiers

pytestmark = pytest.mark.django_db

members_strategy = st.lists(
    st.tuples(
        st.integers(0, 6),  # the level held (one no tier has, too)
        st.lists(st.tuples(st.integers(-1_000, 3_000), st.integers(0, 400)), max_size=3),  # growth, days ago
        st.one_of(st.none(), st.integers(-3, 3)),  # protected until: never, or days from now (0: now)
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    thresholds=st.dictionaries(st.integers(1, 5), st.integers(0, 3_000), max_size=5),
    entry_tier=st.booleans(),
    members=members_strategy,
    protection_days=st.integers(0, 120),
    downgrade_period_days=st.integers(0, 60),
)
def test_the_nightly_statement_decides_the_level_and_protection_as_the_python_rules(
    thresholds, entry_tier, members, protection_days, downgrade_period_days
):
    set_tiers(*([(0, 0)] if entry_tier else []), *thresholds.items())  # the entry tier's threshold is 0
    p = policy(window_months=12, protection_days=protection_days, downgrade_period_days=downgrade_period_days)
    all_tiers = list(Tier.objects.all())
    now = timezone.now()
    held = {}
    for n, (level, growth, protected_days) in enumerate(members):
        member = MemberFactory()
        sql.create_membership(member.pk)
        protected_until = None if protected_days is None else now + timedelta(days=protected_days)
        Membership.objects.filter(member=member).update(tier_level=level, protected_until=protected_until)
        for k, (amount, days_ago) in enumerate(growth):
            sql.insert_growth(
                member_id=member.pk,
                kind="order",
                amount=amount,
                paid_fen=0,
                order_no="",
                idempotency_key=f"g{n}:{k}",
                counts_at=now - timedelta(days=days_ago),
            )
        held[member.pk] = (level, protected_until)

    expected = {}
    for member_id, (level, protected_until) in held.items():
        growth = tiers.window_growth(member_id=member_id, at=now, policy=p)
        new = tiers.nightly_level(
            level=level, growth=growth, protected_until=protected_until, now=now, all_tiers=all_tiers
        )
        if new != level:
            protected_until = tiers.protected_until_after(from_level=level, to_level=new, at=now, policy=p)
        expected[member_id] = (new, protected_until)

    params = {
        "window_start": tiers.window_start(at=now, policy=p),
        "now": now,
        "protect": protection_days,
        "period": downgrade_period_days,
        "limit": len(held),
        "after": min(held) - 1,
    }
    with transaction.atomic(), connection.cursor() as cur:
        chunk = sql.recalc_chunk(cur, params)
    assert {
        m.member_id: (m.tier_level, m.protected_until) for m in Membership.objects.filter(member_id__in=held)
    } == expected
    assert sorted((c.member_id, c.from_level, c.to_level) for c in chunk.changes) == sorted(
        (member_id, held[member_id][0], new)
        for member_id, (new, _) in expected.items()
        if new != held[member_id][0]
    )
    assert all(
        change.reason == ("nightly_up" if change.to_level > change.from_level else "nightly_down")
        for change in TierChange.objects.filter(member_id__in=held)
    )
