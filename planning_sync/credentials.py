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
to encrypt everything under the new key; then the old one can go. A value no key decrypts loads as
``Unreadable`` (the stored token, kept as it is): the connector that would use it refuses to run, with an
error naming the setting to fix, so nothing blank or garbled is ever sent; every other connector, the
admin and the monitor keep working, and the admin asks for the credential again.
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
# What it shows in place of one no key opens any more: it must be typed again.
UNREADABLE_MASK = "<stored secret: unreadable, type it again>"
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


class Unreadable(str):
    """A stored credential no key opens, as loaded: its token, kept as it is when the config is saved again."""


UNDECRYPTABLE_MESSAGE = (
    "A connector credential ({}) was encrypted under another SECRET_KEY: put that key in "
    "DJANGO_SECRET_KEY_FALLBACKS, or enter the credential again."
)


def cipher() -> MultiFernet:
    """Encrypts with the current SECRET_KEY; decrypts with it or any of SECRET_KEY_FALLBACKS."""
    return crypto.cipher(_CONTEXT)


def is_encrypted(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def encrypt(value: str) -> str:
    return PREFIX + cipher().encrypt(value.encode()).decode()


def decrypt(value: str) -> str:
    """The plain credential, or ``Unreadable(value)`` when no key opens it."""
    try:
        return cipher().decrypt(value.removeprefix(PREFIX).encode()).decode()
    except InvalidToken:
        return Unreadable(value)


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


def unreadable_paths(config: Any) -> list[str]:
    """The dotted paths of the credentials in ``config`` that no key opened when it was loaded."""
    return [path for holder, key, path in _secrets(config) if isinstance(holder[key], Unreadable)]


def require_readable(config: Any) -> None:
    """Raise CredentialUndecryptable, naming the setting to fix, if a credential of ``config`` is unreadable:
    a connector calls it before it sends anything."""
    if paths := unreadable_paths(config):
        raise CredentialUndecryptable(UNDECRYPTABLE_MESSAGE.format(", ".join(paths)))


def _mask(value: str) -> str:
    if isinstance(value, Unreadable):
        return UNREADABLE_MASK
    return MASK if value else value


def masked(config: Any) -> Any:
    """A copy of ``config`` with every credential replaced by MASK (UNREADABLE_MASK where no key opens it), for
    showing it (the admin's form)."""
    return _transform(config, _mask)


def unmasked(config: Any, stored: Any) -> Any:
    """``config`` as a person sent it back, with each MASK replaced by the credential ``stored`` holds at that
    place. ValueError names a MASK with no stored credential behind it (a new connector, a moved setting), and
    an UNREADABLE_MASK left in place."""
    result = copy.deepcopy(config)
    kept = {path: holder[key] for holder, key, path in _secrets(stored)}
    for holder, key, path in _secrets(result):
        if holder[key] == UNREADABLE_MASK:
            raise ValueError(f"{path}: the stored secret can no longer be read (SECRET_KEY changed): type it again.")
        if holder[key] == MASK:
            if not kept.get(path) or isinstance(kept[path], Unreadable):
                raise ValueError(f"{path}: {MASK} stands for a stored secret, and none is stored here: type it.")
            holder[key] = kept[path]
    return result


def _encrypt(value: str) -> str:
    # An unreadable one is stored again as it was, for the key that opens it. Every other credential is
    # encrypted, even one that happens to start with PREFIX: in Python a credential is plain (the field
    # decrypts what it loads), so such a one is a password, not a token to store as it is.
    return str(value) if isinstance(value, Unreadable) else encrypt(value)


def encrypted(config: Any) -> Any:
    return _transform(config, _encrypt)


def decrypted(config: Any) -> Any:
    return _transform(config, lambda value: decrypt(value) if is_encrypted(value) else value)


class ConnectorConfigField(models.JSONField):
    """A JSON object whose credentials (SECRET_PATHS) are encrypted in the database and plain in Python."""

    def get_prep_value(self, value: Any) -> Any:
        return super().get_prep_value(encrypted(value))

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        return decrypted(super().from_db_value(value, expression, connection))
