import pytest

from loyalty import health


@pytest.mark.django_db
def test_health_reports_database_broker_and_worker(api, monkeypatch):
    monkeypatch.setattr(health, "_workers", lambda: {"workers": 2})

    response = api.get("/api/v1/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] and body["broker"]["ok"]
    assert body["worker"] == {"ok": True, "latency_ms": body["worker"]["latency_ms"], "workers": 2}


@pytest.mark.django_db
def test_no_worker_is_degraded_not_down(api, monkeypatch):
    monkeypatch.setattr(health, "_workers", lambda: (_ for _ in ()).throw(RuntimeError("no worker answered")))

    response = api.get("/api/v1/health")

    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["worker"]["ok"] is False


@pytest.mark.django_db
def test_a_broken_database_is_503(api, monkeypatch):
    def broken():
        raise ConnectionError("database is down")

    monkeypatch.setattr(health, "_database", broken)
    monkeypatch.setattr(health, "_workers", lambda: {"workers": 1})

    response = api.get("/api/v1/health")

    assert response.status_code == 503
    assert response.json()["status"] == "down"
    assert response.json()["database"]["error"] == "ConnectionError"


@pytest.mark.django_db
def test_health_answers_with_and_without_a_trailing_slash_and_is_documented_once(api, monkeypatch):
    monkeypatch.setattr(health, "_workers", lambda: {"workers": 1})

    bare, slashed = api.get("/api/v1/health"), api.get("/api/v1/health/")

    assert bare.status_code == slashed.status_code == 200
    assert bare.json()["status"] == slashed.json()["status"] == "ok"
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert "/api/v1/health" in schema["paths"] and "/api/v1/health/" not in schema["paths"]


@pytest.mark.django_db
def test_a_configured_replica_reports_its_lag_and_one_that_is_down_is_degraded_not_down(api, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    monkeypatch.setattr(health, "_workers", lambda: {"workers": 1})
    assert "replica" not in api.get("/api/v1/health").json()  # the suite's replica is the primary's mirror

    monkeypatch.setattr(health, "replica_alias", lambda: "replica")
    monkeypatch.setattr(health.sql, "data_as_of", lambda alias: timezone.now() - timedelta(seconds=4))
    body = api.get("/api/v1/health").json()
    assert body["status"] == "ok" and body["replica"]["ok"] and 3.5 <= body["replica"]["lag_seconds"] <= 6

    def down(alias):
        raise ConnectionError("replica is down")

    monkeypatch.setattr(health.sql, "data_as_of", down)
    response = api.get("/api/v1/health")
    assert response.status_code == 200 and response.json()["status"] == "degraded"
    assert response.json()["replica"] == {"ok": False, "latency_ms": response.json()["replica"]["latency_ms"],
                                          "error": "ConnectionError"}  # fmt: skip
