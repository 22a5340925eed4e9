"""The member export as a background job: started in the admin, written by a bulk worker, downloaded later.

A large shop's export takes minutes (1M members: about 6 minutes as CSV, 17 as XLSX), far past the web's
request timeout, so the admin only starts it (``export_job_start``) and the worker writes the file under
``MEDIA_ROOT/exports/`` (``export_job_run``), counting the members written as it goes so the job's page
shows its progress.  The file is personal information: it is served only by the download view, to
whoever holds ``members.export_members``, and deleted ``EXPORT_RETENTION_DAYS`` after it was written
(``exports_prune``, nightly).  Every start and every download is a row of the admin log.

A worker killed half-way: while it writes, the worker holds an advisory lock on the job
(``locks.try_hold``: its connection closes with the process, and the lock with it).  The resume job
(``exports_resume``, every 10 minutes) takes every queued or running job whose lock is free (nobody is
writing it) and writes it again from the start (into a ``.part`` file renamed when complete, so a half
file is never served); after ``EXPORT_MAX_ATTEMPTS`` starts it marks the job failed with the reason,
and the operator starts a new one.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import F, QuerySet
from django.http import HttpRequest, QueryDict
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from loyalty import locks
from loyalty.db_router import replica_reads
from loyalty.enqueue import enqueue_on_commit
from loyalty.locks import Space
from loyalty.spreadsheets import write_csv, write_xlsx
from members.models import Member
from migration import exports
from migration.models import ExportFormat, ExportJob, ExportStatus

#: The admin log's flag for an export (Django's own are 1 added, 2 changed, 3 deleted).
EXPORTED = 4
FOLDER = "exports"

log = logging.getLogger(__name__)


def members_selected(*, user, filters: str) -> QuerySet:
    """The members the member list selects for ``user`` with ``filters`` (its query string), by the list's
    own rules (its filters, search and the user's store scope); IncorrectLookupParameters when the list
    no longer accepts the filter."""
    member_admin = admin.site._registry[Member]
    listing = HttpRequest()
    listing.method = "GET"
    listing.GET = QueryDict(filters)
    listing.user = user
    return member_admin.get_changelist_instance(listing).get_queryset(listing)


def audit(*, user_id: int, what: str) -> None:
    """Who started or downloaded which export, when: a row of the admin log (Django's LogEntry)."""
    LogEntry.objects.create(
        user_id=user_id,
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


#: What the admin log says of an export, by what was done.
STARTED = _("started: member export #%(id)s (%(format)s)")
DOWNLOADED = _("downloaded: member export #%(id)s (%(format)s)")


def describe(job: ExportJob, action) -> str:
    what = str(action) % {"id": job.pk, "format": job.format.upper()}
    if job.filters:
        what += " · " + gettext("filter: %(filters)s") % {"filters": job.filters}
    return what


def export_job_start(*, user, file_format: str, filters: str = "") -> ExportJob:
    """Queue an export of every open member (or those the member list's ``filters`` select).

    The filter is checked now, so the operator hears at once that the list no longer accepts it
    (IncorrectLookupParameters); the worker applies it again when it writes.  The task is sent after
    commit; ``exports_resume`` covers a task the broker lost.
    """
    if filters:
        members_selected(user=user, filters=filters)
    with transaction.atomic():
        job = ExportJob.objects.create(
            format=file_format, filters=filters, as_of=timezone.now(), created_by=user
        )
        audit(user_id=user.pk, what=describe(job, STARTED))
        enqueue_on_commit("migration.tasks.run_export", job.pk)
    return job


def file_path(job: ExportJob) -> Path:
    return Path(settings.MEDIA_ROOT) / FOLDER / f"member-export-{job.pk}.{job.format}"


def download_name(job: ExportJob) -> str:
    day = timezone.localdate(job.created_at)
    return f"{gettext('member export')}_{day}_{job.pk}.{job.format}"


def export_job_run(*, job_id: int, chunk_size: int = exports.CHUNK_SIZE) -> ExportJob:
    """Write the job's file (again from the start if a killed worker left it); a job another live worker
    is writing, or one already finished, is returned unchanged."""
    if not locks.try_hold(Space.EXPORT_JOB, job_id):
        return ExportJob.objects.get(pk=job_id)
    part = None
    try:
        job = ExportJob.objects.select_related("created_by").get(pk=job_id)
        if job.status not in (ExportStatus.QUEUED, ExportStatus.RUNNING):
            return job
        if job.attempts >= max_attempts():
            _fail(
                job,
                gettext(
                    "The worker writing the file stopped %(n)s times before it was done; start the export "
                    "again (a narrower filter makes a smaller file)."
                )
                % {"n": job.attempts},
            )
            return ExportJob.objects.get(pk=job_id)
        with translation.override(settings.LANGUAGE_CODE):  # the headers and labels as the admin shows them
            try:
                members = (
                    members_selected(user=job.created_by, filters=job.filters)
                    if job.filters
                    else Member.objects.all()
                )
            except IncorrectLookupParameters:
                _fail(job, gettext("The member list's filter is not valid any more; export without it."))
                return ExportJob.objects.get(pk=job_id)
            total = members.filter(closed_at__isnull=True).count()
            ExportJob.objects.filter(pk=job_id).update(
                status=ExportStatus.RUNNING,
                attempts=F("attempts") + 1,
                rows_total=total,
                rows_done=0,
                error="",
            )
            path = file_path(job)
            path.parent.mkdir(parents=True, exist_ok=True)
            part = path.with_name(path.name + ".part")
            counter = _Progress(
                replica_reads(
                    exports.member_export_rows(members=members, chunk_size=chunk_size, now=job.as_of)
                ),
                job_id=job_id,
                every=chunk_size,
            )
            if job.format == ExportFormat.XLSX:
                write_xlsx(part, header=exports.header(), rows=counter, sheet_title=gettext("member export"))
            else:
                with open(part, "w", encoding="utf-8", newline="") as handle:
                    write_csv(handle, header=exports.header(), rows=counter)
        os.replace(part, path)
        part = None
        ExportJob.objects.filter(pk=job_id).update(
            status=ExportStatus.DONE,
            rows_done=counter.count,
            rows_total=counter.count,
            file=str(path.relative_to(settings.MEDIA_ROOT)),
            size=path.stat().st_size,
            finished_at=timezone.now(),
        )
        return ExportJob.objects.get(pk=job_id)
    except Exception as exc:
        with translation.override(settings.LANGUAGE_CODE):
            reason = gettext("Writing the file failed; start the export again. (%(error)s)") % {
                "error": f"{type(exc).__name__}: {exc}"
            }
        ExportJob.objects.filter(pk=job_id).update(
            status=ExportStatus.FAILED, error=reason[:300], finished_at=timezone.now()
        )
        raise
    finally:
        if part is not None:
            part.unlink(missing_ok=True)
        locks.let_go(Space.EXPORT_JOB, job_id)


class _Progress:
    """The rows, counted as they are written; the job's ``rows_done`` brought up to date every ``every``
    rows (one short UPDATE, committed at once: the page's poll reads it)."""

    def __init__(self, rows, *, job_id: int, every: int):
        self.rows, self.job_id, self.every, self.count = rows, job_id, every, 0

    def __iter__(self):
        for row in self.rows:
            yield row
            self.count += 1
            if self.count % self.every == 0:
                ExportJob.objects.filter(pk=self.job_id).update(rows_done=self.count)


def _fail(job: ExportJob, reason: str) -> None:
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportStatus.FAILED, error=reason[:300], finished_at=timezone.now()
    )
    file_path(job).with_name(file_path(job).name + ".part").unlink(missing_ok=True)


def max_attempts() -> int:
    return settings.EXPORT_MAX_ATTEMPTS


def exports_resume() -> int:
    """Write every export a lost task or a killed worker left queued or running (the resume job); those a
    live worker is writing are left to it.  Returns how many were looked at."""
    ids = list(
        ExportJob.objects.filter(status__in=(ExportStatus.QUEUED, ExportStatus.RUNNING))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for job_id in ids:
        try:
            export_job_run(job_id=job_id)
        except Exception:  # noqa: BLE001 - marked failed with its reason; the next job still runs
            log.exception("member export %s failed", job_id)
    return len(ids)


def exports_prune(*, now=None) -> int:
    """Delete the files of exports finished more than ``EXPORT_RETENTION_DAYS`` ago (the job stays, as
    ``file deleted``, with who exported what and when); returns how many."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.EXPORT_RETENTION_DAYS)
    old = list(
        ExportJob.objects.filter(
            status__in=(ExportStatus.DONE, ExportStatus.FAILED),
            finished_at__lt=cutoff,
            expired_at__isnull=True,
        )
    )
    for job in old:
        path = file_path(job)
        path.unlink(missing_ok=True)
        path.with_name(path.name + ".part").unlink(missing_ok=True)
        fields = {"expired_at": now, "file": "", "size": 0}
        if job.status == ExportStatus.DONE:
            fields["status"] = ExportStatus.EXPIRED
        ExportJob.objects.filter(pk=job.pk).update(**fields)
    return len(old)
