"""Shipment notices (ASNs): submit, cancel, replace; receipts against them; the in-transit sweep.

Every channel (the web form, CSV and Excel uploads, X12 856, EDIFACT DESADV, the API) builds a
``ShipmentInput`` and calls ``shipment_notice_submit``, so the rules are the same everywhere.
A notice is checked whole before anything is written: every problem is reported at once, keyed
like ``lines.3.quantity`` or ``packages.2.sscc`` (positions from 1, as a person counts rows).
The POs it ships against are locked in id order, so concurrent notices of one PO queue up (and
cannot both pass the over-shipment check) without deadlocking each other.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from planning_sync.outbox import record_event
from purchasing import gs1
from purchasing.documents.shapes import PackageInput, ShipmentInput, ShipmentLineInput
from purchasing.models import (
    HistoryEntry,
    InboundDocument,
    LineStatus,
    POStatus,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ReceiptLine,
    ShipmentLine,
    ShipmentNotice,
    ShipmentPackage,
    ShipmentStatus,
)
from purchasing.models.shipments import asn_number_validator, scac_validator
from purchasing.rules import decimal_text
from purchasing.services.orders import _Errors
from suppliers.models import Supplier, User

MAX_LINES = 2000
MAX_PACKAGES = 2000


@dataclass
class _Checked:
    """A notice that passed every check: what to write."""

    pos: dict[str, PurchaseOrder]
    lines: list[tuple[ShipmentLineInput, PurchaseOrderLine]]
    packages: list[PackageInput]  # parents before children
    ssccs: dict[str, str]  # package ref -> SSCC (given or generated)


# --- submit ------------------------------------------------------------------------------------


@transaction.atomic
def shipment_notice_submit(
    *,
    supplier: Supplier,
    by: User | None,
    shipment: ShipmentInput,
    channel: str,
    document: InboundDocument | None = None,
) -> ShipmentNotice:
    """Record what the supplier shipped, all or nothing; emits ``asn.submitted``.

    A notice that says it replaces another (EDI purpose "replace") goes to ``shipment_notice_replace``
    for the active notice of that number.
    """
    if shipment.replaces:
        old = _active_notice(supplier, shipment.number)
        if old is None:
            raise ValidationError(
                {"number": [f"There is no open shipment notice {shipment.number} to replace."]}, code="not_found"
            )
        return shipment_notice_replace(notice=old, by=by, shipment=shipment, channel=channel, document=document)
    checked = _check(supplier, shipment)
    notice = _write(supplier, shipment, checked, by=by, channel=channel, document=document, replaces=None)
    _record(notice, checked, by=by, channel=channel)
    return notice


@transaction.atomic
def shipment_notice_replace(
    *,
    notice: ShipmentNotice,
    by: User | None,
    shipment: ShipmentInput,
    channel: str,
    document: InboundDocument | None = None,
) -> ShipmentNotice:
    """Replace a notice not yet received with a corrected one of the same number; emits ``asn.replaced``."""
    old = _lock_changeable(notice)
    if shipment.number != old.number:
        raise ValidationError({"number": [f"A replacement keeps the notice's number, {old.number}."]})
    # The old notice leaves first, so the new one is checked as if it had never been (its number,
    # SSCCs and quantities free); a refused replacement rolls all of it back.
    _unship(old)
    old.transition_to(ShipmentStatus.REPLACED)
    old.save(update_fields=["status", "updated_at"])
    checked = _check(old.supplier, shipment)
    new = _write(old.supplier, shipment, checked, by=by, channel=channel, document=document, replaces=old)
    _record(new, checked, by=by, channel=channel)
    return new


def _active_notice(supplier: Supplier, number: str) -> ShipmentNotice | None:
    return ShipmentNotice.objects.active().filter(supplier=supplier, number=number).first()


# --- checks ------------------------------------------------------------------------------------


def _check(supplier: Supplier, shipment: ShipmentInput) -> _Checked:
    errors = _Errors()
    _check_header(supplier, shipment, errors)
    pos = _lock_pos(supplier, shipment.lines, errors)
    lines = _check_lines(supplier, shipment, pos, errors)
    _check_site(shipment, pos, errors)
    packages = _check_packages(shipment, errors)
    ssccs = _check_ssccs(supplier, shipment, packages, errors)
    errors.raise_if_any()
    return _Checked(pos=pos, lines=lines, packages=packages, ssccs=_generate_ssccs(supplier, packages, ssccs))


def _check_header(supplier: Supplier, shipment: ShipmentInput, errors: _Errors) -> None:
    _validate(asn_number_validator, shipment.number, "number", errors)
    taken = ShipmentNotice.objects.active().filter(supplier=supplier, number=shipment.number)
    if shipment.number and taken.exists():
        errors.add("number", f"You already sent shipment notice {shipment.number}; use a new number, or replace it.")
    limits: dict[str, int] = settings.SUPPLYLINE_SHIPMENT_DATES
    today = timezone.localdate()
    if shipment.ship_date < today - dt.timedelta(days=limits["past_days"]):
        errors.add("ship_date", f"The ship date is more than {limits['past_days']} days ago.")
    if shipment.ship_date > today + dt.timedelta(days=limits["future_days"]):
        errors.add("ship_date", f"The ship date is more than {limits['future_days']} days ahead.")
    arrival = shipment.estimated_arrival
    if arrival is not None and arrival < shipment.ship_date:
        errors.add("estimated_arrival", "The estimated arrival is before the ship date.")
    elif arrival is not None and arrival > shipment.ship_date + dt.timedelta(days=limits["transit_days"]):
        errors.add(
            "estimated_arrival", f"The estimated arrival is more than {limits['transit_days']} days after shipping."
        )
    if shipment.carrier_scac:
        _validate(scac_validator, shipment.carrier_scac, "carrier_scac", errors)
    for name, limit in (("carrier_name", 100), ("tracking_number", 50), ("bill_of_lading", 50), ("ship_from", 1000)):
        if len(getattr(shipment, name)) > limit:
            errors.add(name, f"At most {limit} characters.")
    if not shipment.lines:
        errors.add("lines", "A shipment notice needs at least one line.")
    elif len(shipment.lines) > MAX_LINES:
        errors.add("lines", f"A shipment notice holds at most {MAX_LINES} lines.")


def _validate(validator: Any, value: str, key: str, errors: _Errors) -> None:
    try:
        validator(value)
    except ValidationError as error:
        for message in error.messages:
            errors.add(key, message)


def _lock_pos(supplier: Supplier, lines: Sequence[ShipmentLineInput], errors: _Errors) -> dict[str, PurchaseOrder]:
    """The supplier's POs the notice names, locked in id order; another supplier's PO reads as unknown."""
    numbers = sorted({line.po_number for line in lines})
    found = PurchaseOrder.objects.select_for_update().filter(supplier=supplier, number__in=numbers).order_by("pk")
    pos = {po.number: po for po in found.select_related("site")}
    for position, line in enumerate(lines, start=1):
        if line.po_number not in pos:
            errors.add(f"lines.{position}.po_number", f"There is no purchase order {line.po_number!r} of yours.")
    return pos


def _check_lines(
    supplier: Supplier,
    shipment: ShipmentInput,
    pos: dict[str, PurchaseOrder],
    errors: _Errors,
) -> list[tuple[ShipmentLineInput, PurchaseOrderLine]]:
    po_lines = {
        (line.po.number, line.line_number): line
        for line in PurchaseOrderLine.objects.filter(po__in=pos.values()).select_related("item", "po")
    }
    checked: list[tuple[ShipmentLineInput, PurchaseOrderLine]] = []
    first_position: dict[int, int] = {}  # PO line id -> where the notice first names it (for messages)
    for position, entry in enumerate(shipment.lines, start=1):
        key = f"lines.{position}"
        if entry.po_number not in pos:
            continue  # already reported
        line = po_lines.get((entry.po_number, entry.line_number))
        if line is None:
            errors.add(f"{key}.line_number", f"{entry.po_number} has no line {entry.line_number}.")
            continue
        _check_line(entry, line, shipment, key, errors)
        checked.append((entry, line))
        first_position.setdefault(line.pk, position)
    _check_over_shipment(supplier, checked, first_position, errors)
    return checked


def _check_line(
    entry: ShipmentLineInput, line: PurchaseOrderLine, shipment: ShipmentInput, key: str, errors: _Errors
) -> None:
    name = f"Line {line.line_number} of {line.po.number}"
    if not line.is_shippable:
        status = line.get_status_display().lower()
        errors.add(f"{key}.line_number", f"{name} is {status}: only acknowledged lines can ship.")
    if entry.quantity <= 0:
        errors.add(f"{key}.quantity", "The quantity must be more than zero.")
    elif entry.quantity != entry.quantity.quantize(Decimal("0.001")):
        errors.add(f"{key}.quantity", "The quantity has at most 3 decimal places.")
    if entry.item_sku and entry.item_sku != line.item.sku:
        errors.add(f"{key}.item_sku", f"{name} is item {line.item.sku}, not {entry.item_sku}.")
    if line.item.lot_controlled and not entry.lot_number:
        errors.add(f"{key}.lot_number", f"Item {line.item.sku} needs a lot or batch number.")
    if len(entry.lot_number) > 40:
        errors.add(f"{key}.lot_number", "At most 40 characters.")
    if line.item.expiry_controlled and entry.expiry_date is None:
        errors.add(f"{key}.expiry_date", f"Item {line.item.sku} needs an expiry date.")
    if entry.expiry_date is not None and entry.expiry_date <= shipment.ship_date:
        errors.add(f"{key}.expiry_date", "The goods would expire by the ship date.")


def _check_over_shipment(
    supplier: Supplier,
    checked: list[tuple[ShipmentLineInput, PurchaseOrderLine]],
    first_position: dict[int, int],
    errors: _Errors,
) -> None:
    """The line's shipped total (other active notices plus this one) within the quantity tolerance."""
    this_notice: dict[int, Decimal] = defaultdict(Decimal)
    lines: dict[int, PurchaseOrderLine] = {}
    for entry, line in checked:
        this_notice[line.pk] += entry.quantity
        lines[line.pk] = line
    tolerance = supplier.tolerances.quantity_pct
    for pk, quantity in this_notice.items():
        line = lines[pk]
        total = line.shipped_quantity + quantity
        allowed = line.ordered_quantity * (1 + Decimal(tolerance) / 100)
        if total > allowed:
            message = (
                f"Shipping {decimal_text(quantity)} of line {line.line_number} of {line.po.number} brings it to "
                f"{decimal_text(total)} shipped of {decimal_text(line.ordered_quantity)} ordered; "
                f"your tolerance allows at most {decimal_text(allowed)}."
            )
            errors.add(f"lines.{first_position[pk]}.quantity", message)


