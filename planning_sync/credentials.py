"""Connector credentials encrypted at rest: a database dump or backup holds no usable password, token or
signing secret.

``ConnectorConfigField`` is the JSON field of ``Connector.config``. Saving encrypts the values at
``SECRET_PATHS`` (the webhook connector's ``auth.token``, ``auth.password`` and ``auth.secret``, Tryton's
``password``) with Fernet (AES-128-CBC with HMAC-SHA256), stored as ``"enc:v1:<token>"``; loading decrypts
them, so connectors and forms see plain values and nothing else changes. The admin shows each stored one
as ``MASK`` and keeps it when the form comes back with the mask (``masked``, ``unmasked``). Every other setting
(URLs, feeds, cursors) stays plain JSON, queryable as before.

The key is derived from ``SECRET_KEY``. Rotating it: put the old key first in
``DJANGO_SECRET_KEY_FALLBACKS``, which still decrypts, and run ``manage.py encrypt_connector_credentials``
to encrypt everything under the new key; then the old one can go. A value no key decrypts is an error
naming the setting to fix, never a blank credential sent to a system.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from cryptography.fernet import InvalidToken, MultiFernet
from django.core.exceptions import ImproperlyConfigured
from django.db import models

from config import crypto

PREFIX = "enc:v1:"
# What the admin shows in place of a stored credential; sent back as it is, the credential is kept.
MASK = "<stored secret: unchanged>"
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


def cipher() -> MultiFernet:
    """Encrypts with the current SECRET_KEY; decrypts with it or any of SECRET_KEY_FALLBACKS."""
    return crypto.cipher(_CONTEXT)


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


def _secrets(config: Any) -> Iterator[tuple[dict[str, Any], str, str]]:
    """Each credential string in ``config``: (the dict holding it, its key, its dotted path)."""
    if not isinstance(config, dict):
        return
    for path in SECRET_PATHS:
        holder: Any = config
        for key in path[:-1]:
            holder = holder.get(key) if isinstance(holder, dict) else None
        if isinstance(holder, dict) and isinstance(holder.get(path[-1]), str):
            yield holder, path[-1], ".".join(path)


def _transform(config: Any, change: Any) -> Any:
    """A copy of ``config`` with ``change`` applied to each credential (other shapes untouched)."""
    result = copy.deepcopy(config)
    for holder, key, _ in _secrets(result):
        holder[key] = change(holder[key])
    return result


def masked(config: Any) -> Any:
    """A copy of ``config`` with every credential replaced by MASK, for showing it (the admin's form)."""
    result = copy.deepcopy(config)
    for holder, key, _ in _secrets(result):
        if holder[key]:
            holder[key] = MASK
    return result


def unmasked(config: Any, stored: Any) -> Any:
    """``config`` as a person sent it back, with each MASK replaced by the credential ``stored`` holds at that
    place. ValueError names a MASK with no stored credential behind it (a new connector, a moved setting)."""
    result = copy.deepcopy(config)
    kept = {path: holder[key] for holder, key, path in _secrets(stored)}
    for holder, key, path in _secrets(result):
        if holder[key] == MASK:
            if not kept.get(path):
                raise ValueError(f"{path}: {MASK} stands for a stored secret, and none is stored here: type it.")
            holder[key] = kept[path]
    return result


def encrypted(config: Any) -> Any:
    # Every credential, even one that happens to start with PREFIX: in Python a credential is always plain
    # (the field decrypts what it loads), so such a one is a password, not a token to store as it is.
    return _transform(config, encrypt)


def decrypted(config: Any) -> Any:
    return _transform(config, lambda value: decrypt(value) if is_encrypted(value) else value)


class ConnectorConfigField(models.JSONField):
    """A JSON object whose credentials (SECRET_PATHS) are encrypted in the database and plain in Python."""

    def get_prep_value(self, value: Any) -> Any:
        return super().get_prep_value(encrypted(value))

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        return decrypted(super().from_db_value(value, expression, connection))
