"""Coupon benchmarks: claims on one hot template, and a bulk issue to many members.

The claim figure sets ``coupons.services.coupon_claim`` beside hand-written
SQL of the same shape (take one from the stock if any is left, insert the
coupon) on fresh copies of the same data.  After every run the copy is
checked with ``verify_ledgers``' coupon checks and the coupons written are
counted against the claims the workers made.
"""

from __future__ import annotations

import statistics
import time
from unittest import mock

from bench.common import (
    Figure,
    Harness,
    Measured,
    benchmark,
    compare_service_raw,
    copy_members,
    indexes_dropped,
    op_worker,
    raw_connection,
    reset_sequences,
    run_workers,
)

APP_MODULES = ("coupons.services", "loyalty.management.commands.verify_ledgers")
TEMPLATE_ID = 1
WORKERS = 16
BULK_BUDGET_SECONDS = 30.0


def _load(members: int) -> None:
    """COPY ``members`` members and one template with stock for everyone and no per-member limit to speak of."""
    from django.db import connection
    from django.utils import timezone

    now = timezone.now()
    with connection.cursor() as cur, indexes_dropped(cur, ["members_member"]):
        copy_members(cur, members, now)
        reset_sequences(cur, ["members_member"])
    from coupons.models import CouponTemplate

    CouponTemplate.objects.create(
        pk=TEMPLATE_ID,
        name="bench 满100减20",
        kind="amount_off",
        threshold_fen=10_000,
        amount_off_fen=2_000,
        total_stock=2_000_000_000,
        per_member_limit=1_000_000,
        valid_days=30,
    )


def _verify(label: str, expected: int) -> None:
    from django.db import connection

    from loyalty.management.commands.verify_ledgers import all_checks, run_check

    violations = []
    with connection.cursor() as cur:
        for description, sql in all_checks():
            if description.startswith("coupons:"):
                violations += [(description, row) for row in run_check(cur, sql)]
        cur.execute("SELECT count(*) FROM coupons_coupon")
        written = cur.fetchone()[0]
    if violations:
        raise RuntimeError(f"{label}: {len(violations)} coupon violation(s), e.g. {violations[:3]}")
    if written != expected:
        raise RuntimeError(f"{label}: {expected} claims made but {written} coupons written")
    print(f"    {label}: {written:,} coupons, coupon checks clean", flush=True)


def _service_op(members: list[int], tag: str):
    from coupons import services
    from members.models import Member

    people = [Member(pk=m, registered_at=None) for m in members]  # the audience is everyone: no row read

    def op(i: int) -> None:
        services.coupon_claim(
            member=people[i % len(people)], template_id=TEMPLATE_ID, idempotency_key=f"{tag}:{i}"
        )

    return op


def _raw_op(members: list[int], tag: str):
    """The same claim as one plain transaction: take one from the stock if any is left, insert the coupon."""
    from coupons.services import new_code

    conn = raw_connection()
    cur = conn.cursor()

    def op(i: int) -> None:
        cur.execute("BEGIN")
        cur.execute(
            "UPDATE coupons_coupontemplate SET issued_count = issued_count + 1 "
            "WHERE id = %s AND issued_count < total_stock",
            [TEMPLATE_ID],
        )
        if cur.rowcount != 1:
            cur.execute("ROLLBACK")
            raise RuntimeError("sold out")
        cur.execute(
            "INSERT INTO coupons_coupon (template_id, member_id, code, status, source, issue_key, valid_from, "
            "valid_until, order_no, issued_at) VALUES (%s, %s, %s, 'available', 'bench', %s, now(), "
            "now() + interval '30 days', '', now())",
            [TEMPLATE_ID, members[i % len(members)], new_code(), f"{tag}:{i}"],
        )
        cur.execute("COMMIT")

    op.backend_pid = conn.get_backend_pid()
    return op


def _measure(h: Harness, template: str, mode: str, round_: int) -> Measured:
    tag = f"claims-{mode}-r{round_}"
    members = list(range(1, h.scale.accounts + 1))

    def make_op(index: int, mode: str):
        return (_service_op if mode == "service" else _raw_op)(members[index::WORKERS], f"{tag}:{index}")

    with h.copy_of(template):
        runs, _ = run_workers(WORKERS, op_worker, lambda i: (mode, make_op, h.scale.warmup, h.scale.duration))
        _verify(tag, sum(r.total for r in runs))
    return Measured.of(runs)


@benchmark("coupons.claims")
def claims(h: Harness) -> list[Figure]:
    """Claims by 16 connections on ONE template (its stock row is the hot row): service vs raw SQL."""
    template = h.template("coupons", lambda: _load(h.scale.accounts))
    service, raw = compare_service_raw(
        h,
        lambda mode, round_: _measure(h, template, mode, round_),
        label=f"one hot template, {WORKERS} connections",
        unit="claims",
    )
    return [
        Figure(
            "claims/s, one hot template, 16 connections (service vs raw SQL)", service, raw, "/s", ">=", 0.5
        )
    ]


@benchmark("coupons.bulk_issue")
def bulk_issue(h: Harness) -> list[Figure]:
    """Bulk issue of one template to every member (full scale: 100,000), create + run, against the 30 s budget."""
    from django.contrib.auth.models import User

    from coupons import services
    from coupons.models import BulkIssue

    members = h.scale.members
    template = h.template(f"coupons_{members}", lambda: _load(members))
    timings = []
    for round_ in range(h.scale.repeats):
        with h.copy_of(template):
            operator = User.objects.create(username=f"bench-{round_}")
            started = time.perf_counter()
            with mock.patch("coupons.tasks.run_bulk_issue.apply_async"):  # run here, not through a broker
                bulk = services.bulk_issue_create(
                    template_id=TEMPLATE_ID, member_ids=range(1, members + 1), actor_id=operator.pk
                )
            created = time.perf_counter() - started
            bulk = services.bulk_issue_run(bulk_issue_id=bulk.pk)
            elapsed = time.perf_counter() - started
            assert BulkIssue.objects.get(pk=bulk.pk).issued == members, bulk
            _verify(f"bulk issue round {round_ + 1}", members)
            timings.append(elapsed)
            h.note(
                f"bulk issue to {members:,} members (round {round_ + 1}): {elapsed:.2f} s "
                f"({created:.2f} s queueing the targets, {elapsed - created:.2f} s issuing in chunks of 1,000)"
            )
    return [
        Figure(
            f"bulk issue to {members:,} members, s (vs the 30 s budget)",
            statistics.median(timings),
            BULK_BUDGET_SECONDS,
            "s",
            "<=",
            1.0,
        )
    ]
