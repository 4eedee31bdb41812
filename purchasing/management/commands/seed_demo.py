"""Load a believable distributor for the demo: sites, suppliers, items, POs in every status.

Idempotent: the whole load runs in one transaction, and a database that already
holds the demo (its buyer login) is left as it is.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

import factory.random
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from planning_sync.models import Connector, Subscription
from purchasing.documents.shapes import PackageInput, ShipmentInput, ShipmentLineInput
from purchasing.inbound import demand_import, inventory_import, safety_stock_import
from purchasing.models import (
    Acknowledgement,
    AcknowledgementLine,
    Channel,
    HistoryEntry,
    Item,
    LineStatus,
    POStatus,
    PurchaseOrder,
    PurchaseOrderLine,
    ScheduleLine,
    Site,
)
from purchasing.rules import Delivery, LineTerms, tolerance_breaches
from purchasing.services.shipments import shipment_notice_submit
from suppliers.models import MANAGERS_GROUP, Supplier, SupplierItem, SupplierMembership, User
from tests.factories import (
    BuyerFactory,
    ItemFactory,
    PurchaseOrderFactory,
    PurchaseOrderLineFactory,
    ScheduleLineFactory,
    SiteFactory,
    SupplierFactory,
    SupplierItemFactory,
    SupplierMembershipFactory,
    UserFactory,
)

SEED = 20261129
SITES = [
    ("ATL", "Atlanta Distribution Center", "America/New_York"),
    ("DAL", "Dallas Distribution Center", "America/Chicago"),
    ("RNO", "Reno Distribution Center", "America/Los_Angeles"),
]
NAMED_SUPPLIERS = [
    ("ACME", "Acme Industrial Supply", "acme@example.com", ("Alex", "Acosta")),
    ("BOLT", "Bolt & Nut Co", "bolt@example.com", ("Bo", "Lindqvist")),
]
# ACME works in the portal; BOLT is an X12 supplier with a drop folder (SUPPLYLINE_EDI_ROOT/BOLT/inbound).
GS1_PREFIXES = {"ACME": "0614141", "BOLT": "0871234"}
EDI_SETTINGS = {"BOLT": {"edi_standard": "x12", "edi_qualifier": "ZZ", "edi_id": "BOLTNUT"}}
SUPPLIER_COUNT = 40
ITEM_COUNT = 500
PO_COUNT = 300
# Per named supplier: enough POs in each status to try every flow from its login.
NAMED_SUPPLIER_MIX = {
    POStatus.ISSUED: 24,
    POStatus.REVISED: 4,
    POStatus.CHANGES_PENDING: 3,
    POStatus.ACKNOWLEDGED: 8,
    POStatus.PARTIALLY_SHIPPED: 2,
    POStatus.SHIPPED: 2,
    POStatus.RECEIVED: 2,
    POStatus.CLOSED: 2,
    POStatus.CANCELLED: 1,
}
# The status each line of a PO takes, by the PO's status (the first line gets the first).
LINE_STATUSES: dict[str, list[str]] = {
    POStatus.ISSUED: [LineStatus.ISSUED],
    POStatus.REVISED: [LineStatus.REVISED, LineStatus.ACKNOWLEDGED],
    POStatus.CHANGES_PENDING: [LineStatus.CHANGES_PENDING, LineStatus.ACKNOWLEDGED],
    POStatus.ACKNOWLEDGED: [LineStatus.ACKNOWLEDGED],
    # Built acknowledged, then shipped through the shipment service (make_shipments).
    POStatus.PARTIALLY_SHIPPED: [LineStatus.ACKNOWLEDGED],
    POStatus.SHIPPED: [LineStatus.ACKNOWLEDGED],
    POStatus.RECEIVED: [LineStatus.RECEIVED],
    POStatus.CLOSED: [LineStatus.CLOSED],
    POStatus.CANCELLED: [LineStatus.CANCELLED],
}
UNPROMISED = {LineStatus.ISSUED, LineStatus.CANCELLED}
# POs whose supplier has acknowledged them (a revised one was acknowledged before the change).
ACKNOWLEDGED_ONCE = set(POStatus.values) - {POStatus.ISSUED, POStatus.CHANGES_PENDING, POStatus.CANCELLED}


class Command(BaseCommand):
    help = "Load the demo distributor (idempotent: does nothing when the demo is already there)."

    def handle(self, *args: Any, **options: Any) -> None:
        if User.objects.filter(email="buyer@example.com").exists():
            self.stdout.write("Demo data is already loaded; nothing to do.")
            return
        with transaction.atomic():
            summary = DemoLoader(random.Random(SEED)).load()  # noqa: S311 (demo data, not secrets)
        self.stdout.write(self.style.SUCCESS("Demo data loaded: " + ", ".join(f"{n} {k}" for k, n in summary.items())))


class DemoLoader:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.today = timezone.localdate()
        self.to_ship: dict[str, str] = {}  # PO number -> the shipping status make_shipments gives it
        factory.random.reseed_random(SEED)  # type: ignore[no-untyped-call]

    def load(self) -> dict[str, int]:
        self.make_connectors()
        buyers = self.make_people()
        sites = [SiteFactory.create(code=code, name=name, timezone=tz) for code, name, tz in SITES]
        items = self.make_items()
        suppliers = self.make_suppliers(buyers)
        catalog = self.make_supplier_items(suppliers, items)
        plan = self.po_plan(suppliers)
        self.make_purchase_orders(plan, sites, catalog)
        shipments = self.make_shipments()
        positions = self.make_stock_and_demand()
        return {
            "sites": len(sites),
            "suppliers": len(suppliers),
            "items": len(items),
            "purchase orders": PurchaseOrder.objects.count(),
            "lines": PurchaseOrderLine.objects.count(),
            "shipment notices": shipments,
            "stock positions": positions,
        }

    def make_connectors(self) -> None:
        """The sandbox ERP and planning system (``manage.py run_sandbox``), subscribed like a real deployment."""
        base = settings.SUPPLYLINE_SANDBOX_URL.rstrip("/")
        erp_events = ["supplyline.po.*", "supplyline.asn.*", "supplyline.receipt.*", "supplyline.supplier_item.*"]
        planning_events = [
            "supplyline.po.acknowledged.v1",
            "supplyline.po.line.changed.v1",
            "supplyline.asn.*",
            "supplyline.supply.*",
            "supplyline.supplier_item.*",  # lead times and minimums feed the plan
        ]
        wiring = {
            "erp-sandbox": ("/erp/events", erp_events, ["purchase_orders", "receipts", "inventory"]),
            "planning-sandbox": ("/planning/events", planning_events, ["demand", "safety_stock"]),
        }
        for name, (path, types, feeds) in wiring.items():
            connector = Connector.objects.create(
                name=name,
                kind="webhook",
                description=f"The built-in sandbox ({path})",
                config={"url": base + path, "auth": {"type": "none"}, "base_url": base, "pull_feeds": feeds},
                timeout_s=3,
            )
            Subscription.objects.bulk_create(Subscription(connector=connector, event_type=t) for t in types)

    def make_people(self) -> list[User]:
        UserFactory.create(
            email="admin@example.com", first_name="Ada", last_name="Admin", is_staff=True, is_superuser=True
        )
        lee = BuyerFactory.create(email="lee.buyer@example.com", first_name="Lee", last_name="Okafor")
        lee.groups.add(Group.objects.get_or_create(name=MANAGERS_GROUP)[0])  # oversees every supplier
        return [BuyerFactory.create(email="buyer@example.com", first_name="Bea", last_name="Buyer"), lee]

    def make_items(self) -> list[Item]:
        uoms = ["EA", "EA", "EA", "BX", "CS", "M", "KG"]
        built = [
            ItemFactory.build(sku=f"SKU-{10000 + n}", unit_of_measure=self.rng.choice(uoms)) for n in range(ITEM_COUNT)
        ]
        return Item.objects.bulk_create(built)

    def make_suppliers(self, buyers: list[User]) -> list[Supplier]:
        suppliers = []
        for index, (code, name, email, (first, last)) in enumerate(NAMED_SUPPLIERS):
            supplier = SupplierFactory.create(
                code=code,
                name=name,
                erp_vendor_id=f"V{200100 + index}",
                buyer=buyers[0],
                gs1_company_prefix=GS1_PREFIXES[code],
                **EDI_SETTINGS.get(code, {}),
            )
            user = UserFactory.create(email=email, first_name=first, last_name=last)
            SupplierMembershipFactory.create(user=user, supplier=supplier)
            suppliers.append(supplier)
        acme_shipping = UserFactory.create(email="acme.shipping@example.com", first_name="Sam", last_name="Shipper")
        SupplierMembershipFactory.create(
            user=acme_shipping, supplier=suppliers[0], role=SupplierMembership.Role.SHIPPING
        )
        # Works for both named suppliers, in different roles: the supplier switcher in the navigation bar.
        two_hats = UserFactory.create(email="dana@example.com", first_name="Dana", last_name="Duo")
        SupplierMembershipFactory.create(user=two_hats, supplier=suppliers[0], role=SupplierMembership.Role.ORDER_DESK)
        SupplierMembershipFactory.create(user=two_hats, supplier=suppliers[1], role=SupplierMembership.Role.VIEWER)
        for n in range(SUPPLIER_COUNT - len(NAMED_SUPPLIERS)):
            status = Supplier.Status.ON_HOLD if n % 17 == 16 else Supplier.Status.ACTIVE
            suppliers.append(
                SupplierFactory.create(
                    code=f"S{n + 1:03d}", erp_vendor_id=f"V{300100 + n}", buyer=buyers[n % 2], status=status
                )
            )
        return suppliers

    def make_supplier_items(self, suppliers: list[Supplier], items: list[Item]) -> dict[int, list[SupplierItem]]:
        built = []
        for supplier in suppliers:
            for n, item in enumerate(self.rng.sample(items, self.rng.randint(25, 60))):
                built.append(
                    SupplierItemFactory.build(
                        supplier=supplier,
                        item=item,
                        supplier_part_number=f"{supplier.code}-{n + 1:04d}",
                        lead_time_days=self.rng.choice([5, 7, 10, 14, 21, 30, 45]),
                        minimum_order_quantity=Decimal(self.rng.choice([1, 1, 5, 10, 25, 50])),
                        price=Decimal(self.rng.randint(25, 40_000)) / 100,
                    )
                )
        catalog: dict[int, list[SupplierItem]] = {}
        for supplier_item in SupplierItem.objects.bulk_create(built):
            catalog.setdefault(supplier_item.supplier_id, []).append(supplier_item)
        return catalog

    def po_plan(self, suppliers: list[Supplier]) -> list[tuple[Supplier, str]]:
        """Which supplier gets a PO in which status: the named ones a fixed mix, the rest at random."""
        plan: list[tuple[Supplier, str]] = [
            (s, status) for s in suppliers[:2] for status, n in NAMED_SUPPLIER_MIX.items() for _ in range(n)
        ]
        others = suppliers[2:]
        statuses = list(POStatus.values)
        weights = [20, 4, 4, 18, 6, 6, 8, 8, 3]
        while len(plan) < PO_COUNT:
            plan.append((self.rng.choice(others), self.rng.choices(statuses, weights)[0]))
        return plan

    def make_purchase_orders(
        self, plan: list[tuple[Supplier, str]], sites: list[Site], catalog: dict[int, list[SupplierItem]]
    ) -> None:
        orders = [self.build_po(number, supplier, status, sites) for number, (supplier, status) in enumerate(plan)]
        orders = PurchaseOrder.objects.bulk_create(orders)
        lines = [line for po in orders for line in self.build_lines(po, catalog[po.supplier_id])]
        lines = PurchaseOrderLine.objects.bulk_create(lines)
        ScheduleLine.objects.bulk_create([s for line in lines for s in self.build_schedule(line)])
        HistoryEntry.objects.bulk_create(
            HistoryEntry(po=po, channel=Channel.ERP, action="issued", summary="Issued from the ERP.") for po in orders
        )
        self.make_proposals([line for line in lines if line.status == LineStatus.CHANGES_PENDING])

    def make_proposals(self, lines: list[PurchaseOrderLine]) -> None:
        """Price proposals beyond tolerance on the lines waiting for a buyer, as a supplier would send them."""
        for line in lines:
            po = line.po
            current = LineTerms(
                line.ordered_quantity, line.unit_price, (Delivery(line.ordered_quantity, line.need_by_date),)
            )
            proposed = LineTerms(
                current.quantity, (line.unit_price * Decimal("1.08")).quantize(Decimal("0.01")), current.deliveries
            )
            ack = Acknowledgement.objects.create(po=po, revision=po.revision, channel=Channel.WEB)
            AcknowledgementLine.objects.create(
                acknowledgement=ack,
                line=line,
                action=AcknowledgementLine.Action.CHANGE,
                note="Raw material surcharge since last quarter.",
                before=current.as_json(),
                proposed=proposed.as_json(),
                breaches=tolerance_breaches(
                    current=current, proposed=proposed, need_by=line.need_by_date, tolerances=po.supplier.tolerances
                ),
                outcome=AcknowledgementLine.Outcome.PENDING,
            )

    def make_shipments(self) -> int:
        """Ship the POs planned as shipped or partially shipped, through the service every channel uses."""
        count = 0
        for po in PurchaseOrder.objects.filter(number__in=self.to_ship).select_related("supplier").order_by("pk"):
            half = self.to_ship[po.number] == POStatus.PARTIALLY_SHIPPED  # half of every line, or all of it
            ship_date = self.today - dt.timedelta(days=self.rng.randint(0, 6))
            shipment = ShipmentInput(
                number=f"ASN-{po.number.removeprefix('PO-')}",
                ship_date=ship_date,
                estimated_arrival=ship_date + dt.timedelta(days=self.rng.randint(1, 5)),
                carrier_scac=self.rng.choice(["UPSN", "FDEG", "ODFL", "SAIA"]),
                tracking_number=f"TRK{self.rng.randint(10**8, 10**9)}",
                packages=(PackageInput(ref="P1", kind="pallet"),) if po.supplier.gs1_company_prefix else (),
                lines=tuple(
                    ShipmentLineInput(
                        po.number,
                        line.line_number,
                        (line.ordered_quantity / 2).quantize(Decimal(1)) if half else line.ordered_quantity,
                        package_ref="P1" if po.supplier.gs1_company_prefix else None,
                        lot_number=f"L{self.rng.randint(1000, 9999)}",
                    )
                    for line in po.lines.order_by("line_number")
                ),
            )
            shipment_notice_submit(supplier=po.supplier, by=None, shipment=shipment, channel=Channel.EDI)
            count += 1
        return count

    def make_stock_and_demand(self) -> int:
        """On hand, safety stock and customer demand for the items the named suppliers have promised, through
        the feed imports the ERP and the planning system use, so their events reach the supply-risk rules.

        Every third position has a customer order due before the supplier's promise that the stock on hand
        cannot cover: once the worker has run the rules, those show as supply-risk cases in the queue.
        """
        lines = (
            PurchaseOrderLine.objects.filter(
                po__supplier__code__in=[code for code, *_ in NAMED_SUPPLIERS],
                status=LineStatus.ACKNOWLEDGED,
                schedule_lines__promised_date__gt=self.today + dt.timedelta(days=3),
            )
            .select_related("item", "po__site")
            .order_by("po__number", "line_number")
            .distinct()
        )
        positions: dict[tuple[str, str], PurchaseOrderLine] = {}
        for line in lines:
            positions.setdefault((line.item.sku, line.po.site.code), line)
            if len(positions) == 12:
                break
        as_of = timezone.now().isoformat()
        for index, ((sku, site), line) in enumerate(positions.items()):
            quantity = line.ordered_quantity
            promised = min(s.promised_date for s in line.schedule_lines.all())
            on_hand = (quantity * Decimal("0.4")).quantize(Decimal(1))
            where = {"item_sku": sku, "site_code": site}
            inventory_import({**where, "quantity": str(on_hand), "as_of": as_of})
            safety_stock_import({**where, "quantity": str((quantity * Decimal("0.2")).quantize(Decimal(1)))})
            at_risk = index % 3 == 0
            demand_import(
                {
                    **where,
                    "external_id": f"SO-{70001 + index}",
                    "date": (
                        promised - dt.timedelta(days=3) if at_risk else promised + dt.timedelta(days=7)
                    ).isoformat(),
                    "quantity": str(
                        on_hand + quantity if at_risk else (quantity * Decimal("0.5")).quantize(Decimal(1))
                    ),
                    "kind": "customer_order",
                    "priority": 1 if at_risk else 3,
                    "customer_reference": f"Customer order {70001 + index}",
                }
            )
        return len(positions)

    def build_po(self, number: int, supplier: Supplier, status: str, sites: list[Site]) -> PurchaseOrder:
        if status in (POStatus.SHIPPED, POStatus.PARTIALLY_SHIPPED):
            self.to_ship[f"PO-{500001 + number}"] = status
            return self.build_po(number, supplier, POStatus.ACKNOWLEDGED, sites)
        awaiting = status in PurchaseOrder.AWAITING_ACK_STATUSES
        # Orders awaiting an answer are recent (a few already overdue); the rest are older.
        age_days = self.rng.randint(0, 4) if awaiting else self.rng.randint(5, 120)
        order_date = self.today - dt.timedelta(days=age_days)
        issued_at = timezone.make_aware(dt.datetime.combine(order_date, dt.time(self.rng.randint(7, 17))))
        due = issued_at + dt.timedelta(hours=supplier.effective_ack_deadline_hours)
        return PurchaseOrderFactory.build(
            number=f"PO-{500001 + number}",
            erp_id=f"ERP-{900001 + number}",
            supplier=supplier,
            buyer=supplier.buyer,
            site=self.rng.choice(sites),
            status=status,
            revision=2 if status == POStatus.REVISED else 1,
            version=1,
            order_date=order_date,
            acknowledgement_due=due,
            acknowledged_at=due - dt.timedelta(hours=self.rng.randint(1, 40)) if status in ACKNOWLEDGED_ONCE else None,
        )

    def build_lines(self, po: PurchaseOrder, offers: list[SupplierItem]) -> list[PurchaseOrderLine]:
        count = self.rng.randint(1, min(20, len(offers)))
        statuses = LINE_STATUSES[po.status]
        lines = []
        for index, offer in enumerate(self.rng.sample(offers, count)):
            status = statuses[min(index, len(statuses) - 1)]
            need_by = po.order_date + dt.timedelta(days=offer.lead_time_days + self.rng.randint(0, 10))
            promised = need_by + dt.timedelta(days=self.rng.choice([0, 0, 0, 1, 2, 5]))
            lines.append(
                PurchaseOrderLineFactory.build(
                    po=po,
                    line_number=(index + 1) * 10,
                    item_id=offer.item_id,
                    ordered_quantity=max(offer.minimum_order_quantity, Decimal(self.rng.randint(1, 60) * 10)),
                    unit_price=offer.price,
                    need_by_date=need_by,
                    status=status,
                    original_promised_date=None if status in UNPROMISED else promised,
                    revision_changes=self.buyer_change(status, need_by),
                )
            )
        return lines

    def buyer_change(self, status: str, need_by: dt.date) -> dict[str, list[str]]:
        """What a buyer's change order changed on a revised line: here, the need-by date moved a week."""
        if status != LineStatus.REVISED:
            return {}
        return {"need_by_date": [(need_by - dt.timedelta(days=7)).isoformat(), need_by.isoformat()]}

    def build_schedule(self, line: PurchaseOrderLine) -> list[ScheduleLine]:
        """Promised deliveries of a line the supplier has answered; some lines are split in two."""
        promised = line.original_promised_date
        if promised is None:
            return []
        if self.rng.random() < 0.15 and line.ordered_quantity >= 2:
            first = (line.ordered_quantity / 2).quantize(Decimal(1))
            return [
                ScheduleLineFactory.build(line=line, schedule_number=1, quantity=first, promised_date=promised),
                ScheduleLineFactory.build(
                    line=line,
                    schedule_number=2,
                    quantity=line.ordered_quantity - first,
                    promised_date=promised + dt.timedelta(days=14),
                ),
            ]
        return [
            ScheduleLineFactory.build(
                line=line, schedule_number=1, quantity=line.ordered_quantity, promised_date=promised
            )
        ]
