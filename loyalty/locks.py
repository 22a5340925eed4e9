"""The one order in which locks are taken across the system, and the one scheme of advisory-lock keys.

Two transactions deadlock only when each holds a lock the other waits for, which cannot happen when
every transaction takes its locks in one global order.  ``Rank`` is that order, outermost first; a
workflow may skip ranks but never go back to a lower one.  Rows of one rank are locked in id order.

Every function that takes a lock says so with ``@takes(rank)`` (or ``note(rank)`` where a statement
that does more also locks), so tests can record which locks a workflow takes and assert the order
(``recording``, ``out_of_order``; tests/loyalty/test_lock_order.py runs the workflows that touch
several ledgers).  Recording costs one context-variable read per lock when nobody records.

Advisory locks have one key scheme: a ``Space`` and up to two ids, hashed to one bigint
(``advisory_key``), so no two uses can collide by picking the same numbers.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from contextvars import ContextVar
from enum import IntEnum

from loyalty import sql


class Rank(IntEnum):
    """Lock ranks, outermost first.  Gaps leave room; the numbers mean nothing else."""

    JOB = 10  # a job run's claim (advisory, held across the job's transactions: locks.try_hold)
    PAYMENT = 20  # a payment or a payment refund row: notifications start here, and refunds lock it first
    DOCUMENT = 30  # what is acted on: an order, a recharge order, a redemption, a card purchase, a job's rows
    GROWTH_GROUP = 33  # a 拼团 group: the payments into it are decided one after the other, under it
    GROWTH_STOCK = 36  # a 拼团 or 砍价 activity's units (a conditional UPDATE): the hot row of a popular one
    MEMBER_WORKFLOW = 40  # advisory, per member: recharges, redemptions of an item, address edits
    MEMBERSHIP = 50  # the membership row: the programme's per-member lock (tiers, growth, cards)
    CARD = 60  # membership cards
    COUPON = 70  # existing coupons, by id (using, voiding, restoring)
    COUPON_CLAIM = 75  # advisory (template, member): a member's claims of a template one after the other
    MEMBER = (
        80  # the member row: closure (FOR NO KEY UPDATE) against grants asking who may receive (FOR SHARE)
    )
    COUPON_TEMPLATE = 90  # a template's stock, while issuing
    POINTS = 100  # the points account (and its lots)
    POINTS_BUDGET = 105  # the month's points budget, under the account being credited
    STORED_VALUE = 110  # the stored-value account
    MALL_ITEM = 120  # an item's stock
    VIRTUAL_CODE = 130  # an item's virtual codes
    NOTIFICATION = 140  # the outbox and subscription credits: last, since any workflow may notify


class Space(IntEnum):
    """What an advisory lock protects; part of its key."""

    JOB = 1  # (job run id), held across transactions (try_hold)
    RECHARGE = 2  # (member id): no recharge opens while the account closes
    COUPON_CLAIM = 3  # (template id, member id): a member's claims of a template one after the other
    MALL_REDEEM = 4  # (item id, member id): a member's redemptions of an item with limits
    RFM_RUN = 5  # (): one RFM scoring at a time
    REPORT_REFRESH = 6  # (): one refresh of the report tables at a time
    ADDRESS_BOOK = 7  # (member id): a member's address edits one at a time
    GROUP_BUY_JOIN = 8  # (activity id, member id): a member's opens and joins of an activity one at a time
    BARGAIN_START = 9  # (activity id, member id): a member's bargains of an activity started one at a time
    BARGAIN_HELPER = 10  # (helper id): a helper's cuts one at a time (the per-day limit)
    EXPORT_JOB = 11  # (export job id), held across the file's writing (try_hold): a live worker is on it


#: The rank of each advisory space.
SPACE_RANK = {
    Space.JOB: Rank.JOB,
    Space.RECHARGE: Rank.MEMBER_WORKFLOW,
    Space.COUPON_CLAIM: Rank.COUPON_CLAIM,
    Space.MALL_REDEEM: Rank.MEMBER_WORKFLOW,
    Space.RFM_RUN: Rank.DOCUMENT,
    Space.REPORT_REFRESH: Rank.DOCUMENT,
    Space.ADDRESS_BOOK: Rank.MEMBER_WORKFLOW,
    Space.GROUP_BUY_JOIN: Rank.MEMBER_WORKFLOW,
    Space.BARGAIN_START: Rank.MEMBER_WORKFLOW,
    Space.BARGAIN_HELPER: Rank.MEMBER_WORKFLOW,
    Space.EXPORT_JOB: Rank.JOB,
}

_trail: ContextVar[list | None] = ContextVar("lock_trail", default=None)
_NEXT_MEMBER = 0


def note(rank: Rank, what: str = "") -> None:
    """Record that a lock of ``rank`` is being taken (only while someone records)."""
    trail = _trail.get()
    if trail is not None:
        trail.append((rank, what))


def takes(rank: Rank):
    """Decorate a function that takes a lock of ``rank``."""

    def decorate(func):
        what = f"{func.__module__}.{func.__qualname__}"

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            note(rank, what)
            return func(*args, **kwargs)

        return wrapper

    return decorate


@contextlib.contextmanager
def recording():
    """Collect the (rank, where) of every lock taken inside the block, in order."""
    trail: list = []
    token = _trail.set(trail)
    try:
        yield trail
    finally:
        _trail.reset(token)


def another_member() -> None:
    """The workflow goes on to another member's rows (an inviter's reward): their locks start a new
    sequence.  No cycle can form that way, since an invitation tree has none."""
    note(_NEXT_MEMBER, "another member")


def out_of_order(trail: list) -> list[tuple]:
    """The pairs (held, then taken) where a lock of a lower rank followed one of a higher rank.

    Taking again what the transaction already holds (the same rank and description) never waits, so
    it is not counted.
    """
    wrong, highest, held = [], None, set()
    for rank, what in trail:
        if rank == _NEXT_MEMBER:
            highest, held = None, set()
            continue
        if (rank, what) in held:
            continue
        held.add((rank, what))
        if highest is not None and rank < highest[0]:
            wrong.append((highest, (rank, what)))
        if highest is None or rank > highest[0]:
            highest = (rank, what)
    return wrong


def advisory_key(space: Space, *ids: int) -> int:
    """The one bigint key of an advisory lock on ``ids`` in ``space`` (a 64-bit hash: no collisions
    between spaces or between id pairs in practice; a collision would only make two locks wait)."""
    digest = hashlib.blake2b(":".join(map(str, (int(space), *ids))).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def advisory_lock(space: Space, *ids: int) -> None:
    """A transaction-level advisory lock, held until the transaction ends."""
    note(SPACE_RANK[space], f"advisory {space.name} {ids}")
    sql.advisory_xact_lock(advisory_key(space, *ids))


def advisory_lock_each(space: Space, ids: list[tuple[int, ...]]) -> None:
    """The transaction-level lock of each tuple of ``ids``, in key order: two transactions taking
    several locks of one space take the ones they share in the same order."""
    if not ids:
        return
    for each in ids:
        note(SPACE_RANK[space], f"advisory {space.name} {tuple(each)}")
    sql.advisory_xact_lock_many(sorted({advisory_key(space, *each) for each in ids}))


# advisory key -> the connection of its own whose open transaction holds it (``try_hold``)
_held: dict[int, object] = {}


def try_hold(space: Space, *ids: int) -> bool:
    """An advisory lock if free now, held past this transaction until ``let_go`` or the process's end.

    Not a session-level lock: behind a pooler in transaction mode the session a lock was taken on is
    lent to other clients between transactions, and the unlock may run on another.  The lock is taken
    in a transaction left open on a connection of its own (``sql.advisory_lock_held_open``), which a
    pooler keeps on one server session; a killed process's connection closes and the lock goes with it.
    """
    note(SPACE_RANK[space], f"advisory {space.name} {ids}")
    key = advisory_key(space, *ids)
    conn = sql.advisory_lock_held_open(key)
    if conn is None:
        return False
    _held[key] = conn
    return True


def let_go(space: Space, *ids: int) -> None:
    """Release what ``try_hold`` took: close its connection (the transaction ends, and its lock)."""
    conn = _held.pop(advisory_key(space, *ids), None)
    if conn is not None:
        conn.close()
