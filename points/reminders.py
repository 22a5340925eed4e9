"""Remind members whose points expire soon (once per member and expiry date)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from members.receiving import receiving_sql
from notifications.services import Draft, notify_many
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
        with connection.cursor() as cur:
            cur.execute(
                f"""SELECT l.account_id, a.member_id, SUM(l.remaining)::bigint, MIN(l.expires_at)
                   FROM points_pointslot l JOIN points_pointsaccount a ON a.id = l.account_id
                   JOIN members_member m ON m.id = a.member_id
                   WHERE l.remaining > 0 AND l.expires_at > %s AND l.expires_at <= %s AND l.account_id > %s
                     AND {receiving_sql("m")}
                   GROUP BY l.account_id, a.member_id ORDER BY l.account_id LIMIT %s""",
                [now, now + timedelta(days=days), after, chunk_size],
            )
            rows = cur.fetchall()
        if not rows:
            return sent
        sent += notify_many(
            _draft(member_id, points, expires_at) for _, member_id, points, expires_at in rows
        )
        after = rows[-1][0]


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
