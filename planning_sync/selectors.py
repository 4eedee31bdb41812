"""Reads for the integration monitor and /metrics: connector health, dead letters, delivery counts.

Every function here runs a fixed number of grouped queries, whatever the number of
connectors, so the monitor page and a scrape cost the same with 2 connectors or 50.

Latency is commit-to-delivered: ``delivery.delivered_at - event.recorded_at``.
PostgreSQL computes its percentiles and histogram buckets; other databases (the
SQLite development default) get the same numbers computed in Python over at most
the last ``PYTHON_LATENCY_ROWS`` deliveries.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

from django.db import connection
from django.db.models import Aggregate, Count, F, FloatField, Func, Min, Q, QuerySet, Sum, Value
from django.db.models.functions import Greatest

from config.keyset import KeysetPage, paginate
from planning_sync.delivery import OPEN_STATUSES
from planning_sync.models import Connector, Delivery, OutboxEvent

WINDOW = dt.timedelta(hours=1)
PYTHON_LATENCY_ROWS = 10_000
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
DEAD_LETTER_PAGE_SIZE = 25

Status = Delivery.Status
# Rows keep only their latest outcome: a failed or dead row whose last attempt got an answer or an error.
LAST_ATTEMPT_FAILED = Q(status__in=(Status.FAILED, Status.DEAD)) & (
    Q(last_status_code__isnull=False) | ~Q(last_error="")
)


class ConnectorHealth(TypedDict):
    connector: Connector
    circuit: str
    backlog: int
    oldest_pending_age_s: float | None
    error_rate_pct: float | None
    p50_ms: float | None
    p95_ms: float | None
    last_success_at: dt.datetime | None
    delivered_last_hour: int
    dead: int


@dataclass(frozen=True)
class LatencyHistogram:
    """Cumulative bucket counts (one per LATENCY_BUCKETS bound), plus the count and sum of all latencies."""

    cumulative: list[int]
    count: int
    total_s: float


class EpochSeconds(Func):
    """An interval as seconds (PostgreSQL)."""

    template = "EXTRACT(EPOCH FROM %(expressions)s)"
    output_field = FloatField()


class Percentile(Aggregate):
    """PostgreSQL's percentile_cont: the value below which ``fraction`` of the rows fall, interpolated."""

    function = "percentile_cont"
    name = "Percentile"
    output_field = FloatField()
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)%(filter)s"

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        super().__init__(expression, fraction=float(fraction), **extra)


def _latency() -> EpochSeconds:
    return EpochSeconds(F("delivered_at") - F("event__recorded_at"))


def _sql_latency() -> bool:
    """Whether the database computes latency percentiles and buckets itself (PostgreSQL does)."""
    return connection.vendor == "postgresql"


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Linear interpolation between the closest ranks: the same result as PostgreSQL's percentile_cont."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def connector_health(connector: Connector, *, now: dt.datetime) -> ConnectorHealth:
    """One connector's health; see ``connectors_overview`` for what each figure means."""
    return _health([connector], now=now, only=connector)[0]


def connectors_overview(now: dt.datetime) -> list[ConnectorHealth]:
    """Every connector's health, by name, in three queries however many connectors there are.

    - backlog: pending, failed (waiting to retry) and in-flight deliveries;
    - oldest pending age: now minus the commit time of the oldest open delivery's event;
    - error rate: of the deliveries attempted in the last hour, the share whose latest attempt failed
      (see ``_attempted_since`` for how "attempted in the last hour" is read from the rows);
    - p50/p95: commit-to-delivered latency of the deliveries delivered in the last hour.
    """
    return _health(list(Connector.objects.all()), now=now, only=None)


def _health(connectors: list[Connector], *, now: dt.datetime, only: Connector | None) -> list[ConnectorHealth]:
    current = _current_by_connector(only)
    recent = _recent_by_connector(now - WINDOW, only)
    return [
        _health_of(connector, current.get(connector.pk, {}), recent.get(connector.pk, {}), now)
        for connector in connectors
    ]


