"""Small admin building blocks shared by the apps, and the theme's base classes."""

import re
import uuid
from datetime import datetime, time, timedelta

from django import forms
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db import models
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold import admin as unfold_admin

from loyalty.admin_widgets import style_widget
from loyalty.api.parsers import LimitedJSONDecoder
from loyalty.db_router import replica_readable
from loyalty.labels import REASONS
from loyalty.money import (
    ShareField,
    YuanField,
    YuanInput,
    ZheField,
    ZheInput,
    format_fen,
    format_share,
    format_zhe,
)
from loyalty.spreadsheets import stream_csv

# --- the theme (django-unfold), under the project's bases (ModelAdmin, TabularInline, StackedInline below) ---


class ThemeModelAdmin(unfold_admin.ModelAdmin):
    """An admin page in the back office's theme.

    Fields a form declares itself (its own widget, not one the theme chose) get
    the theme's look too (``style_widget``).
    """

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        for field in form.base_fields.values():
            style_widget(field.widget)
        return form


class _StyledInlineMixin:
    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        for field in formset.form.base_fields.values():
            style_widget(field.widget)
        return formset


class ThemeTabularInline(_StyledInlineMixin, unfold_admin.TabularInline):
    """Rows of a related model in a table, in the theme."""


class ThemeStackedInline(_StyledInlineMixin, unfold_admin.StackedInline):
    """A related model's forms one under another, in the theme."""