def _check_site(shipment: ShipmentInput, pos: dict[str, PurchaseOrder], errors: _Errors) -> None:
    sites = {po.site.code for po in pos.values()}
    if len(sites) > 1:
        errors.add("lines", f"One notice ships to one site; these POs go to {', '.join(sorted(sites))}.")
    elif shipment.site_code and sites and shipment.site_code not in sites:
        errors.add("site_code", f"The POs ship to {sites.pop()}, not {shipment.site_code}.")


def _check_packages(shipment: ShipmentInput, errors: _Errors) -> list[PackageInput]:
    """Package refs unique, parents known, no cycles; lines in known packages. Returns parents first."""
    if len(shipment.packages) > MAX_PACKAGES:
        errors.add("packages", f"A shipment notice holds at most {MAX_PACKAGES} packages.")
        return []
    by_ref: dict[str, PackageInput] = {}
    for position, package in enumerate(shipment.packages, start=1):
        if package.ref in by_ref:
            errors.add(f"packages.{position}.ref", f"Package {package.ref} appears twice.")
        if package.kind not in ShipmentPackage.Kind.values:
            errors.add(f"packages.{position}.kind", f"Use pallet, carton or package, not {package.kind!r}.")
        by_ref[package.ref] = package
    for position, package in enumerate(shipment.packages, start=1):
        parent = by_ref.get(package.parent_ref) if package.parent_ref is not None else None
        if package.parent_ref is not None and parent is None:
            errors.add(f"packages.{position}.parent_ref", f"There is no package {package.parent_ref} to hold it.")
        elif parent is not None and package.kind == "pallet" and parent.kind != "pallet":
            errors.add(f"packages.{position}.parent_ref", f"A pallet cannot be inside {parent.kind} {parent.ref}.")
    for position, entry in enumerate(shipment.lines, start=1):
        if entry.package_ref is not None and entry.package_ref not in by_ref:
            errors.add(f"lines.{position}.package_ref", f"There is no package {entry.package_ref}.")
    return _parents_first(shipment.packages, by_ref, errors)


