"""/metrics: what a Prometheus scrape reads, straight from the delivery rows."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from prometheus_client.parser import text_string_to_metric_families

from planning_sync import selectors
from planning_sync.models import Connector
from tests.planning_sync.rows import ACKNOWLEDGED, LINE_CHANGED, scenario

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def connectors(db) -> None:
    scenario(Connector.objects.create(name="erp", kind="webhook", config={}), NOW)
    Connector.objects.create(name="planning", kind="webhook", config={})


def _scrape(client, **headers) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with time_machine.travel(NOW, tick=False):
        response = client.get("/metrics", **headers)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def test_counters_and_gauges_per_connector(client, connectors):
    samples = _scrape(client)
    erp, planning = (("connector", "erp"),), (("connector", "planning"),)
    assert samples[("supplyline_events_recorded_total", (("type", ACKNOWLEDGED),))] == 26
    assert samples[("supplyline_events_recorded_total", (("type", LINE_CHANGED),))] == 3
    assert samples[("supplyline_deliveries", (("connector", "erp"), ("status", "delivered")))] == 21
    assert samples[("supplyline_deliveries", (("connector", "erp"), ("status", "pending")))] == 2
    assert samples[("supplyline_deliveries", (("connector", "planning"), ("status", "dead")))] == 0
    assert samples[("supplyline_deliveries_delivered_total", erp)] == 21
    assert samples[("supplyline_delivery_retries_total", erp)] == 16
    assert samples[("supplyline_dead_letters", erp)] == 4
    assert samples[("supplyline_delivery_backlog", erp)] == 4
    assert samples[("supplyline_delivery_oldest_pending_age_seconds", erp)] == 300
    assert samples[("supplyline_delivery_backlog", planning)] == 0
    assert samples[("supplyline_delivery_oldest_pending_age_seconds", planning)] == 0


def test_the_latency_histogram_buckets_the_last_hour(client, connectors):
    samples = _scrape(client)

    def bucket(le, name="erp"):
        return samples[("supplyline_commit_to_delivered_seconds_bucket", (("connector", name), ("le", le)))]

    # 20 deliveries at 0.1 s, 0.2 s ... 2.0 s in the last hour; the 100 s one is older and left out.
    expected = {"0.05": 0, "0.1": 1, "0.25": 2, "0.5": 5, "1.0": 10, "2.5": 20, "60.0": 20, "300.0": 20, "+Inf": 20}
    assert {le: bucket(le) for le in expected} == expected
    assert samples[("supplyline_commit_to_delivered_seconds_gcount", (("connector", "erp"),))] == 20
    assert samples[("supplyline_commit_to_delivered_seconds_gsum", (("connector", "erp"),))] == pytest.approx(21.0)
    assert bucket("+Inf", "planning") == 0


def test_the_histogram_without_postgresql_matches(connectors, monkeypatch):
    in_sql = selectors.latency_histogram(since=NOW - selectors.WINDOW)
    monkeypatch.setattr(selectors, "_sql_latency", lambda: False)
    assert selectors.latency_histogram(since=NOW - selectors.WINDOW) == in_sql


def test_a_scrape_costs_the_same_queries_for_2_or_10_connectors(client):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            _scrape(client)
        return len(captured)

    for n in range(2):
        scenario(Connector.objects.create(name=f"c{n}", kind="webhook", config={}), NOW)
    two = queries()
    for n in range(2, 10):
        scenario(Connector.objects.create(name=f"c{n}", kind="webhook", config={}), NOW)
    assert queries() == two == 5


def test_a_set_token_is_required_as_a_bearer_token(client, connectors, settings):
    settings.METRICS_TOKEN = "s3cret-scrape"
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert _scrape(client, HTTP_AUTHORIZATION="Bearer s3cret-scrape")


def test_without_a_token_the_endpoint_is_open(client, connectors, settings):
    settings.METRICS_TOKEN = ""
    assert _scrape(client)


def test_a_scrape_is_never_cached(client, connectors):
    assert "no-cache" in client.get("/metrics")["Cache-Control"]


def test_an_open_circuit_shows_in_the_metrics(client):
    from prometheus_client.parser import text_string_to_metric_families

    from planning_sync.models import Connector

    Connector.objects.create(name="erp-x", kind="webhook", config={"url": "http://127.0.0.1:9/"}, circuit="open")
    Connector.objects.create(name="plan-x", kind="webhook", config={"url": "http://127.0.0.1:9/"})
    body = client.get("/metrics").content.decode()
    family = next(f for f in text_string_to_metric_families(body) if f.name == "supplyline_connector_circuit_open")
    values = {s.labels["connector"]: (s.labels["state"], s.value) for s in family.samples}
    assert values == {"erp-x": ("open", 1.0), "plan-x": ("closed", 0.0)}
