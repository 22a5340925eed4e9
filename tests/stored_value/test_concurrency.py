"""Real parallel connections against one stored-value account."""

import pytest

from stored_value import ledger
from stored_value.models import StoredValueEntry
from tests.factories import MemberFactory
from tests.points.test_concurrency import run_parallel
from tests.stored_value.helpers import credit, parts

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_hundred_parallel_spends_never_overdraw_a_100_yuan_balance():
    member = MemberFactory()
    credit(member, 9_000, 1_000)  # ¥100.00

    results, errors = run_parallel(
        100,
        lambda i: ledger.stored_value_spend(member_id=member.pk, amount_fen=300, idempotency_key=f"s{i}"),
    )

    assert len(results) == 33 and errors == ["insufficient_balance"] * 67
    assert sum(parts(member)) == 100
    assert min(parts(member)) >= 0
    assert StoredValueEntry.objects.filter(kind="spend").count() == 33


def test_parallel_duplicates_of_one_spend_post_once():
    member = MemberFactory()
    credit(member, 10_000)

    results, errors = run_parallel(
        30,
        lambda i: ledger.stored_value_spend(member_id=member.pk, amount_fen=2_500, idempotency_key="order-9"),
    )

    assert errors == [] and len({r.entry_id for r in results}) == 1
    assert parts(member) == (7_500, 0)
