"""Supply risk: the projection read from the database, the case a change raises or clears, the triggers, the page."""

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.template.loader import render_to_string
from django.urls import reverse

from config.celery import app as celery_app
from exceptions import supply_risk
from exceptions.handlers import HANDLERS, dispatch, full_type
from exceptions.models import (
    CaseActivity,
    CaseStatus,
    CaseType,
    ExceptionCase,
    ProjectionSnapshot,
    ResolutionCode,
    RuleSetting,
    Severity,
)
from exceptions.projection import DemandLine, project
from exceptions.services import case_resolve
from exceptions.supply_risk import (
    Cause,
    on_purchase_order_change,
    on_stock_or_demand_change,
    projection_for,
    risk_severity,
    site_today,
    supply_risk_recompute,
)
from planning_sync.envelope import cloudevent
from planning_sync.event_schemas import validate_event
from planning_sync.models import Delivery, OutboxEvent
from purchasing import inbound, services
from purchasing.models import (
    Acknowledgement,
    AcknowledgementLine,
    Channel,
    Demand,
    InventoryBalance,
    Item,
    LineStatus,
    POStatus,
    PurchaseOrder,
    PurchaseOrderLine,
    SafetyStock,
    ScheduleLine,
    ShipmentLine,
    ShipmentNotice,
    ShipmentStatus,
    Site,
)
from purchasing.rules import Delivery as Promise
from purchasing.services import LineChange, LineDecision, NewLine
from tests.factories import (
    BuyerFactory,
    ItemFactory,
    PurchaseOrderFactory,
    PurchaseOrderLineFactory,
    ScheduleLineFactory,
    SiteFactory,
    SupplierFactory,
    SupplierItemFactory,
)

pytestmark = pytest.mark.django_db

DETECTED = "supplyline.supply.risk.detected.v1"


