"""A real Tryton server for the connector's tests.

``tryton_template`` builds a Tryton database (SQLite, one file) with the purchase and stock modules and a
seeded company, supplier and products, once per checkout and Tryton version (see its docstring).
``tryton`` gives each test its own copy of that file served by its own ``trytond`` on a free loopback
port, with the same ids; the next test's server is started while a test runs (trytond takes one to two
seconds to load its modules). Tests in other folders import all three fixtures.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing, suppress
from dataclasses import dataclass, field
from decimal import Decimal
from importlib.metadata import distributions
from pathlib import Path
from typing import Any

import httpx
import pytest

from planning_sync.connectors.tryton.rpc import TrytonClient

BIN = Path(sys.executable).parent
CACHE_DIR = Path(__file__).resolve().parents[2] / ".data" / "test-cache"
DATABASE = "supplyline"
USERNAME = "admin"
PASSWORD = "tryton-admin-secret"
MODULES = ["-u", "purchase", "stock", "--email", "admin@example.com"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write_conf(workdir: Path, port: int) -> Path:
    conf = workdir / "trytond.conf"
    conf.write_text(
        f"[database]\nuri = sqlite://\npath = {workdir}\n\n"
        f"[web]\nlisten = 127.0.0.1:{port}\n\n"
        "[session]\nauthentications = password\n"
    )
    return conf


@dataclass
class TrytonServer:
    """One trytond process serving one database file in ``workdir``; stop() and start() keep the port."""

    workdir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    ids: dict[str, int] = field(default_factory=dict)
    database: str = DATABASE
    username: str = USERNAME
    password: str = PASSWORD
    client: TrytonClient = field(init=False)

    def __post_init__(self) -> None:
        self.client = self.connect()  # logs in lazily, on its first call

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def connect(self, timeout: float = 10) -> TrytonClient:
        return TrytonClient(
            url=self.url, database=self.database, username=self.username, password=self.password, timeout=timeout
        )

    def start(self) -> None:
        conf = _write_conf(self.workdir, self.port)
        with (self.workdir / "trytond.log").open("ab") as log:
            # -d loads the database at start: Tryton 8 answers requests for a database it did not preload with errors.
            self.process = subprocess.Popen(  # noqa: S603 - our own venv's trytond
                [str(BIN / "trytond"), "-c", str(conf), "-d", self.database],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_ready()

    def _wait_ready(self) -> None:
        ping = {"id": 0, "method": "common.server.version", "params": []}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                log = (self.workdir / "trytond.log").read_text()[-2000:]
                raise RuntimeError(f"trytond exited with {self.process.returncode}:\n{log}")
            try:
                if httpx.post(f"{self.url}/rpc/", json=ping, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("trytond did not answer within 30 s")

    def stop(self) -> None:
        if self.process is None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None


def _create_database(workdir: Path) -> None:
    conf = _write_conf(workdir, 0)
    (workdir / f"{DATABASE}.sqlite").touch()  # the SQLite backend opens the file; trytond-admin does not create it
    passfile = workdir / "admin-password"
    passfile.write_text(PASSWORD)
    subprocess.run(  # noqa: S603 - our own venv's trytond-admin
        [str(BIN / "trytond-admin"), "-c", str(conf), "-d", DATABASE, "--all", "--activate-dependencies", *MODULES],
        env={**os.environ, "TRYTONPASSFILE": str(passfile)},
        check=True,
        capture_output=True,
    )


def seed(client: TrytonClient) -> dict[str, int]:
    """A company paying in USD (the admin works for it), supplier ACME-T, products SKU-T1 and SKU-T2, warehouse WH."""
    (usd,) = client.create(
        "currency.currency",
        [{"name": "US Dollar", "code": "USD", "symbol": "$", "rounding": Decimal("0.01"), "digits": 2}],
    )
    company_party, supplier = client.create(
        "party.party",
        [
            {"name": "Supplyline Distribution Inc"},
            {"name": "ACME Tryton Supplies", "code": "ACME-T", "addresses": [["create", [{"street": "1 Main St"}]]]},
        ],
    )
    (company,) = client.create("company.company", [{"party": company_party, "currency": usd}])
    (admin,) = client.search_read("res.user", [("login", "=", USERNAME)], ["id"])
    client.write("res.user", [admin["id"]], {"companies": [["add", [company]]], "company": company})
    client.login()  # the context (the user's preferences) now carries the company
    (unit,) = client.search_read("product.uom", [("symbol", "=", "u")], ["id"])
    (warehouse,) = client.search_read(
        "stock.location",
        [("code", "=", "WH"), ("type", "=", "warehouse")],
        ["id", "input_location", "storage_location"],
    )
    (address,) = client.search_read("party.address", [("party", "=", supplier)], ["id"])
    templates = client.create(
        "product.template",
        [
            {
                "name": name,
                "type": "goods",
                "purchasable": True,
                "default_uom": unit["id"],
                "purchase_uom": unit["id"],
                "list_price": Decimal(0),
                "products": [["create", [{"suffix_code": code}]]],
            }
            for name, code in [("Widget", "SKU-T1"), ("Gadget", "SKU-T2")]
        ],
    )
    products = client.search_read("product.product", [("template", "in", templates)], ["id", "code"])
    by_code = {row["code"]: row["id"] for row in products}
    return {
        "usd": usd,
        "company": company,
        "admin": admin["id"],
        "supplier": supplier,
        "supplier_address": address["id"],
        "unit": unit["id"],
        "warehouse": warehouse["id"],
        "warehouse_input": warehouse["input_location"],
        "warehouse_storage": warehouse["storage_location"],
        "product_t1": by_code["SKU-T1"],
        "product_t2": by_code["SKU-T2"],
    }


@dataclass(frozen=True)
class TrytonTemplate:
    path: Path
    ids: dict[str, Any]


def _cache_key() -> str:
    """Changes with the code that builds the database and with the installed Tryton modules."""
    versions = sorted(f"{d.metadata['Name']}=={d.version}" for d in distributions() if "trytond" in d.metadata["Name"])
    code = inspect.getsource(_create_database) + inspect.getsource(seed) + repr(MODULES)
    return hashlib.sha256((code + "".join(versions)).encode()).hexdigest()[:16]


def _build_template(workdir: Path) -> dict[str, int]:
    _create_database(workdir)
    server = TrytonServer(workdir)
    server.start()
    try:
        ids = seed(server.client)
        server.client.close()
    finally:
        server.stop()
    # Tryton keeps SQLite in WAL mode: fold the log into the database file, which is all the copies take.
    with closing(sqlite3.connect(workdir / f"{DATABASE}.sqlite")) as database:
        database.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return ids


@pytest.fixture(scope="session")
def tryton_template(tmp_path_factory: pytest.TempPathFactory) -> TrytonTemplate:
    """The seeded database file, built once (trytond-admin takes 15 to 30 s) and kept in .data/test-cache
    under a key of the seed's code and the Tryton versions, so later sessions start at once."""
    cache = CACHE_DIR / f"tryton-{_cache_key()}"
    if not (cache / "ids.json").exists():
        workdir = tmp_path_factory.mktemp("tryton-template")
        ids = _build_template(workdir)
        (workdir / "ids.json").write_text(json.dumps(ids))
        cache.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=cache.parent))
        for name in (f"{DATABASE}.sqlite", "ids.json"):
            shutil.copy(workdir / name, staging / name)
        # Another session may have built it meanwhile: the first rename wins, both copies are equal.
        with suppress(OSError):
            staging.rename(cache)
        shutil.rmtree(staging, ignore_errors=True)
    return TrytonTemplate(path=cache / f"{DATABASE}.sqlite", ids=json.loads((cache / "ids.json").read_text()))


