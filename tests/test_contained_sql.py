"""Raw SQL lives only in each app's SQL module (docs/architecture.md, "Raw SQL").

Application code runs statements through its app's ``sql.py`` (``orders/rows.py`` and
``loyalty/rows.py`` play that role for orders and for the shared row helpers; ``loyalty/prepared.py``
runs prepared statements for them).  Code elsewhere may hold a cursor (``<app>.sql.db_cursor()``) to
pass to those functions, but never executes SQL itself.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Executing SQL or opening a cursor directly.
RAW = re.compile(r"\.cursor\(|\bexecutemany\b|\bcur(?:sor)?\w*\.execute\(|\bprepared\.execute\(")

SQL_MODULES = {"orders/rows.py", "loyalty/rows.py", "loyalty/prepared.py"}

# The ledgers' invariant checks run their own SQL, next to the rules they check.
CHECKS = {"loyalty/management/commands/verify_ledgers.py"}

SKIPPED_DIRS = {"tests", "bench", "migrations", ".venv", "node_modules", "static", "docs"}


def _application_files():
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if SKIPPED_DIRS.intersection(rel.parts) or any(part.startswith(".") for part in rel.parts):
            continue
        yield rel.as_posix(), path


def _allowed(rel: str) -> bool:
    return rel.endswith("/sql.py") or rel.endswith("/verify.py") or rel in SQL_MODULES | CHECKS


def _raw_sql_files() -> dict[str, list[int]]:
    found = {}
    for rel, path in _application_files():
        lines = [n for n, line in enumerate(path.read_text().splitlines(), 1) if RAW.search(line)]
        if lines:
            found[rel] = lines
    return found


def test_sql_is_executed_only_in_the_sql_modules():
    offenders = {rel: lines for rel, lines in _raw_sql_files().items() if not _allowed(rel)}
    assert offenders == {}, "raw SQL outside the apps' sql modules (file: lines)"


def test_the_check_finds_what_it_looks_for():
    for line in (
        "with connection.cursor() as cur:",
        "    cur.execute('SELECT 1')",
        "cursor.execute(sql, params)",
        "cur.executemany(sql, rows)",
        "prepared.execute(cur, _LOCK, [1])",
    ):
        assert RAW.search(line), line
    for line in ("with transaction.atomic(), sql.db_cursor() as cur:", "sql.lock_account(cur, 1)"):
        assert not RAW.search(line), line
