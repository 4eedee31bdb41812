"""End to end with a real Celery worker: approved item terms reach the sandbox ERP and planning system."""

from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
from django.utils import timezone

from planning_sync.models import Connector, Delivery, OutboxEvent, Subscription
from planning_sync.sandbox import SandboxServer
from suppliers import self_service
from tests.celery_worker import drain, wait_for
from tests.factories import SupplierItemFactory

pytestmark = [pytest.mark.worker]


@pytest.fixture
def sandbox(tmp_path) -> Iterator[SandboxServer]:
    with SandboxServer(db_path=tmp_path / "sandbox.sqlite3") as server:
        yield server


def _connect(sandbox: SandboxServer) -> None:
    """Wired like seed_demo's sandbox connectors: both systems take the supplier item events."""
    for system in ("erp", "planning"):
        connector = Connector.objects.create(
            name=f"{system}-sandbox", kind="webhook", config={"url": f"{sandbox.url}/{system}/events"}, timeout_s=3
        )
        Subscription.objects.create(connector=connector, event_type="supplyline.supplier_item.*")


@pytest.mark.django_db(transaction=True)
def test_an_approved_lead_time_reaches_the_erp_and_planning(worker, sandbox, supplier, supplier_user, buyer):
    _connect(sandbox)
    item = SupplierItemFactory.create(supplier=supplier, lead_time_days=14, minimum_order_quantity=Decimal(10))
    proposal = self_service.terms_propose(
        supplier_item=item,
        by=supplier_user,
        lead_time_days=21,
        minimum_order_quantity=None,
        effective_date=timezone.localdate(),
    )
    self_service.terms_decide(proposal=proposal, by=buyer, approve=True)  # committed: wakes the dispatcher

    event = OutboxEvent.objects.get()
    subject = f"{supplier.code}/{item.item.sku}"
    for system in ("erp", "planning"):
        ledger_url = f"{sandbox.url}/{system}/ledger"
        arrived = wait_for(lambda url=ledger_url: httpx.get(url, params={"subject": subject}).json(), timeout=15)
        assert arrived, f"the {system} sandbox never got the event"
        [entry] = httpx.get(ledger_url, params={"subject": subject}).json()
        assert (entry["id"], entry["type"]) == (str(event.event_id), "supplyline.supplier_item.terms.changed.v1")
    assert drain()
    assert set(Delivery.objects.values_list("status", flat=True)) == {Delivery.Status.DELIVERED}
