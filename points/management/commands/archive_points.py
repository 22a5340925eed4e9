"""Move settled points history older than N months to the archive tables (docs/scaling.md)."""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from points import ledger


class Command(BaseCommand):
    help = "Move points entries, lots and allocations older than --months that nothing open depends on to the archive."

    def add_arguments(self, parser):
        parser.add_argument("--months", type=int, default=24, help="Keep this many months live (default 24).")
        parser.add_argument("--chunk-size", type=int, default=500, help="Accounts per transaction.")
        parser.add_argument("--pause", type=float, default=0.4, help="Rest this times each chunk's time.")

    def handle(self, *args, months, chunk_size, pause, **options):
        before = timezone.now() - timedelta(days=round(months * 365.25 / 12))
        moved = ledger.points_archive(before=before, chunk_size=chunk_size, pause=pause)
        self.stdout.write(
            f"archived {moved.entries} entries, {moved.lots} lots, {moved.allocations} allocations "
            f"older than {before:%Y-%m-%d}"
        )
