"""The client's address: X-Forwarded-For is believed only from a trusted proxy, so it cannot dodge a throttle."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from rest_framework.throttling import ScopedRateThrottle

from loyalty.api.client_address import client_address
from loyalty.api.throttling import ScopedThrottle
from tests.security.helpers import api_routes

LOGINS = ["/api/v1/auth/wechat-login", "/api/v1/auth/dev-login"]


@pytest.fixture
def login_rate(monkeypatch, settings):
    # DRF reads the rates once at import, so patch the class, not settings.
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"login": "3/min"})
    settings.DEBUG = settings.WECHAT_DEV_LOGIN = True  # dev-login answers (and creates members)


def attempt(api, url, i, **meta):
    return api.post(url, {"code": f"code-{i}"}, format="json", **meta).status_code


@pytest.mark.django_db
@pytest.mark.parametrize("url", LOGINS)
def test_a_new_x_forwarded_for_per_request_does_not_escape_the_login_throttle(
    api, fake_wechat, login_rate, url
):
    statuses = [
        attempt(api, url, i, REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}")
        for i in range(6)
    ]

    assert statuses[3:] == [429, 429, 429]
    assert 429 not in statuses[:3]


@pytest.mark.django_db
@pytest.mark.parametrize("url", LOGINS)
def test_behind_a_trusted_proxy_each_client_has_its_own_allowance_and_cannot_forge_one(
    api, fake_wechat, login_rate, settings, url
):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    via_proxy = {"REMOTE_ADDR": "10.0.0.2"}

    # One client through the proxy, forging a new leftmost address each time: still one client.
    forged = [
        attempt(api, url, i, **via_proxy, HTTP_X_FORWARDED_FOR=f"198.51.100.{i}, 203.0.113.7")
        for i in range(5)
    ]
    # Another client through the same proxy is counted apart.
    other = attempt(api, url, 99, **via_proxy, HTTP_X_FORWARDED_FOR="203.0.113.8")

    assert forged[3:] == [429, 429]
    assert 429 not in forged[:3]
    assert other != 429


@pytest.mark.parametrize(
    ("remote", "forwarded", "trusted", "client"),
    [
        ("203.0.113.9", "198.51.100.1", [], "203.0.113.9"),  # no trusted proxy: the header is ignored
        ("203.0.113.9", "198.51.100.1", ["10.0.0.0/8"], "203.0.113.9"),  # not from the proxy: ignored
        ("10.0.0.2", "198.51.100.1", ["10.0.0.0/8"], "198.51.100.1"),
        ("10.0.0.2", "1.1.1.1, 198.51.100.1", ["10.0.0.0/8"], "198.51.100.1"),  # rightmost untrusted
        ("10.0.0.2", "198.51.100.1, 10.0.0.3", ["10.0.0.0/8"], "198.51.100.1"),  # past a chain of proxies
        ("10.0.0.2", "10.0.0.4, 10.0.0.3", ["10.0.0.0/8"], "10.0.0.4"),  # every hop trusted: the farthest
        ("10.0.0.2", "", ["10.0.0.0/8"], "10.0.0.2"),  # the proxy forwarded nothing
        ("10.0.0.2", "1.1.1.1, bogus, 10.0.0.3", ["10.0.0.0/8"], "10.0.0.3"),  # garbage stops the walk
        ("127.0.0.1", "2001:db8::1", ["127.0.0.1"], "2001:db8::1"),
        ("::ffff:10.0.0.2", "198.51.100.1", ["10.0.0.0/8"], "198.51.100.1"),  # IPv4-mapped IPv6
        ("::1", "198.51.100.1", ["10.0.0.0/8", "::1/128"], "198.51.100.1"),
    ],
)
def test_the_client_address_is_the_rightmost_one_no_trusted_proxy_vouches_for(
    settings, remote, forwarded, trusted, client
):
    settings.TRUSTED_PROXIES = trusted
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)

    assert client_address(request) == client


def test_a_trusted_proxies_entry_that_is_not_a_network_stops_the_start(monkeypatch):
    import importlib

    from django.core.exceptions import ImproperlyConfigured

    from loyalty.settings import base

    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8,proxy.example.com")
    with pytest.raises(ImproperlyConfigured, match="TRUSTED_PROXIES"):
        importlib.reload(base)
    monkeypatch.delenv("TRUSTED_PROXIES")
    importlib.reload(base)
    assert base.TRUSTED_PROXIES == []


def test_every_throttle_of_the_api_counts_by_the_one_client_address():
    throttled = {
        route.pattern: route.view.throttle_classes for route in api_routes() if route.view.throttle_classes
    }

    assert {"api/v1/auth/wechat-login", "api/v1/auth/dev-login"} <= set(throttled)
    for pattern, classes in throttled.items():
        for throttle in classes:
            assert throttle.get_ident is ScopedThrottle.get_ident, (pattern, throttle)
