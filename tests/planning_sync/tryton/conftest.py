"""A running Tryton (``tryton``, see tests/planning_sync/tryton_server.py), the portal's side of it (``portal``),
a connector with everything mapped (``connector``), and a purchase confirmed in Tryton (``confirmed_purchase``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from planning_sync.models import Connector, TrytonMapping
from purchasing.models import Item, Site
from suppliers.models import Supplier, User
from tests.factories import ItemFactory, SiteFactory, SupplierFactory
from tests.planning_sync.tryton_server import TrytonServer, _tryton_spares, tryton, tryton_template

__all__ = ["_tryton_spares", "tryton", "tryton_template"]

NEED_BY = dt.datetime.now(tz=dt.UTC).date() + dt.timedelta(days=30)
LINE_DATE = NEED_BY + dt.timedelta(days=5)


@dataclass(frozen=True)
class Portal:
    supplier: Supplier
    items: dict[str, Item]
    site: Site


@pytest.fixture
def portal(buyer: User) -> Portal:
    """Supplier ACME, items SKU-T1 and SKU-T2 and site WH: the portal's names for Tryton's seeded records."""
    supplier = SupplierFactory.create(code="ACME", erp_vendor_id="V-ACME", buyer=buyer)
    items = {sku: ItemFactory.create(sku=sku) for sku in ("SKU-T1", "SKU-T2")}
    # UTC like Tryton's dates here (its company has no time zone), so "today" is the same day on both sides.
    return Portal(supplier=supplier, items=items, site=SiteFactory.create(code="WH", timezone="UTC"))


@pytest.fixture
def connector(tryton: TrytonServer, portal: Portal) -> Connector:
    """A Tryton connector with the seeded party, products and warehouse mapped to the portal's."""
    config = {"url": tryton.url, "database": tryton.database, "username": tryton.username, "password": tryton.password}
    connector = Connector.objects.create(name="tryton", kind="tryton", config=config, timeout_s=5)
    ids = tryton.ids
    TrytonMapping.objects.bulk_create(
        [
            TrytonMapping(connector=connector, kind="supplier", tryton_id=ids["supplier"], supplier=portal.supplier),
            TrytonMapping(connector=connector, kind="item", tryton_id=ids["product_t1"], item=portal.items["SKU-T1"]),
            TrytonMapping(connector=connector, kind="item", tryton_id=ids["product_t2"], item=portal.items["SKU-T2"]),
            TrytonMapping(connector=connector, kind="site", tryton_id=ids["warehouse"], site=portal.site),
        ]
    )
    return connector


def confirmed_purchase(
    tryton: TrytonServer,
    *,
    party: str = "supplier",
    cancelled: bool = False,
    delivery_date: dt.date | None = NEED_BY,
    second_line: dict[str, Any] | None = None,
) -> int:
    """A purchase of 10 SKU-T1 at 2.50 for LINE_DATE (the line's own date) and 4 SKU-T2 at 12.00 for
    NEED_BY (the purchase's date), quoted and confirmed: Tryton processes it at once."""
    ids = tryton.ids
    lines = [
        {
            "product": ids["product_t1"],
            "quantity": 10.0,
            "unit": ids["unit"],
            "unit_price": Decimal("2.50"),
            "delivery_date_edit": True,
            "delivery_date_store": LINE_DATE,
        },
        {"product": ids["product_t2"], "quantity": 4.0, "unit": ids["unit"], "unit_price": Decimal("12.00")}
        | (second_line or {}),
    ]
    (purchase,) = tryton.client.create(
        "purchase.purchase",
        [
            {
                "party": ids[party],
                "invoice_address": ids[f"{party}_address"],
                "warehouse": ids["warehouse"],
                "currency": ids["usd"],
                "invoice_method": "manual",
                "delivery_date": delivery_date,
                "lines": [["create", lines]],
            }
        ],
    )
    tryton.client.model("purchase.purchase", "quote", [purchase])
    tryton.client.model("purchase.purchase", "cancel" if cancelled else "confirm", [purchase])
    return purchase


def purchase_lines(tryton: TrytonServer, purchase: int) -> list[dict[str, Any]]:
    """The purchase's lines in order, each with its delivery date and its moves (id, quantity, state, shipment)."""
    lines = tryton.client.search_read(
        "purchase.line",
        [("purchase", "=", purchase)],
        ["moves", "quantity", "unit_price", "delivery_date"],
        order=[("id", "ASC")],
    )
    for line in lines:
        line["moves"] = tryton.client.read(
            "stock.move", line["moves"], ["quantity", "state", "shipment", "planned_date"]
        )
    return lines
