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
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions, permissions

from loyalty import crypto
from loyalty.models import ApiClient, ApiNonce

NONCE_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


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
        client = ApiClient.objects.filter(key_id=key_id, is_active=True).first()
        if client is None:
            raise SignatureInvalid()
        expected = sign(
            secret=crypto.decrypt(client.secret_encrypted),
            method=request.method,
            path=request.get_full_path(),
            timestamp=timestamp,
            nonce=nonce,
            body=request._request.body,
        )
        if not hmac.compare_digest(expected, signature.lower()):
            raise SignatureInvalid()
        try:
            with transaction.atomic():
                ApiNonce.objects.create(client=client, nonce=nonce)
        except IntegrityError:
            raise SignatureReplayed() from None
        ApiClient.objects.filter(pk=client.pk).update(last_used_at=timezone.now())
        return client, client

    def authenticate_header(self, request):
        return 'HMAC-SHA256 realm="api", headers="X-Api-Key X-Timestamp X-Nonce X-Signature"'


class IsApiClient(permissions.BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.user, ApiClient)
