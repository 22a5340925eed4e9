"""Every posting to the points ledger. Nothing else writes its tables.

Each public function is one transaction that

1. locks the member's ``PointsAccount`` row (creating the account on first
   use).  That row lock is the mutex for all of the account's entries, lots
   and allocations: every writer, including the expiry job, takes it first,
   so lots need no row locks of their own and locks are always taken in the
   same order (account, then its lots);
2. looks up the idempotency key in a *second* statement, so it sees an
   entry committed by a duplicate that held the lock a moment ago (a join in
   the locking statement would read the older snapshot);
3. writes the entry, the balance, the allocations and the lot changes in one
   SQL statement (``_post``), so a posting is all or nothing.

The hot paths are leaner: an earn without a cap is one statement whose
UPDATE of the balance takes the lock (it reads nothing but that row), and
neither it nor a spend looks its key up first (``Ledger.post_or_replay``).
Their statements are prepared once per connection (``loyalty.prepared``).
The mechanics every ledger shares (amount checks, request hash, the account
lock, replays) are ``loyalty.ledger``'s.

Replaying a key with the same parameters returns the first posting and moves
nothing; with other parameters it raises ``IdempotencyConflict``.

Lots are spent in the order they expire (never-expiring last), then oldest
first (``spending_order``; in SQL ``points.sql.SPENDING_ORDER``).  Lots past
their expiry are expired (an ``expire`` entry) before any debit looks at
them, so an expired point is never spent even if the expiry job has not run
yet.
"""

from __future__ import annotations

import functools
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from loyalty import ledger as core
from points import sql
from points.exceptions import (
    EntryNotReversible,
    InsufficientPoints,
    InvalidPointsAmount,
    MemberNotFound,
    ReversalTooLarge,
)
from points.models import MAX_POINTS, EntryKind

EXPIRY_SOURCE = "expiry"
KEY_CONSTRAINT = "uniq_points_entry_key"


@dataclass(frozen=True)
class Posting:
    """The outcome of a posting. ``entry_id`` is None when nothing was posted (e.g. all withheld)."""

    entry_id: int | None
    amount: int
    balance_after: int
    replayed: bool = False


_LEDGER = core.Ledger(
    entry_by_key=sql.entry_by_key,
    replayed=lambda row: Posting(
        entry_id=row.id, amount=row.amount, balance_after=row.balance_after, replayed=True
    ),
    account_id=sql.account_id,
    key_constraint=KEY_CONSTRAINT,
    refusals=(InsufficientPoints,),
)
_check_amount = functools.partial(core.check_amount, invalid=InvalidPointsAmount, most=MAX_POINTS)


@dataclass
class _Account:
    id: int
    balance: int


_Lot = sql.Lot


@dataclass
class _NewLot:
    amount: int
    source: str
    earned_at: datetime
    expires_at: datetime | None
    repaid: int = 0  # taken at once to repay a debt (negative balance)


@dataclass
class _Entry:
    kind: str
    amount: int
    key: str
    request_hash: str = ""
    source: str = ""
    reference: str = ""
    memo: str = ""
    reverses_id: int | None = None
    actor_id: int | None = None
    allocations: list[tuple[int, int]] = field(default_factory=list)  # (lot_id, taken; negative gives back)
    new_lot: _NewLot | None = None


# --- public postings ----------------------------------------------------------