def _parents_first(
    packages: Sequence[PackageInput], by_ref: dict[str, PackageInput], errors: _Errors
) -> list[PackageInput]:
    ordered: list[PackageInput] = []
    placed: set[str] = set()
    for position, package in enumerate(packages, start=1):
        chain: list[PackageInput] = []
        current: PackageInput | None = package
        while current is not None and current.ref not in placed:
            if current in chain:
                errors.add(f"packages.{position}.parent_ref", f"Package {package.ref} ends up inside itself.")
                return ordered
            chain.append(current)
            current = by_ref.get(current.parent_ref) if current.parent_ref is not None else None
        for link in reversed(chain):
            ordered.append(link)
            placed.add(link.ref)
    return ordered


def _check_ssccs(
    supplier: Supplier, shipment: ShipmentInput, packages: list[PackageInput], errors: _Errors
) -> dict[str, str]:
    """``packages`` come parents first; messages name each package where the notice lists it."""
    ssccs: dict[str, str] = {}
    seen: dict[str, str] = {}
    listed_at = {package.ref: n for n, package in enumerate(shipment.packages, start=1)}
    for package in packages:
        key = f"packages.{listed_at[package.ref]}.sscc"
        if not package.sscc:
            if not supplier.gs1_company_prefix:
                errors.add(key, "Give an SSCC, or set your GS1 company prefix so Supplyline can number packages.")
            continue
        try:
            sscc = gs1.validate_sscc(package.sscc)
        except ValidationError as error:
            errors.add(key, f"Package {package.ref}: {' '.join(error.messages)}")
            continue
        if sscc in seen:
            errors.add(key, f"SSCC {sscc} is on packages {seen[sscc]} and {package.ref}.")
        seen[sscc] = package.ref
        ssccs[package.ref] = sscc
    elsewhere = ShipmentPackage.objects.filter(sscc__in=seen).exclude(
        shipment__status__in=ShipmentNotice.INACTIVE_STATUSES
    )
    for sscc, number in elsewhere.values_list("sscc", "shipment__number"):
        errors.add("packages", f"SSCC {sscc} is already on shipment notice {number}.")
    return ssccs


