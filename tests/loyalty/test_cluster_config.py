"""`make cluster` and docker-compose.yml run the same shape from the same HAProxy file (read, not run)."""

import re
from pathlib import Path

import yaml
from django.conf import settings

from loyalty.management.commands.runcluster import Command

ROOT = Path(settings.BASE_DIR)
HAPROXY_CFG = ROOT / "deploy" / "haproxy.cfg"


def variables(text: str) -> set[str]:
    """The environment variables a config file reads, its comments left out."""
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    return set(re.findall(r"\$\{(\w+)\}", code))


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile.cluster").read_text().splitlines()
    return dict(line.split(":", 1) for line in lines if line and not line.startswith("#"))


def cluster_env() -> dict[str, str]:
    command = Command()
    command.web_workers = 3
    return command.process_env("127.0.0.1", 8000)


def test_every_address_the_haproxy_file_reads_is_given_by_make_cluster_and_by_compose():
    needed = variables(HAPROXY_CFG.read_text())
    assert needed == {"HAPROXY_BIND", "WEB1", "WEB2", "HEALTH_HOST"}
    assert needed <= set(cluster_env())
    haproxy = compose()["haproxy"]
    assert needed <= set(haproxy["environment"])
    assert any(volume.startswith("./deploy/haproxy.cfg:") for volume in haproxy["volumes"])


def test_make_cluster_gives_every_setting_its_processes_read_and_trusts_haproxy_only_on_the_loopback():
    env = cluster_env()
    assert variables((ROOT / "Procfile.cluster").read_text()) <= set(env)
    assert env["TRUSTED_PROXIES"] == "127.0.0.1"
    assert env["WEB1"].startswith("127.0.0.1:") and env["WEB2"].startswith("127.0.0.1:")


def test_both_run_two_web_nodes_a_worker_per_queue_and_exactly_one_beat():
    processes = procfile()
    services = compose()
    assert [name for name, command in processes.items() if "gunicorn" in command] == ["web1", "web2"]
    assert [name for name in services if name.startswith("web")] == ["web1", "web2"]
    assert [name for name, command in processes.items() if " beat" in command] == ["beat"]
    assert [name for name, s in services.items() if "beat" in (s.get("command") or [])] == ["beat"]

    def queues(command) -> str:
        words = command.split() if isinstance(command, str) else command
        return words[words.index("-Q") + 1]

    # The default queue (housekeeping, loyalty/queues.py) rides with bulk.
    assert sorted(queues(c) for c in processes.values() if " worker " in c) == ["bulk,celery", "value"]
    assert sorted(
        queues(s["command"]) for s in services.values() if "worker" in (s.get("command") or [])
    ) == ["bulk,celery", "value"]


def test_the_web_nodes_publish_no_port_and_trust_haproxys_fixed_address():
    services = compose()
    address = services["haproxy"]["networks"]["default"]["ipv4_address"]
    for name in ("web1", "web2"):
        assert "ports" not in services[name]
        assert address in services[name]["environment"]["TRUSTED_PROXIES"].split(",")
