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

from django.utils import timezone

from coupons.services import gift_pack_issue
from membership import sql
from membership.models import BirthdayMode, Tier
from membership.tiers import membership_policy


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
        rows = sql.birthdays(after=after, month=today.month, day=day, days=days, limit=chunk_size)
        if not rows:
            return seen
        for row in rows:
            pack_id = packs.get(row.level)
            if pack_id:
                gift_pack_issue(pack_id=pack_id, member_id=row.member_id, occasion=f"birthday:{today.year}")
        seen += len(rows)
        after = rows[-1].member_id
