"""Helpers shared by every test folder: the merchant's clock, API clients, signed requests, ledger checks.

Each lives here once; app folders' ``helpers.py`` hold only what one app's tests need.
"""

import csv
import io
import json
import re
from datetime import datetime
from html.parser import HTMLParser
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import psycopg2.errors
import pytest
import time_machine
from django.db import ProgrammingError, connection, transaction
from rest_framework.test import APIClient

from loyalty.api.server_auth import signed_headers
from loyalty.management.commands.verify_ledgers import all_checks, find_violations, run_check
from members import services as member_services
from points.models import PointsAccount

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(*args) -> datetime:
    """A merchant-local (Asia/Shanghai) time."""
    return datetime(*args, tzinfo=SHANGHAI)


def stopped_clock(at: datetime):
    """An autouse fixture for a module (``clock = stopped_clock(NOW)``): each test runs at ``at``, clock stopped."""

    @pytest.fixture(autouse=True)
    def clock():
        with time_machine.travel(at, tick=False) as traveller:
            yield traveller

    return clock


def client_for(member) -> APIClient:
    """An API client holding a fresh bearer token of ``member``."""
    token, _ = member_services.member_token_issue(member=member)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def as_meta(headers: dict) -> dict:
    """HTTP headers as the Django test client takes them (``X-Signature`` → ``HTTP_X_SIGNATURE``)."""
    return {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}


def signed_request(
    api, client, secret, method: str, url: str, body=None, *, content_type: str = "application/json", **extra
):
    """A request signed as the order system signs it; ``body`` is JSON-encoded unless it is bytes."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else b""
    headers = signed_headers(key_id=client.key_id, secret=secret, method=method.upper(), path=url, body=raw)
    return api.generic(method.upper(), url, raw, content_type=content_type, **as_meta(headers), **extra)


def assert_error(response, status: int, code: str) -> dict:
    """The response is the one error shape ``{"code", "message", "details"}`` with this status and code."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "details"}, body
    assert body["code"] == code, body
    assert body["message"], body
    return body


def assert_ledgers_consistent(*apps: str) -> None:
    """Every ledger invariant of ``verify_ledgers`` holds (only the checks of ``apps``, e.g. ``"members"``, if named)."""
    if not apps:
        violations = find_violations()
    else:  # only those checks run: another app's tables may not exist (a test of an old migration state)
        violations = [
            (description, row)
            for description, sql in all_checks()
            if description.split(":")[0] in apps
            for row in _rows_of_check_if_its_columns_exist(sql)
        ]
    assert violations == [], violations


def _rows_of_check_if_its_columns_exist(sql: str) -> list:
    """A check's rows; none when it reads a column a later migration adds (an old migration state)."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            return list(run_check(cursor, sql))
    except ProgrammingError as exc:
        if isinstance(exc.__cause__, psycopg2.errors.UndefinedColumn):
            return []
        raise


def points_of(member) -> int:
    """A member's points balance; 0 before their first posting."""
    return PointsAccount.objects.filter(member=member).values_list("balance", flat=True).first() or 0


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts, self._skip, self._icon = [], 0, False

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")
        # The theme's icons are words of an icon font (``card_membership``): drawn, not read.
        self._icon = self._icon or (tag == "span" and "material-symbols" in (dict(attrs).get("class") or ""))

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style") and self._skip > 0
        self._icon = self._icon and tag != "span"

    def handle_data(self, data):
        if not self._skip and not self._icon and data.strip():
            self.parts.append(data.strip())


def page_text(response) -> str:
    """What an operator reads on an admin page: its text, without tags, attributes and scripts."""
    parser = _Text()
    parser.feed(response.content.decode())
    return "\n".join(parser.parts)


def csv_download(response) -> tuple[str, list[dict]]:
    """A CSV download as an operator's spreadsheet reads it: the file's name (``filename*``, UTF-8) and its
    rows as ``{header: cell}``; asserts it is a CSV starting with the BOM Excel needs."""
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv"), response
    name = unquote(response["Content-Disposition"].split("filename*=UTF-8''", 1)[1])
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return name, list(csv.DictReader(io.StringIO(body[1:])))


def assert_reads_as_the_admin(rows: list[dict], *codes: str) -> None:
    """Every header is Chinese (or ID, openid; never ``member_id``, ``cash_fen``), every amount column (…（元）) is yuan with two
    decimals, and none of ``codes`` (status or kind values) is a cell."""
    assert rows, "no rows"
    for header in rows[0]:
        assert re.search(r"[\u4e00-\u9fff]|^(ID|openid)$", header) and "_" not in header, header
    for row in rows:
        for header, cell in row.items():
            if header.endswith("（元）"):
                assert re.fullmatch(r"-?\d+\.\d\d", cell), (header, cell)
            assert cell not in codes, (header, cell)