def _generate_ssccs(supplier: Supplier, packages: list[PackageInput], given: dict[str, str]) -> dict[str, str]:
    """Number the packages that came without an SSCC from the supplier's GS1 prefix (its row is locked)."""
    missing = [p for p in packages if p.ref not in given]
    if not missing:
        return given
    locked = Supplier.objects.select_for_update().get(pk=supplier.pk)
    first = locked.sscc_serial + 1
    Supplier.objects.filter(pk=supplier.pk).update(sscc_serial=F("sscc_serial") + len(missing))
    generated = {
        package.ref: gs1.make_sscc(company_prefix=locked.gs1_company_prefix, serial=first + n)
        for n, package in enumerate(missing)
    }
    return given | generated


# --- writes ------------------------------------------------------------------------------------


def _write(
    supplier: Supplier,
    shipment: ShipmentInput,
    checked: _Checked,
    *,
    by: User | None,
    channel: str,
    document: InboundDocument | None,
    replaces: ShipmentNotice | None,
) -> ShipmentNotice:
    site = next(iter(checked.pos.values())).site
    departed = shipment.ship_date <= timezone.localdate()
    notice = ShipmentNotice.objects.create(
        supplier=supplier,
        site=site,
        number=shipment.number,
        status=ShipmentStatus.IN_TRANSIT if departed else ShipmentStatus.SUBMITTED,
        ship_date=shipment.ship_date,
        estimated_arrival=shipment.estimated_arrival,
        carrier_scac=shipment.carrier_scac,
        carrier_name=shipment.carrier_name,
        tracking_number=shipment.tracking_number,
        bill_of_lading=shipment.bill_of_lading,
        ship_from=shipment.ship_from,
        channel=channel,
        submitted_by=by,
        replaces=replaces,
        document=document,
    )
    packages = _write_packages(notice, checked)
    ShipmentLine.objects.bulk_create(
        ShipmentLine(
            shipment=notice,
            package=packages.get(entry.package_ref) if entry.package_ref is not None else None,
            po_line=line,
            position=position,
            quantity=entry.quantity,
            lot_number=entry.lot_number,
            expiry_date=entry.expiry_date,
        )
        for position, (entry, line) in enumerate(checked.lines, start=1)
    )
    _ship(checked)
    return notice


