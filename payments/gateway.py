"""WeChat Pay API v3 (JSAPI) behind one small interface, and a fake that plays WeChat's side.

``WechatGateway`` talks to WeChat through the ``wechatpayv3`` package: it
signs our requests with the merchant key and checks the signatures of
WeChat's answers.  ``FakeGateway`` (``WECHATPAY_PROVIDER=fake``: dev, demo,
tests) answers in-process instead and can *pay*: it writes the notification
WeChat would send, signed with a platform key and encrypted with the APIv3
key, which goes through the very same ``verify_notification`` as WeChat's.

Notification checks (``verify_notification``), in this order:
1. ``Wechatpay-Timestamp`` within ``WECHATPAY_NOTIFICATION_WINDOW_SECONDS``
   (300 s) of our clock, else 401: an old notification replayed is refused
   even with a valid signature.
2. ``Wechatpay-Serial`` names a platform key or certificate we hold, and
   ``Wechatpay-Signature`` is SHA256withRSA over ``timestamp\\nnonce\\nbody\\n``
   by it, else 401.
3. The resource decrypts with AEAD_AES_256_GCM under the APIv3 key, else 400.
The caller then checks appid, mchid and amount against its own payment.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import time
import uuid
from base64 import b64encode
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.cache import cache as django_cache
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.utils import aes_decrypt, load_certificate, load_public_key, rsa_sign, rsa_verify

from loyalty.api.parsers import json_loads
from payments.exceptions import NotificationInvalid, NotificationRejected, PaymentUnavailable

log = logging.getLogger(__name__)

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"


@dataclass(frozen=True)
class Config:
    mchid: str
    appid: str
    apiv3_key: str
    private_key: str  # the merchant's API key (PEM), signs our requests and wx.requestPayment
    cert_serial_no: str
    platform_keys: dict  # Wechatpay-Serial -> public key PEM (public key id or certificate serial)
    notify_url: str


@dataclass(frozen=True)
class Trade:
    """What WeChat knows of a payment (query answer or notification resource)."""

    state: str  # SUCCESS, NOTPAY, CLOSED, REFUND, USERPAYING, PAYERROR
    out_trade_no: str
    transaction_id: str = ""
    amount_fen: int | None = None
    appid: str = ""
    mchid: str = ""
    opened: bool = True  # False: WeChat has no such order (its prepay never reached WeChat)

    @classmethod
    def from_resource(cls, resource: dict) -> Trade:
        try:
            return cls(
                state=str(resource["trade_state"]),
                out_trade_no=str(resource["out_trade_no"]),
                transaction_id=str(resource.get("transaction_id") or ""),
                amount_fen=int(resource["amount"]["total"]) if resource.get("amount") else None,
                appid=str(resource.get("appid") or ""),
                mchid=str(resource.get("mchid") or ""),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise NotificationInvalid(details={"reason": "malformed transaction"}) from exc


class WechatGateway:
    name = "wechat"

    def __init__(self, config: Config):
        if not config.platform_keys:
            raise ImproperlyConfigured("WeChat Pay: set WECHATPAY_PUBLIC_KEY_ID and WECHATPAY_PUBLIC_KEY")
        self.config = config
        serial, public_key = next(iter(config.platform_keys.items()))
        self.client = WeChatPay(
            wechatpay_type=WeChatPayType.MINIPROG,
            mchid=config.mchid,
            private_key=config.private_key,
            cert_serial_no=config.cert_serial_no,
            appid=config.appid,
            apiv3_key=config.apiv3_key,
            notify_url=config.notify_url,
            public_key=public_key,
            public_key_id=serial,
            timeout=(3, settings.WECHATPAY_TIMEOUT_SECONDS),
        )
        # wechatpayv3 has no setting for the host; tests point it at a fake on loopback.
        self.client._core._gate_way = settings.WECHATPAY_API_BASE.rstrip("/")
        self._verify_keys = {s: load_public_key(pem) for s, pem in config.platform_keys.items()}

    # --- calls to WeChat ----------------------------------------------------------

    def _call(self, what: str, fn, *args, ok=(200, 204), **kwargs) -> dict:
        try:
            code, text = fn(*args, **kwargs)
        except Exception as exc:  # network errors, and wechatpayv3 raises bare Exception on a bad signature
            log.warning("WeChat Pay %s failed: %s", what, exc)
            raise PaymentUnavailable() from exc
        body = json.loads(text) if text and isinstance(text, str) else {}
        if code not in ok:
            log.warning("WeChat Pay %s answered %s: %s", what, code, body)
            raise PaymentUnavailable(details={"provider_code": body.get("code", str(code))})
        return body

    def prepay(self, *, out_trade_no: str, description: str, amount_fen: int, openid: str, expires_at) -> str:
        body = self._call(
            "prepay",
            self.client.pay,
            description=description,
            out_trade_no=out_trade_no,
            amount={"total": amount_fen, "currency": "CNY"},
            payer={"openid": openid},
            time_expire=expires_at.isoformat(timespec="seconds"),
        )
        return body["prepay_id"]

    def query(self, *, out_trade_no: str) -> Trade:
        body = self._call("query", self.client.query, out_trade_no=out_trade_no, ok=(200, 404))
        if body.get("code") == "ORDER_NOT_EXIST":
            return Trade(state="NOTPAY", out_trade_no=out_trade_no, opened=False)
        return Trade.from_resource(body)

    def close(self, *, out_trade_no: str) -> None:
        self._call("close", self.client.close, out_trade_no=out_trade_no)

    def refund(
        self, *, out_trade_no: str, out_refund_no: str, amount_fen: int, total_fen: int, reason: str
    ) -> dict:
        """Returns WeChat's answer: ``status`` SUCCESS, PROCESSING, ABNORMAL or CLOSED, and ``refund_id``."""
        return self._call(
            "refund",
            self.client.refund,
            out_refund_no=out_refund_no,
            amount={"refund": amount_fen, "total": total_fen, "currency": "CNY"},
            out_trade_no=out_trade_no,
            reason=reason or None,
        )

    def jsapi_params(self, *, prepay_id: str) -> dict:
        """The arguments of wx.requestPayment, signed with the merchant key."""
        timestamp, nonce, package = str(int(time.time())), secrets.token_hex(16), f"prepay_id={prepay_id}"
        return {
            "appId": self.config.appid,
            "timeStamp": timestamp,
            "nonceStr": nonce,
            "package": package,
            "signType": "RSA",
            "paySign": self.client.sign([self.config.appid, timestamp, nonce, package]),
        }

    # --- notifications from WeChat --------------------------------------------------

    def verify_notification(self, *, headers, body: bytes) -> dict:
        """Check and decrypt a notification; returns it with ``resource`` replaced by the plaintext dict."""
        timestamp = headers.get("Wechatpay-Timestamp", "")
        window = settings.WECHATPAY_NOTIFICATION_WINDOW_SECONDS
        if not re.fullmatch(r"[0-9]{1,12}", timestamp) or abs(time.time() - int(timestamp)) > window:
            raise NotificationRejected(details={"reason": "timestamp"})
        public_key = self._verify_keys.get(headers.get("Wechatpay-Serial", ""))
        if public_key is None or headers.get("Wechatpay-Signature-Type", SIGNATURE_TYPE) != SIGNATURE_TYPE:
            raise NotificationRejected(details={"reason": "serial"})
        try:
            text = body.decode()
        except UnicodeDecodeError as exc:
            raise NotificationRejected(details={"reason": "signature"}) from exc
        if not rsa_verify(
            timestamp,
            headers.get("Wechatpay-Nonce", ""),
            text,
            headers.get("Wechatpay-Signature", ""),
            public_key,
        ):
            raise NotificationRejected(details={"reason": "signature"})
        try:
            event = json_loads(text)
            resource = event["resource"]
            if resource.get("algorithm") != "AEAD_AES_256_GCM":
                raise ValueError(resource.get("algorithm"))
            plain = aes_decrypt(
                nonce=resource["nonce"],
                ciphertext=resource["ciphertext"],
                associated_data=resource.get("associated_data") or "",
                apiv3_key=self.config.apiv3_key,
            )
            if plain is None:
                raise ValueError("decryption failed")
            event["resource"] = json_loads(plain)
            event["id"], event["event_type"] = str(event["id"]), str(event["event_type"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise NotificationInvalid(details={"reason": "undecryptable"}) from exc
        return event


class FakeGateway(WechatGateway):
    """WeChat's side, in-process. Its trades live in the cache (shared by web and worker processes)."""

    name = "fake"

    def __init__(self, config: Config, platform_private_key: str):
        super().__init__(config)
        self._platform_key = serialization.load_pem_private_key(platform_private_key.encode(), None)

    def _trade_key(self, out_trade_no: str) -> str:
        return f"fake-wechatpay:{out_trade_no}"

    def _save(self, trade: dict) -> None:
        django_cache.set(self._trade_key(trade["out_trade_no"]), trade, timeout=7 * 86400)

    def prepay(self, *, out_trade_no, description, amount_fen, openid, expires_at) -> str:
        self._save(
            {
                "out_trade_no": out_trade_no,
                "trade_state": "NOTPAY",
                "amount": {"total": amount_fen, "payer_total": amount_fen, "currency": "CNY"},
                "payer": {"openid": openid},
                "appid": self.config.appid,
                "mchid": self.config.mchid,
            }
        )
        return f"wx_fake_{secrets.token_hex(12)}"

    def query(self, *, out_trade_no: str) -> Trade:
        trade = django_cache.get(self._trade_key(out_trade_no))
        if trade is None:
            return Trade(state="NOTPAY", out_trade_no=out_trade_no, opened=False)
        return Trade.from_resource(trade)

    def close(self, *, out_trade_no: str) -> None:
        trade = django_cache.get(self._trade_key(out_trade_no))
        if trade and trade["trade_state"] == "NOTPAY":
            self._save({**trade, "trade_state": "CLOSED"})

    def refund(self, *, out_trade_no, out_refund_no, amount_fen, total_fen, reason) -> dict:
        return {"status": "SUCCESS", "refund_id": f"50{secrets.randbelow(10**20):020d}"}

    def pay(self, *, out_trade_no: str) -> tuple[dict, bytes]:
        """The member pays: the trade succeeds and WeChat's notification is returned (headers, body)."""
        trade = django_cache.get(self._trade_key(out_trade_no))
        if trade is None:
            raise KeyError(out_trade_no)
        if trade["trade_state"] != "SUCCESS":
            trade = {
                **trade,
                "trade_state": "SUCCESS",
                "trade_state_desc": "支付成功",
                "trade_type": "JSAPI",
                "bank_type": "OTHERS",
                "transaction_id": f"42{secrets.randbelow(10**26):026d}",
                "success_time": timezone.localtime().isoformat(timespec="seconds"),
            }
            self._save(trade)
        return self.notification(event_type="TRANSACTION.SUCCESS", resource=trade)

    def notification(
        self, *, event_type: str, resource: dict, timestamp: int | None = None
    ) -> tuple[dict, bytes]:
        """A notification exactly as WeChat sends one: the resource AES-GCM encrypted, the body RSA-signed."""
        nonce, associated_data = secrets.token_hex(6), "transaction"
        ciphertext = AESGCM(self.config.apiv3_key.encode()).encrypt(
            nonce.encode(), json.dumps(resource, ensure_ascii=False).encode(), associated_data.encode()
        )
        body = json.dumps(
            {
                "id": str(uuid.uuid4()),
                "create_time": timezone.localtime().isoformat(timespec="seconds"),
                "resource_type": "encrypt-resource",
                "event_type": event_type,
                "summary": "支付成功",
                "resource": {
                    "original_type": "transaction",
                    "algorithm": "AEAD_AES_256_GCM",
                    "ciphertext": b64encode(ciphertext).decode(),
                    "associated_data": associated_data,
                    "nonce": nonce,
                },
            },
            ensure_ascii=False,
        )
        return self.sign_notification(body, timestamp=timestamp), body.encode()

    def sign_notification(self, body: str, *, timestamp: int | None = None) -> dict:
        ts, nonce = str(timestamp if timestamp is not None else int(time.time())), secrets.token_hex(16)
        return {
            "Wechatpay-Timestamp": ts,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": rsa_sign(self._platform_key, f"{ts}\n{nonce}\n{body}\n"),
            "Wechatpay-Serial": next(iter(self.config.platform_keys)),
            "Wechatpay-Signature-Type": SIGNATURE_TYPE,
        }


# --- configuration ----------------------------------------------------------------


def _read(text: str, path: str) -> str:
    return Path(path).read_text() if path else text


def _platform_keys() -> dict:
    keys = {}
    if settings.WECHATPAY_PUBLIC_KEY_ID:
        keys[settings.WECHATPAY_PUBLIC_KEY_ID] = _read(
            settings.WECHATPAY_PUBLIC_KEY, settings.WECHATPAY_PUBLIC_KEY_FILE
        )
    # Platform certificates (the older scheme, still used while keys rotate): named by their serial.
    cert_dir = settings.WECHATPAY_PLATFORM_CERT_DIR
    for path in sorted(Path(cert_dir).glob("*.pem")) if cert_dir else ():
        cert = load_certificate(path.read_text())
        if cert is not None:
            pem = cert.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            keys[f"{cert.serial_number:X}"] = pem.decode()
    return keys


def _new_rsa_pem() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def fake_keys() -> dict:
    """The fake provider's keys: made once per machine (merchant key, platform key, APIv3 key) and kept
    in ``WECHATPAY_FAKE_KEYS_FILE`` so that every process (web workers, Celery) agrees on them."""
    path = Path(settings.WECHATPAY_FAKE_KEYS_FILE)
    if not path.exists():
        merchant_private, _ = _new_rsa_pem()
        platform_private, platform_public = _new_rsa_pem()
        keys = {
            "merchant_private_key": merchant_private,
            "platform_private_key": platform_private,
            "platform_public_key": platform_public,
            "apiv3_key": secrets.token_hex(16),  # 32 characters, as WeChat's APIv3 keys
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(keys))
        try:
            os.link(tmp, path)  # the first process to finish wins; the others read its keys
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return json.loads(path.read_text())


@cache
def _gateway(provider: str, fingerprint: tuple) -> WechatGateway:
    if provider == "fake":
        keys = fake_keys()
        config = Config(
            mchid=settings.WECHATPAY_MCHID or "1900000001",
            appid=settings.WECHATPAY_APP_ID or settings.WECHAT_APP_ID or "wx-demo",
            apiv3_key=keys["apiv3_key"],
            private_key=keys["merchant_private_key"],
            cert_serial_no="FAKE0000000000000000000000000000000000",
            platform_keys={"PUB_KEY_ID_FAKE": keys["platform_public_key"]},
            notify_url=settings.WECHATPAY_NOTIFY_URL or "http://localhost/api/v1/payments/wechat/notify",
        )
        return FakeGateway(config, keys["platform_private_key"])
    config = Config(
        mchid=settings.WECHATPAY_MCHID,
        appid=settings.WECHATPAY_APP_ID or settings.WECHAT_APP_ID,
        apiv3_key=settings.WECHATPAY_APIV3_KEY,
        private_key=_read(settings.WECHATPAY_PRIVATE_KEY, settings.WECHATPAY_PRIVATE_KEY_FILE),
        cert_serial_no=settings.WECHATPAY_CERT_SERIAL_NO,
        platform_keys=_platform_keys(),
        notify_url=settings.WECHATPAY_NOTIFY_URL,
    )
    return WechatGateway(config)


# Every setting the gateway is built from: a change of any of them builds a new one.
_SETTINGS = (
    "WECHATPAY_PROVIDER",
    "WECHATPAY_MCHID",
    "WECHATPAY_APP_ID",
    "WECHAT_APP_ID",
    "WECHATPAY_APIV3_KEY",
    "WECHATPAY_PRIVATE_KEY",
    "WECHATPAY_PRIVATE_KEY_FILE",
    "WECHATPAY_CERT_SERIAL_NO",
    "WECHATPAY_PUBLIC_KEY",
    "WECHATPAY_PUBLIC_KEY_FILE",
    "WECHATPAY_PUBLIC_KEY_ID",
    "WECHATPAY_PLATFORM_CERT_DIR",
    "WECHATPAY_NOTIFY_URL",
    "WECHATPAY_API_BASE",
    "WECHATPAY_TIMEOUT_SECONDS",
    "WECHATPAY_FAKE_KEYS_FILE",
)


def get_gateway() -> WechatGateway:
    """The configured gateway, built once per configuration (tests switch settings freely)."""
    return _gateway(settings.WECHATPAY_PROVIDER, tuple(str(getattr(settings, name)) for name in _SETTINGS))
