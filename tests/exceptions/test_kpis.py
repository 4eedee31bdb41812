"""The KPI dashboard: every figure on constructed data with exact numbers, the filters, access, query counts."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from exceptions import kpis
from exceptions.models import CaseStatus, CaseType
from planning_sync.models import Connector, Delivery, OutboxEvent
from purchasing.models import (
    Acknowledgement,
    AcknowledgementLine,
    Channel,
    PurchaseOrder,
    PurchaseOrderLine,
    ShipmentLine,
    ShipmentNotice,
    ShipmentStatus,
)
from tests.factories import (
    ExceptionCaseFactory,
    PurchaseOrderFactory,
    PurchaseOrderLineFactory,
    ScheduleLineFactory,
    SiteFactory,
)

pytestmark = pytest.mark.django_db

# A Wednesday: the last 4 weeks are those of Feb 9, Feb 16, Feb 23 and Mar 2 (to Mar 8).
NOW = dt.datetime(2026, 3, 4, 12, 0, tzinfo=dt.UTC)
FEB_9, FEB_16, FEB_23, MAR_2 = (dt.date(2026, 2, 9), dt.date(2026, 2, 16), dt.date(2026, 2, 23), dt.date(2026, 3, 2))
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
Outcome = AcknowledgementLine.Outcome
URL = "/exceptions/kpis/"


def at(day: dt.date, hour: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC)


def board(supplier=None, weeks=4) -> kpis.Dashboard:
    return kpis.dashboard(weeks=weeks, supplier=supplier, now=NOW)


# --- builders: rows with the times each test reasons about -------------------------------------


def resolved_case(supplier, opened_at: dt.datetime, hours: float):
    return ExceptionCaseFactory.create(
        po=PurchaseOrderFactory.create(supplier=supplier),
        status=CaseStatus.RESOLVED,
        opened_at=opened_at,
        resolved_at=opened_at + dt.timedelta(hours=hours),
    )


def event(po: PurchaseOrder, short_type: str, recorded_at: dt.datetime) -> OutboxEvent:
    row = OutboxEvent.objects.create(
        type=f"supplyline.{short_type}.v1",
        subject_type="purchase_order",
        subject=po.number,
        aggregate_key=f"purchase_order:{po.number}",
        data={"po_number": po.number},
        supplier=po.supplier,
    )
    OutboxEvent.objects.filter(pk=row.pk).update(recorded_at=recorded_at)  # auto_now_add ignores a given value
    row.refresh_from_db()
    return row


def acknowledgement(po: PurchaseOrder, submitted_at: dt.datetime, outcomes: list[str]) -> Acknowledgement:
    ack = Acknowledgement.objects.create(po=po, revision=po.revision, channel=Channel.WEB)
    Acknowledgement.objects.filter(pk=ack.pk).update(submitted_at=submitted_at)
    for outcome in outcomes:
        AcknowledgementLine.objects.create(
            acknowledgement=ack,
            line=PurchaseOrderLineFactory.create(po=po),
            action=AcknowledgementLine.Action.ACCEPT,
            before={},
            proposed={},
            outcome=outcome,
        )
    return ack


def po_created_at(supplier, created_at: dt.datetime) -> PurchaseOrder:
    po = PurchaseOrderFactory.create(supplier=supplier)
    PurchaseOrder.objects.filter(pk=po.pk).update(created_at=created_at)
    po.refresh_from_db()
    return po


def delivered(connector: Connector, supplier, recorded_at: dt.datetime, seconds: float, **fields) -> Delivery:
    row = event(PurchaseOrderFactory.create(supplier=supplier), "po.acknowledged", recorded_at)
    fields.setdefault("status", Delivery.Status.DELIVERED)
    return Delivery.objects.create(
        event=row,
        connector=connector,
        aggregate_key=row.aggregate_key,
        next_attempt_at=recorded_at,
        delivered_at=recorded_at + dt.timedelta(seconds=seconds),
        **fields,
    )


def promised_line(supplier, *deliveries: tuple[int, dt.date]) -> PurchaseOrderLine:
    """A PO line with one schedule line per (quantity, promised date)."""
    line = PurchaseOrderLineFactory.create(
        po=PurchaseOrderFactory.create(supplier=supplier), ordered_quantity=sum(q for q, _ in deliveries)
    )
    for number, (quantity, promised) in enumerate(deliveries, start=1):
        ScheduleLineFactory.create(line=line, schedule_number=number, quantity=quantity, promised_date=promised)
    return line


def notice(supplier, ship_date: dt.date, lines, *, status=ShipmentStatus.SUBMITTED, received_at=None):
    """A shipment notice; ``lines`` are (PO line, quantity shipped, quantity received or None)."""
    count = ShipmentNotice.objects.count()
    shipment = ShipmentNotice.objects.create(
        supplier=supplier,
        site=SiteFactory.create(code="WH-KPI"),
        number=f"ASN-{count + 1}",
        ship_date=ship_date,
        channel=Channel.WEB,
        status=status,
        received_at=received_at,
    )
    for position, (po_line, quantity, received) in enumerate(lines, start=1):
        ShipmentLine.objects.create(
            shipment=shipment,
            po_line=po_line,
            position=position,
            quantity=Decimal(quantity),
            received_quantity=None if received is None else Decimal(received),
        )
    return shipment


# --- open cases ------------------------------------------------------------------------------------


def test_open_cases_count_by_type_and_age_bucket(supplier):
    def case(age: dt.timedelta, case_type=CaseType.ACK_OVERDUE, status=CaseStatus.OPEN):
        extra = {"resolved_at": NOW} if status == CaseStatus.RESOLVED else {}
        return ExceptionCaseFactory.create(
            type=case_type,
            status=status,
            opened_at=NOW - age,
            po=PurchaseOrderFactory.create(supplier=supplier),
            **extra,
        )

    case(2 * HOUR)  # under a day
    case(DAY)  # exactly a day: the 1 to 3 days bucket
    case(2 * DAY, status=CaseStatus.SNOOZED)  # snoozed cases are still open
    case(3 * DAY, CaseType.ASN_LATE)
    case(7 * DAY - HOUR, CaseType.ASN_LATE, status=CaseStatus.IN_PROGRESS)
    case(7 * DAY, CaseType.ASN_LATE)
    case(30 * DAY, CaseType.SUPPLY_RISK)
    case(HOUR, CaseType.SUPPLY_RISK, status=CaseStatus.RESOLVED)  # resolved: not open

    result = board()

    assert [(row.type, row.by_age) for row in result.open_cases] == [
        (CaseType.ACK_OVERDUE, [1, 2, 0, 0]),
        (CaseType.ASN_LATE, [0, 0, 2, 1]),
        (CaseType.SUPPLY_RISK, [0, 0, 0, 1]),
    ]
    assert result.open_case_total == 7
    assert result.open_by_age == [1, 2, 2, 2]
    assert result.suppliers[0].open_cases == 7


# --- time to resolve -----------------------------------------------------------------------------


def test_time_to_resolve_median_and_p90_per_week_and_supplier(supplier, other_supplier):
    for hours in (1, 2, 3):
        resolved_case(supplier, at(FEB_23, 8), hours)
    resolved_case(other_supplier, at(FEB_23, 8), 10)
    resolved_case(supplier, at(MAR_2, 1), 4)
    resolved_case(supplier, at(FEB_9) - 2 * DAY, 30)  # resolved before the period
    ExceptionCaseFactory.create(po=PurchaseOrderFactory.create(supplier=supplier), opened_at=at(FEB_23))  # open

    result = board()

    assert dict(result.resolve) == {
        FEB_9: None,
        FEB_16: None,
        FEB_23: kpis.Percentiles(4, 2.5, pytest.approx(7.9)),  # 1, 2, 3, 10 hours
        MAR_2: kpis.Percentiles(1, 4.0, 4.0),
    }
    rows = {row.supplier.code: row.resolve for row in result.suppliers}
    assert rows == {"ACME": kpis.Percentiles(4, 2.5, pytest.approx(3.7)), "BOLT": kpis.Percentiles(1, 10.0, 10.0)}


def test_a_week_is_monday_to_sunday_in_the_portal_time_zone(supplier, settings):
    settings.TIME_ZONE = "America/Chicago"
    # Monday 03:00 UTC is still Sunday evening in Chicago: the week before.
    resolved_case(supplier, at(MAR_2, 3) - 2 * HOUR, 2)

    assert [monday for monday, figure in board().resolve if figure] == [FEB_23]


# --- acknowledgement cycle time and touchless rate -----------------------------------------------


@pytest.fixture
def acknowledgements(supplier, other_supplier):
    """ACME's PO1 is issued, answered in 6 h, revised, answered in 2 h, and answered again (a line sent back).

    BOLT's PO2 has no issue event (made outside the services): its cycle runs from its creation (24 h).
    BOLT's PO3 is issued on Monday Mar 2 and answered in 24 h. ACME's PO4 is answered with no line 1 h
    after its creation.
    """
    po1 = PurchaseOrderFactory.create(supplier=supplier)
    event(po1, "po.issued", at(FEB_23, 8))
    event(po1, "po.acknowledged", at(FEB_23, 12))  # not a request: ignored
    acknowledgement(po1, at(FEB_23, 14), [Outcome.APPLIED, Outcome.APPLIED])
    event(po1, "po.revised", at(FEB_23 + DAY, 10))
    acknowledgement(po1, at(FEB_23 + DAY, 12), [Outcome.APPLIED, Outcome.PENDING])
    acknowledgement(po1, at(FEB_23 + DAY, 20), [Outcome.APPROVED])  # the same request again
    po2 = po_created_at(other_supplier, at(FEB_23 + 2 * DAY))
    acknowledgement(po2, at(FEB_23 + 3 * DAY), [Outcome.APPLIED])
    event(PurchaseOrderFactory.create(supplier=other_supplier), "po.issued", at(FEB_23 + 3 * DAY) - HOUR)
    po3 = PurchaseOrderFactory.create(supplier=other_supplier)
    event(po3, "po.issued", at(MAR_2))
    acknowledgement(po3, at(MAR_2 + DAY), [Outcome.APPLIED, Outcome.SUPERSEDED])
    acknowledgement(po_created_at(supplier, at(FEB_23, 8)), at(FEB_23, 9), [])
    # Before the period: not measured.
    old = PurchaseOrderFactory.create(supplier=supplier)
    event(old, "po.issued", at(FEB_9) - 3 * DAY)
    acknowledgement(old, at(FEB_9) - 2 * DAY, [Outcome.APPLIED])


def test_acknowledgement_cycle_runs_from_the_request_to_its_first_answer(acknowledgements):
    result = board()

    # Feb 23 week: 1, 2, 6 and 24 hours: median 4; p95 at rank 2.85 = 6 + 0.85 * 18. Another PO's
    # request an hour before PO2's answer is not PO2's, and the answer to PO1's request again is left out.
    assert dict(result.ack_cycle) == {
        FEB_9: None,
        FEB_16: None,
        FEB_23: kpis.Percentiles(4, 4.0, pytest.approx(21.3)),
        MAR_2: kpis.Percentiles(1, 24.0, 24.0),
    }
    rows = {row.supplier.code: row.ack_cycle for row in result.suppliers}
    # ACME: 1, 2 and 6 hours; p95 at rank 1.9 = 2 + 0.9 * 4.
    assert rows == {"ACME": kpis.Percentiles(3, 2.0, pytest.approx(5.6)), "BOLT": kpis.Percentiles(2, 24.0, 24.0)}


def test_touchless_rate_counts_acknowledgements_whose_every_line_was_applied(acknowledgements):
    result = board()

    # Feb 23 week: PO1's first (all applied) and PO2's are touchless; PO1's pending and approved are not.
    assert dict(result.touchless) == {
        FEB_9: None,
        FEB_16: None,
        FEB_23: kpis.Rate(2, 4),
        MAR_2: kpis.Rate(0, 1),  # a superseded proposal needed a buyer too
    }
    rows = {row.supplier.code: row.touchless for row in result.suppliers}
    assert rows == {"ACME": kpis.Rate(1, 3), "BOLT": kpis.Rate(1, 2)}
    assert kpis.Rate(1, 3).percent == 33.3


# --- commit-to-ERP latency ---------------------------------------------------------------------------


def test_erp_latency_counts_the_distributors_connectors_only(supplier, other_supplier):
    erp = Connector.objects.create(name="erp", kind="webhook", config={})
    planning = Connector.objects.create(name="planning", kind="webhook", config={})
    rules = Connector.objects.get(kind="exceptions")
    supplier_hook = Connector.objects.create(name="acme-hook", kind="webhook", config={}, supplier=supplier)
    for seconds in (1, 2, 3):
        delivered(erp, supplier, at(FEB_23 + DAY), seconds)
    delivered(planning, other_supplier, at(FEB_23 + DAY), 5)
    delivered(erp, other_supplier, at(MAR_2 + DAY), 0.5)
    delivered(rules, supplier, at(FEB_23 + DAY), 100)  # internal: left out
    delivered(supplier_hook, supplier, at(FEB_23 + DAY), 50)  # the supplier's own webhook: left out
    delivered(erp, supplier, at(FEB_23 + DAY), 70, status=Delivery.Status.FAILED)  # not delivered
    delivered(erp, supplier, at(FEB_9) - DAY, 90)  # before the period

    result = board()

    assert dict(result.latency) == {
        FEB_9: None,
        FEB_16: None,
        FEB_23: kpis.Percentiles(4, 2.5, pytest.approx(4.7)),  # 1, 2, 3, 5 s
        MAR_2: kpis.Percentiles(1, 0.5, 0.5),
    }
    rows = {row.supplier.code: row.latency for row in result.suppliers}
    assert rows == {
        "ACME": kpis.Percentiles(3, 2.0, pytest.approx(2.9)),
        "BOLT": kpis.Percentiles(2, 2.75, pytest.approx(4.775)),
    }


# --- on-time shipment and ASN accuracy ---------------------------------------------------------------


@pytest.fixture
def shipments(supplier, other_supplier):
    """Notice lines fill a PO line's deliveries in order; the comments say which promise each fills."""
    acme = promised_line(supplier, (40, dt.date(2026, 2, 20)), (60, dt.date(2026, 3, 1)))
    notice(supplier, dt.date(2026, 2, 18), [(acme, 40, None)])  # fills the Feb 20 promise: on time
    notice(supplier, dt.date(2026, 2, 25), [(acme, 30, None)])  # from unit 40: the Mar 1 promise, on time
    notice(supplier, dt.date(2026, 3, 3), [(acme, 30, None)])  # from unit 70: Mar 1, late
    notice(supplier, dt.date(2026, 3, 4), [(acme, 10, None)])  # beyond every promise: the last one, late
    # A cancelled notice fills nothing: BOLT's Feb 24 notice fills the Feb 20 promise, late.
    bolt = promised_line(other_supplier, (50, dt.date(2026, 2, 20)), (50, dt.date(2026, 3, 10)))
    notice(other_supplier, dt.date(2026, 2, 16), [(bolt, 50, None)], status=ShipmentStatus.CANCELLED)
    notice(other_supplier, dt.date(2026, 2, 24), [(bolt, 50, None)])
    # A notice before the period still fills its promise: the Feb 26 one fills the Feb 28 promise, on time.
    earlier = promised_line(other_supplier, (10, dt.date(2026, 1, 1)), (10, dt.date(2026, 2, 28)))
    notice(other_supplier, dt.date(2026, 1, 5), [(earlier, 10, None)])
    notice(other_supplier, dt.date(2026, 2, 26), [(earlier, 10, None)])
    # Received notices: what arrived against what was shipped.
    received = promised_line(supplier, (100, dt.date(2026, 4, 1)))
    notice(supplier, dt.date(2026, 4, 1), [(received, 10, 10), (received, 5, 4)], received_at=at(FEB_23 + DAY))
    notice(
        other_supplier,
        dt.date(2026, 4, 2),
        [(bolt, 7, 7), (bolt, 3, None)],
        received_at=at(MAR_2 + DAY),
        status=ShipmentStatus.RECEIVED,
    )
    notice(supplier, dt.date(2026, 4, 3), [(received, 2, 1)], received_at=at(FEB_9) - DAY)  # before the period


