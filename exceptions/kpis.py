"""Operational KPIs for buyers: what the portal does for the distributor, week by week and per supplier.

Each figure is defined in docs/kpis.md (and in a line on the page). PostgreSQL aggregates
everything (``percentile_cont`` for medians and percentiles, ``COUNT ... FILTER`` for rates),
so ``dashboard`` runs the same dozen or so grouped queries whatever the size of the tables:
one per KPI and grouping (by week, by supplier), and one for the suppliers' names.

Weeks run Monday to Sunday in the portal's time zone (``TIME_ZONE``); a period is the current
week and the weeks before it. Other databases (the SQLite development default) have no
``percentile_cont``: ``is_supported`` says so and the page explains instead of failing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Concat, TruncWeek
from django.utils import timezone

from exceptions.connector import ExceptionRulesConnector
from exceptions.models import UNRESOLVED, CaseStatus, CaseType, ExceptionCase
from planning_sync.models import Delivery, OutboxEvent
from planning_sync.selectors import EpochSeconds, Percentile
from purchasing.models import Acknowledgement, ScheduleLine, ShipmentLine, ShipmentNotice
from purchasing.models.orders import AcknowledgementQuerySet
from suppliers.models import Supplier

WEEK_CHOICES = (4, 13, 26, 52)
DEFAULT_WEEKS = 13
HOUR = 3600.0
# The events that ask a supplier for an answer: the acknowledgement cycle starts at the latest one.
REQUEST_EVENT_TYPES = ("supplyline.po.issued.v1", "supplyline.po.revised.v1")


@dataclass(frozen=True)
class AgeBucket:
    key: str
    label: str
    min_days: int
    max_days: int | None  # None: no upper bound


# Half-open intervals of a case's age: [0, 1), [1, 3), [3, 7), [7, ∞) days.
AGE_BUCKETS = (
    AgeBucket("under_1d", "< 1 day", 0, 1),
    AgeBucket("d1_3", "1 to 3 days", 1, 3),
    AgeBucket("d3_7", "3 to 7 days", 3, 7),
    AgeBucket("over_7d", "7 days or more", 7, None),
)


@dataclass(frozen=True)
class Period:
    """The last ``weeks`` weeks, the current one included: ``start`` is the first Monday at midnight."""

    mondays: list[dt.date]
    start: dt.datetime
    end: dt.datetime  # the Monday after the current week, at midnight
    now: dt.datetime

    @classmethod
    def last(cls, weeks: int, now: dt.datetime) -> Period:
        today = timezone.localdate(now)
        first = today - dt.timedelta(days=today.weekday(), weeks=weeks - 1)
        mondays = [first + dt.timedelta(weeks=i) for i in range(weeks)]
        return cls(mondays, _midnight(first), _midnight(mondays[-1] + dt.timedelta(weeks=1)), now)

    @property
    def first_day(self) -> dt.date:
        return self.mondays[0]

    @property
    def end_day(self) -> dt.date:
        """The day after the period (exclusive bound for date columns)."""
        return self.mondays[-1] + dt.timedelta(weeks=1)


def _midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


@dataclass(frozen=True)
class Percentiles:
    """The median and a high percentile (p90 or p95) of ``count`` values, in the KPI's unit."""

    count: int
    p50: float | None
    high: float | None


@dataclass(frozen=True)
class Rate:
    hits: int
    total: int

    @property
    def share(self) -> float | None:
        return self.hits / self.total if self.total else None

    @property
    def percent(self) -> float | None:
        share = self.share
        return None if share is None else round(100 * share, 1)


@dataclass(frozen=True)
class OpenCaseRow:
    type: str
    label: str
    by_age: list[int]  # one count per AGE_BUCKETS entry

    @property
    def total(self) -> int:
        return sum(self.by_age)


@dataclass
class SupplierRow:
    supplier: Supplier
    open_cases: int = 0
    resolve: Percentiles | None = None
    ack_cycle: Percentiles | None = None
    touchless: Rate | None = None
    latency: Percentiles | None = None
    on_time: Rate | None = None
    asn_accuracy: Rate | None = None


