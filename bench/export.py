"""Member export benchmark: the operators' CSV and XLSX of every member, time and peak memory.

The data set (``small`` 100,000 members, ``full`` 1,000,000), loaded set-based (INSERT … SELECT over
``generate_series``): every member has a membership (growth, tier), a points account with three lots
(one spent out, one expiring, one never), a stored-value account (principal and bonus), and one in
two a membership card and two unused coupons; one in five has a tag.

Each export runs in a forked process of its own, as the bulk worker runs it: an export job
(``migration.export_jobs.export_job_run``, the body of the ``migration.run_export`` task) writing its
file under MEDIA_ROOT, progress counted as it goes; so its peak RSS is the export's alone:

* **CSV**: seconds (and members/s) against the statements alone (``export_sql.member_rows`` over every
  chunk, nothing written), and peak RSS against the same process's RSS before it (bounded: it must not
  grow with the shop).
* **XLSX**: seconds against the CSV's, peak RSS against the RSS before it.
"""

from __future__ import annotations

import multiprocessing
import resource
import time

from bench.common import Figure, Harness, benchmark

APP_MODULES = ("migration.exports", "migration.export_jobs", "openpyxl")

MEMBERS = {"small": 100_000, "full": 1_000_000}


def _load(members: int) -> None:
    """Members 1..N with something in every column of the export, by a few set-based statements."""
    from django.db import connection
    from django.utils import timezone

    from analytics.models import MemberTag, MemberTagging
    from coupons.models import Coupon, CouponTemplate
    from members.models import Member
    from membership.models import CardType, Membership, MembershipCard, Tier
    from points.models import PointsAccount, PointsEntry, PointsLot
    from stored_value.models import StoredValueAccount

    now = timezone.now()
    started = time.perf_counter()
    template = CouponTemplate.objects.create(
        name="满100减20", kind="amount_off", threshold_fen=10_000, amount_off_fen=2_000, total_stock=10**9
    )
    card_type = CardType.objects.create(name="黑金卡", kind="free")
    tag = MemberTag.objects.create(name="高价值")
    Tier.objects.get_or_create(level=1, defaults={"name": "银卡", "growth_threshold": 100})
    t = {
        model.__name__: model._meta.db_table
        for model in (
            Member,
            Membership,
            PointsAccount,
            PointsEntry,
            PointsLot,
            StoredValueAccount,
            MembershipCard,
            Coupon,
            MemberTagging,
        )
    }
    statements = [
        f"""INSERT INTO {t["Member"]} (id, openid, unionid, phone, nickname, avatar_url, gender, birthday,
                invite_code, registration_channel, registered_at)
            SELECT m, 'bench-' || m, 'u-' || m, (13000000000 + m)::text, '会员' || m, '', mod(m, 3),
                   DATE '1990-01-01' + mod(m, 9000), 'B' || lpad(m::text, 10, '0'), 'bench', %(now)s
              FROM generate_series(1, %(n)s) m""",
        f"""INSERT INTO {t["Membership"]} (member_id, tier_level, growth_total, paid_total_fen, completed_orders)
            SELECT m, mod(m, 2), mod(m, 1000), 0, 0 FROM generate_series(1, %(n)s) m""",
        f"""INSERT INTO {t["PointsAccount"]} (id, member_id, balance, created_at)
            SELECT m, m, 500, %(now)s FROM generate_series(1, %(n)s) m""",
        # three earn entries per account (ids 3m-2 .. 3m), one lot each: 300 expiring, 200 never, 50 spent
        f"""INSERT INTO {t["PointsEntry"]} (id, account_id, kind, amount, balance_after, source, reference, memo,
                idempotency_key, request_hash, created_at)
            SELECT 3 * m - k, m, 'earn', (ARRAY[50, 200, 300])[k + 1], 0, 'bench', '', '', 'bench-' || k, '', %(now)s
              FROM generate_series(1, %(n)s) m, generate_series(0, 2) k""",
        f"""INSERT INTO {t["PointsLot"]} (id, account_id, entry_id, amount, remaining, source, earned_at, expires_at)
            SELECT 3 * m - k, m, 3 * m - k, (ARRAY[50, 200, 300])[k + 1], (ARRAY[0, 200, 300])[k + 1], 'bench',
                   %(now)s, CASE k WHEN 1 THEN NULL ELSE %(now)s + interval '300 days' END
              FROM generate_series(1, %(n)s) m, generate_series(0, 2) k""",
        f"""INSERT INTO {t["StoredValueAccount"]} (member_id, principal_fen, bonus_fen, frozen, frozen_reason, created_at)
            SELECT m, 150000, 15000, false, '', %(now)s FROM generate_series(1, %(n)s) m""",
        f"""INSERT INTO {t["MembershipCard"]} (member_id, card_type_id, status, source, valid_from, valid_until,
                trial_used, channel, staff, created_at)
            SELECT m, %(card_type)s, 'active', 'operator', %(now)s, %(now)s + interval '365 days', false, '', '',
                   %(now)s
              FROM generate_series(2, %(n)s, 2) m""",
        f"""INSERT INTO {t["Coupon"]} (template_id, member_id, code, status, source, issue_key, valid_from,
                valid_until, order_no, issued_at)
            SELECT %(template)s, m, 'C' || (2 * m - k), 'available', 'bench', 'k' || k, %(now)s,
                   %(now)s + interval '30 days', '', %(now)s
              FROM generate_series(2, %(n)s, 2) m, generate_series(0, 1) k""",
        f"""INSERT INTO {t["MemberTagging"]} (tag_id, member_id, created_at)
            SELECT %(tag)s, m, %(now)s FROM generate_series(5, %(n)s, 5) m""",
    ]
    params = {"n": members, "now": now, "template": template.pk, "card_type": card_type.pk, "tag": tag.pk}
    with connection.cursor() as cur:
        for statement in statements:
            cur.execute(statement, params)
        for table in (t["Member"], t["PointsAccount"], t["PointsEntry"], t["PointsLot"]):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM {table}"
            )
    print(f"    loaded {members:,} members in {time.perf_counter() - started:.1f} s", flush=True)


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _measure(mode: str, queue) -> None:
    """In a forked process: one export job written to its end; puts (seconds, RSS before, peak RSS, bytes
    or rows)."""
    import tempfile

    from django.conf import settings
    from django.contrib.auth.models import User
    from django.db import connections
    from django.utils import timezone

    from members.models import Member
    from migration import export_jobs, export_sql
    from migration.models import ExportJob, ExportStatus

    connections.close_all()  # the parent's connection stays the parent's
    settings.MEDIA_ROOT = tempfile.mkdtemp(prefix="bench-export-")
    before = _rss_mb()
    resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    size = 0
    if mode == "sql":
        after, now = 0, timezone.now()
        while ids := list(
            Member.objects.filter(pk__gt=after, closed_at__isnull=True)
            .order_by("pk")
            .values_list("pk", flat=True)[:2000]
        ):
            size += len(export_sql.member_rows(ids, now=now, tz=settings.TIME_ZONE))
            after = ids[-1]
    else:
        job = ExportJob.objects.create(
            format=mode, as_of=timezone.now(), created_by=User.objects.get(username="bench-export")
        )
        started = time.perf_counter()
        job = export_jobs.export_job_run(job_id=job.pk)
        assert job.status == ExportStatus.DONE and job.rows_done == Member.objects.count(), job.status
        size = job.size
        export_jobs.file_path(job).unlink()
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put((seconds, before, peak, size))


