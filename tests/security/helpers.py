"""The API's routes as the resolver sees them, and a fingerprint of the database to prove nothing changed."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.apps import apps
from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver, reverse

API_PREFIX = "api/v1/"
WRITE_METHODS = ("post", "put", "patch")
METHODS = ("get", "post", "put", "patch", "delete")
OUR_APPS = (
    "loyalty",
    "members",
    "membership",
    "points",
    "stored_value",
    "coupons",
    "mall",
    "orders",
    "notifications",
    "payments",
)


@dataclass(frozen=True)
class ApiRoute:
    name: str | None
    pattern: str  # e.g. "api/v1/coupons/<int:pk>"
    view: type
    methods: tuple[str, ...]
    converters: dict  # path parameter -> converter class name ("IntConverter", "StringConverter")

    def url(self, kwargs: dict | None = None) -> str:
        if kwargs is None:
            kwargs = {
                key: 1 if converter == "IntConverter" else "x" for key, converter in self.converters.items()
            }
        return reverse(self.name, kwargs=kwargs or None)


def _walk(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry


def api_routes() -> list[ApiRoute]:
    """Every URL pattern under /api/v1/, with the HTTP methods its view implements."""
    routes = []
    for pattern, entry in _walk(get_resolver().url_patterns):
        if not pattern.startswith(API_PREFIX):
            continue
        view = getattr(entry.callback, "cls", None) or getattr(entry.callback, "view_class", None)
        methods = tuple(m for m in METHODS if view is not None and hasattr(view, m))
        converters = {key: type(conv).__name__ for key, conv in entry.pattern.converters.items()}
        routes.append(ApiRoute(entry.name, pattern, view, methods, converters))
    return routes


# Request bookkeeping, not state a caller may change: the stored response of an Idempotency-Key (kept
# for errors too, so a retry replays them), a signed request's nonce and client's last use, tokens.
BOOKKEEPING = {"loyalty_idempotencyrecord", "loyalty_apinonce", "loyalty_apiclient", "members_membertoken"}


def db_fingerprint() -> dict[str, str]:
    """One md5 per table of our apps over every row: any insert, update or delete shows."""
    tables = sorted(
        (
            {
                model._meta.db_table
                for app in OUR_APPS
                if app in apps.app_configs
                for model in apps.get_app_config(app).get_models()
            }
            | {"auth_user", "auth_group", "auth_group_permissions", "auth_user_groups"}
        )
        - BOOKKEEPING
    )
    fingerprint = {}
    with connection.cursor() as cur:
        for table in tables:
            cur.execute(
                f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM \"{table}\" t"
            )
            fingerprint[table] = cur.fetchone()[0]
    return fingerprint


def db_contains(text: str) -> list[str]:
    """The tables of our apps whose rows contain ``text`` anywhere."""
    found = []
    with connection.cursor() as cur:
        for app in OUR_APPS:
            if app not in apps.app_configs:
                continue
            for model in apps.get_app_config(app).get_models():
                table = model._meta.db_table
                cur.execute(f'SELECT EXISTS (SELECT 1 FROM "{table}" t WHERE t::text LIKE %s)', [f"%{text}%"])
                if cur.fetchone()[0]:
                    found.append(table)
    return found


def schema_path(route) -> str:
    """The OpenAPI path of a route (drf-spectacular names a ``pk`` parameter ``id``)."""
    path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route.pattern)
    return path.replace("{pk}", "{id}")