@pytest.fixture
def eager_mail(monkeypatch):
    """Run Celery tasks in-process when their on-commit callbacks fire, so mail.outbox shows what was sent."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)


@pytest.fixture
def site(db) -> Site:
    return SiteFactory.create(code="DAL1", name="Dallas", timezone="America/Chicago")


@pytest.fixture
def item(db) -> Item:
    return ItemFactory.create(sku="BRG-6204", description="Ball bearing 6204-2RS")


@pytest.fixture
def today(site) -> dt.date:
    return site_today(site)


def days(today: dt.date, n: int) -> dt.date:
    return today + dt.timedelta(days=n)


def stock(item: Item, site: Site, *, on_hand: str = "10", safety: str = "5") -> None:
    InventoryBalance.objects.create(item=item, site=site, quantity=Decimal(on_hand), as_of=dt.datetime.now(dt.UTC))
    SafetyStock.objects.create(item=item, site=site, quantity=Decimal(safety))


def add_demand(item: Item, site: Site, date: dt.date, quantity: str, *, priority: int = 5, ref: str = "SO-1") -> Demand:
    return Demand.objects.create(
        external_id=f"{ref}/{date.isoformat()}/{quantity}",
        item=item,
        site=site,
        date=date,
        quantity=Decimal(quantity),
        kind="customer_order",
        priority=priority,
        customer_reference=ref,
    )


def promised_line(
    po: PurchaseOrder, item: Item, number: int, *deliveries: tuple[dt.date, str], **fields
) -> PurchaseOrderLine:
    ordered = sum((Decimal(q) for _, q in deliveries), Decimal(0))
    fields.setdefault("status", LineStatus.ACKNOWLEDGED)
    line = PurchaseOrderLineFactory.create(po=po, line_number=number, item=item, ordered_quantity=ordered, **fields)
    for n, (date, quantity) in enumerate(deliveries, start=1):
        ScheduleLineFactory.create(line=line, schedule_number=n, quantity=Decimal(quantity), promised_date=date)
    return line


def notice(
    po: PurchaseOrder, number: str, arrival: dt.date, *lines: tuple[PurchaseOrderLine, str], **fields
) -> ShipmentNotice:
    shipment = ShipmentNotice.objects.create(
        supplier=po.supplier,
        site=po.site,
        number=number,
        status=fields.pop("status", ShipmentStatus.IN_TRANSIT),
        ship_date=arrival - dt.timedelta(days=2),
        estimated_arrival=arrival,
        channel=Channel.WEB,
        **fields,
    )
    for position, (line, quantity) in enumerate(lines, start=1):
        ShipmentLine.objects.create(shipment=shipment, po_line=line, position=position, quantity=Decimal(quantity))
    return shipment


# --- reading the projection ------------------------------------------------------------------


def test_the_projection_counts_open_lines_notices_stock_and_demand(
    item, site, today, supplier, django_assert_num_queries
):
    stock(item, site, on_hand="50", safety="20")
    po = PurchaseOrderFactory.create(supplier=supplier, site=site, number="PO-1", status=POStatus.ACKNOWLEDGED)
    # 60 then 40 promised; 70 shipped on ASN-1: the first delivery is on the notice, 30 of the second is left.
    split = promised_line(po, item, 10, (days(today, 3), "60"), (days(today, 10), "40"), shipped_quantity=70)
    notice(po, "ASN-1", days(today, 2), (split, "70"))
    notice(po, "ASN-0", days(today, 1), (split, "5"), status=ShipmentStatus.CANCELLED)
    # Not answered yet: due whole on its need-by date.
    PurchaseOrderLineFactory.create(po=po, line_number=20, item=item, ordered_quantity=25, need_by_date=days(today, 20))
    # A change beyond tolerance, pending the buyer: the supplier's word is the proposal.
    pending = promised_line(po, item, 30, (days(today, 5), "15"), status=LineStatus.CHANGES_PENDING)
    answer = Acknowledgement.objects.create(po=po, revision=1, channel=Channel.WEB)
    terms = {
        "quantity": "15",
        "unit_price": "12.5",
        "deliveries": [{"quantity": "15", "date": days(today, 30).isoformat()}],
    }
    AcknowledgementLine.objects.create(
        acknowledgement=answer, line=pending, action="change", before=terms, proposed=terms, outcome="pending"
    )
    # Rejected, cancelled, received: nothing more to come.
    promised_line(po, item, 40, (days(today, 4), "500"), status=LineStatus.REJECTED)
    promised_line(po, item, 50, (days(today, 4), "500"), status=LineStatus.CANCELLED)
    promised_line(po, item, 60, (days(today, 4), "500"), status=LineStatus.RECEIVED, received_quantity=500)
    # Elsewhere, or another item: not this projection.
    promised_line(PurchaseOrderFactory.create(supplier=supplier), item, 10, (days(today, 4), "700"))
    promised_line(po, ItemFactory.create(), 70, (days(today, 4), "800"))
    add_demand(item, site, days(today, -3), "30", ref="SO-PAST")
    add_demand(item, site, days(today, 12), "45", priority=1, ref="SO-12")
    add_demand(item, site, days(today, 200), "999", ref="SO-FAR")

    with django_assert_num_queries(6):
        result = projection_for(item, site)

    movements = [
        (d.date, [(s.quantity, s.source) for s in d.supplies], [x.customer_reference for x in d.demands])
        for d in result.days
        if d.has_movements
    ]
    assert movements == [
        (today, [], ["SO-PAST"]),
        (days(today, 2), [(70, "ASN ASN-1 (PO-1 line 10)")], []),
        (days(today, 10), [(30, "PO-1 line 10")], []),
        (days(today, 12), [], ["SO-12"]),
        (days(today, 20), [(25, "PO-1 line 20 (not yet acknowledged)")], []),
        (days(today, 30), [(15, "PO-1 line 30 (as proposed, awaiting buyer)")], []),
    ]
    assert (result.on_hand, result.safety_stock, result.start, len(result.days)) == (50, 20, today, 84)
    assert result.balances[-1] == 50 - 30 + 70 + 30 - 45 + 25 + 15


def test_the_projection_costs_the_same_queries_with_many_lines(item, site, today, supplier, django_assert_num_queries):
    for n in range(1, 13):
        po = PurchaseOrderFactory.create(supplier=supplier, site=site, status=POStatus.ACKNOWLEDGED)
        line = promised_line(po, item, 10, (days(today, n), "10"), (days(today, n + 7), "10"), shipped_quantity=5)
        notice(po, f"ASN-{n}", days(today, n), (line, "5"))
        add_demand(item, site, days(today, n), "3", ref=f"SO-{n}")

    with django_assert_num_queries(6):
        result = projection_for(item, site)

    assert sum(d.supply for d in result.days) == 12 * 20


def test_with_no_stock_figures_the_projection_starts_from_zero(item, site, django_assert_num_queries):
    with django_assert_num_queries(4):  # no line: nothing to prefetch
        result = projection_for(item, site, weeks=2)

    assert (result.on_hand, result.safety_stock, result.balances) == (0, 0, [0] * 14)


def test_the_horizon_is_a_setting_in_weeks(item, site, settings):
    settings.SUPPLYLINE_PROJECTION_WEEKS = 2
    assert len(projection_for(item, site).days) == 14

    settings.SUPPLYLINE_PROJECTION_WEEKS = 0
    with pytest.raises(ImproperlyConfigured, match="SUPPLYLINE_PROJECTION_WEEKS must be a whole number of weeks"):
        projection_for(item, site)


# --- severity ----------------------------------------------------------------------------------


def severity_of(*, on_hand: str, demand: list[tuple[int, str, int]]) -> tuple[int, list[str]]:
    start = dt.date(2026, 12, 1)
    lines = [DemandLine(start + dt.timedelta(days=n), Decimal(q), p) for n, q, p in demand]
    result = project(on_hand=Decimal(on_hand), safety_stock=Decimal(10), supply=[], demand=lines, start=start, weeks=2)
    return risk_severity(result)


@pytest.mark.parametrize(
    ("on_hand", "demand", "expected", "reasons"),
    [
        # Into safety stock the last days, for demand of low priority: low.
        ("20", [(11, "15", 5)], Severity.LOW, []),
        # Below zero, briefly: medium.
        ("20", [(11, "25", 5)], Severity.MEDIUM, ["out of stock from 2026-12-12"]),
        # Below zero for a week or more, priority 3: critical.
        (
            "20",
            [(2, "25", 3)],
            Severity.CRITICAL,
            ["out of stock from 2026-12-03", "below safety stock 12 days", "priority 3 demand at risk"],
        ),
        # Into safety stock only, but a priority-1 order is short: high.
        ("20", [(11, "15", 1)], Severity.HIGH, ["priority 1 demand at risk"]),
        # Priority 1 and below zero: critical, however briefly.
        ("20", [(12, "25", 1)], Severity.CRITICAL, ["out of stock from 2026-12-13", "priority 1 demand at risk"]),
        # A long dip into safety stock with priority 2 demand: high.
        ("20", [(2, "15", 2)], Severity.HIGH, ["below safety stock 12 days", "priority 2 demand at risk"]),
    ],
)
def test_severity_follows_how_deep_how_long_and_whose_demand(on_hand, demand, expected, reasons):
    assert severity_of(on_hand=on_hand, demand=demand) == (expected, reasons)


# --- the case a change raises ---------------------------------------------------------------------


@pytest.fixture
def scene(item, site, today, supplier, other_supplier):
    """10 on hand, safety stock 5; 100 promised by ACME in 14 days; a priority-1 order for 80 in 16 days.

    BOLT and ZED sell the item too (so does ACME, which is not an alternative to itself)."""
    stock(item, site)
    add_demand(item, site, days(today, 16), "80", priority=1, ref="SO-88123")
    po = PurchaseOrderFactory.create(supplier=supplier, site=site, number="PO-200001", status=POStatus.ACKNOWLEDGED)
    line = promised_line(po, item, 10, (days(today, 14), "100"))
    SupplierItemFactory.create(supplier=supplier, item=item, lead_time_days=5)
    SupplierItemFactory.create(
        supplier=other_supplier, item=item, supplier_part_number="B-6204", lead_time_days=10, price=Decimal("4.10")
    )
    zed = SupplierFactory.create(code="ZED", name="Zed Bearings")
    SupplierItemFactory.create(supplier=zed, item=item, supplier_part_number="Z-1", lead_time_days=30, currency="EUR")
    return line


def move(line: PurchaseOrderLine, date: dt.date) -> Cause:
    """The supplier's new promise, and the change it is (as the handlers would describe it)."""
    ScheduleLine.objects.filter(line=line).update(promised_date=date)
    return Cause(
        "supplyline.po.line.changed.v1",
        line.po.number,
        "c0a4f7a0-5c3e-4c59-9d3c-8a8d2b1f0001",
        line.po.supplier_id,
        line.po_id,
    )