def _run_forked(mode: str) -> tuple[float, float, float, int]:
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    process = context.Process(target=_measure, args=(mode, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


@benchmark("export.members")
def run(harness: Harness) -> list[Figure]:
    """The member export job (CSV, XLSX) of every member: seconds, members/s and peak memory."""
    from django.contrib.auth.models import User

    members = MEMBERS[harness.scale.name]
    template = harness.template(f"export_{members}", lambda: _load(members))
    with harness.copy_of(template):
        User.objects.create_superuser("bench-export", password="x")
        sql_s, _, _, rows = _run_forked("sql")
        assert rows == members, rows
        csv_s, csv_before, csv_peak, csv_bytes = _run_forked("csv")
        xlsx_s, xlsx_before, xlsx_peak, xlsx_bytes = _run_forked("xlsx")
    print(
        f"    {members:,} members: statements {sql_s:.1f} s; CSV job {csv_s:.1f} s ({members / csv_s:,.0f}/s), "
        f"{csv_bytes / 1e6:.0f} MB, RSS {csv_before:.0f} → {csv_peak:.0f} MB; XLSX job {xlsx_s:.1f} s "
        f"({members / xlsx_s:,.0f}/s), {xlsx_bytes / 1e6:.0f} MB, RSS {xlsx_before:.0f} → {xlsx_peak:.0f} MB",
        flush=True,
    )
    harness.notes.append(
        f"export.members ({members:,} members, the export job): CSV {csv_bytes / 1e6:.0f} MB in {csv_s:.1f} s "
        f"({members / csv_s:,.0f} members/s), XLSX {xlsx_bytes / 1e6:.0f} MB in {xlsx_s:.1f} s "
        f"({members / xlsx_s:,.0f} members/s); "
        f"peak RSS {csv_peak:.0f} MB (CSV) and {xlsx_peak:.0f} MB (XLSX) from {csv_before:.0f} MB."
    )
    label = f"{members // 1000:,}k" if members < 1_000_000 else f"{members // 1_000_000}M"
    return [
        Figure(f"export job CSV, {label} members (vs its SQL alone)", csv_s, sql_s, "s", "<=", 3.0),
        Figure(
            f"export job CSV, {label} members: peak RSS (vs before)",
            csv_peak,
            csv_before,
            "MB",
            "<=",
            1.5,
            missed="memory grows with the shop: a chunk is not released",
        ),
        Figure(f"export job XLSX, {label} members (vs CSV)", xlsx_s, csv_s, "s", "<=", 8.0),
        Figure(
            f"export job XLSX, {label} members: peak RSS (vs before)",
            xlsx_peak,
            xlsx_before,
            "MB",
            "<=",
            1.5,
            missed="memory grows with the shop: openpyxl not in write-only mode",
        ),
    ]