@dataclass
class Weekly[T]:
    """A KPI's figures by week (Monday), with None for weeks without data."""

    mondays: list[dt.date]
    by_week: dict[dt.date, T] = field(default_factory=dict)

    def __iter__(self) -> Iterator[tuple[dt.date, T | None]]:
        return iter([(monday, self.by_week.get(monday)) for monday in self.mondays])

    def values(self, pick: Callable[[T], float | None]) -> list[float | None]:
        """``pick(figure)`` for each week, None where the week has no figure."""
        return [None if figure is None else pick(figure) for _, figure in self]

    @property
    def is_empty(self) -> bool:
        return not self.by_week


@dataclass
class Dashboard:
    period: Period
    supplier: Supplier | None
    open_cases: list[OpenCaseRow]
    resolve: Weekly[Percentiles]
    ack_cycle: Weekly[Percentiles]
    touchless: Weekly[Rate]
    latency: Weekly[Percentiles]
    on_time: Weekly[Rate]
    asn_accuracy: Weekly[Rate]
    suppliers: list[SupplierRow]

    @property
    def open_case_total(self) -> int:
        return sum(row.total for row in self.open_cases)

    @property
    def open_by_age(self) -> list[int]:
        return [sum(row.by_age[i] for row in self.open_cases) for i in range(len(AGE_BUCKETS))]


def is_supported() -> bool:
    """Whether this database can compute the KPIs (PostgreSQL: percentile_cont, grouping sets)."""
    return connection.vendor == "postgresql"


def dashboard(*, weeks: int, supplier: Supplier | None, now: dt.datetime | None = None) -> Dashboard:
    """Every KPI over the last ``weeks`` weeks, for one supplier or all of them."""
    period = Period.last(weeks, now or timezone.now())
    resolve, resolve_by_supplier = time_to_resolve(period, supplier)
    cycle, cycle_by_supplier = acknowledgement_cycle(period, supplier)
    touch, touch_by_supplier = touchless(period, supplier)
    latency, latency_by_supplier = erp_latency(period, supplier)
    on_time, on_time_by_supplier = on_time_shipment(period, supplier)
    accuracy, accuracy_by_supplier = asn_accuracy(period, supplier)
    by_supplier: dict[str, Mapping[int, Any]] = {
        "open_cases": open_cases_by_supplier(supplier),
        "resolve": resolve_by_supplier,
        "ack_cycle": cycle_by_supplier,
        "touchless": touch_by_supplier,
        "latency": latency_by_supplier,
        "on_time": on_time_by_supplier,
        "asn_accuracy": accuracy_by_supplier,
    }
    weeks_of = period.mondays
    return Dashboard(
        period=period,
        supplier=supplier,
        open_cases=open_cases(period.now, supplier),
        resolve=Weekly(weeks_of, resolve),
        ack_cycle=Weekly(weeks_of, cycle),
        touchless=Weekly(weeks_of, touch),
        latency=Weekly(weeks_of, latency),
        on_time=Weekly(weeks_of, on_time),
        asn_accuracy=Weekly(weeks_of, accuracy),
        suppliers=_supplier_rows(by_supplier),
    )


# --- open cases, now ---------------------------------------------------------------------


def open_cases(now: dt.datetime, supplier: Supplier | None) -> list[OpenCaseRow]:
    """Unresolved cases (open, in progress, snoozed) by type and by age, in one query."""
    counts = {bucket.key: Count("pk", filter=_age_filter(bucket, now)) for bucket in AGE_BUCKETS}
    cases = _for_supplier(ExceptionCase.objects.unresolved(), "supplier", supplier)
    rows = cases.values("type").annotate(**counts).values_list("type", *counts).order_by()
    found = {case_type: list(by_age) for case_type, *by_age in rows}
    return [OpenCaseRow(value, str(label), found[value]) for value, label in CaseType.choices if value in found]


