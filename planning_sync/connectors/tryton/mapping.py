"""Which Tryton record each of our suppliers, items, sites, POs and PO lines is, for one Tryton connector.

Both directions of the connector read these: the pull (planning_sync.connectors.tryton.pull)
to turn Tryton purchases into our POs, the deliveries to find the Tryton purchase line of
an acknowledged PO line. ERP ids have fixed forms, documented in docs/connectors/tryton.md:
a PO imported from Tryton purchase 42 has erp_id ``tryton:42``; the receipt of purchase 42's
goods in supplier shipment 7 has erp_id ``tryton-shipment:7/42`` (a shipment can bring several purchases).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from planning_sync.connectors.tryton.rpc import TrytonClient
from planning_sync.models import Connector, TrytonMapping, TrytonPurchase
from purchasing.models import Item, Site
from suppliers.models import Supplier

Kind = TrytonMapping.Kind
_PURCHASE_PREFIX = "tryton:"
_SHIPMENT_PREFIX = "tryton-shipment:"


def _local_field(kind: str) -> str:
    if kind not in Kind.values:
        raise ValueError(f"Unknown mapping kind {kind!r}: use one of {', '.join(Kind.values)}.")
    return f"{kind}_id"


def tryton_id(connector: Connector, kind: str, local_id: int) -> int | None:
    """The Tryton party, product or warehouse id of our supplier, item or site; None when it is not mapped."""
    field = _local_field(kind)
    mapping = TrytonMapping.objects.filter(connector=connector, kind=kind, **{field: local_id}).first()
    return None if mapping is None else mapping.tryton_id


def local_id(connector: Connector, kind: str, tryton_id: int) -> int | None:
    """Our supplier, item or site id for a Tryton party, product or warehouse; None when it is not mapped."""
    field = _local_field(kind)
    mapping = TrytonMapping.objects.filter(connector=connector, kind=kind, tryton_id=tryton_id).first()
    return None if mapping is None else getattr(mapping, field)


def purchase_erp_id(purchase_id: int) -> str:
    """Our PO's erp_id for a Tryton purchase id: ``tryton:42``."""
    return f"{_PURCHASE_PREFIX}{purchase_id}"


def purchase_id_of(erp_id: str) -> int:
    """The Tryton purchase id in a PO's erp_id; ValueError when the PO did not come from Tryton."""
    number = erp_id.removeprefix(_PURCHASE_PREFIX)
    if number == erp_id or not number.isdigit():
        raise ValueError(f"ERP id {erp_id!r} is not a Tryton purchase (expected tryton:<purchase id>).")
    return int(number)


def shipment_erp_id(shipment_id: int, purchase_id: int) -> str:
    """The erp_id of the receipt of one purchase's goods in a Tryton supplier shipment: ``tryton-shipment:7/42``."""
    return f"{_SHIPMENT_PREFIX}{shipment_id}/{purchase_id}"


def shipment_id_of(erp_id: str) -> int:
    """The Tryton shipment id in a receipt's erp_id; ValueError when the receipt did not come from Tryton."""
    shipment, slash, purchase = erp_id.removeprefix(_SHIPMENT_PREFIX).partition("/")
    if shipment == erp_id or not (shipment.isdigit() and slash and purchase.isdigit()):
        raise ValueError(f"ERP id {erp_id!r} is not a Tryton receipt (expected tryton-shipment:<shipment>/<purchase>).")
    return int(shipment)


def line_number_of(connector: Connector, purchase_line_id: int) -> int | None:
    """Our PO line number of a Tryton purchase line; None when its purchase was never imported."""
    key = str(purchase_line_id)
    state = TrytonPurchase.objects.filter(connector=connector, line_numbers__has_key=key).first()
    return None if state is None else int(state.line_numbers[key])


