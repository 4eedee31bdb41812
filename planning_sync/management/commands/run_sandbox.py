"""Run the sandbox: the reference ERP and planning system, over HTTP on a loopback port."""

from __future__ import annotations

import ipaddress
import signal
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from planning_sync.sandbox import SandboxServer

LOOPBACK_NAMES = ("localhost",)


class Command(BaseCommand):
    help = "Run the sandbox ERP and planning system (events, ledgers, feeds, faults) until Ctrl-C or SIGTERM."
    # The sandbox uses neither the database nor the project's models: start fast, even without them.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to bind (default 127.0.0.1).")
        parser.add_argument("--port", type=int, default=8100, help="Port (default 8100; 0 picks a free one).")
        parser.add_argument("--db", type=Path, help="SQLite file (default DATA_DIR/sandbox.sqlite3).")
        parser.add_argument("--seed", type=int, help="Seed for fault injection, for reproducible runs.")

    def handle(self, *args: Any, **options: Any) -> None:
        db_path: Path = options["db"] or Path(settings.DATA_DIR) / "sandbox.sqlite3"
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self._warn_if_exposed(options["host"])
        server = self._server(options["host"], options["port"], db_path, options["seed"])
        # Both ways out, set explicitly: a shell's background job starts with SIGINT ignored, and the
        # ignore would be inherited, leaving Ctrl-C (or a test's SIGINT) without effect.
        signal.signal(signal.SIGTERM, _interrupt)
        signal.signal(signal.SIGINT, _interrupt)
        self.stdout.write(f"Sandbox ERP and planning system on {server.url} (data in {db_path})")
        self.stdout.flush()  # a parent process reading the URL from a pipe must see it now
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("Sandbox stopped.")

    def _server(self, host: str, port: int, db_path: Path, seed: int | None) -> SandboxServer:
        try:
            return SandboxServer(host, port, db_path=db_path, seed=seed)
        except OSError as error:
            raise CommandError(f"Cannot listen on {host}:{port}: {error}") from error

    def _warn_if_exposed(self, host: str) -> None:
        if host in LOOPBACK_NAMES or _is_loopback_address(host):
            return
        self.stderr.write(f"Warning: the sandbox has no authentication and {host} is not a loopback address.")


def _is_loopback_address(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM takes the same way out as Ctrl-C, so the server closes its socket and database.
    raise KeyboardInterrupt
