"""Benchmark: acknowledgement requests per second on gunicorn, next to a minimal authenticated endpoint.

Run with `make bench` (after the delivery benchmark) or `python -m tests.bench.bench_api`. It needs
PostgreSQL and Redis on 127.0.0.1 and uses the benchmark's database (migrated here). It starts
gunicorn (`config.wsgi`, BENCH_API_WORKERS sync workers, 2 by default) on a free port of 127.0.0.1,
with DEBUG off and the API rate limit out of the way, creates a supplier, an API key with every scope
and BENCH_API_POS purchase orders awaiting acknowledgement (BENCH_API_LINES lines each), then, with
BENCH_API_CONCURRENCY client threads (8), each for BENCH_API_SECONDS (10), measures:

1. the floor: GET /api/v1/whoami/ (key lookup, rate-limit token, a small JSON body);
2. POST /api/v1/purchase-orders/{number}/acknowledgements/: a different PO each time, every line
   accepted, a unique Idempotency-Key;
3. the same request for POs the second phase answered: refused with 422 ("it awaits no answer") after
   every read and check the route makes (key, idempotency claim, PO, lock, lines), with no write. It is
   the route's ceiling: no way of writing the acknowledgement can make phase 2 faster than this.

It prints requests per second, p50/p95 and the unexpected statuses of each, the ratio of the rates
(the goal: acknowledgements at least 0.35 of whoami) and the ratio of the ceiling. The client runs on
the same machine as the server, so it takes some of the CPU from every phase alike. Not a test: it
reports and never fails on the numbers; it exits non-zero only when it cannot run.
"""

from __future__ import annotations

import http.client
import itertools
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
SECONDS = float(os.environ.get("BENCH_API_SECONDS", "10"))
CONCURRENCY = int(os.environ.get("BENCH_API_CONCURRENCY", "8"))
WORKERS = os.environ.get("BENCH_API_WORKERS", "2")
PO_COUNT = int(os.environ.get("BENCH_API_POS", "4000"))
LINES = int(os.environ.get("BENCH_API_LINES", "3"))
WARMUP = 40  # requests per phase before the clock starts (imports, connections, caches)
GOAL = 0.35

# (method, path, body, headers) for one request
type Call = tuple[str, str, bytes | None, dict[str, str]]


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0
    ran_out: bool = False

    expected: str = "2"  # the status, or its first digit, that counts as done

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if status.startswith(self.expected))

    @property
    def errors(self) -> dict[str, int]:
        return {status: n for status, n in sorted(self.statuses.items()) if not status.startswith(self.expected)}

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _request(conn: http.client.HTTPConnection, call: Call) -> str:
    method, path, body, headers = call
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    return str(response.status)


def _run(phase: Phase, calls: Iterator[Call | None], port: int, seconds: float) -> None:
    """CONCURRENCY threads, each with its own connection, send calls until the clock or the calls run out."""
    lock = threading.Lock()
    start = time.monotonic()
    deadline = start + seconds

    def next_call() -> Call | None:
        with lock:
            call = next(calls, None)
            if call is None:
                phase.ran_out = True
            return call

    def worker() -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        latencies: list[float] = []
        statuses: Counter[str] = Counter()
        try:
            while time.monotonic() < deadline and (call := next_call()) is not None:
                began = time.perf_counter()
                try:
                    status = _request(conn, call)
                except (OSError, http.client.HTTPException) as error:
                    status = type(error).__name__
                    conn.close()
                latencies.append(time.perf_counter() - began)
                statuses[status] += 1
        finally:
            conn.close()
            with lock:
                phase.latencies.extend(latencies)
                phase.statuses.update(statuses)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(CONCURRENCY)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 60)
    phase.elapsed = time.monotonic() - start


def _report(phase: Phase) -> None:
    if not phase.latencies:
        print(f"{phase.name:<16} no requests completed")  # noqa: T201
        return
    p50, p95 = _percentile(phase.latencies, 50), _percentile(phase.latencies, 95)
    errors = ", ".join(f"{status}: {n}" for status, n in phase.errors.items()) or "none"
    print(  # noqa: T201
        f"{phase.name:<16} {phase.rate:7.1f} req/s  n={phase.ok:<6} p50={p50 * 1000:6.1f} ms  "
        f"p95={p95 * 1000:6.1f} ms  mean={statistics.fmean(phase.latencies) * 1000:6.1f} ms  "
        f"unexpected: {errors}"
    )
    if phase.ran_out:
        print(f"{'':<16} (ran out of purchase orders after {phase.elapsed:.1f} s: raise BENCH_API_POS)")  # noqa: T201