def points_earn(
    *,
    member_id: int,
    amount: int,
    idempotency_key: str,
    source: str,
    expires_at: datetime | None,
    reference: str = "",
    memo: str = "",
    cap=None,
    savepoint: bool = True,
) -> Posting:
    """Credit ``amount`` points as a new lot expiring at ``expires_at`` (None: never).

    A debt (negative balance left by a clawback) is repaid from the new lot
    first.  ``cap(account_id, amount) -> granted`` runs under the account lock
    after the replay check, so caps see every earlier earning of the member;
    what it withholds it records itself.  ``savepoint=False`` (without a
    ``cap`` only): as for ``points_spend``, for a caller whose transaction
    any error aborts and whose key cannot have been used before.
    """
    _check_amount(amount)
    request_hash = core.request_hash(kind=EntryKind.EARN, amount=amount, source=source, reference=reference)
    if cap is None:  # the hot path: no cap bookkeeping, so the key's unique index can detect a replay
        return _LEDGER.post_or_replay(
            member_id=member_id,
            key=idempotency_key,
            request_hash=request_hash,
            savepoint=savepoint,
            post=lambda cur: _earn_in_one_statement(
                cur,
                member_id,
                _Entry(
                    kind=EntryKind.EARN,
                    amount=amount,
                    key=idempotency_key,
                    request_hash=request_hash,
                    source=source,
                    reference=reference,
                    memo=memo,
                    new_lot=_NewLot(amount, source, timezone.now(), expires_at),
                ),
            ),
        )
    with transaction.atomic(), sql.db_cursor() as cur:
        account = _lock_account(cur, member_id)
        replay = _LEDGER.replay(cur, account.id, idempotency_key, request_hash)
        if replay:
            return replay
        granted = cap(account.id, amount)
        if granted <= 0:
            return Posting(entry_id=None, amount=0, balance_after=account.balance)
        now = timezone.now()
        return _post(
            cur,
            account,
            _Entry(
                kind=EntryKind.EARN,
                amount=granted,
                key=idempotency_key,
                request_hash=request_hash,
                source=source,
                reference=reference,
                memo=memo,
                new_lot=_NewLot(
                    granted, source, now, expires_at, repaid=min(granted, max(-account.balance, 0))
                ),
            ),
        )


def points_open_accounts(*, lots: list[tuple], source: str) -> dict[str, int]:
    """Opening lots for members who have no points account yet (members an import has just created,
    in the caller's transaction): each member's account, its earn entries and their lots, for many
    members in one statement (``sql.open_accounts``).

    ``lots``: (member_id, amount, expires_at, idempotency_key, reference).  The entries are those
    ``points_earn`` would post (same kind, source, request hash), so a later ``points_earn`` of a key
    replays.  A member with an account already fails the whole statement (its unique member): the
    caller's savepoint rolls back and it posts those rows one by one instead.  Returns {key: entry_id}.
    """
    for _member, amount, *_rest in lots:
        _check_amount(amount)
    rows = [
        (
            member_id,
            amount,
            expires_at,
            key,
            core.request_hash(kind=EntryKind.EARN, amount=amount, source=source, reference=reference),
            reference,
        )
        for member_id, amount, expires_at, key, reference in lots
    ]
    with transaction.atomic(), sql.db_cursor() as cur:
        return sql.open_accounts(cur, lots=rows, source=source, now=timezone.now())


def points_spend(
    *,
    member_id: int,
    amount: int,
    idempotency_key: str,
    source: str = "",
    reference: str = "",
    memo: str = "",
    savepoint: bool = True,
) -> Posting:
    """Debit ``amount`` points from the lots that expire first.

    Refused with ``insufficient_points`` (nothing written) when the balance,
    after expiring what is due, is smaller than ``amount`` or negative.

    Inside a caller's transaction the spend runs in a savepoint, so a refusal
    leaves that transaction usable and a replayed key can be looked up.
    ``savepoint=False`` saves those two round trips for a caller that rolls
    back whenever the spend raises and never reuses a key (a mall
    redemption, keyed by its new number): a refusal or error then dooms the
    caller's transaction, and is raised as it is, without a replay lookup.
    """
    _check_amount(amount)
    request_hash = core.request_hash(kind=EntryKind.SPEND, amount=amount, source=source, reference=reference)
    return _LEDGER.post_or_replay(
        member_id=member_id,
        key=idempotency_key,
        request_hash=request_hash,
        savepoint=savepoint,
        post=lambda cur: _debit(
            cur,
            _lock_account(cur, member_id),
            amount,
            _Entry(
                kind=EntryKind.SPEND,
                amount=-amount,
                key=idempotency_key,
                request_hash=request_hash,
                source=source,
                reference=reference,
                memo=memo,
            ),
        ),
    )


