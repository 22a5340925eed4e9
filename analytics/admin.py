"""Analytics back office: the dashboard (charts, side-by-side figures, CSV of every report), the member
portrait, RFM runs with progress, segments with a live count, tags and settings."""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from analytics import reports, rfm, selectors
from analytics.exceptions import InvalidSegmentRule
from analytics.models import (
    AnalyticsSettings,
    AttributionDaily,
    DailyMetrics,
    MemberTag,
    MemberTagging,
    RfmRun,
    RfmScore,
    RfmSegment,
    RunStatus,
    Segment,
)
from analytics.periods import CUSTOM, PRESETS, preset_of, preset_range, previous_range
from analytics.segment_builder import SegmentBuilder, describe
from analytics.segments import validate_rules
from analytics.tag_usage import audiences_using_tags
from loyalty.admin_forms import read_only_display, shown_fieldsets
from loyalty.admin_tools import (
    IsoDateInput,
    LimitedJSONAdminMixin,
    ModelAdmin,
    ReadOnlyAdminMixin,
    TabularInline,
    count_text,
    in_yuan,
    local_time,
    money,
    no_figure,
    rows_table,
)
from loyalty.api.parsers import json_loads
from loyalty.db_router import replica_readable
from loyalty.money import format_fen, yuan_text
from loyalty.spreadsheets import stream_csv
from members.models import Member
from members.selectors import channel_label, channel_names
from orders.models import OrderStatus
from points.models import PointsEntry
from stored_value.models import StoredValueEntry
from stores.scoping import scope, store_ids_for
from stores.selectors import staff_names, store_choices


@admin.register(AnalyticsSettings)
class AnalyticsSettingsAdmin(ModelAdmin):
    list_display = ["__str__", "rfm_window_days"]

    def has_add_permission(self, request):
        return not AnalyticsSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


# --- RFM ----------------------------------------------------------------------------------------------


#: A run's progress, shown once: in the header above its fields, which the page's poll keeps current.
RFM_PROGRESS_FIELDS = {"status", "steps_done", "steps_total", "members_scored"}


@admin.register(RfmRun)
class RfmRunAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ["id", "as_of", "window_days", "status", "members_scored", "created_by", "finished_at"]
    readonly_fields = [
        f.name if f.name != "cut_points" else "cut_points_text"
        for f in RfmRun._meta.fields
        if f.name not in RFM_PROGRESS_FIELDS
    ]
    fields = readonly_fields
    empty_value_display = _("None")  # no error, no starter (the nightly run): 无, not a bare dash

    #: The cut points' measures, in the order a score reads (R, F, M).
    CUT_POINTS = [
        ("recency_days", _("recency (days)")),
        ("frequency", _("frequency (purchases)")),
        ("monetary_fen", _("monetary")),
    ]

    @admin.display(description=_("cut points"))
    def cut_points_text(self, run):
        """Each measure's four cut points between the five scores, as a row (amounts in yuan), not JSON."""
        rows = []
        for key, label in self.CUT_POINTS:
            points = (run.cut_points or {}).get(key)
            if points:
                shown = [format_fen(p) if key.endswith("_fen") else p for p in points]
                rows.append((label, " · ".join(str(p) for p in shown)))
        return rows_table(rows) if rows else no_figure(_("Computed when the run finishes"))

    change_form_template = "admin/analytics/rfmrun/change_form.html"
    change_list_template = "admin/analytics/rfmrun/change_list.html"

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("start/", view(require_POST(self.start_view)), name="analytics_rfmrun_start"),
            path("<int:pk>/progress.json", view(self.progress_json), name="analytics_rfmrun_progress"),
        ] + super().get_urls()

    def start_view(self, request):
        if not request.user.has_perm("analytics.add_rfmrun"):
            raise PermissionDenied
        run = rfm.rfm_run_create(actor_id=request.user.pk)
        self.log_addition(request, run, "RFM run started")
        return redirect("admin:analytics_rfmrun_change", run.pk)

    def progress_json(self, request, pk):
        run = get_object_or_404(RfmRun, pk=pk)
        if not self.has_view_permission(request, run):
            raise PermissionDenied
        return JsonResponse(
            {
                "status": run.status,
                "status_display": run.get_status_display(),
                "steps_done": run.steps_done,
                "steps_total": run.steps_total,
                "members_scored": run.members_scored,
            }
        )


