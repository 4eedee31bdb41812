"""The sandbox ERP and planning system, driven over real HTTP on 127.0.0.1."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings

from planning_sync.sandbox import SandboxServer

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
FEED_SAMPLES = {
    "/erp/purchase-orders": ({"erp_id": "4500000001", "revision": 1, "number": "PO-500001"}, "revision"),
    "/erp/receipts": ({"erp_id": "5000000001", "po_number": "PO-500001", "quantity": "40"}, "quantity"),
    "/erp/inventory": ({"item_sku": "HX-100", "site_code": "ATL", "on_hand": "12"}, "on_hand"),
    "/planning/demand": ({"external_id": "D-1", "item_sku": "HX-100", "quantity": "5"}, "quantity"),
    "/planning/safety-stock": ({"item_sku": "HX-100", "site_code": "ATL", "quantity": "8"}, "quantity"),
}


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "sandbox.sqlite3"


@pytest.fixture
def sandbox(db_path: Path) -> Iterator[SandboxServer]:
    with SandboxServer(db_path=db_path, seed=20261129) as server:
        yield server


@pytest.fixture
def http(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, timeout=5) as client:
        yield client


def _event(subject: str = "PO-500001", event_type: str = "supplyline.po.acknowledged.v1") -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/supplyline/tests",
        "type": event_type,
        "subject": subject,
        "time": "2026-11-29T12:00:00.000000Z",
        "datacontenttype": "application/json",
        "data": {"po_number": subject},
    }


def _deliver(client: httpx.Client, event: dict[str, Any], system: str = "erp", **headers: str) -> httpx.Response:
    headers = {"Content-Type": "application/cloudevents+json", "Idempotency-Key": event["id"], **headers}
    return client.post(f"/{system}/events", json=event, headers=headers)


def _ledger(client: httpx.Client, system: str = "erp", **params: str) -> list[dict[str, Any]]:
    response = client.get(f"/{system}/ledger", params=params)
    assert response.status_code == 200
    ledger: list[dict[str, Any]] = response.json()
    return ledger


def _assert_problem(response: httpx.Response, status: int, detail_mentions: str = "") -> None:
    assert response.status_code == status, response.text
    problem = response.json()
    assert problem["title"]
    assert detail_mentions in problem["detail"]


# --- Events and ledgers ---------------------------------------------------------------------------------


def test_health(http):
    assert http.get("/health").json() == {"status": "ok"}


@pytest.mark.parametrize("system", ["erp", "planning"])
def test_the_first_delivery_applies_and_repeats_only_count_as_duplicates(http, system):
    event = _event()
    answers = [_deliver(http, event, system) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.json()["status"] for a in answers] == ["applied", "duplicate", "duplicate"]
    [entry] = _ledger(http, system)
    assert entry["id"] == event["id"]
    assert entry["type"] == "supplyline.po.acknowledged.v1"
    assert entry["subject"] == "PO-500001"
    assert entry["duplicates"] == 2
    assert set(entry) == {"id", "type", "subject", "received_at", "duplicates"}


def test_the_erp_and_the_planning_system_each_apply_an_event_once(http):
    event = _event()

    assert _deliver(http, event, "erp").json() == {"status": "applied"}
    assert _deliver(http, event, "planning").json() == {"status": "applied"}
    assert [e["duplicates"] for e in _ledger(http, "erp")] == [0]
    assert [e["duplicates"] for e in _ledger(http, "planning")] == [0]


def test_concurrent_deliveries_of_one_event_apply_it_exactly_once(sandbox):
    event = _event()
    # One client shared by the threads (httpx is thread-safe), so 16 connections race in parallel.
    with httpx.Client(base_url=sandbox.url, timeout=5, limits=httpx.Limits(max_connections=16)) as client:
        with ThreadPoolExecutor(max_workers=16) as pool:
            statuses = list(pool.map(lambda _: _deliver(client, event).json()["status"], range(32)))

        assert statuses.count("applied") == 1
        assert [e["duplicates"] for e in _ledger(client)] == [31]


def test_the_ledger_lists_events_in_arrival_order_with_utc_microsecond_times(http):
    events = [_event(subject=f"PO-50000{n}") for n in range(5)]
    for event in events:
        _deliver(http, event)
    _deliver(http, events[0])  # a late duplicate does not move the first arrival

    ledger = _ledger(http)

    assert [e["id"] for e in ledger] == [e["id"] for e in events]
    assert all(TIMESTAMP.match(e["received_at"]) for e in ledger)
    assert [e["received_at"] for e in ledger] == sorted(e["received_at"] for e in ledger)


def test_the_ledger_filters_by_subject(http):
    first, other, second = _event("PO-500001"), _event("PO-500002"), _event("PO-500001", "supplyline.asn.submitted.v1")
    for event in (first, other, second):
        _deliver(http, event)

    assert [e["id"] for e in _ledger(http, subject="PO-500001")] == [first["id"], second["id"]]
    assert _ledger(http, subject="PO-999999") == []


def test_the_ledger_survives_a_restart_on_the_same_file(db_path):
    event = _event()
    with SandboxServer(db_path=db_path) as first, httpx.Client(base_url=first.url) as client:
        _deliver(client, event)

    with SandboxServer(db_path=db_path) as second, httpx.Client(base_url=second.url) as client:
        assert _deliver(client, event).json() == {"status": "duplicate"}
        assert [(e["id"], e["duplicates"]) for e in _ledger(client)] == [(event["id"], 1)]


def test_an_event_without_an_idempotency_key_header_is_accepted_as_plain_json(http):
    event = _event()

    response = http.post("/erp/events", json=event, headers={"Content-Type": "application/json; charset=utf-8"})

    assert response.json() == {"status": "applied"}


# --- Validation -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        (b"{not json", "not JSON"),
        (b"[]", "JSON object"),
        (b'{"type": "t", "subject": "PO-1"}', "id"),
        (b'{"id": "e-1", "subject": "PO-1"}', "type"),
        (b'{"id": "e-1", "type": "t"}', "subject"),
        (b'{"id": "", "type": "t", "subject": "PO-1"}', "id"),
        (b'{"id": 7, "type": "t", "subject": "PO-1"}', "id"),
    ],
)
def test_a_malformed_event_is_refused_and_not_applied(http, body, mentions):
    response = http.post("/erp/events", content=body, headers={"Content-Type": "application/cloudevents+json"})

    _assert_problem(response, 400, mentions)
    assert _ledger(http) == []


def test_an_idempotency_key_that_differs_from_the_event_id_is_refused(http):
    response = _deliver(http, _event(), **{"Idempotency-Key": str(uuid.uuid4())})

    _assert_problem(response, 400, "Idempotency-Key")
    assert _ledger(http) == []


def test_a_binary_mode_cloudevent_is_refused_as_unsupported_media(http):
    response = http.post("/erp/events", content=b"{}", headers={"Content-Type": "text/plain", "ce-id": "e-1"})

    _assert_problem(response, 415, "application/cloudevents+json")


def test_a_body_larger_than_the_limit_is_refused_without_reading_it(sandbox):
    with socket.create_connection(("127.0.0.1", sandbox.port), timeout=5) as conn:
        conn.sendall(b"POST /erp/events HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n")
        status_line = conn.recv(200).split(b"\r\n")[0]

    assert status_line.startswith(b"HTTP/1.1 413 ")


def test_an_unknown_path_is_a_json_404(http):
    _assert_problem(http.get("/erp/nothing"), 404, "/erp/nothing")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/erp/events", "POST"),
        ("POST", "/planning/ledger", "GET"),
        ("POST", "/faults", "DELETE, GET, PUT"),
        ("DELETE", "/erp/purchase-orders", "GET, POST"),
        ("GET", "/reset", "POST"),
    ],
)
def test_a_wrong_method_is_a_405_naming_the_allowed_ones(http, method, path, allow):
    response = http.request(method, path)

    _assert_problem(response, 405)
    assert response.headers["Allow"] == allow


# --- Faults ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 429, 408, 400])
def test_an_injected_error_answers_its_status_and_applies_nothing(http, status):
    http.put("/faults", json={"error_rate": 1.0, "error_statuses": [status], "retry_after_s": 3})

    response = _deliver(http, _event())

    _assert_problem(response, status)
    assert response.headers.get("Retry-After") == ("3" if status in (429, 503) else None)
    assert _ledger(http) == []


def test_an_injected_timeout_outlasts_the_client_and_applies_nothing(sandbox, http):
    http.put("/faults", json={"timeout_rate": 1.0})

    with httpx.Client(base_url=sandbox.url, timeout=0.3) as impatient, pytest.raises(httpx.ReadTimeout):
        _deliver(impatient, _event())

    assert _ledger(http) == []


def test_stopping_wakes_a_hung_call_at_once(db_path):
    server = SandboxServer(db_path=db_path).start()
    errors: list[Exception] = []

    def deliver_and_hang() -> None:
        try:
            _deliver(client, _event())
        except httpx.HTTPError as error:
            errors.append(error)

    with httpx.Client(base_url=server.url, timeout=5) as client:
        client.put("/faults", json={"timeout_rate": 1.0})
        hung = threading.Thread(target=deliver_and_hang)
        hung.start()
        time.sleep(0.2)
        started = time.monotonic()
        server.stop()
        hung.join(timeout=5)

    assert time.monotonic() - started < 2
    assert len(errors) == 1  # the server hung up without answering


def test_latency_delays_every_event_call(http):
    http.put("/faults", json={"latency_ms": 300})

    started = time.monotonic()
    response = _deliver(http, _event())

    assert response.json() == {"status": "applied"}
    assert time.monotonic() - started >= 0.3


def test_faults_are_set_read_and_cleared(http):
    defaults = http.get("/faults").json()

    put = http.put("/faults", json={"error_rate": 0.3, "timeout_rate": 0.05})
    assert put.status_code == 200
    assert put.json() == {**defaults, "error_rate": 0.3, "timeout_rate": 0.05}
    assert http.get("/faults").json() == put.json()

    assert http.delete("/faults").json() == defaults
    assert defaults == {
        "error_rate": 0.0,
        "error_statuses": [500, 503, 429],
        "timeout_rate": 0.0,
        "latency_ms": 0.0,
        "retry_after_s": 1,
    }


def test_a_put_replaces_every_fault_so_a_test_knows_the_whole_state(http):
    http.put("/faults", json={"error_rate": 1.0})

    assert http.put("/faults", json={"latency_ms": 5}).json()["error_rate"] == 0.0
    assert _deliver(http, _event()).json() == {"status": "applied"}


def test_cleared_faults_let_events_through_again(http):
    http.put("/faults", json={"error_rate": 1.0})
    event = _event()
    assert _deliver(http, event).status_code in (500, 503, 429)

    http.delete("/faults")

    assert _deliver(http, event).json() == {"status": "applied"}
    assert [e["duplicates"] for e in _ledger(http)] == [0]


@pytest.mark.parametrize(
    ("payload", "mentions"),
    [
        ({"error_rate": 1.5}, "error_rate"),
        ({"error_rate": -0.1}, "error_rate"),
        ({"error_rate": "0.3"}, "error_rate"),
        ({"timeout_rate": True}, "timeout_rate"),
        ({"latency_ms": -1}, "latency_ms"),
        ({"retry_after_s": 0.5}, "retry_after_s"),
        ({"error_statuses": []}, "error_statuses"),
        ({"error_statuses": [200]}, "error_statuses"),
        ({"error_statuses": ["500"]}, "error_statuses"),
        ({"error_statuses": 500}, "error_statuses"),
        ({"error_rat": 0.3}, "error_rat"),
        ([0.3], "JSON object"),
    ],
)
def test_a_bad_faults_payload_is_refused_and_changes_nothing(http, payload, mentions):
    http.put("/faults", json={"latency_ms": 1})

    _assert_problem(http.put("/faults", json=payload), 400, mentions)
    assert http.get("/faults").json()["latency_ms"] == 1


def test_a_faults_body_that_is_not_json_is_refused(http):
    _assert_problem(http.put("/faults", content=b"error_rate=1"), 400, "not JSON")


def test_a_seeded_sandbox_fails_the_same_calls_again(tmp_path):
    def outcomes(seed_run: int) -> list[int]:
        server = SandboxServer(db_path=tmp_path / f"{seed_run}.sqlite3", seed=7)
        with server, httpx.Client(base_url=server.url, timeout=5) as client:
            client.put("/faults", json={"error_rate": 0.5, "error_statuses": [500, 503, 429]})
            return [_deliver(client, _event()).status_code for _ in range(40)]

    first, second = outcomes(1), outcomes(2)

    assert first == second
    assert {200, 500, 503, 429} <= set(first)


def test_the_error_rate_is_the_share_of_failed_calls(http):
    http.put("/faults", json={"error_rate": 0.3, "error_statuses": [503], "retry_after_s": 0})

    statuses = [_deliver(http, _event()).status_code for _ in range(300)]

    assert 0.2 < statuses.count(503) / len(statuses) < 0.4
    assert len(_ledger(http)) == statuses.count(200)


# --- Feeds ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", FEED_SAMPLES)
def test_a_feed_serves_documents_updated_after_the_cursor(http, path):
    document, changing_field = FEED_SAMPLES[path]
    loaded = http.post(path, json=[document]).json()

    first = http.get(path).json()
    [served] = first["results"]
    assert served == {**document, "updated_at": loaded["updated_at"]}
    assert first["cursor"] == served["updated_at"]
    assert TIMESTAMP.match(first["cursor"])

    assert http.get(path, params={"updated_since": first["cursor"]}).json() == {
        "results": [],
        "cursor": first["cursor"],
    }

    http.post(path, json=[{**document, changing_field: "changed"}])
    later = http.get(path, params={"updated_since": first["cursor"]}).json()
    assert [d[changing_field] for d in later["results"]] == ["changed"]
    assert later["cursor"] > first["cursor"]
    assert len(http.get(path).json()["results"]) == 1  # replaced by key, not added


def test_documents_come_in_update_order_each_with_its_own_stamp(http):
    http.post("/erp/purchase-orders", json=[{"erp_id": n, "revision": 1} for n in (3, 1, 2)])
    http.post("/erp/purchase-orders", json=[{"erp_id": 1, "revision": 2}])

    results = http.get("/erp/purchase-orders").json()["results"]

    assert [(d["erp_id"], d["revision"]) for d in results] == [(3, 1), (2, 1), (1, 2)]
    assert len({d["updated_at"] for d in results}) == 3


def test_safety_stock_and_inventory_are_keyed_by_item_and_site(http):
    for path in ("/planning/safety-stock", "/erp/inventory"):
        http.post(path, json=[{"item_sku": "A", "site_code": "ATL", "q": 1}, {"item_sku": "A", "site_code": "DAL"}])
        http.post(path, json=[{"item_sku": "A", "site_code": "ATL", "q": 2}])

        results = http.get(path).json()["results"]

        assert [(d["site_code"], d.get("q")) for d in results] == [("DAL", None), ("ATL", 2)]


def test_each_feed_keeps_its_own_documents(http):
    http.post("/erp/receipts", json=[{"erp_id": "X"}])

    assert http.get("/erp/purchase-orders").json() == {"results": [], "cursor": None}


def test_updated_since_accepts_offsets_and_an_unencoded_plus(http):
    http.post("/planning/demand", json=[{"external_id": "D-1"}])

    for since in ("2026-01-01T00:00:00+00:00", "2026-01-01T01:00:00+01:00", "2000-01-01T00:00:00Z"):
        assert len(http.get("/planning/demand", params={"updated_since": since}).json()["results"]) == 1
    raw = http.get("/planning/demand?updated_since=2026-01-01T00:00:00.000000+00:00").json()
    assert len(raw["results"]) == 1
    future = http.get("/planning/demand", params={"updated_since": "2999-01-01T00:00:00+00:00"}).json()
    assert future == {"results": [], "cursor": "2999-01-01T00:00:00.000000Z"}


@pytest.mark.parametrize("since", ["yesterday", "2026-01-01T00:00:00"])
def test_updated_since_must_be_a_timestamp_with_a_time_zone(http, since):
    _assert_problem(http.get("/erp/receipts", params={"updated_since": since}), 400, "updated_since")


@pytest.mark.parametrize(
    ("path", "documents", "mentions"),
    [
        ("/erp/purchase-orders", [{"erp_id": "1", "revision": 1}, {"erp_id": "2"}], "Document 1 lacks revision"),
        ("/erp/inventory", [{"item_sku": "A"}], "site_code"),
        ("/planning/demand", [{"external_id": None}], "external_id"),
        ("/erp/receipts", [["erp_id", "1"]], "not a JSON object"),
        ("/planning/safety-stock", {"item_sku": "A", "site_code": "ATL"}, "JSON list"),
    ],
)
def test_a_load_with_a_bad_document_is_refused_whole(http, path, documents, mentions):
    _assert_problem(http.post(path, json=documents), 400, mentions)
    assert http.get(path).json()["results"] == []


def test_feeds_survive_a_restart_and_their_cursors_stay_valid(db_path):
    with SandboxServer(db_path=db_path) as first, httpx.Client(base_url=first.url) as client:
        client.post("/erp/purchase-orders", json=[{"erp_id": "1", "revision": 1}])
        cursor = client.get("/erp/purchase-orders").json()["cursor"]

    with SandboxServer(db_path=db_path) as second, httpx.Client(base_url=second.url) as client:
        assert len(client.get("/erp/purchase-orders").json()["results"]) == 1
        client.post("/erp/purchase-orders", json=[{"erp_id": "2", "revision": 1}])
        later = client.get("/erp/purchase-orders", params={"updated_since": cursor}).json()["results"]
        assert [d["erp_id"] for d in later] == ["2"]


# --- Reset and lifecycle --------------------------------------------------------------------------------


def test_reset_empties_ledgers_feeds_and_faults(http):
    _deliver(http, _event(), "erp")
    _deliver(http, _event(), "planning")
    http.post("/erp/purchase-orders", json=[{"erp_id": "1", "revision": 1}])
    http.put("/faults", json={"latency_ms": 10})

    assert http.post("/reset").status_code == 200

    assert _ledger(http, "erp") == _ledger(http, "planning") == []
    assert http.get("/erp/purchase-orders").json()["results"] == []
    assert http.get("/faults").json()["latency_ms"] == 0


def test_a_stopped_sandbox_drops_kept_alive_connections(db_path):
    server = SandboxServer(db_path=db_path).start()
    with httpx.Client(base_url=server.url, timeout=2) as client:
        assert client.get("/health").status_code == 200
        server.stop()

        with pytest.raises(httpx.TransportError):
            client.get("/health")


def test_a_taken_port_is_an_error_not_a_second_server(sandbox, tmp_path):
    with pytest.raises(OSError, match="in use"):
        SandboxServer(port=sandbox.port, db_path=tmp_path / "other.sqlite3")


# --- The run_sandbox command ----------------------------------------------------------------------------


def _run_command(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    """Start `manage.py run_sandbox` and return it with the URL it printed."""
    command = [sys.executable, "manage.py", "run_sandbox", "--port", "0", *args]
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and manage.py)
        command, cwd=settings.BASE_DIR, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, text=True
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout=20)
    match = re.search(r"http://127\.0\.0\.1:\d+", lines[0] if lines else "")
    if match is None:
        process.kill()
        pytest.fail(f"run_sandbox printed no URL: {lines!r}")
    return process, match.group(0)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_the_command_serves_until_it_is_signalled(tmp_path, stop_signal):
    db_path = tmp_path / "cmd.sqlite3"
    process, url = _run_command("--db", str(db_path))
    try:
        with httpx.Client(base_url=url, timeout=5) as client:
            assert _deliver(client, _event()).json() == {"status": "applied"}
    finally:
        process.send_signal(stop_signal)
        output, _ = process.communicate(timeout=10)

    assert process.returncode == 0
    assert "Sandbox stopped." in output
    with SandboxServer(db_path=db_path) as server, httpx.Client(base_url=server.url) as client:
        assert len(_ledger(client)) == 1


def test_the_command_keeps_its_data_under_the_data_dir_by_default(tmp_path):
    data_dir = tmp_path / "not-yet-there"
    process, _ = _run_command(env={"SUPPLYLINE_DATA_DIR": str(data_dir)})
    process.terminate()
    process.communicate(timeout=10)

    assert (data_dir / "sandbox.sqlite3").exists()
