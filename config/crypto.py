"""Data we must keep but must not store readable: Fernet (AES-128-CBC with HMAC-SHA256) under keys derived
from ``SECRET_KEY``, one key per purpose, so a value encrypted for one purpose is no token for another.

Encrypting uses the current ``SECRET_KEY``; decrypting tries it, then each of ``SECRET_KEY_FALLBACKS``, so a
key rotation (docs/security.md) keeps what was stored readable until it is written again.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

__all__ = ["InvalidToken", "cipher"]


def _fernet_key(purpose: bytes, secret_key: str) -> bytes:
    return base64.urlsafe_b64encode(hmac.new(purpose, secret_key.encode(), hashlib.sha256).digest())


@functools.lru_cache(maxsize=16)
def _cipher(purpose: bytes, keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(_fernet_key(purpose, key)) for key in keys])


def cipher(purpose: bytes) -> MultiFernet:
    """The cipher of ``purpose`` (e.g. ``b"supplyline.connector-credentials.v1"``) under the current keys."""
    return _cipher(purpose, (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS))
