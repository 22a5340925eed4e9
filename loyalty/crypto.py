"""Symmetric encryption for secrets the server must read back (HMAC keys).

The Fernet key is derived from SECRET_KEY with HKDF, so no second secret has
to be managed; rotating SECRET_KEY means re-issuing API client secrets.
"""

import base64
import hashlib
import hmac
from functools import cache

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


@cache
def _fernet(secret_key: str) -> Fernet:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"loyalty-api-client-secrets"
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt(plain: str) -> str:
    return _fernet(settings.SECRET_KEY).encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    return _fernet(settings.SECRET_KEY).decrypt(token.encode()).decode()


@cache
def _hash_key(secret_key: str, purpose: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"loyalty-hash:{purpose}".encode()
    ).derive(secret_key.encode())


def keyed_hash(value: str, *, purpose: str) -> str:
    """HMAC-SHA256 of ``value`` under a key derived from SECRET_KEY: comparable, not reversible.

    Used to remember a personal datum (a phone number) after the member who
    gave it is anonymised, without keeping it.  Rotating SECRET_KEY makes old
    hashes unmatchable (the once-per-phone rewards then start afresh).
    """
    return hmac.new(_hash_key(settings.SECRET_KEY, purpose), value.encode(), hashlib.sha256).hexdigest()