class _Spares:
    """Serves each test a server started (and logged in to) while the previous test ran, so no test waits
    for trytond to load its modules."""

    def __init__(self, template: TrytonTemplate, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.template = template
        self.tmp_path_factory = tmp_path_factory
        self.starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tryton-spare")
        self.next: Future[TrytonServer] | None = None

    def _start_one(self) -> TrytonServer:
        workdir = self.tmp_path_factory.mktemp("tryton")
        shutil.copy(self.template.path, workdir / f"{DATABASE}.sqlite")
        server = TrytonServer(workdir, ids=dict(self.template.ids))
        server.start()
        server.client.login()
        return server

    def take(self) -> TrytonServer:
        server = (self.next or self.starter.submit(self._start_one)).result()
        self.next = self.starter.submit(self._start_one)
        return server

    def close(self) -> None:
        if self.next is not None:
            with suppress(Exception):
                self.next.result().stop()
        self.starter.shutdown()


@pytest.fixture(scope="session")
def _tryton_spares(tryton_template: TrytonTemplate, tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Spares]:
    spares = _Spares(tryton_template, tmp_path_factory)
    yield spares
    spares.close()


@pytest.fixture
def tryton(_tryton_spares: _Spares) -> Iterator[TrytonServer]:
    """A fresh copy of the seeded database served by its own trytond; ``.client`` is logged in as admin."""
    server = _tryton_spares.take()
    try:
        yield server
    finally:
        server.client.close()
        server.stop()
