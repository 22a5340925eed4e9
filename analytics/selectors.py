"""Reads for the admin, the audiences and the dashboard (which reads only the precomputed tables)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Min, Sum
from django.utils import timezone

from analytics import sql
from analytics.models import (
    AttributionDaily,
    CouponDaily,
    DailyMetrics,
    MemberTag,
    MemberTagging,
    MonthlyMetrics,
    RfmScore,
    Segment,
)
from analytics.periods import preset_range
from analytics.segments import compile_rules
from loyalty.money import format_fen
from loyalty.rounding import points_liability_fen
from members.models import Member
from orders.models import CheckoutSettings
from points.models import PointsAccount
from stored_value.selectors import liability_by_day


def local_today() -> date:
    return timezone.now().astimezone(ZoneInfo(settings.TIME_ZONE)).date()


def first_activity_day() -> date | None:
    first = Member.objects.aggregate(first=Min("registered_at"))["first"]
    return first.astimezone(ZoneInfo(settings.TIME_ZONE)).date() if first else None


# --- segments ----------------------------------------------------------------------------------------


def members_matching(rules, *, now: datetime | None = None):
    """Members matching a rule tree, as a Member queryset (one SQL WHERE); raises InvalidSegmentRule."""
    where, params = compile_rules(rules, now=now or timezone.now())
    return sql.segment_members(where, params)


def segment_members(*, segment_id: int, now: datetime | None = None):
    """A segment's members; a deleted segment has none (a targeted audience never widens to everyone)."""
    segment = Segment.objects.filter(pk=segment_id).first()
    if segment is None:
        return Member.objects.none()
    return members_matching(segment.rules, now=now)


def member_in_segment(*, segment_id: int, member_id: int, now: datetime | None = None) -> bool:
    return segment_members(segment_id=segment_id, now=now).filter(pk=member_id).exists()


def segment_ids_of(values) -> list[int]:
    return [int(v) for v in values or [] if str(v).isdigit()]


# --- member tags -----------------------------------------------------------------------------------


def tag_choices() -> list[tuple[int, str]]:
    """Tags by id, as an operator picks them for an audience (高价值, 复购 …)."""
    return list(MemberTag.objects.order_by("name", "pk").values_list("pk", "name"))


def tagged_members(*, tag_ids: list[int]):
    """The members carrying any one of the tags; none for no tag or only deleted ones (their taggings go
    with them), so a tag audience never widens to everyone."""
    return Member.objects.filter(pk__in=MemberTagging.objects.filter(tag_id__in=tag_ids).values("member_id"))


def member_has_tag(*, member_id: int, tag_ids: list[int]) -> bool:
    return MemberTagging.objects.filter(member_id=member_id, tag_id__in=tag_ids).exists()


# --- dashboard --------------------------------------------------------------------------------------------


