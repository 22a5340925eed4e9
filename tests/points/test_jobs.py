from unittest import mock

import pytest
import time_machine
from django.db import connection

from notifications.models import Notification
from points import ledger, reminders
from points.models import PointsEntry
from points.tasks import expire_due, remind_expiring
from tests.factories import MemberFactory
from tests.helpers import assert_ledgers_consistent, local
from tests.points.helpers import balance, earn, lots

pytestmark = pytest.mark.django_db


@pytest.fixture
def members_with_due_lots():
    with time_machine.travel(local(2026, 11, 1, 12), tick=False):
        members = [MemberFactory() for _ in range(7)]
        for m in members:
            earn(m, 100, expires_at=local(2026, 11, 10), key="due")
            earn(m, 50, expires_at=local(2026, 11, 10), key="due2")
            earn(m, 30, expires_at=local(2027, 1, 1), key="later")
        spend_member = members[0]
        ledger.points_spend(member_id=spend_member.pk, amount=120, idempotency_key="s")
    return members


def test_the_expiry_job_expires_every_due_lot_in_chunks(members_with_due_lots):
    with time_machine.travel(local(2026, 11, 10), tick=False):
        assert ledger.points_expire_due(chunk_size=3) == 7

    assert [balance(m) for m in members_with_due_lots] == [30] * 7
    assert lots(members_with_due_lots[0]) == [(100, 0), (50, 0), (30, 30)]
    assert PointsEntry.objects.get(account__member=members_with_due_lots[0], kind="expire").amount == -30
    assert_ledgers_consistent()


def test_running_the_expiry_job_twice_changes_nothing_the_second_time(members_with_due_lots):
    with time_machine.travel(local(2026, 11, 11), tick=False):
        expire_due.delay()
        entries = PointsEntry.objects.count()
        assert ledger.points_expire_due() == 0
    assert PointsEntry.objects.count() == entries


def test_a_run_killed_after_some_chunks_is_finished_by_the_next(members_with_due_lots):
    real_execute = connection.cursor().__class__.execute
    calls = {"chunks": 0}

    def dies_on_third_chunk(self, sql, params=None):
        if "WITH due AS" in sql:
            calls["chunks"] += 1
            if calls["chunks"] == 3:
                raise SystemExit("worker killed")
        return real_execute(self, sql, params)

    with time_machine.travel(local(2026, 11, 11), tick=False):
        with (
            mock.patch.object(connection.cursor().__class__, "execute", dies_on_third_chunk),
            pytest.raises(SystemExit),
        ):
            ledger.points_expire_due(chunk_size=2)
        done_after_crash = PointsEntry.objects.filter(kind="expire").count()
        ledger.points_expire_due(chunk_size=2)

    assert done_after_crash == 4
    assert [balance(m) for m in members_with_due_lots] == [30] * 7
    assert PointsEntry.objects.filter(kind="expire").count() == 7
    assert_ledgers_consistent()


def test_members_are_reminded_once_of_points_expiring_within_the_window(members_with_due_lots):
    far = MemberFactory()
    with time_machine.travel(local(2026, 11, 1, 12), tick=False):
        earn(far, 10, expires_at=local(2027, 6, 1))

    with time_machine.travel(local(2026, 11, 5, 10), tick=False):
        assert remind_expiring.delay().get() == 7
        assert reminders.points_remind_expiring(chunk_size=2) == 0

    note = Notification.objects.get(member=members_with_due_lots[1])
    assert note.data["points"] == 150
    assert "2026-11-09" in note.body
    assert not Notification.objects.filter(member=far).exists()
