"""Demo points: the expiry an operator chose, members' daily check-ins, and the nightly expiry job.

Sign-up, purchase, first-order, invite and gift points are earned by the real
flows that give them (login, checkout, recharge plans, gift packs); points are
spent at checkout and in the mall.  What is left to this module: the earning
rules' expiry (so points expire within the demo year), the check-in habit of
some members, and the expiry job run each night.
"""

from datetime import datetime, time, timedelta

from django.utils import timezone

from points.earning import points_check_in
from points.ledger import points_expire_due
from points.models import EarningRule, ExpiryPolicy

#: Rule kind -> days its points last (the others keep the default: to the end of next year).
ROLLING_EXPIRY = {"checkin": 90, "signup": 180}


def configure_points() -> None:
    """As an operator would set it (积分规则): check-in points last 90 days, sign-up points 180."""
    for rule in EarningRule.objects.filter(kind__in=ROLLING_EXPIRY):
        rule.expiry_policy, rule.expiry_days = ExpiryPolicy.ROLLING_DAYS, ROLLING_EXPIRY[rule.kind]
        rule.save(update_fields=["expiry_policy", "expiry_days"])


def plan_member(timeline, persona) -> None:
    """About one member in ten checks in: most days for some weeks or months (the loyal member every
    other day all year), mornings or evenings."""
    rng = persona.rng
    if rng.random() >= 0.1 and not persona.loyal:
        return
    keen = 0.5 if persona.loyal else rng.uniform(0.25, 0.8)
    first = timezone.localdate(persona.joined) + timedelta(days=rng.randint(0, 7))
    habit_ends = persona.joined + timedelta(days=rng.uniform(14, 90))
    habit_ends = min(
        persona.active_until if persona.loyal else habit_ends, persona.active_until, timeline.end
    )
    hour = rng.choice([7, 8, 12, 21, 22])
    day = first
    while True:
        moment = timezone.make_aware(datetime.combine(day, time(hour))) + timedelta(
            seconds=rng.randrange(3600)
        )
        if moment >= habit_ends:
            return
        if rng.random() < keen:
            timeline.at(moment, _check_in(persona.member.pk))
        day += timedelta(days=1)


def _check_in(member_id: int):
    return lambda: points_check_in(member_id=member_id)


def plan_nightly(timeline) -> None:
    """The expiry job, at 00:05 as scheduled: lots expire at local midnight."""
    timeline.every_day(time(0, 5), lambda: points_expire_due(pause=0))
