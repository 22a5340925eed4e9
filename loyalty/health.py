"""Liveness of the parts a request or a job depends on."""

import time

from drf_spectacular.utils import extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty import sql
from loyalty.celery import app as celery_app


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        extra = check() or {}
        ok = True
    except Exception as exc:  # any failure of a dependency is a "down", not a 500
        extra, ok = {"error": type(exc).__name__}, False
    return {"ok": ok, "latency_ms": round((time.perf_counter() - started) * 1000, 1), **extra}


def _database():
    sql.ping()


def _broker():
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


def _workers():
    replies = celery_app.control.ping(timeout=1.0)
    if not replies:
        raise RuntimeError("no worker answered")
    return {"workers": len(replies)}


def health_report() -> tuple[dict, int]:
    report = {"database": _timed(_database), "broker": _timed(_broker), "worker": {"ok": False}}
    if report["broker"]["ok"]:
        report["worker"] = _timed(_workers)
    # Without the database nothing works (503); without a worker or broker
    # requests still work and jobs wait, so the web process stays in rotation.
    healthy = all(part["ok"] for part in report.values())
    report["status"] = "ok" if healthy else ("degraded" if report["database"]["ok"] else "down")
    return report, 200 if report["database"]["ok"] else 503


class HealthView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["health"],
        auth=[],
        responses=inline_serializer(
            "Health",
            {
                "status": serializers.ChoiceField(["ok", "degraded", "down"]),
                "database": serializers.DictField(),
                "broker": serializers.DictField(),
                "worker": serializers.DictField(),
            },
        ),
    )
    def get(self, request):
        report, status_code = health_report()
        return Response(report, status=status_code)


@extend_schema_view(get=extend_schema(exclude=True))
class HealthSlashView(HealthView):
    """``/api/v1/health/``: monitors and load balancers often add the slash; same answer, one schema entry."""