def test_on_time_shipment_matches_each_notice_line_to_the_promise_it_fills(shipments):
    result = board()

    assert dict(result.on_time) == {
        FEB_9: None,
        FEB_16: kpis.Rate(1, 1),
        FEB_23: kpis.Rate(2, 3),
        MAR_2: kpis.Rate(0, 2),
    }
    rows = {row.supplier.code: row.on_time for row in result.suppliers}
    assert rows == {"ACME": kpis.Rate(2, 4), "BOLT": kpis.Rate(1, 2)}


def test_asn_accuracy_compares_received_with_shipped_quantities(shipments):
    result = board()

    assert dict(result.asn_accuracy) == {FEB_9: None, FEB_16: None, FEB_23: kpis.Rate(1, 2), MAR_2: kpis.Rate(1, 1)}
    rows = {row.supplier.code: row.asn_accuracy for row in result.suppliers}
    assert rows == {"ACME": kpis.Rate(1, 2), "BOLT": kpis.Rate(1, 1)}


def test_supplier_filter_restricts_every_kpi(shipments, acknowledgements, supplier):
    result = board(supplier=supplier)

    assert dict(result.on_time) == {
        FEB_9: None,
        FEB_16: kpis.Rate(1, 1),
        FEB_23: kpis.Rate(1, 1),
        MAR_2: kpis.Rate(0, 2),
    }
    assert dict(result.touchless)[FEB_23] == kpis.Rate(1, 3)
    assert dict(result.asn_accuracy)[MAR_2] is None
    assert [row.supplier.code for row in result.suppliers] == ["ACME"]


