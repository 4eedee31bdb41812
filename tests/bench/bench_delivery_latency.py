"""Benchmark: commit-to-delivered latency of supplier commitments to the ERP, against a floor.

Run with `make bench`. It needs PostgreSQL and Redis on 127.0.0.1 and uses its own database
(supplyline_bench, created and migrated here). It starts the sandbox ERP (its own process) and the two
Celery workers docs/operations.md recommends: one on the critical queue (BENCH_WORKERS processes, 2 by
default) and one on default and bulk (BENCH_OTHER_WORKERS, 1), where the exception rules run. Then:

1. floor: at a steady rate, commit one row and, on commit, send a no-op task that notes when
   it ran; the floor is commit -> task ran;
2. engine: at the same rate, commit an acknowledgement (one PO) and measure the event's
   commit (when the service returns) -> the delivery's delivered time at the sandbox ERP.

It prints p50/p95 of both and the ratio of the p95s (the goal: within 3x the floor).
Not a test: numbers on a shared 2-core machine vary, so it reports and never fails on them.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RATE_PER_S = float(os.environ.get("BENCH_RATE", "20"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "15"))
WORKERS = os.environ.get("BENCH_WORKERS", "2")  # processes of the critical worker
OTHER_WORKERS = os.environ.get("BENCH_OTHER_WORKERS", "1")  # processes of the default and bulk worker


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def _report(name: str, values: list[float]) -> tuple[float, float]:
    p50, p95 = _percentile(values, 50), _percentile(values, 95)
    print(  # noqa: T201
        f"{name:<28} n={len(values):<5} p50={p50 * 1000:7.1f} ms  p95={p95 * 1000:7.1f} ms  "
        f"mean={statistics.fmean(values) * 1000:7.1f} ms"
    )
    return p50, p95


def _paced(count: int, action) -> None:
    interval = 1 / RATE_PER_S
    start = time.monotonic()
    for n in range(count):
        delay = start + n * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        action(n)


def _worker(queues: str, processes: str, log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            queues,
            "-n",
            f"bench-{queues.split(',')[0]}@%h",
            "--concurrency",
            processes,
            "-l",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "-I",
            "tests.bench.noop",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def main() -> None:
    _setup_django()
    from django.core.management import call_command
    from django.db import connection, transaction

    call_command("migrate", verbosity=0)
    import redis
    from django.conf import settings

    from planning_sync.models import Connector, Delivery, Subscription
    from purchasing import services
    from tests.bench.noop import FLOOR_KEY, noop
    from tests.factories import PurchaseOrderFactory, PurchaseOrderLineFactory, SupplierFactory, UserFactory

    folder = Path(tempfile.mkdtemp(prefix="supplyline-bench-"))
    # The sandbox in a process of its own, as `make run` has it: in this one it would share the
    # interpreter lock with the acknowledgements being timed.
    sandbox = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
        [sys.executable, "manage.py", "run_sandbox", "--port", "0", "--db", str(folder / "sandbox.sqlite3")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=(folder / "sandbox.log").open("wb"),
        text=True,
    )
    assert sandbox.stdout is not None
    sandbox_url = sandbox.stdout.readline().split(" on ", 1)[1].split()[0]
    # The deployment docs/operations.md recommends: a worker for the critical queue (supplier commitments
    # to the ERP) and one for default and bulk (among them the exception rules, which every event also
    # reaches), so the rules' work never queues ahead of a critical delivery. DEBUG off, as in production.
    env = {**os.environ, "DB_CONN_MAX_AGE": "60", "DJANGO_DEBUG": "false"}
    workers = [
        _worker("critical", WORKERS, folder / "worker-critical.log", env),
        _worker("default,bulk", OTHER_WORKERS, folder / "worker-default.log", env),
    ]
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        time.sleep(4)  # worker boot
        count = int(RATE_PER_S * SECONDS)
        client.delete(FLOOR_KEY)
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS bench_tick (id serial primary key, at timestamptz default now())"
            )

        def tick(_: int) -> None:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("INSERT INTO bench_tick DEFAULT VALUES")
                committed = time.time()
                transaction.on_commit(lambda: noop.apply_async(args=(committed,), queue="critical"))

        _paced(count, tick)
        time.sleep(2)
        floor = [float(v) for v in client.lrange(FLOOR_KEY, 0, -1)]

        erp = Connector.objects.create(name="bench-erp", kind="webhook", config={"url": f"{sandbox_url}/erp/events"})
        Subscription.objects.create(connector=erp, event_type="supplyline.po.acknowledged.v1")
        user = UserFactory.create()
        supplier = SupplierFactory.create()
        pos = []
        for _ in range(count):
            po = PurchaseOrderFactory.create(supplier=supplier)
            PurchaseOrderLineFactory.create(po=po, line_number=10)
            pos.append(po)
        committed: dict[str, float] = {}

        def acknowledge(n: int) -> None:
            services.acknowledgement_accept_all(po=pos[n], by=user, channel="api", expected_version=None)
            committed[pos[n].number] = time.time()  # the service's transaction has committed by now

        _paced(count, acknowledge)
        deadline = time.monotonic() + 60
        while Delivery.objects.filter(connector=erp).exclude(status=Delivery.Status.DELIVERED).exists():
            if time.monotonic() > deadline:
                raise SystemExit("deliveries did not finish within 60 s")
            time.sleep(0.2)
        rows = Delivery.objects.filter(connector=erp).values_list("event__subject", "delivered_at")
        engine = [max(0.0, delivered.timestamp() - committed[subject]) for subject, delivered in rows if delivered]
        # The same events reach the exception rules (default class, the other worker): how far behind they run.
        rules = Connector.objects.filter(name="exception-rules", is_enabled=True).first()
        lag: list[float] = []
        if rules is not None:
            mine = Delivery.objects.filter(
                connector=rules, event__type="supplyline.po.acknowledged.v1", event__subject__in=list(committed)
            )
            while mine.exclude(status=Delivery.Status.DELIVERED).exists() and time.monotonic() < deadline + 60:
                time.sleep(0.2)
            done = mine.filter(status=Delivery.Status.DELIVERED).values_list("event__subject", "delivered_at")
            lag = [max(0.0, delivered.timestamp() - committed[subject]) for subject, delivered in done if delivered]
        print(f"\nSteady rate {RATE_PER_S:g}/s for {SECONDS:g} s on {os.cpu_count()} cores")  # noqa: T201
        _, floor_p95 = _report("floor (commit -> no-op task)", floor)
        _, engine_p95 = _report("commit -> delivered to ERP", engine)
        print(f"p95 ratio engine/floor: {engine_p95 / floor_p95:.2f} (goal <= 3)")  # noqa: T201
        if lag:
            _report("commit -> exception rules", lag)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
        sandbox.terminate()
        sandbox.wait(timeout=30)


if __name__ == "__main__":
    main()