@admin.register(RfmScore)
class RfmScoreAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = [
        "member",
        "segment",
        "r_score",
        "f_score",
        "m_score",
        "recency_days",
        "frequency",
        money("monetary_fen", _("monetary")),
        "portrait",
    ]
    list_filter = ["segment", "r_score", "f_score", "m_score"]
    list_select_related = ["member"]
    search_fields = ["member__nickname", "member__phone", "member__openid"]
    show_full_result_count = False

    @admin.display(description=_("portrait"))
    def portrait(self, score):
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:analytics_portrait", args=[score.member_id]), _("portrait")
        )


# --- tags and segments ----------------------------------------------------------------------------------


class MemberTaggingInline(TabularInline):
    model = MemberTagging
    raw_id_fields = ["member"]
    extra = 1


@admin.register(MemberTag)
class MemberTagAdmin(ModelAdmin):
    list_display = ["id", "name", "created_at"]
    search_fields = ["name"]
    inlines = [MemberTaggingInline]

    def get_deleted_objects(self, objs, request):
        """A tag an audience names is not deleted (analytics/tag_usage.py says why): the audiences are
        listed as what protects it, so the confirmation page (ours, delete_confirmation.html) names them
        and Django refuses the deletion, one tag or several."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        in_use = audiences_using_tags(obj.pk for obj in objs)
        protected = list(protected) + [
            format_html(
                '{}：<a href="{}" class="text-primary-600">{}</a>',
                capfirst(obj._meta.verbose_name),
                reverse(url_name, args=[obj.pk]),
                obj,
            )
            for url_name, obj in in_use
        ]
        return deleted, counts, perms_needed, protected


class SegmentForm(forms.ModelForm):
    """A segment's rules built with the segment builder (groups of conditions, AND or OR, the live count)."""

    class Meta:
        model = Segment
        fields = ["name", "description", "rules"]
        widgets = {"rules": SegmentBuilder}
        labels = {"rules": _("conditions")}

    def clean_rules(self):
        rules = self.cleaned_data["rules"]
        try:
            validate_rules(rules)
        except InvalidSegmentRule as exc:
            raise forms.ValidationError(exc.message) from exc
        return rules


