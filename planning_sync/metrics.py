"""Prometheus metrics at /metrics, read from PostgreSQL at scrape time.

Why not django-prometheus: it does not support Django 6.1. Why read the database
instead of counting in code: deliveries are made by Celery worker processes, several
per host, restarted at will. In-process counters would need prometheus_client's
multiprocess mode (a shared directory, cleanup on restarts) and would still miss
the work of a worker that was killed. The delivery rows already record the outcome
of every delivery, so a scrape reads them: every process's work counts, and the web
process keeps no state. A scrape runs five grouped queries, however many connectors
and event types there are.

Reading the metrics:

- ``supplyline_events_recorded_total{type}``: outbox rows by type.
- ``supplyline_deliveries{connector,status}``: deliveries by current status (a gauge).
- ``supplyline_deliveries_delivered_total{connector}``: deliveries in the delivered state.
- ``supplyline_delivery_retries_total{connector}``: attempts after the first, made or in
  progress, summed over every delivery (``attempts - 1`` per attempted row).
- ``supplyline_dead_letters{connector}``, ``supplyline_delivery_backlog{connector}``
  (pending, failed and in flight) and ``supplyline_delivery_oldest_pending_age_seconds{connector}``
  (0 when nothing is open).
- ``supplyline_commit_to_delivered_seconds{connector}``: a *gauge* histogram of the last
  hour's delivered rows (a sliding window, so its buckets go down as rows leave it).
  Query it without rate(): ``histogram_quantile(0.95, supplyline_commit_to_delivered_seconds_bucket)``
  is the p95 over the last hour.

The ``_total`` series are counters derived from rows: a replay of delivered deliveries
(which starts their attempts again) or pruning old rows makes them step down, which
Prometheus reads as a counter reset. Both are rare operator actions.

Access: with ``METRICS_TOKEN`` set, a scrape must send ``Authorization: Bearer <token>``.
With it empty the endpoint is open on purpose, for scrapers inside the private network;
the figures are counts and connector names, no supplier data.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
    Metric,
)

from planning_sync import selectors
from planning_sync.models import Delivery


class DeliveryCollector:
    """Builds every metric family from the database when the registry is collected (at scrape time)."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def collect(self) -> Iterator[Metric]:
        circuits = selectors.connector_circuits()
        names = {pk: name for pk, name, _ in circuits}
        yield self._circuits(circuits)
        yield self._events()
        yield from self._deliveries(names)
        yield from self._backlog(names)
        yield self._latency(names)

    def _circuits(self, circuits: list[tuple[int, str, str]]) -> Metric:
        family = GaugeMetricFamily(
            "supplyline_connector_circuit_open",
            "1 while a connector's circuit breaker is open or half open (deliveries paused or probing).",
            labels=["connector", "state"],
        )
        for _, name, state in circuits:
            family.add_metric([name, state], 0 if state == "closed" else 1)
        return family

    def _events(self) -> Metric:
        family = CounterMetricFamily("supplyline_events_recorded", "Events recorded in the outbox.", labels=["type"])
        for event_type, count in sorted(selectors.event_counts_by_type().items()):
            family.add_metric([event_type], count)
        return family

    def _deliveries(self, names: dict[int, str]) -> Iterator[Metric]:
        by_status = GaugeMetricFamily(
            "supplyline_deliveries", "Deliveries by current status.", labels=["connector", "status"]
        )
        delivered = CounterMetricFamily(
            "supplyline_deliveries_delivered",
            "Deliveries delivered (rows in the delivered state).",
            labels=["connector"],
        )
        retries = CounterMetricFamily(
            "supplyline_delivery_retries",
            "Delivery attempts after the first, made or in progress.",
            labels=["connector"],
        )
        counts, retried = _counts_by_connector(selectors.delivery_counts())
        for connector_id, name in sorted(names.items(), key=lambda item: item[1]):
            for status in Delivery.Status.values:
                by_status.add_metric([name, status], counts[connector_id].get(status, 0))
            delivered.add_metric([name], counts[connector_id].get(Delivery.Status.DELIVERED, 0))
            retries.add_metric([name], retried.get(connector_id, 0))
        yield from (by_status, delivered, retries)

    def _backlog(self, names: dict[int, str]) -> Iterator[Metric]:
        dead = GaugeMetricFamily("supplyline_dead_letters", "Dead-letter deliveries.", labels=["connector"])
        backlog = GaugeMetricFamily(
            "supplyline_delivery_backlog", "Deliveries pending, failed (retrying) or in flight.", labels=["connector"]
        )
        oldest = GaugeMetricFamily(
            "supplyline_delivery_oldest_pending_age_seconds",
            "Seconds since the oldest open delivery's event was committed (0 when none is open).",
            labels=["connector"],
        )
        current = selectors.backlog_by_connector()
        for connector_id, name in sorted(names.items(), key=lambda item: item[1]):
            stats = current.get(connector_id, {})
            dead.add_metric([name], stats.get("dead", 0))
            backlog.add_metric([name], stats.get("backlog", 0))
            oldest.add_metric([name], _age(self.now, stats.get("oldest")))
        yield from (dead, backlog, oldest)

    def _latency(self, names: dict[int, str]) -> Metric:
        family = GaugeHistogramMetricFamily(
            "supplyline_commit_to_delivered_seconds",
            "Commit-to-delivered latency of the deliveries delivered in the last hour (a sliding window).",
            labels=["connector"],
        )
        histograms = selectors.latency_histogram(since=self.now - selectors.WINDOW)
        empty = selectors.LatencyHistogram(cumulative=[0] * len(selectors.LATENCY_BUCKETS), count=0, total_s=0.0)
        for connector_id, name in sorted(names.items(), key=lambda item: item[1]):
            histogram = histograms.get(connector_id, empty)
            bounds = zip(selectors.LATENCY_BUCKETS, histogram.cumulative, strict=True)
            buckets = [(str(bound), float(count)) for bound, count in bounds]
            family.add_metric([name], [*buckets, ("+Inf", float(histogram.count))], histogram.total_s)
        return family


def _counts_by_connector(rows: list[dict[str, Any]]) -> tuple[dict[int, dict[str, int]], dict[int, int]]:
    """Delivery counts by connector id and status, and retries by connector id."""
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    retries: dict[int, int] = defaultdict(int)
    for row in rows:
        counts[row["connector_id"]][row["status"]] = row["count"]
        retries[row["connector_id"]] += row["retries"] or 0
    return counts, retries


def _age(now: dt.datetime, since: dt.datetime | None) -> float:
    return max(0.0, (now - since).total_seconds()) if since else 0.0


def _authorized(request: HttpRequest, token: str) -> bool:
    expected = f"Bearer {token}".encode()
    return hmac.compare_digest(request.headers.get("Authorization", "").encode(), expected)


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """The Prometheus scrape endpoint; open when METRICS_TOKEN is empty (see the module docstring)."""
    token: str = getattr(settings, "METRICS_TOKEN", "")
    if token and not _authorized(request, token):
        response = HttpResponse("A bearer token is required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DeliveryCollector(now=timezone.now()))
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encoder(registry), content_type=content_type)
