"""Inbound feeds, pushed and pulled: each document applies on its own, a bad one is quarantined with its error."""

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import include, path, reverse
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from config import urls as project_urls
from planning_sync.feeds import FEED_PATHS, FeedPullError, cursor_of, pull, pull_all
from planning_sync.inbound import FEEDS, apply_batch, issue_inbound_token
from planning_sync.models import Connector, InboundRecord, OutboxEvent
from purchasing.models import Demand, HistoryEntry, InventoryBalance, PurchaseOrder
from suppliers.models import Supplier
from tests.factories import ItemFactory, SiteFactory

# The push endpoints mounted as config/urls.py mounts them, whether or not it does yet.
PUSH_URLS = [path("integration/", include("planning_sync.urls"))]
urlpatterns = [*project_urls.urlpatterns]
if not any(getattr(pattern, "namespace", None) == "planning_sync" for pattern in urlpatterns):
    urlpatterns += PUSH_URLS
pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

NEED_BY = (timezone.localdate() + dt.timedelta(days=21)).isoformat()


@pytest.fixture(autouse=True)
def _catalogue(db):
    SiteFactory.create(code="DAL1")
    ItemFactory.create(sku="BRG-6204")


@pytest.fixture
def connector(db) -> Connector:
    return Connector.objects.create(name="erp", kind="webhook", config={"url": "http://127.0.0.1:9/events"})


def po_document(supplier: Supplier, number: int, *, quantity: Any = 100, need_by: str = NEED_BY) -> dict[str, Any]:
    return {
        "erp_id": f"45{number}",
        "number": f"PO-{number}",
        "revision": 1,
        "supplier_erp_vendor_id": supplier.erp_vendor_id,
        "site_code": "DAL1",
        "order_date": timezone.localdate().isoformat(),
        "buyer_email": "charlie@example.com",
        "lines": [
            {"line_number": 10, "item_sku": "BRG-6204", "quantity": 5, "unit_price": 4, "need_by_date": NEED_BY},
            {"line_number": 20, "item_sku": "BRG-6204", "quantity": quantity, "unit_price": 4, "need_by_date": need_by},
        ],
    }


# --- a batch ---------------------------------------------------------------------------------


def test_a_bad_document_is_quarantined_and_the_rest_apply(supplier, buyer, connector):
    # The bad one fails after its PO row was written: the savepoint takes that back.
    bad = po_document(supplier, 300002, need_by="2020-01-01")
    documents = [po_document(supplier, 300001), bad, po_document(supplier, 300003)]

    result = apply_batch("purchase_orders", documents, connector=connector)

    assert (result.applied, result.unchanged, dict(result.outcomes)) == (2, 0, {"created": 2})
    assert [(q.index, q.external_id, q.error) for q in result.quarantined] == [
        (1, "45300002", "lines[1].need_by_date: The need-by date 2020-01-01 is in the past.")
    ]
    assert set(PurchaseOrder.objects.values_list("number", flat=True)) == {"PO-300001", "PO-300003"}
    assert not HistoryEntry.objects.filter(po__number="PO-300002").exists()
    assert not OutboxEvent.objects.filter(subject="PO-300002").exists()
    record = InboundRecord.objects.get()
    assert (record.feed, record.external_id, record.payload, record.connector) == (
        "purchase_orders",
        "45300002",
        bad,
        connector,
    )
    assert record.error == "lines[1].need_by_date: The need-by date 2020-01-01 is in the past."


def test_replaying_a_batch_changes_nothing(supplier, buyer):
    documents = [po_document(supplier, 300001), po_document(supplier, 300002)]
    apply_batch("purchase_orders", documents, connector=None)
    events = OutboxEvent.objects.count()

    result = apply_batch("purchase_orders", documents, connector=None)

    assert (result.applied, result.unchanged, result.quarantined) == (0, 2, [])
    assert OutboxEvent.objects.count() == events


def test_a_fixed_document_resent_leaves_the_quarantine(supplier, buyer):
    apply_batch("purchase_orders", [po_document(supplier, 300001, quantity=-5)], connector=None)
    assert InboundRecord.objects.get().error == "lines[1].quantity: -5 is less than the minimum of 0"

    result = apply_batch("purchase_orders", [po_document(supplier, 300001)], connector=None)

    assert result.outcomes == {"created": 1}
    assert not InboundRecord.objects.exists()


def test_a_document_that_is_not_an_object_is_quarantined():
    result = apply_batch("inventory", ["BRG-6204: 40"], connector=None)

    assert [(q.external_id, q.error) for q in result.quarantined] == [
        ("", "document: 'BRG-6204: 40' is not of type 'object'")
    ]


def test_an_unknown_feed_is_refused():
    with pytest.raises(ValueError, match="Unknown feed 'orders'"):
        apply_batch("orders", [], connector=None)


def test_every_feed_is_an_inbound_record_feed_and_can_be_pulled():
    assert set(FEEDS) == set(InboundRecord.Feed.values) == set(FEED_PATHS)