@admin.register(Segment)
class SegmentAdmin(LimitedJSONAdminMixin, ModelAdmin):
    form = SegmentForm
    list_display = ["id", "name", "description", "updated_at"]
    search_fields = ["name"]
    # Where the page is only read: the conditions in words, not the rule tree.
    read_only_displays = {"rules": read_only_display("rules", _("conditions"), lambda s: describe(s.rules))}

    def get_fieldsets(self, request, obj=None):
        return shown_fieldsets(self, request, obj, super().get_fieldsets(request, obj))

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("preview/", view(require_POST(self.preview_view)), name="analytics_segment_preview"),
        ] + super().get_urls()

    def preview_view(self, request):
        """The live count: how many members the posted rules match now (nothing is saved)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            rules = json_loads(request.POST.get("rules") or "null")
            count = selectors.members_matching(rules).count()
        except ValueError:
            return JsonResponse(
                {"code": "invalid_segment_rule", "message": str(_("Not valid JSON."))}, status=400
            )
        except InvalidSegmentRule as exc:
            return JsonResponse({"code": exc.code, "message": str(exc.message)}, status=400)
        return JsonResponse({"count": count})


# --- dashboard and portrait ----------------------------------------------------------------------------


class RangeForm(forms.Form):
    start = forms.DateField(label=_("from"), widget=IsoDateInput())
    end = forms.DateField(label=_("to"), widget=IsoDateInput())

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end"):
            if data["start"] > data["end"]:
                raise forms.ValidationError(_("The start is after the end."))
            if (data["end"] - data["start"]).days > 366 * 3:
                raise forms.ValidationError(_("Choose at most three years."))
        return data


def pct_text(value, reason):
    """A rate as ``12.5%``, or, where it cannot be computed, why (never a bare "—" nor "—%")."""
    return no_figure(reason) if value is None else f"{value}%"


def _change(now: int, before: int):
    if not now and not before:
        return no_figure(_("Nothing in either period"))
    return pct_text(
        round(100 * (now - before) / before, 1) if before else None,
        _("Nothing in the previous period, no change to compute"),
    )


#: The reports one can download, by the ``export`` query value: their names (the file's and the link's).
REPORTS = {
    "daily": _("daily figures"),
    "monthly": _("monthly repurchase and cohorts"),
    "attribution": _("channel attribution"),
    "coupons": _("coupon use"),
    "uplift": _("member-day uplift"),
    "liabilities": _("liabilities"),
    "rfm": _("RFM segments"),
    "stores": _("store figures"),
    "staff": _("staff figures"),
}

#: The store and staff figures' columns: key, label (amounts ``*_fen``, in yuan in the CSV).
FIGURES = [
    ("new_members", _("new members")),
    ("orders", _("purchases")),
    ("sales_fen", _("net paid")),
    ("recharges", _("recharges")),
    ("recharge_fen", _("recharged, net of refunds")),
    ("coupons_used", _("coupons used")),
    ("cards_claimed", _("cards claimed")),
    ("cards_sold", _("cards sold")),
]


def chosen_stores(request) -> tuple[list[tuple[int, str]], int | None, frozenset[int] | None]:
    """The stores the user may pick (all, or their own), the one picked (``?store=``) and the store ids the
    figures are limited to (None: every store, for an unscoped user who picked none)."""
    scope = store_ids_for(request.user, perm="analytics.view_dailymetrics")  # where their role shows figures
    choices = store_choices(store_ids=scope)
    picked = request.GET.get("store", "")
    picked = int(picked) if picked.isdigit() and int(picked) in dict(choices) else None
    if picked is not None:
        return choices, picked, frozenset([picked])
    return choices, None, scope


class StoreForm(forms.Form):
    """The dashboard's store filter: every store, or one (a store's staff pick among theirs)."""

    store = forms.TypedChoiceField(label=_("store"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args, choices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].choices = [("", _("all stores"))] + list(choices)


def figure_rows(figures) -> list[dict]:
    """Figures as the page shows them: counts grouped by thousands, amounts in yuan."""
    return [
        {
            "code": f.code,
            "name": f.name,
            "cells": [
                format_fen(getattr(f, key)) if key.endswith("_fen") else count_text(getattr(f, key))
                for key, _label in FIGURES
            ],
        }
        for f in figures
    ]


STORE_REPORTS = ("stores", "staff")


@admin.register(DailyMetrics)
class DashboardAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """The analytics dashboard lives at this model's list URL (the daily table is what it reads)."""

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("portrait/<int:pk>/", view(self.portrait_view), name="analytics_portrait"),
            path("refresh/", view(require_POST(self.refresh_view)), name="analytics_refresh"),
            path("growth/", view(self.growth_view), name="analytics_growth"),
        ] + super().get_urls()

    def refresh_view(self, request):
        if not request.user.has_perm("analytics.add_reportrun"):
            raise PermissionDenied
        form = RangeForm(request.POST)
        if form.is_valid():
            reports.reports_refresh(start=form.cleaned_data["start"], end=form.cleaned_data["end"])
            messages.success(request, _("The reports were refreshed."))
        else:
            messages.error(request, _("Choose a valid date range."))
        back = {key: request.POST[key] for key in ("start", "end") if key in request.POST}
        return redirect(reverse("admin:analytics_dailymetrics_changelist") + "?" + urlencode(back))

    @staticmethod
    def chosen_range(request, today):
        """The range asked for and its preset: a preset (``?period=last_month``), else the dates given (named
        by the preset they equal, else custom), else the last 90 days."""
        period = request.GET.get("period")
        if period in dict(PRESETS):
            start, end = preset_range(period, today=today)
            return RangeForm({"start": start, "end": end}), start, end, period
        start, end = selectors.date_range_default()
        form = RangeForm(request.GET if "start" in request.GET else {"start": start, "end": end})
        if not form.is_valid():
            return form, start, end, CUSTOM
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        return form, start, end, preset_of(start, end, today=today)

    @replica_readable  # the dashboard and its CSV reports read the replica (reads only, as of when)
    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        today = selectors.local_today()
        form, start, end, active = self.chosen_range(request, today)
        prev_start, prev_end = previous_range(start, end)
        export = request.GET.get("export")
        store_options, picked, store_ids = chosen_stores(request)
        scoped = store_ids_for(request.user) is not None
        if export in REPORTS and (not scoped or export in STORE_REPORTS):
            return self._export(export, start, end, store_ids=store_ids)
        stores_context = {
            "store_form": StoreForm(initial={"store": picked}, choices=store_options)
            if store_options
            else None,
            "picked_store": picked,
            "figure_labels": [label for _key, label in FIGURES],
            "store_rows": figure_rows(selectors.store_figures(start=start, end=end, store_ids=store_ids)),
            "staff_rows": figure_rows(selectors.staff_figures(start=start, end=end, store_ids=store_ids)),
            "store_query": f"&store={picked}" if picked else "",
        }
        if scoped:  # a store's staff see their stores' figures, not the merchant's
            return TemplateResponse(
                request,
                "admin/analytics/store_report.html",
                {
                    **self.admin_site.each_context(request),
                    "opts": self.model._meta,
                    "title": _("Store figures"),
                    "form": form,
                    "start": start,
                    "end": end,
                    "presets": [
                        {"key": key, "label": label, "active": key == active} for key, label in PRESETS
                    ],
                    "custom_active": active == CUSTOM,
                    "no_data": no_figure(_("No data in this period")),
                    "reports": [{"key": key, "label": REPORTS[key]} for key in STORE_REPORTS],
                    "query": f"start={start.isoformat()}&end={end.isoformat()}",
                    **stores_context,
                },
            )

        now_totals = selectors.period_totals(start=start, end=end)
        before = selectors.period_totals(start=prev_start, end=prev_end)
        money_keys = {"sales_fen", "sales_per_purchase_fen", "bonus_issued_fen", "bonus_forfeited_fen"}
        labels = {
            "purchases": _("purchases"),
            "sales_fen": _("net paid"),
            "sales_per_purchase_fen": _("paid per purchase"),
            "new_members": _("new members"),
            "points_earned": _("points issued"),
            "points_spent": _("points redeemed"),
            "points_expired": _("points expired"),
            "coupons_issued": _("coupons issued"),
            "coupons_used": _("coupons used"),
            "bonus_issued_fen": _("bonus issued"),
            "bonus_forfeited_fen": _("bonus forfeited"),
        }

        def shown(key, value):
            return format_fen(value) if key in money_keys else count_text(value)

        compare = [
            {
                "key": key,
                "label": label,
                "value": now_totals[key],
                "now": shown(key, now_totals[key]),
                "before": shown(key, before[key]),
                "change": _change(now_totals[key], before[key]),
            }
            for key, label in labels.items()
        ]
        daily = selectors.daily_rows(start=start, end=end)
        monthly = [
            {
                **m,
                "buyers_text": count_text(m["buyers"]),
                "cohort_size_text": count_text(m["cohort_size"]),
                "repurchase": pct_text(m["repurchase_pct"], _("No buyers this month, no rate to compute")),
                **{
                    f"cohort_{n}": pct_text(
                        m[f"cohort_{n}_pct"], _("No first-time buyers, no rate to compute")
                    )
                    for n in (30, 60, 90)
                },
            }
            for m in selectors.monthly_rows(start=start, end=end)
        ]
        uplift = selectors.member_day_uplift(start=start, end=end)
        liab = selectors.liabilities(end=end)
        chart = {
            "days": [d.day.isoformat() for d in daily],
            "sales": [d.sales_fen / 100 for d in daily],
            "buyers": [d.buyers for d in daily],
            "new_members": [d.new_members for d in daily],
            "points_earned": [d.points_earned for d in daily],
            "points_spent": [d.points_spent for d in daily],
            "points_expired": [d.points_expired for d in daily],
            "months": [m["month"].strftime("%Y-%m") for m in monthly],
            "repurchase": [m["repurchase_pct"] for m in monthly],
            "cohort_30": [m["cohort_30_pct"] for m in monthly],
            "cohort_60": [m["cohort_60_pct"] for m in monthly],
            "cohort_90": [m["cohort_90_pct"] for m in monthly],
        }
        bonus_forfeit_pct = (
            round(100 * now_totals["bonus_forfeited_fen"] / now_totals["bonus_issued_fen"], 1)
            if now_totals["bonus_issued_fen"]
            else None
        )
        query = f"start={start.isoformat()}&end={end.isoformat()}"
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Analytics dashboard"),
            "form": form,
            "start": start,
            "end": end,
            "prev_start": prev_start,
            "prev_end": prev_end,
            "presets": [{"key": key, "label": label, "active": key == active} for key, label in PRESETS],
            "custom_active": active == CUSTOM,
            "no_data": no_figure(_("No data in this period")),
            "compare": compare,
            "monthly": monthly,
            "registration": _counted(
                _named_channels(
                    selectors.attribution_rows(start=start, end=end, kind=AttributionDaily.Kind.REGISTRATION)
                )
            ),
            "card_channel": _counted(
                _named_channels(
                    selectors.attribution_rows(start=start, end=end, kind=AttributionDaily.Kind.CARD_CHANNEL)
                )
            ),
            "card_staff": _counted(
                _named_channels(
                    selectors.attribution_rows(start=start, end=end, kind=AttributionDaily.Kind.CARD_STAFF),
                    staff=True,
                )
            ),
            "coupons": [
                {
                    **c,
                    "issued_text": count_text(c["issued"]),
                    "used_text": count_text(c["used"]),
                    "use_rate": pct_text(c["use_pct"], _("None issued, no rate to compute")),
                }
                for c in selectors.coupon_rows(start=start, end=end)
            ],
            "uplift": {
                "member_days": format_fen(uplift["member_days"]["per_buyer_fen"]),
                "other_days": format_fen(uplift["other_days"]["per_buyer_fen"]),
                "member_day_buyers": count_text(uplift["member_days"]["buyers"]),
                "other_day_buyers": count_text(uplift["other_days"]["buyers"]),
                "uplift": pct_text(
                    uplift["uplift_pct"], _("No purchases on other days, no uplift to compute")
                ),
            },
            "liabilities": {
                "points": count_text(liab["points"]),
                "points_value": format_fen(liab["points_value_fen"]),
                "points_per_yuan": count_text(liab["points_per_yuan"]),
                "principal": format_fen(liab["principal_fen"]),
                "bonus": format_fen(liab["bonus_fen"]),
                "bonus_forfeit_pct": pct_text(
                    bonus_forfeit_pct, _("No bonus issued in the period, no rate to compute")
                ),
            },
            "rfm": [
                {
                    **row,
                    "label": RfmSegment(row["segment"]).label,
                    "members_text": count_text(row["members"]),
                    "monetary": format_fen(row["monetary"]),
                }
                for row in selectors.rfm_distribution()
            ],
            "latest_rfm": RfmRun.objects.filter(status=RunStatus.DONE).first(),
            "chart_json": chart,
            "reports": [{"key": key, "label": label} for key, label in REPORTS.items()],
            "query": query,
            **stores_context,
        }
        return TemplateResponse(request, "admin/analytics/dashboard.html", context)

    def _export(self, report: str, start, end, *, store_ids=None):
        """One report as CSV: a Chinese file name and headers, amounts in yuan, each column headed."""
        name = f"{REPORTS[report]}_{start}_{end}.csv"
        if report == "daily":
            columns = [
                ("day", _("day")),
                ("purchases", _("purchases")),
                ("buyers", _("buyers")),
                ("sales_fen", _("net paid (yuan)")),
                ("new_members", _("new members")),
                ("points_earned", _("points issued")),
                ("points_spent", _("points redeemed")),
                ("points_expired", _("points expired")),
                ("coupons_issued", _("coupons issued")),
                ("coupons_used", _("coupons used")),
                ("bonus_issued_fen", _("bonus issued (yuan)")),
                ("bonus_forfeited_fen", _("bonus forfeited (yuan)")),
                ("is_member_day", _("member day")),
            ]
            header = [label for _key, label in columns]
            rows = (
                [
                    yuan_text(getattr(d, key))
                    if key.endswith("_fen")
                    else (_("yes") if d.is_member_day else _("no"))
                    if key == "is_member_day"
                    else getattr(d, key)
                    for key, _label in columns
                ]
                for d in selectors.daily_rows(start=start, end=end)
            )
        elif report == "monthly":
            header = [
                _("month"), _("buyers"), _("repeat buyers"), _("repurchase rate (%)"), _("first-time buyers"),
                _("bought again within 30 days"), _("bought again within 60 days"),
                _("bought again within 90 days"), _("30-day rate (%)"), _("60-day rate (%)"), _("90-day rate (%)"),
            ]  # fmt: skip
            keys = [
                "month", "buyers", "repeat_buyers", "repurchase_pct", "cohort_size", "cohort_30", "cohort_60",
                "cohort_90", "cohort_30_pct", "cohort_60_pct", "cohort_90_pct",
            ]  # fmt: skip
            rows = (
                [m["month"].strftime("%Y-%m") if k == "month" else m[k] for k in keys]
                for m in selectors.monthly_rows(start=start, end=end)
            )
        elif report == "attribution":
            # The channel by its name (members.Channel; staff have none), its code beside it.
            header = [_("kind"), _("channel"), _("channel code"), _("count")]
            kinds = dict(AttributionDaily.Kind.choices)
            rows = (
                [kinds[kind], r["name"] or _("no channel"), r["key"], r["count"]]
                for kind in AttributionDaily.Kind.values
                for r in _named_channels(
                    selectors.attribution_rows(start=start, end=end, kind=kind),
                    staff=kind == AttributionDaily.Kind.CARD_STAFF,
                )
            )
        elif report == "coupons":
            header = [
                _("coupon template ID"),
                _("coupon template"),
                _("issued"),
                _("used"),
                _("use rate (%)"),
            ]
            rows = (
                [r["template_id"], r["template__name"], r["issued"], r["used"], r["use_pct"]]
                for r in selectors.coupon_rows(start=start, end=end)
            )
        elif report == "uplift":
            u = selectors.member_day_uplift(start=start, end=end)
            header = [_("days"), _("net paid (yuan)"), _("buyers"), _("paid per buyer (yuan)")]
            names = {"member_days": _("member days"), "other_days": _("other days")}
            rows = [
                [names[k], yuan_text(u[k]["sales_fen"]), u[k]["buyers"], yuan_text(u[k]["per_buyer_fen"])]
                for k in ("member_days", "other_days")
            ]
        elif report == "liabilities":
            liab = selectors.liabilities(end=end)
            header = [
                _("outstanding points"), _("their value (yuan)"), _("points per yuan"),
                _("stored value: principal (yuan)"), _("stored value: bonus (yuan)"),
            ]  # fmt: skip
            rows = [
                [
                    liab["points"],
                    yuan_text(liab["points_value_fen"]),
                    liab["points_per_yuan"],
                    yuan_text(liab["principal_fen"]),
                    yuan_text(liab["bonus_fen"]),
                ]
            ]
        elif report in STORE_REPORTS:
            by_store = report == "stores"
            header = [
                _("store code") if by_store else _("staff code"),
                _("store") if by_store else _("staff member"),
                *(in_yuan(label) if key.endswith("_fen") else label for key, label in FIGURES),
            ]
            figures = (selectors.store_figures if by_store else selectors.staff_figures)(
                start=start, end=end, store_ids=store_ids
            )
            rows = (
                [
                    f.code,
                    f.name,
                    *(
                        yuan_text(getattr(f, key)) if key.endswith("_fen") else getattr(f, key)
                        for key, _label in FIGURES
                    ),
                ]
                for f in figures
            )
        else:
            header = [_("segment"), _("members"), _("monetary (yuan)")]
            rows = (
                [RfmSegment(r["segment"]).label, r["members"], yuan_text(r["monetary"] or 0)]
                for r in selectors.rfm_distribution()
            )
        return stream_csv(filename=name, header=[str(h) for h in header], rows=rows)

    @replica_readable
    def growth_view(self, request):
        """The growth tools' report: each 拼团 and 砍价 activity's figures and the sharers who brought new
        members, for a period, with CSV.  Merchant-wide: for whoever sees the dashboard and growth's
        activities, not for a store's staff (their dashboard is their stores')."""
        if (
            not self.has_view_permission(request)
            or not request.user.has_perm("growth.view_groupbuyactivity")
            or store_ids_for(request.user) is not None
        ):
            raise PermissionDenied
        form, start, end, active = self.chosen_range(request, selectors.local_today())
        export = request.GET.get("export")
        if export in GROWTH_REPORTS:
            return _growth_export(export, start, end)
        activities = selectors.growth_activities(start=start, end=end)
        not_group = no_figure(_("Not a group buy"))
        rows = [
            {
                "kind": GROWTH_KINDS[a.kind],
                "name": a.name,
                "started": count_text(a.groups_opened if a.kind == "group_buy" else a.bargains_started),
                "done": count_text(a.groups_completed if a.kind == "group_buy" else a.bargains_bought),
                "failed": count_text(a.groups_failed) if a.kind == "group_buy" else not_group,
                "units": count_text(a.units),
                "sales": format_fen(a.sales_fen),
                "new_members": count_text(a.new_members),
            }
            for a in activities
        ]
        sharers = [
            {
                "sharer": f"{s.nickname or gettext('no nickname')}（{s.referrer_id}）",
                "activity": f"{GROWTH_KINDS[s.kind]} · {s.activity_name}",
                "new_members": count_text(s.new_members),
            }
            for s in selectors.growth_sharers(start=start, end=end, limit=SHARERS_SHOWN)
        ]
        totals = {
            "units": count_text(sum(a.units for a in activities)),
            "sales": format_fen(sum(a.sales_fen for a in activities)),
            "new_members": count_text(sum(a.new_members for a in activities)),
        }
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Growth tools report"),
            "form": form,
            "start": start,
            "end": end,
            "presets": [{"key": key, "label": label, "active": key == active} for key, label in PRESETS],
            "custom_active": active == CUSTOM,
            "no_data": no_figure(_("No data in this period")),
            "store_query": "",
            "rows": rows,
            "totals": totals,
            "sharers": sharers,
            "sharers_shown": SHARERS_SHOWN,
            "reports": [{"key": key, "label": label} for key, label in GROWTH_REPORTS.items()],
            "query": f"start={start.isoformat()}&end={end.isoformat()}",
            "chart_json": {
                "names": [f"{GROWTH_KINDS[a.kind]} · {a.name}" for a in activities],
                "units": [a.units for a in activities],
                "new_members": [a.new_members for a in activities],
                "sales": [a.sales_fen / 100 for a in activities],
            },
        }
        return TemplateResponse(request, "admin/analytics/growth.html", context)

    def portrait_view(self, request, pk):
        """用户画像: RFM, segments, tags, tier history, purchases and the ledgers of one member."""
        if not request.user.has_perm("members.view_member"):
            raise PermissionDenied
        member = get_object_or_404(
            scope(Member.objects.all(), request.user, field="home_store", perm="members.view_member"), pk=pk
        )
        score = RfmScore.objects.filter(member=member).first()
        purchases = selectors.member_purchases(member_id=member.pk)
        statuses = dict(OrderStatus.choices)
        for p in purchases:
            p["status"] = statuses.get(p["status"], p["status"])
            p["paid"] = format_fen(p["paid_fen"])
            p["time"] = local_time(p["completed_at"])
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Member portrait: %(member)s") % {"member": member},
            "member": member,
            "score": score,
            "monetary": format_fen(score.monetary_fen) if score else "",
            "segments": selectors.member_segments(member_id=member.pk),
            "tags": list(member.tags.all()),
            "tier_history": member.tier_changes.order_by("-id")[:20],
            "purchases": purchases,
            "purchase_totals": selectors.member_overview_part(member_id=member.pk)["purchase_totals"],
            "no_data": no_figure(_("No data")),
            "chart_json": {
                "times": [p["time"][:10] for p in reversed(purchases) if p["counts"]],
                "paid": [p["paid_fen"] / 100 for p in reversed(purchases) if p["counts"]],
            },
            "points_entries": PointsEntry.objects.filter(account__member=member).order_by("-id")[:30],
            "stored_value_entries": [
                {"e": e, "principal": format_fen(e.principal_fen), "bonus": format_fen(e.bonus_fen)}
                for e in StoredValueEntry.objects.filter(account__member=member).order_by("-id")[:30]
            ],
        }
        return TemplateResponse(request, "admin/analytics/portrait.html", context)


