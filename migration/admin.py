"""Operators' import pages: upload → map the columns → dry-run report → import with progress → undo;
and the member exports' pages (progress, then the download).

Each step is a button on the import's page (``object_actions``); the services in ``migration.imports``
decide, the views only ask and show.  Every step is logged against the import (the audit trail).
"""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from loyalty.admin_tools import ModelAdmin, ReadOnlyAdminMixin, action_links, count_text
from loyalty.errors import ApplicationError
from loyalty.money import format_fen
from migration import export_views, fields, imports
from migration.models import (
    ExportJob,
    ExportStatus,
    ImportJob,
    JobStatus,
    MappingPreset,
    MatchRule,
    RowStatus,
    TotalPolicy,
)
from migration.parsing import ENCODING_LABELS

PROBLEM_ROWS_SHOWN = 500


class UploadForm(forms.Form):
    file = forms.FileField(
        label=_("file"),
        help_text=_("CSV (UTF-8 or GBK) or Excel .xlsx, the first row naming the columns."),
    )


class MappingForm(forms.Form):
    match_rule = forms.ChoiceField(label=_("existing members"), choices=MatchRule.choices)
    total_policy = forms.ChoiceField(label=_("stored-value total"), choices=TotalPolicy.choices)
    preset_name = forms.CharField(
        label=_("save as preset"),
        required=False,
        max_length=60,
        help_text=_("Name this mapping to have it filled in for the old system's next file."),
    )

    def __init__(self, *args, headers: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.headers = headers
        for index, header in enumerate(headers):
            self.fields[f"column_{index}"] = forms.ChoiceField(
                label=header or f"#{index + 1}", choices=fields.choices(), required=False
            )

    def mapping(self) -> dict[str, str]:
        return {h: self.cleaned_data.get(f"column_{i}") or "" for i, h in enumerate(self.headers)}


@admin.register(ImportJob)
class ImportJobAdmin(ModelAdmin):
    list_display = [
        "id",
        "filename",
        "status",
        "progress",
        "row_count",
        "error_rows",
        "created_by",
        "created_at",
        "actions_column",
    ]
    list_filter = ["status"]
    list_select_related = ["created_by"]
    search_fields = ["filename", "sha256"]
    change_form_template = "admin/migration/importjob/change_form.html"
    fields = [
        "filename",
        "encoding_label",
        "fingerprint",
        "status",
        "match_rule",
        "total_policy",
        "created_by",
        "created_at",
    ]
    readonly_fields = fields

    @admin.display(description=_("file fingerprint"))
    def fingerprint(self, job):
        """Enough of the file's SHA-256 to tell two files apart by eye (the whole one is its key)."""
        return job.sha256[:12]

    def has_change_permission(self, request, obj=None):
        return False  # the page is the report; each step is its own view behind the change permission

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("read as"))
    def encoding_label(self, job):
        return ENCODING_LABELS.get(job.encoding, job.encoding)

    @admin.display(description=_("progress"))
    def progress(self, job):
        if job.status in (JobStatus.COMMITTING, JobStatus.COMMITTED, JobStatus.UNDONE):
            return f"{job.committed_rows} / {job.ok_rows + job.warning_rows}"
        return "—"

    @admin.display(description=_("actions"))
    def actions_column(self, job):
        return action_links(self.object_actions(job))

    def object_actions(self, job):
        url = lambda name: reverse(f"admin:migration_importjob_{name}", args=[job.pk])  # noqa: E731
        actions = []
        if job.status in (JobStatus.DRAFT, JobStatus.VALIDATED):
            actions.append((_("Map columns and dry run"), url("mapping")))
        if job.status == JobStatus.VALIDATED and job.error_rows and not job.errors_accepted:
            actions.append((_("Accept the errors"), url("accept")))
        if job.can_commit:
            actions.append((_("Import"), url("commit")))
        if job.status == JobStatus.COMMITTED:
            actions.append((_("Undo the import"), url("undo")))
        return actions

    def get_urls(self):
        view = self.admin_site.admin_view
        name = "migration_importjob_"
        return [
            path("<int:pk>/mapping/", view(self.mapping_view), name=name + "mapping"),
            path("<int:pk>/accept/", view(self.accept_view), name=name + "accept"),
            path("<int:pk>/commit/", view(self.commit_view), name=name + "commit"),
            path("<int:pk>/undo/", view(self.undo_view), name=name + "undo"),
            path("<int:pk>/progress.json", view(self.progress_json), name=name + "progress"),
        ] + super().get_urls()

    # --- pages -------------------------------------------------------------------------------------

    def _may_act(self, request):
        if not request.user.has_perm("migration.change_importjob"):
            raise PermissionDenied

    def _page(self, request, template, job, title, **context):
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "title": title,
                "opts": self.model._meta,
                "object": job,
                **context,
            },
        )

    def add_view(self, request, form_url="", extra_context=None):
        """Step 1: upload the file; the columns are read and guessed (or a preset's) at once."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = UploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > imports.max_bytes():
                form.add_error(
                    "file",
                    _("The file is larger than the %(max)s MB allowed.")
                    % {"max": imports.max_bytes() // 2**20},
                )
            else:
                try:
                    job = imports.import_upload(
                        filename=upload.name, data=upload.read(), actor_id=request.user.pk
                    )
                except ApplicationError as refused:
                    form.add_error("file", str(refused.message))
                else:
                    self.log_addition(request, job, "upload")
                    return HttpResponseRedirect(reverse("admin:migration_importjob_mapping", args=[job.pk]))
        return self._page(
            request,
            "admin/operator_action.html",
            None,
            _("Import members from another system"),
            form=form,
            summary=_(
                "Step 1 of 4: the file. Next you map its columns, then a dry run checks every row before anything is imported."
            ),
        )

    def mapping_view(self, request, pk):
        """Step 2: each column's field, the rule for existing members; saving runs the dry run."""
        self._may_act(request)
        job = get_object_or_404(ImportJob, pk=pk)
        initial = {f"column_{i}": job.mapping.get(h, "") for i, h in enumerate(job.headers)}
        initial.update(match_rule=job.match_rule, total_policy=job.total_policy)
        form = MappingForm(request.POST or None, headers=job.headers, initial=initial)
        if request.method == "POST" and form.is_valid():
            try:
                imports.import_map(
                    job_id=job.pk,
                    mapping=form.mapping(),
                    match_rule=form.cleaned_data["match_rule"],
                    total_policy=form.cleaned_data["total_policy"],
                    preset_name=form.cleaned_data["preset_name"],
                    actor_id=request.user.pk,
                )
                if imports.dry_run_in_request(job):
                    job = imports.import_dry_run(job_id=job.pk)
                else:
                    job = imports.import_dry_run_start(job_id=job.pk)
            except ApplicationError as refused:
                form.add_error(None, str(refused.message))
            else:
                self.log_change(request, job, "mapping and dry run")
                return HttpResponseRedirect(reverse("admin:migration_importjob_change", args=[job.pk]))
        column_fields = [form[f"column_{i}"] for i in range(len(job.headers))]
        return self._page(
            request,
            "admin/migration/mapping.html",
            job,
            _("Map the columns"),
            form=form,
            columns=list(zip(column_fields, _samples(job), strict=False)),
            encoding=ENCODING_LABELS.get(job.encoding, job.encoding),
            earlier=imports.earlier_imports_of(job),
        )

    def accept_view(self, request, pk):
        self._may_act(request)
        job = get_object_or_404(ImportJob, pk=pk)
        if request.method == "POST":
            try:
                imports.import_accept_errors(job_id=job.pk)
            except ApplicationError as refused:
                messages.error(request, refused.message)
            else:
                self.log_change(request, job, "errors accepted")
            return HttpResponseRedirect(reverse("admin:migration_importjob_change", args=[job.pk]))
        return self._page(
            request,
            "admin/migration/confirm.html",
            job,
            _("Accept the errors"),
            summary=_("%(n)s rows have errors and will not be imported; the other rows will.")
            % {"n": job.error_rows},
            label=_("Import without the rows with errors"),
        )

    def commit_view(self, request, pk):
        """Step 4: import (the bulk queue, in chunks); the page then shows the progress."""
        self._may_act(request)
        job = get_object_or_404(ImportJob, pk=pk)
        if request.method == "POST":
            try:
                imports.import_commit_start(job_id=job.pk)
            except ApplicationError as refused:
                messages.error(request, refused.message)
            else:
                self.log_change(request, job, "commit")
            return HttpResponseRedirect(reverse("admin:migration_importjob_change", args=[job.pk]))
        return self._page(
            request,
            "admin/migration/confirm.html",
            job,
            _("Import"),
            summary=_(
                "Import %(n)s members with their balances. Check the totals against the old system first."
            )
            % {"n": job.totals.get("members", 0)},
            totals=_totals(job),
            label=_("Import now"),
        )

    def undo_view(self, request, pk):
        """Undo: refused with who and what when a member has moved imported value."""
        self._may_act(request)
        job = get_object_or_404(ImportJob, pk=pk)
        blockers = imports.import_undo_blockers(job_id=job.pk) if job.status == JobStatus.COMMITTED else []
        if request.method == "POST" and not blockers:
            try:
                imports.import_undo(job_id=job.pk, actor_id=request.user.pk)
            except ApplicationError as refused:
                messages.error(request, refused.message)
            else:
                self.log_change(request, job, "undo")
                messages.success(request, _("The import was undone: every balance it posted was reversed."))
            return HttpResponseRedirect(reverse("admin:migration_importjob_change", args=[job.pk]))
        return self._page(
            request,
            "admin/migration/confirm.html",
            job,
            _("Undo the import"),
            summary=_("These members have used what was imported, so the import cannot be undone:")
            if blockers
            else _("Every balance the import posted is reversed with reversal entries; the members stay."),
            blockers=blockers,
            label=None if blockers else _("Undo now"),
        )

    def progress_json(self, request, pk):
        job = get_object_or_404(ImportJob, pk=pk)
        if not self.has_view_permission(request, job):
            return JsonResponse({}, status=403)
        return JsonResponse(
            {
                "status": job.status,
                "status_display": job.get_status_display(),
                "committed_rows": job.committed_rows,
                "todo": job.ok_rows + job.warning_rows,
                "percent": job.progress_percent,
            }
        )

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        if obj is not None:
            counts = dict(
                obj.rows.order_by().values_list("status").annotate(n=Count("id")).values_list("status", "n")
            )
            context.update(
                totals=_totals(obj),
                row_counts=[
                    (label, counts.get(code, 0)) for code, label in RowStatus.choices if counts.get(code)
                ],
                problem_rows=obj.rows.exclude(problems=[]).order_by("number")[:PROBLEM_ROWS_SHOWN],
                problem_rows_more=max(0, obj.rows.exclude(problems=[]).count() - PROBLEM_ROWS_SHOWN),
                earlier=imports.earlier_imports_of(obj),
                running=obj.status in (JobStatus.VALIDATING, JobStatus.COMMITTING),
            )
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)


