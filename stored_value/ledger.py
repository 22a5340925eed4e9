"""Every posting to the stored-value ledger. Nothing else writes accounts or entries.

Each public function is one transaction that locks the member's
``StoredValueAccount`` row first (creating the account on first use), looks
the idempotency key up in a second statement (so it sees a duplicate that
committed while it waited for the lock), and writes the entry and the new
balances in one SQL statement.  Replaying a key with the same parameters
returns the first posting; with other parameters it is ``idempotency_conflict``.
The mechanics every ledger shares (amount checks, request hash, the account
lock, replays) are ``loyalty.ledger``'s.

Every entry carries its principal and bonus parts; a debit is split by the
merchant's spend order (``loyalty.rounding`` says how the odd fen falls), a
spend refund goes back to the parts the spend took, and neither part can go
negative (checked here, and by CHECK constraints as the last line).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from loyalty import ledger as core
from loyalty import rounding
from stored_value import sql
from stored_value.exceptions import (
    AccountFrozen,
    EntryNotRefundable,
    InsufficientBalance,
    InvalidAmount,
    MemberNotFound,
    RefundTooLarge,
)
from stored_value.models import MAX_FEN, EntryKind, SpendOrder

KEY_CONSTRAINT = "sv_entry_key_unique"


@dataclass(frozen=True)
class Posting:
    entry_id: int
    principal_fen: int
    bonus_fen: int
    principal_after_fen: int
    bonus_after_fen: int
    replayed: bool = False

    @property
    def amount_fen(self) -> int:
        return self.principal_fen + self.bonus_fen

    @property
    def balance_after_fen(self) -> int:
        return self.principal_after_fen + self.bonus_after_fen


_LEDGER = core.Ledger(
    entry_by_key=sql.entry_by_key,
    replayed=lambda row: Posting(
        row.id, row.principal_fen, row.bonus_fen, row.principal_after_fen, row.bonus_after_fen, replayed=True
    ),
    account_id=sql.account_id,
    key_constraint=KEY_CONSTRAINT,
    refusals=(InsufficientBalance, AccountFrozen),
)
_check_amount = functools.partial(core.check_amount, invalid=InvalidAmount, most=MAX_FEN)


@dataclass
class _Account:
    id: int
    principal: int
    bonus: int
    frozen: bool
    spend_order: str = SpendOrder.PROPORTIONAL


# --- public postings ----------------------------------------------------------


def stored_value_spend(
    *,
    member_id: int,
    amount_fen: int,
    idempotency_key: str,
    source: str = "",
    reference: str = "",
    memo: str = "",
    savepoint: bool = True,
) -> Posting:
    """Debit ``amount_fen``, split over principal and bonus by the policy's spend order.

    Refused with ``account_frozen`` or ``insufficient_balance`` (nothing written).
    ``savepoint=False`` as in ``points_spend``: for a caller that rolls back whenever the spend raises
    and never reuses a key (checkout's commit, keyed by a new order number).
    """
    _check_amount(amount_fen)
    request_hash = core.request_hash(
        kind=EntryKind.SPEND, amount=amount_fen, source=source, reference=reference
    )

    def debit(cur, account: _Account) -> Posting:
        if account.frozen:
            raise AccountFrozen()
        core.check_balance(
            account.principal + account.bonus,
            amount_fen,
            InsufficientBalance,
            names=("balance_fen", "requested_fen"),
        )
        principal, bonus = _split(amount_fen, account, account.spend_order)
        return _post(
            cur,
            account,
            kind=EntryKind.SPEND,
            principal=-principal,
            bonus=-bonus,
            key=idempotency_key,
            request_hash=request_hash,
            source=source,
            reference=reference,
            memo=memo,
        )

    return _LEDGER.post_or_replay(
        member_id=member_id,
        key=idempotency_key,
        request_hash=request_hash,
        post=lambda cur: debit(cur, _lock_account(cur, member_id)),
        savepoint=savepoint,
    )


def stored_value_refund_spend(
    *, member_id: int, entry_id: int, idempotency_key: str, amount_fen: int | None = None, memo: str = ""
) -> Posting:
    """Give back all or part of a spend to the parts it was taken from.

    Partial refunds share out principal and bonus in the spend's proportion;
    together the refunds of a spend never exceed it, and the last one returns
    exactly what is left of each part (``loyalty.rounding.split_refund``).
    Allowed on a frozen account: it only gives value back.
    """
    if amount_fen is not None:
        _check_amount(amount_fen)
    request_hash = core.request_hash(kind=EntryKind.SPEND_REFUND, entry=entry_id, amount=amount_fen)
    with transaction.atomic(), sql.db_cursor() as cur:
        account = _lock_account(cur, member_id)
        replay = _LEDGER.replay(cur, account.id, idempotency_key, request_hash)
        if replay:
            return replay
        row = sql.spend_to_refund(cur, account.id, entry_id)
        if row is None or row.kind != EntryKind.SPEND:
            raise EntryNotRefundable()
        principal_spent, bonus_spent = row.principal_spent, row.bonus_spent
        source, reference = row.source, row.reference
        principal_left, bonus_left = principal_spent - row.principal_back, bonus_spent - row.bonus_back
        amount = principal_left + bonus_left if amount_fen is None else amount_fen
        if amount == 0 or amount > principal_left + bonus_left:
            raise RefundTooLarge(details={"refundable_fen": principal_left + bonus_left})
        principal, bonus = rounding.split_refund(
            amount_fen=amount,
            principal_left=principal_left,
            bonus_left=bonus_left,
            principal_spent=principal_spent,
            bonus_spent=bonus_spent,
        )
        return _post(
            cur,
            account,
            kind=EntryKind.SPEND_REFUND,
            principal=principal,
            bonus=bonus,
            key=idempotency_key,
            request_hash=request_hash,
            source=source,
            reference=reference,
            memo=memo,
            reverses_id=entry_id,
        )


#: The source of the entry that pays a closed account's spend refund out (``stored_value_refund_spend_paid_out``).
CLOSURE_SOURCE = "closure"


def stored_value_refund_spend_paid_out(
    *, member_id: int, entry_id: int, idempotency_key: str, amount_fen: int, reference: str, memo: str = ""
) -> tuple[Posting, Posting]:
    """A spend refund for a closed account (注销): given back and taken straight out again.

    A closed account may hold nothing (closure refuses while any remains), yet
    an order it paid with stored value can still be refunded.  So, in one
    transaction under the account's lock: the ``spend_refund`` entry (the
    parts it came from, as for any account, so the spend's refunds stay
    exact) and an ``adjust`` entry (source ``closure``, no operator) that
    takes both parts out again — the principal is money the merchant pays
    back outside stored value (the caller reports it), the bonus is
    forfeited, as a recharge refund forfeits it.  The balance is what it was
    (zero) and the ledger shows why.  Idempotent by ``idempotency_key``.
    Returns (the refund, the payout).
    """
    with transaction.atomic(), sql.db_cursor() as cur:
        back = stored_value_refund_spend(
            member_id=member_id,
            entry_id=entry_id,
            idempotency_key=idempotency_key,
            amount_fen=amount_fen,
            memo=memo,
        )
        account = _lock_account(cur, member_id)  # held already: the balances after the refund
        key = f"paid-out:{back.entry_id}"
        request_hash = core.request_hash(kind=EntryKind.ADJUST, refund=back.entry_id, source=CLOSURE_SOURCE)
        out = _LEDGER.replay(cur, account.id, key, request_hash) or _post(
            cur,
            account,
            kind=EntryKind.ADJUST,
            principal=-back.principal_fen,
            bonus=-back.bonus_fen,
            key=key,
            request_hash=request_hash,
            source=CLOSURE_SOURCE,
            reference=reference,
            memo=memo,
        )
    return back, out


def stored_value_adjust(
    *,
    member_id: int,
    principal_fen: int,
    bonus_fen: int,
    reason: str,
    actor_id: int,
    idempotency_key: str,
    source: str = "adjust",
    reference: str = "",
) -> Posting:
    """An operator's correction of either part (signed amounts), with reason and actor on the entry.

    ``source``/``reference``: an adjustment an app above makes in the operator's name (an import's
    opening balance and its undo: ``migration``, referencing the import)."""
    if principal_fen == 0 and bonus_fen == 0:
        raise InvalidAmount()
    for part in (principal_fen, bonus_fen):
        if part:
            _check_amount(abs(part))
    # An operator's own adjustment repeats its reason and operator; an app's repeats its reference
    # (an import of the same file by another operator is the same posting).
    who = (
        {"reason": reason, "actor": actor_id} if source == "adjust" else {"source": source, "ref": reference}
    )
    request_hash = core.request_hash(kind=EntryKind.ADJUST, principal=principal_fen, bonus=bonus_fen, **who)
    with transaction.atomic(), sql.db_cursor() as cur:
        account = _lock_account(cur, member_id)
        replay = _LEDGER.replay(cur, account.id, idempotency_key, request_hash)
        if replay:
            return replay
        if account.principal + principal_fen < 0 or account.bonus + bonus_fen < 0:
            raise InsufficientBalance(
                details={"principal_fen": account.principal, "bonus_fen": account.bonus}
            )
        return _post(
            cur,
            account,
            kind=EntryKind.ADJUST,
            principal=principal_fen,
            bonus=bonus_fen,
            key=idempotency_key,
            request_hash=request_hash,
            source=source,
            reference=reference,
            memo=reason[:200],
            actor_id=actor_id,
        )


def stored_value_open_accounts(
    *, items: list[tuple], reason: str, actor_id: int, source: str
) -> dict[str, int]:
    """Opening balances for members who have no stored-value account yet (members an import has just
    created, in the caller's transaction): each account with one ``adjust`` entry of its principal and
    bonus, for many members in one statement (``sql.open_accounts``).

    ``items``: (member_id, principal_fen, bonus_fen, idempotency_key, reference).  The entries are those
    ``stored_value_adjust(source=…)`` would post (same request hash), so a later adjust of a key
    replays.  A member with an account already fails the whole statement: the caller posts one by one.
    Returns {key: entry_id}.
    """
    rows = []
    for member_id, principal, bonus, key, reference in items:
        if principal == 0 and bonus == 0:
            raise InvalidAmount()
        for part in (principal, bonus):
            if part:
                _check_amount(part)
        who = {"source": source, "ref": reference}
        request_hash = core.request_hash(kind=EntryKind.ADJUST, principal=principal, bonus=bonus, **who)
        rows.append((member_id, principal, bonus, key, request_hash, reference))
    with transaction.atomic(), sql.db_cursor() as cur:
        return sql.open_accounts(
            cur,
            items=rows,
            kind=EntryKind.ADJUST,
            source=source,
            memo=reason[:200],
            actor_id=actor_id,
            now=timezone.now(),
        )


def stored_value_credit(
    *, member_id: int, recharge_id: int, principal_fen: int, bonus_fen: int, reference: str
) -> list[Posting]:
    """Credit a paid recharge: a ``recharge`` entry, and a ``bonus`` entry when there is a bonus.

    Keyed by the recharge order, so crediting twice posts once.  Called inside
    the payment notification's transaction, so the order's status changes
    with it.  A frozen account still receives a paid recharge: it was paid.
    """
    _check_amount(principal_fen)
    postings = []
    with transaction.atomic(), sql.db_cursor() as cur:
        account = _lock_account(cur, member_id)
        parts = [(EntryKind.RECHARGE, principal_fen, 0)]
        if bonus_fen:
            parts.append((EntryKind.BONUS, 0, bonus_fen))
        for kind, principal, bonus in parts:
            key = f"{kind}:{recharge_id}"
            request_hash = core.request_hash(kind=kind, principal=principal, bonus=bonus)
            postings.append(
                _LEDGER.replay(cur, account.id, key, request_hash)
                or _post(
                    cur,
                    account,
                    kind=kind,
                    principal=principal,
                    bonus=bonus,
                    key=key,
                    request_hash=request_hash,
                    source="recharge",
                    reference=reference,
                    recharge_id=recharge_id,
                )
            )
    return postings


def stored_value_debit_recharge(
    *,
    member_id: int,
    recharge_id: int,
    principal_fen: int,
    bonus_fen: int,
    idempotency_key: str,
    reference: str,
    memo: str,
    actor_id: int,
) -> Posting:
    """Post a recharge refund: ``principal_fen`` leaves (refunded), ``bonus_fen`` is forfeited.

    The caller (``recharges.recharge_refund``) has decided both under this
    account's lock; this only refuses to take more than the account holds.
    """
    # Keyed by the recharge alone: a replay returns the first refund even
    # though the refundable amounts it would compute now are different.
    request_hash = core.request_hash(kind=EntryKind.RECHARGE_REFUND, recharge=recharge_id)
    with transaction.atomic(), sql.db_cursor() as cur:
        account = _lock_account(cur, member_id)
        replay = _LEDGER.replay(cur, account.id, idempotency_key, request_hash)
        if replay:
            return replay
        if principal_fen > account.principal or bonus_fen > account.bonus:
            raise InsufficientBalance()
        return _post(
            cur,
            account,
            kind=EntryKind.RECHARGE_REFUND,
            principal=-principal_fen,
            bonus=-bonus_fen,
            key=idempotency_key,
            request_hash=request_hash,
            source="recharge",
            reference=reference,
            memo=memo[:200],
            recharge_id=recharge_id,
            actor_id=actor_id,
        )


def lock_account(*, member_id: int) -> tuple[int, int, bool]:
    """Lock (creating if needed) the member's account inside the caller's transaction.

    Returns (principal_fen, bonus_fen, frozen).  For services that must decide
    something from the balance and keep it from changing until they commit.
    """
    with sql.db_cursor() as cur:
        account = _lock_account(cur, member_id)
    return account.principal, account.bonus, account.frozen


def lock_accounts(*, member_ids: list[int]) -> None:
    """Lock (creating if needed) many members' accounts inside the caller's transaction, in id order:
    a workflow posting to several members takes them all before its first posting (an import's chunk)."""
    if member_ids:
        with sql.db_cursor() as cur:
            sql.lock_accounts(cur, sorted(set(member_ids)))


# --- internals --------------------------------------------------------------------


def _lock_account(cur, member_id: int) -> _Account:
    row = core.lock_or_create(sql.lock_account, sql.create_account, cur, member_id, missing=MemberNotFound)
    return _Account(row.id, row.principal, row.bonus, row.frozen, row.spend_order)


def _split(amount: int, account: _Account, order: str) -> tuple[int, int]:
    if order == SpendOrder.PRINCIPAL_FIRST:
        principal = min(amount, account.principal)
        return principal, amount - principal
    if order == SpendOrder.BONUS_FIRST:
        bonus = min(amount, account.bonus)
        return amount - bonus, bonus
    return rounding.split_proportional(
        amount_fen=amount, principal_fen=account.principal, bonus_fen=account.bonus
    )


def _post(
    cur,
    account: _Account,
    *,
    kind: str,
    principal: int,
    bonus: int,
    key: str,
    request_hash: str,
    source: str = "",
    reference: str = "",
    memo: str = "",
    reverses_id: int | None = None,
    recharge_id: int | None = None,
    actor_id: int | None = None,
) -> Posting:
    """Write the entry and the account's new balances in one statement."""
    account.principal += principal
    account.bonus += bonus
    entry_id = sql.post(
        cur,
        [
            account.id,
            kind,
            principal,
            bonus,
            account.principal,
            account.bonus,
            source,
            reference,
            memo,
            key,
            request_hash,
            reverses_id,
            recharge_id,
            actor_id,
            timezone.now(),
        ],
    )
    return Posting(entry_id, principal, bonus, account.principal, account.bonus)
