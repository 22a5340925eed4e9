"""Birthday gifts: the member's tier's birthday gift pack, once a year.

``MembershipPolicy.birthday_mode`` decides when: from the first day of the
birthday month (``month``; a member who adds a birthday later in that month
still gets it) or on the day itself (``day``; 29 February is celebrated on
28 February in other years).  The gift pack's occasion ``birthday:<year>``
makes it once per member and year whatever the job does; the job runs
daily, in chunks of member ids, and a rerun only finds grants already made.

A member can change their birthday once a year (``services.member_update_profile``),
so moving it around does not collect more gifts — and the occasion is per
year anyway.  Closed accounts get nothing (``members.receiving``).
"""

from __future__ import annotations

import calendar
from datetime import datetime

from django.db import connection
from django.utils import timezone

from coupons.services import gift_pack_issue
from members.receiving import receiving_sql
from membership.models import BirthdayMode, Tier
from membership.tiers import membership_policy

_BIRTHDAYS_SQL = f"""
SELECT m.id, COALESCE(ms.tier_level, 0)
  FROM members_member m LEFT JOIN members_membership ms ON ms.member_id = m.id
 WHERE m.birthday IS NOT NULL AND m.id > %(after)s AND {receiving_sql("m")}
   AND EXTRACT(MONTH FROM m.birthday) = %(month)s
   AND (%(day)s::int IS NULL OR EXTRACT(DAY FROM m.birthday) = ANY(%(days)s::int[]))
 ORDER BY m.id
 LIMIT %(limit)s
"""


def birthdays_give(*, now: datetime | None = None, chunk_size: int = 1000) -> int:
    """Give today's birthday gifts; returns how many members were considered."""
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    policy = membership_policy()
    packs = dict(Tier.objects.filter(birthday_pack__isnull=False).values_list("level", "birthday_pack_id"))
    if not packs:
        return 0
    day, days = None, []
    if policy.birthday_mode == BirthdayMode.DAY:
        day, days = today.day, [today.day]
        if today.month == 2 and today.day == 28 and not calendar.isleap(today.year):
            days.append(29)
    after, seen = 0, 0
    while True:
        with connection.cursor() as cur:
            cur.execute(
                _BIRTHDAYS_SQL,
                {"after": after, "month": today.month, "day": day, "days": days, "limit": chunk_size},
            )
            rows = cur.fetchall()
        if not rows:
            return seen
        for member_id, level in rows:
            pack_id = packs.get(level)
            if pack_id:
                gift_pack_issue(pack_id=pack_id, member_id=member_id, occasion=f"birthday:{today.year}")
        seen += len(rows)
        after = rows[-1][0]
