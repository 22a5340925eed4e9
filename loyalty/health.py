"""Liveness of the parts a request or a job depends on."""

import time

from django.db import DEFAULT_DB_ALIAS
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty import sql
from loyalty.api import docs
from loyalty.celery import app as celery_app
from loyalty.db_router import REPLICA, replica_alias


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


def _replica():
    as_of = sql.data_as_of(REPLICA)
    return {"lag_seconds": round((timezone.now() - as_of).total_seconds(), 1) if as_of else None}


def health_report() -> tuple[dict, int]:
    report = {"database": _timed(_database), "broker": _timed(_broker), "worker": {"ok": False}}
    if report["broker"]["ok"]:
        report["worker"] = _timed(_workers)
    if replica_alias() != DEFAULT_DB_ALIAS:  # only when a replica apart from the primary is configured
        report["replica"] = _timed(_replica)
    # Without the database nothing works (503); without a worker, broker or replica
    # requests still work (jobs wait, replica-fed pages read the primary), so the web process stays in rotation.
    healthy = all(part["ok"] for part in report.values())
    report["status"] = "ok" if healthy else ("degraded" if report["database"]["ok"] else "down")
    return report, 200 if report["database"]["ok"] else 503


class HealthView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    @docs.operation(
        tag=docs.HEALTH,
        summary="存活检查",
        description="""
供负载均衡与监控探测：检查数据库、消息队列（broker）与后台任务进程（worker），各项给出 `ok` 与耗时 `latency_ms`。
配置了只读副本（`DATABASE_REPLICA_URL`）时另有 `replica`：`ok`、`latency_ms` 与复制延迟 `lag_seconds`。
`status`：`ok` 全部正常；`degraded` 数据库正常但队列、worker 或只读副本不可用（接口照常服务，后台任务排队等待，报表页改读主库），仍返回 200；
`down` 数据库不可用，返回 503（同样结构的报告）。`/api/v1/health/`（带斜杠）返回相同内容。
""",
        caller=docs.PUBLIC,
        examples=[
            docs.response_example(
                {
                    "status": "ok",
                    "database": {"ok": True, "latency_ms": 1.2},
                    "broker": {"ok": True, "latency_ms": 2.8},
                    "worker": {"ok": True, "latency_ms": 412.5, "workers": 2},
                }
            )
        ],
    )
    @extend_schema(
        auth=[],
        responses=inline_serializer(
            "Health",
            {
                "status": serializers.ChoiceField(
                    [
                        ("ok", "正常"),
                        ("degraded", "降级：队列或 worker 不可用"),
                        ("down", "不可用：数据库不可达"),
                    ]
                ),
                "database": serializers.DictField(help_text="数据库：ok、latency_ms。"),
                "broker": serializers.DictField(help_text="消息队列：ok、latency_ms。"),
                "worker": serializers.DictField(
                    help_text="后台任务进程：ok、latency_ms、workers（应答的进程数）。"
                ),
                "replica": serializers.DictField(
                    required=False,
                    help_text="只读副本（仅在配置时出现）：ok、latency_ms、lag_seconds（复制延迟，秒）。",
                ),
            },
        ),
    )
    def get(self, request):
        report, status_code = health_report()
        return Response(report, status=status_code)


@extend_schema_view(get=extend_schema(exclude=True))
class HealthSlashView(HealthView):
    """``/api/v1/health/``: monitors and load balancers often add the slash; same answer, one schema entry."""
