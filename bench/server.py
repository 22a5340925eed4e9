"""gunicorn serving the project on a bench copy database, for the HTTP benchmarks (checkout, journey).

The shape is production's (``gunicorn.conf.py``: sync workers, 2 × cores + 1); ``bench.checkout_wsgi`` is the
project's WSGI application pointed at the copy named by ``BENCH_DB_NAME``, with ``DEBUG`` off.  ``Cluster``:
two such nodes behind HAProxy, with ``make cluster``'s configuration (``deploy/haproxy.cfg``).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.common import REPO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """Start gunicorn on ``dbname`` (``env``: extra settings for the server only) and wait for its health
    check; ``stop()`` ends it."""

    def __init__(self, dbname: str, env: dict[str, str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            **(env or {}),
            "BENCH_DB_NAME": dbname,
            "DEBUG": "false",
            "PYTHONPATH": str(REPO),
        }
        gunicorn = Path(sys.executable).with_name("gunicorn")
        # A file, not a pipe: a pipe nobody reads fills up and blocks the server once it logs enough.
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [str(gunicorn), "bench.checkout_wsgi:application", "--bind", f"127.0.0.1:{self.port}"],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        _wait_healthy(self, "gunicorn")

    def log_tail(self, chars: int = 2000) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-chars:]

    def stop(self):
        _terminate(self.proc)


class Cluster:
    """Two ``Server`` nodes on ``dbname`` behind HAProxy (``deploy/haproxy.cfg``, as ``make cluster`` runs
    it: round-robin, health-checked, X-Forwarded-For appended and believed from 127.0.0.1); ``url`` is
    HAProxy's.  The nodes start first, so HAProxy finds both up."""

    def __init__(self, dbname: str, env: dict[str, str] | None = None):
        from loyalty.management.commands.runcluster import SEARCH_PATH, cluster_env

        haproxy = shutil.which("haproxy", path=SEARCH_PATH)
        if haproxy is None:
            raise RuntimeError("haproxy is not installed: `make bench` installs Debian's package")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.nodes: list[Server] = []
        try:
            for _ in range(2):
                self.nodes.append(Server(dbname, {**(env or {}), "TRUSTED_PROXIES": "127.0.0.1"}))
        except Exception:
            self.stop()
            raise
        addresses = cluster_env(host="127.0.0.1", port=self.port)
        addresses.update(WEB1=f"127.0.0.1:{self.nodes[0].port}", WEB2=f"127.0.0.1:{self.nodes[1].port}")
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [haproxy, "-db", "-f", str(REPO / "deploy" / "haproxy.cfg")],
            cwd=REPO,
            env={**os.environ, **addresses},
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        _wait_healthy(self, "haproxy")

    def served(self) -> dict[str, int]:
        """Requests each node answered so far, from HAProxy's log (one line per request: ``web/web1``)."""
        self.log.seek(0)
        text = self.log.read().decode(errors="replace")
        return {name: len(re.findall(rf" web/{name} ", text)) for name in ("web1", "web2")}

    def log_tail(self, chars: int = 2000) -> str:
        self.log.seek(0)
        own = self.log.read().decode(errors="replace")[-chars:]
        return "\n".join(
            [f"haproxy: {own}", *(f"node {i + 1}: {n.log_tail(chars)}" for i, n in enumerate(self.nodes))]
        )

    def stop(self):
        if self.proc is not None:
            _terminate(self.proc)
        for node in self.nodes:
            node.stop()


def _terminate(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _wait_healthy(server, what: str) -> None:
    """Until ``server.url`` answers its health check (``server.proc`` running), for at most a minute."""
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{server.url}/api/v1/health", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if server.proc.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"{what} did not start: " + server.log_tail())
        time.sleep(0.3)
