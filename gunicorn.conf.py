"""gunicorn's settings wherever the web process runs: the Dockerfile, docker-compose, the demo, the benchmarks.

Sync workers, 2 × cores + 1 (``WEB_CONCURRENCY`` overrides): the requests are CPU-bound (Django, DRF,
the rules), and threads of one worker queue for its GIL (bench/README.md, "Why it is tuned so").  A
sync worker is held by a slow client for the whole request, so production keeps a buffering proxy in
front (it is there for TLS anyway: docker-compose.yml).
"""

import multiprocessing
import os

workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
# A request longer than this kills its worker. 30 s suits the API; a web process that serves the
# member export of a large shop is started with more (docs/rules/export.md, "Size and memory").
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))

# gunicorn 25.1+ opens a control socket for `gunicornc` at one path per user ($XDG_RUNTIME_DIR or
# ~/.gunicorn/gunicorn.ctl): a second server on the machine (another checkout, the demo beside a
# benchmark) takes it over or is refused it.  Off, unless GUNICORN_CONTROL_SOCKET names this server's own.
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True


def post_worker_init(worker):
    """Import every view now (not on the first request), then move everything loaded so far out of the
    garbage collector's sight: Django's and the project's objects are never garbage, yet a full
    collection would walk them all in the middle of a request (bench/README.md)."""
    import gc

    from django.urls import get_resolver

    get_resolver().check()  # loads the URLconf, importing every view
    gc.freeze()
