"""Forms turn posted fields into the services' inputs; the rules live in services and rules."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from purchasing.models import AcknowledgementLine, PurchaseOrderLine, ReasonCode
from purchasing.rules import Delivery, LineTerms
from purchasing.services import LineChange, LineDecision, NewLine

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