def _age_filter(bucket: AgeBucket, now: dt.datetime) -> Q:
    age = Q(opened_at__lte=now - dt.timedelta(days=bucket.min_days))
    if bucket.max_days is not None:
        age &= Q(opened_at__gt=now - dt.timedelta(days=bucket.max_days))
    return age


def open_cases_by_supplier(supplier: Supplier | None) -> dict[int, int]:
    rows = _for_supplier(
        ExceptionCase.objects.filter(status__in=UNRESOLVED, supplier__isnull=False), "supplier", supplier
    )
    return {row["supplier_id"]: row["n"] for row in rows.values("supplier_id").annotate(n=Count("pk")).order_by()}


# --- time to resolve ------------------------------------------------------------------------

type Split[T] = tuple[dict[dt.date, T], dict[int, T]]


def time_to_resolve(period: Period, supplier: Supplier | None) -> Split[Percentiles]:
    """Hours from opened to resolved of the cases resolved in the period: median and p90."""
    cases = _for_supplier(
        ExceptionCase.objects.filter(
            status=CaseStatus.RESOLVED, resolved_at__gte=period.start, resolved_at__lt=period.end
        ),
        "supplier",
        supplier,
    )
    hours = EpochSeconds(F("resolved_at") - F("opened_at"))
    return _percentiles_split(cases, hours, 0.9, week_of="resolved_at", supplier_path="supplier", scale=HOUR)


# --- acknowledgement cycle time and touchless rate ---------------------------------------------


def acknowledgement_cycle(period: Period, supplier: Supplier | None) -> Split[Percentiles]:
    """Hours from the request a supplier answers to its first acknowledgement: median and p95.

    The request is the PO's latest ``po.issued`` or ``po.revised`` event recorded before the
    acknowledgement (the PO's creation when it has none: a PO made outside the services). Only the
    first acknowledgement after a request counts: a second answer of the same revision (a line the
    buyer sent back) is not a new cycle.
    """
    requested_at = Coalesce(
        Subquery(
            OutboxEvent.objects.filter(
                aggregate_key=Concat(Value("purchase_order:"), OuterRef("po__number")),
                type__in=REQUEST_EVENT_TYPES,
                recorded_at__lte=OuterRef("submitted_at"),
            )
            .order_by("-recorded_at", "-id")
            .values("recorded_at")[:1]
        ),
        F("po__created_at"),
    )
    earlier_answer = Acknowledgement.objects.filter(
        Q(submitted_at__lt=OuterRef("submitted_at")) | Q(submitted_at=OuterRef("submitted_at"), pk__lt=OuterRef("pk")),
        po=OuterRef("po"),
        submitted_at__gte=OuterRef("requested_at"),
    )
    acks = (
        _acknowledgements(period, supplier)
        .annotate(requested_at=requested_at)
        .annotate(answered_before=Exists(earlier_answer))
        .filter(answered_before=False)
    )
    hours = EpochSeconds(F("submitted_at") - F("requested_at"))
    return _percentiles_split(acks, hours, 0.95, week_of="submitted_at", supplier_path="po__supplier", scale=HOUR)


def touchless(period: Period, supplier: Supplier | None) -> Split[Rate]:
    """Of the acknowledgements submitted in the period, the share whose every line was applied."""
    # The period and supplier filters keep the queryset's class; the type checker cannot tell.
    acks = cast(AcknowledgementQuerySet, _acknowledgements(period, supplier)).with_touchless()
    return _rates_split(acks, Q(touchless=True), week_of="submitted_at", supplier_path="po__supplier")


def _acknowledgements(period: Period, supplier: Supplier | None) -> QuerySet[Acknowledgement]:
    acks = Acknowledgement.objects.filter(submitted_at__gte=period.start, submitted_at__lt=period.end)
    return _for_supplier(acks, "po__supplier", supplier)


# --- commit-to-ERP latency ----------------------------------------------------------------------


