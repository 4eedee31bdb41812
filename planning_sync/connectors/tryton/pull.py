"""Purchases, receipts and on-hand quantities in from Tryton, as the inbound feeds' documents.

``tryton_pull`` reads what changed in Tryton since the connector's cursors, turns it into
purchase_orders, receipts and inventory documents (purchasing/inbound_schemas) and applies
them with ``apply_batch``, so idempotency and the quarantine are those of every other feed.
Each feed is applied in one transaction together with the move of its cursor: a failure
leaves the cursor where it was, and the next pull reads the same records again.

What is not mapped (planning_sync.connectors.tryton.mapping) is never guessed: the purchase
or receipt is quarantined with an error naming the Tryton record. Quarantined purchases and
receipts of the connector are read again on every pull, so mapping the record (or a
supplier's acknowledgement, for a receipt) is all it takes for them to apply.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from planning_sync.connectors.tryton import mapping
from planning_sync.connectors.tryton.connector import client_for
from planning_sync.connectors.tryton.rpc import TrytonClient
from planning_sync.feeds import advance_cursor, cursor_of
from planning_sync.inbound import BatchResult, Feed, Quarantined, apply_batch
from planning_sync.models import Connector, InboundRecord, TrytonMapping, TrytonPurchase
from purchasing.models import Item, PurchaseOrder, ShipmentNotice, ShipmentStatus, Site
from suppliers.models import Supplier

logger = logging.getLogger("supplyline.tryton")

PURCHASES_CURSOR = "tryton_purchases"
RECEIPTS_CURSOR = "tryton_receipts"
# Tryton stamps write_date when a transaction writes, not when it commits: a slow transaction can
# commit a date older than a cursor a pull already moved past. Reading this much before the cursor
# again catches it; what was already imported is unchanged the second time.
OVERLAP = dt.timedelta(minutes=2)
FOLLOWED_STATES = ("done", "cancelled")
MAPPING_HINT = "map it under Planning sync > Tryton mappings or run manage.py tryton_propose_mappings"

PURCHASE_FIELDS = [
    "number",
    "state",
    "party",
    "party.code",
    "party.name",
    "warehouse",
    "warehouse.code",
    "currency.code",
    "purchase_date",
    "delivery_date",
]
LINE_FIELDS = [
    "purchase",
    "product",
    "product.code",
    "product.default_uom",
    "unit",
    "unit.symbol",
    "quantity",
    "unit_price",
    "delivery_date_edit",
    "delivery_date_store",
    "moves",
]
STAMPS = ["write_date", "create_date"]


class Unmapped(Exception):
    """A Tryton record we cannot turn into a document without guessing; the message says what to do."""


def tryton_pull(connector: Connector) -> dict[str, BatchResult]:
    """Pull purchases, then receipts (which need the purchases' line numbers), then on-hand quantities.

    Raises TrytonError, having moved no cursor of the feed it was reading, when Tryton cannot be
    reached or refuses a call; feeds applied before it stay applied.
    """
    client = client_for(connector)
    mappings = Mappings.load(connector)
    return {
        Feed.PURCHASE_ORDERS: _pull_purchases(connector, client, mappings),
        Feed.RECEIPTS: _pull_receipts(connector, client, mappings),
        Feed.INVENTORY: _pull_inventory(connector, client, mappings),
    }


@dataclass(frozen=True)
class Mappings:
    """The connector's mappings by Tryton id, read once per pull."""

    suppliers: dict[int, Supplier]
    items: dict[int, Item]
    sites: dict[int, Site]

    @classmethod
    def load(cls, connector: Connector) -> Mappings:
        rows = TrytonMapping.objects.filter(connector=connector).select_related("supplier__buyer", "item", "site")
        found: dict[str, dict[int, Any]] = defaultdict(dict)
        for row in rows:
            found[row.kind][row.tryton_id] = row.local_object
        return cls(suppliers=found["supplier"], items=found["item"], sites=found["site"])


# --- cursors -------------------------------------------------------------------------------------


@dataclass
class _Stamps:
    """The newest write or create date among the records read, which becomes the next cursor."""

    newest: dt.datetime | None = None

    def see(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            for stamp in (row.get("write_date"), row.get("create_date")):
                if stamp is not None and (self.newest is None or stamp > self.newest):
                    self.newest = stamp


def _window(cursor: str) -> list[Any]:
    """A domain for records written or created since the cursor (less the overlap); all before the first pull."""
    if not cursor:
        return []
    since = dt.datetime.fromisoformat(cursor) - OVERLAP
    return [["OR", ("write_date", ">=", since), ("create_date", ">=", since)]]


def _new_cursor(cursor: str, stamps: _Stamps) -> str:
    """The newest date read, unless the cursor is newer (the overlap reads records before it again)."""
    if stamps.newest is None or (cursor and dt.datetime.fromisoformat(cursor) >= stamps.newest):
        return cursor
    return stamps.newest.isoformat()


def _quarantined_ids(connector: Connector, feed: str, parse: Callable[[str], int]) -> set[int]:
    """The Tryton ids of this connector's quarantined records of a feed, to read them again."""
    external_ids = InboundRecord.objects.filter(connector=connector, feed=feed).values_list("external_id", flat=True)
    ids = set()
    for external_id in external_ids:
        try:
            ids.add(parse(external_id))
        except ValueError:
            continue  # not one of ours: pushed by someone else under this connector
    return ids


@dataclass
class _Batch:
    """Documents to apply, and the records that could not become one, in the order they were read."""

    feed: str
    documents: list[dict[str, Any]] = field(default_factory=list)
    unmapped: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)  # external id, payload, error

    def apply(self, connector: Connector) -> BatchResult:
        """Apply inside the caller's transaction; a quarantined record's earlier errors give way to the new one."""
        external_ids = [d["erp_id"] for d in self.documents] + [u[0] for u in self.unmapped]
        InboundRecord.objects.filter(connector=connector, feed=self.feed, external_id__in=external_ids).delete()
        result = apply_batch(self.feed, self.documents, connector=connector)
        for offset, (external_id, payload, error) in enumerate(self.unmapped, start=len(self.documents)):
            InboundRecord.objects.create(
                connector=connector, feed=self.feed, external_id=external_id, payload=payload, error=error
            )
            result.quarantined.append(Quarantined(index=offset, external_id=external_id, error=error))
            logger.warning("tryton record not mapped", extra={"external_id": external_id, "error": error})
        return result


def _advance(connector: Connector, key: str, *, expected: str, new: str) -> None:
    if new != expected:
        advance_cursor(connector, key, expected=expected, new=new)


# --- purchases ------------------------------------------------------------------------------------


@dataclass
class _Purchase:
    row: dict[str, Any]
    lines: list[dict[str, Any]]
    state: TrytonPurchase | None


def _pull_purchases(connector: Connector, client: TrytonClient, mappings: Mappings) -> BatchResult:
    cursor = cursor_of(connector, PURCHASES_CURSOR)
    stamps = _Stamps()
    ids = _changed_purchase_ids(client, cursor, stamps)
    ids |= _quarantined_ids(connector, Feed.PURCHASE_ORDERS, mapping.purchase_id_of)
    purchases = _read_purchases(connector, client, ids)
    batch, imported = _purchase_batch(connector, purchases, mappings)
    with transaction.atomic():
        result = batch.apply(connector)
        failed = {q.external_id for q in result.quarantined}
        for document, purchase, content_hash in imported:
            if document["erp_id"] not in failed:
                _remember(connector, purchase, document, content_hash)
        _advance(connector, PURCHASES_CURSOR, expected=cursor, new=_new_cursor(cursor, stamps))
    logger.info("tryton purchases pulled", extra={"connector": connector.name, "purchases": len(purchases)})
    return result


def _changed_purchase_ids(client: TrytonClient, cursor: str, stamps: _Stamps) -> set[int]:
    """Purchases written since the cursor, or whose lines or stock moves were: moving a move's date
    or cancelling it does not always touch the purchase."""
    window = _window(cursor)
    purchases = client.search_read("purchase.purchase", window, STAMPS)
    lines = client.search_read("purchase.line", window, ["purchase", *STAMPS])
    moves = client.search_read("stock.move", [*window, ("origin", "like", "purchase.line,%")], ["purchase", *STAMPS])
    for rows in (purchases, lines, moves):
        stamps.see(rows)
    return {row["id"] for row in purchases} | {row["purchase"] for row in lines + moves if row["purchase"]}


def _read_purchases(connector: Connector, client: TrytonClient, ids: set[int]) -> list[_Purchase]:
    if not ids:
        return []
    rows = client.read("purchase.purchase", sorted(ids), PURCHASE_FIELDS)
    states = {s.purchase_id: s for s in TrytonPurchase.objects.filter(connector=connector, purchase_id__in=ids)}
    # A purchase becomes ours when processing; once done or cancelled it only matters if we imported it
    # before (a first pull must not issue the history of done purchases as new POs to acknowledge).
    wanted = [r for r in rows if r["state"] == "processing" or (r["state"] in FOLLOWED_STATES and r["id"] in states)]
    lines = client.search_read(
        "purchase.line",
        [("purchase", "in", [r["id"] for r in wanted]), ("type", "=", "line")],
        LINE_FIELDS,
        order=[("sequence", "ASC"), ("id", "ASC")],
    )
    _attach_moves(client, lines)
    by_purchase: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for line in lines:
        by_purchase[line["purchase"]].append(line)
    return [_Purchase(row=r, lines=by_purchase[r["id"]], state=states.get(r["id"])) for r in wanted]


def _attach_moves(client: TrytonClient, lines: list[dict[str, Any]]) -> None:
    move_ids = [move for line in lines for move in line["moves"]]
    moves = {m["id"]: m for m in client.read("stock.move", move_ids, ["state", "origin_planned_date"])}
    for line in lines:
        line["moves"] = [moves[move] for move in line["moves"]]


def _purchase_batch(
    connector: Connector, purchases: list[_Purchase], mappings: Mappings
) -> tuple[_Batch, list[tuple[dict[str, Any], _Purchase, str]]]:
    batch = _Batch(Feed.PURCHASE_ORDERS)
    imported = []
    for purchase in purchases:
        erp_id = mapping.purchase_erp_id(purchase.row["id"])
        if purchase.row["party"] not in mappings.suppliers:
            # Not one of our suppliers: the portal has no business with this purchase.
            logger.debug("tryton purchase of an unmapped party skipped", extra={"erp_id": erp_id})
            continue
        try:
            document = _purchase_document(connector, purchase, mappings)
        except Unmapped as error:
            batch.unmapped.append((erp_id, _summary(purchase), str(error)))
            continue
        document, content_hash = _with_revision(document, purchase.state)
        batch.documents.append(document)
        imported.append((document, purchase, content_hash))
    return batch, imported


def _summary(purchase: _Purchase) -> dict[str, Any]:
    """What the quarantine shows of a purchase that could not become a document."""
    row = purchase.row
    return {
        "tryton_purchase": row["id"],
        "number": row["number"],
        "party": row["party."]["code"] or row["party."]["name"],
        "warehouse": (row.get("warehouse.") or {}).get("code"),
        "products": [line["product."]["code"] if line["product"] else None for line in purchase.lines],
    }


def _purchase_document(connector: Connector, purchase: _Purchase, mappings: Mappings) -> dict[str, Any]:
    row = purchase.row
    supplier = mappings.suppliers[row["party"]]
    site = mappings.sites.get(row["warehouse"])
    if row["warehouse"] is None:
        raise Unmapped(f"Purchase {row['number']} has no warehouse in Tryton: give it the warehouse to deliver to.")
    if site is None:
        warehouse = row["warehouse."]
        raise Unmapped(
            f"Tryton warehouse {warehouse['code'] or '(no code)'} (id {warehouse['id']}) of purchase "
            f"{row['number']} is not mapped to a site: {MAPPING_HINT}."
        )
    live = [line for line in purchase.lines if not _is_cancelled(line)]
    _check_products(row, live, mappings)
    numbers = _line_numbers(purchase)
    document: dict[str, Any] = {
        "erp_id": mapping.purchase_erp_id(row["id"]),
        "number": row["number"],
        "supplier_erp_vendor_id": supplier.erp_vendor_id,
        "site_code": site.code,
        "currency": row["currency."]["code"],
        "order_date": row["purchase_date"].isoformat(),
        # Every line cancelled in Tryton (its moves cancelled), or the purchase itself: ours is cancelled.
        "status": "cancelled" if row["state"] == "cancelled" or not live else "open",
        "lines": [_line_document(row, line, numbers[line["id"]], mappings) for line in live],
    }
    buyer = supplier.buyer.email if supplier.buyer else (connector.config or {}).get("buyer_email")
    if buyer:
        document["buyer_email"] = buyer
    return document


def _is_cancelled(line: dict[str, Any]) -> bool:
    """A line whose every stock move was cancelled in Tryton will never be delivered."""
    return bool(line["moves"]) and all(move["state"] == "cancelled" for move in line["moves"])


def _check_products(row: dict[str, Any], lines: list[dict[str, Any]], mappings: Mappings) -> None:
    unmapped = []
    for line in lines:
        product = line["product."] if line["product"] else None
        if product is None:
            unmapped.append(f"line {line['id']} has no product")
        elif product["id"] not in mappings.items:
            code = product["code"] or "(no code)"
            unmapped.append(f"Tryton product {code} (id {product['id']}) is not mapped to an item")
    if unmapped:
        raise Unmapped(f"Purchase {row['number']}: {'; '.join(unmapped)}: {MAPPING_HINT}.")
    for line in lines:
        if line["unit"] != line["product."]["default_uom"]:
            raise Unmapped(
                f"Purchase {row['number']}: line {line['id']} ({line['product.']['code']}) is in "
                f"{line['unit.']['symbol']}, not in the product's default unit, which quantities are exchanged in: "
                "order it in that unit in Tryton."
            )


def _line_numbers(purchase: _Purchase) -> dict[int, int]:
    """Our line number of each Tryton line: the one given before, else the next unused number."""
    known = {int(line): number for line, number in (purchase.state.line_numbers if purchase.state else {}).items()}
    next_number = max(known.values(), default=0) + 1
    numbers = {}
    for line in purchase.lines:
        if line["id"] in known:
            numbers[line["id"]] = known[line["id"]]
        else:
            numbers[line["id"]] = next_number
            next_number += 1
    return numbers


def _line_document(row: dict[str, Any], line: dict[str, Any], number: int, mappings: Mappings) -> dict[str, Any]:
    return {
        "line_number": number,
        "item_sku": mappings.items[line["product"]].sku,
        "quantity": _quantity(line["quantity"]),
        "unit_price": f"{line['unit_price']:f}",
        "need_by_date": _requested_date(row, line).isoformat(),
    }


def _requested_date(row: dict[str, Any], line: dict[str, Any]) -> dt.date:
    """The date the buyer asked for, as Tryton planned it when the purchase was processed.

    Not the line's current delivery date: once processing, that is the earliest planned date of its
    moves, where the connector writes the supplier's promised date, and reading it back as a new
    request would ask the supplier to acknowledge their own promise again.
    """
    planned: list[dt.date] = [move["origin_planned_date"] for move in line["moves"] if move["origin_planned_date"]]
    if line["delivery_date_edit"] and line["delivery_date_store"]:
        planned = [line["delivery_date_store"]]
    elif row["delivery_date"]:
        planned = [row["delivery_date"]]
    if planned:
        return min(planned)
    code = line["product."]["code"] if line["product"] else line["id"]
    raise Unmapped(
        f"Purchase {row['number']}: line {line['id']} ({code}) has no delivery date: set the line's or the "
        "purchase's delivery date in Tryton, or a lead time on the product's supplier."
    )


def _quantity(value: float | Decimal) -> str:
    """Tryton's float quantity as a decimal of at most 3 places, as our documents take it."""
    return f"{Decimal(str(value)).quantize(Decimal('0.001'), rounding=ROUND_HALF_UP).normalize():f}"


def _with_revision(document: dict[str, Any], state: TrytonPurchase | None) -> tuple[dict[str, Any], str]:
    """The document with its revision: the last one imported when nothing changed, else the next."""
    # The buyer matters only to a new PO: a change of buyer is no revision for the supplier.
    content = {name: value for name, value in document.items() if name != "buyer_email"}
    content_hash = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
    if state is None or state.revision == 0:
        revision = 1
    elif state.content_hash == content_hash:
        revision = state.revision
    else:
        revision = state.revision + 1
    return {**document, "revision": revision}, content_hash


def _remember(connector: Connector, purchase: _Purchase, document: dict[str, Any], content_hash: str) -> None:
    numbers = dict(purchase.state.line_numbers) if purchase.state else {}
    numbers |= {str(line): number for line, number in _line_numbers(purchase).items()}
    TrytonPurchase.objects.update_or_create(
        connector=connector,
        purchase_id=purchase.row["id"],
        defaults={"revision": document["revision"], "content_hash": content_hash, "line_numbers": numbers},
    )


# --- receipts ---------------------------------------------------------------------------------------


def _pull_receipts(connector: Connector, client: TrytonClient, mappings: Mappings) -> BatchResult:
    cursor = cursor_of(connector, RECEIPTS_CURSOR)
    stamps = _Stamps()
    shipments = client.search_read("stock.shipment.in", [*_window(cursor), ("state", "=", "done")], ["id", *STAMPS])
    stamps.see(shipments)
    ids = {row["id"] for row in shipments} | _quarantined_ids(connector, Feed.RECEIPTS, mapping.shipment_id_of)
    batch = _receipt_batch(connector, client, mappings, ids)
    with transaction.atomic():
        result = batch.apply(connector)
        _advance(connector, RECEIPTS_CURSOR, expected=cursor, new=_new_cursor(cursor, stamps))
    logger.info("tryton receipts pulled", extra={"connector": connector.name, "shipments": len(ids)})
    return result


def _receipt_batch(connector: Connector, client: TrytonClient, mappings: Mappings, ids: set[int]) -> _Batch:
    batch = _Batch(Feed.RECEIPTS)
    if not ids:
        return batch
    shipments = client.read(
        "stock.shipment.in", sorted(ids), ["state", "reference", "effective_date", "incoming_moves", "write_date"]
    )
    move_ids = [move for shipment in shipments if shipment["state"] == "done" for move in shipment["incoming_moves"]]
    moves = client.read("stock.move", move_ids, ["state", "origin", "quantity", "purchase", "shipment"])
    received = [m for m in moves if m["state"] == "done" and str(m["origin"] or "").startswith("purchase.line,")]
    parties = _purchase_parties(client, {m["purchase"] for m in received})
    ours = [m for m in received if parties.get(m["purchase"]) in mappings.suppliers]
    by_receipt: dict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
    for move in ours:
        by_receipt[(int(move["shipment"].partition(",")[2]), move["purchase"])].append(move)
    shipment_rows = {s["id"]: s for s in shipments}
    for (shipment_id, purchase_id), receipt_moves in sorted(by_receipt.items()):
        erp_id = mapping.shipment_erp_id(shipment_id, purchase_id)
        try:
            batch.documents.append(_receipt_document(connector, shipment_rows[shipment_id], purchase_id, receipt_moves))
        except Unmapped as error:
            payload = {"tryton_shipment": shipment_id, "tryton_purchase": purchase_id}
            batch.unmapped.append((erp_id, payload, str(error)))
    return batch


def _purchase_parties(client: TrytonClient, purchase_ids: set[int]) -> dict[int, int]:
    rows = client.read("purchase.purchase", sorted(purchase_ids), ["party"]) if purchase_ids else []
    return {row["id"]: row["party"] for row in rows}


def _receipt_document(
    connector: Connector, shipment: dict[str, Any], purchase_id: int, moves: list[dict[str, Any]]
) -> dict[str, Any]:
    state = TrytonPurchase.objects.filter(connector=connector, purchase_id=purchase_id).first()
    po = PurchaseOrder.objects.select_related("site").filter(erp_id=mapping.purchase_erp_id(purchase_id)).first()
    if state is None or po is None:
        raise Unmapped(
            f"Tryton purchase {purchase_id} received in shipment {shipment['id']} has not been imported yet "
            "(see its quarantined purchase order); the receipt applies once it is."
        )
    quantities: dict[int, Decimal] = defaultdict(Decimal)
    for move in moves:
        number = state.line_numbers.get(move["origin"].partition(",")[2])
        if number is None:
            raise Unmapped(
                f"Tryton purchase {purchase_id} has no line {move['origin']} in the imported purchase order."
            )
        quantities[number] += Decimal(_quantity(move["quantity"]))
    document: dict[str, Any] = {
        "erp_id": mapping.shipment_erp_id(shipment["id"], purchase_id),
        "po_number": po.number,
        "received_at": _received_at(shipment, po.site).isoformat(),
        "lines": [{"line_number": n, "quantity": f"{q.normalize():f}"} for n, q in sorted(quantities.items())],
    }
    if _is_our_asn(po, shipment["reference"]):
        document["asn_number"] = shipment["reference"]
    return document


def _received_at(shipment: dict[str, Any], site: Site) -> dt.datetime:
    """When the shipment was received: Tryton keeps only the day (its effective date). The time it was
    last written (done) is used when it falls on that day where it was received, else the day's start."""
    local = zoneinfo.ZoneInfo(site.timezone)
    day = shipment["effective_date"]
    written = shipment["write_date"].replace(tzinfo=dt.UTC).astimezone(local) if shipment["write_date"] else None
    return written if written and written.date() == day else dt.datetime.combine(day, dt.time(), tzinfo=local)


def _is_our_asn(po: PurchaseOrder, reference: str | None) -> bool:
    """The shipment's reference names a notice of the PO's supplier (the ASNs we send carry their number)."""
    if not reference:
        return False
    notices = ShipmentNotice.objects.filter(supplier_id=po.supplier_id, number=reference)
    return notices.exclude(status=ShipmentStatus.REPLACED).exists()


# --- inventory --------------------------------------------------------------------------------------


def _pull_inventory(connector: Connector, client: TrytonClient, mappings: Mappings) -> BatchResult:
    """On-hand quantity of every mapped product in every mapped warehouse, counted now."""
    documents = []
    as_of = timezone.now().isoformat()
    products = sorted(mappings.items)
    for warehouse, site in sorted(mappings.sites.items()) if products else []:
        rows = client.read("product.product", products, ["quantity"], context={"locations": [warehouse]})
        documents += [
            {"item_sku": mappings.items[row["id"]].sku, "site_code": site.code, "quantity": _quantity(row["quantity"])}
            | {"as_of": as_of}
            for row in rows
        ]
    with transaction.atomic():
        return apply_batch(Feed.INVENTORY, documents, connector=connector)