# --- the push API --------------------------------------------------------------------------------


@pytest.fixture
def token(connector) -> str:
    return issue_inbound_token(connector)


@pytest.fixture
def erp(token) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


PO_URL = "/integration/erp/purchase-orders/"


def test_the_push_endpoints_are_named():
    assert reverse("planning_sync:purchase-orders-push") == PO_URL
    assert reverse("planning_sync:safety-stock-push") == "/integration/planning/safety-stock/"


def test_a_push_without_a_token_is_401(supplier):
    response = APIClient().post(PO_URL, [po_document(supplier, 300001)], format="json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="integration"'
    assert not PurchaseOrder.objects.exists()


def test_a_wrong_or_disabled_connectors_token_is_401(supplier, connector, token):
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION="Bearer not-the-token")
    Connector.objects.filter(pk=connector.pk).update(is_enabled=False)
    disabled = APIClient()
    disabled.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    for client in (wrong, disabled):
        assert client.post(PO_URL, [po_document(supplier, 300001)], format="json").status_code == 401
    assert not PurchaseOrder.objects.exists()


def test_a_supplier_users_session_does_not_authenticate_a_push(supplier, alice_client):
    response = alice_client.post(PO_URL, [po_document(supplier, 300001)], content_type="application/json")

    assert response.status_code == 401
    assert not PurchaseOrder.objects.exists()


def test_a_new_token_replaces_the_old_one(supplier, connector, token, erp):
    issue_inbound_token(connector)

    assert erp.post(PO_URL, [], format="json").status_code == 401


@pytest.mark.parametrize(
    ("body", "problem"),
    [({"po": 1}, "an object without a documents list"), ("PO-1", "a string"), (42, "a number")],
)
def test_a_body_that_is_not_a_list_is_400(erp, body, problem):
    response = erp.post(PO_URL, body, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "detail": f'The body must be a JSON list of documents, or {{"documents": [...]}}; got {problem}.'
    }


def test_more_than_5000_documents_is_413(erp):
    response = erp.post(PO_URL, [{}] * 5001, format="json")

    assert response.status_code == 413
    assert response.json() == {"detail": "5001 documents: send at most 5000 per request."}
    assert not InboundRecord.objects.exists()


def test_a_body_over_the_size_limit_is_413_before_it_is_read(supplier, connector, erp, settings):
    settings.PLANNING_SYNC_MAX_BODY_BYTES = 2_000
    documents = [po_document(supplier, 300001 + n) for n in range(10)]

    response = erp.post(PO_URL, documents, format="json")

    assert response.status_code == 413
    assert response.json() == {"detail": "The request body is larger than the limit of 2.0\xa0KB."}
    assert not InboundRecord.objects.exists()
    assert not PurchaseOrder.objects.exists()
    settings.PLANNING_SYNC_MAX_BODY_BYTES = 1_000_000
    assert erp.post(PO_URL, documents, format="json").json()["applied"] == 10


def test_a_push_answers_with_a_summary(supplier, buyer, connector, erp):
    documents = [po_document(supplier, 300001), po_document(supplier, 300002, quantity=-5)]

    first = erp.post(PO_URL, documents, format="json")
    replay = erp.post(PO_URL, {"documents": documents}, format="json")

    quarantined = [
        {"index": 1, "external_id": "45300002", "error": "lines[1].quantity: -5 is less than the minimum of 0"}
    ]
    assert first.status_code == 200
    assert first.json() == {"applied": 1, "unchanged": 0, "outcomes": {"created": 1}, "quarantined": quarantined}
    assert replay.json() == {"applied": 0, "unchanged": 1, "outcomes": {"unchanged": 1}, "quarantined": quarantined}
    assert InboundRecord.objects.filter(connector=connector).count() == 2


def test_planning_pushes_demand(erp):
    demand = {"external_id": "F-1", "item_sku": "BRG-6204", "site_code": "DAL1", "date": "2026-12-15"}
    demand |= {"quantity": 12, "kind": "forecast"}

    response = erp.post(reverse("planning_sync:demand-push"), [demand], format="json")

    assert response.json()["outcomes"] == {"created": 1}
    assert Demand.objects.get().external_id == "F-1"


def test_the_openapi_document_shows_each_feeds_schema():
    schema = SchemaGenerator(patterns=PUSH_URLS).get_schema(request=None, public=True)

    operation = schema["paths"][PO_URL]["post"]
    batch = operation["requestBody"]["content"]["application/json"]["schema"]["oneOf"][0]
    assert batch["maxItems"] == 5000
    assert "supplier_erp_vendor_id" in batch["items"]["required"]
    assert operation["security"] == [{"inboundToken": []}]
    assert set(operation["responses"]) == {"200", "400", "401", "413"}
    assert "/integration/planning/safety-stock/" in schema["paths"]


# --- the pull side ------------------------------------------------------------------------------