def _write_packages(notice: ShipmentNotice, checked: _Checked) -> dict[str, ShipmentPackage]:
    created: dict[str, ShipmentPackage] = {}
    for position, package in enumerate(checked.packages, start=1):
        parent = created.get(package.parent_ref) if package.parent_ref is not None else None
        created[package.ref] = ShipmentPackage.objects.create(
            shipment=notice, parent=parent, kind=package.kind, sscc=checked.ssccs[package.ref], position=position
        )
    return created


def _ship(checked: _Checked) -> None:
    """Add the notice's quantities to its lines' shipped totals and move lines and POs along."""
    totals: dict[int, Decimal] = defaultdict(Decimal)
    by_pk: dict[int, PurchaseOrderLine] = {}
    for entry, line in checked.lines:
        totals[line.pk] += entry.quantity
        by_pk[line.pk] = line
    _move_shipped(by_pk.values(), totals, sign=1)


def _unship(notice: ShipmentNotice) -> None:
    """Take a cancelled or replaced notice's quantities off its lines, under the POs' locks."""
    numbers = notice.lines.values_list("po_line__po_id", flat=True)
    list(PurchaseOrder.objects.select_for_update().filter(pk__in=numbers).order_by("pk"))
    totals: dict[int, Decimal] = defaultdict(Decimal)
    by_pk: dict[int, PurchaseOrderLine] = {}
    for shipped in notice.lines.select_related("po_line__po"):
        totals[shipped.po_line_id] += shipped.quantity
        by_pk[shipped.po_line_id] = shipped.po_line
    _move_shipped(by_pk.values(), totals, sign=-1)


def _move_shipped(lines: Iterable[PurchaseOrderLine], totals: dict[int, Decimal], *, sign: int) -> None:
    pos: dict[int, PurchaseOrder] = {}
    for line in lines:
        line.shipped_quantity = max(Decimal(0), line.shipped_quantity + sign * totals[line.pk])
        _settle_line_shipping(line)
        line.save(update_fields=["shipped_quantity", "status", "updated_at"])
        pos[line.po_id] = line.po
    for po in pos.values():
        _settle_po_shipping(po)


def _settle_line_shipping(line: PurchaseOrderLine) -> None:
    if line.status not in (LineStatus.ACKNOWLEDGED, LineStatus.PARTIALLY_SHIPPED, LineStatus.SHIPPED):
        return  # received, closed: receipts own the status from here
    if line.shipped_quantity >= line.ordered_quantity:
        target = LineStatus.SHIPPED
    elif line.shipped_quantity > 0:
        target = LineStatus.PARTIALLY_SHIPPED
    else:
        target = LineStatus.ACKNOWLEDGED
    if target != line.status:
        line.transition_to(target)


def _settle_po_shipping(po: PurchaseOrder) -> None:
    if po.status not in (POStatus.ACKNOWLEDGED, POStatus.PARTIALLY_SHIPPED, POStatus.SHIPPED):
        return
    statuses = set(po.lines.exclude(status=LineStatus.CANCELLED).values_list("status", flat=True))
    if statuses and statuses <= {LineStatus.SHIPPED, LineStatus.RECEIVED, LineStatus.CLOSED}:
        target = POStatus.SHIPPED
    elif statuses & {LineStatus.SHIPPED, LineStatus.PARTIALLY_SHIPPED, LineStatus.RECEIVED}:
        target = POStatus.PARTIALLY_SHIPPED
    else:
        target = POStatus.ACKNOWLEDGED
    if target != po.status:
        po.transition_to(target)
    po.version += 1
    po.save(update_fields=["status", "version", "updated_at"])


