"""The demo on several nodes, on one machine: two web nodes behind HAProxy, a worker per queue, one beat.

``make cluster`` runs it.  Everything ``rundemo`` prepares (migrations, demo data, the admin login), then
``Procfile.cluster`` under honcho: gunicorn on ``--port`` + 1 and + 2, HAProxy (``deploy/haproxy.cfg``,
Debian's package) on ``--port`` in front of them, a Celery worker on ``value`` and one on
``bulk,celery``, and one beat.  They share the PostgreSQL and Redis of ``DATABASE_URL`` / ``REDIS_URL``
(embedded when unset), as the nodes of docker-compose.yml share theirs.  docs/operations.md, "Several nodes",
says what runs where and why there is one beat.
"""

import os
import shutil

from django.core.management.base import CommandError

from loyalty.management.commands import rundemo


class Command(rundemo.Command):
    help = "Run the demo on two web nodes behind HAProxy, two Celery workers (value, bulk) and one beat."

    PROCFILE = "Procfile.cluster"

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--web-workers", type=int, default=3, help="gunicorn workers per web node.")

    def handle(self, *args, **options):
        if not options["no_serve"] and shutil.which("haproxy", path=SEARCH_PATH) is None:
            raise CommandError("haproxy is not installed: `make cluster` installs Debian's package.")
        self.web_workers = options["web_workers"]
        super().handle(*args, **options)

    def process_env(self, host: str, port: int) -> dict[str, str]:
        return {
            **cluster_env(host=host, port=port),
            "WEB_WORKERS": str(self.web_workers),
            "PATH": SEARCH_PATH,
        }


# Debian installs haproxy in /usr/sbin, which a user's PATH may lack.
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin"])


def cluster_env(*, host: str, port: int) -> dict[str, str]:
    """The addresses deploy/haproxy.cfg and Procfile.cluster read: HAProxy on ``host:port``, the nodes on the
    loopback after it.

    Only HAProxy is reachable from ``host``: a client must not reach a node that believes the proxy's
    X-Forwarded-For directly.  HAProxy connects to the nodes from 127.0.0.1, the one trusted proxy.
    """
    return {
        "HAPROXY_BIND": f"{host}:{port}",
        "WEB1": f"127.0.0.1:{port + 1}",
        "WEB2": f"127.0.0.1:{port + 2}",
        "HEALTH_HOST": "localhost",
        "TRUSTED_PROXIES": "127.0.0.1",
    }
