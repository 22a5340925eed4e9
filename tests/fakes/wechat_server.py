"""A fake WeChat API server on loopback, speaking the real wire format.

Tests point WECHAT_API_BASE at it, so the real HTTP client, timeouts and
error mapping are exercised.  Behaviour is steered per code:

- a code registered with ``add_login`` logs in as that openid (once: WeChat
  codes are single-use, a second use answers errcode 40163);
- ``busy`` answers errcode -1 (system busy), ``http500`` answers HTTP 500,
  ``garbage`` answers non-JSON, ``slow`` sleeps past the client's timeout.

Subscription messages (``/cgi-bin/message/subscribe/send``) need a valid
access token (40001 otherwise; ``expire_tokens`` makes the issued ones answer
42001).  ``send_errors[openid]`` makes sends to that openid answer an errcode
(-1 busy, 43101 refused, 47003 bad data …); ``send_http500`` answers HTTP 500
to every send.  What was accepted is in ``sent``.

Mini-program codes (``/wxa/getwxacodeunlimit``) need a valid token too; the body is checked as
WeChat does (scene of at most 32 allowed characters, a page without a leading ``/`` or a query,
width 280–1280) and answered with a JPEG of a QR code of the scene, as WeChat answers the image
itself.  Each request's body is in ``wxacode_requests``; ``wxacode_errcode`` makes every one answer
that errcode.  ``images[name]`` is served at ``/images/<name>`` (a CDN's avatars and item pictures).
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import qrcode

SCENE = re.compile(r"^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]{1,32}$")


class FakeWechat:
    def __init__(self, *, app_id: str, app_secret: str, slow_seconds: float = 2.0):
        self.app_id = app_id
        self.app_secret = app_secret
        self.slow_seconds = slow_seconds
        self.logins: dict[str, dict] = {}
        self.used_codes: set[str] = set()
        self.phones: dict[str, dict] = {}
        self.tokens_issued: list[str] = []
        self.valid_tokens: set[str] = set()
        self.requests: list[str] = []
        self.expired_tokens: set[str] = set()
        self.sent: list[dict] = []
        self.send_attempts: list[dict] = []
        self.send_errors: dict[str, int] = {}
        self.send_http500 = False
        self.wxacode_requests: list[dict] = []
        self.wxacode_errcode = 0
        self.images: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeWechat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add_login(self, code: str, *, openid: str, session_key: str, unionid: str = "") -> None:
        self.logins[code] = {"openid": openid, "session_key": session_key, "unionid": unionid}

    def add_phone(self, code: str, phone: str, country_code: str = "86") -> None:
        self.phones[code] = {
            "purePhoneNumber": phone,
            "countryCode": country_code,
            "phoneNumber": phone if country_code == "86" else f"+{country_code}{phone}",
        }

    def revoke_tokens(self) -> None:
        self.valid_tokens.clear()

    def expire_tokens(self) -> None:
        with self._lock:
            self.expired_tokens |= self.valid_tokens
            self.valid_tokens.clear()

    # --- request handling -------------------------------------------------

    def _answer(self, method: str, path: str, query: dict, body: dict) -> tuple:
        self.requests.append(path)
        if path.startswith("/images/"):
            image = self.images.get(path.removeprefix("/images/"))
            return (200, image, "image/jpeg") if image is not None else (404, b"not found")
        if path == "/wxa/getwxacodeunlimit":
            answer = self._wxacode(query, body)
            return (
                (200, answer, "image/jpeg")
                if isinstance(answer, bytes)
                else (200, json.dumps(answer).encode())
            )
        code = query.get("js_code") or body.get("code") or ""
        if code == "slow":
            time.sleep(self.slow_seconds)
        if code == "http500":
            return 500, b"internal error"
        if code == "garbage":
            return 200, b"<html>not json</html>"
        if code == "busy":
            return 200, json.dumps({"errcode": -1, "errmsg": "system error"}).encode()
        if path == "/sns/jscode2session":
            return 200, json.dumps(self._code2session(query)).encode()
        if path == "/cgi-bin/stable_token":
            return 200, json.dumps(self._stable_token(body)).encode()
        if path == "/wxa/business/getuserphonenumber":
            return 200, json.dumps(self._phone(query, body)).encode()
        if path == "/cgi-bin/message/subscribe/send":
            if self.send_http500:
                return 500, b"internal error"
            return 200, json.dumps(self._subscribe_send(query, body)).encode()
        return 404, b"not found"

    def _code2session(self, query: dict) -> dict:
        if query.get("appid") != self.app_id or query.get("secret") != self.app_secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        code = query.get("js_code", "")
        with self._lock:
            if code in self.used_codes:
                return {"errcode": 40163, "errmsg": "code been used"}
            if code not in self.logins:
                return {"errcode": 40029, "errmsg": "invalid code"}
            self.used_codes.add(code)
        return dict(self.logins[code])

    def _stable_token(self, body: dict) -> dict:
        if body.get("appid") != self.app_id or body.get("secret") != self.app_secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        with self._lock:
            token = f"token-{len(self.tokens_issued) + 1}"
            self.tokens_issued.append(token)
            self.valid_tokens.add(token)
        return {"access_token": token, "expires_in": 7200}

    def _phone(self, query: dict, body: dict) -> dict:
        if query.get("access_token") not in self.valid_tokens:
            return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"}
        info = self.phones.get(body.get("code", ""))
        if info is None:
            return {"errcode": 40029, "errmsg": "invalid code"}
        return {"errcode": 0, "errmsg": "ok", "phone_info": info}

    def _subscribe_send(self, query: dict, body: dict) -> dict:
        token = query.get("access_token")
        with self._lock:
            self.send_attempts.append(body)
            if token in self.expired_tokens:
                return {"errcode": 42001, "errmsg": "access_token expired"}
            if token not in self.valid_tokens:
                return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"}
            errcode = self.send_errors.get(body.get("touser", ""))
            if errcode:
                return {"errcode": errcode, "errmsg": f"error {errcode}"}
            if not body.get("template_id") or not isinstance(body.get("data"), dict):
                return {"errcode": 47003, "errmsg": "argument invalid!"}
            self.sent.append(body)
            return {"errcode": 0, "errmsg": "ok", "msgid": str(len(self.sent))}

    def _wxacode(self, query: dict, body: dict) -> bytes | dict:
        token = query.get("access_token")
        with self._lock:
            self.wxacode_requests.append(body)
            if token in self.expired_tokens:
                return {"errcode": 42001, "errmsg": "access_token expired"}
            if token not in self.valid_tokens:
                return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"}
            if self.wxacode_errcode:
                return {"errcode": self.wxacode_errcode, "errmsg": f"error {self.wxacode_errcode}"}
        if not SCENE.match(str(body.get("scene", ""))):
            return {"errcode": 40169, "errmsg": "invalid length for scene, or the data is not json string"}
        page = body.get("page", "")
        if not isinstance(page, str) or page.startswith("/") or "?" in page:
            return {"errcode": 41030, "errmsg": "invalid page rid"}
        width = body.get("width", 430)
        if not isinstance(width, int) or not 280 <= width <= 1280:
            return {"errcode": 40097, "errmsg": "invalid args"}
        if body.get("env_version", "release") not in ("release", "trial", "develop"):
            return {"errcode": 40097, "errmsg": "invalid args"}
        image = qrcode.make(f"{page}?scene={body['scene']}", box_size=8, border=2).get_image()
        out = io.BytesIO()
        image.convert("RGB").resize((width, width)).save(out, format="JPEG")
        return out.getvalue()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _respond(self, method):
                parsed = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    body = {}
                status, payload, *content_type = fake._answer(method, parsed.path, query, body)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type[0] if content_type else "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def do_GET(self):
                self._respond("GET")

            def do_POST(self):
                self._respond("POST")

            def log_message(self, *args):
                pass

        return Handler
