"""A small JSON-RPC client for Tryton's network API (the protocol the Tryton desktop client speaks).

One request is ``POST <url>/<database>/rpc/`` with ``{"id", "method", "params"}``. A session comes from
``common.db.login`` and is sent as ``Authorization: Session base64(login:user_id:session)``; every model
call takes the user's preferences (company, language) as its last parameter, the context. Decimals,
dates and date-times travel as ``{"__class__": ...}`` objects, converted here both ways.

Every failure is a ``TrytonError`` that says whether trying again can help: the network, timeouts, 5xx
answers, rate limiting and Tryton's concurrency errors can; a refused login, a ``UserError`` (Tryton's
business rules) or an access error cannot.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
import logging
import threading
from decimal import Decimal
from typing import Any

import httpx

logger = logging.getLogger("supplyline.tryton")

# Tryton's domain errors embed whole field definitions (100 kB and more): keep messages readable.
MAX_MESSAGE = 500
# Errors that come from the data sent, not from the server's state: sending them again gives the same answer.
PERMANENT_KINDS = frozenset({"UserError", "UserWarning", "AccessError", "LoginException", "auth", "forbidden"})


class TrytonError(Exception):
    """A call that failed. ``kind`` is Tryton's exception name (``UserError``, ``ConcurrencyException``)
    or ours (``network``, ``timeout``, ``http``, ``auth``, ``forbidden``, ``protocol``, ``server``)."""

    def __init__(self, kind: str, message: str, *, retryable: bool, status_code: int | None = None) -> None:
        self.kind = kind
        self.message = message[:MAX_MESSAGE]
        self.retryable = retryable
        self.status_code = status_code
        super().__init__(f"{kind}: {self.message}")


def encode(value: Any) -> Any:
    """json.dumps default=: the types Tryton's JSON-RPC carries as tagged objects."""
    if isinstance(value, Decimal):
        return {"__class__": "Decimal", "decimal": str(value)}
    if isinstance(value, dt.datetime):
        return {
            "__class__": "datetime",
            **{f: getattr(value, f) for f in ("year", "month", "day", "hour", "minute", "second", "microsecond")},
        }
    if isinstance(value, dt.date):
        return {"__class__": "date", "year": value.year, "month": value.month, "day": value.day}
    if isinstance(value, bytes):
        return {"__class__": "bytes", "base64": base64.b64encode(value).decode()}
    raise TypeError(f"Cannot send {type(value).__name__} to Tryton.")


def decode(obj: dict[str, Any]) -> Any:
    """json.loads object_hook=: tagged objects back to Python values."""
    match obj.get("__class__"):
        case "Decimal":
            return Decimal(obj["decimal"])
        case "date":
            return dt.date(obj["year"], obj["month"], obj["day"])
        case "datetime":
            fields = ("year", "month", "day", "hour", "minute", "second", "microsecond")
            return dt.datetime(*(obj.get(f, 0) for f in fields))  # noqa: DTZ001 - Tryton's datetimes are naive UTC
        case "time":
            return dt.time(obj["hour"], obj["minute"], obj["second"], obj.get("microsecond", 0))
        case "timedelta":
            return dt.timedelta(seconds=obj["seconds"])
        case "bytes":
            return base64.b64decode(obj["base64"])
    return obj


def _error_from_answer(error: Any) -> TrytonError:
    """Tryton answers errors with HTTP 200 and ``{"error": [name, args]}``; args depend on the name."""
    if not (isinstance(error, list) and error):
        return TrytonError("protocol", f"Unexpected error answer: {error!r}", retryable=True)
    name, args = str(error[0]), error[1] if len(error) > 1 else None
    if name == "UserError" and isinstance(args, list) and args:
        description = f" {args[1]}" if len(args) > 1 and args[1] else ""
        return TrytonError(name, f"{args[0]}{description}", retryable=False)
    if name == "UserWarning" and isinstance(args, list) and len(args) > 1:
        return TrytonError(name, str(args[1]), retryable=False)
    if name in ("ConcurrencyException", "RateLimitException"):
        return TrytonError(name, str(args or name), retryable=True)
    if name in PERMANENT_KINDS:
        return TrytonError(name, str(args), retryable=False)
    # Any other exception is reported as [str(exception), traceback]: a fault of the server
    # (a locked database, a bug), which may well be gone on the next try.
    return TrytonError("server", name, retryable=True)