def test_no_data_gives_empty_weeks_and_no_supplier_rows(db):
    result = board(weeks=13)

    assert len(result.period.mondays) == 13
    assert result.period.mondays[-1] == MAR_2
    assert result.open_cases == []
    assert all(weekly.is_empty for weekly in (result.resolve, result.ack_cycle, result.touchless, result.latency))
    assert all(weekly.is_empty for weekly in (result.on_time, result.asn_accuracy))
    assert result.suppliers == []


# --- the page --------------------------------------------------------------------------------------------


def get(client, **query):
    with time_machine.travel(NOW, tick=False):
        return client.get(URL, query)


def test_route_is_exceptions_kpis():
    assert reverse("exceptions:kpis") == URL


def test_buyer_sees_every_kpi_with_charts_and_how_each_is_measured(buyer_client, shipments, acknowledgements, supplier):
    ExceptionCaseFactory.create(po=PurchaseOrderFactory.create(supplier=supplier), opened_at=NOW - DAY)
    resolved_case(supplier, at(FEB_23), 5)
    delivered(Connector.objects.create(name="erp", kind="webhook", config={}), supplier, at(FEB_23), 1)

    response = get(buyer_client, weeks="4")

    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("How it's measured") == 7
    assert html.count("<svg") == 7
    assert "css/charts.css" in html
    assert "Acme Industrial Supply" in html
    assert "Bolt &amp; Nut Co" in html  # escaped
    assert "shipped on time (3 of 6 notice lines)" in html