def _wait_until_up(server: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer within 60 s:\n{log.read_text()[-3000:]}")


def _fixtures(run: str) -> tuple[str, list[str], int]:
    """A supplier, a key with every scope and PO_COUNT issued POs of LINES lines; (key, PO numbers, subscriptions)."""
    from django.db import transaction

    from planning_sync.models import Subscription
    from purchasing.models import PurchaseOrder, PurchaseOrderLine
    from suppliers.models import ApiScope
    from suppliers.services import api_key_create
    from tests.factories import (
        BuyerFactory,
        ItemFactory,
        PurchaseOrderFactory,
        PurchaseOrderLineFactory,
        SiteFactory,
        SupplierFactory,
    )

    # Named after the run: the database may hold earlier runs' (and the other benchmark's) rows.
    with transaction.atomic():
        buyer = BuyerFactory.create(email=f"buyer-{run}@bench.example")
        supplier = SupplierFactory.create(
            code=f"APIB{run}", name="Acme Bench Supply", erp_vendor_id=f"VB{run}", buyer=buyer
        )
        _, key = api_key_create(supplier=supplier, name="bench", scopes=list(ApiScope.values), by=None, expires_at=None)
        site = SiteFactory.create(code=f"B{run}")
        items = [ItemFactory.create(sku=f"SKU-B{run}-{n}") for n in range(LINES)]
        numbers = [f"PO-B{run}-{n:05d}" for n in range(PO_COUNT)]
        orders = PurchaseOrder.objects.bulk_create(
            [
                PurchaseOrderFactory.build(supplier=supplier, buyer=buyer, site=site, number=number)
                for number in numbers
            ],
            batch_size=1000,
        )
        PurchaseOrderLine.objects.bulk_create(
            [
                PurchaseOrderLineFactory.build(po=po, item=items[n], line_number=10 * (n + 1))
                for po in orders
                for n in range(LINES)
            ],
            batch_size=2000,
        )
    subscriptions = Subscription.objects.filter(
        event_type="supplyline.po.acknowledged.v1", connector__is_enabled=True
    ).count()
    return key, numbers, subscriptions


def main() -> None:
    _setup_django()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    run = str(int(time.time()))
    key, numbers, subscriptions = _fixtures(run)

    folder = Path(tempfile.mkdtemp(prefix="supplyline-bench-api-"))
    log = folder / "gunicorn.log"
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_ENV": "development",
        "DJANGO_DEBUG": "false",
        "SUPPLYLINE_API_RATE": "1000000",
        "SUPPLYLINE_API_BURST": "1000000",
        "DB_CONN_MAX_AGE": "60",
        "LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "--bind",
            f"{HOST}:{port}",
            "--workers",
            WORKERS,
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_until_up(server, port, log)
        auth = {"Authorization": f"Bearer {key}", "Host": f"{HOST}:{port}"}
        whoami: Call = ("GET", "/api/v1/whoami/", None, auth)
        body = orjson.dumps({"lines": [{"line_number": 10 * (n + 1), "action": "accept"} for n in range(LINES)]})
        pending = iter(numbers)

        def acknowledgements() -> Iterator[Call | None]:
            for number in pending:
                headers = {**auth, "Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())}
                yield ("POST", f"/api/v1/purchase-orders/{number}/acknowledgements/", body, headers)

        def phase(name: str, calls: Callable[[], Iterator[Call | None]], expected: str = "2") -> Phase:
            _run(Phase("warm-up"), itertools.islice(calls(), WARMUP), port, 30)
            measured = Phase(name, expected=expected)
            _run(measured, calls(), port, SECONDS)
            return measured

        floor = phase("whoami", lambda: itertools.repeat(whoami))
        answered: list[str] = []

        def acknowledgements_taken() -> Iterator[Call | None]:
            for call in acknowledgements():
                if call is not None:
                    answered.append(call[1])
                yield call

        acks = phase("acknowledgement", acknowledgements_taken)

        def refusals() -> Iterator[Call | None]:
            for path in itertools.cycle(answered[:500]):
                headers = {**auth, "Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())}
                yield ("POST", path, body, headers)

        # The same request for a PO already answered: every read and check of the route, no write.
        refused = phase("ack refused", refusals, expected="422")
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited during the run:\n{log.read_text()[-3000:]}")

        print(  # noqa: T201
            f"\ngunicorn config.wsgi, {WORKERS} sync workers; {CONCURRENCY} client threads for {SECONDS:g} s each, "
            f"on {os.cpu_count()} cores; {LINES} lines per PO, {subscriptions} connector(s) subscribed to "
            "po.acknowledged"
        )
        _report(floor)
        _report(acks)
        _report(refused)
        ratio = acks.rate / floor.rate if floor.rate else 0.0
        verdict = "meets" if ratio >= GOAL else "below"
        print(f"ratio acknowledgement/whoami: {ratio:.2f} ({verdict} the goal >= {GOAL})")  # noqa: T201
        ceiling = refused.rate / floor.rate if floor.rate else 0.0
        print(f"ratio ack refused/whoami: {ceiling:.2f} (the route's reads and checks alone: its ceiling)")  # noqa: T201
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        # No worker runs here: drop the delivery wake-ups the acknowledgements queued (the bench's Redis).
        from config.celery import app

        try:
            app.control.purge()
        except Exception as error:
            print(f"could not purge the task queues at {settings.REDIS_URL}: {error}")  # noqa: T201


if __name__ == "__main__":
    main()