class LimitedJSONAdminMixin:
    """JSON an operator's browser posts is read with the API's nesting limit (JSON_MAX_DEPTH).

    Django's form field parses with ``json.loads``, which a few kilobytes of
    ``[[[[…`` drove into RecursionError (a 500); too deep is now the form's
    own "Enter a valid JSON" error.
    """

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, models.JSONField):
            kwargs.setdefault("decoder", LimitedJSONDecoder)
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class ReadOnlyAdminMixin:
    """Ledger rows are viewed, never added, edited or deleted in the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def field_column(field: str, label, show):
    """A list column or read-only field showing model field ``field`` as ``show(value)`` reads it,
    sorted by the field."""

    def column(obj):
        return show(getattr(obj, field))

    column.__name__ = field
    column.short_description = label
    column.admin_order_field = field
    return column


def money(field: str, label):
    """An integer-fen field as ¥1,650.00."""
    return field_column(field, label, format_fen)


def reason(field: str, label):
    """A memo or reason: what the system wrote, as its label (``labels.REASONS``); what an operator
    typed, as typed."""
    return field_column(field, label, lambda value: REASONS.label(value) if value else None)


def multiplier(field: str, label):
    """A points multiplier as operators say it: ×2, ×1.5 (1 is no extra points)."""
    return field_column(field, label, lambda value: "—" if value is None else f"×{value.normalize():f}")


def share(field: str, label):
    """A share in basis points as a percentage: 50%."""
    return field_column(field, label, format_share)


def points(field: str, label):
    """A count of points with thousands separators: 12,345."""
    return field_column(field, label, count_text)


def discount(field: str, label, *, scale: int):
    """A stored discount (``scale`` = all off) as 8.8折."""
    return field_column(field, label, lambda value: format_zhe(value, scale=scale))


# --- money in 元 and discounts in 折, on every admin page ------------------------------------------

# Model fields whose name says they hold a discount, and what "everything off" is stored as.
DISCOUNT_SCALES = {"percent_off": 100, "discount_bp": 10_000}
YUAN = "yuan"
SHARE = "share"  # a share of something in basis points (``*_share_bp``), typed and read as a percentage
POINTS = "points"  # a count of points: read as 12,345 (typed as a plain number)

# Points fields not named so (the points app's own ledgers, caps and budget); the others are named
# ``points``, ``*_points`` or ``points_<what>`` (points_used, points_earned …).
POINT_FIELDS = {
    "points.PointsAccount": {"balance"},
    "points.PointsEntry": {"amount", "balance_after"},
    "points.PointsLot": {"amount", "remaining"},
    "points.PointsWithheld": {"requested", "granted", "withheld"},
    "points.EarningRule": {"daily_cap", "monthly_cap"},
    "points.PointsPolicy": {"member_daily_cap", "member_monthly_cap", "monthly_budget"},
}
_POINTS_NAME = re.compile(r"(?:\w+_)?points|points_(?:used|earned|spent|expired)")

_UNIT_IN_LABEL = re.compile(
    r"\s*[（(](?:fen|分|basis points|基点)[)）]|\s*[,，]\s*(?:basis points|基点)(?=[)）])"
)


def field_unit(db_field):
    """``YUAN`` for an integer field named ``*_fen``, the scale of a discount field, ``POINTS`` for a
    count of points, else None."""
    if not isinstance(db_field, models.IntegerField) or db_field.choices:
        return None
    if db_field.name.endswith("_fen"):
        return YUAN
    model = getattr(db_field, "model", None)
    if _POINTS_NAME.fullmatch(db_field.name) or db_field.name in POINT_FIELDS.get(
        model and model._meta.label, ()
    ):
        return POINTS
    if db_field.name.endswith("_share_bp"):
        return SHARE
    for suffix, scale in DISCOUNT_SCALES.items():
        if db_field.name == suffix or db_field.name.endswith("_" + suffix):
            return scale
    return None


def _without_unit(label: str) -> str:
    return _UNIT_IN_LABEL.sub("", str(label))


without_unit = lazy(_without_unit, str)  # "使用门槛（分）" → "使用门槛", in the language of the request


def unit_formfield(db_field, default):
    """The form field for a money or discount model field, built from the admin's ``default`` one
    (keeping its label, requiredness, help and the theme's CSS class): a ``YuanField`` or a ``ZheField``."""
    unit = field_unit(db_field)
    attrs = {"class": default.widget.attrs["class"]} if default.widget.attrs.get("class") else {}
    common = {"label": without_unit(default.label), "initial": default.initial, "disabled": default.disabled}
    if unit == YUAN:
        return YuanField(
            required=default.required, help_text=default.help_text, widget=YuanInput(attrs), **common
        )
    if unit == SHARE:
        return ShareField(
            required=default.required,
            help_text=_("As a percentage: 50 means at most half."),
            widget=forms.TextInput(attrs),
            **common,
        )
    return ZheField(
        scale=unit,
        help_text=_("As 折: 8.8 means the member pays 88%; empty means no discount."),
        widget=ZheInput(attrs, scale=unit),
        **common,
    )


class UnitsAdminMixin:
    """Money in 元 and discounts in 折 wherever an operator types or reads a model's field.

    Every ``*_fen`` integer field is typed through ``YuanField`` and every
    discount field (``DISCOUNT_SCALES``) through ``ZheField``; where such a
    field is only shown (read-only fields, a page the operator may only view,
    list columns) it reads ``¥1,650.00`` or ``8.8折``.  By field name, so a new
    money field cannot arrive in 分 (tests/loyalty/test_admin_units.py walks
    every registered admin).
    """

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if (
            formfield is None
            or field_unit(db_field) in (None, POINTS)  # points are typed as a plain number
            or isinstance(formfield, (YuanField, ZheField, ShareField))
        ):
            return formfield
        return unit_formfield(db_field, formfield)

    def _unit_display(self, name):
        """The display callable standing for field ``name`` (the same object on every call, so that the
        form's exclusions and the page's read-only fields agree), or None when it is no unit field."""
        displays = self.__dict__.setdefault("_unit_displays", {})
        if name not in displays:
            displays[name] = None
            try:
                db_field = self.model._meta.get_field(name) if isinstance(name, str) else None
            except FieldDoesNotExist:
                db_field = None
            unit = field_unit(db_field) if db_field is not None and db_field.concrete else None
            if unit == YUAN:
                displays[name] = money(name, without_unit(db_field.verbose_name))
            elif unit == SHARE:
                displays[name] = share(name, without_unit(db_field.verbose_name))
            elif unit == POINTS:
                displays[name] = points(name, db_field.verbose_name)
            elif unit:
                displays[name] = discount(name, without_unit(db_field.verbose_name), scale=unit)
        return displays[name]

    def _read_only_page(self, request, obj):
        if isinstance(self, admin.options.InlineModelAdmin):
            return not self.has_change_permission(request, obj)
        return obj is not None and not self.has_change_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        names = list(super().get_readonly_fields(request, obj))
        shown = [n for n in names if self._unit_display(n)]
        if self._read_only_page(request, obj):
            excluded = set(self.get_exclude(request, obj) or ())
            shown += [
                f.name
                for f in self.model._meta.concrete_fields
                if f.editable and f.name not in excluded and self._unit_display(f.name)
            ]
        return names + [self._unit_display(n) for n in dict.fromkeys(shown)]

    def get_fieldsets(self, request, obj=None):
        """Read-only unit fields are shown by their display callables (once each)."""
        fieldsets = super().get_fieldsets(request, obj)
        everything = self._read_only_page(request, obj)
        readonly = {n for n in super().get_readonly_fields(request, obj) if isinstance(n, str)}
        seen = set()

        def shown(names):
            out = []
            for name in names:
                if isinstance(name, (list, tuple)):
                    row = shown(name)
                    if row:
                        out.append(tuple(row))
                    continue
                display = self._unit_display(name)
                if display and (everything or name in readonly):
                    name = display
                if name not in seen:
                    seen.add(name)
                    out.append(name)
            return out

        return [
            (title, {**options, "fields": shown(options.get("fields", ()))}) for title, options in fieldsets
        ]

    def get_list_display(self, request):
        names = super().get_list_display(request)
        keep = set(self.list_editable or ()) | set(self.list_display_links or ())
        return [
            self._unit_display(n) if isinstance(n, str) and n not in keep and self._unit_display(n) else n
            for n in names
        ]


class ObjectActionsMixin:
    """Actions beside their objects: ``object_actions(obj)`` gives the ``(label, url)`` of what can be
    done to ``obj`` now (ship, cancel, void, adjust, refund…); the list's 操作 column shows them as links
    (``action_links``) and the object's page as buttons at its top (the theme's ``actions_detail``)."""

    def object_actions(self, obj) -> list[tuple[str, str]]:
        return []

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and (actions := self.object_actions(obj)):
            context["actions_detail"] = list(context.get("actions_detail") or []) + [
                {"title": label, "path": url, "icon": None, "attrs": None, "dialog": None}
                for label, url in actions
            ]
        return super().render_change_form(
            request, context, add=add, change=change, form_url=form_url, obj=obj
        )


def action_links(actions, empty="") -> str:
    """``[(label, url), …]`` as the links of a list's 操作 column."""
    if not actions:
        return empty
    return format_html_join(" · ", '<a href="{}">{}</a>', ((url, label) for label, url in actions))


class ReplicaListMixin:
    """A list page reads from the read replica (``loyalty.db_router``): it shows, never decides, and says
    as of when (``admin/change_list.html``).  Its POSTs (actions, inline edits) stay on the primary."""

    @replica_readable
    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, extra_context)