def points_adjust(
    *,
    member_id: int,
    amount: int,
    reason: str,
    actor_id: int,
    idempotency_key: str,
    expires_at: datetime | None = None,
) -> Posting:
    """An operator's correction: positive adds a lot, negative debits like a spend.

    ``reason`` and ``actor_id`` are stored on the entry (the audit trail).
    """
    if amount == 0:
        raise InvalidPointsAmount()
    _check_amount(abs(amount))
    request_hash = core.request_hash(kind=EntryKind.ADJUST, amount=amount, reason=reason, actor=actor_id)
    entry = _Entry(
        kind=EntryKind.ADJUST,
        amount=amount,
        key=idempotency_key,
        request_hash=request_hash,
        source="adjust",
        memo=reason[:200],
        actor_id=actor_id,
    )
    with transaction.atomic(), sql.db_cursor() as cur:
        account = _lock_account(cur, member_id)
        replay = _LEDGER.replay(cur, account.id, idempotency_key, request_hash)
        if replay:
            return replay
        if amount < 0:
            return _debit(cur, account, -amount, entry)
        now = timezone.now()
        entry.new_lot = _NewLot(
            amount, "adjust", now, expires_at, repaid=min(amount, max(-account.balance, 0))
        )
        return _post(cur, account, entry)


def points_forfeit_all(
    *, member_id: int, reason: str, idempotency_key: str, source: str = "forfeit"
) -> Posting:
    """Take every usable point away (account closure): one ``adjust`` entry with no operator.

    Lots past due are expired first (an ``expire`` entry), then the whole
    remaining balance is debited from every open lot.  Nothing to forfeit
    (zero, or a debt — a debt is left on the books, never written off into
    points) posts nothing and returns ``entry_id=None``.  Replaying the key
    returns the first posting.
    """
    request_hash = core.request_hash(kind=EntryKind.ADJUST, forfeit=True, reason=reason, source=source)
    with transaction.atomic(), sql.db_cursor() as cur:
        account = _lock_account(cur, member_id)
        replay = _LEDGER.replay(cur, account.id, idempotency_key, request_hash)
        if replay:
            return replay
        now = timezone.now()
        lots = _expire_due_inline(cur, account, _open_lots(cur, account), now)
        if account.balance <= 0:
            return Posting(entry_id=None, amount=0, balance_after=account.balance)
        entry = _Entry(
            kind=EntryKind.ADJUST,
            amount=-account.balance,
            key=idempotency_key,
            request_hash=request_hash,
            source=source,
            memo=reason[:200],
        )
        entry.allocations, _ = _take(lots, account.balance)
        return _post(cur, account, entry)


def points_reverse(
    *, member_id: int, entry_id: int, idempotency_key: str, amount: int | None = None, memo: str = ""
) -> Posting:
    """Undo all or part (``amount``) of an earn or a spend of this member.

    - A spend is given back to exactly the lots it took from (the latest
      expiring first when partial).  A lot that expired meanwhile is expired
      again at once by an ``expire`` entry: reversing never revives points.
    - An earn is clawed back from its own lot first, then from the lots that
      expire first; what the lots cannot cover becomes a debt (negative
      balance) that blocks spending and is repaid by the next earnings.
    - A debt is repaid first from whatever a reversal gives back.
    """
    if amount is not None:
        _check_amount(amount)
    with transaction.atomic(), sql.db_cursor() as cur:
        account = _lock_account(cur, member_id)
        original = _fetch_original(cur, account, entry_id)
        request_hash = core.request_hash(kind=EntryKind.REVERSE, entry=entry_id, amount=amount)
        replay = _LEDGER.replay(cur, account.id, idempotency_key, request_hash)
        if replay:
            return replay
        left = abs(original["amount"]) - original["reversed"]
        amount = left if amount is None else amount
        if amount > left or amount <= 0:
            raise ReversalTooLarge(details={"reversible": left})
        entry = _Entry(
            kind=EntryKind.REVERSE,
            amount=0,
            key=idempotency_key,
            request_hash=request_hash,
            source=original["source"],
            reference=original["reference"],
            memo=memo,
            reverses_id=entry_id,
        )
        if original["kind"] == EntryKind.SPEND:
            return _give_back_spend(cur, account, entry_id, amount, entry)
        return _claw_back_earn(cur, account, original["lot_id"], amount, entry)


