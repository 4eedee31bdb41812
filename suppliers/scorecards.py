"""Supplier scorecards: five rates per supplier and calendar month, from the data the portal holds.

Each rate is defined in docs/scorecards.md. Every metric is one grouped query (``GROUP BY``
supplier and month, ``COUNT ... FILTER`` for the hits), so a scorecard costs five queries plus
one for the suppliers' names, however many months and suppliers it covers. Months are calendar
months in the portal's time zone (``TIME_ZONE``); a period is the current month and the months
before it.

The touchless rate reuses ``exceptions.kpis.Rate`` and the definition of ``kpis.touchless``;
that function groups by week, so its few lines of filtering are repeated here by month rather
than refactored (exceptions/kpis.py belongs to the exceptions app).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from django.db.models import (
    Count,
    DateField,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import TruncDate, TruncMonth
from django.utils import timezone

from exceptions.kpis import Rate
from purchasing.models import (
    Acknowledgement,
    ReceiptLine,
    ScheduleLine,
    ShipmentLine,
    ShipmentNotice,
)
from purchasing.models.orders import AcknowledgementQuerySet
from suppliers.models import Supplier, SupplierItem

MONTH_CHOICES = (3, 6, 12, 24)
DEFAULT_MONTHS = 12


@dataclass(frozen=True)
class Metric:
    key: str
    title: str


METRICS = (
    Metric("on_time_ack", "On-time acknowledgement"),
    Metric("touchless", "Touchless"),
    Metric("on_time_delivery", "On-time delivery"),
    Metric("quantity_accuracy", "Quantity accuracy"),
    Metric("lead_time", "Lead-time adherence"),
)


@dataclass(frozen=True)
class Period:
    """The last ``months`` calendar months, the current one included."""

    months: list[dt.date]  # the first day of each month, oldest first
    start: dt.datetime
    end: dt.datetime  # the first of the month after the current one, at midnight

    @classmethod
    def last(cls, months: int, now: dt.datetime) -> Period:
        today = timezone.localdate(now)
        firsts = [_add_months(today.replace(day=1), -i) for i in reversed(range(months))]
        return cls(firsts, _midnight(firsts[0]), _midnight(_add_months(firsts[-1], 1)))


def _add_months(first: dt.date, months: int) -> dt.date:
    index = first.year * 12 + first.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


@dataclass
class Scorecard:
    """One supplier's figures: ``by_month[metric key][first of month]``."""

    supplier: Supplier
    months: list[dt.date]
    by_month: dict[str, dict[dt.date, Rate]] = field(default_factory=dict)

    def rate(self, key: str, month: dt.date) -> Rate | None:
        return self.by_month.get(key, {}).get(month)

    def latest(self, key: str) -> Rate | None:
        """The figure of the period's last month (the current month, to date)."""
        return self.rate(key, self.months[-1])

    def overall(self, key: str) -> Rate | None:
        """The whole period's figure: the months' hits over the months' totals."""
        rates = self.by_month.get(key, {}).values()
        return Rate(sum(r.hits for r in rates), sum(r.total for r in rates)) if rates else None

    def rows(self) -> list[tuple[dt.date, list[Rate | None]]]:
        return [(month, [self.rate(m.key, month) for m in METRICS]) for month in self.months]


def scorecards(
    *, months: int, suppliers: Iterable[Supplier] | None = None, now: dt.datetime | None = None
) -> list[Scorecard]:
    """A scorecard for each of ``suppliers`` (every supplier with data in the period when None), by name."""
    period = Period.last(months, now or timezone.now())
    ids = None if suppliers is None else [s.pk for s in suppliers]
    figures = {
        "on_time_ack": on_time_acknowledgement(period, ids),
        "touchless": touchless(period, ids),
        "on_time_delivery": on_time_delivery(period, ids),
        "quantity_accuracy": quantity_accuracy(period, ids),
        "lead_time": lead_time_adherence(period, ids),
    }
    if ids is None:
        ids = sorted({supplier_id for by_key in figures.values() for supplier_id, _ in by_key})
    cards = []
    for supplier in Supplier.objects.filter(pk__in=ids).order_by("name", "pk"):
        card = Scorecard(supplier, period.months)
        for key, by_key in figures.items():
            card.by_month[key] = {month: rate for (sid, month), rate in by_key.items() if sid == supplier.pk}
        cards.append(card)
    return cards


def scorecard(*, supplier: Supplier, months: int, now: dt.datetime | None = None) -> Scorecard:
    return scorecards(months=months, suppliers=[supplier], now=now)[0]


type Grouped = dict[tuple[int, dt.date], Rate]


def _grouped(queryset: QuerySet[Any], hit: Q, *, supplier_path: str, month_of: str) -> Grouped:
    """How many rows match ``hit`` out of all, by supplier and calendar month, in one query."""
    rows = (
        queryset.annotate(supplier_key=F(supplier_path), month=TruncMonth(month_of))
        .values("supplier_key", "month")
        .annotate(total=Count("pk"), hits=Count("pk", filter=hit))
        .order_by()
    )
    return {(row["supplier_key"], _first_day(row["month"])): Rate(row["hits"], row["total"]) for row in rows}


