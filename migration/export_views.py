"""The export views: the operators' member export page (CSV or XLSX) and a member's own data (JSON).

The admin page is wired in ``loyalty/urls.py`` under ``/admin/`` (this app has no ModelAdmin of its
own); the sidebar links it under 会员 for whoever holds ``members.export_members``.
"""

from __future__ import annotations

import copy
from urllib.parse import urlencode

from django import forms
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.http import QueryDict
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.api.serializers import ErrorSerializer
from loyalty.api.throttling import ScopedThrottle
from loyalty.db_router import replica_readable
from loyalty.spreadsheets import content_disposition, stream_csv, stream_xlsx
from members.models import Member
from migration import export_docs, exports

PERMISSION = "members.export_members"
#: The admin log's flag for an export (Django's own are 1 added, 2 changed, 3 deleted).
EXPORTED = 4

FORMATS = [("csv", _("CSV (UTF-8, opens in Excel)")), ("xlsx", _("Excel workbook (XLSX)"))]


class MemberExportForm(forms.Form):
    format = forms.ChoiceField(
        label=_("file format"), choices=FORMATS, initial="csv", widget=forms.RadioSelect
    )
    filters = forms.CharField(required=False, widget=forms.HiddenInput, max_length=2000)
    use_filters = forms.BooleanField(
        label=_("only the members the member list's filter selects"), required=False, initial=True
    )


def _members(request, filters: str):
    """The members the member list selects with ``filters`` (its query string), by the list's own rules."""
    member_admin = admin.site._registry[Member]
    listing = copy.copy(request)
    listing.GET = QueryDict(filters)
    return member_admin.get_changelist_instance(listing).get_queryset(listing)


def _audit(request, *, file_format: str, filters: str) -> None:
    """Who exported which members, in which format, when: a row of the admin log (Django's LogEntry)."""
    what = gettext("member export (%(format)s)") % {"format": file_format.upper()}
    if filters:
        what += " · " + gettext("filter: %(filters)s") % {"filters": filters}
    LogEntry.objects.create(
        user_id=request.user.pk,
        content_type=ContentType.objects.get_for_model(Member),
        object_id=None,
        object_repr=what[:200],
        action_flag=EXPORTED,
        change_message=what,
    )


def recent_exports(limit: int = 20):
    return (
        LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(Member), action_flag=EXPORTED)
        .select_related("user")
        .order_by("-action_time")[:limit]
    )


@replica_readable  # the rows stream from the replica where there is one, as the admin's other exports
def member_export_page(request):
    """The page (choose a format, keep the member list's filter or not), and the download it asks for."""
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    form = MemberExportForm(request.GET if "format" in request.GET else None, initial=request.GET.dict())
    if not request.GET.get("filters"):
        del form.fields["use_filters"]  # reached from the sidebar: no list filter to keep
    error = None
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        filters = data["filters"] if data.get("use_filters") else ""
        members = None
        try:
            if filters:
                if not request.user.has_perm("members.view_member"):
                    raise PermissionDenied
                members = _members(request, filters)
        except IncorrectLookupParameters:
            error = _("The member list's filter is not valid any more; export without it or filter again.")
        if error is None:
            _audit(request, file_format=data["format"], filters=filters)
            name = f"{gettext('member export')}_{timezone.localdate()}.{data['format']}"
            stream = stream_xlsx if data["format"] == "xlsx" else stream_csv
            options = {"sheet_title": gettext("member export")} if data["format"] == "xlsx" else {}
            return stream(
                filename=name,
                header=exports.header(),
                rows=exports.member_export_rows(members=members),
                **options,
            )
    filters = request.GET.get("filters", "")
    context = {
        **admin.site.each_context(request),
        "title": _("Export members"),
        "summary": _(
            "Every member (closed accounts left out) with tier, growth, tags, points with their lots, stored "
            "value (principal and bonus, in yuan), membership cards and unused coupons, one row each. The "
            "columns are the ones the import reads. Every export is recorded below."
        ),
        "opts": Member._meta,
        "form": form,
        "error": error,
        "filters": filters,
        "list_url": reverse("admin:members_member_changelist") + (f"?{filters}" if filters else ""),
        "columns": [column.label for column in exports.COLUMNS],
        "recent": recent_exports(),
    }
    return TemplateResponse(request, "admin/migration/member_export.html", context)


def member_export_url(filters: QueryDict | None = None) -> str:
    """The export page's address, carrying the member list's filter (its query string) when given."""
    url = reverse("member-export")
    return f"{url}?{urlencode({'filters': filters.urlencode()})}" if filters else url


# --- the member's own data ----------------------------------------------------------------------------


class MyDataExportView(APIView):
    """Everything held about me, as a JSON file (the personal-information access right)."""

    throttle_classes = [ScopedThrottle]
    throttle_scope = "me_export"  # ME_EXPORT_THROTTLE_RATE, per member

    @export_docs.me_export
    @extend_schema(responses={200: export_docs.MyDataSerializer, 429: ErrorSerializer})
    def get(self, request):
        data = exports.member_personal_data(member_id=request.user.pk)
        response = Response(data)
        response["Content-Disposition"] = content_disposition(f"my-data_{timezone.localdate()}.json")
        response["Cache-Control"] = "no-store"
        return response
