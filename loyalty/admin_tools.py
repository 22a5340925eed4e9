"""Small admin building blocks shared by the apps."""

import csv
import uuid

from django import forms
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from loyalty.api.parsers import LimitedJSONDecoder
from loyalty.money import format_fen


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


def money(field: str, label):
    """A list column showing an integer-fen field as ¥1,650.00."""

    def column(obj):
        return format_fen(getattr(obj, field))

    column.short_description = label
    column.admin_order_field = field
    return column


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

    Subclasses set ``csv_filename`` and ``csv_header`` and write ``csv_row``;
    the rows stream oldest first (by id), so a large ledger never sits in memory.
    """

    change_list_template = "admin/csv_change_list.html"
    csv_filename = "export.csv"
    csv_header: list[str] = []

    def csv_row(self, obj) -> list:
        raise NotImplementedError

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_export"
        return [path("export/", self.admin_site.admin_view(self.export_csv), name=name)] + super().get_urls()

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
        return stream_csv(filename=self.csv_filename, header=self.csv_header, rows=rows)


class _Echo:
    def write(self, value):
        return value


def stream_csv(*, filename: str, header: list[str], rows) -> StreamingHttpResponse:
    """A CSV download that streams, so a large ledger never sits in memory.

    Starts with a UTF-8 BOM so Excel (what finance opens it with) reads the
    Chinese text correctly.
    """
    writer = csv.writer(_Echo())

    def lines():
        yield "\ufeff" + writer.writerow(header)
        for row in rows:
            yield writer.writerow([_defuse(cell) for cell in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _defuse(cell):
    """Text a spreadsheet would run as a formula (a nickname like ``=HYPERLINK(…)``) is quoted.

    Only text: numbers, negative amounts included, stay numbers.
    """
    if isinstance(cell, str) and cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + cell
    return cell


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