def points_reverse_earn(
    *, member_id: int, earn_key: str, idempotency_key: str, amount: int | None = None, memo: str = ""
) -> Posting | None:
    """``points_reverse`` of the earn posted under ``earn_key`` (a gift keyed by what it was given for).

    For callers that know the earn by its key, not its id (a recharge refund taking back the plan's
    gift points).  None when there is nothing to take back: no such earn was posted, or (``amount``
    None) all of it has been taken back already.
    """
    with transaction.atomic(), sql.db_cursor() as cur:
        account = _lock_account(cur, member_id)
        earn_id = sql.entry_id_by_key(cur, account.id, earn_key, EntryKind.EARN)
        if earn_id is None:
            return None
        try:
            return points_reverse(
                member_id=member_id,
                entry_id=earn_id,
                idempotency_key=idempotency_key,
                amount=amount,
                memo=memo,
            )
        except ReversalTooLarge:
            if amount is not None:
                raise
            return None


def lock_account(*, member_id: int) -> int:
    """Lock (creating if needed) the member's points account inside the caller's transaction; its balance.

    For a workflow that must take this lock before a later one (the documented order: coupons, points,
    stored value) although it decides what to post only under that later lock.
    """
    with sql.db_cursor() as cur:
        return _lock_account(cur, member_id).balance


def lock_accounts(*, member_ids: list[int]) -> None:
    """Lock (creating if needed) many members' points accounts inside the caller's transaction, in id
    order: a workflow posting to several members takes them all before its first posting (an import's
    chunk), so it never holds one member's account while waiting for another's."""
    if member_ids:
        with sql.db_cursor() as cur:
            sql.lock_accounts(cur, sorted(set(member_ids)))


# --- the expiry job -------------------------------------------------------------


def points_expire_due(*, chunk_size: int = 200, now: datetime | None = None, pause: float = 0.4) -> int:
    """Expire every lot past its expiry; returns the number of expire entries.

    Set-based, per chunk of accounts: one statement locks them (``SKIP LOCKED``: an account busy
    with a posting is left for the next run, and its lots are expired inline before any debit
    anyway) and one writes all their expire entries, allocations, lots and balances.  Each chunk
    commits on its own, so a killed run loses at most one chunk, and a lot with nothing left is
    never touched again, so running twice is harmless.  Chunks are small and the job rests
    ``pause`` times as long as each chunk took, so that members spending meanwhile hardly wait
    for it (bench/README.md, "Why the expiry job is tuned so").
    """
    now = now or timezone.now()
    run = uuid.uuid4().hex[:12]
    after, total = 0, 0
    while True:
        started = time.perf_counter()
        with transaction.atomic(), sql.db_cursor() as cur:
            ids = sql.pick_expiry_chunk(cur, after, now, chunk_size)
            if not ids:
                return total
            total += sql.expire_chunk(cur, ids, now, f"expire:{run}:")
            after = ids[-1]
        time.sleep((time.perf_counter() - started) * pause)


# --- the archive -------------------------------------------------------------------


@dataclass(frozen=True)
class Archived:
    entries: int = 0
    lots: int = 0
    allocations: int = 0

    def __add__(self, other: Archived) -> Archived:
        return Archived(*(a + b for a, b in zip(self.astuple(), other.astuple(), strict=True)))

    def astuple(self) -> tuple[int, int, int]:
        return (self.entries, self.lots, self.allocations)