def _samples(job: ImportJob) -> list[list[str]]:
    """The first rows of the file under their headers, to map by what the columns hold."""
    from migration.parsing import read_table  # noqa: PLC0415 — the same reader the dry run uses

    with job.file.open("rb") as handle:
        table = read_table(
            handle.read(), filename=job.filename, max_bytes=imports.max_bytes(), max_rows=imports.max_rows()
        )
    return [list(column) for column in zip(*table.rows[:3], strict=False)] or [[] for _h in job.headers]


def _totals(job: ImportJob) -> list[tuple[str, str]]:
    t = job.totals
    if not t:
        return []
    return [
        (_("members to import"), t.get("members", 0)),
        (_("new members"), t.get("members_new", 0)),
        (_("existing members (balances added)"), t.get("members_matched", 0)),
        (_("existing members skipped"), t.get("members_skipped", 0)),
        (_("points (in lots)"), f"{t.get('points', 0)} ({t.get('lots', 0)})"),
        (_("of which already expired"), t.get("points_expired", 0)),
        (_("stored value: principal"), format_fen(t.get("principal_fen", 0))),
        (_("stored value: bonus"), format_fen(t.get("bonus_fen", 0))),
        (_("membership cards"), t.get("cards", 0)),
        (_("unused coupons"), t.get("coupons", 0)),
    ]