def recompute(item: Item, site: Site, cause: Cause | None = None) -> ExceptionCase | None:
    return supply_risk_recompute(item=item, site=site, cause=cause)


def detected() -> list[dict[str, Any]]:
    return [cloudevent(e) for e in OutboxEvent.objects.filter(type=DETECTED).order_by("id")]


def test_no_case_while_the_projection_holds(scene, item, site, today):
    assert recompute(item, site) is None

    snapshot = ProjectionSnapshot.objects.get(item=item, site=site)
    assert (snapshot.start, snapshot.first_below_safety, len(snapshot.balances)) == (today, None, 84)
    assert Decimal(snapshot.balances[-1]) == 10 + 100 - 80
    assert not ExceptionCase.objects.exists()


def test_a_promise_moved_past_the_demand_opens_a_case(scene, item, site, today, buyer, supplier):
    recompute(item, site)

    case = recompute(item, site, move(scene, days(today, 35)))

    assert case is not None
    assert (case.type, case.dedupe_key, case.status) == (
        CaseType.SUPPLY_RISK,
        "supply_risk:DAL1:BRG-6204",
        CaseStatus.OPEN,
    )
    assert case.severity == Severity.CRITICAL  # below zero, 19 days short, a priority-1 order
    assert case.title == f"BRG-6204 at DAL1: out of stock from {days(today, 16).isoformat()}"
    assert case.summary == (
        f"The projected balance of BRG-6204 at DAL1 falls below safety stock (5 EA) on {days(today, 16).isoformat()}: "
        "short 75 EA at worst, 19 days below safety stock, 1 demand line at risk. "
        "Found after po.line.changed of PO-200001."
    )
    assert (case.item, case.site, case.supplier, case.po, case.assignee) == (item, site, supplier, scene.po, buyer)
    details = case.details
    assert (details["first_below_safety"], details["shortfall"], details["days_short"]) == (
        days(today, 16).isoformat(),
        "75.000",
        19,
    )
    assert details["demand_at_risk"] == [
        {
            "external_id": f"SO-88123/{days(today, 16).isoformat()}/80",
            "date": days(today, 16).isoformat(),
            "quantity": "80.000",
            "short": "75.000",
            "priority": 1,
            "kind": "customer_order",
            "customer_reference": "SO-88123",
        }
    ]
    assert [
        (a["supplier"], a["lead_time_days"], a["price"], a["currency"], a["earliest_delivery"])
        for a in details["alternates"]
    ] == [
        ("BOLT", 10, "4.1000", "USD", days(today, 10).isoformat()),
        ("ZED", 30, "10.0000", "EUR", days(today, 30).isoformat()),
    ]
    assert details["cause"]["subject"] == "PO-200001"
    assert Decimal(details["before"]["balances"][20]) == 30
    assert Decimal(details["after"]["balances"][20]) == -70
    assert list(case.activities.values_list("kind", flat=True)) == [CaseActivity.Kind.OPENED]
    [event] = detected()
    validate_event(event)
    assert (event["subject"], event["data"]["case_id"], event["data"]["severity"]) == (
        str(case.pk),
        case.pk,
        "critical",
    )


