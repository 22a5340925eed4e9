"""The one lock order (``loyalty.locks.Rank``): every workflow that touches several ledgers takes its locks in it.

Each workflow runs on its own in a recorder and the ranks of the locks it took must never go down.
"""

import ast
import re
import threading
import time
from pathlib import Path

import pytest

from coupons import services as coupon_services
from coupons.models import GiftPackItem
from loyalty import locks
from loyalty.locks import Rank, Space
from mall import services as mall_services
from members import closure
from membership import cards, tiers
from membership.models import Membership
from orders import services as order_services
from payments import services as payments
from payments.models import Payment
from stored_value import ledger as sv_ledger
from stored_value import recharges
from tests.concurrency import in_thread
from tests.factories import (
    CardTypeFactory,
    CouponTemplateFactory,
    GiftPackFactory,
    MallItemFactory,
    MemberFactory,
    OperatorFactory,
    RechargePlan1500Factory,
)
from tests.mall.helpers import address
from tests.membership.helpers import standard_tiers
from tests.orders.helpers import basket, commit
from tests.points.helpers import earn


def _ordered(workflow):
    """Run ``workflow()`` recording its locks; fail on any lock taken after one of a higher rank."""
    with locks.recording() as trail:
        result = workflow()
    assert trail, "the workflow took no lock through loyalty.locks"
    assert locks.out_of_order(trail) == [], "\n".join(f"{rank.name:16} {what}" for rank, what in trail)
    return result, trail


def _pack(points=50):
    pack = GiftPackFactory(points=points)
    GiftPackItem.objects.create(pack=pack, template=CouponTemplateFactory(total_stock=1000), quantity=1)
    return pack


@pytest.fixture
def shopper(db):
    """A member with an inviter, points, stored value, a coupon, and tiers with upgrade gift packs."""
    standard_tiers(upgrade_packs=True)
    inviter = MemberFactory()
    member = MemberFactory(referrer=inviter)
    earn(member, 5_000, key="seed")
    sv_ledger.stored_value_adjust(
        member_id=member.pk,
        principal_fen=50_000,
        bonus_fen=5_000,
        reason="seed",
        actor_id=OperatorFactory().pk,
        idempotency_key="seed",
    )
    coupon = coupon_services.coupon_claim(
        member=member, template_id=CouponTemplateFactory().pk, idempotency_key="seed"
    )
    return member, coupon


def test_checkout_commit_complete_refund_and_cancel_lock_in_order(shopper):
    member, coupon = shopper
    order, trail = _ordered(
        lambda: commit(
            member,
            basket(("SKU", 300_000, 1), coupon_ids=[coupon.pk], points=1_000, stored_value_fen=10_000),
        )
    )
    assert [rank for rank, _ in trail] == [Rank.COUPON, Rank.POINTS, Rank.STORED_VALUE]
    _ordered(lambda: order_services.order_complete(order_no=order.order_no))
    assert Membership.objects.get(member=member).tier_level > 0  # an upgrade with its gift pack happened
    _ordered(lambda: order_services.order_refund(order_no=order.order_no, refund_no="r1", lines=[(1, 1)]))

    other = commit(member, basket(("SKU", 1_000, 1), points=100, stored_value_fen=100))
    _ordered(lambda: order_services.order_cancel(order_no=other.order_no))


def test_recharge_credit_and_refund_lock_in_order(db):
    member = MemberFactory()
    plan = RechargePlan1500Factory(gift_points=100, gift_pack=_pack())
    order = _ordered(lambda: recharges.recharge_create(member=member, plan_id=plan.pk, amount_fen=150_000))[0]
    payment = Payment.objects.get(out_trade_no=order.out_trade_no)
    payments.payment_prepay(payment=payment)
    _ordered(lambda: payments.payment_simulate_pay(payment=Payment.objects.get(pk=payment.pk)))
    _ordered(
        lambda: recharges.recharge_refund(
            order_id=order.pk, actor_id=OperatorFactory().pk, reason="test", idempotency_key="rf"
        )
    )


def test_account_closure_locks_in_order(db):
    member = MemberFactory()
    earn(member, 500, key="seed")
    coupon_services.coupon_claim(member=member, template_id=CouponTemplateFactory().pk, idempotency_key="c")
    cards.card_claim(member_id=member.pk, card_type_id=CardTypeFactory(opening_pack=_pack()).pk)
    _ordered(lambda: closure.member_close(member_id=member.pk))


def test_cards_and_gift_packs_lock_in_order(db):
    member = MemberFactory()
    card_type = CardTypeFactory(opening_pack=_pack())
    _ordered(lambda: cards.card_claim(member_id=member.pk, card_type_id=card_type.pk))
    _ordered(lambda: coupon_services.gift_pack_issue(pack_id=_pack().pk, member_id=member.pk, occasion="x"))