class ModelAdmin(ReplicaListMixin, ObjectActionsMixin, UnitsAdminMixin, ThemeModelAdmin):
    """The base of every ModelAdmin of the project: the theme, money in 元, discounts in 折, actions
    beside their objects, list pages read from the replica."""


class TabularInline(UnitsAdminMixin, ThemeTabularInline):
    """The base of every tabular inline of the project: the theme, money in 元, discounts in 折."""


class StackedInline(UnitsAdminMixin, ThemeStackedInline):
    """The base of every stacked inline of the project: the theme, money in 元, discounts in 折."""


# --- operator actions: a form with a reason, behind a permission --------------------------


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("reason"), max_length=200, widget=forms.Textarea(attrs={"rows": 3}))
    idempotency_key = forms.CharField(widget=forms.HiddenInput)


def action_page(admin_view, request, *, title, form, obj, summary, permission):
    if not request.user.has_perm(permission):
        raise PermissionDenied
    context = {
        **admin_view.admin_site.each_context(request),
        "title": title,
        "opts": admin_view.model._meta,
        "object": obj,
        "summary": summary,
        "form": form,
    }
    return TemplateResponse(request, "admin/operator_action.html", context)


def new_key() -> dict:
    return {"idempotency_key": uuid.uuid4().hex}


