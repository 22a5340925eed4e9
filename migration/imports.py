"""Importing members and what is owed to them from another system: upload, map, dry run, commit, undo.

Rules (docs/rules/migration.md):

* **Dry run first.** ``import_dry_run`` reads and checks every row before anything is written to a
  ledger, and stores each row's normalised values and problems; ``import_commit_start`` refuses a job
  whose dry run found errors unless the operator accepted them (those rows are left out).
* **Idempotent by file and row.** Every posting's key is ``migration:<file sha256>:<row>:<what>``
  (``row_key``), under each ledger's own unique constraint: the same file committed again (by this
  job resumed, or by a new job) posts nothing twice, and members it created are matched, not
  duplicated.
* **Resumable.** The commit runs in chunks of rows, each one transaction that also moves the job's
  ``next_row``; a worker killed between (or inside) chunks leaves the job at the last committed
  chunk, and the next run (``import_commit_run``, or the resume job) goes on from there.
* **Through the ledgers.** Points are ``points_earn`` lots (source ``migration``) with their own
  expiry, stored value is an ``adjust`` entry of source ``migration`` with its principal and bonus
  parts, coupons are ``coupon_issue`` (source ``migration``), cards ``card_import``, growth and tier
  ``membership_import``; no balance is written directly, so ``verify_ledgers``, the liability
  reports and breakage count them.
* **Undo** reverses with entries (points reversal, a negative stored-value adjustment, coupons
  voided, cards revoked, growth taken back) and only while no member has moved the imported value;
  otherwise ``import_undo_blockers`` says who and what.

Why not django-import-export: it maps a file onto model rows (``Resource.import_data``) inside one
transaction, with its own dry run that rolls the whole import back.  Here no imported value is a
model row: each is a ledger posting made through the ledgers' services with an idempotency key, in
chunks that commit separately and resume after a killed worker, with a dry run that must also find
duplicates against existing members and totals per ledger.  Its ``Resource`` would have been a shell
around these services; the format reading it offers (tablib) is the small part, done here with the
standard ``csv`` module and openpyxl's read-only mode.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.dateparse import parse_datetime as _parse_iso
from django.utils.translation import gettext as _

from analytics import tagging as analytics_tagging
from coupons import services as coupon_services
from coupons.models import Coupon, CouponStatus, CouponTemplate
from loyalty import locks
from loyalty.enqueue import enqueue_on_commit
from loyalty.errors import ApplicationError
from loyalty.locks import Rank, Space
from members import services as member_services
from members.models import Member
from members.receiving import lock_receiving
from membership import cards as membership_cards
from membership import services as membership_services
from membership.models import CardType, MembershipCard, Tier
from membership.tiers import lock_membership
from migration import fields, parsing
from migration import sql as migration_sql
from migration.exceptions import ImportFileRefused, ImportMappingInvalid, ImportNotReady, ImportUndoBlocked
from migration.models import (
    ImportChunk,
    ImportJob,
    ImportRow,
    JobStatus,
    MappingPreset,
    MatchRule,
    RowStatus,
    TotalPolicy,
)
from points import ledger as points_ledger
from points.models import EntryKind as PointsEntryKind
from points.models import PointsAllocation, PointsLot
from stored_value import ledger as sv_ledger
from stored_value.models import StoredValueEntry

SOURCE = "migration"
IDENTITIES = ("openid", "unionid", "phone")
LOOKUP_CHUNK = 5000
MATCH_CHUNK = 20_000  # rows whose identities the dry run looks up in one statement


@functools.lru_cache(maxsize=65536)  # a file repeats its expiries: each ISO text parsed once
def parse_datetime(text: str) -> datetime:
    """A datetime the dry run stored as ISO text (``ImportRow.data``)."""
    return _parse_iso(text)


def max_bytes() -> int:
    return getattr(settings, "MIGRATION_MAX_FILE_BYTES", 200 * 2**20)


def max_rows() -> int:
    return getattr(settings, "MIGRATION_MAX_ROWS", 2_000_000)


def commit_chunk() -> int:
    return getattr(settings, "MIGRATION_COMMIT_CHUNK", 500)


@locks.takes(Rank.DOCUMENT)
def _lock_job(job_id: int) -> ImportJob:
    """The job row, locked until the transaction ends: its steps and its commit's chunks one at a time
    (a resume beside a running commit waits for the chunk, then goes on from where it ended)."""
    return ImportJob.objects.select_for_update().get(pk=job_id)


def row_key(sha256: str, number: int, what: str) -> str:
    """The idempotency key of one posting of one row of a file: the same whichever job posts it."""
    return f"{SOURCE}:{sha256}:{number}:{what}"


def placeholder_openid(sha256: str, number: int) -> str:
    """The openid of a member a row without one creates (an old system keyed by phone): the same for
    the same file and row, so a second import of the file finds the member it created."""
    return f"import_{sha256[:32]}_{number}"


def row_reference(sha256: str, number: int) -> str:
    return f"{sha256[:16]}:{number}"


# --- upload and mapping ----------------------------------------------------------------------------


def import_upload(*, filename: str, data: bytes, actor_id: int) -> ImportJob:
    """Store the file and read its headers; the mapping is guessed from them (or a preset's)."""
    table = _read(data, filename)
    sha = hashlib.sha256(data).hexdigest()
    mapping = fields.guess_mapping(table.headers)
    preset = _matching_preset(table.headers)
    if preset is not None:
        mapping = {h: f for h, f in preset.mapping.items() if h in table.headers}
    return ImportJob.objects.create(
        file=ContentFile(data, name=filename[-100:]),
        filename=filename[-200:],
        sha256=sha,
        size=len(data),
        encoding=table.encoding,
        headers=table.headers,
        mapping=mapping,
        preset=preset,
        row_count=len(table.rows),
        created_by_id=actor_id,
    )


def _read(data: bytes, filename: str) -> parsing.Table:
    try:
        return parsing.read_table(data, filename=filename, max_bytes=max_bytes(), max_rows=max_rows())
    except parsing.FileRefused as error:
        raise ImportFileRefused(error.message) from error


def _matching_preset(headers: list[str]) -> MappingPreset | None:
    """The preset that maps the most of these headers (an old system's next export has the same)."""
    best, best_hits = None, 0
    for preset in MappingPreset.objects.all():
        hits = sum(1 for header in preset.mapping if header in headers)
        if hits > best_hits:
            best, best_hits = preset, hits
    return best


def earlier_imports_of(job: ImportJob) -> list[ImportJob]:
    """Other jobs of the same file: committing this one again posts nothing they posted."""
    return list(ImportJob.objects.filter(sha256=job.sha256).exclude(pk=job.pk).order_by("pk"))


def import_map(
    *,
    job_id: int,
    mapping: dict[str, str],
    match_rule: str,
    total_policy: str,
    preset_name: str = "",
    actor_id: int,
) -> ImportJob:
    """Set the columns' fields and the rules; a new mapping needs a new dry run.  ``preset_name``
    saves (or replaces) the mapping as a named preset."""
    with transaction.atomic():
        job = _lock_job(job_id)
        if job.status not in (JobStatus.DRAFT, JobStatus.VALIDATED):
            raise ImportNotReady()
        mapping = {h: f for h, f in mapping.items() if f and h in job.headers}
        unknown = [f for f in mapping.values() if f not in fields.BY_KEY]
        taken = list(mapping.values())
        if unknown:
            raise ImportMappingInvalid(_("Unknown field: %(field)s.") % {"field": unknown[0]})
        twice = {f for f in taken if taken.count(f) > 1}
        if twice:
            raise ImportMappingInvalid(
                _("Two columns are mapped to %(field)s.") % {"field": fields.BY_KEY[twice.pop()].label}
            )
        if not set(taken) & set(IDENTITIES):
            raise ImportMappingInvalid(
                _("Map at least one of openid, unionid or phone: members are found by them.")
            )
        if match_rule not in MatchRule.values or total_policy not in TotalPolicy.values:
            raise ImportMappingInvalid()
        preset = job.preset
        if preset_name.strip():
            preset, _created = MappingPreset.objects.update_or_create(
                name=preset_name.strip()[:60], defaults={"mapping": mapping, "created_by_id": actor_id}
            )
        job.mapping, job.match_rule, job.total_policy, job.preset = mapping, match_rule, total_policy, preset
        job.status, job.errors_accepted, job.totals = JobStatus.DRAFT, False, {}
        job.ok_rows = job.warning_rows = job.error_rows = 0
        job.save()
        job.rows.all().delete()
    return job


# --- dry run ---------------------------------------------------------------------------------------


@dataclass
class _Lookups:
    tiers: dict[str, int]
    card_types: dict[str, int]
    templates: dict[str, CouponTemplate]


def _lookups() -> _Lookups:
    tiers = {}
    for tier in Tier.objects.all():
        tiers[str(tier.level)] = tier.level
        tiers[tier.name.strip().lower()] = tier.level
    return _Lookups(
        tiers=tiers,
        card_types={c.name.strip().lower(): c.pk for c in CardType.objects.order_by("-pk")},
        templates={t.name.strip().lower(): t for t in CouponTemplate.objects.order_by("-pk")},
    )


def import_dry_run(*, job_id: int) -> ImportJob:
    """Read and check every row; write the per-row report and the totals.  No ledger is touched.

    Problems are ``[column, value, message]``; a row with an error will not be imported, a row with
    a note will (an expiry already past: the points are imported as already expired).
    """
    job = ImportJob.objects.get(pk=job_id)
    if job.status not in (JobStatus.DRAFT, JobStatus.VALIDATING, JobStatus.VALIDATED):
        raise ImportNotReady()
    with job.file.open("rb") as handle:
        table = _read(handle.read(), job.filename)
    lookups = _lookups()
    now = timezone.now()
    column_of = {f: h for h, f in job.mapping.items()}
    index_of = {h: i for i, h in enumerate(table.headers)}
    columns = _parse_columns(table, column_of)
    seen: dict[tuple[str, str], int] = {}
    rows: list[_Checked] = []
    for start in range(0, len(table.rows), MATCH_CHUNK):
        chunk = []
        for index in range(start, min(start + MATCH_CHUNK, len(table.rows))):
            number = index + 2  # as the spreadsheet numbers it: row 1 is the headers
            data, problems = _check_row(
                job, table.rows[index], index, columns, column_of, index_of, lookups, now
            )
            for name in IDENTITIES:
                value = data.get(name)
                if value:
                    first = seen.setdefault((name, value), number)
                    if first != number:
                        problems.append(
                            [
                                column_of[name],
                                value,
                                _("Same %(field)s as row %(row)s.")
                                % {"field": fields.BY_KEY[name].label, "row": first},
                            ]
                        )
            chunk.append((number, data, problems))
        _match_existing(job, chunk, column_of)
        for number, data, problems in chunk:
            if any(len(p) == 3 and p[2] and not _is_note(p) for p in problems):
                status = RowStatus.ERROR
            elif data.get("member_id") and job.match_rule == MatchRule.SKIP:
                status = RowStatus.SKIP
            elif problems:
                status = RowStatus.WARNING
            else:
                status = RowStatus.OK
            rows.append(_Checked(number, status, [p[:3] for p in problems], data, data.get("member_id")))
    totals = _totals(rows)
    with transaction.atomic():
        job = _lock_job(job_id)
        job.rows.all().delete()
        migration_sql.copy_rows(job.pk, rows)
        job.row_count = len(rows)
        job.ok_rows = sum(1 for r in rows if r.status in (RowStatus.OK, RowStatus.SKIP))
        job.warning_rows = sum(1 for r in rows if r.status == RowStatus.WARNING)
        job.error_rows = sum(1 for r in rows if r.status == RowStatus.ERROR)
        job.totals, job.encoding = totals, table.encoding
        job.status, job.validated_at, job.errors_accepted = JobStatus.VALIDATED, timezone.now(), False
        job.save()
    return job


def import_dry_run_start(*, job_id: int) -> ImportJob:
    """Run the dry run on the bulk queue (a large file); the page shows it running until it is done."""
    with transaction.atomic():
        job = _lock_job(job_id)
        if job.status not in (JobStatus.DRAFT, JobStatus.VALIDATED):
            raise ImportNotReady()
        job.status = JobStatus.VALIDATING
        job.save(update_fields=["status"])
        enqueue_on_commit("migration.tasks.dry_run_import", job.pk)
    return job


def dry_run_in_request(job: ImportJob) -> bool:
    """A file small enough to check while the operator waits for the page."""
    return job.row_count <= getattr(settings, "MIGRATION_SYNC_DRY_RUN_ROWS", 20_000)


@dataclass(frozen=True)
class _Checked:
    """A row as the dry run leaves it (``ImportRow``'s columns)."""

    number: int
    status: str
    problems: list
    data: dict
    member_id: int | None


_NOTE = "note"  # a fourth element marking a problem as a note (imported anyway)


def _is_note(problem: list) -> bool:
    return len(problem) > 3 and problem[3] == _NOTE


class _Unreadable(str):
    """A cell's text that its field's parser refused; the ``message`` says why."""

    message: str


def _parse_columns(table: parsing.Table, column_of: dict[str, str]) -> dict[str, list]:
    """Each mapped field's column read once per distinct text (an export repeats its dates, amounts,
    channels many times): per row the value, None for an empty cell, or an ``_Unreadable``."""
    index_of = {h: i for i, h in enumerate(table.headers)}
    columns: dict[str, list] = {}
    for key in [k for k in fields.BY_KEY if k in column_of]:
        parse, at, read = fields.BY_KEY[key].parse, index_of[column_of[key]], {"": None}
        values = []
        for cells in table.rows:
            text = cells[at].strip()
            try:
                values.append(read[text])
            except KeyError:
                try:
                    value = parse(text)
                except parsing.CellError as problem:
                    value = _Unreadable(text)
                    value.message = problem.message
                read[text] = value
                values.append(value)
        columns[key] = values
    return columns


def _check_row(
    job, cells: list[str], index: int, columns: dict[str, list], column_of, index_of, lookups, now
):
    """One row's values, normalised for the commit, and its problems (the cells read by ``_parse_columns``)."""
    data: dict = {}
    problems: list[list] = []

    def error(field: str, message: str, value: str | None = None):
        column = column_of.get(field, "")
        problems.append([column, cell(field) if value is None else value, message])

    def note(field: str, message: str):
        problems.append([column_of.get(field, ""), cell(field), message, _NOTE])

    def cell(field: str) -> str:
        column = column_of.get(field)
        return cells[index_of[column]].strip() if column is not None else ""

    for key, values in columns.items():
        value = values[index]
        if value is None:
            continue
        if type(value) is _Unreadable:
            error(key, value.message)
        else:
            data[key] = value
    if not any(data.get(name) for name in IDENTITIES) and not any(
        p[0] == column_of.get(n) for p in problems for n in IDENTITIES
    ):
        error("phone", _("A row needs an openid, a unionid or a phone: members are found by them."), "")
    if data.get("birthday") and data["birthday"] > now.date().isoformat():
        error("birthday", _("A birthday cannot be in the future."))
    if data.get("registered_at") and parse_datetime(data["registered_at"]) > now:
        error("registered_at", _("Registered in the future."))
    if "tier" in data:
        level = lookups.tiers.get(data.pop("tier").lower())
        if level is None:
            error("tier", _("No tier of this name or level."))
        else:
            data["tier_level"] = level
    lots = []
    for n in range(1, fields.LOTS + 1):
        amount, expires = data.pop(f"points_{n}", None), data.pop(f"points_{n}_expires", None)
        if expires and amount is None:
            error(f"points_{n}_expires", _("An expiry without points."))
        if amount:
            lots.append([amount, expires])
            if expires and parse_datetime(expires) <= now:
                note(f"points_{n}_expires", _("Already expired: the points are imported as already expired."))
    data["lots"] = lots
    total = data.pop("stored_total", None)
    if total is not None:
        if "principal" in data or "bonus" in data:
            if data.get("principal", 0) + data.get("bonus", 0) != total:
                error("stored_total", _("The total is not principal plus bonus."))
        elif job.total_policy == TotalPolicy.BONUS:
            data["bonus"] = total
        else:
            data["principal"] = total
    if "card_type" in data:
        card_type = lookups.card_types.get(data.pop("card_type").lower())
        if card_type is None:
            error("card_type", _("No membership card of this name."))
        else:
            data["card_type_id"] = card_type
            if data.get("card_valid_until") and parse_datetime(data["card_valid_until"]) <= now:
                note("card_valid_until", _("Already expired: the card is imported as expired."))
    elif "card_valid_until" in data:
        error("card_valid_until", _("A validity without a card."))
    if "coupon_template" in data:
        template = lookups.templates.get(data.pop("coupon_template").lower())
        count = data.setdefault("coupon_count", 1)
        if template is None:
            error("coupon_template", _("No coupon of this name."))
        elif count > template.per_member_limit:
            error(
                "coupon_count",
                _("At most %(limit)s of this coupon per member.") % {"limit": template.per_member_limit},
            )
        else:
            data["coupon_template_id"] = template.pk
        until = data.get("coupon_valid_until")
        if until and parse_datetime(until) <= now:
            error("coupon_valid_until", _("Already expired: an expired coupon is not imported."))
    elif data.get("coupon_count") or "coupon_valid_until" in data:
        error("coupon_count", _("Coupons without a coupon name."))
    return data, problems


def _match_existing(job: ImportJob, chunk: list, column_of: dict) -> None:
    """Existing members with the same phone, unionid or openid (one statement per chunk of rows)."""
    wanted = {name: {d[name] for _n, d, _p in chunk if d.get(name)} for name in IDENTITIES}
    found = _members_with(wanted)
    for _number, data, problems in chunk:
        matches = {found[(n, data[n])] for n in IDENTITIES if data.get(n) and (n, data[n]) in found}
        if not matches:
            continue
        if len(matches) > 1:
            ids = ", ".join(f"#{m}" for m, _c in sorted(matches))
            field = next(n for n in IDENTITIES if data.get(n))
            problems.append(
                [
                    column_of.get(field, ""),
                    data[field],
                    _("Matches several members (%(ids)s).") % {"ids": ids},
                ]
            )
            continue
        member_id, closed = matches.pop()
        if closed:
            field = next(n for n in IDENTITIES if data.get(n))
            problems.append([column_of.get(field, ""), data[field], _("This member's account is closed.")])
            continue
        data["member_id"] = member_id


def _members_with(wanted: dict[str, set[str]]) -> dict[tuple[str, str], tuple[int, bool]]:
    """{(identity, value): (member id, closed)} of the members having any of the ``wanted`` values."""
    if not any(wanted.values()):
        return {}
    found: dict[tuple[str, str], tuple[int, bool]] = {}
    for member_id, *values, closed in migration_sql.members_matching(
        openids=list(wanted["openid"]), unionids=list(wanted["unionid"]), phones=list(wanted["phone"])
    ):
        for name, value in zip(IDENTITIES, values, strict=True):
            if value in wanted[name]:
                found[(name, value)] = (member_id, closed)
    return found


def _totals(rows: list[_Checked]) -> dict:
    going = [r for r in rows if r.status in (RowStatus.OK, RowStatus.WARNING)]
    now = timezone.now().isoformat()
    lots = [lot for r in going for lot in r.data.get("lots", [])]
    return {
        "members": len(going),
        "members_new": sum(1 for r in going if not r.data.get("member_id")),
        "members_matched": sum(1 for r in going if r.data.get("member_id")),
        "members_skipped": sum(1 for r in rows if r.status == RowStatus.SKIP),
        "lots": len(lots),
        "points": sum(amount for amount, _e in lots),
        "points_expired": sum(amount for amount, expires in lots if expires and expires <= now),
        "principal_fen": sum(r.data.get("principal", 0) for r in going),
        "bonus_fen": sum(r.data.get("bonus", 0) for r in going),
        "cards": sum(1 for r in going if r.data.get("card_type_id")),
        "coupons": sum(r.data.get("coupon_count", 0) for r in going if r.data.get("coupon_template_id")),
    }


# --- commit ----------------------------------------------------------------------------------------


def import_accept_errors(*, job_id: int) -> ImportJob:
    """The operator accepts the dry run's errors: the commit leaves those rows out."""
    with transaction.atomic():
        job = _lock_job(job_id)
        if job.status != JobStatus.VALIDATED:
            raise ImportNotReady()
        job.errors_accepted = True
        job.save(update_fields=["errors_accepted"])
    return job


def commit_workers() -> int:
    """How many committers a commit starts (``IMPORT_COMMIT_WORKERS``): each a bulk-queue task on its own
    connection, claiming chunks; the bulk workers' concurrency bounds how many run at once."""
    return max(1, int(getattr(settings, "IMPORT_COMMIT_WORKERS", 2)))


def import_commit_start(*, job_id: int) -> ImportJob:
    """Fix the commit's chunks, create the tags the rows name, and start ``commit_workers()`` committers
    (bulk-queue tasks, after this transaction commits)."""
    with transaction.atomic():
        job = _lock_job(job_id)
        if not job.can_commit:
            raise ImportNotReady(
                _("Only a dry run without errors, or whose errors were accepted, can be imported.")
            )
        job.status, job.next_row, job.committed_rows, job.last_error = JobStatus.COMMITTING, 0, 0, ""
        job.save(update_fields=["status", "next_row", "committed_rows", "last_error"])
        _prepare_chunks(job)
        for _worker in range(commit_workers()):
            enqueue_on_commit("migration.tasks.commit_import", job.pk)
    return job


def _prepare_chunks(job: ImportJob) -> None:
    """The chunks, and the tags every chunk will name created now: chunks committing at once would
    otherwise insert the same new tag, each waiting for the other's transaction (under the job's lock)."""
    migration_sql.create_chunks(job.pk, row_count=job.row_count, size=commit_chunk())
    names = migration_sql.tag_names(job.pk, [RowStatus.OK, RowStatus.WARNING])
    if names:
        analytics_tagging.tags_create(names=names)


def _ensure_chunks(job_id: int) -> None:
    """A job left committing without chunks (started before they existed) gets them: its rows already
    imported are passed over by their status."""
    if ImportChunk.objects.filter(job_id=job_id).exists():
        return
    with transaction.atomic():
        job = _lock_job(job_id)
        if job.status == JobStatus.COMMITTING and not job.chunks.exists():
            _prepare_chunks(job)


def import_commit_run(*, job_id: int, max_chunks: int | None = None) -> ImportJob:
    """One committer: claim an undone chunk, commit its rows and mark it done in one transaction, until
    none is left; idempotent and resumable.  Several run at once on one job (``import_commit_start``
    starts ``commit_workers()``); the one that finds every chunk done marks the job committed, once.

    ``max_chunks`` stops after that many chunks (the tests' killed worker).
    """
    job = ImportJob.objects.get(pk=job_id)
    if job.status != JobStatus.COMMITTING:
        return job
    _ensure_chunks(job_id)
    done, deadlocks = 0, 0
    while max_chunks is None or done < max_chunks:
        try:
            with transaction.atomic():
                claimed = migration_sql.claim_chunk(job_id)
                if claimed is None:
                    return _finish_commit(job_id)
                chunk_id, first, last = claimed
                imported = _commit_chunk(job, first, last)
                migration_sql.chunk_done(chunk_id, imported=imported, now=timezone.now())
        except OperationalError as error:
            # Two chunks inserting members can each draw an invite code the other inserted and wait on
            # it (a unique index waits for the other's transaction): PostgreSQL ends one of them.  The
            # chunk rolled back whole; it is claimed again with fresh codes.
            deadlocks += 1
            if getattr(error.__cause__, "pgcode", None) != DEADLOCK_DETECTED or deadlocks > DEADLOCK_RETRIES:
                raise
            continue
        _record_progress(job_id)
        done += 1
    return ImportJob.objects.get(pk=job_id)


DEADLOCK_DETECTED = "40P01"
DEADLOCK_RETRIES = 3


def _commit_chunk(job: ImportJob, first: int, last: int) -> int:
    """Post the chunk's rows still to post (inside the caller's transaction); returns how many imported."""
    _after, found = migration_sql.chunk_rows(
        job.pk, first, [RowStatus.OK, RowStatus.WARNING], last - first + 1
    )
    rows = [_Pending(*row) for row in found]
    todo = _skip_posted_before(job, rows)
    imported, left = _commit_new_members(job, todo)
    imported += len(rows) - len(todo)
    if left:
        _lock_chunk(job, left)
        ids = [row.pk for row in left]
        imported += sum(
            _commit_row(job, row) for row in ImportRow.objects.filter(pk__in=ids).order_by("number")
        )
    return imported


def _record_progress(job_id: int) -> None:
    """The job's figures from its done chunks, in a short transaction of their own: the chunks never
    wait for one another on the job's row."""
    imported, rows, _left = migration_sql.chunks_done(job_id)
    migration_sql.job_progress(job_id, imported=imported, rows=rows)


def _finish_commit(job_id: int) -> ImportJob:
    """Mark the job committed when no chunk is left undone (a chunk another committer holds is undone
    until its transaction commits; that committer finishes the job then).  Under the job's lock: once."""
    with transaction.atomic():
        job = _lock_job(job_id)
        if job.status != JobStatus.COMMITTING:
            return job
        imported, _rows, left = migration_sql.chunks_done(job_id)
        if left:
            return job
        job.status, job.committed_at = JobStatus.COMMITTED, timezone.now()
        job.committed_rows, job.next_row = imported, job.row_count + 2
        job.save(update_fields=["status", "committed_at", "committed_rows", "next_row"])
    return job


@dataclass(frozen=True)
class _Pending:
    """A row the commit has still to post, as ``migration_sql.chunk_rows`` reads it."""

    pk: int
    number: int
    status: str
    problems: list
    data: dict


def imports_resume() -> int:
    """Go on with every dry run and commit a killed worker left unfinished (the resume job; a dry run
    starts again, it writes nothing but its report); returns how many."""
    checking = list(ImportJob.objects.filter(status=JobStatus.VALIDATING).values_list("pk", flat=True))
    for job_id in checking:
        import_dry_run(job_id=job_id)
    ids = list(ImportJob.objects.filter(status=JobStatus.COMMITTING).values_list("pk", flat=True))
    for job_id in ids:
        for _worker in range(commit_workers() - 1):  # the others beside this one, as the start does
            enqueue_on_commit("migration.tasks.commit_import", job_id)
        import_commit_run(job_id=job_id)
    return len(checking) + len(ids)


def _first_key(job: ImportJob, row: _Pending) -> tuple[str, str] | None:
    """(ledger, key) of the first keyed posting the row makes, or None when it makes none."""
    data = row.data
    if data.get("growth") or data.get("tier_level") is not None:
        return None  # growth has no account to look the key up by here: the row goes one by one
    if data.get("lots"):
        return "points", row_key(job.sha256, row.number, "lot1")
    if data.get("principal") or data.get("bonus"):
        return "stored_value", row_key(job.sha256, row.number, "stored_value")
    return None


def _skip_posted_before(job: ImportJob, rows: list[_Pending]) -> list[_Pending]:
    """Mark as imported, posting nothing, the rows an earlier job of the same file already posted
    (a row posts all or nothing, so its first key tells); returns the others.  Under "skip" such rows
    are skipped as existing members anyway; under "add" this saves replaying each posting."""
    if (
        job.match_rule != MatchRule.ADD
        or not ImportJob.objects.filter(sha256=job.sha256).exclude(pk=job.pk).exists()
    ):
        return rows
    # rows matched in the dry run: their members' accounts lead the lookup (the key's unique index is
    # per account)
    firsts = {row.pk: _first_key(job, row) for row in rows if row.data.get("member_id")}
    pairs = {
        ledger: [
            (row.data["member_id"], firsts[row.pk][1])
            for row in rows
            if (firsts.get(row.pk) or ("",))[0] == ledger
        ]
        for ledger in ("points", "stored_value")
    }
    posted = migration_sql.posted_keys(points=pairs["points"], stored_value=pairs["stored_value"])
    before = [row for row in rows if firsts.get(row.pk) and firsts[row.pk][1] in posted]
    if not before:
        return rows
    migration_sql.mark_imported(
        [(r.pk, r.data["member_id"], False, {}) for r in before], status=RowStatus.IMPORTED
    )
    done = {row.pk for row in before}
    return [row for row in rows if row.pk not in done]


#: What the set-based path posts; a row with anything else (tier, growth, card, coupons) goes one by one.
_BULK_FIELDS = {
    "openid",
    "unionid",
    "phone",
    "nickname",
    "gender",
    "birthday",
    "registered_at",
    "channel",
    "tags",
}
_BULK_FIELDS |= {"lots", "principal", "bonus"}


def _commit_new_members(job: ImportJob, rows: list[_Pending]) -> tuple[int, list[_Pending]]:
    """The chunk's rows that create a member and carry only a profile, points lots, stored value and
    tags, posted set-based: the members in one insert (``migration_sql.insert_members``), their points
    accounts, entries and lots in one statement, their stored-value accounts and entries in another
    (``points_open_accounts``, ``stored_value_open_accounts``: the entries the services would post,
    with the same keys and request hashes), their tags at once.  Returns (rows imported, rows left to
    post one by one): a row whose openid, phone or unionid a member has (one created since the dry run,
    or by an earlier import of the file) is left, and so is every row when anything unexpected rolls
    the savepoint back; the one-by-one path decides each as the services do.
    """
    if not getattr(settings, "MIGRATION_BULK", True):
        return 0, rows
    candidates = [r for r in rows if set(r.data) <= _BULK_FIELDS and not r.data.get("member_id")]
    if not candidates:
        return 0, rows
    sha, now, new_code = job.sha256, timezone.now(), Member._meta.get_field("invite_code").default
    openids = [r.data.get("openid") or placeholder_openid(sha, r.number) for r in candidates]
    try:
        with transaction.atomic():
            created = migration_sql.insert_members(
                [
                    (
                        openid,
                        r.data.get("unionid", ""),
                        r.data.get("phone", ""),
                        r.data.get("nickname", ""),
                        r.data.get("gender", Member.Gender.UNKNOWN),
                        r.data.get("birthday"),
                        new_code(),
                        r.data.get("channel", ""),
                        r.data.get("registered_at"),
                    )
                    for r, openid in zip(candidates, openids, strict=True)
                ],
                now=now,
            )
            fresh = [(r, created[o]) for r, o in zip(candidates, openids, strict=True) if o in created]
            lots = [
                (
                    member_id,
                    amount,
                    parse_datetime(expires) if expires else None,
                    row_key(sha, r.number, f"lot{i}"),
                    row_reference(sha, r.number),
                )
                for r, member_id in fresh
                for i, (amount, expires) in enumerate(r.data.get("lots", []), start=1)
            ]
            lot_entries = points_ledger.points_open_accounts(lots=lots, source=SOURCE)
            values = [
                (
                    member_id,
                    r.data.get("principal", 0),
                    r.data.get("bonus", 0),
                    row_key(sha, r.number, "stored_value"),
                    row_reference(sha, r.number),
                )
                for r, member_id in fresh
                if r.data.get("principal") or r.data.get("bonus")
            ]
            value_entries = sv_ledger.stored_value_open_accounts(
                items=values, reason=_("opening balance imported"), actor_id=job.created_by_id, source=SOURCE
            )
            analytics_tagging.members_tag_by_names(
                names_of={member_id: r.data["tags"] for r, member_id in fresh if r.data.get("tags")}
            )
            marks = []
            for r, member_id in fresh:
                postings = {}
                lot_ids = [
                    lot_entries[row_key(sha, r.number, f"lot{i}")]
                    for i in range(1, len(r.data.get("lots", [])) + 1)
                ]
                if lot_ids:
                    postings["lots"] = lot_ids
                entry = value_entries.get(row_key(sha, r.number, "stored_value"))
                if entry is not None:
                    postings["stored_value"] = entry
                marks.append((r.pk, member_id, True, postings))
            migration_sql.mark_imported(marks, status=RowStatus.IMPORTED)
    except (IntegrityError, ApplicationError):
        return 0, rows
    done = {r.pk for r, _member_id in fresh}
    return len(done), [r for r in rows if r.pk not in done]


def _lock_chunk(job: ImportJob, rows: list[_Pending]) -> None:
    """Before the chunk's rows are posted one by one, take every lock their postings to existing members
    will take, for the whole chunk, in the documented order (``loyalty.locks.Rank``, each rank's rows in
    id order): the members' membership rows (their cards are taken under them), the coupon claims,
    the member rows (FOR SHARE, against a closure), the coupon templates, the points accounts, the
    stored-value accounts.  The services then take again what the chunk holds and never wait, so a
    chunk cannot hold one member's account while it waits for another's row.  Members a row creates
    are seen by no other transaction until the chunk commits; only the templates they share are taken.
    Under "skip" an existing member gets nothing: nothing of theirs is locked.
    """
    templates = sorted({r.data["coupon_template_id"] for r in rows if r.data.get("coupon_template_id")})
    member_of: dict[int, int] = {}
    if job.match_rule == MatchRule.ADD:
        wanted: dict[str, set[str]] = {name: set() for name in IDENTITIES}
        for r in rows:
            for name in IDENTITIES:
                if r.data.get(name):
                    wanted[name].add(r.data[name])
            wanted["openid"].add(placeholder_openid(job.sha256, r.number))
        found = _members_with(wanted)
        for r in rows:
            identities = [(n, r.data.get(n)) for n in IDENTITIES] + [
                ("openid", placeholder_openid(job.sha256, r.number))
            ]
            matches = {found[i][0] for i in identities if i[1] and i in found}
            if len(matches) == 1:
                member_of[r.pk] = matches.pop()
    matched = [r for r in rows if r.pk in member_of]

    def members(wants) -> list[int]:
        return sorted({member_of[r.pk] for r in matched if wants(r.data)})

    for member_id in members(
        lambda d: (
            d.get("growth")
            or d.get("tier_level") is not None
            or d.get("card_type_id")
            or d.get("coupon_template_id")
        )
    ):
        lock_membership(member_id=member_id)
    locks.advisory_lock_each(
        Space.COUPON_CLAIM,
        [
            (r.data["coupon_template_id"], member_of[r.pk])
            for r in matched
            if r.data.get("coupon_template_id")
        ],
    )
    lock_receiving(member_ids=members(lambda d: True))
    coupon_services.coupon_templates_lock(template_ids=templates)
    points_ledger.lock_accounts(member_ids=members(lambda d: d.get("lots")))
    sv_ledger.lock_accounts(member_ids=members(lambda d: d.get("principal") or d.get("bonus")))


def _commit_row(job: ImportJob, row: ImportRow) -> bool:
    """Post one row in a savepoint: a refusal (a coupon sold out, a phone taken since the dry run)
    marks the row as an error and leaves the rest of the chunk to commit.  True: imported."""
    try:
        with transaction.atomic():
            member, created = _member_for(job, row)
            if member is None:
                row.status = RowStatus.SKIPPED
                row.save(update_fields=["status"])
                return False
            postings = _post_row(job, row, member.pk, new_member=created)
            row.member, row.created_member, row.postings = member, created, postings
            row.status = RowStatus.IMPORTED
            row.save(update_fields=["member", "created_member", "postings", "status"])
            return True
    except (ApplicationError, IntegrityError) as refusal:
        message = getattr(refusal, "message", None) or _("The database refused this row.")
        row.status = RowStatus.ERROR
        row.problems = [*row.problems, ["", "", str(message)]]
        row.save(update_fields=["status", "problems"])
        return False


def _member_for(job: ImportJob, row: ImportRow) -> tuple[Member | None, bool]:
    """The member the row's balances go to: matched again now (a member may have come since the dry
    run, or from an earlier import of the same file), or created.  None: an existing member skipped."""
    data = row.data
    match = Q(pk__in=[])
    for name in IDENTITIES:
        if data.get(name):
            match |= Q(**{name: data[name]})
    placeholder = placeholder_openid(job.sha256, row.number)
    match |= Q(openid=placeholder)
    existing = list(Member.objects.filter(match, closed_at__isnull=True).order_by("pk")[:2])
    if len(existing) > 1:
        raise ImportNotReady(_("Matches several members."))
    if existing:
        if job.match_rule == MatchRule.SKIP:
            return None, False
        return existing[0], False
    member = member_services.member_create(
        openid=data.get("openid") or placeholder,
        unionid=data.get("unionid", ""),
        phone=data.get("phone", ""),
        nickname=data.get("nickname", ""),
        gender=data.get("gender", Member.Gender.UNKNOWN),
        birthday=parse_date(data["birthday"]) if data.get("birthday") else None,
        registration_channel=data.get("channel", ""),
    )
    if data.get("registered_at"):
        Member.objects.filter(pk=member.pk).update(registered_at=parse_datetime(data["registered_at"]))
    return member, True


def _post_row(job: ImportJob, row: ImportRow, member_id: int, *, new_member: bool) -> dict:
    data, sha, number = row.data, job.sha256, row.number
    reference = row_reference(sha, number)
    postings: dict = {}
    if data.get("tags"):
        analytics_tagging.member_tag_by_names(member_id=member_id, names=data["tags"])
    if data.get("growth") or data.get("tier_level") is not None:
        growth_posted = membership_services.membership_import(
            member_id=member_id,
            growth=data.get("growth", 0),
            level=data.get("tier_level") or 0,
            idempotency_key=row_key(sha, number, "growth"),
            note=_("import #%(job)s, row %(row)s") % {"job": job.pk, "row": number},
        )
        if growth_posted:
            postings["growth"] = growth_posted
    lots = []
    for index, (amount, expires) in enumerate(data.get("lots", []), start=1):
        posting = points_ledger.points_earn(
            member_id=member_id,
            amount=amount,
            idempotency_key=row_key(sha, number, f"lot{index}"),
            source=SOURCE,
            expires_at=parse_datetime(expires) if expires else None,
            reference=reference,
            # a member created by this row has no entries: its keys are new, no replay to look up, and
            # any error rolls the row's savepoint back (two round trips less a lot)
            savepoint=not new_member,
        )
        if not posting.replayed:  # a replay is another job's posting of the same file: not ours to undo
            lots.append(posting.entry_id)
    if lots:
        postings["lots"] = lots
    principal, bonus = data.get("principal", 0), data.get("bonus", 0)
    if principal or bonus:
        posting = sv_ledger.stored_value_adjust(
            member_id=member_id,
            principal_fen=principal,
            bonus_fen=bonus,
            reason=_("opening balance imported"),
            actor_id=job.created_by_id,
            idempotency_key=row_key(sha, number, "stored_value"),
            source=SOURCE,
            reference=reference,
        )
        if not posting.replayed:
            postings["stored_value"] = posting.entry_id
    if data.get("card_type_id"):
        until = data.get("card_valid_until")
        card, created = membership_cards.card_import(
            member_id=member_id,
            card_type_id=data["card_type_id"],
            valid_until=parse_datetime(until) if until else None,
            actor_id=job.created_by_id,
            reason=_("import #%(job)s") % {"job": job.pk},
        )
        if created:
            postings["card"] = card.pk
    if data.get("coupon_template_id"):
        template = CouponTemplate.objects.get(pk=data["coupon_template_id"])
        until = data.get("coupon_valid_until")
        coupons = []
        for index in range(data.get("coupon_count", 1)):
            coupon, created = coupon_services.coupon_issue(
                template=template,
                member_id=member_id,
                source=SOURCE,
                issue_key=row_key(sha, number, f"coupon{index + 1}"),
                valid_until=parse_datetime(until) if until else None,
            )
            if created:
                coupons.append(coupon.pk)
        if coupons:
            postings["coupons"] = coupons
    return postings


# --- undo ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Blocker:
    row: int
    member_id: int
    what: str


def import_undo_blockers(*, job_id: int, limit: int = 200) -> list[Blocker]:
    """Why the import cannot be undone: each member who has moved imported value since, and what moved.

    Points: an imported lot some of which was spent (expiry is not the member's doing and does not
    block).  Stored value: any debit on the account after the imported entry.  Coupons: an imported
    coupon used or held by an order.
    """
    blockers: list[Blocker] = []
    rows = ImportRow.objects.filter(job_id=job_id, status=RowStatus.IMPORTED).order_by("number")
    for start in range(0, rows.count(), LOOKUP_CHUNK):
        chunk = list(rows[start : start + LOOKUP_CHUNK])
        lot_rows = {e: r for r in chunk for e in r.postings.get("lots", [])}
        spent = (
            PointsAllocation.objects.filter(lot__entry_id__in=list(lot_rows), amount__gt=0)
            .exclude(entry__kind="expire")
            .values_list("lot__entry_id", "entry__kind")
            .distinct()
        )
        for entry_id, kind in spent:
            row = lot_rows[entry_id]
            label = PointsEntryKind(kind).label if kind in PointsEntryKind.values else kind
            blockers.append(
                Blocker(row.number, row.member_id, _("points spent (%(kind)s)") % {"kind": label})
            )
        sv_rows = {r.postings["stored_value"]: r for r in chunk if r.postings.get("stored_value")}
        for entry in StoredValueEntry.objects.filter(pk__in=list(sv_rows)).only("pk", "account_id"):
            moved = (
                StoredValueEntry.objects.filter(account_id=entry.account_id, pk__gt=entry.pk)
                .filter(Q(principal_fen__lt=0) | Q(bonus_fen__lt=0))
                .exclude(source=SOURCE)
                .first()
            )
            if moved is not None:
                row = sv_rows[entry.pk]
                blockers.append(
                    Blocker(
                        row.number,
                        row.member_id,
                        _("stored value used (%(kind)s)") % {"kind": moved.get_kind_display()},
                    )
                )
        coupon_rows = {c: r for r in chunk for c in r.postings.get("coupons", [])}
        for coupon in Coupon.objects.filter(pk__in=list(coupon_rows)).exclude(
            status__in=(CouponStatus.AVAILABLE, CouponStatus.EXPIRED, CouponStatus.VOIDED)
        ):
            row = coupon_rows[coupon.pk]
            blockers.append(
                Blocker(
                    row.number,
                    row.member_id,
                    _("coupon %(code)s %(status)s")
                    % {"code": coupon.code, "status": coupon.get_status_display()},
                )
            )
        if len(blockers) >= limit:
            break
    return sorted(blockers, key=lambda b: b.row)[:limit]


def import_undo(*, job_id: int, actor_id: int) -> ImportJob:
    """Reverse everything the import posted, with reversal entries, member by member (one
    transaction per member, idempotent by key); refused with ``import_undo_blocked`` and nothing
    changed when any member has moved imported value.  Members created stay (closed by the normal
    account closure if they must go): ledgers point at them."""
    with transaction.atomic():
        job = _lock_job(job_id)
        if job.status != JobStatus.COMMITTED:
            raise ImportNotReady()
    blockers = import_undo_blockers(job_id=job_id)
    if blockers:
        raise ImportUndoBlocked(details={"blockers": [b.__dict__ for b in blockers]})
    sha = job.sha256
    for row in job.rows.filter(status=RowStatus.IMPORTED).order_by("number").iterator(chunk_size=1000):
        with transaction.atomic():
            _undo_row(job, row, actor_id, sha)
    with transaction.atomic():
        job = _lock_job(job_id)
        job.status, job.undone_at, job.undone_by_id = JobStatus.UNDONE, timezone.now(), actor_id
        job.save(update_fields=["status", "undone_at", "undone_by"])
    return job


def _undo_row(job: ImportJob, row: ImportRow, actor_id: int, sha: str) -> None:
    member_id, postings, number = row.member_id, row.postings, row.number
    reason = _("import #%(job)s undone") % {"job": job.pk}
    # the locks in the documented order: membership, cards, coupons, then points and stored value
    if postings.get("growth") or postings.get("card") or postings.get("coupons"):
        lock_membership(member_id=member_id)
    if postings.get("card"):
        card = MembershipCard.objects.filter(pk=postings["card"]).first()
        if card is not None and card.status != "revoked":
            membership_cards.card_revoke(card_id=card.pk, actor_id=actor_id, reason=reason)
    for coupon_id in postings.get("coupons", []):
        if Coupon.objects.filter(pk=coupon_id, status=CouponStatus.AVAILABLE).exists():
            coupon_services.coupon_void(coupon_id=coupon_id, actor_id=actor_id, reason=reason)
    if postings.get("growth"):
        membership_services.membership_import_undo(
            member_id=member_id,
            growth=postings["growth"],
            idempotency_key=row_key(sha, number, "growth-undo"),
        )
    for index, entry_id in enumerate(postings.get("lots", []), start=1):
        lot = PointsLot.objects.filter(entry_id=entry_id).only("remaining").first()
        if lot is not None and lot.remaining > 0:
            points_ledger.points_reverse(
                member_id=member_id,
                entry_id=entry_id,
                amount=lot.remaining,
                idempotency_key=row_key(sha, number, f"lot{index}-undo"),
                memo=reason,
            )
    if postings.get("stored_value"):
        entry = StoredValueEntry.objects.get(pk=postings["stored_value"])
        sv_ledger.stored_value_adjust(
            member_id=member_id,
            principal_fen=-entry.principal_fen,
            bonus_fen=-entry.bonus_fen,
            reason=reason,
            actor_id=actor_id,
            idempotency_key=row_key(sha, number, "stored_value-undo"),
            source=SOURCE,
            reference=row_reference(sha, number),
        )