def erp_latency(period: Period, supplier: Supplier | None) -> Split[Percentiles]:
    """Seconds from an event's commit to its delivery to the distributor's systems: median and p95.

    The distributor's connectors are those no supplier owns, less the internal exception rules;
    latency is the integration monitor's (``planning_sync.selectors``): ``delivered_at - recorded_at``.
    """
    deliveries = Delivery.objects.filter(
        status=Delivery.Status.DELIVERED,
        delivered_at__gte=period.start,
        delivered_at__lt=period.end,
        connector__supplier__isnull=True,
    ).exclude(connector__kind=ExceptionRulesConnector.kind)
    deliveries = _for_supplier(deliveries, "event__supplier", supplier)
    seconds = EpochSeconds(F("delivered_at") - F("event__recorded_at"))
    return _percentiles_split(deliveries, seconds, 0.95, week_of="delivered_at", supplier_path="event__supplier")


# --- on-time shipment and ASN accuracy --------------------------------------------------------------


def on_time_shipment(period: Period, supplier: Supplier | None) -> Split[Rate]:
    """Of the notice lines shipped in the period, the share shipped on or before the promise they fill.

    A PO line's deliveries are filled in order: its schedule lines by promised date, its active
    notices' lines by ship date (then submission). A notice line fills the schedule line its first
    unit falls into, by running quantity; beyond the last promise, the last one.
    """
    sql, params = _on_time_sql(period, supplier)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    by_week = {week: Rate(hits, total) for week, supplier_id, hits, total in rows if week is not None}
    by_supplier = {supplier_id: Rate(hits, total) for week, supplier_id, hits, total in rows if week is None}
    return by_week, by_supplier


def _on_time_sql(period: Period, supplier: Supplier | None) -> tuple[str, dict[str, Any]]:
    tables = {
        "line": ShipmentLine._meta.db_table,
        "notice": ShipmentNotice._meta.db_table,
        "schedule": ScheduleLine._meta.db_table,
    }
    params: dict[str, Any] = {
        "start": period.first_day,
        "end": period.end_day,
        "inactive": list(ShipmentNotice.INACTIVE_STATUSES),
    }
    only_supplier = ""
    if supplier is not None:
        only_supplier, params["supplier"] = "AND n.supplier_id = %(supplier)s", supplier.pk
    # Running quantities need every active notice line of a PO line, not only the period's: the
    # PO lines are those shipped in the period, and only their lines shipped in it are measured.
    sql = f"""
        WITH measured AS (
            SELECT DISTINCT l.po_line_id FROM {tables["line"]} l JOIN {tables["notice"]} n ON n.id = l.shipment_id
            WHERE n.ship_date >= %(start)s AND n.ship_date < %(end)s
              AND n.status <> ALL(%(inactive)s) {only_supplier}
        ), shipped AS (
            SELECT l.po_line_id, n.supplier_id, n.ship_date,
                   COALESCE(SUM(l.quantity) OVER (
                       PARTITION BY l.po_line_id ORDER BY n.ship_date, n.submitted_at, l.id
                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
                   ), 0) AS shipped_before
            FROM {tables["line"]} l JOIN {tables["notice"]} n ON n.id = l.shipment_id
            WHERE l.po_line_id IN (SELECT po_line_id FROM measured) AND n.status <> ALL(%(inactive)s)
        ), promised AS (
            SELECT s.line_id, s.promised_date,
                   SUM(s.quantity) OVER (PARTITION BY s.line_id ORDER BY s.promised_date, s.schedule_number)
                       AS promised_through,
                   ROW_NUMBER() OVER (PARTITION BY s.line_id ORDER BY s.promised_date DESC, s.schedule_number DESC)
                       AS from_last
            FROM {tables["schedule"]} s WHERE s.line_id IN (SELECT po_line_id FROM measured)
        ), matched AS (
            SELECT shipped.supplier_id, shipped.ship_date,
                   shipped.ship_date - (EXTRACT(ISODOW FROM shipped.ship_date)::int - 1) AS week,
                   (SELECT p.promised_date FROM promised p
                     WHERE p.line_id = shipped.po_line_id
                       AND (p.promised_through > shipped.shipped_before OR p.from_last = 1)
                     ORDER BY p.promised_through LIMIT 1) AS promised_date
            FROM shipped
            WHERE shipped.ship_date >= %(start)s AND shipped.ship_date < %(end)s
        )
        SELECT week, supplier_id, COUNT(*) FILTER (WHERE ship_date <= promised_date), COUNT(*)
        FROM matched WHERE promised_date IS NOT NULL
        GROUP BY GROUPING SETS ((week), (supplier_id))
    """  # noqa: S608 - table names come from the models, values are parameters
    return sql, params


