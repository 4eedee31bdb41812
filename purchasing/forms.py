"""Forms turn posted fields into the services' inputs; the rules live in services and rules."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from purchasing.documents.shapes import PackageInput, ShipmentInput, ShipmentLineInput
from purchasing.models import AcknowledgementLine, PurchaseOrderLine, ReasonCode, ShipmentPackage
from purchasing.rules import Delivery, LineTerms
from purchasing.services import LineChange, LineDecision, NewLine
from suppliers.models import ShipFromAddress

DELIVERY_SLOTS = 5
ADDITION_SLOTS = 3
DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
QUANTITY = forms.NumberInput(attrs={"step": "0.001", "min": "0"})
PRICE = forms.NumberInput(attrs={"step": "0.0001", "min": "0"})


class VersionForm(forms.Form):
    """The PO version the page was rendered with, for optimistic locking."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    note = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Note for the buyer (optional)",
    )


class LineAnswerForm(forms.Form):
    """A supplier's answer for one line: accept, reject with a reason, or change (and split)."""

    action = forms.ChoiceField(
        choices=AcknowledgementLine.Action.choices,
        widget=forms.RadioSelect,
        label="Answer",
        error_messages={"required": "Choose accept, reject or change for this line."},
    )
    reason_code = forms.ModelChoiceField(
        queryset=ReasonCode.objects.filter(is_active=True),
        to_field_name="code",
        required=False,
        label="Reason for rejecting",
        empty_label="Choose a reason",
    )
    note = forms.CharField(required=False, max_length=1000, label="Note for the buyer")
    quantity = forms.DecimalField(max_digits=14, decimal_places=3, required=False, widget=QUANTITY, label="Quantity")
    unit_price = forms.DecimalField(max_digits=14, decimal_places=4, required=False, widget=PRICE, label="Unit price")

    def __init__(self, *args: Any, line: PurchaseOrderLine, terms: LineTerms, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", f"line-{line.line_number}")
        kwargs.setdefault("initial", {"quantity": plain(terms.quantity), "unit_price": plain(terms.unit_price)})
        super().__init__(*args, **kwargs)
        self.line = line
        self.terms = terms
        self.promised_count = len(terms.deliveries)
        for slot in range(DELIVERY_SLOTS):
            current = terms.deliveries[slot] if slot < len(terms.deliveries) else None
            self.fields[f"delivery_{slot}_quantity"] = forms.DecimalField(
                max_digits=14,
                decimal_places=3,
                required=False,
                widget=QUANTITY,
                label=f"Delivery {slot + 1} quantity",
                initial=plain(current.quantity) if current else None,
            )
            self.fields[f"delivery_{slot}_date"] = forms.DateField(
                required=False,
                widget=DATE,
                label=f"Delivery {slot + 1} date",
                initial=current.date if current else None,
            )

    def delivery_fields(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return [(self[f"delivery_{s}_quantity"], self[f"delivery_{s}_date"]) for s in range(DELIVERY_SLOTS)]

    def shown_deliveries(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        """The rows shown open: those already promised, or filled in."""
        return self.delivery_fields()[: self._open_rows()]

    def more_deliveries(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return self.delivery_fields()[self._open_rows() :]

    def _open_rows(self) -> int:
        filled = [
            s
            for s in range(DELIVERY_SLOTS)
            if self.is_bound and self.data.get(self.add_prefix(f"delivery_{s}_quantity"))
        ]
        return max(self.promised_count, max(filled, default=0) + 1)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        action = data.get("action")
        if action == AcknowledgementLine.Action.REJECT and not data.get("reason_code"):
            self.add_error("reason_code", "Choose a reason for rejecting the line.")
        if action == AcknowledgementLine.Action.CHANGE:
            data["deliveries"] = self._deliveries(data)
        return data

    def _deliveries(self, data: dict[str, Any]) -> tuple[Delivery, ...]:
        deliveries = []
        for slot in range(DELIVERY_SLOTS):
            quantity, date = data.get(f"delivery_{slot}_quantity"), data.get(f"delivery_{slot}_date")
            if quantity is None and date is None:
                continue
            if quantity is None or date is None:
                missing = "quantity" if quantity is None else "date"
                self.add_error(f"delivery_{slot}_{missing}", f"Delivery {slot + 1} needs a {missing} too.")
                continue
            deliveries.append(Delivery(quantity=quantity, date=date))
        new_quantity = data.get("quantity")
        if len(deliveries) == 1 and new_quantity and deliveries[0].quantity == self.terms.quantity:
            # One delivery left at the old quantity follows a changed line quantity.
            deliveries = [Delivery(quantity=new_quantity, date=deliveries[0].date)]
        return tuple(deliveries)

    def decision(self) -> LineDecision:
        data = self.cleaned_data
        reason = data.get("reason_code")
        change = data["action"] == AcknowledgementLine.Action.CHANGE
        return LineDecision(
            line_number=self.line.line_number,
            action=data["action"],
            reason_code=reason.code if reason else "",
            note=data.get("note", ""),
            quantity=data.get("quantity") if change else None,
            unit_price=data.get("unit_price") if change else None,
            deliveries=data.get("deliveries", ()) if change else (),
        )

    def add_service_error(self, field: str | None, message: str) -> None:
        if field == "deliveries":
            field = "delivery_0_quantity"
        self.add_error(field if field in self.fields else None, message)


class ProposalDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("decline", "Decline")])
    reason = forms.CharField(required=False, max_length=1000, label="Reason (required to decline)")


class ChangeOrderLineForm(forms.Form):
    quantity = forms.DecimalField(max_digits=14, decimal_places=3, widget=QUANTITY, label="Quantity")
    unit_price = forms.DecimalField(max_digits=14, decimal_places=4, widget=PRICE, label="Unit price")
    need_by_date = forms.DateField(widget=DATE, label="Need by")
    cancel = forms.BooleanField(required=False, label="Cancel line")

    def __init__(self, *args: Any, line: PurchaseOrderLine, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", f"line-{line.line_number}")
        kwargs.setdefault(
            "initial",
            {
                "quantity": plain(line.ordered_quantity),
                "unit_price": plain(line.unit_price),
                "need_by_date": line.need_by_date,
            },
        )
        super().__init__(*args, **kwargs)
        self.line = line

    def change(self) -> LineChange | None:
        data = self.cleaned_data
        if data.get("cancel"):
            return None
        return LineChange(
            line_number=self.line.line_number,
            quantity=_changed(data["quantity"], self.line.ordered_quantity),
            unit_price=_changed(data["unit_price"], self.line.unit_price),
            need_by_date=_changed(data["need_by_date"], self.line.need_by_date),
        )


class NewLineForm(forms.Form):
    item_sku = forms.CharField(required=False, max_length=40, label="Item SKU")
    quantity = forms.DecimalField(max_digits=14, decimal_places=3, required=False, widget=QUANTITY, label="Quantity")
    unit_price = forms.DecimalField(max_digits=14, decimal_places=4, required=False, widget=PRICE, label="Unit price")
    need_by_date = forms.DateField(required=False, widget=DATE, label="Need by")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        filled = [name for name in self.fields if data.get(name) not in (None, "")]
        if filled and len(filled) < len(self.fields):
            for name in self.fields:
                if name not in filled:
                    self.add_error(name, "Fill in every field of a new line, or none.")
        return data

    def new_line(self) -> NewLine | None:
        data = self.cleaned_data
        if not data.get("item_sku"):
            return None
        return NewLine(
            item_sku=data["item_sku"].strip(),
            quantity=data["quantity"],
            unit_price=data["unit_price"],
            need_by_date=data["need_by_date"],
        )


def plain(value: Decimal) -> str:
    """A decimal as people write it: 170, not 1.7E+2 or 170.000."""
    return format(value.normalize(), "f")


def _changed[T: (Decimal, dt.date)](new: T, old: T) -> T | None:
    return None if new == old else new


def apply_service_errors(error: ValidationError, forms_by_key: dict[str, forms.Form], fallback: forms.Form) -> None:
    """Put each of a service's ``lines.20.quantity`` errors on the form and field it names."""
    for key, messages in error.message_dict.items():
        parts = key.split(".")
        form = forms_by_key.get(".".join(parts[:2])) if len(parts) >= 2 else None
        field = parts[2] if len(parts) > 2 else None
        for message in messages:
            if form is None:
                fallback.add_error(None, message)
            elif isinstance(form, LineAnswerForm):
                form.add_service_error(field, message)
            else:
                form.add_error(field if field in form.fields else None, message)


# --- shipment notices ----------------------------------------------------------------------------

# Blank package rows on a new notice: a pallet of two cartons without JavaScript ("Add package" adds more).
PACKAGE_SLOTS = 3
_LINE_ROW_KEY = re.compile(r"line-(\d+)-(\d+)-quantity")
_PACKAGE_ROW_KEY = re.compile(r"package-(\d+)-kind")
_LINE_FIELDS = ("quantity", "lot_number", "expiry_date", "package_ref")
_PACKAGE_FIELDS = ("ref", "kind", "sscc", "parent_ref")
_HEADER_FIELDS = (
    "number",
    "ship_date",
    "estimated_arrival",
    "carrier_scac",
    "carrier_name",
    "tracking_number",
    "bill_of_lading",
    "ship_from",
)


class _NoticePart(forms.Form):
    """A part of the shipment form: its errors are listed atop the page by ``title``, linking to ``anchor``."""

    anchor = ""
    title = ""


class ShipmentHeaderForm(_NoticePart):
    """What the notice says about the whole shipment. A correction keeps its number, so it has no number field."""

    number = forms.CharField(max_length=30, label="ASN number", help_text="Your number for this shipment.")
    ship_date = forms.DateField(widget=DATE, label="Ship date")
    estimated_arrival = forms.DateField(required=False, widget=DATE, label="Estimated arrival")
    carrier_scac = forms.CharField(
        required=False, max_length=4, label="Carrier SCAC", help_text="2 to 4 capital letters, e.g. UPSN."
    )
    carrier_name = forms.CharField(required=False, max_length=100, label="Carrier name")
    tracking_number = forms.CharField(required=False, max_length=50, label="Tracking number")
    bill_of_lading = forms.CharField(required=False, max_length=50, label="Bill of lading")
    ship_from = forms.CharField(
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Ship from",
        help_text="The address the goods leave from, as the labels print it. Empty: your company name.",
    )

    anchor = "asn-header"
    title = "Shipment"

    def __init__(
        self, *args: Any, has_number: bool = True, addresses: Sequence[ShipFromAddress] = (), **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if not has_number:
            del self.fields["number"]
        self.addresses = {str(address.pk): address for address in addresses}
        if addresses:
            self.fields["ship_from_address"] = forms.ChoiceField(
                required=False,
                label="Ship from a saved address",
                choices=[("", "None: type the address below"), *((str(a.pk), a.label) for a in addresses)],
                help_text="Your addresses from the company profile. A saved address replaces what is typed below.",
            )
            others = [name for name in self.fields if name not in ("ship_from_address", "ship_from")]
            self.order_fields([*others, "ship_from_address", "ship_from"])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        chosen = self.addresses.get(str(data.get("ship_from_address") or ""))
        if chosen is not None:
            data["ship_from"] = chosen.as_text()
        return data

    def clean_carrier_scac(self) -> str:
        return str(self.cleaned_data["carrier_scac"]).upper()


class ShipmentLineRowForm(_NoticePart):
    """How much of one PO line ships, with its lot, expiry and package. A line split over packages or lots
    has several rows; a row without a quantity does not ship."""

    quantity = forms.DecimalField(max_digits=14, decimal_places=3, required=False, widget=QUANTITY)
    lot_number = forms.CharField(required=False, max_length=40)
    expiry_date = forms.DateField(required=False, widget=DATE)
    package_ref = forms.CharField(required=False, max_length=20, widget=forms.TextInput(attrs={"size": 6}))

    def __init__(self, *args: Any, line: PurchaseOrderLine, row: int, **kwargs: Any) -> None:
        kwargs["prefix"] = f"line-{line.pk}-{row}"
        super().__init__(*args, **kwargs)
        self.line = line
        self.row = row
        self.title = f"{line.po.number} line {line.line_number}" + (f" ({row + 1})" if row else "")
        self.anchor = f"row-{self.prefix}"
        for name, text in (
            ("quantity", "quantity"),
            ("lot_number", "lot or batch"),
            ("expiry_date", "expiry date"),
            ("package_ref", "package"),
        ):
            self.fields[name].label = f"{self.title} {text}"
        for name, needed in (("lot_number", line.item.lot_controlled), ("expiry_date", line.item.expiry_controlled)):
            if needed:
                self.fields[name].label = f"{self.fields[name].label} (required)"
                self.fields[name].widget.attrs.update({"aria-required": "true", "placeholder": "Required"})

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        extras = any(data.get(name) for name in ("lot_number", "expiry_date", "package_ref"))
        if data.get("quantity") is None and extras and not self.has_error("quantity"):
            self.add_error("quantity", "Give the quantity shipped, or clear this row.")
        return data

    @property
    def is_used(self) -> bool:
        return self.cleaned_data.get("quantity") is not None

    def shipment_line(self) -> ShipmentLineInput:
        data = self.cleaned_data
        return ShipmentLineInput(
            po_number=self.line.po.number,
            line_number=self.line.line_number,
            quantity=data["quantity"],
            package_ref=data["package_ref"] or None,
            lot_number=data["lot_number"],
            expiry_date=data["expiry_date"],
        )


class ShipmentPackageRowForm(_NoticePart):
    """One pallet, carton or package. Lines and other packages name it by its reference."""

    ref = forms.CharField(required=False, max_length=20, widget=forms.TextInput(attrs={"size": 6}))
    kind = forms.ChoiceField(choices=ShipmentPackage.Kind.choices, required=False, initial=ShipmentPackage.Kind.CARTON)
    sscc = forms.CharField(required=False, max_length=30, widget=forms.TextInput(attrs={"inputmode": "numeric"}))
    parent_ref = forms.CharField(required=False, max_length=20, widget=forms.TextInput(attrs={"size": 6}))

    def __init__(self, *args: Any, row: int, **kwargs: Any) -> None:
        kwargs["prefix"] = f"package-{row}"
        super().__init__(*args, **kwargs)
        self.row = row
        self.title = f"Package {row + 1}"
        self.anchor = f"row-{self.prefix}"
        for name, text in (("ref", "reference"), ("kind", "kind"), ("sscc", "SSCC"), ("parent_ref", "inside")):
            self.fields[name].label = f"{self.title} {text}"

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.is_used and not data.get("ref"):
            self.add_error("ref", "Name the package, e.g. P1 or C1, so lines and other packages can refer to it.")
        return data

    @property
    def is_used(self) -> bool:
        return any(self.cleaned_data.get(name) for name in ("ref", "sscc", "parent_ref"))

    def package(self) -> PackageInput:
        data = self.cleaned_data
        return PackageInput(
            ref=data["ref"],
            kind=data["kind"] or ShipmentPackage.Kind.CARTON,
            sscc=data["sscc"],
            parent_ref=data["parent_ref"] or None,
        )


class ShipmentCancelForm(forms.Form):
    reason = forms.CharField(
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Reason for cancelling",
        error_messages={"required": "Say why the notice is cancelled."},
    )


@dataclass
class LineGroup:
    """A PO line on the shipment form, with its rows."""

    line: PurchaseOrderLine
    remaining: Decimal  # ordered minus shipped on other notices
    rows: list[ShipmentLineRowForm]

    @property
    def next_row(self) -> int:
        return max(row.row for row in self.rows) + 1


def posted_line_rows(data: Mapping[str, Any]) -> dict[int, list[int]]:
    """The rows of each PO line (by id) in posted data, in the order of the page."""
    rows: dict[int, list[int]] = {}
    for key in data:
        if match := _LINE_ROW_KEY.fullmatch(key):
            rows.setdefault(int(match[1]), []).append(int(match[2]))
    return rows


def _posted_package_rows(data: Mapping[str, Any]) -> list[int]:
    return [int(match[1]) for key in data if (match := _PACKAGE_ROW_KEY.fullmatch(key))]


class ShipmentNoticeForm:
    """A whole shipment notice as one form: the header, rows per PO line, and package rows.

    ``data`` with ``bound=False`` redraws a posted page (after "Add package" without JavaScript) with what
    was typed and no errors. ``initial`` prefills a new page: a notice to correct, or a PO's lines.
    """

    def __init__(
        self,
        data: Mapping[str, Any] | None,
        *,
        lines: Sequence[PurchaseOrderLine],
        remaining: Mapping[int, Decimal],
        initial: ShipmentInput,
        has_number: bool = True,
        bound: bool = True,
        addresses: Sequence[ShipFromAddress] = (),
    ) -> None:
        self.data = data
        self.bound = bound and data is not None
        self.lines_errors: list[str] = []
        self.packages_errors: list[str] = []
        self._positions: dict[str, _NoticePart] = {}
        header_initial = _header_initial(initial)
        if not initial.ship_from:
            # A new notice ships from the supplier's default address unless the supplier picks another.
            header_initial["ship_from_address"] = next((str(a.pk) for a in addresses if a.is_default), "")
        self.header = ShipmentHeaderForm(
            **self._source("", (*_HEADER_FIELDS, "ship_from_address"), header_initial),
            has_number=has_number,
            addresses=addresses,
        )
        self.groups = [self._group(line, remaining[line.pk], initial) for line in lines]
        self.package_rows = self._package_rows(initial)

    def _source(self, prefix: str, names: Sequence[str], initial: dict[str, Any]) -> dict[str, Any]:
        """A sub-form's data: the posted data, or for a page redrawn unbound, what was posted as initial values."""
        if self.data is None:
            return {"initial": initial}
        if self.bound:
            return {"data": self.data}
        keys = {name: f"{prefix}-{name}" if prefix else name for name in names}
        return {"initial": {name: self.data[key] for name, key in keys.items() if key in self.data}}

    def _group(self, line: PurchaseOrderLine, remaining: Decimal, initial: ShipmentInput) -> LineGroup:
        if self.data is not None:
            rows = posted_line_rows(self.data).get(line.pk, [0])
            forms_ = [
                ShipmentLineRowForm(**self._source(f"line-{line.pk}-{n}", _LINE_FIELDS, {}), line=line, row=n)
                for n in rows
            ]
        else:
            entries = [e for e in initial.lines if (e.po_number, e.line_number) == (line.po.number, line.line_number)]
            forms_ = [
                ShipmentLineRowForm(initial=_line_initial(entry), line=line, row=n)
                for n, entry in enumerate(entries or [None])
            ]
        return LineGroup(line=line, remaining=remaining, rows=forms_)

    def _package_rows(self, initial: ShipmentInput) -> list[ShipmentPackageRowForm]:
        if self.data is not None:
            rows = _posted_package_rows(self.data) or list(range(PACKAGE_SLOTS))
            return [ShipmentPackageRowForm(**self._source(f"package-{n}", _PACKAGE_FIELDS, {}), row=n) for n in rows]
        given = [_package_initial(package) for package in initial.packages]
        blanks: list[dict[str, Any]] = [{}] * max(1, PACKAGE_SLOTS - len(given))
        return [ShipmentPackageRowForm(initial=values, row=n) for n, values in enumerate(given + blanks)]

    @property
    def next_package_row(self) -> int:
        return max((row.row for row in self.package_rows), default=-1) + 1

    def add_row(self, what: str) -> None:
        """Add a blank row: "package", or "line-<PO line id>" for another row of that line."""
        if what == "package":
            self.package_rows.append(ShipmentPackageRowForm(row=self.next_package_row))
            return
        for group in self.groups:
            if what == f"line-{group.line.pk}":
                group.rows.append(ShipmentLineRowForm(line=group.line, row=group.next_row))

    def _forms(self) -> Iterator[_NoticePart]:
        yield self.header
        for group in self.groups:
            yield from group.rows
        yield from self.package_rows

    def is_valid(self) -> bool:
        if not self.bound:
            return False
        return all(form.is_valid() for form in self._forms())

    def shipment(self) -> ShipmentInput:
        """The notice as the services take it; call only once the form is valid."""
        lines = [row for group in self.groups for row in group.rows if row.is_used]
        packages = _parents_first([row for row in self.package_rows if row.is_used])
        self._positions = {f"lines.{n}": row for n, row in enumerate(lines, start=1)}
        self._positions |= {f"packages.{n}": row for n, row in enumerate(packages, start=1)}
        header = self.header.cleaned_data
        return ShipmentInput(
            number=header.get("number", ""),
            ship_date=header["ship_date"],
            estimated_arrival=header["estimated_arrival"],
            carrier_scac=header["carrier_scac"],
            carrier_name=header["carrier_name"],
            tracking_number=header["tracking_number"],
            bill_of_lading=header["bill_of_lading"],
            ship_from=header["ship_from"],
            packages=tuple(row.package() for row in packages),
            lines=tuple(row.shipment_line() for row in lines),
        )

    def add_service_errors(self, error: ValidationError) -> None:
        """Put each of the service's errors (``number``, ``lines.3.quantity``, ``packages.2.sscc``, ``lines``)
        on the input it is about."""
        if not hasattr(error, "error_dict"):
            for message in error.messages:
                self.header.add_error(None, message)
            return
        for key, messages in error.message_dict.items():
            for message in messages:
                self._add_service_error(key, message)

    def _add_service_error(self, key: str, message: str) -> None:
        if key in ("lines", "packages"):
            (self.lines_errors if key == "lines" else self.packages_errors).append(message)
            return
        parts = key.split(".")
        form = self._positions.get(".".join(parts[:2]), self.header)
        name = parts[2] if len(parts) > 2 else parts[0]
        form.add_error(name if name in form.fields else None, message)

    def error_summary(self) -> list[tuple[str, str]]:
        """Every error, as (id of the input or row it is about, text naming it), for the list atop the form."""
        items = [("asn-lines", message) for message in self.lines_errors]
        items += [("asn-packages", message) for message in self.packages_errors]
        for form in self._forms():
            for name, messages in form.errors.items():
                if name == NON_FIELD_ERRORS:
                    anchor, label = form.anchor, form.title
                else:
                    anchor, label = form[name].id_for_label, str(form.fields[name].label)
                items += [(anchor, f"{label}: {message}") for message in messages]
        return items


def _header_initial(shipment: ShipmentInput) -> dict[str, Any]:
    return {name: getattr(shipment, name) for name in _HEADER_FIELDS}


def _line_initial(entry: ShipmentLineInput | None) -> dict[str, Any]:
    if entry is None:
        return {}
    return {
        "quantity": plain(entry.quantity),
        "lot_number": entry.lot_number,
        "expiry_date": entry.expiry_date,
        "package_ref": entry.package_ref or "",
    }


def _package_initial(package: PackageInput) -> dict[str, Any]:
    return {"ref": package.ref, "kind": package.kind, "sscc": package.sscc, "parent_ref": package.parent_ref or ""}


def _parents_first(rows: list[ShipmentPackageRowForm]) -> list[ShipmentPackageRowForm]:
    """The package rows with each after the one holding it, otherwise as typed.

    The service numbers its SSCC errors in this order (and the rest in the order given): sending the
    packages so keeps every ``packages.N`` on the row the user typed.
    """
    by_ref = {row.cleaned_data["ref"]: row for row in rows}
    ordered: list[ShipmentPackageRowForm] = []
    for row in rows:
        chain: list[ShipmentPackageRowForm] = []
        current: ShipmentPackageRowForm | None = row
        while current is not None and current not in ordered and current not in chain:
            chain.append(current)
            current = by_ref.get(current.cleaned_data["parent_ref"])
        ordered += reversed(chain)
    return ordered
