"""gunicorn serving the project on a bench copy database, for the HTTP benchmarks (checkout, journey).

The shape is production's (``gunicorn.conf.py``: sync workers, 2 × cores + 1); ``bench.checkout_wsgi`` is the
project's WSGI application pointed at the copy named by ``BENCH_DB_NAME``, with ``DEBUG`` off.
"""

from __future__ import annotations

import os
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
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/api/v1/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("gunicorn did not start: " + self.log_tail())
            time.sleep(0.3)

    def log_tail(self, chars: int = 2000) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-chars:]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
