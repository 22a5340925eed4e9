"""Every reminder goes through ``notify_many``.

Channels deliver a batch of drafts.  The database channel always runs (it is
the member's inbox in the mini-program); a WeChat subscription-message
channel can be added to CHANNELS without touching the callers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone

from notifications.models import Notification


@dataclass(frozen=True)
class Draft:
    member_id: int
    kind: str
    title: str
    body: str
    dedupe_key: str
    data: dict = field(default_factory=dict)


class DatabaseChannel:
    name = "database"

    def deliver(self, drafts: list[Draft]) -> int:
        """Insert the drafts not delivered before; returns how many are new."""
        table = Notification._meta.db_table
        now = timezone.now()
        new = 0
        with connection.cursor() as cursor:
            for start in range(0, len(drafts), 1000):
                batch = drafts[start : start + 1000]
                cursor.execute(
                    f"INSERT INTO {table} (member_id, kind, title, body, data, dedupe_key, created_at) VALUES "
                    + ", ".join(["(%s, %s, %s, %s, %s::jsonb, %s, %s)"] * len(batch))
                    + " ON CONFLICT (member_id, dedupe_key) DO NOTHING",
                    [
                        v
                        for d in batch
                        for v in (d.member_id, d.kind, d.title, d.body, json.dumps(d.data), d.dedupe_key, now)
                    ],
                )
                new += cursor.rowcount
        return new


CHANNELS = [DatabaseChannel()]


@transaction.atomic
def notify_many(drafts: Iterable[Draft]) -> int:
    drafts = list(drafts)
    if not drafts:
        return 0
    # The database channel is first: what it reports new is what was sent.
    return [channel.deliver(drafts) for channel in CHANNELS][0]


def notification_mark_read(*, member_id: int, notification_id: int) -> bool:
    return bool(
        Notification.objects.filter(pk=notification_id, member_id=member_id, read_at__isnull=True).update(
            read_at=timezone.now()
        )
    )
