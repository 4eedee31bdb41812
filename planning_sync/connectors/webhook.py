"""Generic REST webhook: POST each event as CloudEvents structured JSON to a URL."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import email.utils
import json
import threading
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.core.exceptions import ValidationError
from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook

from planning_sync.connectors.base import BaseConnector, Outcome, register

AUTH_TYPES = ("none", "bearer", "basic", "standard_webhooks")
_clients: dict[float, httpx.Client] = {}
_clients_lock = threading.Lock()


def _client(timeout: float) -> httpx.Client:
    """One pooled client per timeout per process: keep-alive connections matter for latency."""
    with _clients_lock:
        if timeout not in _clients:
            _clients[timeout] = httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False)
        return _clients[timeout]


def retry_after_seconds(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Retry-After as seconds: either a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = now or dt.datetime.now(dt.UTC)
    return max(0.0, (when - now).total_seconds())


def _pointer(document: Any, pointer: str) -> Any:
    """Resolve a JSON pointer (RFC 6901) such as /data/po_number; None where it leads nowhere."""
    for part in pointer.lstrip("/").split("/") if pointer not in ("", "/") else []:
        key = part.replace("~1", "/").replace("~0", "~")
        if isinstance(document, dict):
            document = document.get(key)
        elif isinstance(document, list) and key.isdigit() and int(key) < len(document):
            document = document[int(key)]
        else:
            return None
    return document


@register
class WebhookConnector(BaseConnector):
    kind = "webhook"
    label = "REST webhook (CloudEvents JSON)"

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        errors: dict[str, list[str]] = {}
        url = str(config.get("url", ""))
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            errors.setdefault("url", []).append("Give the receiver's http:// or https:// URL.")
        auth = config.get("auth", {"type": "none"})
        if not isinstance(auth, dict) or auth.get("type", "none") not in AUTH_TYPES:
            errors.setdefault("auth", []).append(f"auth.type must be one of {', '.join(AUTH_TYPES)}.")
        else:
            errors |= cls._auth_errors(auth)
        mapping = config.get("mapping")
        if mapping is not None and not (
            isinstance(mapping, dict) and all(isinstance(v, str) and v.startswith("/") for v in mapping.values())
        ):
            errors.setdefault("mapping", []).append(
                'mapping must map output fields to JSON pointers into the CloudEvent, e.g. {"po": "/data/po_number"}.'
            )
        if errors:
            raise ValidationError(errors)

    @staticmethod
    def _auth_errors(auth: dict[str, Any]) -> dict[str, list[str]]:
        kind = auth.get("type", "none")
        needs = {"bearer": ["token"], "basic": ["username", "password"], "standard_webhooks": ["secret"]}.get(kind, [])
        errors = {
            f"auth.{name}": [f"auth.{name} is required for {kind} authentication."]
            for name in needs
            if not auth.get(name)
        }
        if kind == "standard_webhooks" and auth.get("secret"):
            try:
                Webhook(str(auth["secret"]))
            except (binascii.Error, ValueError, RuntimeError, EmptyWebhookSecretError):
                errors["auth.secret"] = ["auth.secret must be a base64 secret, optionally prefixed whsec_."]
        return errors

    def deliver(self, envelope: dict[str, Any]) -> Outcome:
        body = json.dumps(self._shape(envelope), separators=(",", ":"), default=str)
        headers = {
            "Content-Type": "application/json" if self.config.get("mapping") else "application/cloudevents+json",
            "Idempotency-Key": envelope["id"],
            "User-Agent": "Supplyline-Webhook/1",
        }
        headers |= self._auth_headers(envelope["id"], body)
        try:
            response = _client(self.connector.timeout_s).post(self.config["url"], content=body, headers=headers)
        except httpx.TimeoutException:
            return Outcome(delivered=False, error=f"Timed out after {self.connector.timeout_s:g} s.")
        except httpx.HTTPError as error:
            return Outcome(delivered=False, error=f"{type(error).__name__}: {error}")
        if 200 <= response.status_code < 300:
            return Outcome(delivered=True, status_code=response.status_code)
        return Outcome(
            delivered=False,
            status_code=response.status_code,
            error=f"HTTP {response.status_code}: {response.text[:500]}",
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )

    def _shape(self, envelope: dict[str, Any]) -> dict[str, Any]:
        mapping = self.config.get("mapping")
        if not mapping:
            return envelope
        return {field: _pointer(envelope, pointer) for field, pointer in mapping.items()}

    def _auth_headers(self, message_id: str, body: str) -> dict[str, str]:
        auth = self.config.get("auth") or {"type": "none"}
        kind = auth.get("type", "none")
        if kind == "bearer":
            return {"Authorization": f"Bearer {auth['token']}"}
        if kind == "basic":
            pair = base64.b64encode(f"{auth['username']}:{auth['password']}".encode()).decode()
            return {"Authorization": f"Basic {pair}"}
        if kind == "standard_webhooks":
            now = dt.datetime.now(dt.UTC)
            signature = Webhook(str(auth["secret"])).sign(message_id, now, body)
            return {
                "webhook-id": message_id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": signature,
            }
        return {}