@admin.register(MappingPreset)
class MappingPresetAdmin(ModelAdmin):
    list_display = ["name", "columns", "created_by", "updated_at"]
    fields = ["name"]

    @admin.display(description=_("columns"))
    def columns(self, preset):
        return "，".join(
            f"{h} → {fields.BY_KEY[f].label}" for h, f in preset.mapping.items() if f in fields.BY_KEY
        )

    def has_add_permission(self, request):
        return False


# --- member exports ---------------------------------------------------------------------------------

#: A job's progress, shown once: in the header above its fields, which the page's poll keeps current.
EXPORT_PROGRESS_FIELDS = ["status", "rows_done", "rows_total"]


@admin.register(ExportJob)
class ExportJobAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """The member exports: each one's progress, then its download (to whoever may export).

    Started from the export page (``member-export``), never added here; seen and downloaded only with
    ``members.export_members`` (the file holds every member's personal data and balances).
    """

    list_display = [
        "id",
        "format",
        "status",
        "progress",
        "created_by",
        "created_at",
        "finished_at",
        "download_link",
    ]
    list_filter = ["status", "format"]
    list_select_related = ["created_by"]
    fields = [
        "format",
        "filters_text",
        "as_of",
        "created_by",
        "created_at",
        "finished_at",
        "size_text",
        "attempts",
        "error",
        "expired_at",
    ]
    readonly_fields = fields
    empty_value_display = _("None")
    change_form_template = "admin/migration/exportjob/change_form.html"

    def has_module_permission(self, request):
        return request.user.has_perm(export_views.PERMISSION)

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(export_views.PERMISSION)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/download/",
                view(export_views.member_export_download),
                name="migration_exportjob_download",
            ),
            path("<int:pk>/progress.json", view(self.progress_json), name="migration_exportjob_progress"),
        ] + super().get_urls()

    @admin.display(description=_("the member list's filter"))
    def filters_text(self, job):
        return job.filters or _("every member")

    @admin.display(description=_("size"))
    def size_text(self, job):
        return filesizeformat(job.size) if job.size else None

    @admin.display(description=_("progress"))
    def progress(self, job):
        return f"{count_text(job.rows_done)} / {count_text(job.rows_total)}"

    @admin.display(description=_("file"))
    def download_link(self, job):
        if job.status != ExportStatus.DONE:
            return ""
        return action_links([(_("Download"), reverse("admin:migration_exportjob_download", args=[job.pk]))])

    def progress_json(self, request, pk):
        job = get_object_or_404(ExportJob, pk=pk)
        if not self.has_view_permission(request, job):
            return JsonResponse({}, status=403)
        return JsonResponse(
            {
                "status": job.status,
                "status_display": job.get_status_display(),
                "rows_done": job.rows_done,
                "rows_total": job.rows_total,
            }
        )

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        context["retention_days"] = settings.EXPORT_RETENTION_DAYS
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)