def test_a_shortage_that_was_there_before_opens_no_case(scene, item, site, today, buyer):
    case = recompute(item, site, move(scene, days(today, 35)))
    case_resolve(case_id=case.pk, code=ResolutionCode.ACCEPTED, by=buyer, note="Customer agreed to wait.")

    # Another change that leaves the same days short: not this change's doing.
    SafetyStock.objects.filter(item=item).update(quantity=Decimal(4))
    assert recompute(item, site, Cause("supplyline.safety_stock.changed.v1", str(item.pk), "")) is None

    assert ExceptionCase.objects.unresolved().count() == 0
    assert len(detected()) == 1


def test_recomputing_again_raises_nothing_twice(scene, item, site, today):
    recompute(item, site)
    first = recompute(item, site, move(scene, days(today, 35)))

    again = recompute(item, site, move(scene, days(today, 35)))

    assert again == first
    assert ExceptionCase.objects.count() == 1
    assert list(first.activities.values_list("kind", flat=True)) == [CaseActivity.Kind.OPENED]
    assert len(detected()) == 1


def test_a_change_that_makes_it_worse_updates_the_open_case(scene, item, site, today):
    recompute(item, site)
    case = recompute(item, site, move(scene, days(today, 35)))

    add_demand(item, site, days(today, 8), "6", priority=2, ref="SO-EARLY")
    worse = recompute(item, site, Cause("supplyline.demand.changed.v1", str(item.pk), ""))

    assert worse.pk == case.pk
    assert worse.details["first_below_safety"] == days(today, 8).isoformat()
    assert [d["customer_reference"] for d in worse.details["demand_at_risk"]] == ["SO-EARLY", "SO-88123"]
    assert worse.details["cause"]["subject"] == "PO-200001"  # what raised it, for the before-and-after chart
    assert worse.details["before"] == case.details["before"]
    assert [e["data"]["first_below_safety"] for e in detected()] == [
        days(today, 16).isoformat(),
        days(today, 8).isoformat(),
    ]


def test_the_case_clears_when_the_promise_comes_back(scene, item, site, today):
    recompute(item, site)
    case = recompute(item, site, move(scene, days(today, 35)))

    cleared = recompute(item, site, move(scene, days(today, 14)))

    assert cleared.pk == case.pk
    case.refresh_from_db()
    assert (case.status, case.resolution_code) == (CaseStatus.RESOLVED, ResolutionCode.CLEARED)
    assert (
        case.resolution_note == "The projection no longer falls below safety stock, after po.line.changed of PO-200001."
    )
    assert ProjectionSnapshot.objects.get(item=item).first_below_safety is None


@pytest.fixture
def accepted_breach(item, site, today, supplier, buyer):
    """100 on hand, safety stock 20; 100 promised on day 3 for 150 due on day 5; 500 due on day 60, short.

    The day-60 shortage was there from the first recompute; a buyer accepted its case."""
    stock(item, site, on_hand="100", safety="20")
    add_demand(item, site, days(today, 5), "150", ref="SO-5")
    add_demand(item, site, days(today, 60), "500", ref="SO-60")
    po = PurchaseOrderFactory.create(supplier=supplier, site=site, number="PO-300001", status=POStatus.ACKNOWLEDGED)
    line = promised_line(po, item, 10, (days(today, 3), "100"))
    old = recompute(item, site)
    assert old is not None
    assert old.details["first_below_safety"] == days(today, 60).isoformat()
    case_resolve(case_id=old.pk, code=ResolutionCode.ACCEPTED, by=buyer, note="Known; the customer waits.")
    return line


def test_the_case_clears_when_the_change_is_undone_though_an_older_breach_remains(accepted_breach, item, site, today):
    raised = recompute(item, site, move(accepted_breach, days(today, 24)))
    assert raised.title == f"BRG-6204 at DAL1: out of stock from {days(today, 5).isoformat()}"

    cleared = recompute(item, site, move(accepted_breach, days(today, 3)))

    assert cleared.pk == raised.pk
    raised.refresh_from_db()
    assert (raised.status, raised.resolution_code) == (CaseStatus.RESOLVED, ResolutionCode.CLEARED)
    assert raised.title == f"BRG-6204 at DAL1: out of stock from {days(today, 5).isoformat()}"  # not retitled
    assert raised.resolution_note == (
        "The shortage this case was raised for is gone, after po.line.changed of PO-300001: the projection still "
        f"falls below safety stock from {days(today, 60).isoformat()}, but only where it did before "
        "po.line.changed of PO-300001."
    )
    assert not ExceptionCase.objects.unresolved().exists()
    assert ExceptionCase.objects.filter(resolution_code=ResolutionCode.ACCEPTED).count() == 1


def test_the_case_stays_open_while_its_own_breach_persists_beside_an_older_one(accepted_breach, item, site, today):
    raised = recompute(item, site, move(accepted_breach, days(today, 24)))

    # Promised sooner, not soon enough: still out of stock from day 5, now until day 10.
    kept = recompute(item, site, move(accepted_breach, days(today, 10)))

    assert kept.pk == raised.pk
    kept.refresh_from_db()
    assert kept.status == CaseStatus.OPEN
    assert (kept.details["first_below_zero"], kept.details["before"]) == (
        days(today, 5).isoformat(),
        raised.details["before"],
    )