def asn_accuracy(period: Period, supplier: Supplier | None) -> Split[Rate]:
    """Of the notice lines received in the period (by the notice's receipt), the share received exactly as shipped."""
    lines = ShipmentLine.objects.filter(
        received_quantity__isnull=False,
        shipment__received_at__gte=period.start,
        shipment__received_at__lt=period.end,
    ).exclude(shipment__status__in=ShipmentNotice.INACTIVE_STATUSES)
    lines = _for_supplier(lines, "shipment__supplier", supplier)
    exact = Q(received_quantity=F("quantity"))
    return _rates_split(lines, exact, week_of="shipment__received_at", supplier_path="shipment__supplier")


# --- shared machinery -------------------------------------------------------------------------------


def _for_supplier[M: Any](queryset: QuerySet[M], path: str, supplier: Supplier | None) -> QuerySet[M]:
    return queryset if supplier is None else queryset.filter(**{path: supplier})


def _percentiles_split(
    queryset: QuerySet[Any],
    value: Any,
    high: float,
    *,
    week_of: str,
    supplier_path: str,
    scale: float = 1.0,
) -> Split[Percentiles]:
    """Median and the ``high`` percentile of ``value`` (divided by ``scale``), by week and by supplier."""

    def grouped(key: Any) -> dict[Any, Percentiles]:
        rows = (
            queryset.annotate(bucket=key)
            .values("bucket")
            .annotate(n=Count("pk"), p50=Percentile(value, 0.5), high=Percentile(value, high))
            .order_by()
        )
        return {
            _bucket(row["bucket"]): Percentiles(row["n"], _scaled(row["p50"], scale), _scaled(row["high"], scale))
            for row in rows
            if row["bucket"] is not None
        }

    return grouped(TruncWeek(week_of)), grouped(F(supplier_path))


def _rates_split(queryset: QuerySet[Any], hit: Q, *, week_of: str, supplier_path: str) -> Split[Rate]:
    """How many rows match ``hit`` out of all, by week and by supplier."""

    def grouped(key: Any) -> dict[Any, Rate]:
        rows = (
            queryset.annotate(bucket=key)
            .values("bucket")
            .annotate(total=Count("pk"), hits=Count("pk", filter=hit))
            .order_by()
        )
        return {_bucket(row["bucket"]): Rate(row["hits"], row["total"]) for row in rows if row["bucket"] is not None}

    return grouped(TruncWeek(week_of)), grouped(F(supplier_path))


def _bucket(value: Any) -> Any:
    """A week's Monday as a date (TruncWeek gives a local datetime for datetime columns)."""
    return timezone.localtime(value).date() if isinstance(value, dt.datetime) else value


def _scaled(value: float | None, scale: float) -> float | None:
    return None if value is None else value / scale


def _supplier_rows(by_supplier: Mapping[str, Mapping[int, Any]]) -> list[SupplierRow]:
    """One row per supplier with any figure, by name; the names in one query."""
    ids: set[int] = set().union(*(figures.keys() for figures in by_supplier.values()))
    rows = []
    for supplier in Supplier.objects.filter(pk__in=ids).order_by("name", "pk"):
        row = SupplierRow(supplier)
        for name, figures in by_supplier.items():
            if supplier.pk in figures:
                setattr(row, name, figures[supplier.pk])
        rows.append(row)
    return rows


def week_labels(mondays: Iterable[dt.date]) -> list[str]:
    return [f"{monday:%b} {monday.day}" for monday in mondays]
