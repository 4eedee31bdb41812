from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.db.models import Count

from purchasing.models import (
    AcknowledgementLine,
    Item,
    LineStatus,
    POStatus,
    PurchaseOrder,
    PurchaseOrderLine,
    ScheduleLine,
    Site,
)
from suppliers.models import Supplier, SupplierMembership, is_buyer

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    call_command("seed_demo", stdout=StringIO())


def _counts() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in (Site, Supplier, Item, PurchaseOrder, PurchaseOrderLine, ScheduleLine))


def test_the_demo_is_a_believable_distributor_with_every_flow_to_try(demo):
    assert _counts()[:4] == (3, 40, 500, 300)
    per_po = PurchaseOrder.objects.annotate(n=Count("lines")).values_list("n", flat=True)
    assert min(per_po) >= 1
    assert max(per_po) <= 20
    assert set(PurchaseOrder.objects.values_list("status", flat=True)) == set(POStatus.values)
    for code in ("ACME", "BOLT"):
        orders = PurchaseOrder.objects.filter(supplier__code=code)
        assert orders.count() >= 40, code
        assert orders.awaiting_acknowledgement().count() >= 25, code
        assert orders.filter(status=POStatus.ACKNOWLEDGED).count() >= 5, code
        assert orders.filter(status=POStatus.REVISED, revision__gt=1).exists(), code
    buyer = authenticate(email="buyer@example.com", password="demo1234")
    acme = authenticate(email="acme@example.com", password="demo1234")
    bolt = authenticate(email="bolt@example.com", password="demo1234")
    assert buyer is not None
    assert is_buyer(buyer)
    assert SupplierMembership.objects.get(user=acme).supplier.name == "Acme Industrial Supply"
    assert SupplierMembership.objects.get(user=bolt).supplier.name == "Bolt & Nut Co"
    dana = authenticate(email="dana@example.com", password="demo1234")
    assert sorted(SupplierMembership.objects.filter(user=dana).values_list("supplier__code", "role")) == [
        ("ACME", "order_desk"),
        ("BOLT", "viewer"),
    ]
    assert SupplierMembership.objects.get(user=acme).role == SupplierMembership.Role.ADMIN


def test_the_demo_data_is_consistent(demo):
    for line in PurchaseOrderLine.objects.filter(po__status=POStatus.ACKNOWLEDGED).prefetch_related("schedule_lines"):
        schedules = list(line.schedule_lines.all())
        assert sum(s.quantity for s in schedules) == line.ordered_quantity
        assert line.original_promised_date == schedules[0].promised_date
    assert not ScheduleLine.objects.filter(line__po__status=POStatus.ISSUED).exists()
    # POs pending review carry real proposals for the buyer, beyond tolerance.
    pending = PurchaseOrder.objects.filter(status=POStatus.CHANGES_PENDING)
    assert pending.exists()
    for po in pending:
        answers = AcknowledgementLine.objects.filter(line__po=po, outcome=AcknowledgementLine.Outcome.PENDING)
        assert answers.exists()
        assert all(a.breaches for a in answers)
    # Revised lines show the supplier what the buyer changed.
    revised = PurchaseOrderLine.objects.filter(status=LineStatus.REVISED)
    assert revised.exists()
    assert all("need_by_date" in line.revision_changes for line in revised)


def test_running_it_twice_changes_nothing(demo):
    before = _counts()
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert _counts() == before
    assert "already loaded" in out.getvalue()
