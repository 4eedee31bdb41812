"""Propose the mappings of a Tryton connector by codes, and save them with --apply."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from planning_sync.connectors.tryton import mapping
from planning_sync.connectors.tryton.connector import client_for
from planning_sync.connectors.tryton.rpc import TrytonError
from planning_sync.models import Connector, TrytonMapping

HEADINGS = {
    TrytonMapping.Kind.SUPPLIER: "Tryton parties → suppliers (party code = ERP vendor id, else supplier code)",
    TrytonMapping.Kind.ITEM: "Tryton products → items (product code = SKU)",
    TrytonMapping.Kind.SITE: "Tryton warehouses → sites (warehouse code = site code)",
}


class Command(BaseCommand):
    help = (
        "List the mappings of Tryton parties, products and warehouses to our suppliers, items and sites that "
        "match exactly by code, and what matches nothing; --apply saves the proposed ones. Nothing is guessed: "
        "map the rest under Planning sync > Tryton mappings."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--connector", required=True, help="The Tryton connector's name.")
        parser.add_argument("--apply", action="store_true", help="Save the proposed mappings.")

    def handle(self, *args: Any, **options: Any) -> None:
        connector = Connector.objects.filter(name=options["connector"]).first()
        if connector is None or connector.kind != "tryton":
            raise CommandError(f"No Tryton connector is named {options['connector']!r}.")
        client = client_for(connector)
        try:
            proposals = [
                proposal
                for kind in HEADINGS
                for proposal in mapping.propose(connector, kind, mapping.tryton_records(client, kind))
            ]
        except TrytonError as error:
            raise CommandError(f"Could not read from Tryton at {client.endpoint}: {error}") from None
        self._report(proposals)
        if options["apply"]:
            saved = mapping.proposals_apply(connector, proposals)
            self.stdout.write(f"Saved {saved} mappings.")
        elif any(p.local_id is not None and not p.already_mapped for p in proposals):
            self.stdout.write("Dry run: nothing was saved. Run again with --apply to save the proposed mappings.")

    def _report(self, proposals: list[mapping.Proposal]) -> None:
        for kind, heading in HEADINGS.items():
            self.stdout.write(heading)
            for proposal in (p for p in proposals if p.kind == kind):
                record = proposal.record
                what = f"{record.code or '(no code)'} {record.name!r} (id {record.id})"
                if proposal.already_mapped:
                    self.stdout.write(f"  mapped    {what} = {proposal.local_label}")
                elif proposal.local_id is not None:
                    self.stdout.write(f"  proposed  {what} → {proposal.local_label}")
                else:
                    self.stdout.write(f"  no match  {what}")
        counts = [
            sum(1 for p in proposals if p.local_id is not None and not p.already_mapped),
            sum(1 for p in proposals if p.already_mapped),
            sum(1 for p in proposals if p.local_id is None),
        ]
        self.stdout.write("{} proposed, {} already mapped, {} without a match.".format(*counts))
