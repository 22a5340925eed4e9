"""The project's default Celery beat schedules.

They are created in the database (django-celery-beat) after every
``migrate``, only when missing by name, so operators can change or disable
them in the admin (周期任务) and a later deploy never overwrites that.
Each app adds its jobs to DEFAULT_SCHEDULES.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext_noop


@dataclass(frozen=True)
class DefaultSchedule:
    name: str
    task: str
    minute: str = "0"
    hour: str = "*"
    day_of_week: str = "*"
    day_of_month: str = "*"
    month_of_year: str = "*"
    description: str = ""


DEFAULT_SCHEDULES: list[DefaultSchedule] = [
    DefaultSchedule(
        name=gettext_noop("Purge expired nonces and idempotency records"),
        task="loyalty.purge_expired",
        minute="17",
        description="Hourly housekeeping for signed requests and Idempotency-Key records.",
    ),
    DefaultSchedule(
        name=gettext_noop("Expire points past their expiry"),
        task="points.expire_due",
        minute="5",
        hour="0",
        description="Lots expire at local midnight; this runs just after. Postings also expire due lots inline.",
    ),
    DefaultSchedule(
        name=gettext_noop("Remind members of points expiring soon"),
        task="points.remind_expiring",
        minute="0",
        hour="10",
        description="Once per member and expiry date (see the points policy for how many days ahead).",
    ),
    DefaultSchedule(
        name=gettext_noop("Expire coupons past their validity"),
        task="coupons.expire_due",
        minute="10",
        hour="0",
        description="Set-based, in chunks with SKIP LOCKED; safe to rerun.",
    ),
    DefaultSchedule(
        name=gettext_noop("Release coupons locked by orders that never completed"),
        task="coupons.release_stale_locks",
        minute="*/5",
        description="A coupon whose lock expired is released unless its order is still open (that order's cancel or timeout releases it).",
    ),
    DefaultSchedule(
        name=gettext_noop("Resume bulk coupon issues left unfinished"),
        task="coupons.resume_bulk_issues",
        minute="*/10",
        description="Picks up a bulk issue whose task was lost or whose worker was killed; safe beside a running one.",
    ),
    DefaultSchedule(
        name=gettext_noop("Resume imports left unfinished"),
        task="migration.resume_imports",
        minute="*/10",
        description="Picks up an import whose commit task was lost or whose worker was killed; safe beside a running one.",
    ),
    DefaultSchedule(
        name=gettext_noop("Resume member exports left unfinished"),
        task="migration.resume_exports",
        minute="*/10",
        description="Writes again an export whose task was lost or whose worker was killed (EXPORT_MAX_ATTEMPTS starts in all, then failed); safe beside a running one.",
    ),
    DefaultSchedule(
        name=gettext_noop("Delete old member export files"),
        task="migration.prune_exports",
        minute="55",
        hour="3",
        description="Export files are personal data: deleted EXPORT_RETENTION_DAYS (7) after they were written; the job and its audit stay.",
    ),
    DefaultSchedule(
        name=gettext_noop("Remind members of coupons expiring soon"),
        task="coupons.remind_expiring",
        minute="30",
        hour="10",
        description="Once per member and day, for coupons expiring within 3 days.",
    ),
    DefaultSchedule(
        name=gettext_noop("Cancel committed orders never paid"),
        task="orders.cancel_expired",
        minute="*/5",
        description="Releases the coupons, points and stored value of orders not completed within the checkout timeout.",
    ),
    DefaultSchedule(
        name=gettext_noop("Close unpaid payments past their expiry"),
        task="payments.close_stale",
        minute="*/5",
        description="Asks WeChat Pay first: a payment it reports paid is credited, not closed.",
    ),
    DefaultSchedule(
        name=gettext_noop("Resubmit refunds WeChat Pay has not accepted yet"),
        task="payments.retry_refunds",
        minute="*/10",
        description="Refunds are submitted right after they are booked; this catches a lost task or an outage.",
    ),
    DefaultSchedule(
        name=gettext_noop("Send WeChat subscription messages still pending"),
        task="notifications.send_due_wechat",
        minute="*",
        description="Messages are sent right after the reminder commits; this retries WeChat outages (with growing delays) and a lost task.",
    ),
    DefaultSchedule(
        name=gettext_noop("Recalculate member tiers"),
        task="members.recalculate_tiers",
        minute="30",
        hour="2",
        description="Rolling-window growth; downgrades by one level at most, never while protected. Set-based.",
    ),
    DefaultSchedule(
        name=gettext_noop("Grant conditional membership cards missed during the day"),
        task="members.catch_up_conditional_cards",
        minute="0",
        hour="3",
        description="Cards are granted when the qualifying order completes; this catches rule changes and points.",
    ),
    DefaultSchedule(
        name=gettext_noop("Remind members of membership cards expiring soon"),
        task="members.remind_expiring_cards",
        minute="0",
        hour="11",
        description="Once per card and expiry date; paid cards get a renewal reminder.",
    ),
    DefaultSchedule(
        name=gettext_noop("Give membership cards' monthly coupons"),
        task="members.issue_monthly_card_coupons",
        minute="20",
        hour="0",
        day_of_month="1",
        description="Once per card and month (the gift pack's occasion).",
    ),
    DefaultSchedule(
        name=gettext_noop("Start member days and push their gifts"),
        task="members.run_member_days",
        minute="*/10",
        description="Pushes each occurrence once to its audience, resuming where a run stopped.",
    ),
    DefaultSchedule(
        name=gettext_noop("Give birthday gift packs"),
        task="members.give_birthday_gifts",
        minute="0",
        hour="9",
        description="Once a year per member, in the birthday month or on the day (membership policy).",
    ),
    DefaultSchedule(
        name=gettext_noop("Fail group buys past their deadline and refund them"),
        task="growth.fail_expired_groups",
        minute="*",
        description="Every payment of a group that did not fill in time is refunded in full; safe to rerun.",
    ),
    DefaultSchedule(
        name=gettext_noop("End bargains past their deadline"),
        task="growth.expire_bargains",
        minute="*/5",
        description="Bargains still cutting at their deadline end unbought; no money is held by one.",
    ),
    DefaultSchedule(
        name=gettext_noop("Complete mall redemptions shipped long enough ago"),
        task="mall.auto_complete",
        minute="40",
        hour="3",
        description="Shipped redemptions not confirmed by the member complete after MALL_AUTO_COMPLETE_DAYS (7).",
    ),
    DefaultSchedule(
        name=gettext_noop("Delete old member codes"),
        task="members.prune_member_codes",
        minute="50",
        hour="3",
        description="会员码 issued more than a day ago and used for no order; in chunks, safe to rerun.",
    ),
    DefaultSchedule(
        name=gettext_noop("Recalculate RFM scores"),
        task="analytics.rfm_nightly",
        minute="40",
        hour="2",
        description="RFM over the configured window, two set-based statements; also finishes an interrupted run.",
    ),
    DefaultSchedule(
        name=gettext_noop("Refresh the analytics report tables"),
        task="analytics.refresh_reports",
        minute="20",
        hour="2",
        description="Daily, monthly, cohort, attribution and coupon figures for the last 120 local days.",
    ),
]


def ensure_default_schedules(**_kwargs) -> int:
    """Create the missing default schedules; returns how many were created."""
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    created = 0
    for default in DEFAULT_SCHEDULES:
        if PeriodicTask.objects.filter(name=default.name).exists():
            continue
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=default.minute,
            hour=default.hour,
            day_of_week=default.day_of_week,
            day_of_month=default.day_of_month,
            month_of_year=default.month_of_year,
            timezone=settings.TIME_ZONE,
        )
        PeriodicTask.objects.create(
            name=default.name, task=default.task, crontab=crontab, description=default.description
        )
        created += 1
    return created
