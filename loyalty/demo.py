"""The demo's clock and timeline: the demo year is seeded as it would have happened, event by event.

Every service reads the time from ``django.utils.timezone.now`` (``auto_now_add``
fields too), so the demo runs each event with that one function answering the
event's moment (``clock``): the rows it writes are dated that day, through the
real services, and nothing in the applications knows.  The ``Timeline`` runs
events in time order, so each ledger's entries are written in the order they
are dated; an event may schedule later ones (an order's refund, a member's
next visit).  Seeding only, one thread (time_machine is a test dependency).
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils import timezone


@contextmanager
def clock(at: datetime):
    """``timezone.now()`` answers ``at`` inside the block, then the real time again."""
    real = timezone.now
    timezone.now = lambda: at
    try:
        yield
    finally:
        timezone.now = real


def local_moment(day: date, at: time) -> datetime:
    """The aware datetime of a merchant-local day and time of day."""
    return timezone.make_aware(datetime.combine(day, at))


@dataclass
class Persona:
    """One demo member as the apps' demo modules plan their year: who, since when, active until when.

    ``rng`` is the member's own (seeded by the run's seed and the member's number), so one member's
    choices do not shift when another's change.  Past ``active_until`` the member stops coming
    (churn).  A ``loyal`` member (the programme's first) does everything all year, so every ledger
    has a year of entries however few members the demo has.
    """

    member: object
    joined: datetime
    active_until: datetime
    rng: random.Random
    loyal: bool = False


class Timeline:
    """Events of ``start``..``end`` run in time order, each under ``clock`` at its moment.

    An event dated outside the range never happens (the future has not come yet); events of
    the same moment run in the order they were added.
    """

    def __init__(self, *, start: datetime, end: datetime):
        self.start, self.end = start, end
        self._queue: list[tuple[datetime, int, Callable[[], object]]] = []
        self._order = itertools.count()
        self.ran = 0

    def at(self, moment: datetime, action: Callable[[], object]) -> None:
        if self.start <= moment < self.end:
            heapq.heappush(self._queue, (moment, next(self._order), action))

    def days(self) -> list[date]:
        first, last = timezone.localdate(self.start), timezone.localdate(self.end)
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]

    def every_day(self, at: time, action: Callable[[], object]) -> None:
        """A nightly job: ``action`` at ``at`` merchant time on every day of the range."""
        for day in self.days():
            self.at(local_moment(day, at), action)

    def run(self) -> int:
        """Run every event (and those they add) in time order; returns how many ran."""
        while self._queue:
            moment, _, action = heapq.heappop(self._queue)
            with clock(moment):
                action()
            self.ran += 1
        return self.ran
