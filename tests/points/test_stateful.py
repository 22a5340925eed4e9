"""Random interleavings of earn, spend, reverse, adjust, expiry and the clock.

After every step every invariant of ``verify_ledgers`` holds, and a few the
SQL checks cannot see: a refused posting writes nothing, a spend succeeds
exactly when the unexpired points cover it, and no lot past its expiry keeps
points once the job (or an inline expiry) has run.
"""

from datetime import timedelta
from itertools import count

import pytest
import time_machine
from django.contrib.auth.models import User
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from loyalty.errors import IdempotencyConflict
from points import ledger
from points.exceptions import InsufficientPoints, ReversalTooLarge
from points.models import PointsAccount, PointsEntry, PointsLot
from tests.factories import MemberFactory
from tests.helpers import assert_ledgers_consistent, local
from tests.points.helpers import snapshot

pytestmark = pytest.mark.django_db

keys = count()


class PointsLedgerMachine(RuleBasedStateMachine):
    earns = Bundle("earns")
    spends = Bundle("spends")

    def __init__(self):
        super().__init__()
        self.member = MemberFactory()
        self.clock = time_machine.travel(local(2026, 12, 31, 23, 0), tick=False)
        self.traveller = self.clock.start()
        self.operator_id = User.objects.create(username=f"operator{next(keys)}").pk
        self.last = None  # (function, kwargs, posting) of the latest successful posting

    def teardown(self):
        self.clock.stop()

    # --- helpers -------------------------------------------------------------

    def balance(self) -> int:
        account = PointsAccount.objects.filter(member=self.member).first()
        return account.balance if account else 0

    def unexpired(self) -> int:
        now = timezone.now()
        lots = PointsLot.objects.filter(account__member=self.member, remaining__gt=0)
        live = lots.exclude(expires_at__lte=now).aggregate(total=Sum("remaining"))["total"] or 0
        return live if self.balance() >= 0 else self.balance()

    def due_lots(self):
        return PointsLot.objects.filter(
            account__member=self.member, remaining__gt=0, expires_at__lte=timezone.now()
        )

    def post(self, function, **kwargs):
        kwargs.setdefault("idempotency_key", f"k{next(keys)}")
        posting = function(member_id=self.member.pk, **kwargs)
        self.last = (function, kwargs, posting)
        return posting

    # --- rules --------------------------------------------------------------

    @rule(
        target=earns,
        amount=st.integers(1, 500),
        hours=st.one_of(st.none(), st.integers(1, 24 * 10)),
    )
    def earn(self, amount, hours):
        # Short lives, so lots often expire between a spend and its reversal.
        expires_at = None if hours is None else timezone.now() + timedelta(hours=hours)
        posting = self.post(ledger.points_earn, amount=amount, source="test", expires_at=expires_at)
        assert posting.amount == amount
        return posting.entry_id

    @rule(target=spends, amount=st.integers(1, 800))
    def spend(self, amount):
        usable, before = self.unexpired(), snapshot(self.member)
        try:
            posting = self.post(ledger.points_spend, amount=amount)
        except InsufficientPoints:
            assert usable < amount
            # An inline expiry may commit nothing either: the whole posting rolls back.
            assert snapshot(self.member) == before
            return multiple()
        assert usable >= amount
        now = timezone.now()
        taken_from = PointsLot.objects.filter(allocations__entry_id=posting.entry_id)
        assert not taken_from.filter(expires_at__lte=now).exists(), "spent expired points"
        assert not self.due_lots().exists(), "a spend leaves due lots unexpired"
        return posting.entry_id

    @rule(entry_id=earns, part=st.sampled_from([None, 1, 7, 50]))
    def reverse_earn(self, entry_id, part):
        self.reverse(entry_id, part)

    @rule(entry_id=spends, part=st.sampled_from([None, 1, 7, 50]))
    def reverse_spend(self, entry_id, part):
        self.reverse(entry_id, part)

    def reverse(self, entry_id, part):
        before = snapshot(self.member)
        try:
            posting = self.post(ledger.points_reverse, entry_id=entry_id, amount=part)
        except ReversalTooLarge:
            assert snapshot(self.member) == before
            return
        revived = PointsLot.objects.filter(allocations__entry_id=posting.entry_id).filter(
            remaining__gt=0, expires_at__lte=timezone.now()
        )
        assert not revived.exists(), "a reversal revived expired points"

    @rule(amount=st.integers(-300, 300).filter(bool))
    def adjust(self, amount):
        before = snapshot(self.member)
        try:
            self.post(ledger.points_adjust, amount=amount, reason="stateful", actor_id=self.operator_id)
        except InsufficientPoints:
            assert amount < 0 and self.unexpired() < -amount
            assert snapshot(self.member) == before

    @rule(hours=st.integers(1, 24 * 5))
    def advance_clock(self, hours):
        self.traveller.shift(timedelta(hours=hours))

    @rule()
    def run_expiry_job(self):
        ledger.points_expire_due(chunk_size=1)
        assert not self.due_lots().exists()

    @precondition(lambda self: self.last is not None)
    @rule()
    def replay_last(self):
        function, kwargs, posting = self.last
        entries = PointsEntry.objects.count()
        again = function(member_id=self.member.pk, **kwargs)
        assert (again.entry_id, again.replayed) == (posting.entry_id, True)
        assert PointsEntry.objects.count() == entries

    @precondition(lambda self: self.last is not None)
    @rule()
    def reuse_key_with_other_parameters(self):
        _, kwargs, _ = self.last
        before = snapshot(self.member)
        with pytest.raises(IdempotencyConflict):
            ledger.points_earn(
                member_id=self.member.pk,
                amount=999_999,
                source="other",
                expires_at=None,
                idempotency_key=kwargs["idempotency_key"],
            )
        assert snapshot(self.member) == before

    # --- invariants ------------------------------------------------------------

    @invariant()
    def ledger_is_consistent(self):
        assert_ledgers_consistent()


def test_random_postings_keep_every_invariant(db):
    run_state_machine_as_test(
        PointsLedgerMachine,
        settings=settings(
            max_examples=40,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