def test_a_new_breach_where_the_cases_before_breached_opens_a_case_of_its_own(accepted_breach, item, site, today):
    raised = recompute(item, site, move(accepted_breach, days(today, 24)))
    Demand.objects.filter(customer_reference="SO-60").update(quantity=Decimal(50))  # the old shortage is gone
    recompute(item, site, Cause("supplyline.demand.changed.v1", "SO-60", ""))

    # One recompute sees both: the promise back on time, and the day-60 demand back at 500.
    ScheduleLine.objects.filter(line=accepted_breach).update(promised_date=days(today, 3))
    Demand.objects.filter(customer_reference="SO-60").update(quantity=Decimal(500))
    fresh = recompute(item, site, Cause("supplyline.demand.changed.v1", "SO-60", ""))

    raised.refresh_from_db()
    assert (raised.status, raised.resolution_code) == (CaseStatus.RESOLVED, ResolutionCode.CLEARED)
    assert fresh.pk != raised.pk
    assert (fresh.status, fresh.details["new_breach_from"]) == (CaseStatus.OPEN, days(today, 60).isoformat())
    assert fresh.details["cause"]["type"] == "supplyline.demand.changed.v1"


def test_a_planning_change_assigns_the_buyer_of_the_po_that_supplies_soonest(
    item, site, today, supplier, buyer, eager_mail, django_capture_on_commit_callbacks
):
    stock(item, site, on_hand="10", safety="5")
    soon, late = BuyerFactory.create(email="soon@example.com"), BuyerFactory.create(email="late@example.com")
    po_late = PurchaseOrderFactory.create(supplier=supplier, site=site, buyer=late, status=POStatus.ACKNOWLEDGED)
    promised_line(po_late, item, 10, (days(today, 20), "100"))
    po_soon = PurchaseOrderFactory.create(supplier=supplier, site=site, buyer=soon, status=POStatus.ACKNOWLEDGED)
    promised_line(po_soon, item, 10, (days(today, 9), "50"))
    recompute(item, site)

    add_demand(item, site, days(today, 6), "30")
    with django_capture_on_commit_callbacks(execute=True):
        case = recompute(item, site, Cause("supplyline.demand.changed.v1", "BRG-6204", ""))

    assert (case.supplier, case.po, case.assignee) == (None, None, soon)
    assert [m.to for m in mail.outbox if f"Case #{case.pk}" in m.subject] == [[soon.email]]


def test_a_planning_change_assigns_a_po_due_past_the_horizon_before_a_supplier(item, site, today, supplier):
    stock(item, site, on_hand="10", safety="5")
    far = BuyerFactory.create(email="far@example.com")
    po = PurchaseOrderFactory.create(supplier=supplier, site=site, buyer=far, status=POStatus.ACKNOWLEDGED)
    promised_line(po, item, 10, (days(today, 200), "100"))
    SupplierItemFactory.create(supplier=supplier, item=item, lead_time_days=5)
    recompute(item, site)

    add_demand(item, site, days(today, 6), "30")
    case = recompute(item, site, Cause("supplyline.demand.changed.v1", "BRG-6204", ""))

    assert case.assignee == far


def test_with_no_po_a_planning_change_assigns_the_buyer_of_the_quickest_supplier(item, site, today):
    quick, slow = BuyerFactory.create(email="quick@example.com"), BuyerFactory.create(email="slow@example.com")
    SupplierItemFactory.create(supplier=SupplierFactory.create(code="SLOW", buyer=slow), item=item, lead_time_days=20)
    SupplierItemFactory.create(supplier=SupplierFactory.create(code="QUICK", buyer=quick), item=item, lead_time_days=7)
    SupplierItemFactory.create(supplier=SupplierFactory.create(code="NOBODY", buyer=None), item=item, lead_time_days=1)
    stock(item, site, on_hand="10", safety="5")
    recompute(item, site)

    InventoryBalance.objects.filter(item=item).update(quantity=Decimal(2))
    case = recompute(item, site, Cause("supplyline.inventory.changed.v1", "BRG-6204", ""))

    assert (case.po, case.supplier, case.assignee) == (None, None, quick)


def test_with_no_po_and_no_supplier_a_planning_change_leaves_the_case_unassigned(item, site, today):
    stock(item, site, on_hand="10", safety="5")
    recompute(item, site)

    InventoryBalance.objects.filter(item=item).update(quantity=Decimal(2))
    case = recompute(item, site, Cause("supplyline.inventory.changed.v1", "BRG-6204", ""))

    assert case is not None
    assert case.assignee is None


def test_a_shortfall_under_the_rules_threshold_opens_no_case(scene, item, site, today):
    RuleSetting.objects.create(rule=CaseType.SUPPLY_RISK, site=site, threshold=Decimal(100))
    recompute(item, site)

    assert recompute(item, site, move(scene, days(today, 35))) is None
    assert not ExceptionCase.objects.exists()


