"""One 会员码, many tills at once: real threads, each with its own connection."""

import pytest

from members import codes
from members.models import MemberCode
from orders import services
from orders.models import CounterPayment, Order
from orders.quote import compute_quote
from tests.concurrency import run_concurrently
from tests.counter.helpers import store, top_up
from tests.factories import MemberFactory
from tests.helpers import assert_ledgers_consistent
from tests.orders.helpers import basket
from tests.stored_value.helpers import parts

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("default_rules"),
    pytest.mark.xdist_group("many-connections"),
]


def test_orders_racing_for_one_code_one_wins_and_the_others_are_refused():
    store("SH-001")
    member = MemberFactory()
    top_up(member, 100_000)
    code = codes.member_code_issue(member=member).code
    b = basket(("TEA", 10_000, 1), stored_value_fen=5_000, coupon_ids=[])
    fingerprint = compute_quote(member_id=member.pk, basket=b).fingerprint

    results, errors = run_concurrently(
        lambda i: services.order_commit(
            member_code=code, store_code="SH-001", order_no=f"R{i}", basket=b, quote_hash=fingerprint
        ),
        8,
    )

    assert len(results) == 1 and errors == ["member_code_used"] * 7
    winner = results[0].order.order_no
    assert list(Order.objects.values_list("order_no", flat=True)) == [winner]
    assert MemberCode.objects.get(code=code).order_no == winner
    assert parts(member) == (95_000, 0)
    assert_ledgers_consistent()


def test_the_same_order_committed_at_once_from_two_tills_is_one_order():
    store("SH-001")
    member = MemberFactory()
    top_up(member, 100_000)
    code = codes.member_code_issue(member=member).code
    b = basket(("TEA", 10_000, 1), stored_value_fen=5_000, coupon_ids=[])
    fingerprint = compute_quote(member_id=member.pk, basket=b).fingerprint

    results, errors = run_concurrently(
        lambda i: services.order_commit(
            member_code=code, store_code="SH-001", order_no="SAME", basket=b, quote_hash=fingerprint
        ),
        6,
    )

    assert errors == [] and len(results) == 6
    assert sum(not r.replayed for r in results) == 1
    assert Order.objects.count() == 1 and parts(member) == (95_000, 0)


def test_orders_racing_for_one_code_above_the_limit_ask_the_member_once():
    from orders.models import CheckoutSettings

    CheckoutSettings.objects.update_or_create(pk=1, defaults={"counter_confirm_above_fen": 0})
    store("SH-001")
    member = MemberFactory()
    top_up(member, 100_000)
    code = codes.member_code_issue(member=member).code
    b = basket(("TEA", 10_000, 1), stored_value_fen=5_000, coupon_ids=[])
    fingerprint = compute_quote(member_id=member.pk, basket=b).fingerprint

    results, errors = run_concurrently(
        lambda i: services.order_commit(
            member_code=code, store_code="SH-001", order_no=f"Q{i}", basket=b, quote_hash=fingerprint
        ),
        6,
    )

    assert len(results) == 1 and errors == ["member_code_used"] * 5
    assert CounterPayment.objects.count() == 1 and not Order.objects.exists()
    assert parts(member) == (100_000, 0)


def test_resolving_one_code_from_many_tills_at_once_reads_the_same_member():
    from counter.selectors import member_code_resolve

    store("SH-001")
    member = MemberFactory()
    code = codes.member_code_issue(member=member).code

    results, errors = run_concurrently(lambda i: member_code_resolve(code=code, store_code="SH-001"), 8)

    assert errors == [] and {r["member"]["id"] for r in results} == {member.pk}
    assert MemberCode.objects.get(code=code).order_no == ""
