"""Send dead or delivered deliveries again, with their original event ids, chosen by filters."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from planning_sync import delivery
from planning_sync.models import Connector, Delivery

FILTERS = ("connector", "event_type", "status", "since", "until", "po_number")


def iso_datetime(value: str) -> dt.datetime:
    """An ISO 8601 date or time; without an offset it is read in the project's TIME_ZONE."""
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO 8601 time, e.g. 2026-03-01T08:00+01:00.") from None
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)


class Command(BaseCommand):
    help = (
        "Replay dead or delivered deliveries matching the filters: they become pending and are sent again "
        "with the same event ids, so receivers apply each event once. Times filter on when the event was recorded."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--connector", default="", help="Connector name, e.g. erp-sandbox.")
        parser.add_argument(
            "--type", dest="event_type", default="", help="Event type, e.g. supplyline.po.acknowledged.v1."
        )
        parser.add_argument("--status", choices=[Delivery.Status.DEAD, Delivery.Status.DELIVERED], default="")
        parser.add_argument("--since", type=iso_datetime, help="Events recorded at or after this ISO 8601 time.")
        parser.add_argument("--until", type=iso_datetime, help="Events recorded before this ISO 8601 time.")
        parser.add_argument("--po", dest="po_number", default="", help="Only events of this purchase order number.")
        parser.add_argument("--dry-run", action="store_true", help="Count what matches; change nothing.")
        parser.add_argument(
            "--all", action="store_true", help="Allow replaying with no filter: every dead and delivered."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        filters = {name: options[name] for name in FILTERS if options[name]}
        if not filters and not options["all"]:
            raise CommandError(
                "Give at least one filter (--connector, --type, --status, --since, --until, --po), "
                "or --all to replay every dead and delivered delivery."
            )
        if filters.get("connector") and not Connector.objects.filter(name=filters["connector"]).exists():
            raise CommandError(f"No connector is named {filters['connector']!r}.")
        matching = delivery.replayable(**filters)
        count = matching.count()
        self.stdout.write(f"{count} {_deliveries(count)} match.")
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing was queued.")
            return
        queued = delivery.replay(matching)
        self.stdout.write(self.style.SUCCESS(f"Queued {queued} {_deliveries(queued)} for replay."))


def _deliveries(count: int) -> str:
    return "delivery" if count == 1 else "deliveries"
