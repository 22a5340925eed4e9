"""gunicorn's settings wherever the web process runs: the Dockerfile, docker-compose, the demo, the benchmarks.

Sync workers, 2 × cores + 1 (``WEB_CONCURRENCY`` overrides): the requests are CPU-bound (Django, DRF,
the rules), and threads of one worker queue for its GIL.  Measured with ``bench/checkout.py`` at
8 clients on 2 cores: 3 workers × 4 threads gave a request p99 of 275 ms, 5 × 2 threads 277 ms, 5 sync
workers 168 ms, at the same throughput.  A sync worker is held by a slow client for the whole request,
so production keeps a buffering proxy in front (it is there for TLS anyway: docker-compose.yml).
"""

import multiprocessing
import os

workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
timeout = 30