def _health_of(
    connector: Connector, current: dict[str, Any], recent: dict[str, Any], now: dt.datetime
) -> ConnectorHealth:
    oldest: dt.datetime | None = current.get("oldest")
    delivered, failed = recent.get("delivered", 0), recent.get("failed", 0)
    attempted = delivered + failed
    return {
        "connector": connector,
        "circuit": connector.circuit,
        "backlog": current.get("backlog", 0),
        "oldest_pending_age_s": max(0.0, (now - oldest).total_seconds()) if oldest else None,
        "error_rate_pct": round(100 * failed / attempted, 1) if attempted else None,
        "p50_ms": _ms(recent.get("p50")),
        "p95_ms": _ms(recent.get("p95")),
        "last_success_at": connector.last_success_at,
        "delivered_last_hour": delivered,
        "dead": current.get("dead", 0),
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def _for(queryset: QuerySet[Delivery], connector: Connector | None) -> QuerySet[Delivery]:
    return queryset if connector is None else queryset.filter(connector=connector)


def _current_by_connector(connector: Connector | None) -> dict[int, dict[str, Any]]:
    """Backlog, dead letters and the oldest open event's commit time, per connector id.

    Delivered rows, the bulk of the table, are left out, so this reads only open and dead rows.
    """
    open_ = Q(status__in=OPEN_STATUSES)
    rows = (
        _for(Delivery.objects.filter(status__in=(*OPEN_STATUSES, Status.DEAD)), connector)
        .values("connector_id")
        .annotate(
            backlog=Count("id", filter=open_),
            dead=Count("id", filter=Q(status=Status.DEAD)),
            oldest=Min("event__recorded_at", filter=open_),
        )
        .order_by()
    )
    return {row["connector_id"]: dict(row) for row in rows}


def _attempted_since(since: dt.datetime) -> Q:
    """Deliveries whose latest attempt falls in the window, as far as the rows can tell.

    A row keeps its latest outcome, not a history of attempts, and has no "last attempted"
    time: a delivered row counts by ``delivered_at``; a failed row by ``next_attempt_at``
    (its retry, scheduled at most the retry cap after the failure); a dead row by
    ``next_attempt_at`` too (when its last attempt was due).
    """
    return Q(status=Status.DELIVERED, delivered_at__gte=since) | (LAST_ATTEMPT_FAILED & Q(next_attempt_at__gte=since))


def _recent_by_connector(since: dt.datetime, connector: Connector | None) -> dict[int, dict[str, Any]]:
    """Delivered and failed counts in the window, and delivered latency percentiles (seconds), per connector id."""
    delivered = Q(status=Status.DELIVERED)
    aggregates: dict[str, Aggregate] = {
        "delivered": Count("id", filter=delivered),
        "failed": Count("id", filter=LAST_ATTEMPT_FAILED),
    }
    if _sql_latency():
        aggregates |= {
            "p50": Percentile(_latency(), 0.5, filter=delivered),
            "p95": Percentile(_latency(), 0.95, filter=delivered),
        }
    rows = _for(Delivery.objects.filter(_attempted_since(since)), connector).values("connector_id")
    recent = {row["connector_id"]: dict(row) for row in rows.annotate(**aggregates).order_by()}
    if not _sql_latency():
        for connector_id, latencies in _latencies_in_python(since, connector).items():
            stats = recent.setdefault(connector_id, {})
            stats |= {"p50": percentile(latencies, 0.5), "p95": percentile(latencies, 0.95)}
    return recent


def _latencies_in_python(since: dt.datetime, connector: Connector | None) -> dict[int, list[float]]:
    """Commit-to-delivered seconds of the latest deliveries in the window, per connector id (non-PostgreSQL)."""
    rows = (
        _for(Delivery.objects.filter(status=Status.DELIVERED, delivered_at__gte=since), connector)
        .order_by("-delivered_at")
        .values_list("connector_id", "delivered_at", "event__recorded_at")[:PYTHON_LATENCY_ROWS]
    )
    latencies: dict[int, list[float]] = defaultdict(list)
    for connector_id, delivered_at, recorded_at in rows:
        if delivered_at is not None:  # always set on delivered rows; the column is nullable
            latencies[connector_id].append((delivered_at - recorded_at).total_seconds())
    return latencies


def dead_letters(
    connector: Connector,
    *,
    after: str | None = None,
    before: str | None = None,
    page_size: int | None = None,
) -> KeysetPage[Delivery]:
    """A page of the connector's dead letters, newest first, with their events. Raises InvalidCursor."""
    queryset = Delivery.objects.filter(connector=connector, status=Status.DEAD).select_related("event")
    size = page_size or DEAD_LETTER_PAGE_SIZE
    return paginate(queryset, ordering=("-id",), page_size=size, after=after, before=before)


# --- Figures for /metrics -----------------------------------------------------------------


def connector_names() -> dict[int, str]:
    return {pk: name for pk, name, _ in connector_circuits()}


def connector_circuits() -> list[tuple[int, str, str]]:
    """Every connector's id, name and circuit state, in one query."""
    return list(Connector.objects.order_by("name").values_list("id", "name", "circuit"))


def backlog_by_connector() -> dict[int, dict[str, Any]]:
    """Per connector id: ``backlog``, ``dead`` and ``oldest`` (commit time of the oldest open event)."""
    return _current_by_connector(None)


def event_counts_by_type() -> dict[str, int]:
    rows = OutboxEvent.objects.values("type").annotate(count=Count("id")).order_by()
    return {row["type"]: row["count"] for row in rows}


def delivery_counts() -> list[dict[str, Any]]:
    """Rows of ``connector_id``, ``status``, ``count`` and ``retries``.

    Retries are attempts after the first, made or in progress: ``attempts - 1`` summed over
    rows that were attempted at all. A replay starts a row's attempts again from zero.
    """
    rows = (
        Delivery.objects.values("connector_id", "status")
        .annotate(count=Count("id"), retries=Sum(Greatest(F("attempts") - 1, Value(0))))
        .order_by()
    )
    return [dict(row) for row in rows]


def latency_histogram(*, since: dt.datetime) -> dict[int, LatencyHistogram]:
    """Commit-to-delivered latency of the deliveries delivered since ``since``, bucketed, per connector id."""
    if not _sql_latency():
        return {
            connector_id: _histogram_of(latencies)
            for connector_id, latencies in _latencies_in_python(since, None).items()
        }
    buckets = {f"le_{i}": Count("id", filter=Q(latency__lte=bound)) for i, bound in enumerate(LATENCY_BUCKETS)}
    rows = (
        Delivery.objects.filter(status=Status.DELIVERED, delivered_at__gte=since)
        .alias(latency=_latency())
        .values("connector_id")
        .annotate(count=Count("id"), total=Sum("latency"), **buckets)
        .order_by()
    )
    return {row["connector_id"]: _histogram_row(dict(row)) for row in rows}


def _histogram_row(row: dict[str, Any]) -> LatencyHistogram:
    cumulative = [row[f"le_{i}"] for i in range(len(LATENCY_BUCKETS))]
    return LatencyHistogram(cumulative=cumulative, count=row["count"], total_s=float(row["total"] or 0))


def _histogram_of(latencies: list[float]) -> LatencyHistogram:
    return LatencyHistogram(
        cumulative=[sum(1 for value in latencies if value <= bound) for bound in LATENCY_BUCKETS],
        count=len(latencies),
        total_s=sum(latencies),
    )
