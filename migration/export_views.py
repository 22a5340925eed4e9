"""The export views: the operators' member export page (start a CSV or XLSX export, download it when
written) and a member's own data (JSON).

The admin pages are wired in ``loyalty/urls.py`` under ``/admin/`` (the export job's list and page are
``ExportJobAdmin``); the sidebar links them under 会员 for whoever holds ``members.export_members``.
The file is written by a bulk worker (``migration.export_jobs``): a large shop's export outlasts the
web's request timeout, so every export is a job, whatever its size.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView
from unfold.widgets import UnfoldAdminRadioSelectWidget

from loyalty.api.serializers import ErrorSerializer
from loyalty.api.throttling import ScopedThrottle
from loyalty.spreadsheets import CSV_CONTENT_TYPE, XLSX_CONTENT_TYPE, content_disposition
from members.models import Member
from migration import export_docs, export_jobs, exports
from migration.export_jobs import EXPORTED, recent_exports
from migration.models import ExportFormat, ExportJob, ExportStatus

PERMISSION = "members.export_members"

__all__ = ["EXPORTED", "PERMISSION", "member_export_download", "member_export_page", "recent_exports"]


class MemberExportForm(forms.Form):
    format = forms.ChoiceField(
        label=_("file format"),
        choices=ExportFormat.choices,
        initial="csv",
        widget=UnfoldAdminRadioSelectWidget,  # the theme's radios (Django's bare ones collapse in its layout)
    )
    filters = forms.CharField(required=False, widget=forms.HiddenInput, max_length=2000)
    use_filters = forms.BooleanField(
        label=_("only the members the member list's filter selects"), required=False, initial=True
    )


def member_export_page(request):
    """The page (choose a format, keep the member list's filter or not); its POST starts the export job
    and leads to the job's page, which shows the progress and then the download."""
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    filters = request.POST.get("filters", "") if request.method == "POST" else request.GET.get("filters", "")
    form = MemberExportForm(
        request.POST if request.method == "POST" else None, initial={"filters": filters, "format": "csv"}
    )
    if not filters:
        del form.fields["use_filters"]  # reached from the sidebar: no list filter to keep
    error = None
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        chosen = data["filters"] if data.get("use_filters") else ""
        if chosen and not request.user.has_perm("members.view_member"):
            raise PermissionDenied
        try:
            job = export_jobs.export_job_start(user=request.user, file_format=data["format"], filters=chosen)
        except IncorrectLookupParameters:
            error = _("The member list's filter is not valid any more; export without it or filter again.")
        else:
            return redirect("admin:migration_exportjob_change", job.pk)
    context = {
        **admin.site.each_context(request),
        "title": _("Export members"),
        "summary": _(
            "Every member (closed accounts left out) with tier, growth, tags, points with their lots, stored "
            "value (principal and bonus, in yuan), membership cards and unused coupons, one row each. The "
            "columns are the ones the import reads. The file is written in the background: its page shows "
            "the progress, then the download. Every export and every download is recorded below."
        ),
        "opts": Member._meta,
        "form": form,
        "error": error,
        "filters": filters,
        "list_url": reverse("admin:members_member_changelist") + (f"?{filters}" if filters else ""),
        "columns": [column.label for column in exports.COLUMNS],
        "recent": recent_exports(),
        "jobs_url": reverse("admin:migration_exportjob_changelist"),
    }
    return TemplateResponse(request, "admin/migration/member_export.html", context)


def member_export_download(request, pk):
    """The written file, to whoever may export (each download in the admin log); never a MEDIA URL."""
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    job = get_object_or_404(ExportJob, pk=pk)
    path = export_jobs.file_path(job)
    if job.status != ExportStatus.DONE or not path.is_file():
        messages.error(request, gettext("This export has no file to download."))
        return redirect("admin:migration_exportjob_change", job.pk)
    export_jobs.audit(user_id=request.user.pk, what=export_jobs.describe(job, export_jobs.DOWNLOADED))
    response = FileResponse(
        open(path, "rb"),  # noqa: SIM115 - closed by the response when it has been sent
        content_type=XLSX_CONTENT_TYPE if job.format == ExportFormat.XLSX else CSV_CONTENT_TYPE,
    )
    response["Content-Disposition"] = content_disposition(export_jobs.download_name(job))
    response["Cache-Control"] = "no-store"
    return response


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
