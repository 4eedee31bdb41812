"""Store a first supply projection of every item and site, opening no case: run once before the rules go live."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from exceptions.supply_risk import baseline_pairs, supply_risk_baseline
from purchasing.models import Item, Site


class Command(BaseCommand):
    help = (
        "Compute and store the supply projection of every item and site with stock, demand or open supply as "
        "its snapshot, without opening any case, so that the first change of each pair opens a case only for "
        "what it makes worse. Pairs that already have a snapshot keep it. See docs/supply-risk.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--site", default="", help="Only this site (its code, e.g. DAL1).")
        parser.add_argument("--sku", default="", help="Only this item (its SKU).")

    def handle(self, *args: Any, **options: Any) -> None:
        site = Site.objects.filter(code=options["site"]).first() if options["site"] else None
        if options["site"] and site is None:
            raise CommandError(f"No site has the code {options['site']!r}.")
        item = Item.objects.filter(sku=options["sku"]).first() if options["sku"] else None
        if options["sku"] and item is None:
            raise CommandError(f"No item has the SKU {options['sku']!r}.")
        stored = kept = 0
        after = (0, 0)
        while pairs := baseline_pairs(site=site, item=item, after=after):
            items = Item.objects.in_bulk({item_id for item_id, _ in pairs})
            sites = Site.objects.in_bulk({site_id for _, site_id in pairs})
            for item_id, site_id in pairs:
                if supply_risk_baseline(item=items[item_id], site=sites[site_id]):
                    stored += 1
                else:
                    kept += 1
            after = pairs[-1]
        self.stdout.write(f"Stored the projection of {stored} item/site {_pairs(stored)}; {kept} already had one.")


def _pairs(count: int) -> str:
    return "pair" if count == 1 else "pairs"