def _record(notice: ShipmentNotice, checked: _Checked, *, by: User | None, channel: str) -> None:
    verb = "Replaced" if notice.replaces_id else "Sent"
    for po in checked.pos.values():
        lines = sorted({line.line_number for _, line in checked.lines if line.po_id == po.pk})
        HistoryEntry.objects.create(
            po=po,
            actor=by,
            channel=channel,
            action="shipped",
            summary=f"{verb} shipment notice {notice.number} for lines {', '.join(map(str, lines))}.",
            changes={"asn_number": notice.number},
        )
    data = shipment_notice_json(notice)
    if notice.replaces_id:
        record_event("asn.replaced", subject=notice, actor=by, channel=channel, critical=True, data=data)
    else:
        record_event("asn.submitted", subject=notice, actor=by, channel=channel, critical=True, data=data)


def shipment_notice_json(notice: ShipmentNotice) -> dict[str, Any]:
    """The notice as its events carry it: what the ERP books as an inbound delivery."""
    packages = list(notice.packages.select_related("parent"))
    lines = notice.lines.select_related("po_line__po", "po_line__item", "package")
    return {
        "asn_number": notice.number,
        "supplier": notice.supplier.code,
        "site": notice.site.code,
        "status": notice.status,
        "ship_date": notice.ship_date.isoformat(),
        "estimated_arrival": notice.estimated_arrival.isoformat() if notice.estimated_arrival else None,
        "carrier": {"scac": notice.carrier_scac, "name": notice.carrier_name},
        "tracking_number": notice.tracking_number,
        "bill_of_lading": notice.bill_of_lading,
        "replaces": notice.replaces.number if notice.replaces else None,
        "packages": [
            {"sscc": p.sscc, "kind": p.kind, "parent_sscc": p.parent.sscc if p.parent else None} for p in packages
        ],
        "lines": [
            {
                "po_number": line.po_line.po.number,
                "line_number": line.po_line.line_number,
                "item_sku": line.po_line.item.sku,
                "quantity": decimal_text(line.quantity),
                "lot_number": line.lot_number,
                "expiry_date": line.expiry_date.isoformat() if line.expiry_date else None,
                "package_sscc": line.package.sscc if line.package else None,
            }
            for line in lines
        ],
    }


# --- cancel ------------------------------------------------------------------------------------


@transaction.atomic
def shipment_notice_cancel(*, notice: ShipmentNotice, by: User | None, reason: str, channel: str) -> ShipmentNotice:
    """Withdraw a notice the warehouse has not received; its quantities leave the lines. Emits ``asn.cancelled``."""
    if not reason.strip():
        raise ValidationError({"reason": ["Say why the notice is cancelled."]})
    notice = _lock_changeable(notice)
    _unship(notice)
    notice.transition_to(ShipmentStatus.CANCELLED)
    notice.cancelled_at = timezone.now()
    notice.cancel_reason = reason.strip()
    notice.save(update_fields=["status", "cancelled_at", "cancel_reason", "updated_at"])
    for po in PurchaseOrder.objects.filter(lines__shipment_lines__shipment=notice).distinct():
        HistoryEntry.objects.create(
            po=po,
            actor=by,
            channel=channel,
            action="shipment.cancelled",
            summary=f"Cancelled shipment notice {notice.number}: {notice.cancel_reason}",
            changes={"asn_number": notice.number},
        )
    record_event(
        "asn.cancelled",
        subject=notice,
        actor=by,
        channel=channel,
        critical=True,
        data={"asn_number": notice.number, "supplier": notice.supplier.code, "reason": notice.cancel_reason},
    )
    return notice


def _lock_changeable(notice: ShipmentNotice) -> ShipmentNotice:
    locked = ShipmentNotice.objects.select_for_update().select_related("supplier", "site").get(pk=notice.pk)
    if not locked.is_changeable:
        status = locked.get_status_display().lower()
        raise ValidationError(f"Shipment notice {locked.number} is {status}: it can no longer change.", code="final")
    return locked