def _first_day(value: dt.date | dt.datetime) -> dt.date:
    return timezone.localtime(value).date() if isinstance(value, dt.datetime) else value


def _only[M: Any](queryset: QuerySet[M], path: str, ids: list[int] | None) -> QuerySet[M]:
    return queryset if ids is None else queryset.filter(**{f"{path}__in": ids})


def _acknowledgements(period: Period, ids: list[int] | None) -> QuerySet[Acknowledgement]:
    acks = Acknowledgement.objects.filter(submitted_at__gte=period.start, submitted_at__lt=period.end)
    return _only(acks, "po__supplier", ids)


def on_time_acknowledgement(period: Period, ids: list[int] | None) -> Grouped:
    """Acknowledgements submitted by the PO's acknowledgement deadline, by month of submission.

    Only the first acknowledgement of each PO revision counts: a second answer to the same revision
    (a line the buyer sent back) is not a new request. The deadline is the PO's
    ``acknowledgement_due``, which a revision moves; the portal keeps no deadline per revision.
    """
    earlier = Acknowledgement.objects.filter(
        Q(submitted_at__lt=OuterRef("submitted_at")) | Q(submitted_at=OuterRef("submitted_at"), pk__lt=OuterRef("pk")),
        po=OuterRef("po"),
        revision=OuterRef("revision"),
    )
    acks = _acknowledgements(period, ids).annotate(repeat=Exists(earlier)).filter(repeat=False)
    return _grouped(
        acks, Q(submitted_at__lte=F("po__acknowledgement_due")), supplier_path="po__supplier", month_of="submitted_at"
    )


def touchless(period: Period, ids: list[int] | None) -> Grouped:
    """Of the acknowledgements with lines, the share whose every line was applied (as ``kpis.touchless``)."""
    # The period and supplier filters keep the queryset's class; the type checker cannot tell.
    acks = cast(AcknowledgementQuerySet, _acknowledgements(period, ids)).with_touchless()
    return _grouped(acks, Q(touchless=True), supplier_path="po__supplier", month_of="submitted_at")


def _receipt_lines(period: Period, ids: list[int] | None) -> QuerySet[ReceiptLine]:
    lines = ReceiptLine.objects.filter(
        receipt__received_at__gte=period.start, receipt__received_at__lt=period.end, quantity__gt=0
    ).annotate(received_on=TruncDate("receipt__received_at"))
    return _only(lines, "receipt__po__supplier", ids)


def on_time_delivery(period: Period, ids: list[int] | None) -> Grouped:
    """Receipt lines received on or before their PO line's last promised date, by month of receipt.

    A receipt line is matched to its PO line's schedule lines as a whole: the latest promised date
    is when the supplier said the whole line would be there. Lines without a schedule line are left out.
    """
    last_promise = (
        ScheduleLine.objects.filter(line=OuterRef("line"))
        .values("line")
        .annotate(last=Max("promised_date"))
        .values("last")
    )
    lines = _receipt_lines(period, ids).annotate(promised=Subquery(last_promise)).filter(promised__isnull=False)
    return _grouped(
        lines, Q(received_on__lte=F("promised")), supplier_path="receipt__po__supplier", month_of="receipt__received_at"
    )


def quantity_accuracy(period: Period, ids: list[int] | None) -> Grouped:
    """Notice lines received exactly as shipped, by month of the notice's receipt."""
    lines = ShipmentLine.objects.filter(
        received_quantity__isnull=False,
        shipment__received_at__gte=period.start,
        shipment__received_at__lt=period.end,
    ).exclude(shipment__status__in=ShipmentNotice.INACTIVE_STATUSES)
    lines = _only(lines, "shipment__supplier", ids)
    return _grouped(
        lines,
        Q(received_quantity=F("quantity")),
        supplier_path="shipment__supplier",
        month_of="shipment__received_at",
    )


def lead_time_adherence(period: Period, ids: list[int] | None) -> Grouped:
    """Receipt lines received within the item's lead time of the order date, by month of receipt.

    The lead time is the supplier's ``SupplierItem.lead_time_days`` for the line's item as it is
    now; lines of items without one are left out.
    """
    lead_days = SupplierItem.objects.filter(
        supplier=OuterRef("receipt__po__supplier"), item=OuterRef("line__item")
    ).values("lead_time_days")[:1]
    due = ExpressionWrapper(F("receipt__po__order_date") + F("lead_days"), output_field=DateField())
    lines = (
        _receipt_lines(period, ids)
        .annotate(lead_days=Subquery(lead_days))
        .filter(lead_days__isnull=False)
        .annotate(lead_time_due=due)
    )
    return _grouped(
        lines,
        Q(received_on__lte=F("lead_time_due")),
        supplier_path="receipt__po__supplier",
        month_of="receipt__received_at",
    )