class FeedServer:
    """The ERP's feed on 127.0.0.1: answers GET <path>?updated_since=<cursor> from scripted pages."""

    def __init__(self) -> None:
        self.pages: dict[tuple[str, str], tuple[int, bytes]] = {}
        self.requests: list[tuple[str, str]] = []
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                since = parse_qs(url.query).get("updated_since", [""])[0]
                feed.requests.append((url.path, since))
                status, body = feed.pages.get((url.path, since), (404, b"{}"))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def page(self, path: str, since: str, results: list[Any], cursor: str) -> None:
        self.pages[(path, since)] = (200, json.dumps({"results": results, "cursor": cursor}).encode())


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    feed = FeedServer()
    thread = threading.Thread(target=feed.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield feed
    feed.server.shutdown()
    feed.server.server_close()


@pytest.fixture
def puller(feed_server) -> Connector:
    return Connector.objects.create(
        name="erp-pull", kind="webhook", timeout_s=2, config={"base_url": feed_server.url, "pull_feeds": []}
    )


def test_a_pull_applies_the_page_and_advances_the_cursor(supplier, buyer, feed_server, puller):
    page = [po_document(supplier, 300001)]
    feed_server.page("/erp/purchase-orders", "", page, cursor="c1")
    feed_server.page("/erp/purchase-orders", "c1", page, cursor="c2")  # the ERP sends the same PO again

    first = pull(puller, "purchase_orders")
    version = PurchaseOrder.objects.get().version
    replay = pull(puller, "purchase_orders")

    assert (first.outcomes, replay.outcomes) == ({"created": 1}, {"unchanged": 1})
    assert PurchaseOrder.objects.get().version == version
    assert feed_server.requests == [("/erp/purchase-orders", ""), ("/erp/purchase-orders", "c1")]
    puller.refresh_from_db()
    assert cursor_of(puller, "purchase_orders") == "c2"
    assert puller.config["base_url"] == feed_server.url


def test_a_failing_feed_keeps_its_cursor(feed_server, puller):
    feed_server.pages[("/erp/inventory", "")] = (503, b"down for maintenance")
    feed_server.pages[("/planning/demand", "")] = (200, b"<html>")

    with pytest.raises(FeedPullError, match="erp-pull answered HTTP 503 for inventory: down for maintenance"):
        pull(puller, "inventory")
    with pytest.raises(FeedPullError, match="something that is not JSON"):
        pull(puller, "demand")

    puller.refresh_from_db()
    assert puller.config.get("cursors") is None


def test_a_feed_page_over_the_size_limit_is_refused_unread_and_keeps_its_cursor(
    supplier, feed_server, puller, settings
):
    settings.PLANNING_SYNC_MAX_BODY_BYTES = 2_000
    feed_server.page("/erp/purchase-orders", "", [po_document(supplier, 300001 + n) for n in range(10)], cursor="c1")

    with pytest.raises(FeedPullError, match="erp-pull answered purchase_orders with more than 2,000 bytes"):
        pull(puller, "purchase_orders")

    assert not PurchaseOrder.objects.exists()
    puller.refresh_from_db()
    assert puller.config.get("cursors") is None


def test_an_unreachable_feed_is_a_clear_error(puller, feed_server):
    feed_server.server.shutdown()
    feed_server.server.server_close()

    with pytest.raises(FeedPullError, match="Could not reach erp-pull for receipts"):
        pull(puller, "receipts")


def test_a_pull_that_lost_the_race_leaves_the_winners_cursor(supplier, buyer, feed_server, puller):
    feed_server.page("/erp/purchase-orders", "", [po_document(supplier, 300001)], cursor="c1")
    stale = Connector.objects.get(pk=puller.pk)
    pull(puller, "purchase_orders")
    Connector.objects.filter(pk=puller.pk).update(config={**puller.config, "cursors": {"purchase_orders": "c9"}})

    pull(stale, "purchase_orders")

    puller.refresh_from_db()
    assert cursor_of(puller, "purchase_orders") == "c9"


def test_pull_all_pulls_the_listed_feeds_of_enabled_connectors(feed_server, puller):
    count = {"item_sku": "BRG-6204", "site_code": "DAL1", "quantity": 40, "as_of": "2026-12-01T06:00:00Z"}
    feed_server.page("/erp/inventory", "", [count], cursor="i1")
    feed_server.pages[("/planning/demand", "")] = (500, b"oops")
    Connector.objects.filter(pk=puller.pk).update(
        config={"feed_url": feed_server.url, "pull_feeds": ["inventory", "demand"]}
    )
    Connector.objects.create(
        name="off", kind="webhook", is_enabled=False, config={"base_url": feed_server.url, "pull_feeds": ["receipts"]}
    )

    results = pull_all()

    assert {name: dict(result.outcomes) for name, result in results.items()} == {"erp-pull/inventory": {"created": 1}}
    assert InventoryBalance.objects.get().quantity == 40
    assert [p for p, _ in feed_server.requests] == ["/erp/inventory", "/planning/demand"]
