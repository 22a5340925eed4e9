"""The ledgers' lean transaction and prepared statements, on a connection outside any atomic block.

Straight to PostgreSQL (``direct_database``): statements prepared per connection need a session, which
a transaction pooler does not keep (tests/loyalty/test_pgbouncer.py runs the plain statements through one).
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from loyalty.errors import IdempotencyConflict
from points.exceptions import InsufficientPoints
from stored_value import ledger as stored_value
from stored_value.exceptions import InsufficientBalance
from stored_value.models import StoredValueAccount, StoredValueEntry
from tests.points.helpers import balance, earn, snapshot, spend

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("direct_database")]


def test_a_posting_on_its_own_commits_and_leaves_the_connection_in_autocommit(member):
    assert not connection.in_atomic_block

    earn(member, 100)
    spend(member, 30)

    assert balance(member) == 70
    assert connection.get_autocommit() and connection.connection.autocommit


def test_a_refused_posting_on_its_own_writes_nothing_and_leaves_the_connection_usable(member):
    earn(member, 100)
    before = snapshot(member)

    with pytest.raises(InsufficientPoints):
        spend(member, 101)

    assert snapshot(member) == before
    assert connection.get_autocommit() and connection.connection.autocommit
    assert spend(member, 100).balance_after == 0


def test_a_replay_and_a_conflict_on_their_own_move_nothing(member):
    earn(member, 100)
    first = spend(member, 30, key="once")

    again = spend(member, 30, key="once")
    with pytest.raises(IdempotencyConflict):
        spend(member, 31, key="once")

    assert again.replayed and again.entry_id == first.entry_id
    assert balance(member) == 70


def test_a_posting_on_its_own_shows_its_statements_to_whoever_watches_the_queries(member):
    earn(member, 100)
    spend(member, 10, key="prepares-the-statements")

    with CaptureQueriesContext(connection) as queries:
        spend(member, 30)

    statements = [q["sql"].split("(")[0] for q in queries.captured_queries]
    assert statements == [
        "BEGIN",
        "EXECUTE points_lock",
        "EXECUTE points_lots_to_spend",
        "EXECUTE points_post_al1",
        "COMMIT",
    ]
    assert balance(member) == 60


def test_statements_prepared_in_a_rolled_back_transaction_stay_usable(member):
    earn(member, 100)
    connection.close()  # a new connection: the refused spend below is the first to prepare its statements

    with pytest.raises(InsufficientPoints):
        spend(member, 101)

    assert spend(member, 100).balance_after == 0


def test_a_new_connection_prepares_the_statements_again(member):
    earn(member, 100)

    connection.close()

    assert spend(member, 40).balance_after == 60
    assert earn(member, 1, key="after-reconnect").balance_after == 61


def test_a_stored_value_spend_on_its_own_commits_or_writes_nothing(member):
    StoredValueAccount.objects.create(member=member, principal_fen=80, bonus_fen=20)

    posting = stored_value.stored_value_spend(member_id=member.pk, amount_fen=50, idempotency_key="sv-1")
    with pytest.raises(InsufficientBalance):
        stored_value.stored_value_spend(member_id=member.pk, amount_fen=51, idempotency_key="sv-2")

    assert (posting.principal_fen, posting.bonus_fen) == (-40, -10)
    account = StoredValueAccount.objects.get(member=member)
    assert (account.principal_fen, account.bonus_fen) == (40, 10)
    assert list(StoredValueEntry.objects.values_list("idempotency_key", flat=True)) == ["sv-1"]
    assert connection.get_autocommit() and connection.connection.autocommit


@pytest.mark.usefixtures("default_rules")
def test_a_checkout_a_redemption_and_a_signed_calls_nonce_run_their_prepared_statements(member):
    """The statements the suite runs plain (through PgBouncer) elsewhere, here prepared."""
    from loyalty import services as platform
    from loyalty import sql as loyalty_sql
    from orders.models import Order
    from tests.factories import MallItemFactory, RechargeFactory
    from tests.mall.helpers import address, redeem
    from tests.orders.helpers import basket, commit

    earn(member, 5_000)
    RechargeFactory(member=member, amount_fen=10_000)
    client, _ = platform.api_client_create(name="order system")

    with CaptureQueriesContext(connection) as queries:
        order = commit(member, basket(("A", 20_000, 1), points=1_000, stored_value_fen=5_000, coupon_ids=[]))
        redemption = redeem(member, MallItemFactory(points=500, stock=3), address_id=address(member).pk)
        check = loyalty_sql.nonce_check(client.pk, client.secret_encrypted, "n-1")

    executed = {q["sql"].split("(")[0] for q in queries.captured_queries if q["sql"].startswith("EXECUTE")}
    assert {
        "EXECUTE points_lock",
        "EXECUTE stored_value_lock",
        "EXECUTE mall_decide",
        "EXECUTE mall_take",
        "EXECUTE api_nonce",
    } <= executed
    assert Order.objects.get(order_no=order.order_no).status == "committed" and redemption.status == "paid"
    assert (check.valid, check.stored) == (True, True)
    assert balance(member) == 5_000 - 1_000 - 500
