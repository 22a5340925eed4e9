"""Raw SQL lives only in each app's SQL module (docs/architecture.md, "Raw SQL").

Application code runs statements through its app's ``sql.py`` (``orders/rows.py`` and
``loyalty/rows.py`` play that role for orders and for the shared row helpers; ``loyalty/prepared.py``
runs prepared statements for them).  Code elsewhere may hold a cursor (``<app>.sql.db_cursor()``) to
pass to those functions, but never executes SQL itself, nor hands SQL text to the ORM
(``QuerySet.raw``, ``QuerySet.extra``).
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Executing SQL or opening a cursor directly, or handing SQL text to the ORM (``.raw``, ``.extra``).
RAW = re.compile(
    r"\.cursor\(|\bexecutemany\b|\bcur(?:sor)?\w*\.execute\(|\bprepared\.execute\(|\.raw\(|\.extra\("
)

SQL_MODULES = {"orders/rows.py", "loyalty/rows.py", "loyalty/prepared.py", "migration/export_sql.py"}

# The ledgers' invariant checks run their own SQL, next to the rules they check.
CHECKS = {"loyalty/management/commands/verify_ledgers.py"}

SKIPPED_DIRS = {"tests", "bench", "migrations", ".venv", "node_modules", "static", "docs"}


def _application_files(root: Path):
    for path in root.rglob("*.py"):
        rel = path.relative_to(root)
        if SKIPPED_DIRS.intersection(rel.parts) or any(part.startswith(".") for part in rel.parts):
            continue
        yield rel.as_posix(), path


def _allowed(rel: str) -> bool:
    return rel.endswith("/sql.py") or rel.endswith("/verify.py") or rel in SQL_MODULES | CHECKS


def _raw_sql_files(root: Path = ROOT) -> dict[str, list[int]]:
    found = {}
    for rel, path in _application_files(root):
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
        'CouponTemplate.objects.raw("SELECT * FROM coupons_coupontemplate WHERE id = %s", [1])',
        "Member.objects.extra(where=[where], params=params)",
        "Member.objects.filter(pk=1).extra(select={'n': 'count(*)'})",
    ):
        assert RAW.search(line), line
    for line in (
        "with transaction.atomic(), sql.db_cursor() as cur:",
        "sql.lock_account(cur, 1)",
        "template = sql.claimable_template(template_id)",
        "return sql.segment_members(where, params)",
        'raw_id_fields = ["member"]',
        "text = raw.decode('utf-8')",
    ):
        assert not RAW.search(line), line


def test_the_check_finds_sql_handed_to_the_orm_outside_the_sql_modules(tmp_path):
    app = tmp_path / "shop"
    app.mkdir()
    (app / "services.py").write_text(
        "def find(pk):\n    return Shop.objects.raw('SELECT * FROM shop_shop WHERE id = %s', [pk])\n"
    )
    (app / "selectors.py").write_text("def where(sql):\n    return Shop.objects.extra(where=[sql])\n")
    (app / "sql.py").write_text("def find(pk):\n    return Shop.objects.raw(_FIND, [pk])\n")
    found = _raw_sql_files(tmp_path)
    assert found == {"shop/services.py": [2], "shop/selectors.py": [2], "shop/sql.py": [2]}
    assert {rel for rel in found if not _allowed(rel)} == {"shop/services.py", "shop/selectors.py"}