def test_empty_period_shows_empty_states_not_charts(buyer_client):
    response = get(buyer_client)

    html = response.content.decode()
    assert response.status_code == 200
    assert "<svg" not in html
    assert "No open cases." in html
    assert "No case was resolved in this period." in html
    assert "No shipment notice was received in this period." in html
    assert "No supplier has any figure in this period." in html


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"weeks": "5"}, "Period: Select a valid choice. 5 is not one of the available choices."),
        ({"weeks": "13; drop"}, "Period: Select a valid choice."),
        ({"supplier": "NOPE"}, "Supplier: There is no supplier with that code: choose one from the list."),
    ],
)
def test_bad_filters_give_a_form_error_and_no_figures(buyer_client, supplier, query, message):
    response = get(buyer_client, **query)

    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert "Correct the filters above to see the KPIs." in html
    assert "<svg" not in html


def test_supplier_filter_by_code(buyer_client, shipments, supplier):
    response = get(buyer_client, weeks="4", supplier="ACME")

    assert response.status_code == 200
    assert response.context["board"].supplier == supplier
    assert [row.supplier.code for row in response.context["board"].suppliers] == ["ACME"]


def test_default_period_is_13_weeks(buyer_client):
    response = get(buyer_client)

    assert response.context["form"].cleaned_data["weeks"] == 13
    assert len(response.context["board"].period.mondays) == 13