def _ratio(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def daily_rows(*, start: date, end: date) -> list[DailyMetrics]:
    return list(DailyMetrics.objects.filter(day__range=(start, end)).order_by("day"))


def period_totals(*, start: date, end: date) -> dict:
    """Sums of the daily table over a range (the dashboard's side-by-side figures)."""
    totals = DailyMetrics.objects.filter(day__range=(start, end)).aggregate(
        purchases=Sum("purchases"),
        sales_fen=Sum("sales_fen"),
        new_members=Sum("new_members"),
        points_earned=Sum("points_earned"),
        points_spent=Sum("points_spent"),
        points_expired=Sum("points_expired"),
        coupons_issued=Sum("coupons_issued"),
        coupons_used=Sum("coupons_used"),
        bonus_issued_fen=Sum("bonus_issued_fen"),
        bonus_forfeited_fen=Sum("bonus_forfeited_fen"),
    )
    totals = {k: int(v or 0) for k, v in totals.items()}
    totals["sales_per_purchase_fen"] = (
        totals["sales_fen"] // totals["purchases"] if totals["purchases"] else 0
    )
    return totals


def member_day_uplift(*, start: date, end: date) -> dict:
    """Sales per buyer-day on member days against other days (a buyer-day: one member buying on one day)."""
    rows = DailyMetrics.objects.filter(day__range=(start, end))
    out = {}
    for key, flag in (("member_days", True), ("other_days", False)):
        agg = rows.filter(is_member_day=flag).aggregate(sales=Sum("sales_fen"), buyers=Sum("buyers"))
        sales, buyers = int(agg["sales"] or 0), int(agg["buyers"] or 0)
        out[key] = {"sales_fen": sales, "buyers": buyers, "per_buyer_fen": sales // buyers if buyers else 0}
    other = out["other_days"]["per_buyer_fen"]
    out["uplift_pct"] = _ratio(out["member_days"]["per_buyer_fen"] - other, other)
    return out


def monthly_rows(*, start: date, end: date) -> list[dict]:
    rows = []
    for m in MonthlyMetrics.objects.filter(month__range=(start.replace(day=1), end)).order_by("month"):
        rows.append(
            {
                "month": m.month,
                "buyers": m.buyers,
                "repeat_buyers": m.repeat_buyers,
                "repurchase_pct": _ratio(m.repeat_buyers, m.buyers),
                "cohort_size": m.cohort_size,
                "cohort_30": m.cohort_30,
                "cohort_60": m.cohort_60,
                "cohort_90": m.cohort_90,
                "cohort_30_pct": _ratio(m.cohort_30, m.cohort_size),
                "cohort_60_pct": _ratio(m.cohort_60, m.cohort_size),
                "cohort_90_pct": _ratio(m.cohort_90, m.cohort_size),
            }
        )
    return rows


def attribution_rows(*, start: date, end: date, kind: str) -> list[dict]:
    return list(
        AttributionDaily.objects.filter(day__range=(start, end), kind=kind)
        .values("key")
        .annotate(count=Sum("count"))
        .order_by("-count", "key")
    )


def coupon_rows(*, start: date, end: date) -> list[dict]:
    rows = (
        CouponDaily.objects.filter(day__range=(start, end))
        .values("template_id", "template__name")
        .annotate(issued=Sum("issued"), used=Sum("used"))
        .order_by("-issued", "template_id")
    )
    return [{**r, "use_pct": _ratio(r["used"], r["issued"])} for r in rows]


def liabilities(*, end: date) -> dict:
    """Outstanding points now (and their value at the deduction rate); stored value at the end of ``end``."""
    points = int(PointsAccount.objects.aggregate(s=Sum("balance"))["s"] or 0)
    checkout = CheckoutSettings.objects.filter(pk=1).first() or CheckoutSettings()
    sv = liability_by_day(start=end, end=end)[0]
    return {
        "points": points,
        "points_value_fen": points_liability_fen(points=points, points_per_yuan=checkout.points_per_yuan),
        "points_per_yuan": checkout.points_per_yuan,
        "principal_fen": sv["principal_fen"],
        "bonus_fen": sv["bonus_fen"],
    }


def rfm_distribution() -> list[dict]:
    return list(
        RfmScore.objects.values("segment")
        .annotate(members=Count("pk"), monetary=Sum("monetary_fen"))
        .order_by("segment")
    )


# --- member portrait ---------------------------------------------------------------------------------


def member_purchases(*, member_id: int, limit: int = 100) -> list[dict]:
    return [row._asdict() for row in sql.member_purchases(member_id, limit)]


def member_purchase_totals(*, member_id: int) -> dict:
    """The member's purchases and net paid, as the portrait, the member overview and the reports count
    them (``analytics.facts``): completed orders not refunded in full; paid less refunded, shipping in."""
    totals = sql.member_purchase_totals(member_id)
    return {"purchases": totals.purchases, "paid_fen": totals.paid_fen}


def member_overview_part(*, member_id: int) -> dict:
    """The member overview's purchase figures (registered in ``AnalyticsConfig.ready``): the portrait's."""
    totals = member_purchase_totals(member_id=member_id)
    return {
        "purchase_totals": {
            **totals,
            "purchases_text": f"{totals['purchases']:,}",
            "paid": format_fen(totals["paid_fen"]),
        }
    }


def member_segments(*, member_id: int) -> list[Segment]:
    """The segments the member is in now (one query per segment; segments are few)."""
    return [s for s in Segment.objects.all() if member_in_segment(segment_id=s.pk, member_id=member_id)]


def date_range_default() -> tuple[date, date]:
    """The dashboard's range when none is asked for: the last 90 days (the preset 近90天)."""
    return preset_range("last_90_days", today=local_today())


# --- stores and staff ----------------------------------------------------------------------------


def store_figures(*, start: date, end: date, store_ids=None) -> list[sql.StoreFigures]:
    """Per store: new members, purchases and net paid, recharges, coupons used, cards (``sql`` says how
    each is counted); only ``store_ids`` when given."""
    return sql.store_figures(start=start, end=end, tz=settings.TIME_ZONE, store_ids=store_ids)


def staff_figures(*, start: date, end: date, store_ids=None) -> list[sql.StoreFigures]:
    """The same per staff member: what they brought or served, at ``store_ids`` when given."""
    return sql.staff_figures(start=start, end=end, tz=settings.TIME_ZONE, store_ids=store_ids)


# --- growth tools ----------------------------------------------------------------------------------


def growth_activities(*, start: date, end: date) -> list[sql.GrowthActivity]:
    """Each 拼团 and 砍价 activity's groups or bargains, units sold, sales and new members (``sql`` says how
    each is counted)."""
    return sql.growth_activities(start=start, end=end, tz=settings.TIME_ZONE)


def growth_sharers(*, start: date, end: date, limit: int | None = None) -> list[sql.GrowthSharer]:
    """The members who brought new members through the activities' shares, per activity, most first."""
    return sql.growth_sharers(start=start, end=end, tz=settings.TIME_ZONE, limit=limit)
