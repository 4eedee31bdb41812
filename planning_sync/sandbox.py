"""The sandbox: a reference ERP and planning system over HTTP, for the demo, tests and benchmarks.

Standard library only (no Django), so it runs inside a test process or standalone through
`manage.py run_sandbox`. Both systems receive CloudEvents, apply each event id once and keep a
ledger of what arrived; both serve change feeds for the pull connectors; and `/faults` makes
their event endpoints fail, throttle or hang on purpose, for the chaos tests.
"""

from __future__ import annotations

import json
import logging
import random
import re
import socket
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

logger = logging.getLogger(__name__)

SYSTEMS = ("erp", "planning")
EVENT_CONTENT_TYPES = ("application/cloudevents+json", "application/json")
# An injected timeout must outlast any sane client timeout; shutdown wakes it early.
TIMEOUT_FAULT_S = 30.0
MAX_BODY_BYTES = 16 * 1024 * 1024
# Idle keep-alive connections are dropped after this, so a vanished client frees its thread.
IDLE_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class FeedSpec:
    """One change feed: where it lives, what identifies a document, what a document must carry."""

    name: str
    key_fields: tuple[str, ...]
    required_fields: tuple[str, ...]


FEEDS = {
    "/erp/purchase-orders": FeedSpec("erp.purchase-orders", ("erp_id",), ("erp_id", "revision")),
    "/erp/receipts": FeedSpec("erp.receipts", ("erp_id",), ("erp_id",)),
    "/erp/inventory": FeedSpec("erp.inventory", ("item_sku", "site_code"), ("item_sku", "site_code")),
    "/planning/demand": FeedSpec("planning.demand", ("external_id",), ("external_id",)),
    "/planning/safety-stock": FeedSpec("planning.safety-stock", ("item_sku", "site_code"), ("item_sku", "site_code")),
}


class Problem(Exception):
    """A request the sandbox refuses, answered as a JSON problem (RFC 9457 shape)."""

    def __init__(self, status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.headers = headers or {}

    def response(self) -> Response:
        body = {"title": self.title, "detail": self.detail, "status": self.status}
        return Response(self.status, body, {"Content-Type": "application/problem+json", **self.headers})


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Message
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise Problem(400, "Invalid JSON", f"The body is not JSON: {error}.") from error


@dataclass(frozen=True)
class Response:
    status: int
    body: object
    headers: dict[str, str] = field(default_factory=dict)


# None means "hang up without answering": how an injected timeout ends.
type Handler = Callable[[Request], Response | None]


def now_utc() -> datetime:
    return datetime.now(UTC)


def format_timestamp(moment: datetime) -> str:
    """Fixed-width UTC with microseconds and a `Z`, so timestamps compare as strings and the
    cursor survives being pasted into a query string unencoded (a `+00:00` would turn into a space)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(value: str, name: str) -> datetime:
    # Repair an unencoded "+hh:mm" offset that the query string decoded into a space.
    value = re.sub(r" (\d{2}:?\d{2})$", r"+\1", value.strip())
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise Problem(400, "Invalid timestamp", f"{name} is not an ISO 8601 timestamp: {value!r}.") from error
    if moment.tzinfo is None:
        raise Problem(400, "Invalid timestamp", f"{name} needs a time zone, e.g. 2026-01-31T08:00:00.000000Z.")
    return moment


# --- Faults -------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What one event call suffers: a delay, then a hang, an error status, or nothing."""

    latency_s: float
    timeout: bool
    error_status: int | None
    retry_after_s: int


@dataclass(frozen=True)
class Faults:
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 503, 429)
    timeout_rate: float = 0.0
    latency_ms: float = 0.0
    retry_after_s: int = 1

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "error_statuses": list(self.error_statuses)}

    def draw(self, rng: random.Random) -> Outcome:
        # One roll for both faults, so error_rate is the exact share of errors
        # (while the two rates sum to at most 1) and a timeout takes precedence.
        roll = rng.random()
        timeout = roll < self.timeout_rate
        error = not timeout and roll < self.timeout_rate + self.error_rate
        status = rng.choice(self.error_statuses) if error else None
        return Outcome(self.latency_ms / 1000, timeout, status, self.retry_after_s)