class TrytonClient:
    """One user's session on one Tryton database. Thread-safe; logs in lazily and again when the session expires."""

    def __init__(self, *, url: str, database: str, username: str, password: str, timeout: float) -> None:
        self.endpoint = f"{url.rstrip('/')}/{database}/rpc/"
        self.username = username
        self.password = password
        self.timeout = timeout
        self._http = httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._authorization: str | None = None
        self._context: dict[str, Any] = {}

    def close(self) -> None:
        self._http.close()

    def call(self, method: str, *params: Any) -> Any:
        """One raw RPC call with the current session, if any. Raises TrytonError."""
        body = json.dumps({"id": next(self._ids), "method": method, "params": list(params)}, default=encode)
        headers = {"Content-Type": "application/json"}
        if self._authorization:
            headers["Authorization"] = self._authorization
        try:
            response = self._http.post(self.endpoint, content=body, headers=headers)
        except httpx.TimeoutException:
            raise TrytonError("timeout", f"No answer within {self.timeout:g} s.", retryable=True) from None
        except httpx.HTTPError as error:
            raise TrytonError("network", f"{type(error).__name__}: {error}", retryable=True) from None
        return self._result(method, response)

    def _result(self, method: str, response: httpx.Response) -> Any:
        code = response.status_code
        if code == 401:
            raise TrytonError("auth", f"{method}: not logged in (HTTP 401).", retryable=False, status_code=code)
        if code == 403:
            raise TrytonError("forbidden", f"{method}: forbidden (HTTP 403).", retryable=False, status_code=code)
        if code != 200:
            retryable = code >= 500 or code in (408, 429)
            text = response.text[:MAX_MESSAGE]
            raise TrytonError("http", f"HTTP {code}: {text}", retryable=retryable, status_code=code)
        try:
            answer = json.loads(response.content, object_hook=decode)
        except ValueError:
            raise TrytonError("protocol", "The answer is not JSON.", retryable=True) from None
        if not isinstance(answer, dict):
            raise TrytonError("protocol", "The answer is not a JSON-RPC object.", retryable=True)
        if answer.get("error") is not None:
            error = _error_from_answer(answer["error"])
            logger.info("tryton error", extra={"method": method, "kind": error.kind, "error": error.message})
            raise error
        return answer.get("result")

    def login(self) -> None:
        """Open a session and load the user's preferences (company, language) as the context."""
        with self._lock:
            self._authorization = None
            try:
                user_id, session, *_ = self.call("common.db.login", self.username, {"password": self.password}, "en")
            except TrytonError as error:
                if error.kind == "auth":
                    raise TrytonError(
                        "auth", f"Tryton refused the login of {self.username!r}.", retryable=False, status_code=401
                    ) from None
                raise
            token = base64.b64encode(f"{self.username}:{user_id}:{session}".encode()).decode()
            self._authorization = f"Session {token}"
            self._context = self.call("model.res.user.get_preferences", True, {})

    def model(self, model: str, method: str, *args: Any, context: dict[str, Any] | None = None) -> Any:
        """Call ``model.<model>.<method>``; logs in first, and once more when the session has expired."""
        if self._authorization is None:
            self.login()
        try:
            return self.call(f"model.{model}.{method}", *args, {**self._context, **(context or {})})
        except TrytonError as error:
            if error.kind != "auth":
                raise
        self.login()
        return self.call(f"model.{model}.{method}", *args, {**self._context, **(context or {})})

    def search_read(
        self,
        model: str,
        domain: list[Any],
        fields: list[str],
        *,
        order: list[tuple[str, str]] | None = None,
        limit: int | None = None,
        offset: int = 0,
        context: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.model(
            model, "search_read", domain, offset, limit, order, fields, context=context
        )
        return rows

    def read(
        self, model: str, ids: list[int], fields: list[str], *, context: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.model(model, "read", ids, fields, context=context)
        return rows

    def create(self, model: str, values_list: list[dict[str, Any]]) -> list[int]:
        ids: list[int] = self.model(model, "create", values_list)
        return ids

    def write(self, model: str, ids: list[int], values: dict[str, Any]) -> None:
        self.model(model, "write", ids, values)