def test_the_buyer_hears_of_the_case_by_email(
    scene, item, site, today, buyer, eager_mail, django_capture_on_commit_callbacks
):
    recompute(item, site)
    with django_capture_on_commit_callbacks(execute=True):
        case = recompute(item, site, move(scene, days(today, 35)))

    [message] = [m for m in mail.outbox if f"Case #{case.pk}" in m.subject]
    assert message.to == [buyer.email]
    assert "BRG-6204 at DAL1: out of stock" in message.subject
    assert "priority 1 demand at risk" in message.body
    assert f"At risk: 75 of 80 on {days(today, 16).isoformat()} (SO-88123, priority 1)" in message.body
    assert f"the soonest, BOLT, could deliver by {days(today, 10).isoformat()}" in message.body


# --- triggers ---------------------------------------------------------------------------------


def test_every_event_that_moves_supply_or_demand_has_a_handler():
    types = [
        "po.issued",
        "po.acknowledged",
        "po.line.changed",
        "po.proposal.decided",
        "po.revised",
        "po.cancelled",
        "receipt.recorded",
        "asn.submitted",
        "asn.replaced",
        "asn.cancelled",
        "asn.received",
        "inventory.changed",
        "demand.changed",
        "safety_stock.changed",
    ]
    for short in types:
        assert any(h.__module__ == "exceptions.supply_risk" for h in HANDLERS[full_type(short)]), short


def deliver_everything() -> None:
    for event in OutboxEvent.objects.order_by("id"):
        dispatch(cloudevent(event))


def test_a_po_event_recomputes_only_the_items_of_its_lines(scene, item, site, today):
    other = ItemFactory.create(sku="BLT-M8")
    promised_line(scene.po, other, 20, (days(today, 3), "10"))
    elsewhere = SiteFactory.create(code="HOU2")

    # The envelopes carry only what the handlers read (the real ones are in the end-to-end tests).
    line_changed = {"po_number": "PO-200001", "line_number": 10, "item_sku": "BRG-6204"}
    on_purchase_order_change({"type": full_type("po.line.changed"), "subject": "PO-200001", "data": line_changed})
    assert list(ProjectionSnapshot.objects.values_list("item__sku", "site__code")) == [("BRG-6204", "DAL1")]

    on_purchase_order_change({"type": full_type("po.issued"), "data": {"po_number": "PO-200001", "lines": 2}})
    assert ProjectionSnapshot.objects.count() == 2

    moved = {"item_sku": "BLT-M8", "site": "HOU2", "previous": {"item_sku": "BRG-6204", "site": "DAL1"}}
    on_stock_or_demand_change({"type": full_type("demand.changed"), "data": moved})
    assert ProjectionSnapshot.objects.filter(item=other, site=elsewhere).exists()
    assert ProjectionSnapshot.objects.count() == 3


def test_a_cancelled_notice_recomputes_its_items(scene, item, site, today, supplier, supplier_user):
    shipment = notice(scene.po, "ASN-7", days(today, 2), (scene, "100"))
    ScheduleLine.objects.filter(line=scene).update(promised_date=days(today, 40))
    PurchaseOrderLine.objects.filter(pk=scene.pk).update(shipped_quantity=100, status=LineStatus.SHIPPED)
    recompute(item, site)  # the goods are on their way: no shortage

    with_reason = services.shipment_notice_cancel(
        notice=shipment, by=supplier_user, reason="Truck broke down.", channel="web"
    )
    assert with_reason.status == ShipmentStatus.CANCELLED
    dispatch(cloudevent(OutboxEvent.objects.get(type="supplyline.asn.cancelled.v1")))

    case = ExceptionCase.objects.get(type=CaseType.SUPPLY_RISK)
    assert (case.supplier, case.shipment, case.po) == (supplier, shipment, None)
    assert case.details["cause"]["type"] == "supplyline.asn.cancelled.v1"


def test_the_supply_risk_path_end_to_end(
    item, site, today, supplier, supplier_user, other_supplier, buyer, eager_mail, django_capture_on_commit_callbacks
):
    """On hand, demand and safety stock loaded; the supplier moves its promise three weeks; then moves it back."""
    SupplierItemFactory.create(supplier=other_supplier, item=item, supplier_part_number="B-6204", lead_time_days=10)
    supplier.days_late_tolerance = 30  # so the move applies at once, with no buyer in the loop
    supplier.save(update_fields=["days_late_tolerance"])
    need_by = days(today, 14)
    where = {"item_sku": "BRG-6204", "site_code": "DAL1"}
    with django_capture_on_commit_callbacks(execute=True):
        inbound.inventory_import(where | {"quantity": "10", "as_of": "2026-11-29T06:00:00Z"})
        inbound.safety_stock_import(where | {"quantity": "5"})
        demand = {"external_id": "SO-88123/10", "date": days(today, 16).isoformat(), "quantity": "80"}
        inbound.demand_import(
            where | demand | {"kind": "customer_order", "priority": 1, "customer_reference": "SO-88123"}
        )
        po = services.purchase_order_issue(
            number="PO-200001",
            erp_id="4500012345",
            supplier=supplier,
            buyer=buyer,
            site=site,
            order_date=today,
            lines=[NewLine("BRG-6204", Decimal(100), Decimal("4.25"), need_by)],
        )
    assert not ExceptionCase.objects.filter(type=CaseType.SUPPLY_RISK).exists()
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        late = (Promise(Decimal(100), days(today, 35)),)
        services.acknowledgement_submit(
            po=po,
            by=supplier_user,
            channel=Channel.WEB,
            expected_version=None,
            decisions=[LineDecision(10, "change", deliveries=late)],
        )

    case = ExceptionCase.objects.get(type=CaseType.SUPPLY_RISK)
    assert (case.status, case.severity, case.po, case.assignee) == (CaseStatus.OPEN, Severity.CRITICAL, po, buyer)
    assert [d["external_id"] for d in case.details["demand_at_risk"]] == ["SO-88123/10"]
    assert [a["supplier"] for a in case.details["alternates"]] == ["BOLT"]
    [event] = detected()
    validate_event(event)
    assert event["data"]["cause"]["subject"] == "PO-200001"
    assert [m.to for m in mail.outbox if f"Case #{case.pk}" in m.subject] == [[buyer.email]]
    rules = Delivery.objects.filter(connector__name="exception-rules")
    assert set(rules.values_list("status", flat=True)) == {Delivery.Status.DELIVERED}

    # The buyer asks for the need-by date again; the supplier moves its promise back.
    with django_capture_on_commit_callbacks(execute=True):
        services.change_order_issue(
            po=po, by=buyer, expected_version=None, changes=[LineChange(10, need_by_date=days(today, 13))]
        )
        back = (Promise(Decimal(100), need_by),)
        services.acknowledgement_submit(
            po=po,
            by=supplier_user,
            channel=Channel.WEB,
            expected_version=None,
            decisions=[LineDecision(10, "change", deliveries=back)],
        )

    case.refresh_from_db()
    assert (case.status, case.resolution_code) == (CaseStatus.RESOLVED, ResolutionCode.CLEARED)
    assert len(detected()) == 1