def purchase_line_of(connector: Connector, po_erp_id: str, line_number: int) -> int | None:
    """The Tryton purchase line id of our PO line; None when the PO or the line did not come from this connector."""
    try:
        purchase_id = purchase_id_of(po_erp_id)
    except ValueError:
        return None
    state = TrytonPurchase.objects.filter(connector=connector, purchase_id=purchase_id).first()
    if state is None:
        return None
    return next((int(line) for line, number in state.line_numbers.items() if number == line_number), None)


# --- proposals by codes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TrytonRecord:
    """A party, product or warehouse as Tryton lists it."""

    id: int
    code: str
    name: str


@dataclass(frozen=True)
class Proposal:
    """A mapping matched by code, or (``local_id`` None) a Tryton record nothing of ours matched."""

    kind: str
    record: TrytonRecord
    local_id: int | None
    local_label: str
    already_mapped: bool = False


# Where each kind lives in Tryton: the model, the domain of the records that can be mapped, and their name.
_TRYTON_MODELS: dict[str, tuple[str, list[tuple[str, str, str]], str]] = {
    Kind.SUPPLIER: ("party.party", [], "name"),
    Kind.ITEM: ("product.product", [("type", "!=", "service")], "rec_name"),
    Kind.SITE: ("stock.location", [("type", "=", "warehouse")], "name"),
}


def tryton_records(client: TrytonClient, kind: str) -> list[TrytonRecord]:
    """Every Tryton party, product (goods) or warehouse, by code. Raises TrytonError."""
    model, domain, name = _TRYTON_MODELS[kind]
    rows = client.search_read(model, domain, ["code", name], order=[("code", "ASC"), ("id", "ASC")])
    return [TrytonRecord(id=row["id"], code=row["code"] or "", name=row[name] or "") for row in rows]


def propose(connector: Connector, kind: str, records: list[TrytonRecord]) -> list[Proposal]:
    """Match each Tryton record to ours by code, exactly: a party code to a supplier's ERP vendor id or
    code, a product code to an item's SKU, a warehouse code to a site's code. Nothing is guessed:
    a record with no exact match, or whose match is already mapped to another record, is left unmatched.
    """
    rows = TrytonMapping.objects.filter(connector=connector, kind=kind).select_related("supplier", "item", "site")
    mapped = {row.tryton_id: row for row in rows}
    taken = {row.local_id for row in mapped.values()}
    proposals = []
    for record in records:
        if record.id in mapped:
            row = mapped[record.id]
            proposals.append(Proposal(kind, record, row.local_id, _describe(row.local_object), already_mapped=True))
            continue
        match = _match(kind, record.code) if record.code else None
        if match is None or match.pk in taken:
            proposals.append(Proposal(kind, record, None, ""))
        else:
            taken.add(match.pk)
            proposals.append(Proposal(kind, record, match.pk, _describe(match)))
    return proposals


def _match(kind: str, code: str) -> Supplier | Item | Site | None:
    if kind == Kind.SUPPLIER:
        return Supplier.objects.filter(erp_vendor_id=code).first() or Supplier.objects.filter(code=code).first()
    if kind == Kind.ITEM:
        return Item.objects.filter(sku=code).first()
    return Site.objects.filter(code=code).first()


def _describe(local: object) -> str:
    if isinstance(local, Supplier):
        return f"supplier {local.code} ({local.name})"
    if isinstance(local, Item):
        return f"item {local.sku}"
    return f"site {local.code}" if isinstance(local, Site) else ""


@transaction.atomic
def proposals_apply(connector: Connector, proposals: list[Proposal]) -> int:
    """Save the matched proposals that are not mapped yet; how many were saved."""
    new = [p for p in proposals if p.local_id is not None and not p.already_mapped]
    TrytonMapping.objects.bulk_create(
        TrytonMapping(
            connector=connector,
            kind=p.kind,
            tryton_id=p.record.id,
            tryton_code=p.record.code,
            **{_local_field(p.kind): p.local_id},
        )
        for p in new
    )
    return len(new)
