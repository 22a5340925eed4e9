"""Remind members whose points expire soon (once per member and expiry date)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from notifications.services import Draft, notify_many
from points import sql
from points.earning import points_policy

KIND = "points_expiring"


def points_remind_expiring(
    *, days: int | None = None, chunk_size: int = 5000, now: datetime | None = None
) -> int:
    """Notify every member with points expiring within ``days`` (default: the policy's).

    Closed accounts are told nothing (``members.receiving``).
    Set-based, in chunks of accounts (keyset on the account id).  The dedupe
    key names the member and the local date of the soonest expiry, so a
    second run, or a run resumed after a crash, sends nothing twice.
    Returns how many reminders were new.
    """
    now = now or timezone.now()
    days = points_policy().reminder_days if days is None else days
    after, sent = 0, 0
    while True:
        rows = sql.expiring(now, now + timedelta(days=days), after, chunk_size)
        if not rows:
            return sent
        sent += notify_many(_draft(row.member_id, row.points, row.expires_at) for row in rows)
        after = rows[-1].account_id


def _draft(member_id: int, points: int, expires_at: datetime) -> Draft:
    # The last day the points can be used, in the merchant's time zone.
    last_day = (timezone.localtime(expires_at) - timedelta(microseconds=1)).date()
    return Draft(
        member_id=member_id,
        kind=KIND,
        title=_("Points expiring soon"),
        body=_("%(points)s points expire after %(day)s. Use them before they are gone.")
        % {"points": points, "day": last_day.isoformat()},
        dedupe_key=f"{KIND}:{last_day.isoformat()}",
        data={"points": points, "expires_at": expires_at.isoformat()},
    )
