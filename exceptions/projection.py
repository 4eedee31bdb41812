"""Projected availability of one item at one site, day by day: pure arithmetic over values, no database.

The balance at the close of each day is the on-hand quantity, plus the supply due up to that day,
minus the demand due up to that day. Supply and demand dated before the first day (past due) count
on the first day: they are still expected, or still owed. Whatever is dated after the horizon is
left out. The projection breaches where a closing balance falls below safety stock (or below zero).

``exceptions.supply_risk`` reads the values from the database and decides what a breach means for
the buyers; keeping the arithmetic here makes it easy to test exhaustively (tests/exceptions/test_projection.py).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

ZERO = Decimal(0)
DEFAULT_WEEKS = 12


@dataclass(frozen=True)
class Supply:
    """A quantity expected to arrive on a date, and where it comes from ("PO-100001 line 10", "ASN-7001 ...").

    ``po_id`` is the purchase order it comes from (a notice's line's PO too), when known: whose buyer to ask.
    """

    date: dt.date
    quantity: Decimal
    source: str
    po_id: int | None = None


@dataclass(frozen=True)
class DemandLine:
    """A quantity needed on a date, from the planning system; priority 1 is the highest."""

    date: dt.date
    quantity: Decimal
    priority: int
    customer_reference: str = ""
    kind: str = ""
    reference: str = ""


@dataclass(frozen=True)
class DemandAtRisk:
    """A demand line the projection cannot serve without going below safety stock, and by how much."""

    demand: DemandLine
    short: Decimal


@dataclass(frozen=True)
class Day:
    """One day of the projection: what arrives, what goes out, and the balance at its close."""

    date: dt.date
    supplies: tuple[Supply, ...]
    demands: tuple[DemandLine, ...]
    balance: Decimal

    @property
    def supply(self) -> Decimal:
        return sum((s.quantity for s in self.supplies), ZERO)

    @property
    def demand(self) -> Decimal:
        return sum((d.quantity for d in self.demands), ZERO)

    @property
    def has_movements(self) -> bool:
        return bool(self.supplies or self.demands)


@dataclass(frozen=True)
class Projection:
    start: dt.date
    on_hand: Decimal
    safety_stock: Decimal
    days: tuple[Day, ...]
    demand_at_risk: tuple[DemandAtRisk, ...] = field(default=())

    @property
    def end(self) -> dt.date:
        return self.days[-1].date

    @property
    def balances(self) -> list[Decimal]:
        return [day.balance for day in self.days]

    @property
    def first_below_safety(self) -> dt.date | None:
        return next((day.date for day in self.days if day.balance < self.safety_stock), None)

    @property
    def first_below_zero(self) -> dt.date | None:
        return next((day.date for day in self.days if day.balance < 0), None)

    @property
    def breaches(self) -> bool:
        """Below safety stock on some day (below zero is below safety stock too, as safety stock is never negative)."""
        return self.first_below_safety is not None or self.first_below_zero is not None

    @property
    def shortfall(self) -> Decimal:
        """The most the balance falls below safety stock: what it would take to keep safety stock every day."""
        return max((self.safety_stock - day.balance for day in self.days), default=ZERO).max(ZERO)

    @property
    def days_short(self) -> int:
        return sum(1 for day in self.days if day.balance < self.safety_stock)

    @property
    def lowest_balance(self) -> Decimal:
        return min(self.balances)

    @property
    def highest_priority_at_risk(self) -> int | None:
        """The most important demand at risk (1 is the highest), or None when none is."""
        return min((risk.demand.priority for risk in self.demand_at_risk), default=None)


def project(
    *,
    on_hand: Decimal,
    safety_stock: Decimal,
    supply: Iterable[Supply],
    demand: Iterable[DemandLine],
    start: dt.date,
    weeks: int = DEFAULT_WEEKS,
) -> Projection:
    """The day-by-day projection from ``start`` over ``weeks`` weeks, with the demand it cannot serve.

    Within a day, supply arrives first, then demand is served highest priority first; a demand line
    is at risk for the part of it that takes the balance below safety stock.
    """
    if weeks < 1:
        raise ValueError(f"The horizon must be at least one week, not {weeks}.")
    dates = [start + dt.timedelta(days=n) for n in range(weeks * 7)]
    supplies = _by_day(supply, start, dates[-1])
    demands = _by_day(demand, start, dates[-1])
    balance, days, at_risk = on_hand, [], []
    for date in dates:
        balance += sum((s.quantity for s in supplies[date]), ZERO)
        day_demands = sorted(demands[date], key=lambda d: (d.priority, d.date, d.reference))
        for line in day_demands:
            balance -= line.quantity
            if balance < safety_stock:
                at_risk.append(DemandAtRisk(line, min(line.quantity, safety_stock - balance)))
        days.append(Day(date, tuple(supplies[date]), tuple(day_demands), balance))
    return Projection(start, on_hand, safety_stock, tuple(days), tuple(at_risk))


def _by_day[T: (Supply, DemandLine)](
    entries: Iterable[T], start: dt.date, end: dt.date
) -> defaultdict[dt.date, list[T]]:
    by_day: defaultdict[dt.date, list[T]] = defaultdict(list)
    for entry in entries:
        if entry.date <= end:
            by_day[max(entry.date, start)].append(entry)
    return by_day


def open_deliveries(deliveries: Sequence[tuple[dt.date, Decimal]], done: Decimal) -> list[tuple[dt.date, Decimal]]:
    """What is still to come of a line's deliveries once ``done`` of it shipped (or arrived without a notice).

    A shipment fills the earliest deliveries first, so ``done`` is taken off them in date order.
    """
    remaining = max(done, ZERO)
    still_open = []
    for date, quantity in sorted(deliveries, key=lambda d: d[0]):
        taken = min(quantity, remaining)
        remaining -= taken
        if quantity > taken:
            still_open.append((date, quantity - taken))
    return still_open


def new_breach_dates(
    projection: Projection,
    *,
    before_start: dt.date | None,
    before_balances: Sequence[Decimal],
    before_safety_stock: Decimal,
) -> list[dt.date]:
    """The days the projection breaches (below safety stock, or below zero) where the one before did not.

    A day the earlier projection did not reach (its horizon ended sooner) is compared with its last
    day: beyond its horizon nothing was expected to change. With no earlier projection, every breach is new.
    """
    if before_start is None or not before_balances:
        return [day.date for day in projection.days if day.balance < projection.safety_stock or day.balance < 0]
    last = len(before_balances) - 1
    new = []
    for day in projection.days:
        before = before_balances[min(max((day.date - before_start).days, 0), last)]
        newly_below_safety = day.balance < projection.safety_stock and not before < before_safety_stock
        newly_below_zero = day.balance < 0 and not before < 0
        if newly_below_safety or newly_below_zero:
            new.append(day.date)
    return new
