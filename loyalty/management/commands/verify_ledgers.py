"""Check every ledger invariant; list each violation; exit 1 when there is any.

Each app lists its checks as (description, SQL returning one row per
violation) in ``<app>/verify.py``; this command runs them all.
"""

from importlib import import_module
from importlib.util import find_spec

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import connection


def all_checks():
    for config in apps.get_app_configs():
        # find_spec, not catching ModuleNotFoundError: a broken import inside a
        # verify module must fail loudly rather than silently skip its checks.
        if find_spec(f"{config.name}.verify"):
            yield from import_module(f"{config.name}.verify").CHECKS


def find_violations() -> list[tuple[str, tuple]]:
    violations = []
    with connection.cursor() as cursor:
        for description, sql in all_checks():
            cursor.execute(sql)
            violations += [(description, row) for row in cursor.fetchall()]
    return violations


class Command(BaseCommand):
    help = "Verify the ledger invariants (docs/architecture.md); exit status 1 when any is violated."

    def handle(self, *args, **options):
        checks = list(all_checks())
        violations = find_violations()
        for description, row in violations:
            self.stdout.write(f"VIOLATION {description}: {row}")
        if violations:
            raise CommandError(f"{len(violations)} violation(s) in {len(checks)} checks")
        self.stdout.write(self.style.SUCCESS(f"OK: {len(checks)} checks, no violations"))
