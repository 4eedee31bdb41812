"""The API acknowledgement's hot path (tests/bench/bench_api.py): what it costs in queries, and that its
shortcuts (lines written in one UPDATE, the response built from the answers in memory) say what is stored."""

import datetime as dt
from decimal import Decimal

import orjson
import pytest
from django.db.models import Prefetch
from django.utils import timezone
from rest_framework.test import APIClient

from planning_sync.models import Connector
from purchasing.models import Acknowledgement, AcknowledgementLine, LineStatus, PurchaseOrder, ReasonCode
from purchasing.serializers import AcknowledgementOutput
from suppliers.services import api_key_create
from tests.factories import PurchaseOrderFactory, PurchaseOrderLineFactory, ScheduleLineFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("portal_defaults")]

URL = "/api/v1/purchase-orders/{}/acknowledgements/"
# The key; the idempotency claim (3: a savepoint, as a test runs in a transaction; one INSERT in production);
# the PO, read for If-Match; the transaction that holds the change and its stored response (2: a savepoint in a
# test; BEGIN and COMMIT in production); the service (13: a savepoint, nested in that transaction): lock, lines,
# their schedule lines, the acknowledgement, its answers, the new schedule lines, one UPDATE of every line, the
# history, the PO, the outbox event and its subscriptions; the stored response; and the two statements that
# enter the key's supplier scope after authentication and leave it after the response (row-level security,
# docs/security.md). It was 26 here (28 in production) before the fast path, 19 before row-level security, 21
# before the change and its stored response shared one transaction (config/api/idempotency.py).
ACCEPT_QUERIES = 23


@pytest.fixture
def acme(supplier) -> APIClient:
    _, secret = api_key_create(supplier=supplier, name="erp", scopes=["orders:acknowledge"], by=None, expires_at=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    client.get("/api/v1/whoami/")  # the key's first use writes last_used_at: not the acknowledgement's cost
    return client


@pytest.fixture
def three_line_po(supplier) -> PurchaseOrder:
    order = PurchaseOrderFactory.create(supplier=supplier, number="PO-700001")
    for number in (10, 20, 30):
        PurchaseOrderLineFactory.create(po=order, line_number=number)
    return order


def test_a_three_line_accept_costs_a_fixed_number_of_queries(acme, three_line_po, django_assert_num_queries):
    # A subscribed connector adds the outbox's own delivery INSERT; that is the outbox's cost, not this path's.
    Connector.objects.update(is_enabled=False)
    answer = {"lines": [{"line_number": n, "action": "accept"} for n in (10, 20, 30)]}
    with django_assert_num_queries(ACCEPT_QUERIES):
        response = acme.post(URL.format("PO-700001"), answer, format="json", HTTP_IDEMPOTENCY_KEY="ack-1")
    assert response.status_code == 201, response.content
    assert {line["line_status"] for line in response.json()["lines"]} == {LineStatus.ACKNOWLEDGED}


def test_the_response_is_the_acknowledgement_as_stored(acme, po):
    """Answers given out of line order, a touchless split and a rejection: the body built from memory is the
    one a fresh read of the acknowledgement gives."""
    ReasonCode.objects.get_or_create(code="OUT_OF_STOCK", defaults={"label": "Out of stock"})
    need_by = po.lines.get(line_number=10).need_by_date
    answer = {
        "note": "Split and reject",
        "lines": [
            {"line_number": 20, "action": "reject", "reason_code": "OUT_OF_STOCK", "note": "Gone"},
            {
                "line_number": 10,
                "action": "change",
                "deliveries": [
                    {"quantity": "60", "date": need_by.isoformat()},
                    {"quantity": "40", "date": (need_by + dt.timedelta(days=1)).isoformat()},
                ],
            },
        ],
    }
    response = acme.post(URL.format("PO-100001"), answer, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    # A fresh read of what was stored, answers in line order: what the response must equal.
    answers = AcknowledgementLine.objects.select_related("line", "reason_code").order_by("line__line_number")
    ack = po.acknowledgements.prefetch_related(Prefetch("lines", queryset=answers)).get(pk=body["id"])
    po.refresh_from_db()
    stored = {
        "id": ack.pk,
        "po_number": po.number,
        "revision": ack.revision,
        "version": po.version,
        "status": po.status,
        "etag": f'"po-{po.number}-v{po.version}"',
        "channel": ack.channel,
        "note": ack.note,
        "submitted_at": ack.submitted_at,
        "lines": ack.lines.all(),
    }
    assert body == orjson.loads(orjson.dumps(AcknowledgementOutput(stored).data))
    assert response["ETag"] == body["etag"]
    assert [line["line_number"] for line in body["lines"]] == [10, 20]


def test_each_line_gets_its_own_values_in_the_one_update(acme, supplier):
    """Lines that differ (need-by dates, a touchless price change, one promised before) each end as answered."""
    order = PurchaseOrderFactory.create(supplier=supplier, number="PO-700002")
    today = timezone.localdate()
    first = PurchaseOrderLineFactory.create(po=order, line_number=10, need_by_date=today + dt.timedelta(days=20))
    second = PurchaseOrderLineFactory.create(
        po=order, line_number=20, need_by_date=today + dt.timedelta(days=30), unit_price=Decimal("10.00")
    )
    promised = PurchaseOrderLineFactory.create(
        po=order, line_number=30, need_by_date=today + dt.timedelta(days=40), revision_changes={"note": [None, "x"]}
    )
    ScheduleLineFactory.create(line=promised, promised_date=today + dt.timedelta(days=41))
    before = {line.pk: line.updated_at for line in order.lines.all()}
    answer = {
        "lines": [
            {"line_number": 10, "action": "accept"},
            {"line_number": 20, "action": "change", "unit_price": "10.10"},
            {"line_number": 30, "action": "accept"},
        ]
    }
    response = acme.post(URL.format("PO-700002"), answer, format="json")
    assert response.status_code == 201, response.content
    lines = {line.line_number: line for line in order.lines.all()}
    assert {line.status for line in lines.values()} == {LineStatus.ACKNOWLEDGED}
    assert lines[10].original_promised_date == first.need_by_date
    assert (lines[20].original_promised_date, lines[20].unit_price) == (second.need_by_date, Decimal("10.1"))
    assert lines[20].ordered_quantity == second.ordered_quantity
    assert lines[30].original_promised_date == today + dt.timedelta(days=41)  # its promise, kept as it was
    assert lines[30].revision_changes == {}
    assert [s.promised_date for s in lines[30].schedule_lines.all()] == [today + dt.timedelta(days=41)]
    assert all(line.updated_at > before[line.pk] for line in lines.values())
    assert Acknowledgement.objects.filter(po=order).count() == 1
