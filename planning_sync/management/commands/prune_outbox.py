"""Delete the delivered outbox events past the retention period now, as the nightly beat task does."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from planning_sync import retention


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


class Command(BaseCommand):
    help = (
        "Delete outbox events recorded more than PLANNING_SYNC_RETENTION_DAYS ago whose deliveries are all "
        "delivered, with those deliveries. Events with work left (pending, failing, in flight) or a dead "
        "letter are kept."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Count what would be deleted; change nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        days = settings.PLANNING_SYNC_RETENTION_DAYS
        if retention.cutoff() is None:
            self.stdout.write("PLANNING_SYNC_RETENTION_DAYS is 0: every event is kept, nothing was deleted.")
            return
        if options["dry_run"]:
            preview = retention.prune_preview()
            self.stdout.write(
                f"{_plural(preview.events, 'event', 'events')} recorded before {preview.before:%Y-%m-%d %H:%M %Z} "
                f"({days} days) and {_plural(preview.deliveries, 'delivery', 'deliveries')} would be deleted."
            )
            self.stdout.write("Dry run: nothing was deleted.")
            return
        pruned = retention.prune_outbox()
        self.stdout.write(
            f"Deleted {_plural(pruned.events, 'event', 'events')} recorded before "
            f"{pruned.before:%Y-%m-%d %H:%M %Z} ({days} days) and "
            f"{_plural(pruned.deliveries, 'delivery', 'deliveries')}."
        )