class CsvExportMixin:
    """An "Export CSV" button on a list: every row the list's current filters and search select.

    Subclasses set ``csv_header`` (translatable labels) and write ``csv_row``, which gives what the
    list shows: labels, not codes; amounts in yuan (``yuan_text``); a member by ``member_cells``.
    The file is named after the list and the day: ``订单_2026-12-05.csv``.
    The rows stream oldest first (by id), so a large ledger never sits in memory; the list's
    ``list_select_related`` fetches what a row names.
    """

    change_list_template = "admin/csv_change_list.html"
    csv_header: list = []

    def csv_row(self, obj) -> list:
        raise NotImplementedError

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_export"
        return [path("export/", self.admin_site.admin_view(self.export_csv), name=name)] + super().get_urls()

    @replica_readable
    def export_csv(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:  # what the list page answers with ?e=1
            return HttpResponseRedirect(
                reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist") + "?e=1"
            )
        queryset = changelist.get_queryset(request).order_by("id")
        rows = (self.csv_row(obj) for obj in queryset.iterator(chunk_size=2000))
        filename = f"{self.opts.verbose_name_plural}_{timezone.localdate()}.csv"
        return stream_csv(filename=filename, header=self.csv_header, rows=rows)


#: The two columns that name a member in a CSV (``member_cells``).
MEMBER_HEADER = [_("member ID"), _("member")]


def member_cells(member) -> list:
    """A member in a CSV as on the admin pages: the id, then the nickname (or 已注销会员 #id)."""
    return [member.pk, str(member)]


def _in_yuan(label) -> str:
    return gettext("%(label)s (yuan)") % {"label": label}


#: A CSV header for an amount: ``in_yuan(_("goods"))`` reads 商品金额（元）, in the request's language.
in_yuan = lazy(_in_yuan, str)


def local_time(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def rows_table(rows) -> str:
    """``[(label, value), …]`` as a small two-column table: how a detail page shows a structured value
    (never as JSON); "—" when there is nothing."""
    rows = list(rows)
    if not rows:
        return "—"
    return format_html("<table>{}</table>", format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows))


def labelled_filter(field: str, title, labels):
    """A list filter on ``field`` offering the values in use by their labels: ``labels(values)`` gives
    ``{value: label}`` for those it knows, the others read as themselves.  For a column whose set of
    codes is open, where ``choices`` would hide a code it does not list."""

    class LabelledFilter(admin.SimpleListFilter):
        parameter_name = field

        def lookups(self, request, model_admin):
            values = list(
                model_admin.get_queryset(request)
                .exclude(**{field: ""})
                .order_by(field)
                .values_list(field, flat=True)
                .distinct()
            )
            known = labels(values)
            return [(value, known.get(value) or value) for value in values]

        def queryset(self, request, queryset):
            return queryset.filter(**{field: self.value()}) if self.value() else queryset

    LabelledFilter.title = title
    return LabelledFilter


class IsoDateInput(forms.DateInput):
    """A browser date picker: ``type=date`` takes only ISO values (2026-09-07), whatever the language's
    date format, so the value is always rendered so (else the browser drops it and the form posts nothing)."""

    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


def count_text(value) -> str:
    """A count with thousands separators (``12345`` → ``12,345``), as the merchant's locale (zh-CN) groups
    them; ``None`` stays ``None`` so the caller says why there is no figure."""
    return None if value is None else f"{int(value):,}"


def no_figure(reason) -> str:
    """Where a figure cannot be given: the short reason, in a muted span whose tooltip says it too."""
    return format_html('<span class="lo-none" title="{}">{}</span>', reason, reason)


# --- list filters the workbench (the home page's to-dos) links to ---------------------------------


def week_bounds(today=None):
    """This week's Monday 00:00 and next Monday 00:00, local time (aware datetimes)."""
    today = today or timezone.localdate()
    monday = today - timedelta(days=today.weekday())
    start = timezone.make_aware(datetime.combine(monday, time.min))
    return start, start + timedelta(days=7)


def this_week_q(start_field: str, end_field: str, *, dates: bool = False) -> models.Q:
    """Rows whose ``start_field`` or ``end_field`` falls in this week (date fields with ``dates``)."""
    start, end = week_bounds()
    if dates:
        start, end = start.date(), end.date()
    return models.Q(**{f"{start_field}__gte": start, f"{start_field}__lt": end}) | models.Q(
        **{f"{end_field}__gte": start, f"{end_field}__lt": end}
    )


def this_week_filter(start_field: str, end_field: str, *, dates: bool = False):
    """A list filter "starting or ending this week" (``?week=this``) on a start and an end field."""

    class ThisWeekFilter(admin.SimpleListFilter):
        title = _("this week")
        parameter_name = "week"

        def lookups(self, request, model_admin):
            return [("this", _("starting or ending this week"))]

        def queryset(self, request, queryset):
            if self.value() == "this":
                return queryset.filter(this_week_q(start_field, end_field, dates=dates))
            return queryset

    return ThisWeekFilter


#: What "near stock-out" means on the workbench and in the stock filters.
LOW_STOCK = 10


def low_stock_filter(left: models.Expression):
    """A list filter "stock nearly out" (``?stock_level=low``): rows whose ``left`` is at most LOW_STOCK."""

    class LowStockFilter(admin.SimpleListFilter):
        title = _("stock")
        parameter_name = "stock_level"

        def lookups(self, request, model_admin):
            return [("low", _("nearly out (%(n)s or fewer)") % {"n": LOW_STOCK})]

        def queryset(self, request, queryset):
            if self.value() == "low":
                return queryset.alias(stock_left=left).filter(stock_left__lte=LOW_STOCK)
            return queryset

    return LowStockFilter
