"""Two web nodes, one database: what each process keeps for itself is still right across nodes.

Two real gunicorn processes serve the test database, as the nodes behind HAProxy do (``make cluster``,
docker-compose.yml).  Each keeps its own copy of the configuration rows (``loyalty/config.py``) and of the
API clients (``loyalty/api/server_auth.py``); what makes them exact is in PostgreSQL, which both nodes
share: the configuration version, moved by a trigger in the same transaction as any change, read once per
request; and the nonces of signed calls, stored by one statement that also checks the client is still
active with the same secret.  So a change made through one node shows on the other at its next request
(the design says at once, not within a time), and a signed request replayed to the other node is refused.
"""

from __future__ import annotations

import os
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.contrib.auth import get_user_model

from loyalty.api.server_auth import signed_headers
from loyalty.models import ApiClient
from members import services as member_services
from membership.models import Tier
from tests.factories import MemberFactory
from tests.faults.helpers import Process, _free_port, database_url, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("several-nodes")]


class Node:
    """One gunicorn process (one sync worker) serving the test database on a port of its own."""

    def __init__(self, name: str, log_dir: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        gunicorn = Path(sys.executable).with_name("gunicorn")
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "loyalty.settings.test",
            "DATABASE_URL": database_url(),
            "REDIS_URL": settings.REDIS_URL,
        }
        self.process = Process(
            [str(gunicorn), "loyalty.wsgi", "--bind", f"127.0.0.1:{self.port}", "--workers", "1"],
            env,
            log_dir / f"{name}.log",
        )

    def answers(self) -> bool:
        try:
            return requests.get(f"{self.url}/api/v1/health", timeout=5).status_code == 200
        except requests.RequestException:
            return False


@pytest.fixture(scope="module")
def nodes(django_db_setup, tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("nodes")
    started = [Node("node-a", log_dir), Node("node-b", log_dir)]
    try:
        for node in started:
            assert wait_for(node.answers, timeout=60, interval=0.3), node.process.output()[-3000:]
        yield started
    finally:
        for node in started:
            node.process.stop()


def admin_session(node: Node, username: str, password: str) -> requests.Session:
    """An operator logged in to the back office of ``node``."""
    session = requests.Session()
    session.get(f"{node.url}/admin/login/", timeout=10).raise_for_status()
    login = session.post(
        f"{node.url}/admin/login/",
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
            "next": "/admin/",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert login.status_code == 302, login.text[-2000:]
    return session


class FormValues(HTMLParser):
    """What a browser would submit from an admin change form unchanged (inputs, checked boxes, selects)."""

    def __init__(self, html: str):
        super().__init__()
        self.values: dict[str, str] = {}
        self._select: str | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button", "checkbox"):
            self.values[name] = a.get("value") or ""
        elif tag == "input" and name and a.get("type") == "checkbox" and "checked" in a:
            self.values[name] = a.get("value") or "on"
        elif tag == "select" and name:
            self._select = name
            self.values.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in a:
            self.values[self._select] = a.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def test_a_tier_renamed_in_the_back_office_of_one_node_is_shown_by_the_other_node_at_once(
    nodes, transactional_db
):
    node_a, node_b = nodes
    tier, _ = Tier.objects.update_or_create(level=0, defaults={"name": "普通会员", "growth_threshold": 0})
    token, _ = member_services.member_token_issue(member=MemberFactory())
    bearer = {"Authorization": f"Bearer {token}"}

    def tier_name(node: Node) -> str:
        answer = requests.get(f"{node.url}/api/v1/membership/tier", headers=bearer, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()["tier"]["name"]

    # Both nodes have loaded the tiers into their own caches.
    assert tier_name(node_a) == tier_name(node_b) == "普通会员"

    get_user_model().objects.create_superuser("ops", "ops@example.com", "ops-password")
    operator = admin_session(node_a, "ops", "ops-password")
    change = f"{node_a.url}/admin/membership/tier/{tier.pk}/change/"
    form = operator.get(change, timeout=10)
    form.raise_for_status()
    values = FormValues(form.text).values
    assert values["name"] == "普通会员"
    changed = operator.post(
        change, data={**values, "name": "银卡会员", "_save": "1"}, allow_redirects=False, timeout=10
    )
    assert changed.status_code == 302, changed.text[-3000:]

    assert tier_name(node_b) == "银卡会员"  # the very next request: no waiting for an expiry
    assert tier_name(node_a) == "银卡会员"


def test_a_signed_request_replayed_to_the_other_node_is_refused_and_a_deactivated_client_at_once(
    nodes, transactional_db, server_client
):
    node_a, node_b = nodes
    client, secret = server_client
    member = MemberFactory(openid="o-nodes-1")
    path = f"/api/v1/server/members/lookup?openid={member.openid}"

    def signed() -> dict:  # a fresh nonce each time
        return signed_headers(key_id=client.key_id, secret=secret, method="GET", path=path)

    # Both nodes have cached the client: each answers a signed request of its own.
    for node in nodes:
        first = requests.get(node.url + path, headers=signed(), timeout=10)
        assert first.status_code == 200, first.text
        assert first.json()["id"] == member.pk

    headers = signed()
    assert requests.get(node_a.url + path, headers=headers, timeout=10).status_code == 200
    replay = requests.get(node_b.url + path, headers=headers, timeout=10)
    assert replay.status_code == 401
    assert replay.json()["code"] == "signature_replayed"

    # Deactivated (here straight in the database, as any node's back office would): refused by both
    # nodes at their next request, though each still holds the client in its cache.
    ApiClient.objects.filter(pk=client.pk).update(is_active=False)
    for node in nodes:
        refused = requests.get(node.url + path, headers=signed(), timeout=10)
        assert refused.status_code == 401
        assert refused.json()["code"] == "signature_invalid"
