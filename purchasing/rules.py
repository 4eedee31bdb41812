"""Procurement rules: how far a supplier's answer may move a line before a buyer must look.

Pure functions over values, so every channel (web, API, EDI, CSV) gets the same
verdict and the rules can be tested without a database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from suppliers.models import Tolerances

HUNDRED = Decimal(100)


def decimal_text(value: Decimal) -> str:
    """A quantity or price as events and diffs carry it: plain digits, no exponent, no trailing zeros."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


@dataclass(frozen=True)
class Delivery:
    """One promised delivery: a schedule line to be."""

    quantity: Decimal
    date: dt.date

    def as_json(self) -> dict[str, str]:
        return {"quantity": decimal_text(self.quantity), "date": self.date.isoformat()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Delivery:
        return cls(quantity=Decimal(data["quantity"]), date=dt.date.fromisoformat(data["date"]))


@dataclass(frozen=True)
class LineTerms:
    """What a line says, or what a supplier proposes it should say."""

    quantity: Decimal
    unit_price: Decimal
    deliveries: tuple[Delivery, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "quantity": decimal_text(self.quantity),
            "unit_price": decimal_text(self.unit_price),
            "deliveries": [d.as_json() for d in self.deliveries],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LineTerms:
        return cls(
            quantity=Decimal(data["quantity"]),
            unit_price=Decimal(data["unit_price"]),
            deliveries=tuple(Delivery.from_json(d) for d in data["deliveries"]),
        )


def percent_change(old: Decimal, new: Decimal) -> Decimal:
    if old == 0:
        return Decimal(0) if new == 0 else HUNDRED
    return (new - old) / old * HUNDRED


def _fmt_pct(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.1')).normalize():f}%"


def tolerance_breaches(
    *, current: LineTerms, proposed: LineTerms, need_by: dt.date, tolerances: Tolerances
) -> list[str]:
    """Every way ``proposed`` goes beyond the supplier's tolerances, in words a buyer can act on.

    Quantity counts both ways (short and over). Price counts only increases: a
    lower price needs no buyer. Each delivery date is measured against the
    line's need-by date.
    """
    breaches = []
    quantity_change = percent_change(current.quantity, proposed.quantity)
    if abs(quantity_change) > tolerances.quantity_pct:
        direction = "above" if quantity_change > 0 else "below"
        breaches.append(
            f"Quantity {proposed.quantity.normalize():f} is {_fmt_pct(abs(quantity_change))} {direction} the "
            f"ordered {current.quantity.normalize():f} (tolerance {_fmt_pct(tolerances.quantity_pct)})."
        )
    price_change = percent_change(current.unit_price, proposed.unit_price)
    if price_change > tolerances.price_pct:
        breaches.append(
            f"Unit price {proposed.unit_price.normalize():f} is {_fmt_pct(price_change)} above "
            f"{current.unit_price.normalize():f} (tolerance {_fmt_pct(tolerances.price_pct)})."
        )
    for delivery in proposed.deliveries:
        breaches += _date_breaches(delivery, need_by, tolerances)
    return breaches


def _date_breaches(delivery: Delivery, need_by: dt.date, tolerances: Tolerances) -> list[str]:
    days = (delivery.date - need_by).days
    what = f"Delivery of {delivery.quantity.normalize():f} on {delivery.date.isoformat()}"
    if days > tolerances.days_late:
        return [
            f"{what} is {days} days after the need-by date {need_by.isoformat()} "
            f"(tolerance {tolerances.days_late} days late)."
        ]
    if -days > tolerances.days_early:
        return [
            f"{what} is {-days} days before the need-by date {need_by.isoformat()} "
            f"(tolerance {tolerances.days_early} days early)."
        ]
    return []
