"""A fake WeChat Pay API v3 server on loopback, speaking the real wire format.

Tests point WECHATPAY_API_BASE at it, so the real gateway (``wechatpayv3``)
signs real requests and verifies real response signatures.  It checks every
request's ``Authorization`` signature with the merchant's public key and
signs every answer with the platform key, as WeChat does.  ``mode`` steers
it: ``ok``, ``down`` (HTTP 500), ``forged`` (answers signed by another key).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from base64 import b64decode
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.hashes import SHA256
from wechatpayv3.utils import load_public_key, rsa_sign

from payments.gateway import _new_rsa_pem


class FakeWechatPayServer:
    def __init__(self, *, platform_private_key: str, serial: str, merchant_public_key: str, mchid: str):
        self._platform_key = serialization.load_pem_private_key(platform_private_key.encode(), None)
        self._merchant_key = load_public_key(merchant_public_key)
        self.serial, self.mchid = serial, mchid
        self.mode = "ok"
        self.trades: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.requests: list[tuple[str, str, bool]] = []  # method, path, signature valid
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeWechatPayServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @staticmethod
    def _forger_key():
        return serialization.load_pem_private_key(_new_rsa_pem()[0].encode(), None)

    def _signed_by_merchant(self, method: str, path: str, body: str, authorization: str) -> bool:
        fields = dict(re.findall(r'(\w+)="([^"]*)"', authorization))
        if fields.get("mchid") != self.mchid:
            return False
        message = f"{method}\n{path}\n{fields.get('timestamp')}\n{fields.get('nonce_str')}\n{body}\n"
        return _verify(self._merchant_key, message, fields.get("signature", ""))

    def _answer(self, method: str, path: str, body: dict) -> tuple[int, dict | None]:
        if self.mode == "down":
            return 500, {"code": "SYSTEM_ERROR", "message": "系统错误"}
        route = urlparse(path).path
        if method == "POST" and route == "/v3/pay/transactions/jsapi":
            self.trades[body["out_trade_no"]] = {**body, "trade_state": "NOTPAY"}
            return 200, {"prepay_id": f"wx{secrets.token_hex(14)}"}
        if match := re.fullmatch(r"/v3/pay/transactions/out-trade-no/([^/]+)/close", route):
            if match[1] in self.trades:
                self.trades[match[1]]["trade_state"] = "CLOSED"
            return 204, None
        if match := re.fullmatch(r"/v3/pay/transactions/out-trade-no/([^/]+)", route):
            trade = self.trades.get(match[1])
            if trade is None:
                return 404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"}
            return 200, {
                "appid": trade["appid"],
                "mchid": trade["mchid"],
                "out_trade_no": match[1],
                "transaction_id": trade.get("transaction_id", ""),
                "trade_state": trade["trade_state"],
                "amount": {"total": trade["amount"]["total"], "currency": "CNY"},
            }
        if method == "POST" and route == "/v3/refund/domestic/refunds":
            self.refunds[body["out_refund_no"]] = body
            return 200, {"refund_id": f"50{secrets.randbelow(10**20):020d}", "status": "PROCESSING", **body}
        return 404, {"code": "NOT_FOUND", "message": "not found"}

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self, method: str):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                valid = fake._signed_by_merchant(
                    method, self.path, raw, self.headers.get("Authorization", "")
                )
                fake.requests.append((method, self.path, valid))
                status, answer = (
                    (401, {"code": "SIGN_ERROR", "message": "签名错误"})
                    if not valid
                    else (fake._answer(method, self.path, json.loads(raw) if raw else {}))
                )
                text = "" if answer is None else json.dumps(answer, ensure_ascii=False)
                timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
                key = fake._forger_key() if fake.mode == "forged" else fake._platform_key
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Wechatpay-Timestamp", timestamp)
                self.send_header("Wechatpay-Nonce", nonce)
                self.send_header("Wechatpay-Serial", fake.serial)
                self.send_header("Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048")
                self.send_header("Wechatpay-Signature", rsa_sign(key, f"{timestamp}\n{nonce}\n{text}\n"))
                self.send_header("Content-Length", str(len(text.encode())))
                self.end_headers()
                self.wfile.write(text.encode())

            def do_GET(self):  # noqa: N802
                self._serve("GET")

            def do_POST(self):  # noqa: N802
                self._serve("POST")

            def log_message(self, *args):
                pass

        return Handler


def _verify(public_key, message: str, signature: str) -> bool:
    """SHA256withRSA over the whole message (wechatpayv3's rsa_verify builds only notification messages)."""
    try:
        public_key.verify(b64decode(signature), message.encode(), PKCS1v15(), SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True