def points_archive(
    *, before: datetime, chunk_size: int = 500, pause: float = 0.4, now: datetime | None = None
) -> Archived:
    """Move settled history older than ``before`` to the archive tables (docs/scaling.md); what moved.

    Per account, the longest run of its oldest entries that nothing later depends on: every lot they
    earned is used up or expired, and every allocation from those lots and every reversal of those
    entries is in the run too; the account's latest entry always stays.  So the live tables keep all
    that a posting, a reversal or the expiry job reads, the balance is the sum over both tables, and
    an archived entry can no longer be reversed (its reversal is refused as for an unknown entry).

    Chunks of accounts, each locked (``SKIP LOCKED``: a busy account waits for the next run) and moved
    in one transaction by two set-based statements, copy then delete; the live tables' triggers let a
    row go only once its identical copy is archived.  Resting ``pause`` times each chunk's time, as
    the expiry job does.  Running it again moves only what became settled since.
    """
    now = now or timezone.now()
    after, total = 0, Archived()
    while True:
        started = time.perf_counter()
        with transaction.atomic(), sql.db_cursor() as cur:
            ids = sql.pick_archive_chunk(cur, after, chunk_size)
            if not ids:
                return total
            total = total + Archived(*sql.archive_chunk(cur, ids, before, now))
            after = ids[-1]
        time.sleep((time.perf_counter() - started) * pause)


# --- the spending order ------------------------------------------------------------


def spending_order(lot) -> tuple:
    """The sort key of the order lots are spent in: the first to expire first, never-expiring last,
    then the earliest earned, then by id.

    ``points.sql.SPENDING_ORDER`` says the same in SQL, for the statements that pick lots
    (tests/points/test_spending_order.py proves they agree).  Reversed, it is the order a partial
    give-back favours; debts are repaid in it.
    """
    if lot.expires_at is None:
        return (1, lot.earned_at, lot.id)
    return (0, lot.expires_at, lot.earned_at, lot.id)


# --- internals --------------------------------------------------------------------


def _lock_account(cur, member_id: int) -> _Account:
    row = core.lock_or_create(sql.lock_account, sql.create_account, cur, member_id, missing=MemberNotFound)
    return _Account(id=row.id, balance=row.balance)


def _open_lots(cur, account: _Account) -> list[_Lot]:
    return sql.open_lots(cur, account.id)


def _lots_to_spend(cur, account: _Account, amount: int, now: datetime) -> list[_Lot]:
    """The lots past due (to expire first) and, in spending order, just enough others to cover ``amount``.

    An account that earns often holds thousands of open lots; a spend needs
    a handful, so the running total is computed in SQL and only those rows
    travel (this keeps a hot account's lock short).
    """
    return sql.lots_to_spend(cur, account.id, now, amount)


def _expire_due_inline(cur, account: _Account, lots: list[_Lot], now: datetime) -> list[_Lot]:
    """Expire this account's lots that are past due; return the lots still open."""
    due = [lot for lot in lots if lot.expires_at is not None and lot.expires_at <= now]
    if not due:
        return lots
    total = sum(lot.remaining for lot in due)
    _post(
        cur,
        account,
        _Entry(
            kind=EntryKind.EXPIRE,
            amount=-total,
            key=f"expire:{uuid.uuid4().hex}",
            source=EXPIRY_SOURCE,
            allocations=[(lot.id, lot.remaining) for lot in due],
        ),
    )
    due_ids = {lot.id for lot in due}
    return [lot for lot in lots if lot.id not in due_ids]


def _take(lots: list[_Lot], amount: int) -> tuple[list[tuple[int, int]], int]:
    """Allocate ``amount`` over ``lots`` in order; returns the allocations and the shortfall."""
    allocations = []
    for lot in lots:
        if amount == 0:
            break
        taken = min(lot.remaining, amount)
        allocations.append((lot.id, taken))
        lot.remaining -= taken
        amount -= taken
    return allocations, amount


def _debit(cur, account: _Account, amount: int, entry: _Entry) -> Posting:
    now = timezone.now()
    lots = _expire_due_inline(cur, account, _lots_to_spend(cur, account, amount, now), now)
    core.check_balance(account.balance, amount, InsufficientPoints)
    entry.allocations, _ = _take(lots, amount)
    return _post(cur, account, entry)


