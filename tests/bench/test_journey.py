"""The journey benchmark's own pieces (the benchmark itself is run by ``python -m bench journey``, not here)."""

import json
import os
import subprocess
import sys

from bench import journey
from bench.common import REPO
from loyalty.api.server_auth import sign

ARGS = {"method": "POST", "path": "/api/v1/server/orders/J-7/complete", "timestamp": "1700000000"}


def test_python_m_bench_offers_the_journey_benchmark():
    out = subprocess.run(
        [sys.executable, "-m", "bench", "--help"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "journey.members" in out.stdout


def test_the_locustfile_loads_in_locust_and_signs_as_the_server_checks(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps({"first_member": 1, "last_member": 2, "results": str(tmp_path / "out.json")})
    )
    # A subprocess: importing locust patches the standard library for gevent.
    script = (
        "import json, locust; from bench.journey_locustfile import Member, sign;"
        "assert issubclass(Member, locust.FastHttpUser);"
        f"print(sign(secret='s3cret', nonce='n0nce-123', body=b'{{}}', **{ARGS!r}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env={**os.environ, "JOURNEY_CONFIG": str(config), "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == sign(secret="s3cret", nonce="n0nce-123", body=b"{}", **ARGS)
    assert out.stdout.strip() != sign(secret="other", nonce="n0nce-123", body=b"{}", **ARGS)


def test_figures_count_requests_of_the_measured_window_and_failures_of_the_whole_run():
    spawned, warmup = 1000.0, 5.0
    samples = [
        ["login", 1002.0, 900.0, False],  # warm-up: not in the rates or percentiles
        ["login", 1006.0, 100.0, False],
        ["me", 1007.0, 20.0, False],
        ["me", 1008.0, 40.0, True],
        ["complete", 1009.0, 300.0, False],
        ["complete", 1011.5, 5000.0, True],  # finished after the run time: a failure, not a timing
    ]
    result = journey._summarise({"window": {"spawned": spawned, "end": 1010.0}, "samples": samples}, warmup)
    assert result["requests"] == 4
    assert result["rps"] == 4 / 5.0
    assert result["journeys_s"] == 1 / 5.0
    assert (result["p50"], result["p99"]) == (40.0, 300.0)
    assert result["failures"] == 2
    assert result["all_requests"] == 6
    assert result["steps"]["me"] == {"requests": 2, "failures": 1, "p50": 20.0, "p99": 40.0, "rps": 2 / 5.0}
    assert result["steps"]["complete"]["failures"] == 1