def parse_faults(payload: object) -> Faults:
    """Faults from a PUT body; fields left out take their default, which is "off"."""
    if not isinstance(payload, dict):
        raise Problem(400, "Invalid faults", "Send a JSON object with any of: " + ", ".join(_FAULT_FIELDS) + ".")
    unknown = sorted(set(payload) - set(_FAULT_FIELDS))
    if unknown:
        raise Problem(400, "Invalid faults", f"Unknown fault {unknown[0]!r}; known: {', '.join(_FAULT_FIELDS)}.")
    defaults = Faults()
    return Faults(
        error_rate=_rate(payload, "error_rate", defaults.error_rate),
        error_statuses=_statuses(payload, defaults.error_statuses),
        timeout_rate=_rate(payload, "timeout_rate", defaults.timeout_rate),
        latency_ms=_non_negative(payload, "latency_ms", defaults.latency_ms),
        retry_after_s=_whole_seconds(payload, "retry_after_s", defaults.retry_after_s),
    )


_FAULT_FIELDS = ("error_rate", "error_statuses", "timeout_rate", "latency_ms", "retry_after_s")


def _is_number(value: object) -> bool:
    # bool is an int in Python, but `true` is not a rate.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _non_negative(payload: dict[str, Any], name: str, default: float) -> float:
    value = payload.get(name, default)
    if not _is_number(value) or not 0 <= value < float("inf"):
        raise Problem(400, "Invalid faults", f"{name} must be a non-negative number, not {value!r}.")
    return float(value)


def _rate(payload: dict[str, Any], name: str, default: float) -> float:
    value = _non_negative(payload, name, default)
    if value > 1:
        raise Problem(400, "Invalid faults", f"{name} must be between 0 and 1, not {value!r}.")
    return value


def _whole_seconds(payload: dict[str, Any], name: str, default: int) -> int:
    # Retry-After carries whole seconds (RFC 9110 delay-seconds); a fraction would be silently rounded.
    value = _non_negative(payload, name, default)
    if not value.is_integer():
        raise Problem(400, "Invalid faults", f"{name} must be a whole number of seconds, not {value!r}.")
    return int(value)


def _statuses(payload: dict[str, Any], default: tuple[int, ...]) -> tuple[int, ...]:
    value = payload.get("error_statuses", list(default))
    valid = isinstance(value, list) and value and all(isinstance(s, int) and 400 <= s <= 599 for s in value)
    if not valid:
        detail = f"error_statuses must be a non-empty list of 4xx or 5xx status codes, not {value!r}."
        raise Problem(400, "Invalid faults", detail)
    return tuple(value)


