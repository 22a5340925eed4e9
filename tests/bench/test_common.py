"""The bench harness's database name: from the environment, so two people can benchmark one server."""

import subprocess
import sys

import pytest

from bench.common import REPO, bench_db_name, is_bench_database


def test_the_bench_database_is_loyalty_bench_unless_the_environment_names_another(monkeypatch):
    monkeypatch.delenv("BENCH_DATABASE", raising=False)
    assert bench_db_name() == "loyalty_bench"

    monkeypatch.setenv("BENCH_DATABASE", "bench_alice")
    assert bench_db_name() == "bench_alice"


@pytest.mark.parametrize("name", ["Bench", "1bench", "bench-alice", 'x"; DROP DATABASE y; --', "b" * 31])
def test_a_name_that_is_not_a_plain_identifier_is_refused(monkeypatch, name):
    monkeypatch.setenv("BENCH_DATABASE", name)
    with pytest.raises(SystemExit, match="BENCH_DATABASE"):
        bench_db_name()


def test_a_run_drops_only_its_own_databases_not_those_of_a_name_it_prefixes():
    mine = ["loyalty_bench", "loyalty_bench_run", "loyalty_bench_tpl_coupons_10000"]
    others = ["loyalty_bench_alice", "loyalty_bench_alice_run", "loyalty", "h_queues", "loyaltyxbench"]

    assert [name for name in mine + others if is_bench_database(name, "loyalty_bench")] == mine


def test_the_harness_reads_the_name_when_it_is_imported():
    out = subprocess.run(
        [sys.executable, "-c", "from bench.common import BENCH_DB; print(BENCH_DB)"],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "BENCH_DATABASE": "bench_bob"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "bench_bob"


def test_a_run_of_some_benchmarks_updates_their_rows_and_keeps_the_others():
    from bench.common import Figure, merged_report

    before = "\n".join(
        [
            "# Benchmarks",
            "",
            "| figure | value | baseline | ratio | target | met |",
            "|---|---:|---:|---:|---:|---:|",
            "| a/s | 1 /s | 2 /s | 0.50× | ≥ 0.50× | yes |",
            "| b/s ² | 1 /s | 4 /s | 0.25× | ≥ 0.50× | no |",
            "",
            "## Targets missed",
            "",
            "- **b/s**: 0.25× against ≥ 0.50×. Too slow.",
            "",
            "## Notes",
            "",
            "- an old note",
        ]
    )
    figures = [Figure("b/s", 3, 4, "/s", ">=", 0.5), Figure("c/s", 1, 10, "/s", ">=", 0.5, missed="Why.")]

    after = merged_report(before, figures, ["c: 1, 1, 1"], "2026-12-06 run").splitlines()

    rows = [line for line in after if line.startswith("| ") and "figure" not in line]
    assert rows == [
        "| a/s | 1 /s | 2 /s | 0.50× | ≥ 0.50× | yes |",
        "| b/s | 3 /s | 4 /s | 0.75× | ≥ 0.50× | yes |",
        "| c/s | 1 /s | 10 /s | 0.10× | ≥ 0.50× | no |",
    ]
    missed = after[after.index("## Targets missed") + 2 : after.index("## Notes")]
    assert [line for line in missed if line] == ["- **c/s**: 0.10× against ≥ 0.50×. Why."]
    notes = after[after.index("## Notes") + 2 :]
    assert notes == ["- 2026-12-06 run: updated **b/s**, **c/s**.", "- c: 1, 1, 1", "- an old note"]