def test_a_proposal_beyond_tolerance_counts_and_a_declined_one_no_longer(
    item, site, today, supplier, supplier_user, buyer, portal_defaults
):
    stock(item, site)
    add_demand(item, site, days(today, 16), "80", priority=1)
    po = services.purchase_order_issue(
        number="PO-200001",
        erp_id="4500012345",
        supplier=supplier,
        buyer=buyer,
        site=site,
        order_date=today,
        lines=[NewLine("BRG-6204", Decimal(100), Decimal("4.25"), days(today, 14))],
    )
    deliver_everything()
    late = (Promise(Decimal(100), days(today, 35)),)
    services.acknowledgement_submit(
        po=po,
        by=supplier_user,
        channel=Channel.WEB,
        expected_version=None,
        decisions=[LineDecision(10, "change", deliveries=late)],
    )
    deliver_everything()
    case = ExceptionCase.objects.get(type=CaseType.SUPPLY_RISK)
    assert case.status == CaseStatus.OPEN

    proposal = AcknowledgementLine.objects.get(outcome="pending")
    services.proposal_decide(answer=proposal, by=buyer, approve=False, reason="Ship on the date we need.")
    deliver_everything()

    case.refresh_from_db()
    assert case.status == CaseStatus.RESOLVED


# --- the page ---------------------------------------------------------------------------------


def projection_url(site: str = "DAL1", sku: str = "BRG-6204", **query) -> str:
    url = reverse("exceptions:projection", args=[site, sku])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def test_the_buyer_sees_the_projection_as_a_chart_and_its_movements(scene, buyer_client, today):
    response = buyer_client.get(projection_url())

    assert response.status_code == 200
    html = response.content.decode()
    assert "Projected balance of BRG-6204 at DAL1" in html
    assert "<svg" in html
    assert 'role="img"' in html
    for name in ("Supply", "Demand", "Projected balance", "Safety stock"):
        assert name in html
    rows = [day.date for day in response.context["movements"]]
    assert rows == [days(today, 14), days(today, 16)]
    assert "+100 PO-200001 line 10" in html
    assert "SO-88123" in html


def test_with_a_case_the_page_shows_before_and_after_the_change(scene, item, site, today, buyer_client):
    recompute(item, site)
    case = recompute(item, site, move(scene, days(today, 35)))

    response = buyer_client.get(projection_url(case=case.pk))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Before and after the change that raised case" in html
    assert "Balance before the change" in html
    assert "Balance after the change" in html


def test_a_case_of_another_item_or_no_case_is_not_found(scene, item, site, today, buyer_client):
    other = ItemFactory.create(sku="BLT-M8")
    recompute(item, site)
    case = recompute(item, site, move(scene, days(today, 35)))

    assert buyer_client.get(projection_url(sku="BLT-M8", case=case.pk)).status_code == 404
    assert buyer_client.get(projection_url(case="x")).status_code == 404
    assert buyer_client.get(projection_url(sku="NOPE")).status_code == 404
    assert buyer_client.get(projection_url(site="NOPE")).status_code == 404
    assert other.sku == "BLT-M8"


def test_a_supplier_user_gets_not_found(scene, alice_client, bob_client):
    assert alice_client.get(projection_url()).status_code == 404
    assert bob_client.get(projection_url()).status_code == 404


def test_the_page_costs_the_same_queries_with_many_lines(scene, item, site, today, supplier, buyer_client):
    def queries() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            assert buyer_client.get(projection_url()).status_code == 200
        return len(captured)

    few = queries()
    for n in range(10):
        po = PurchaseOrderFactory.create(supplier=supplier, site=site, status=POStatus.ACKNOWLEDGED)
        line = promised_line(po, item, 10, (days(today, n), "10"), (days(today, n + 9), "10"), shipped_quantity=4)
        notice(po, f"ASN-{n}", days(today, n + 1), (line, "4"))
        add_demand(item, site, days(today, n + 2), "7", ref=f"SO-{n}")

    assert queries() == few