def test_csv_exports_the_per_supplier_table(buyer_client, shipments, acknowledgements, supplier):
    supplier.name = "=HYPERLINK(1)"  # a formula is never run by a spreadsheet
    supplier.save(update_fields=["name"])

    response = get(buyer_client, weeks="4", format="csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="supplier-kpis-20260209-20260304.csv"'
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert sorted(row["Supplier code"] for row in rows) == ["ACME", "BOLT"]
    acme = next(row for row in rows if row["Supplier code"] == "ACME")
    assert acme["Supplier"] == "'=HYPERLINK(1)"
    assert acme["On time (%)"] == "50.0"
    assert acme["Notice lines shipped"] == "4"
    assert acme["Touchless (%)"] == "33.3"
    assert acme["Resolve median (h)"] == ""


def test_supplier_user_gets_404(alice_client):
    assert get(alice_client).status_code == 404


def test_outsider_gets_404(bob_client):
    assert get(bob_client, format="csv").status_code == 404


def test_anonymous_is_sent_to_log_in(client):
    response = get(client)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


# --- cost ------------------------------------------------------------------------------------------------


def _queries(run) -> int:
    with CaptureQueriesContext(connection) as captured:
        run()
    return len(captured.captured_queries)


def _data(supplier, other_supplier, scale: int) -> None:
    erp = Connector.objects.get_or_create(name="erp", kind="webhook", config={})[0]
    for i in range(scale):
        for who in (supplier, other_supplier):
            resolved_case(who, at(FEB_23, i % 20), i + 1)
            ExceptionCaseFactory.create(po=PurchaseOrderFactory.create(supplier=who), opened_at=NOW - i * DAY)
            po = PurchaseOrderFactory.create(supplier=who)
            event(po, "po.issued", at(FEB_16, i % 20))
            acknowledgement(po, at(FEB_23, i % 20), [Outcome.APPLIED, Outcome.PENDING])
            delivered(erp, who, at(MAR_2), i)
            line = promised_line(who, (10, dt.date(2026, 2, 20)))
            notice(who, dt.date(2026, 2, 17), [(line, 5, 5), (line, 5, 4)], received_at=at(FEB_23))


def test_the_dashboard_costs_the_same_queries_for_small_and_large_data(supplier, other_supplier):
    _data(supplier, other_supplier, 1)
    small = _queries(lambda: board())
    _data(supplier, other_supplier, 12)
    large = _queries(lambda: board())

    assert small == large == 14  # docs/kpis.md says which


def test_the_page_costs_the_same_queries_for_small_and_large_data(buyer_client, supplier, other_supplier):
    _data(supplier, other_supplier, 1)
    small = _queries(lambda: get(buyer_client, weeks="4"))
    _data(supplier, other_supplier, 12)
    large = _queries(lambda: get(buyer_client, weeks="4"))

    assert small == large