# --- receipts and the in-transit sweep -----------------------------------------------------------


def receipt_allocate(*, po: PurchaseOrder, receipt: Receipt, received: Sequence[ReceiptLine], asn_number: str) -> None:
    """Spread a receipt's quantities over the shipment notices of its lines (the caller holds the PO's lock).

    With ``asn_number`` (the ERP received against that notice) only its lines are used; otherwise the
    oldest open notices first. What arrives beyond a notice's quantity stays on its last line, as an
    over-receipt the buyer sees. Moves touched notices to received, and closes those whose every line
    is received in full or closed by the ERP. Emits ``asn.received`` per notice touched.
    """
    candidates = ShipmentLine.objects.filter(po_line__po=po).exclude(
        shipment__status__in=(*ShipmentNotice.INACTIVE_STATUSES, ShipmentStatus.CLOSED)
    )
    if asn_number:
        notice = ShipmentNotice.objects.active().filter(supplier_id=po.supplier_id, number=asn_number).first()
        if notice is None:
            raise ValidationError({"asn_number": [f"There is no shipment notice {asn_number} of this supplier."]})
        candidates = candidates.filter(shipment=notice)
        Receipt.objects.filter(pk=receipt.pk).update(shipment=notice)
    by_line: dict[int, list[ShipmentLine]] = defaultdict(list)
    ordered = candidates.select_related("shipment").order_by(
        F("shipment__estimated_arrival").asc(nulls_last=True), "shipment__submitted_at", "position"
    )
    for shipped in ordered:
        by_line[shipped.po_line_id].append(shipped)
    touched: dict[int, ShipmentNotice] = {}
    for entry in received:
        for shipped in _allot(by_line.get(entry.line_id, []), entry.quantity):
            touched[shipped.shipment_id] = shipped.shipment
    for notice in touched.values():
        _mark_received(notice, receipt)


def _allot(lines: list[ShipmentLine], quantity: Decimal) -> list[ShipmentLine]:
    changed: list[ShipmentLine] = []
    remaining = quantity
    for position, shipped in enumerate(lines):
        already = shipped.received_quantity or Decimal(0)
        last = position == len(lines) - 1
        share = remaining if last else min(remaining, max(Decimal(0), shipped.quantity - already))
        if share <= 0 and not last:
            continue
        shipped.received_quantity = already + share
        shipped.save(update_fields=["received_quantity"])
        changed.append(shipped)
        remaining -= share
        if remaining <= 0:
            break
    return changed


def _mark_received(notice: ShipmentNotice, receipt: Receipt) -> None:
    if notice.status in ShipmentNotice.CHANGEABLE_STATUSES:
        notice.transition_to(ShipmentStatus.RECEIVED)
        notice.received_at = receipt.received_at
    lines = list(notice.lines.select_related("po_line__po"))
    final = (LineStatus.RECEIVED, LineStatus.CLOSED, LineStatus.CANCELLED)
    if all((line.received_quantity or 0) >= line.quantity or line.po_line.status in final for line in lines):
        notice.transition_to(ShipmentStatus.CLOSED)
    notice.save(update_fields=["status", "received_at", "updated_at"])
    record_event(
        "asn.received",
        subject=notice,
        channel="erp",
        critical=True,
        data={
            "asn_number": notice.number,
            "supplier": notice.supplier.code,
            "receipt_id": receipt.external_id,
            "received_at": receipt.received_at.isoformat(),
            "status": notice.status,
            "lines": [
                {
                    "po_number": line.po_line.po.number,
                    "line_number": line.po_line.line_number,
                    "shipped_quantity": decimal_text(line.quantity),
                    "received_quantity": decimal_text(line.received_quantity or Decimal(0)),
                }
                for line in lines
            ],
        },
    )


def shipment_notices_departed_sweep(*, today: dt.date | None = None) -> int:
    """Move submitted notices whose ship date has come to in transit; returns how many."""
    today = today or timezone.localdate()
    return ShipmentNotice.objects.filter(status=ShipmentStatus.SUBMITTED, ship_date__lte=today).update(
        status=ShipmentStatus.IN_TRANSIT, updated_at=timezone.now()
    )