def test_the_case_page_partial_shows_shortfall_demand_and_alternates(scene, item, site, today):
    recompute(item, site)
    case = recompute(item, site, move(scene, days(today, 35)))

    html = render_to_string("exceptions/_supply_risk.html", {"case": case})

    assert "Shortfall of BRG-6204 at DAL1" in html
    assert "SO-88123" in html
    assert ">75<" in html
    assert "Raised after</dt><dd>po.line.changed of PO-200001" in html
    assert "BOLT · " in html
    assert "in time" not in html.split("ZED")[1]
    assert f"{projection_url()}?case={case.pk}" in html


def test_the_case_page_tells_a_supply_risk_in_its_own_words(scene, item, site, today, buyer_client):
    recompute(item, site)
    case = recompute(item, site, move(scene, days(today, 35)))

    response = buyer_client.get(reverse("exceptions:case-detail", args=[case.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Shortfall of BRG-6204 at DAL1" in html
    assert "Demand at risk" in html
    # The raw details (the day-by-day balances behind the chart) are not dumped as a table.
    assert "What the rule found" not in html


def test_a_case_id_that_is_a_digit_but_not_a_number_is_not_found(scene, buyer_client):
    assert buyer_client.get(projection_url(), {"case": "\u00b2"}).status_code == 404  # "²".isdigit() is True
    assert buyer_client.get(projection_url(), {"case": "\u0663"}).status_code == 404  # Arabic-Indic three


# --- the baseline ---------------------------------------------------------------------------------


def baseline(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("supply_risk_baseline", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def catalogue(item, site, today, supplier):
    """Pairs with something to project (stock, demand, an open line, a notice in transit), and pairs without."""
    houston = SiteFactory.create(code="HOU2")
    stock(item, site, on_hand="10", safety="5")
    add_demand(item, site, days(today, 3), "30")  # short already: the baseline must not blame anyone
    demand_only, line_only, shipped, cancelled = (ItemFactory.create(sku=sku) for sku in ("D-1", "L-1", "S-1", "C-1"))
    add_demand(demand_only, site, days(today, 4), "5", ref="SO-D")
    po = PurchaseOrderFactory.create(supplier=supplier, site=houston, status=POStatus.ACKNOWLEDGED)
    promised_line(po, line_only, 10, (days(today, 5), "10"))
    closed = promised_line(po, shipped, 20, (days(today, 5), "10"), status=LineStatus.CLOSED)
    notice(po, "ASN-B1", days(today, 2), (closed, "10"))
    promised_line(po, cancelled, 30, (days(today, 5), "10"), status=LineStatus.CANCELLED)
    return houston


def snapshot_pairs() -> set[tuple[str, str]]:
    return set(ProjectionSnapshot.objects.values_list("item__sku", "site__code"))


def test_the_baseline_stores_a_snapshot_of_every_pair_with_something_to_project(
    catalogue, item, site, today, monkeypatch
):
    monkeypatch.setattr(supply_risk, "BASELINE_CHUNK", 2)  # three reads of the pairs, none twice

    out = baseline()

    assert out == "Stored the projection of 4 item/site pairs; 0 already had one.\n"
    assert snapshot_pairs() == {("BRG-6204", "DAL1"), ("D-1", "DAL1"), ("L-1", "HOU2"), ("S-1", "HOU2")}
    assert ProjectionSnapshot.objects.get(item=item).first_below_safety == days(today, 3)
    assert not ExceptionCase.objects.exists()
    assert not detected()

    # The next change is compared with the baseline: a shortage that was there already opens nothing.
    SafetyStock.objects.filter(item=item).update(quantity=Decimal(4))
    assert recompute(item, site, Cause("supplyline.safety_stock.changed.v1", "BRG-6204", "")) is None


def test_without_the_baseline_the_first_change_opens_a_case_for_a_breach_already_there(catalogue, item, site):
    SafetyStock.objects.filter(item=item).update(quantity=Decimal(4))

    assert recompute(item, site, Cause("supplyline.safety_stock.changed.v1", "BRG-6204", "")) is not None


def test_the_baseline_keeps_snapshots_already_there_and_filters_by_site_and_sku(catalogue, item, site, today):
    recompute(item, site)
    kept = ProjectionSnapshot.objects.get(item=item).computed_at

    assert baseline("--site", "DAL1") == "Stored the projection of 1 item/site pair; 1 already had one.\n"
    assert snapshot_pairs() == {("BRG-6204", "DAL1"), ("D-1", "DAL1")}
    assert ProjectionSnapshot.objects.get(item=item).computed_at == kept

    assert baseline("--sku", "L-1") == "Stored the projection of 1 item/site pair; 0 already had one.\n"
    assert ("L-1", "HOU2") in snapshot_pairs()
    assert ("S-1", "HOU2") not in snapshot_pairs()

    with pytest.raises(CommandError, match="No site has the code 'NOPE'"):
        baseline("--site", "NOPE")
    with pytest.raises(CommandError, match="No item has the SKU 'NOPE'"):
        baseline("--sku", "NOPE")
