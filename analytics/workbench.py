"""The 工作台: the home page's to-dos (counts linking to the filtered admin lists) and today's figures
against yesterday's.

Analytics sits above every app, so it may read them all.  Each to-do and each figure names the view
permission of the page it links to: an operator sees only what they can open (and so act on).
Each count is one query; each figure is one query (today and yesterday as two filtered sums).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.db.models import Count, F, Q, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from coupons.models import BulkIssue, BulkIssueStatus, CouponTemplate
from loyalty.admin_tools import LOW_STOCK, this_week_q
from loyalty.models import JobRun, JobRunStatus
from loyalty.money import format_fen
from mall.models import ItemKind, MallItem, Redemption, RedemptionStatus
from members.models import Member
from membership.models import MemberDay
from orders.models import Order
from payments.models import Payment, PaymentRefund, PaymentStatus, RefundStatus
from points.models import EntryKind, PointsEntry
from stored_value.models import RechargeOrder, RechargePlan
from stores.scoping import is_store_scoped, scope

#: A job still "running" after this long has most likely lost its worker.
STUCK_AFTER = timedelta(hours=1)


@dataclass(frozen=True)
class Todo:
    title: str
    permission: str  # the view permission of the list it links to
    url: str
    count: object  # a callable giving the number, run only for those allowed to see it


@dataclass(frozen=True)
class Figure:
    title: str
    permission: str
    url: str
    values: object  # a callable giving (today, yesterday) of the rows ``scoped(queryset)`` leaves
    money: bool = False
    store_field: str | None = None  # the path to the row's store: shown to a store's staff, for their stores


def _list(model, query: str = "") -> str:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return f"{url}?{query}" if query else url


def _stuck_before() -> datetime:
    return timezone.now() - STUCK_AFTER


def todos() -> list[Todo]:
    """What needs doing, in the order the home page shows it."""
    return [
        Todo(
            _("Mall orders to ship"),
            "mall.view_redemption",
            _list(Redemption, "status__exact=paid&kind__exact=physical"),
            lambda: Redemption.objects.filter(status=RedemptionStatus.PAID, kind=ItemKind.PHYSICAL).count(),
        ),
        Todo(
            _("Failed WeChat refunds"),
            "payments.view_paymentrefund",
            _list(PaymentRefund, "status__exact=failed"),
            lambda: PaymentRefund.objects.filter(status=RefundStatus.FAILED).count(),
        ),
        Todo(
            _("Payments awaiting confirmation"),
            "payments.view_payment",
            _list(Payment, "status__exact=created"),
            lambda: Payment.objects.filter(status=PaymentStatus.CREATED).count(),
        ),
        Todo(
            _("Items nearly out of stock"),
            "mall.view_mallitem",
            _list(MallItem, "is_active__exact=1&stock_level=low"),
            lambda: MallItem.objects.filter(is_active=True, stock__lte=LOW_STOCK).count(),
        ),
        Todo(
            _("Coupon templates nearly out of stock"),
            "coupons.view_coupontemplate",
            _list(CouponTemplate, "is_active__exact=1&stock_level=low"),
            lambda: CouponTemplate.objects.filter(
                is_active=True, total_stock__lte=F("issued_count") + LOW_STOCK
            ).count(),
        ),
        Todo(
            _("Recharge campaigns starting or ending this week"),
            "stored_value.view_rechargeplan",
            _list(RechargePlan, "week=this"),
            lambda: RechargePlan.objects.filter(this_week_q("starts_at", "ends_at")).count(),
        ),
        Todo(
            _("Coupon campaigns starting or ending this week"),
            "coupons.view_coupontemplate",
            _list(CouponTemplate, "week=this"),
            lambda: CouponTemplate.objects.filter(this_week_q("claim_starts_at", "claim_ends_at")).count(),
        ),
        Todo(
            _("Member days starting or ending this week"),
            "membership.view_memberday",
            _list(MemberDay, "week=this"),
            lambda: MemberDay.objects.filter(this_week_q("starts_on", "ends_on", dates=True)).count(),
        ),
        Todo(
            _("Failed jobs"),
            "loyalty.view_jobrun",
            _list(JobRun, "status__exact=failed"),
            lambda: JobRun.objects.filter(status=JobRunStatus.FAILED).count(),
        ),
        Todo(
            _("Stuck jobs (running over an hour)"),
            "loyalty.view_jobrun",
            _list(
                JobRun, urlencode({"status__exact": "running", "started_at__lt": _stuck_before().isoformat()})
            ),
            lambda: JobRun.objects.filter(
                status=JobRunStatus.RUNNING, started_at__lt=_stuck_before()
            ).count(),
        ),
        Todo(
            _("Bulk issues running"),
            "coupons.view_bulkissue",
            _list(BulkIssue, "status__in=queued,running"),
            lambda: BulkIssue.objects.filter(
                status__in=[BulkIssueStatus.QUEUED, BulkIssueStatus.RUNNING]
            ).count(),
        ),
    ]


def _days() -> tuple[datetime, datetime, datetime]:
    """Yesterday 00:00, today 00:00 and tomorrow 00:00, local time."""
    today = timezone.make_aware(datetime.combine(timezone.localdate(), time.min))
    return today - timedelta(days=1), today, today + timedelta(days=1)


def _two_days(queryset, when: str, value) -> tuple[int, int]:
    """``value`` summed over today's and over yesterday's rows of ``queryset`` (by ``when``): one query."""
    yesterday, today, tomorrow = _days()
    totals = queryset.filter(**{f"{when}__gte": yesterday, f"{when}__lt": tomorrow}).aggregate(
        today=value(filter=Q(**{f"{when}__gte": today})),
        yesterday=value(filter=Q(**{f"{when}__lt": today})),
    )
    return totals["today"] or 0, totals["yesterday"] or 0


def _sum(expression):
    return lambda filter: Sum(expression, filter=filter)


def _count(filter):
    return Count("pk", filter=filter)


def figures() -> list[Figure]:
    """Today against yesterday: what was paid for, who joined, what was recharged, what was earned."""
    paid = F("cash_fen") + F("stored_value_fen") + F("shipping_cash_fen") + F("shipping_stored_value_fen")
    return [
        Figure(
            _("Sales"),
            "orders.view_order",
            _list(Order),
            lambda scoped: _two_days(
                scoped(Order.objects.exclude(completed_at=None)), "completed_at", _sum(paid)
            ),
            money=True,
            store_field="store",
        ),
        Figure(
            _("New members"),
            "members.view_member",
            _list(Member),
            lambda scoped: _two_days(scoped(Member.objects.all()), "registered_at", _count),
            store_field="home_store",
        ),
        Figure(
            _("Recharges"),
            "stored_value.view_rechargeorder",
            _list(RechargeOrder),
            lambda scoped: _two_days(
                scoped(RechargeOrder.objects.exclude(credited_at=None)), "credited_at", _sum("amount_fen")
            ),
            money=True,
            store_field="store",
        ),
        Figure(
            _("Points issued"),
            "points.view_pointsentry",
            _list(PointsEntry, "kind__exact=earn"),
            lambda scoped: _two_days(
                scoped(PointsEntry.objects.filter(kind=EntryKind.EARN)), "created_at", _sum("amount")
            ),
        ),
    ]


def change(today: int, yesterday: int) -> tuple[str, str]:
    """The day-over-day change as (direction, text): ("up", "+12.5%"), ("down", "−3.0%"), ("flat", "0%");
    against a yesterday of nothing, any today reads "new"."""
    if today == yesterday:
        return "flat", "0%"
    direction = "up" if today > yesterday else "down"
    if not yesterday:
        return direction, str(_("new"))
    percent = (today - yesterday) * 100 / abs(yesterday)
    return direction, f"{'+' if percent > 0 else '−'}{abs(percent):.1f}%"


def workbench(user) -> dict:
    """The home page's to-dos and figures this user may see (and follow).

    A store's staff (``stores.scoping``) see only the figures that have a store, counted for their
    stores, and none of the merchant's to-dos: their lists would not hold what those count.
    """
    store_scoped = is_store_scoped(user)
    shown_todos = [
        {"title": t.title, "url": t.url, "count": t.count()}
        for t in todos()
        if user.has_perm(t.permission) and not store_scoped
    ]
    shown_figures = []
    for f in figures():
        if not user.has_perm(f.permission) or (store_scoped and f.store_field is None):
            continue
        today, yesterday = f.values(
            lambda queryset, f=f: scope(queryset, user, field=f.store_field or "", perm=f.permission)
        )
        direction, text = change(today, yesterday)
        show = format_fen if f.money else (lambda n: f"{n:,}")
        shown_figures.append(
            {
                "title": f.title,
                "url": f.url,
                "today": show(today),
                "yesterday": show(yesterday),
                "direction": direction,
                "change": text,
            }
        )
    return {"todos": shown_todos, "figures": shown_figures}


def dashboard_callback(request, context: dict) -> dict:
    """unfold's DASHBOARD_CALLBACK: the workbench into the admin index's context."""
    context["workbench"] = workbench(request.user)
    return context
