"""Chaos: real Celery workers and beat deliver a stream of changes to the sandbox ERP while it fails a third
of its calls, a worker is killed with SIGKILL mid-batch, and the broker (a Redis this test starts) restarts.

When the faults clear, the ERP ledger must hold every event exactly once, each PO's events in commit
order, with no delivery left open. Bounded: it gives up after DEADLINE_S and only talks to 127.0.0.1.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from django.db import connection

from planning_sync.models import Connector, Delivery, OutboxEvent, Subscription
from planning_sync.sandbox import SandboxServer
from purchasing import services
from tests.factories import PurchaseOrderFactory, PurchaseOrderLineFactory

pytestmark = [pytest.mark.chaos, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
DEADLINE_S = 120
PO_COUNT = 24
FAULTS = {
    "error_rate": 0.33,
    "error_statuses": [500, 503, 429],
    "timeout_rate": 0.05,
    "retry_after_s": 1,
    "latency_ms": 40,  # keeps deliveries in flight long enough to be caught by the kill
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A throwaway Redis on a port of its own, which the test can restart."""

    def __init__(self, folder: Path) -> None:
        self.port = _free_port()
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is needed for the chaos test"
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen([*command, "--dir", str(self.folder)], stdout=subprocess.DEVNULL)  # noqa: S603
        _wait(lambda: _redis_answers(self.port), "redis to start")

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=10)


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _wait(predicate, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Celery:
    """Worker and beat processes of the project, on the test database and the test's Redis."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env = env
        self.folder = folder
        self.processes: list[subprocess.Popen[bytes]] = []

    def _spawn(self, *args: str) -> subprocess.Popen[bytes]:
        log = (self.folder / f"{args[0]}-{len(self.processes)}.log").open("wb")
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "celery", "-A", "config", *args],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so SIGKILL reaches the pool children too
        )
        self.processes.append(process)
        return process

    def worker(self) -> subprocess.Popen[bytes]:
        return self._spawn(
            "worker",
            "-Q",
            "critical,default,bulk",
            "--concurrency",
            "2",
            "-l",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "-n",
            f"chaos{len(self.processes)}@%h",
        )

    def beat(self) -> subprocess.Popen[bytes]:
        return self._spawn("beat", "-l", "INFO", "-s", str(self.folder / "beat-schedule"))

    @staticmethod
    def kill(process: subprocess.Popen[bytes]) -> None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture
def sandbox(tmp_path) -> Iterator[SandboxServer]:
    server = SandboxServer(db_path=tmp_path / "sandbox.sqlite3", seed=4).start()
    yield server
    server.stop()


@pytest.fixture
def chaos(tmp_path, sandbox) -> Iterator[tuple[Celery, RedisServer]]:
    redis = RedisServer(tmp_path)
    redis.start()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": redis.url,
        "DB_CONN_MAX_AGE": "0",
        "SUPPLYLINE_DATA_DIR": str(tmp_path),
        "PLANNING_SYNC_LEASE_S": "3",
        "PLANNING_SYNC_RETRY_BASE_S": "0.05",
        "PLANNING_SYNC_RETRY_CAP_S": "1",
        "PLANNING_SYNC_CIRCUIT_COOLDOWN_S": "1",
        "PLANNING_SYNC_SWEEP_S": "1",
        "LOG_FORMAT": "json",
    }
    celery = Celery(env, tmp_path)
    yield celery, redis
    celery.stop_all()
    redis.stop()
    shutil.copytree(
        tmp_path, ROOT / "artifacts" / "chaos", dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.sqlite3*")
    )


def _stream(pos, supplier_user, *, step: int) -> None:
    """One round of changes on every PO: answers and buyer change orders, each in its own transaction."""
    for po in pos:
        if step % 2 == 0:
            services.acknowledgement_accept_all(po=po, by=supplier_user, channel="api", expected_version=None)
        else:
            change = services.LineChange(10, quantity=Decimal(100 + step))
            services.change_order_issue(po=po, by=None, expected_version=None, changes=[change], channel="erp")


def test_every_event_reaches_the_erp_exactly_once_and_in_order_through_chaos(chaos, sandbox, supplier, supplier_user):
    celery, redis = chaos
    erp = Connector.objects.create(
        name="erp", kind="webhook", config={"url": f"{sandbox.url}/erp/events"}, timeout_s=1, max_attempts=1000
    )
    Subscription.objects.create(connector=erp, event_type="supplyline.po.*")
    httpx.put(f"{sandbox.url}/faults", json=FAULTS).raise_for_status()
    pos = [PurchaseOrderFactory(supplier=supplier) for _ in range(PO_COUNT)]
    for po in pos:
        PurchaseOrderLineFactory(po=po, line_number=10)
    first_worker = celery.worker()
    celery.beat()

    _stream(pos, supplier_user, step=0)
    _stream(pos, supplier_user, step=1)
    _wait(lambda: Delivery.objects.filter(status=Delivery.Status.IN_FLIGHT).exists(), "deliveries in flight")
    celery.kill(first_worker)  # SIGKILL mid-batch: its claims stay in flight until their leases expire
    celery.worker()
    _stream(pos, supplier_user, step=2)
    redis.stop()  # the broker goes away: wake-ups are lost, workers and beat reconnect
    _stream(pos, supplier_user, step=3)
    redis.start()
    _stream(pos, supplier_user, step=4)
    time.sleep(3)  # let the workers fight the faults after the restart before they clear
    httpx.delete(f"{sandbox.url}/faults").raise_for_status()

    open_statuses = (Delivery.Status.PENDING, Delivery.Status.FAILED, Delivery.Status.IN_FLIGHT)
    _wait(lambda: not Delivery.objects.filter(status__in=open_statuses).exists(), "every delivery", DEADLINE_S)

    events = list(OutboxEvent.objects.order_by("id"))
    assert len(events) == PO_COUNT * 5
    assert set(Delivery.objects.values_list("status", flat=True)) == {Delivery.Status.DELIVERED}
    attempts = sum(Delivery.objects.values_list("attempts", flat=True))
    assert attempts > len(events), "the faults never hit: this run proved nothing"
    ledger = httpx.get(f"{sandbox.url}/erp/ledger").json()
    ids = [entry["id"] for entry in ledger]
    assert len(ids) == len(set(ids)), "an event was applied twice"
    assert set(ids) == {str(e.event_id) for e in events}, "an event was lost"
    for po in pos:
        committed = [str(e.event_id) for e in events if e.subject == po.number]
        arrived = [entry["id"] for entry in ledger if entry["subject"] == po.number]
        assert arrived == committed, f"{po.number}'s events arrived out of order"
    redelivered = sum(entry["duplicates"] for entry in ledger)
    print(f"chaos: {len(events)} events, {attempts} attempts, {redelivered} duplicates absorbed")  # noqa: T201
