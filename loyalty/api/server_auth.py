"""HMAC-SHA256 request signatures for the merchant's order system.

The caller sends four headers::

    X-Api-Key:    the client's key ID (ak_…)
    X-Timestamp:  Unix seconds
    X-Nonce:      8-64 characters [A-Za-z0-9_-], never reused
    X-Signature:  hex HMAC-SHA256(secret, string_to_sign)

    string_to_sign = METHOD "\n" PATH_WITH_QUERY "\n" TIMESTAMP "\n" NONCE "\n" hex(SHA256(body))

A request outside the replay window (default ±300 s), with an unknown or
inactive key, a wrong signature or a nonce already seen is refused with 401
before the view runs, so it changes nothing.

Cost per request (the hot path of every server call): the client and its
decrypted secret are kept in-process for ``CLIENT_CACHE_SECONDS``; after the
signature checks out, ONE autocommitted statement stores the nonce *only if*
the client row is still active with the very secret that was used (so a
deactivation or a rotation takes effect on the next request in every process,
cache or not; a miss evicts the cache entry and looks the client up again),
and moves ``last_used_at`` forward when it is more than
``LAST_USED_RESOLUTION_SECONDS`` old (so the client's row is not a hot row
every request must lock: "last used" is exact to the minute).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions, permissions

from loyalty import config, crypto, sql
from loyalty.models import ApiClient

NONCE_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
CLIENT_CACHE_SECONDS = 60.0
LAST_USED_RESOLUTION_SECONDS = sql.LAST_USED_RESOLUTION_SECONDS


@dataclass(frozen=True)
class _CachedClient:
    client: ApiClient
    secret: str
    fetched_at: float


_clients: dict[str, _CachedClient] = {}  # key_id -> client; per process, dict operations are atomic


def _lookup(key_id: str, *, fresh: bool) -> tuple[_CachedClient | None, bool]:
    """The active client of ``key_id`` and whether it was read from the database just now."""
    cached = _clients.get(key_id)
    if not fresh and cached is not None and time.monotonic() - cached.fetched_at < CLIENT_CACHE_SECONDS:
        return cached, False
    client = ApiClient.objects.filter(key_id=key_id, is_active=True).first()
    if client is None:
        _clients.pop(key_id, None)
        return None, True
    cached = _CachedClient(client, crypto.decrypt(client.secret_encrypted), time.monotonic())
    _clients[key_id] = cached
    return cached, True


def forget_client(key_id: str) -> None:
    """Drop a client from this process's cache (the database check makes this an optimisation only)."""
    _clients.pop(key_id, None)


def string_to_sign(*, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return "\n".join([method.upper(), path, timestamp, nonce, hashlib.sha256(body).hexdigest()]).encode()


def sign(*, secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    message = string_to_sign(method=method, path=path, timestamp=timestamp, nonce=nonce, body=body)
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(
    *,
    key_id: str,
    secret: str,
    method: str,
    path: str,
    body: bytes = b"",
    nonce: str | None = None,
    timestamp: int | None = None,
) -> dict[str, str]:
    """Headers a caller sends; used by tests, the demo and as the reference implementation."""
    import secrets as _secrets

    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or _secrets.token_hex(16)
    return {
        "X-Api-Key": key_id,
        "X-Timestamp": ts,
        "X-Nonce": nonce,
        "X-Signature": sign(secret=secret, method=method, path=path, timestamp=ts, nonce=nonce, body=body),
    }


class SignatureRejected(exceptions.AuthenticationFailed):
    error_code = "signature_invalid"


class SignatureMissing(SignatureRejected):
    error_code = "signature_missing"
    default_detail = _("Signed request headers X-Api-Key, X-Timestamp, X-Nonce and X-Signature are required.")


class SignatureExpired(SignatureRejected):
    error_code = "signature_expired"
    default_detail = _("The request timestamp is outside the allowed window.")


class SignatureReplayed(SignatureRejected):
    error_code = "signature_replayed"
    default_detail = _("This nonce was already used.")


class SignatureInvalid(SignatureRejected):
    default_detail = _("The request signature is invalid.")


class ServerSignatureAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        meta = request.META
        key_id = meta.get("HTTP_X_API_KEY")
        timestamp = meta.get("HTTP_X_TIMESTAMP")
        nonce = meta.get("HTTP_X_NONCE")
        signature = meta.get("HTTP_X_SIGNATURE")
        if not all([key_id, timestamp, nonce, signature]):
            raise SignatureMissing()
        if (
            not timestamp.isdigit()
            or abs(time.time() - int(timestamp)) > settings.SERVER_SIGNATURE_WINDOW_SECONDS
        ):
            raise SignatureExpired()
        if not NONCE_RE.match(nonce):
            raise SignatureInvalid()
        for fresh in (False, True):
            cached, from_db = _lookup(key_id, fresh=fresh)
            if cached is None:
                raise SignatureInvalid()
            expected = sign(
                secret=cached.secret,
                method=request.method,
                path=request.get_full_path(),
                timestamp=timestamp,
                nonce=nonce,
                body=request._request.body,
            )
            if not hmac.compare_digest(expected, signature.lower()):
                if from_db:
                    raise SignatureInvalid()
                continue  # the secret may have been rotated since it was cached: read it again
            check = sql.nonce_check(cached.client.pk, cached.client.secret_encrypted, nonce)
            config.note_version(check.version)
            if not check.valid:  # deactivated or rotated since it was read
                forget_client(key_id)
                if from_db:
                    raise SignatureInvalid()
                continue
            if not check.stored:
                raise SignatureReplayed()
            return cached.client, cached.client
        raise SignatureInvalid()  # not reached: the second pass reads the database and returns or raises

    def authenticate_header(self, request):
        return 'HMAC-SHA256 realm="api", headers="X-Api-Key X-Timestamp X-Nonce X-Signature"'


class IsApiClient(permissions.BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.user, ApiClient)
