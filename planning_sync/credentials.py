"""Connector credentials encrypted at rest: a database dump or backup holds no usable password, token or
signing secret.

``ConnectorConfigField`` is the JSON field of ``Connector.config``. Saving encrypts the values at
``SECRET_PATHS`` (the webhook connector's ``auth.token``, ``auth.password`` and ``auth.secret``, Tryton's
``password``) with Fernet (AES-128-CBC with HMAC-SHA256), stored as ``"enc:v1:<token>"``; loading decrypts
them, so connectors, forms and the admin see plain values and nothing else changes. Every other setting
(URLs, feeds, cursors) stays plain JSON, queryable as before.

The key is derived from ``SECRET_KEY``. Rotating it: put the old key first in
``DJANGO_SECRET_KEY_FALLBACKS``, which still decrypts, and run ``manage.py encrypt_connector_credentials``
to encrypt everything under the new key; then the old one can go. A value no key decrypts is an error
naming the setting to fix, never a blank credential sent to a system.
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import hmac
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

PREFIX = "enc:v1:"
# Where credentials sit in a connector's config, whatever its kind.
SECRET_PATHS: tuple[tuple[str, ...], ...] = (
    ("auth", "token"),
    ("auth", "password"),
    ("auth", "secret"),
    ("password",),
)
_CONTEXT = b"supplyline.connector-credentials.v1"


class CredentialUndecryptable(ImproperlyConfigured):
    """A stored credential that no key derived from SECRET_KEY or its fallbacks opens."""


def _fernet_key(secret_key: str) -> bytes:
    return base64.urlsafe_b64encode(hmac.new(_CONTEXT, secret_key.encode(), hashlib.sha256).digest())


@functools.lru_cache(maxsize=8)
def _cipher(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(_fernet_key(key)) for key in keys])


def cipher() -> MultiFernet:
    """Encrypts with the current SECRET_KEY; decrypts with it or any of SECRET_KEY_FALLBACKS."""
    return _cipher((settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS))


def is_encrypted(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def encrypt(value: str) -> str:
    return PREFIX + cipher().encrypt(value.encode()).decode()


def decrypt(value: str) -> str:
    try:
        return cipher().decrypt(value.removeprefix(PREFIX).encode()).decode()
    except InvalidToken:
        raise CredentialUndecryptable(
            "A connector credential was encrypted under another SECRET_KEY: put that key in "
            "DJANGO_SECRET_KEY_FALLBACKS, or enter the credential again."
        ) from None


def _transform(config: Any, change: Any) -> Any:
    """A copy of ``config`` with ``change`` applied to each string at SECRET_PATHS (other shapes untouched)."""
    if not isinstance(config, dict):
        return config
    result = copy.deepcopy(config)
    for path in SECRET_PATHS:
        holder: Any = result
        for key in path[:-1]:
            holder = holder.get(key) if isinstance(holder, dict) else None
        if isinstance(holder, dict) and isinstance(holder.get(path[-1]), str):
            holder[path[-1]] = change(holder[path[-1]])
    return result


def encrypted(config: Any) -> Any:
    return _transform(config, lambda value: value if is_encrypted(value) else encrypt(value))


def decrypted(config: Any) -> Any:
    return _transform(config, lambda value: decrypt(value) if is_encrypted(value) else value)


class ConnectorConfigField(models.JSONField):
    """A JSON object whose credentials (SECRET_PATHS) are encrypted in the database and plain in Python."""

    def get_prep_value(self, value: Any) -> Any:
        return super().get_prep_value(encrypted(value))

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        return decrypted(super().from_db_value(value, expression, connection))