GROWTH_KINDS = {"group_buy": _("group buy"), "bargain": _("bargain")}
GROWTH_REPORTS = {"growth": _("growth tools by activity"), "sharers": _("new members by sharer")}
SHARERS_SHOWN = 50


def _growth_export(report: str, start, end):
    """The growth report's tables as CSV: activities (amounts in yuan; a figure that does not apply to
    the kind left empty), or every sharer's new members per activity."""
    name = f"{GROWTH_REPORTS[report]}_{start}_{end}.csv"
    if report == "growth":
        header = [
            _("kind"), _("activity ID"), _("activity"), _("groups opened"), _("groups completed"),
            _("groups failed"), _("bargains started"), _("bargains bought"), _("units sold"),
            _("sales (yuan)"), _("new members"),
        ]  # fmt: skip
        rows = (
            [
                GROWTH_KINDS[a.kind],
                a.id,
                a.name,
                a.groups_opened,
                a.groups_completed,
                a.groups_failed,
                a.bargains_started,
                a.bargains_bought,
                a.units,
                yuan_text(a.sales_fen),
                a.new_members,
            ]  # fmt: skip
            for a in selectors.growth_activities(start=start, end=end)
        )
    else:
        header = [_("sharer ID"), _("sharer"), _("kind"), _("activity ID"), _("activity"), _("new members")]
        rows = (
            [s.referrer_id, s.nickname, GROWTH_KINDS[s.kind], s.activity_id, s.activity_name, s.new_members]
            for s in selectors.growth_sharers(start=start, end=end)
        )
    return stream_csv(filename=name, header=[str(h) for h in header], rows=rows)


def _counted(rows: list[dict]) -> list[dict]:
    """Attribution rows with ``count_text``: the count with thousands separators."""
    return [{**r, "count_text": count_text(r["count"])} for r in rows]


def _named_channels(rows: list[dict], *, staff: bool = False) -> list[dict]:
    """Attribution rows with ``name``: the channel's name, or its code while unnamed; staff by name and
    工号 when the tag is a staff member's code (林店长（S001）), else by the tag (员工编号 s001)."""
    if staff:
        known = staff_names(r["key"] for r in rows)
        return [
            {**r, "name": f"{known[r['key']]}（{r['key']}）" if r["key"] in known else staff_label(r["key"])}
            for r in rows
        ]
    names = channel_names(r["key"] for r in rows)
    return [{**r, "name": channel_label(r["key"], names)} for r in rows]


def staff_label(code: str) -> str:
    """A member of staff as the dashboard and its CSV name them: 员工编号 s001 (no name to show yet)."""
    return gettext("staff no. %(code)s") % {"code": code} if code else ""