def _fetch_original(cur, account: _Account, entry_id: int) -> dict:
    row = sql.original_entry(cur, account.id, entry_id)
    if row is None or row.kind not in (EntryKind.EARN, EntryKind.SPEND):
        raise EntryNotReversible()
    return row._asdict()


def _give_back_spend(cur, account: _Account, spend_id: int, amount: int, entry: _Entry) -> Posting:
    # Partial give-backs favour the member: the lots that last longest first (spending order reversed).
    restored: list[_Lot] = []
    left = amount
    for lot in sorted(sql.spend_lots(cur, spend_id), key=spending_order, reverse=True):
        back = min(lot.givable, left)
        if back > 0:
            restored.append(_Lot(lot.id, lot.remaining + back, lot.expires_at))
            entry.allocations.append((lot.id, -back))
            left -= back
    debt = max(-account.balance, 0)
    if debt:
        # Repay the debt from the given-back points in spending order (the soonest expiring would be
        # lost to expiry anyway): ``restored`` is in the reverse of it.
        repay, _ = _take(restored[::-1], min(debt, amount))
        entry.allocations.extend(repay)
    entry.amount = amount
    posting = _post(cur, account, entry)
    _expire_due_inline(cur, account, [lot for lot in restored if lot.remaining > 0], timezone.now())
    return Posting(entry_id=posting.entry_id, amount=amount, balance_after=account.balance)


def _claw_back_earn(cur, account: _Account, lot_id: int | None, amount: int, entry: _Entry) -> Posting:
    lots = _expire_due_inline(cur, account, _open_lots(cur, account), timezone.now())
    own_first = sorted(lots, key=lambda lot: lot.id != lot_id)  # stable: keeps expiry order otherwise
    entry.allocations, _shortfall = _take(own_first, amount)  # the shortfall becomes a debt
    entry.amount = -amount
    return _post(cur, account, entry)


def _post(cur, account: _Account, entry: _Entry) -> Posting:
    """Write one entry with its balance, allocations and lot changes in one statement."""
    account.balance += entry.amount
    lot = entry.new_lot
    rows = len(entry.allocations)
    statement = sql.post_statement(
        rows if rows <= sql.LISTED_ALLOCATIONS else -1, lot is not None, bool(lot and lot.repaid)
    )
    params: list = [
        account.id,
        entry.kind,
        entry.amount,
        account.balance,
        entry.source,
        entry.reference,
        entry.memo,
        entry.key,
        entry.request_hash,
        entry.reverses_id,
        entry.actor_id,
        timezone.now(),
    ]
    if rows > sql.LISTED_ALLOCATIONS:
        params += [[lot_id for lot_id, _ in entry.allocations], [taken for _, taken in entry.allocations]]
    else:
        params += [value for pair in entry.allocations for value in pair]
    if lot:
        params += [lot.amount, lot.amount - lot.repaid, lot.source, lot.earned_at, lot.expires_at]
        if lot.repaid:
            params.append(lot.repaid)
    return Posting(
        entry_id=sql.post(cur, statement, params), amount=entry.amount, balance_after=account.balance
    )


def _earn_in_one_statement(cur, member_id: int, entry: _Entry) -> Posting:
    """An earn without a cap: lock, entry, balance, lot and any debt repayment in one round trip.

    The UPDATE locks the account row and computes the new balance from its
    latest committed version (waiting for a posting that holds it), which is
    all an earn reads: it needs no lots, only the balance before it to repay
    a debt (a negative balance) from the new lot first.  A member without an
    account yet takes the usual path, which creates it.
    """
    lot = entry.new_lot
    now = timezone.now()
    row = sql.earn(
        cur,
        [
            member_id,
            entry.amount,
            entry.source,
            entry.reference,
            entry.memo,
            entry.key,
            entry.request_hash,
            now,
            lot.source,
            lot.earned_at,
            lot.expires_at,
        ],
    )
    if row is None:
        account = _lock_account(cur, member_id)
        lot.repaid = min(lot.amount, max(-account.balance, 0))
        return _post(cur, account, entry)
    return Posting(entry_id=row.entry_id, amount=entry.amount, balance_after=row.balance)