def test_mall_redemption_with_points_and_cash_locks_in_order(db):
    member = MemberFactory()
    earn(member, 5_000, key="seed")
    item = MallItemFactory(points=1_000, cash_fen=500, per_member_limit=2)
    r = _ordered(
        lambda: (
            mall_services.redemption_create(
                member=member, item_id=item.pk, idempotency_key="r1", address_id=address(member).pk
            ).redemption
        )
    )[0]
    payment = Payment.objects.get(out_trade_no=r.out_trade_no)
    payments.payment_prepay(payment=payment)
    _ordered(lambda: payments.payment_simulate_pay(payment=Payment.objects.get(pk=payment.pk)))
    _ordered(
        lambda: mall_services.redemption_cancel(redemption_id=r.pk, actor_id=OperatorFactory().pk, reason="x")
    )


def test_a_coupon_item_and_bulk_issuing_lock_in_order(db):
    member = MemberFactory()
    earn(member, 5_000, key="seed")
    item = MallItemFactory(kind="coupon", coupon_template=CouponTemplateFactory(), points=100, stock=5)
    _ordered(lambda: mall_services.redemption_create(member=member, item_id=item.pk, idempotency_key="c1"))
    bulk = coupon_services.bulk_issue_create(
        template_id=CouponTemplateFactory().pk,
        member_ids=[member.pk, MemberFactory().pk],
        actor_id=OperatorFactory().pk,
    )
    _ordered(lambda: coupon_services.bulk_issue_run(bulk_issue_id=bulk.pk))


def test_a_paid_card_bought_and_refunded_locks_in_order(db):
    member = MemberFactory()
    card_type = CardTypeFactory(kind="paid", opening_pack=_pack())
    purchase = _ordered(lambda: cards.card_purchase_create(member=member, card_type_id=card_type.pk))[0]
    payment = Payment.objects.get(out_trade_no=purchase.out_trade_no)
    payments.payment_prepay(payment=payment)
    _ordered(lambda: payments.payment_simulate_pay(payment=Payment.objects.get(pk=payment.pk)))
    _ordered(
        lambda: cards.card_purchase_refund(purchase_id=purchase.pk, actor_id=OperatorFactory().pk, reason="x")
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.xdist_group("many-connections")
def test_a_closure_and_a_refund_of_the_same_member_do_not_deadlock(monkeypatch):
    """The refund holds the membership row and then writes rows that refer to the member; the closure
    waits for the membership row before it locks the member row, so neither waits for the other."""
    member = MemberFactory()
    order = commit(member, basket(("SKU", 10_000, 1)))
    order_services.order_complete(order_no=order.order_no)
    held, go = threading.Event(), threading.Event()
    lock_membership = tiers.lock_membership

    def pausing_lock(*, member_id):
        locked = lock_membership(member_id=member_id)
        if threading.current_thread().name == "refund" and not held.is_set():
            held.set()
            assert go.wait(30)
        return locked

    monkeypatch.setattr(tiers, "lock_membership", pausing_lock)
    refund = in_thread(
        lambda: order_services.order_refund(order_no=order.order_no, refund_no="r1"), name="refund"
    )
    assert held.wait(30)
    closing = in_thread(lambda: closure.member_close(member_id=member.pk), name="closure")
    time.sleep(1.5)  # the closure is now waiting (PostgreSQL looks for deadlocks after 1 s)
    go.set()

    assert refund.result(30).refund.refund_no == "r1"
    assert closing.result(30).replayed is False


def test_the_recorder_catches_a_lock_taken_out_of_order():
    with locks.recording() as trail:
        locks.note(Rank.STORED_VALUE, "account")
        locks.note(Rank.COUPON, "coupon")
    assert locks.out_of_order(trail) == [((Rank.STORED_VALUE, "account"), (Rank.COUPON, "coupon"))]


def test_advisory_keys_are_one_bigint_per_space_and_ids():
    keys = {locks.advisory_key(space, 1, 2) for space in Space} | {locks.advisory_key(Space.RECHARGE, 2, 1)}
    assert len(keys) == len(Space) + 1
    assert all(-(2**63) <= key < 2**63 for key in keys)
    assert locks.advisory_key(Space.RECHARGE, 7) == locks.advisory_key(Space.RECHARGE, 7)


LOCKING = re.compile(r"select_for_update\(|FOR (NO KEY )?UPDATE|FOR (KEY )?SHARE|pg_(try_)?advisory")
#: Files that lock without a rank of their own: the primitives loyalty.locks and its callers use, and a
#: lock that never waits (SKIP LOCKED: taking it cannot deadlock).
PRIMITIVES = {"loyalty/sql.py", "loyalty/rows.py", "loyalty/locks.py", "membership/sql.py"}


def test_every_file_that_locks_says_the_rank_of_its_locks():
    root = Path(__file__).resolve().parents[2]
    unranked = sorted(
        str(path.relative_to(root))
        for path in root.glob("*/**/*.py")
        if not {"tests", "bench", "migrations", ".venv", "docs"} & set(path.relative_to(root).parts)
        and str(path.relative_to(root)) not in PRIMITIVES
        and LOCKING.search(code := _code_of(path))
        and not re.search(r"locks\.note\(|@(locks\.)?takes\(|locks\.advisory_lock", code)
    )
    assert unranked == []


def _code_of(path: Path) -> str:
    """The file's code without docstrings and comments (prose may name a lock it does not take)."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            if isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                body[0] = ast.Pass()
    return ast.unparse(tree)
