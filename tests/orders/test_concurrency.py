"""Orders committed in parallel that want the same coupon, points or balance: one wins cleanly.

Real threads, each with its own database connection.
"""

import pytest

from coupons import services as coupon_services
from coupons.models import Coupon
from orders import services
from orders.models import Order, Refund
from orders.quote import compute_quote
from points import ledger as points_ledger
from tests.concurrency import in_thread, run_concurrently
from tests.factories import CouponTemplateFactory, MemberFactory, RechargeFactory
from tests.helpers import assert_ledgers_consistent, points_of
from tests.orders.helpers import basket, commit
from tests.stored_value.helpers import parts

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("default_rules"),
    pytest.mark.xdist_group("many-connections"),
]


def commit_in_parallel(member, b, count=8):
    quote = compute_quote(member_id=member.pk, basket=b)
    return run_concurrently(
        lambda i: services.order_commit(
            member_id=member.pk, order_no=f"P{i}", basket=b, quote_hash=quote.fingerprint
        ),
        count,
    )


def test_parallel_orders_wanting_the_same_coupon_one_wins_the_others_get_a_fresh_quote():
    member = MemberFactory()
    coupon = coupon_services.coupon_claim(
        member=member, template_id=CouponTemplateFactory().pk, idempotency_key="k"
    )

    results, errors = commit_in_parallel(member, basket(("A", 20_000, 1), coupon_ids=[coupon.pk]))

    assert len(results) == 1 and errors == ["quote_stale"] * 7
    assert Coupon.objects.get(pk=coupon.pk).order_no == results[0].order.order_no
    assert Order.objects.count() == 1
    assert_ledgers_consistent()


def test_parallel_orders_wanting_the_same_points_never_overspend():
    member = MemberFactory()
    points_ledger.points_earn(
        member_id=member.pk, amount=5_000, idempotency_key="s", source="t", expires_at=None
    )

    results, errors = commit_in_parallel(member, basket(("A", 20_000, 1), points=2_000, coupon_ids=[]))

    assert len(results) == 2 and errors == ["quote_stale"] * 6
    assert points_of(member) == 1_000 and Order.objects.count() == 2
    assert_ledgers_consistent()


def test_parallel_orders_wanting_the_same_balance_never_overdraw():
    member = MemberFactory()
    RechargeFactory(member=member, amount_fen=150_000, bonus_fen=15_000)

    results, errors = commit_in_parallel(member, basket(("BUNDLE", 160_000, 1), stored_value_fen=160_000))

    assert len(results) == 1 and errors == ["quote_stale"] * 7
    assert sum(parts(member)) == 5_000
    assert_ledgers_consistent()


def test_the_same_order_committed_eight_times_at_once_commits_once():
    member = MemberFactory()
    RechargeFactory(member=member, amount_fen=10_000)

    results, errors = run_concurrently(
        lambda i: commit(member, basket(("A", 5_000, 1), stored_value_fen=5_000), "SAME"), 8
    )

    assert errors == [] and len(results) == 8 and len({o.pk for o in results}) == 1
    assert sum(parts(member)) == 5_000


def test_replayed_complete_and_refund_events_arriving_at_once_apply_once():
    member = MemberFactory()
    RechargeFactory(member=member, amount_fen=10_000)
    commit(member, basket(("A", 2_000, 3), stored_value_fen=6_000), "E1")

    _, complete_errors = run_concurrently(lambda i: services.order_complete(order_no="E1"), 8)
    earned = points_of(member)
    results, refund_errors = run_concurrently(
        lambda i: services.order_refund(order_no="E1", refund_no="R1", lines=[(1, 2)]), 8
    )

    assert complete_errors == [] and refund_errors == []
    assert sum(not r.replayed for r in results) == 1 and Refund.objects.count() == 1
    assert sum(parts(member)) == 10_000 - 2_000
    assert points_of(member) == earned - 40
    assert_ledgers_consistent()


def test_duplicates_of_one_commit_with_a_coupon_points_and_balance_all_get_the_one_order():
    member = MemberFactory()
    RechargeFactory(member=member, amount_fen=100_000)
    points_ledger.points_earn(
        member_id=member.pk, amount=5_000, idempotency_key="s", source="t", expires_at=None
    )
    coupon = coupon_services.coupon_claim(
        member=member, template_id=CouponTemplateFactory().pk, idempotency_key="k"
    )
    b = basket(("A", 20_000, 1), coupon_ids=[coupon.pk], points=1_000, stored_value_fen=10_000)
    quote = compute_quote(member_id=member.pk, basket=b)

    results, errors = run_concurrently(
        lambda i: services.order_commit(
            member_id=member.pk, order_no="DUP", basket=b, quote_hash=quote.fingerprint
        ),
        8,
    )

    assert errors == [] and len({r.order.pk for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert points_of(member) == 4_000 and sum(parts(member)) == 90_000
    assert_ledgers_consistent()


def test_a_duplicate_arriving_just_after_the_first_commit_is_a_replay_not_a_stale_quote(monkeypatch):
    """The duplicate passed the "already committed?" check just before the first commit finished."""
    import threading

    from orders import quote as quote_module

    member = MemberFactory()
    RechargeFactory(member=member, amount_fen=100_000)
    coupon = coupon_services.coupon_claim(
        member=member, template_id=CouponTemplateFactory().pk, idempotency_key="k"
    )
    b = basket(("A", 20_000, 1), coupon_ids=[coupon.pk], stored_value_fen=10_000)
    fingerprint = compute_quote(member_id=member.pk, basket=b).fingerprint
    duplicate_checked, first_done = threading.Event(), threading.Event()
    real = quote_module.compute_quote

    def held_back(**kwargs):
        if threading.current_thread().name == "duplicate" and not kwargs.get("clamp"):
            duplicate_checked.set()
            first_done.wait(10)
        return real(**kwargs)

    monkeypatch.setattr(services, "compute_quote", held_back)

    duplicate = in_thread(
        lambda: services.order_commit(member_id=member.pk, order_no="DUP", basket=b, quote_hash=fingerprint),
        name="duplicate",
    )
    duplicate_checked.wait(10)
    first = services.order_commit(member_id=member.pk, order_no="DUP", basket=b, quote_hash=fingerprint)
    first_done.set()
    replayed = duplicate.result(timeout=60)

    assert replayed.replayed and replayed.order.pk == first.order.pk
    assert sum(parts(member)) == 90_000
