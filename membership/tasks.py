"""Membership jobs: thin wrappers, each safe to run twice and resumable (see each service)."""

from celery import shared_task

from loyalty.jobs import once_per_period
from membership import birthdays, cards, member_days, tiers

# The task names keep their ``members.`` prefix from before the split: django-celery-beat rows
# (``loyalty.schedules``), JobRun claims and messages already queued name the tasks by them.


@shared_task(name="members.recalculate_tiers", time_limit=3 * 3600, soft_time_limit=3 * 3600 - 300)
@once_per_period
def recalculate_tiers() -> dict:
    return tiers.tiers_recalculate()


@shared_task(name="members.remind_expiring_cards", time_limit=3600, soft_time_limit=3300)
@once_per_period
def remind_expiring_cards() -> int:
    return cards.cards_remind_expiring()


@shared_task(name="members.catch_up_conditional_cards", time_limit=3600, soft_time_limit=3300)
@once_per_period
def catch_up_conditional_cards() -> int:
    return cards.cards_catch_up_conditional()


@shared_task(name="members.grant_conditional_cards", time_limit=60, soft_time_limit=50)
def grant_conditional_cards(member_id: int) -> int:
    """Points were posted while the member's membership was busy (``cards.cards_grant_for_points``)."""
    return len(cards.cards_grant_conditional_now(member_id=member_id))


@shared_task(name="members.issue_monthly_card_coupons", time_limit=3600, soft_time_limit=3300)
@once_per_period
def issue_monthly_card_coupons() -> int:
    return cards.cards_issue_monthly()


@shared_task(name="members.run_member_days", time_limit=3600, soft_time_limit=3300)
@once_per_period
def run_member_days() -> int:
    return member_days.member_days_run()


@shared_task(name="members.give_birthday_gifts", time_limit=3600, soft_time_limit=3300)
@once_per_period
def give_birthday_gifts() -> int:
    return birthdays.birthdays_give()
