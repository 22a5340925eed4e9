"""Check the ledger invariants; list each violation; exit 1 when there is any.

Each app lists its checks as (description, SQL returning one row per violation) in
``<app>/verify.py``; this command runs them all.

Incremental by default.  An app whose ledger grows without bound says which in ``SCOPE`` (ledger
name, entries table, the entries' account column), and its checks that can be narrowed take the
accounts to check as ``%(accounts)s`` (NULL: all).  A run then checks only the accounts with an
entry after the ledger's watermark (``VerifyWatermark``), which each clean run moves up to the last
entry older than ``VERIFY_LEDGERS_LAG`` seconds: a transaction still open when the run starts may
commit an entry with a smaller id than one already visible, and the lag leaves it to the next run.
A ledger without a watermark, and every check without ``%(accounts)s``, is checked whole.
``--full`` checks everything (and moves the watermarks too).  An account changed without a new
entry (a bad manual fix of its cached balance) is seen only by ``--full``: run it weekly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from importlib import import_module
from importlib.util import find_spec

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from loyalty.models import VerifyWatermark

SCOPED = "%(accounts)s"


def _verify_modules():
    for config in apps.get_app_configs():
        # find_spec, not catching ModuleNotFoundError: a broken import inside a
        # verify module must fail loudly rather than silently skip its checks.
        if find_spec(f"{config.name}.verify"):
            yield import_module(f"{config.name}.verify")


def all_checks():
    for module in _verify_modules():
        yield from module.CHECKS


def run_check(cursor, sql: str, accounts: list[int] | None = None) -> list[tuple]:
    """One check's violations, on ``accounts`` where it is scoped (None: every account)."""
    if SCOPED in sql:
        cursor.execute(sql, {"accounts": accounts})
    else:
        cursor.execute(sql)
    return cursor.fetchall()


def find_violations() -> list[tuple[str, tuple]]:
    """Every violation of every check, on every account (what ``--full`` checks)."""
    violations = []
    with connection.cursor() as cursor:
        for description, sql in all_checks():
            violations += [(description, row) for row in run_check(cursor, sql)]
    return violations


@dataclass
class Run:
    violations: list[tuple[str, tuple]] = field(default_factory=list)
    checks: int = 0
    scopes: list[str] = field(default_factory=list)  # what each ledger's checks covered, for the output
    watermarks: dict[str, int] = field(default_factory=dict)  # to store after a clean run


def verify(*, full: bool = False) -> Run:
    """Run the checks, each ledger's on the accounts changed since its watermark unless ``full``."""
    run = Run()
    lag = timezone.now() - timedelta(seconds=settings.VERIFY_LEDGERS_LAG)
    marks = dict(VerifyWatermark.objects.values_list("ledger", "last_entry_id"))
    with connection.cursor() as cursor:
        for module in _verify_modules():
            accounts = None
            scope = getattr(module, "SCOPE", None)
            if scope:
                ledger, table, account = scope
                cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table} WHERE created_at < %s", [lag])
                run.watermarks[ledger] = cursor.fetchone()[0]
                since = None if full else marks.get(ledger)
                if since is None:
                    run.scopes.append(f"{ledger}: every account")
                else:
                    cursor.execute(f"SELECT DISTINCT {account} FROM {table} WHERE id > %s", [since])
                    accounts = [a for (a,) in cursor.fetchall()]
                    run.scopes.append(f"{ledger}: {len(accounts)} account(s) with entries after #{since}")
            for description, sql in module.CHECKS:
                if accounts == [] and SCOPED in sql:
                    continue  # nothing changed in this ledger
                run.checks += 1
                run.violations += [(description, row) for row in run_check(cursor, sql, accounts)]
    if not run.violations:
        now = timezone.now()
        for ledger, last in run.watermarks.items():
            VerifyWatermark.objects.update_or_create(
                ledger=ledger, defaults={"last_entry_id": last, "verified_at": now}
            )
    return run


class Command(BaseCommand):
    help = (
        "Verify the ledger invariants (docs/architecture.md) on what changed since the last clean run "
        "(--full: everything); exit status 1 when any is violated."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--full", action="store_true", help="Check every account, not only those changed."
        )

    def handle(self, *args, full, **options):
        run = verify(full=full)
        for scope in run.scopes:
            self.stdout.write(scope)
        for description, row in run.violations:
            self.stdout.write(f"VIOLATION {description}: {row}")
        if run.violations:
            raise CommandError(f"{len(run.violations)} violation(s) in {run.checks} checks")
        self.stdout.write(self.style.SUCCESS(f"OK: {run.checks} checks, no violations"))
