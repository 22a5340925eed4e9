"""The posting mechanics every ledger shares (points, stored value, growth), written once.

A ledger is an append-only table of entries, each keyed by an idempotency key unique per account,
with the account's balance cached on a row that every posting locks first.  What differs between
ledgers (their SQL, their entries, their errors) each one passes in: the core imports no app.

- ``check_amount`` and ``check_balance``: an amount is an integer in the ledger's range (a bool is
  none); a debit never takes more than the balance.
- ``request_hash``: what a replay of a key must repeat, hashed.
- ``lock_or_create``: lock the account row; on first use create it and lock again.
- ``Ledger.replay``: the entry posted under a key answers a repeated request with the same hash, and
  is ``idempotency_conflict`` with another.
- ``Ledger.post_or_replay``: the hot paths post without looking the key up first; a clash on the
  key's unique index, or a refusal, is answered by the first posting, which has committed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError

from loyalty import prepared
from loyalty.errors import IdempotencyConflict
from loyalty.rows import db_cursor


def check_amount(
    amount, *, invalid: Callable[[], Exception], most: int | None = None, least: int = 1
) -> None:
    """Raise ``invalid()`` unless ``amount`` is an integer from ``least`` to ``most`` (no bound: None)."""
    if (
        not isinstance(amount, int)
        or isinstance(amount, bool)
        or amount < least
        or (most is not None and amount > most)
    ):
        raise invalid()


def check_balance(
    balance: int,
    amount: int,
    insufficient: type[Exception],
    *,
    names: tuple[str, str] = ("balance", "requested"),
) -> None:
    """Refuse a debit of ``amount`` that ``balance`` does not cover (``insufficient``, whose details
    name both: ``names``; a debt shows as 0)."""
    if balance < amount:
        raise insufficient(details={names[0]: max(balance, 0), names[1]: amount})


def request_hash(**params) -> str:
    """The hash of a posting's parameters, stored on its entry: a replay of its key must repeat them."""
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


def lock_or_create(lock: Callable, create: Callable, *key, missing: type[Exception]):
    """``lock(*key)``: the account's row, locked; on first use ``create(*key)`` and lock again.

    ``create`` inserts with ON CONFLICT DO NOTHING, so two first postings of one member create one
    row; still none after it (no such member) is ``missing()``.
    """
    row = lock(*key)
    if row is None:
        create(*key)
        row = lock(*key)
        if row is None:
            raise missing()
    return row


@dataclass(frozen=True)
class Ledger:
    """What the shared mechanics need to know of one ledger.

    ``entry_by_key(cur, account_id, key)``: the entry posted under ``key``, or None; ``replayed(row)``:
    its posting, marked replayed; ``hash_of(row)``: the request hash it was posted with (stored on the
    entry where the ledger keeps one).  For ``post_or_replay``: ``account_id(cur, member_id)``, the
    name of the key's unique constraint, and the refusals a replay may explain (a repeated spend that
    emptied the account is refused the second time).
    """

    entry_by_key: Callable[[Any, int, str], Any]
    replayed: Callable[[Any], Any]
    hash_of: Callable[[Any], str] = lambda row: row.request_hash
    account_id: Callable[[Any, int], int | None] | None = None
    key_constraint: str = ""
    refusals: tuple[type[Exception], ...] = ()

    def replay(self, cur, account_id: int, key: str, request_hash: str):
        """The first posting of ``key`` if the request repeats it; None if the key is new."""
        row = self.entry_by_key(cur, account_id, key)
        if row is None:
            return None
        if self.hash_of(row) != request_hash:
            raise IdempotencyConflict()
        return self.replayed(row)

    def post_or_replay(self, *, member_id: int, key: str, request_hash: str, post, savepoint: bool = True):
        """Run ``post(cur)``, which locks the account first, in a transaction (``loyalty.prepared``).

        The hot paths do not look the key up before posting: that would be one more statement while
        the account is locked, on every posting, for the rare duplicate.  A duplicate's INSERT
        violates the unique (account, key) index instead (its first posting has committed, since it
        held the same lock) and the whole attempt rolls back; then the first posting is returned, or
        ``idempotency_conflict``.  A refusal looks for a replay too.  ``savepoint=False`` (a caller
        whose transaction any error aborts, and whose key is new): errors are raised as they are.
        """
        try:
            with prepared.atomic_cursor(savepoint=savepoint) as cur:
                return post(cur)
        except (IntegrityError, *self.refusals) as exc:
            if not savepoint or (isinstance(exc, IntegrityError) and self.key_constraint not in str(exc)):
                raise
            replay = self._committed_replay(member_id, key, request_hash)
            if (
                replay is None
            ):  # a refusal of a new key (a clash cannot be: its row committed before our lock)
                raise
            return replay

    def _committed_replay(self, member_id: int, key: str, request_hash: str):
        with db_cursor() as cur:
            account_id = self.account_id(cur, member_id)
            return self.replay(cur, account_id, key, request_hash) if account_id else None
