"""Documents from the ERP (purchase orders, receipts, on-hand) and the planning system (demand, safety stock).

Each import checks one document against its JSON Schema, then applies it in one
transaction, through the same services as every other channel where there is
one. Each is idempotent: applying a document again returns ``unchanged`` and
writes nothing, so a feed can be replayed. A bad document raises
ValidationError keyed by the path of the offending field (``lines[2].quantity``)
having written nothing; ``planning_sync.inbound`` quarantines it.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, cast

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction

# jsonschema ships no type information and types-jsonschema is not a dependency.
from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError as SchemaError  # type: ignore[import-untyped]

from planning_sync.outbox import record_event
from purchasing import notifications
from purchasing.models import (
    AcknowledgementLine,
    Channel,
    Demand,
    HistoryEntry,
    InventoryBalance,
    Item,
    LineStatus,
    POStatus,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ReceiptLine,
    SafetyStock,
    Site,
)
from purchasing.services import LineChange, NewLine, change_order_issue, purchase_order_issue
from purchasing.services.shipments import receipt_allocate
from suppliers.models import NotificationKind, Supplier, User


class ImportOutcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    REVISED = "revised"
    CANCELLED = "cancelled"
    DELETED = "deleted"
    UNCHANGED = "unchanged"


# --- schemas -----------------------------------------------------------------------
# One JSON Schema per feed in inbound_schemas/<feed>.json: the contract the ERP and
# planning teams build against. They keep to the subset that JSON Schema 2020-12 and
# OpenAPI 3.0 read alike, so the API documents exactly these (planning_sync.api).

SCHEMA_DIR = Path(__file__).resolve().parent / "inbound_schemas"


def _is_aware_date_time(value: object) -> bool:
    # A time without its offset means different instants at different sites.
    return not isinstance(value, str) or dt.datetime.fromisoformat(value).tzinfo is not None


# jsonschema checks dates itself; date-time needs a package we do without.
_FORMATS = FormatChecker(["date", "email"])
_FORMATS.checks("date-time", raises=ValueError)(_is_aware_date_time)


@functools.cache
def document_schema(feed: str) -> dict[str, Any]:
    """The JSON Schema of one feed's documents (purchase_orders, receipts, inventory, demand, safety_stock)."""
    schema: dict[str, Any] = json.loads((SCHEMA_DIR / f"{feed}.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return schema


@functools.cache
def _validator(feed: str) -> Draft202012Validator:
    return Draft202012Validator(document_schema(feed), format_checker=_FORMATS)


def validated(feed: str, document: Any) -> dict[str, Any]:
    """The document, if it matches its feed's schema; else ValidationError with every problem keyed by its path."""
    errors = sorted(_validator(feed).iter_errors(document), key=lambda e: e.json_path)
    if errors:
        messages: dict[str, list[str]] = {}
        for error in errors:
            messages.setdefault(_path(error), []).append(_message(error))
        raise ValidationError(messages)
    return cast(dict[str, Any], document)


def _path(error: SchemaError) -> str:
    return error.json_path.removeprefix("$").removeprefix(".") or "document"


def _message(error: SchemaError) -> str:
    # For a number-or-string value, name the rule its own type broke, not "valid under none".
    specific = [e for e in error.context if e.validator != "type"]
    if specific:
        return str(specific[0].message)
    return f"{error.instance!r} is not a number" if error.validator == "anyOf" else str(error.message)


# --- values --------------------------------------------------------------------------


def _to_decimal(value: Any, path: str, *, places: int, positive: bool = False) -> Decimal:
    """The value as a Decimal that fits a (14, places) column, or ValidationError naming ``path``."""
    number = Decimal(str(value))
    if not number.is_finite() or abs(number) >= 10 ** (14 - places):
        raise ValidationError({path: [f"{value} is not a number we can store."]})
    if number.quantize(Decimal(10) ** -places) != number:
        raise ValidationError({path: [f"{value} has more than {places} decimal places."]})
    if positive and number <= 0:
        raise ValidationError({path: [f"{value} must be more than zero."]})
    return number


def _item_and_site(doc: Mapping[str, Any]) -> tuple[Item, Site]:
    item = Item.objects.filter(sku=doc["item_sku"]).first()
    site = Site.objects.filter(code=doc["site_code"]).first()
    if item is None or site is None:
        errors: dict[str, list[str]] = {}
        if item is None:
            errors["item_sku"] = [f"There is no item with SKU {doc['item_sku']!r}."]
        if site is None:
            errors["site_code"] = [f"There is no site with code {doc['site_code']!r}."]
        raise ValidationError(errors)
    return item, site


def _one[M: models.Model](queryset: models.QuerySet[M], path: str, message: str) -> M:
    found = queryset.first()
    if found is None:
        raise ValidationError({path: [message]})
    return found


def _upsert_changed(obj: models.Model, values: Mapping[str, Any]) -> ImportOutcome:
    """Save the values that differ from the row's; ``unchanged`` when none do."""
    changed = [name for name, value in values.items() if getattr(obj, name) != value]
    if not changed:
        return ImportOutcome.UNCHANGED
    for name in changed:
        setattr(obj, name, values[name])
    obj.save(update_fields=[*changed, "updated_at"])
    return ImportOutcome.UPDATED


def _upsert[M: models.Model](
    model: type[M], lookup: Mapping[str, Any], values: Mapping[str, Any]
) -> tuple[ImportOutcome, dict[str, Any]]:
    """Create or update the row; the outcome, and the row's values before (empty when it is new)."""
    # get_or_create retries the read when a concurrent import inserted the row first.
    obj, created = model._default_manager.select_for_update().get_or_create(**lookup, defaults=values)
    if created:
        return ImportOutcome.CREATED, {}
    before = {name: getattr(obj, name) for name in values}
    return _upsert_changed(obj, values), before


# --- purchase orders ---------------------------------------------------------------------


@transaction.atomic
def purchase_order_import(document: Any) -> ImportOutcome:
    """Apply one ERP purchase order: new, revised, cancelled, or already known.

    Idempotent by ``erp_id`` and ``revision``: a document whose revision is not
    above ours changes nothing, so a feed can be replayed. A higher revision is
    a change order (changed and added lines need the supplier's answer again,
    lines left out are cancelled) after which our revision is the ERP's.
    ``status: cancelled`` cancels the PO and its open lines. Locks the PO;
    emits what the services emit (``po.issued``, ``po.revised``) and ``po.cancelled``.
    """
    doc = validated("purchase_orders", document)
    lines = _po_lines(doc)
    po = _locked_po(doc["erp_id"])
    if po is None:
        return _po_create(doc, lines)
    return _po_update(po, doc, lines)


def _locked_po(erp_id: str) -> PurchaseOrder | None:
    return PurchaseOrder.objects.select_for_update().select_related("supplier").filter(erp_id=erp_id).first()


def _po_lines(doc: Mapping[str, Any]) -> dict[int, NewLine]:
    """The document's lines by line number, in document order, every value checked."""
    skus = {line["item_sku"] for line in doc["lines"]}
    known = set(Item.objects.filter(sku__in=skus).values_list("sku", flat=True))
    lines: dict[int, NewLine] = {}
    for index, line in enumerate(doc["lines"]):
        path, number = f"lines[{index}]", line["line_number"]
        if number in lines:
            raise ValidationError({f"{path}.line_number": [f"Line {number} appears twice."]})
        if line["item_sku"] not in known:
            raise ValidationError({f"{path}.item_sku": [f"There is no item with SKU {line['item_sku']!r}."]})
        lines[number] = NewLine(
            line_number=number,
            item_sku=line["item_sku"],
            quantity=_to_decimal(line["quantity"], f"{path}.quantity", places=3, positive=True),
            unit_price=_to_decimal(line["unit_price"], f"{path}.unit_price", places=4),
            need_by_date=dt.date.fromisoformat(line["need_by_date"]),
        )
    return lines


@contextmanager
def _document_paths(lines: dict[int, NewLine], additions: Sequence[NewLine]) -> Iterator[None]:
    """Name the document's lines in a service's errors: ``additions.1.need_by_date`` -> ``lines[3].need_by_date``."""
    try:
        yield
    except ValidationError as error:
        if not hasattr(error, "error_dict"):
            raise
        order = list(lines)
        names = {f"additions.{i}": f"lines[{order.index(a.line_number or 0)}]" for i, a in enumerate(additions)}
        renamed: dict[str, list[str]] = {}
        for key, messages in error.message_dict.items():
            head, _, rest = key.partition(".")
            index, _, field = rest.partition(".")
            name = names.get(f"{head}.{index}")
            renamed[f"{name}.{field}" if name and field else key] = messages
        raise ValidationError(renamed) from error


def _po_create(doc: Mapping[str, Any], lines: dict[int, NewLine]) -> ImportOutcome:
    if doc.get("status") == "cancelled":
        return ImportOutcome.UNCHANGED  # never issued here: nothing to cancel
    supplier = _one(
        Supplier.objects.filter(erp_vendor_id=doc["supplier_erp_vendor_id"]),
        "supplier_erp_vendor_id",
        f"No supplier has the ERP vendor id {doc['supplier_erp_vendor_id']!r}.",
    )
    site = _one(Site.objects.filter(code=doc["site_code"]), "site_code", f"There is no site {doc['site_code']!r}.")
    buyer = _buyer(doc.get("buyer_email"))
    try:
        with transaction.atomic(), _document_paths(lines, list(lines.values())):
            purchase_order_issue(
                number=doc["number"],
                erp_id=doc["erp_id"],
                supplier=supplier,
                buyer=buyer,
                site=site,
                order_date=dt.date.fromisoformat(doc["order_date"]),
                lines=list(lines.values()),
                currency=doc.get("currency", "USD"),
                channel=Channel.ERP,
            )
    except (IntegrityError, ValidationError):
        # A concurrent import of the same PO committed first: this one is then a replay or a revision.
        po = _locked_po(doc["erp_id"])
        if po is None:
            raise
        return _po_update(po, doc, lines)
    return ImportOutcome.CREATED


def _buyer(email: str | None) -> User:
    if not email:
        raise ValidationError({"buyer_email": ["Give the buyer's e-mail address: a new purchase order needs a buyer."]})
    return _one(
        User.objects.filter(email__iexact=email, is_active=True),
        "buyer_email",
        f"No active user has the e-mail address {email}.",
    )


def _po_update(po: PurchaseOrder, doc: Mapping[str, Any], lines: dict[int, NewLine]) -> ImportOutcome:
    if doc.get("status") == "cancelled":
        return ImportOutcome.UNCHANGED if po.status == POStatus.CANCELLED else _po_cancel(po, doc["revision"])
    if doc["revision"] <= po.revision:
        return ImportOutcome.UNCHANGED
    changes, additions, cancellations = _line_changes(po, lines)
    if not (changes or additions or cancellations):
        _record_revision(po, doc["revision"])
        return ImportOutcome.REVISED
    with _document_paths(lines, additions):
        change_order_issue(
            po=po,
            by=None,
            expected_version=None,
            changes=changes,
            additions=additions,
            cancellations=cancellations,
            channel=Channel.ERP,
            revision=doc["revision"],  # the ERP's number is the truth, gaps included
        )
    return ImportOutcome.REVISED


def _line_changes(po: PurchaseOrder, lines: dict[int, NewLine]) -> tuple[list[LineChange], list[NewLine], list[int]]:
    """The revision as a change order: changed fields of known lines, new lines, and lines left out."""
    current = {line.line_number: line for line in po.lines.select_related("item")}
    changes: list[LineChange] = []
    for index, (number, new) in enumerate(lines.items()):
        line = current.get(number)
        if line is None:
            continue
        if line.item.sku != new.item_sku:
            message = f"Line {number} is for item {line.item.sku}: a revision cannot change a line's item."
            raise ValidationError({f"lines[{index}].item_sku": [message]})
        change = LineChange(
            line_number=number,
            quantity=_if_changed(line.ordered_quantity, new.quantity),
            unit_price=_if_changed(line.unit_price, new.unit_price),
            need_by_date=_if_changed(line.need_by_date, new.need_by_date),
        )
        if change != LineChange(line_number=number):
            changes.append(change)
    additions = [new for number, new in lines.items() if number not in current]
    left_out = [n for n, line in current.items() if n not in lines and line.status != LineStatus.CANCELLED]
    return changes, additions, left_out


def _if_changed[T](old: T, new: T) -> T | None:
    return None if new == old else new


def _record_revision(po: PurchaseOrder, revision: int) -> None:
    """A revision that changes nothing the supplier committed to: recorded, and nobody needs to answer."""
    po.revision = revision
    po.version += 1
    po.save(update_fields=["revision", "version", "updated_at"])
    # No po.revised event: it describes changed lines, and the ERP that sent this knows its number.
    HistoryEntry.objects.create(
        po=po,
        channel=Channel.ERP,
        action="revised",
        summary=f"Revision {revision} from the ERP: nothing the supplier committed to changed.",
    )


def _po_cancel(po: PurchaseOrder, revision: int) -> ImportOutcome:
    open_lines = [line for line in po.lines.order_by("line_number") if line.is_open]
    for line in open_lines:
        line.transition_to(LineStatus.CANCELLED)
        line.revision_changes = {"cancelled": [False, True]}
        line.save(update_fields=["status", "revision_changes", "updated_at"])
    AcknowledgementLine.objects.filter(line__po=po, outcome=AcknowledgementLine.Outcome.PENDING).update(
        outcome=AcknowledgementLine.Outcome.SUPERSEDED
    )
    po.transition_to(POStatus.CANCELLED)
    po.revision = max(po.revision, revision)
    po.version += 1
    po.save(update_fields=["status", "revision", "version", "updated_at"])
    _record_cancellation(po, [line.line_number for line in open_lines])
    return ImportOutcome.CANCELLED


def _record_cancellation(po: PurchaseOrder, numbers: list[int]) -> None:
    HistoryEntry.objects.create(
        po=po,
        channel=Channel.ERP,
        action="cancelled",
        summary=f"Cancelled by the ERP in revision {po.revision}: {len(numbers)} open lines cancelled.",
        changes={"lines": numbers},
    )
    record_event(
        "po.cancelled",
        subject=po,
        channel=Channel.ERP,
        data={"po_number": po.number, "revision": po.revision, "version": po.version, "lines": numbers},
    )
    diffs = [{"line_number": n, "change": "cancelled", "fields": {}} for n in numbers]
    notifications.notify_supplier(po, NotificationKind.PO_CHANGED, diffs=diffs)


# --- receipts ------------------------------------------------------------------------------


@transaction.atomic
def receipt_import(document: Any) -> ImportOutcome:
    """Record one ERP receipt: what arrived per PO line, and which lines the ERP closed.

    Idempotent by the receipt's ``erp_id``. A line is received once its
    received quantity reaches the ordered one; ``close`` before then closes it
    short. The PO is received once every line not cancelled is received or
    closed. Only acknowledged (or shipped) lines can be received. The quantities
    are allotted to the lines' shipment notices (``asn_number`` names the one, when
    the ERP knows it). Locks the PO; emits ``receipt.recorded`` (and ``asn.received``).
    """
    doc = validated("receipts", document)
    po = _one(
        PurchaseOrder.objects.select_for_update().select_related("supplier").filter(number=doc["po_number"]),
        "po_number",
        f"There is no purchase order {doc['po_number']!r}.",
    )
    # Checked under the PO's lock, so two imports of one receipt cannot both pass.
    if Receipt.objects.filter(external_id=doc["erp_id"]).exists():
        return ImportOutcome.UNCHANGED
    receipt = Receipt.objects.create(
        external_id=doc["erp_id"], po=po, received_at=dt.datetime.fromisoformat(doc["received_at"])
    )
    received = _receive_lines(po, receipt, doc["lines"])
    receipt_allocate(po=po, receipt=receipt, received=received, asn_number=doc.get("asn_number", ""))
    done = (LineStatus.RECEIVED, LineStatus.CLOSED, LineStatus.CANCELLED)
    if po.status != POStatus.RECEIVED and all(line.status in done for line in po.lines.all()):
        _receive(po, POStatus.RECEIVED)
    po.version += 1
    po.save(update_fields=["status", "version", "updated_at"])
    _record_receipt(po, receipt, received)
    return ImportOutcome.CREATED


def _receive_lines(po: PurchaseOrder, receipt: Receipt, entries: list[dict[str, Any]]) -> list[ReceiptLine]:
    lines = {line.line_number: line for line in po.lines.all()}
    received: list[ReceiptLine] = []
    for index, entry in enumerate(entries):
        path = f"lines[{index}]"
        line = _receivable_line(lines, entry["line_number"], path, seen={r.line.line_number for r in received})
        quantity = _to_decimal(entry["quantity"], f"{path}.quantity", places=3)
        close = bool(entry.get("close", False))
        line.received_quantity += quantity
        if line.received_quantity >= line.ordered_quantity and line.status != LineStatus.RECEIVED:
            _receive(line, LineStatus.RECEIVED)
        elif close and line.received_quantity < line.ordered_quantity:
            _receive(line, LineStatus.CLOSED)
        line.save(update_fields=["received_quantity", "status", "updated_at"])
        received.append(ReceiptLine(receipt=receipt, line=line, quantity=quantity, closes_line=close))
    return ReceiptLine.objects.bulk_create(received)


def _receivable_line(
    lines: dict[int, PurchaseOrderLine], number: int, path: str, *, seen: set[int]
) -> PurchaseOrderLine:
    line = lines.get(number)
    key = f"{path}.line_number"
    if line is None:
        raise ValidationError({key: [f"Line {number} is not on this purchase order."]})
    if number in seen:
        raise ValidationError({key: [f"Line {number} appears twice."]})
    if line.status not in _RECEIVABLE:
        status = line.get_status_display().lower()
        raise ValidationError({key: [f"Line {number} is {status}: only acknowledged or shipped lines are received."]})
    return line


_RECEIVABLE = (LineStatus.ACKNOWLEDGED, LineStatus.PARTIALLY_SHIPPED, LineStatus.SHIPPED, LineStatus.RECEIVED)


def _receive(obj: PurchaseOrder | PurchaseOrderLine, target: str) -> None:
    """Move a PO or line to received or closed (the PO and line state machines share these names)."""
    if obj.status == LineStatus.ACKNOWLEDGED and target == LineStatus.RECEIVED:
        # Goods can arrive before their ASN (or without one); the state machine only receives what shipped.
        obj.transition_to(LineStatus.SHIPPED)
    obj.transition_to(target)


def _record_receipt(po: PurchaseOrder, receipt: Receipt, received: list[ReceiptLine]) -> None:
    total = sum((r.quantity for r in received), Decimal(0))
    HistoryEntry.objects.create(
        po=po,
        channel=Channel.ERP,
        action="received",
        summary=f"Receipt {receipt.external_id}: {total.normalize():f} received on {len(received)} lines.",
    )
    record_event(
        "receipt.recorded",
        subject=po,
        channel=Channel.ERP,
        data={
            "receipt_id": receipt.external_id,
            "po_number": po.number,
            "received_at": receipt.received_at.isoformat(),
            "status": po.status,
            "version": po.version,
            "lines": [
                {
                    "line_number": r.line.line_number,
                    "quantity": f"{r.quantity:f}",
                    "received_quantity": f"{r.line.received_quantity:f}",
                    "closes_line": r.closes_line,
                    "status": r.line.status,
                }
                for r in received
            ],
        },
    )


# --- stock and demand ----------------------------------------------------------------------


# Each records an event when it changes something, so the supply-risk projection of the item and site
# is recomputed (exceptions.supply_risk) and the connectors hear of it; a replay records nothing.
# The subject is the item, so one item's stock and demand events keep their order.


@transaction.atomic
def inventory_import(document: Any) -> ImportOutcome:
    """Upsert the on-hand quantity of an item at a site; a count older than the stored one changes nothing.

    Emits ``inventory.changed`` when the quantity changed (a later count of the same quantity only
    moves ``as_of``).
    """
    doc = validated("inventory", document)
    item, site = _item_and_site(doc)
    as_of = dt.datetime.fromisoformat(doc["as_of"])
    values = {"quantity": _to_decimal(doc["quantity"], "quantity", places=3), "as_of": as_of}
    balance, created = InventoryBalance.objects.select_for_update().get_or_create(item=item, site=site, defaults=values)
    previous = None if created else balance.quantity
    if created:
        outcome = ImportOutcome.CREATED
    elif as_of < balance.as_of:
        return ImportOutcome.UNCHANGED
    else:
        outcome = _upsert_changed(balance, values)
    if previous != balance.quantity:
        data: dict[str, Any] = {"item_sku": item.sku, "site": site.code, "quantity": f"{balance.quantity:f}"}
        data |= {"previous_quantity": _text(previous), "as_of": as_of.isoformat()}
        record_event("inventory.changed", subject=item, channel=Channel.ERP, data=data)
    return outcome


@transaction.atomic
def demand_import(document: Any) -> ImportOutcome:
    """Upsert one demand by the planning system's id; quantity 0 withdraws it (the row is deleted).

    Emits ``demand.changed`` when it creates, changes or withdraws the demand.
    """
    doc = validated("demand", document)
    quantity = _to_decimal(doc["quantity"], "quantity", places=3)
    if quantity == 0:
        return _demand_withdraw(doc["external_id"])
    item, site = _item_and_site(doc)
    values = {
        "item_id": item.pk,
        "site_id": site.pk,
        "date": dt.date.fromisoformat(doc["date"]),
        "quantity": quantity,
        "kind": doc["kind"],
        "priority": doc.get("priority", 5),
        "customer_reference": doc.get("customer_reference", ""),
    }
    outcome, before = _upsert(Demand, {"external_id": doc["external_id"]}, values)
    if outcome != ImportOutcome.UNCHANGED:
        data = {"external_id": doc["external_id"], "change": outcome.value, "item_sku": item.sku, "site": site.code}
        data |= _demand_values(values) | {"previous": _previous_demand(before, item, site)}
        record_event("demand.changed", subject=item, channel=Channel.SYSTEM, data=data)
    return outcome


def _demand_withdraw(external_id: str) -> ImportOutcome:
    demand = Demand.objects.select_for_update().select_related("item", "site").filter(external_id=external_id).first()
    if demand is None:
        return ImportOutcome.UNCHANGED
    was = {name: getattr(demand, name) for name in ("date", "quantity", "kind", "priority", "customer_reference")}
    demand.delete()
    where = {"item_sku": demand.item.sku, "site": demand.site.code}
    data = {"external_id": external_id, "change": ImportOutcome.DELETED.value, **where}
    data |= _demand_values({**was, "quantity": Decimal(0)}) | {"previous": {**where, **_demand_values(was)}}
    record_event("demand.changed", subject=demand.item, channel=Channel.SYSTEM, data=data)
    return ImportOutcome.DELETED


def _demand_values(values: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "date": values["date"].isoformat(),
        "quantity": f"{values['quantity']:f}",
        "kind": values["kind"],
        "priority": values["priority"],
        "customer_reference": values["customer_reference"],
    }


def _previous_demand(before: Mapping[str, Any], item: Item, site: Site) -> dict[str, Any] | None:
    """The demand as it was, where it was: a planner may move a demand to another item or site."""
    if not before:
        return None
    sku = item.sku if before["item_id"] == item.pk else Item.objects.get(pk=before["item_id"]).sku
    code = site.code if before["site_id"] == site.pk else Site.objects.get(pk=before["site_id"]).code
    return {"item_sku": sku, "site": code, **_demand_values(before)}


@transaction.atomic
def safety_stock_import(document: Any) -> ImportOutcome:
    """Upsert the safety stock of an item at a site. Emits ``safety_stock.changed`` when it changed."""
    doc = validated("safety_stock", document)
    item, site = _item_and_site(doc)
    quantity = _to_decimal(doc["quantity"], "quantity", places=3)
    outcome, before = _upsert(SafetyStock, {"item": item, "site": site}, {"quantity": quantity})
    if outcome != ImportOutcome.UNCHANGED:
        data: dict[str, Any] = {"item_sku": item.sku, "site": site.code, "quantity": f"{quantity:f}"}
        data["previous_quantity"] = _text(before.get("quantity"))
        record_event("safety_stock.changed", subject=item, channel=Channel.SYSTEM, data=data)
    return outcome


def _text(quantity: Decimal | None) -> str | None:
    return None if quantity is None else f"{quantity:f}"
