"""The member journey for locust; ``bench/journey.py`` runs it headless (see there for the design).

Every iteration of a simulated user is one distinct member's journey, from a
fresh WeChat login to the completed order:

    login (POST /auth/wechat-login) -> me (GET /me) -> check-in (POST /points/check-in)
    -> claim (POST /coupons/claim) -> quote (POST /checkout/quote, with the claimed coupon)
    -> commit (POST /server/orders, signed) -> complete (POST /server/orders/<no>/complete, signed)

The first five are the mini-program's calls with the member's bearer token;
commit and complete are the order system's, HMAC-signed, on the member's
behalf.  A step answering anything but its expected status is a failure and
ends that journey (the next steps need its answer).

Configuration: ``JOURNEY_CONFIG`` names a JSON file with the API client's
``key_id`` and ``secret``, the coupon ``template_id``, the basket, the members
to use (``first_member`` .. ``last_member``, member m logs in with the WeChat
code ``<code_prefix>-<m>``) and ``results``, the file the counters and every
request's timing are written to when locust quits.

This module imports locust (which patches the standard library for gevent):
import it only in a locust process.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import secrets
import time
from collections import Counter
from pathlib import Path

from locust import FastHttpUser, constant, events, task

CONFIG = json.loads(Path(os.environ["JOURNEY_CONFIG"]).read_text())
# One process, cooperative greenlets: next() on a shared counter hands each journey its own member.
_members = itertools.count(CONFIG["first_member"])
COUNTS: Counter = Counter()


def sign(*, secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    """The order system's signature (``loyalty.api.server_auth.sign``, checked equal by a test)."""
    message = "\n".join([method.upper(), path, timestamp, nonce, hashlib.sha256(body).hexdigest()])
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


class StepFailed(Exception):
    pass


class Member(FastHttpUser):
    wait_time = constant(0)  # back to back: the figure is the server's capacity, not a think time

    def _call(self, step: str, method: str, path: str, expect: int, *, body=None, headers=None) -> dict:
        raw = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", **(headers or {})}
        with self.client.request(
            method, path, name=step, data=raw or None, headers=headers, catch_response=True
        ) as response:
            if response.status_code != expect:
                response.failure(
                    f"HTTP {response.status_code}, expected {expect}: {(response.text or '')[:300]}"
                )
                raise StepFailed(step)
            response.success()
            COUNTS[step] += 1
            return response.json() if response.text else {}

    def _signed(self, step: str, path: str, expect: int, body=None) -> dict:
        raw = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        timestamp, nonce = str(int(time.time())), secrets.token_hex(12)
        headers = {
            "X-Api-Key": CONFIG["key_id"],
            "X-Timestamp": timestamp,
            "X-Nonce": nonce,
            "X-Signature": sign(
                secret=CONFIG["secret"], method="POST", path=path, timestamp=timestamp, nonce=nonce, body=raw
            ),
        }
        return self._call(step, "POST", path, expect, body=body, headers=headers)

    @task
    def journey(self):
        member = next(_members)
        if member > CONFIG["last_member"]:
            COUNTS["out_of_members"] += 1
            self.environment.runner.quit()  # the bench sees the count and refuses the run
            return
        COUNTS["journeys_started"] += 1
        try:
            self._journey(member)
        except StepFailed:
            COUNTS["journeys_failed"] += 1
        else:
            COUNTS["journeys_completed"] += 1

    def _journey(self, member: int) -> None:
        login = self._call(
            "login",
            "POST",
            "/api/v1/auth/wechat-login",
            200,
            body={"code": f"{CONFIG['code_prefix']}-{member}"},
        )
        if login["member"]["id"] != member:
            raise StepFailed("login")
        bearer = {"Authorization": f"Bearer {login['token']}"}
        self._call("me", "GET", "/api/v1/me", 200, headers=bearer)
        self._call("check-in", "POST", "/api/v1/points/check-in", 201, headers=bearer)
        coupon = self._call(
            "claim",
            "POST",
            "/api/v1/coupons/claim",
            201,
            body={"template_id": CONFIG["template_id"]},
            headers={**bearer, "Idempotency-Key": f"{CONFIG['code_prefix']}-claim-{member}"},
        )
        basket = {**CONFIG["basket"], "coupon_ids": [coupon["id"]]}
        quote = self._call("quote", "POST", "/api/v1/checkout/quote", 200, body=basket, headers=bearer)
        order_no = f"{CONFIG['code_prefix']}-{member}"
        self._signed(
            "commit",
            "/api/v1/server/orders",
            201,
            {**basket, "member_id": member, "order_no": order_no, "quote_hash": quote["fingerprint"]},
        )
        self._signed("complete", f"/api/v1/server/orders/{order_no}/complete", 200)


# What the bench computes its figures from: every request as it ended, when every user was spawned and when
# the run time was over (users then finish the journey they are in).
SAMPLES: list[tuple[str, float, float, bool]] = []  # step, ended at (epoch s), response time (ms), failed
WINDOW: dict[str, float] = {}


@events.request.add_listener
def _record(name, response_time, exception, **_kwargs):
    SAMPLES.append((name, time.time(), response_time, exception is not None))


@events.spawning_complete.add_listener
def _spawned(**_kwargs):
    WINDOW.setdefault("spawned", time.time())


@events.test_stopping.add_listener
def _stopping(**_kwargs):
    WINDOW.setdefault("end", time.time())


@events.quitting.add_listener
def _write_results(**_kwargs):
    Path(CONFIG["results"]).write_text(json.dumps({"counts": COUNTS, "window": WINDOW, "samples": SAMPLES}))