# --- Storage ------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    system TEXT NOT NULL,
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    subject TEXT NOT NULL,
    received_at TEXT NOT NULL,
    duplicates INTEGER NOT NULL DEFAULT 0,
    body TEXT NOT NULL,
    UNIQUE (system, id)
);
CREATE INDEX IF NOT EXISTS events_by_subject ON events (system, subject, seq);
CREATE TABLE IF NOT EXISTS documents (
    feed TEXT NOT NULL,
    key TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (feed, key)
);
CREATE INDEX IF NOT EXISTS documents_by_update ON documents (feed, updated_at);
"""


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    subject: str
    envelope: dict[str, Any]


class Store:
    """The systems' durable state in one SQLite file.

    One connection behind a lock: ThreadingHTTPServer starts a thread per connection, so
    per-thread connections would pile up, and the sandbox never needs parallel writes.
    """

    def __init__(self, path: Path | str) -> None:
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False, autocommit=True)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a killed process, which is what the tests inflict; an fsync
        # per event (FULL) would only add disk latency to the benchmarks.
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA busy_timeout=5000")
        self._conn.executescript(_SCHEMA)
        self._last_stamp = self._latest_stamp()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def apply_event(self, system: str, event: Event) -> bool:
        """Store the first delivery of an event id; count later ones. True when applied."""
        sql = (
            "INSERT INTO events (system, id, type, subject, received_at, body) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (system, id) DO UPDATE SET duplicates = duplicates + 1 RETURNING duplicates"
        )
        received_at = format_timestamp(now_utc())
        values = (system, event.id, event.type, event.subject, received_at, json.dumps(event.envelope))
        with self._transaction() as conn:
            duplicates: int = conn.execute(sql, values).fetchone()[0]
        return duplicates == 0

    def ledger(self, system: str, subject: str | None) -> list[dict[str, Any]]:
        sql = "SELECT id, type, subject, received_at, duplicates FROM events WHERE system = ?"
        params: tuple[str, ...] = (system,)
        if subject is not None:
            sql, params = sql + " AND subject = ?", (system, subject)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY seq", params).fetchall()
        return [dict(row) for row in rows]

    def load_documents(self, feed: str, documents: list[tuple[str, dict[str, Any]]]) -> str | None:
        """Insert or replace documents by key, stamping updated_at; returns the last stamp."""
        sql = (
            "INSERT INTO documents (feed, key, updated_at, body) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (feed, key) DO UPDATE SET updated_at = excluded.updated_at, body = excluded.body"
        )
        stamp = None
        with self._transaction() as conn:
            for key, document in documents:
                stamp = self._next_stamp()
                conn.execute(sql, (feed, key, stamp, json.dumps({**document, "updated_at": stamp})))
        return stamp

    def documents_since(self, feed: str, since: str | None) -> list[dict[str, Any]]:
        sql = "SELECT body FROM documents WHERE feed = ? AND updated_at > ? ORDER BY updated_at"
        with self._lock:
            rows = self._conn.execute(sql, (feed, since or "")).fetchall()
        return [json.loads(row["body"]) for row in rows]

    def reset(self) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM events")
            conn.execute("DELETE FROM documents")

    def _next_stamp(self) -> str:
        # Strictly increasing stamps (even within one microsecond, or if the clock steps back),
        # so a reader's "updated strictly after my cursor" can never skip a document.
        self._last_stamp = max(now_utc(), self._last_stamp + timedelta(microseconds=1))
        return format_timestamp(self._last_stamp)

    def _latest_stamp(self) -> datetime:
        latest = self._conn.execute("SELECT max(updated_at) FROM documents").fetchone()[0]
        return datetime.fromisoformat(latest) if latest else datetime.min.replace(tzinfo=UTC)


# --- The two systems ----------------------------------------------------------


class Sandbox:
    """The ERP and the planning system behind the HTTP layer: routing, faults and storage."""

    def __init__(self, store: Store, rng: random.Random, stopping: threading.Event) -> None:
        self._store = store
        self._rng = rng
        self._stopping = stopping
        self._faults_lock = threading.Lock()
        self._faults = Faults()
        self._routes = self._build_routes()

    def handle(self, request: Request) -> Response | None:
        try:
            return self._route(request)(request)
        except Problem as problem:
            return problem.response()

    def _route(self, request: Request) -> Handler:
        methods = self._routes.get(request.path.rstrip("/") or "/")
        if methods is None:
            raise Problem(404, "Not found", f"The sandbox has nothing at {request.path}.")
        if request.method not in methods:
            allow = ", ".join(sorted(methods))
            raise Problem(405, "Method not allowed", f"{request.path} allows {allow}.", {"Allow": allow})
        return methods[request.method]

    def _build_routes(self) -> dict[str, dict[str, Handler]]:
        routes: dict[str, dict[str, Handler]] = {
            "/health": {"GET": lambda _: Response(200, {"status": "ok"})},
            "/reset": {"POST": self._reset},
            "/faults": {"GET": self._get_faults, "PUT": self._put_faults, "DELETE": self._delete_faults},
        }
        for system in SYSTEMS:
            routes[f"/{system}/events"] = {"POST": partial(self._receive_event, system)}
            routes[f"/{system}/ledger"] = {"GET": partial(self._ledger, system)}
        for path, spec in FEEDS.items():
            routes[path] = {"GET": partial(self._feed, spec), "POST": partial(self._load, spec)}
        return routes

    def _reset(self, request: Request) -> Response:
        self._store.reset()
        self._set_faults(Faults())
        return Response(200, {"status": "reset"})

    def _get_faults(self, request: Request) -> Response:
        with self._faults_lock:
            return Response(200, self._faults.as_json())

    def _put_faults(self, request: Request) -> Response:
        return Response(200, self._set_faults(parse_faults(request.json())).as_json())

    def _delete_faults(self, request: Request) -> Response:
        return Response(200, self._set_faults(Faults()).as_json())

    def _set_faults(self, faults: Faults) -> Faults:
        with self._faults_lock:
            self._faults = faults
        logger.info("sandbox faults: %s", faults.as_json())
        return faults

    def _receive_event(self, system: str, request: Request) -> Response | None:
        _require_structured_cloudevent(request)
        with self._faults_lock:
            outcome = self._faults.draw(self._rng)
        # Faults strike before the event is read, like an overloaded server, and never apply it.
        self._stopping.wait(outcome.latency_s)
        if outcome.timeout:
            self._stopping.wait(TIMEOUT_FAULT_S)
            return None
        if outcome.error_status is not None:
            return _injected_error(outcome.error_status, outcome.retry_after_s)
        if self._stopping.is_set():
            return None
        applied = self._store.apply_event(system, _parse_event(request))
        return Response(200, {"status": "applied" if applied else "duplicate"})

    def _ledger(self, system: str, request: Request) -> Response:
        return Response(200, self._store.ledger(system, request.query.get("subject")))

    def _load(self, spec: FeedSpec, request: Request) -> Response:
        documents = _keyed_documents(spec, request.json())
        stamp = self._store.load_documents(spec.name, documents)
        return Response(200, {"loaded": len(documents), "updated_at": stamp})

    def _feed(self, spec: FeedSpec, request: Request) -> Response:
        given = request.query.get("updated_since")
        since = format_timestamp(parse_timestamp(given, "updated_since")) if given else None
        results = self._store.documents_since(spec.name, since)
        cursor = results[-1]["updated_at"] if results else since
        return Response(200, {"results": results, "cursor": cursor})


def _require_structured_cloudevent(request: Request) -> None:
    content_type = request.headers.get_content_type()
    if content_type not in EVENT_CONTENT_TYPES:
        detail = f"Send a structured CloudEvent as {' or '.join(EVENT_CONTENT_TYPES)}, not {content_type}."
        raise Problem(415, "Unsupported media type", detail)


def _parse_event(request: Request) -> Event:
    body = request.json()
    if not isinstance(body, dict):
        raise Problem(400, "Invalid event", "A CloudEvent is a JSON object.")
    missing = [name for name in ("id", "type", "subject") if not isinstance(body.get(name), str) or not body[name]]
    if missing:
        raise Problem(400, "Invalid event", f"The event lacks {', '.join(missing)} (non-empty strings).")
    key = request.headers.get("Idempotency-Key")
    if key is not None and key != body["id"]:
        detail = f"Idempotency-Key {key!r} differs from the event id {body['id']!r}."
        raise Problem(400, "Invalid event", detail)
    return Event(body["id"], body["type"], body["subject"], body)


def _injected_error(status: int, retry_after_s: int) -> Response:
    headers = {"Retry-After": str(retry_after_s)} if status in (429, 503) else {}
    return Problem(
        status, "Injected fault", f"The sandbox was told to fail this call with {status}.", headers
    ).response()


def _keyed_documents(spec: FeedSpec, payload: object) -> list[tuple[str, dict[str, Any]]]:
    """Validate a whole load before storing any of it, so a bad document changes nothing."""
    if not isinstance(payload, list):
        raise Problem(400, "Invalid documents", "Send a JSON list of documents.")
    keyed = []
    for index, document in enumerate(payload):
        if not isinstance(document, dict):
            raise Problem(400, "Invalid documents", f"Document {index} is not a JSON object.")
        missing = [name for name in spec.required_fields if document.get(name) is None]
        if missing:
            raise Problem(400, "Invalid documents", f"Document {index} lacks {', '.join(missing)}.")
        keyed.append((json.dumps([document[name] for name in spec.key_fields]), document))
    return keyed


# --- HTTP ---------------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    """Knows its open connections, so stopping also drops idle keep-alive ones."""

    # The default backlog of 5 makes a burst of new connections wait a second for a SYN retry.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _RequestHandler)

    def register(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def unregister(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def drop_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: object, client_address: object) -> None:
        logger.exception("sandbox: error serving %s", client_address)


class _RequestHandler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"  # keep-alive, so benchmarks do not time TCP handshakes
    # Headers and body go out as two writes; with Nagle on, the client's delayed ACK adds ~40 ms to each call.
    disable_nagle_algorithm = True
    server_version = "SupplylineSandbox/1.0"
    sys_version = ""
    timeout = IDLE_TIMEOUT_S

    def setup(self) -> None:
        super().setup()
        self.server.register(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.unregister(self.connection)

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("sandbox %s: %s", self.address_string(), format % args)

    def _dispatch(self) -> None:
        try:
            response = self.server.sandbox.handle(self._request())
        except Problem as problem:
            response = problem.response()
        except Exception:
            logger.exception("sandbox: %s %s failed", self.command, self.path)
            response = Problem(500, "Sandbox error", "The sandbox failed; see its log.").response()
        if response is None:
            self.close_connection = True
            return
        with suppress(OSError):  # the client may have given up (its timeout) or gone
            self._send(response)

    def _request(self) -> Request:
        url = urlsplit(self.path)
        query = {name: values[-1] for name, values in parse_qs(url.query, keep_blank_values=True).items()}
        return Request(self.command, url.path, query, self.headers, self._read_body())

    def _read_body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError as error:
            raise Problem(400, "Invalid request", "Content-Length is not a number.") from error
        if not 0 <= length <= MAX_BODY_BYTES:
            # The body stays unread, so this connection cannot carry another request.
            self.close_connection = True
            raise Problem(413, "Body too large", f"Send at most {MAX_BODY_BYTES} bytes.")
        return self.rfile.read(length)

    def _send(self, response: Response) -> None:
        payload = json.dumps(response.body).encode()
        self.send_response(response.status)
        headers = {"Content-Type": "application/json", **response.headers, "Content-Length": str(len(payload))}
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


class SandboxServer:
    """The sandbox on a loopback port: `start()` serves from a daemon thread (tests),
    `serve_forever()` from the calling thread (the command). Port 0 picks a free port."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, db_path: Path | str, seed: int | None = None) -> None:
        self._stopping = threading.Event()
        self._store = Store(db_path)
        sandbox = Sandbox(self._store, random.Random(seed), self._stopping)  # noqa: S311 (faults, not secrets)
        try:
            self._httpd = _HTTPServer((host, port), sandbox)
        except OSError:
            self._store.close()
            raise
        self.host = host
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Self:
        # A short poll interval because stop() waits up to one interval for the loop to notice.
        serve = partial(self._httpd.serve_forever, poll_interval=0.05)
        self._thread = threading.Thread(target=serve, name="sandbox", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve until interrupted (KeyboardInterrupt, or a signal handler raising it)."""
        try:
            self._httpd.serve_forever()
        finally:
            self._close()

    def stop(self) -> None:
        self._stopping.set()  # wakes injected timeouts and latency first, so shutdown is quick
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._close()

    def _close(self) -> None:
        self._stopping.set()
        self._httpd.server_close()
        self._httpd.drop_connections()
        self._store.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
