"""Supplier scorecards: each rate on constructed data, month boundaries, access, CSV and query counts."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from exceptions.kpis import Rate
from purchasing.models import (
    Acknowledgement,
    AcknowledgementLine,
    Channel,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ReceiptLine,
    ShipmentLine,
    ShipmentNotice,
)
from purchasing.models.shipments import ShipmentStatus
from suppliers import scorecards
from tests.factories import (
    ItemFactory,
    PurchaseOrderFactory,
    PurchaseOrderLineFactory,
    ScheduleLineFactory,
    SiteFactory,
    SupplierFactory,
    SupplierItemFactory,
    SupplierMembershipFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 15, 12, tzinfo=dt.UTC)
APRIL, MAY, JUNE = dt.date(2026, 4, 1), dt.date(2026, 5, 1), dt.date(2026, 6, 1)
Outcome = AcknowledgementLine.Outcome


def at(day: dt.date, hour: int = 12, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=dt.UTC)


def card(supplier, months=3) -> scorecards.Scorecard:
    return scorecards.scorecard(supplier=supplier, months=months, now=NOW)


# --- builders ----------------------------------------------------------------------------------


def acknowledgement(po: PurchaseOrder, submitted_at: dt.datetime, outcomes=(Outcome.APPLIED,)) -> Acknowledgement:
    ack = Acknowledgement.objects.create(po=po, revision=po.revision, channel=Channel.WEB)
    Acknowledgement.objects.filter(pk=ack.pk).update(submitted_at=submitted_at)  # auto_now_add ignores a value
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


def po_due(supplier, due: dt.datetime) -> PurchaseOrder:
    return PurchaseOrderFactory.create(supplier=supplier, acknowledgement_due=due)


def receive(line: PurchaseOrderLine, received_at: dt.datetime, quantity: str = "10") -> ReceiptLine:
    receipt = Receipt.objects.create(
        external_id=f"R-{Receipt.objects.count() + 1}", po=line.po, received_at=received_at
    )
    return ReceiptLine.objects.create(receipt=receipt, line=line, quantity=Decimal(quantity))


def promised_line(supplier, *promises: dt.date) -> PurchaseOrderLine:
    line = PurchaseOrderLineFactory.create(po=PurchaseOrderFactory.create(supplier=supplier))
    for number, promised in enumerate(promises, start=1):
        ScheduleLineFactory.create(line=line, schedule_number=number, quantity=10, promised_date=promised)
    return line


def notice(supplier, received_at, lines, *, status=ShipmentStatus.RECEIVED) -> ShipmentNotice:
    """A notice; ``lines`` are (quantity shipped, quantity received or None), each of a new PO line."""
    shipment = ShipmentNotice.objects.create(
        supplier=supplier,
        site=SiteFactory.create(code="WH-SC"),
        number=f"ASN-SC-{ShipmentNotice.objects.count() + 1}",
        ship_date=received_at.date() - dt.timedelta(days=2),
        channel=Channel.WEB,
        status=status,
        received_at=received_at,
    )
    for position, (quantity, received) in enumerate(lines, start=1):
        ShipmentLine.objects.create(
            shipment=shipment,
            po_line=PurchaseOrderLineFactory.create(po=PurchaseOrderFactory.create(supplier=supplier)),
            position=position,
            quantity=Decimal(quantity),
            received_quantity=None if received is None else Decimal(received),
        )
    return shipment


def lead_time_line(supplier, order_date: dt.date, lead_days: int | None) -> PurchaseOrderLine:
    item = ItemFactory.create()
    if lead_days is not None:
        SupplierItemFactory.create(supplier=supplier, item=item, lead_time_days=lead_days)
    po = PurchaseOrderFactory.create(supplier=supplier, order_date=order_date)
    return PurchaseOrderLineFactory.create(po=po, item=item)


# --- the period -----------------------------------------------------------------------------------


def test_a_period_is_the_current_month_and_the_months_before_it_across_a_year():
    period = scorecards.Period.last(3, dt.datetime(2026, 2, 10, tzinfo=dt.UTC))
    assert period.months == [dt.date(2025, 12, 1), dt.date(2026, 1, 1), dt.date(2026, 2, 1)]
    assert period.start == at(dt.date(2025, 12, 1), 0)
    assert period.end == at(dt.date(2026, 3, 1), 0)


# --- each metric ------------------------------------------------------------------------------------


def test_on_time_acknowledgement_counts_the_first_answer_of_a_revision_by_its_deadline(supplier):
    due = at(dt.date(2026, 5, 10))
    on_time = po_due(supplier, due)
    acknowledgement(on_time, due)  # exactly at the deadline is on time
    acknowledgement(on_time, due + dt.timedelta(days=5))  # a second answer of the same revision: not counted
    acknowledgement(po_due(supplier, due), due + dt.timedelta(seconds=1))
    acknowledgement(po_due(supplier, at(dt.date(2026, 7, 1))), at(dt.date(2026, 6, 2)))
    acknowledgement(po_due(supplier, at(dt.date(2026, 3, 1))), at(dt.date(2026, 3, 31)))  # before the period

    result = card(supplier)

    assert result.rate("on_time_ack", MAY) == Rate(1, 2)
    assert result.rate("on_time_ack", JUNE) == Rate(1, 1)
    assert result.rate("on_time_ack", APRIL) is None
    assert result.overall("on_time_ack") == Rate(2, 3)


def test_a_month_ends_at_midnight_of_the_first_of_the_next(supplier):
    acknowledgement(po_due(supplier, at(dt.date(2026, 7, 1))), at(dt.date(2026, 5, 31), 23, 59, 59))
    acknowledgement(po_due(supplier, at(dt.date(2026, 5, 1))), at(dt.date(2026, 6, 1), 0))

    result = card(supplier)

    assert result.rate("on_time_ack", MAY) == Rate(1, 1)
    assert result.rate("on_time_ack", JUNE) == Rate(0, 1)


def test_touchless_counts_acknowledgements_whose_every_line_was_applied(supplier):
    po = po_due(supplier, at(dt.date(2026, 7, 1)))
    acknowledgement(po, at(dt.date(2026, 5, 3)), [Outcome.APPLIED, Outcome.APPLIED])
    acknowledgement(po, at(dt.date(2026, 5, 4)), [Outcome.APPLIED, Outcome.PENDING])
    acknowledgement(po, at(dt.date(2026, 5, 5)), [Outcome.APPROVED])
    acknowledgement(po, at(dt.date(2026, 5, 6)), [])  # no lines: not an answer to measure

    assert card(supplier).rate("touchless", MAY) == Rate(1, 3)


def test_on_time_delivery_compares_the_receipt_day_with_the_lines_last_promise(supplier):
    split = promised_line(supplier, dt.date(2026, 5, 10), dt.date(2026, 5, 20))
    receive(split, at(dt.date(2026, 5, 20), 23))  # by the last promise: on time
    receive(promised_line(supplier, dt.date(2026, 5, 5)), at(dt.date(2026, 5, 6), 1))  # a day late
    receive(promised_line(supplier), at(dt.date(2026, 5, 6)))  # no promise: not measured
    receive(promised_line(supplier, dt.date(2026, 6, 30)), at(dt.date(2026, 5, 7)), quantity="0")  # nothing received

    assert card(supplier).rate("on_time_delivery", MAY) == Rate(1, 2)


def test_quantity_accuracy_counts_notice_lines_received_exactly_as_shipped(supplier):
    notice(supplier, at(dt.date(2026, 4, 30)), [("10", "10"), ("5", "4"), ("8", None)])
    notice(supplier, at(dt.date(2026, 4, 2)), [("3", "3")], status=ShipmentStatus.CANCELLED)
    notice(supplier, at(dt.date(2026, 5, 2)), [("6", "7")])

    result = card(supplier)

    assert result.rate("quantity_accuracy", APRIL) == Rate(1, 2)
    assert result.rate("quantity_accuracy", MAY) == Rate(0, 1)


def test_lead_time_adherence_counts_receipts_within_order_date_plus_lead_time(supplier):
    order_date = dt.date(2026, 5, 1)
    receive(lead_time_line(supplier, order_date, 14), at(dt.date(2026, 5, 15), 23))  # on the last day
    receive(lead_time_line(supplier, order_date, 7), at(dt.date(2026, 5, 9)))  # a day over
    receive(lead_time_line(supplier, order_date, None), at(dt.date(2026, 5, 2)))  # no lead time: not measured

    assert card(supplier).rate("lead_time", MAY) == Rate(1, 2)


def test_a_suppliers_scorecard_holds_only_its_own_figures(supplier, other_supplier):
    acknowledgement(po_due(other_supplier, at(dt.date(2026, 7, 1))), at(dt.date(2026, 5, 3)))
    acknowledgement(po_due(supplier, at(dt.date(2026, 5, 1))), at(dt.date(2026, 5, 3)))

    assert card(supplier).rate("on_time_ack", MAY) == Rate(0, 1)
    assert card(other_supplier).rate("on_time_ack", MAY) == Rate(1, 1)


# --- pages ---------------------------------------------------------------------------------------------


def this_month_ack(supplier, *, on_time: bool) -> None:
    now = timezone.now()
    due = now + dt.timedelta(hours=1) if on_time else now - dt.timedelta(hours=1)
    acknowledgement(po_due(supplier, due), now)


def test_a_supplier_user_sees_their_own_scorecard(alice_client, supplier):
    this_month_ack(supplier, on_time=True)

    response = alice_client.get(reverse("suppliers:scorecard-detail", args=["ACME"]))

    assert response.status_code == 200
    assert b"100.0" in response.content
    assert b"css/charts.css" in response.content
    assert b"<svg" in response.content


def test_another_suppliers_scorecard_is_404(alice_client, other_supplier):
    assert alice_client.get(reverse("suppliers:scorecard-detail", args=["BOLT"])).status_code == 404
    assert alice_client.get(reverse("suppliers:scorecard-export", args=["BOLT"])).status_code == 404


def test_the_list_takes_a_supplier_user_to_their_own_scorecard(alice_client, supplier, client):
    response = alice_client.get(reverse("suppliers:scorecard-list"))
    assert response.status_code == 302
    assert response["Location"] == reverse("suppliers:scorecard-detail", args=[supplier.code])

    nobody = UserFactory.create()  # a user of no supplier has no scorecard
    client.force_login(nobody)
    assert client.get(reverse("suppliers:scorecard-list")).status_code == 404


def test_a_user_of_two_suppliers_sees_the_active_suppliers_scorecard(alice_client, supplier_user, other_supplier):
    SupplierMembershipFactory.create(user=supplier_user, supplier=other_supplier)

    assert alice_client.get(reverse("suppliers:scorecard-list"))["Location"].endswith("/ACME/")
    assert alice_client.get(reverse("suppliers:scorecard-detail", args=["BOLT"])).status_code == 404

    alice_client.post(reverse("suppliers:active-supplier-set"), {"supplier": other_supplier.pk})

    assert alice_client.get(reverse("suppliers:scorecard-list"))["Location"].endswith("/BOLT/")
    assert alice_client.get(reverse("suppliers:scorecard-detail", args=["BOLT"])).status_code == 200
    assert alice_client.get(reverse("suppliers:scorecard-detail", args=["ACME"])).status_code == 404


def test_the_buyers_list_shows_each_supplier_sorted_by_a_metric(buyer_client, supplier, other_supplier):
    this_month_ack(supplier, on_time=False)
    this_month_ack(other_supplier, on_time=True)

    response = buyer_client.get(
        reverse("suppliers:scorecard-list"), {"sort": "on_time_ack_latest", "descending": "on", "months": "6"}
    )

    assert response.status_code == 200
    content = response.content.decode()
    assert content.index("Bolt &amp; Nut Co") < content.index("Acme Industrial Supply")
    assert buyer_client.get(reverse("suppliers:scorecard-detail", args=["BOLT"])).status_code == 200


@pytest.mark.parametrize("descending", ["", "on"])
def test_a_supplier_without_the_sorted_figure_comes_last_either_way(buyer_client, supplier, other_supplier, descending):
    this_month_ack(supplier, on_time=True)
    this_month_ack(other_supplier, on_time=False)
    unmeasured = SupplierFactory.create(name="Aardvark Parts")
    notice(unmeasured, timezone.now(), [("1", "1")])

    response = buyer_client.get(
        reverse("suppliers:scorecard-list"), {"sort": "on_time_ack_period", "descending": descending}
    )

    content = response.content.decode()
    acme, bolt = content.index("Acme Industrial Supply"), content.index("Bolt &amp; Nut Co")
    assert (acme < bolt) == bool(descending)
    assert max(acme, bolt) < content.index("Aardvark Parts")


@pytest.mark.parametrize(
    "name", ["suppliers:scorecard-list", "suppliers:scorecard-detail", "suppliers:scorecard-export"]
)
@pytest.mark.parametrize("months", ["5", "twelve", "-3"])
def test_a_bad_months_parameter_is_a_400_naming_the_field(buyer_client, supplier, name, months):
    args = [] if name.endswith("list") else ["ACME"]

    response = buyer_client.get(reverse(name, args=args), {"months": months})

    assert response.status_code == 400
    assert b"months: Choose 3, 6, 12 or 24 months." in response.content


def test_a_bad_sort_is_a_400_naming_the_field(buyer_client):
    response = buyer_client.get(reverse("suppliers:scorecard-list"), {"sort": "password"})

    assert response.status_code == 400
    assert b"sort: Choose a column to sort by." in response.content


def test_the_csv_has_a_row_per_month_with_formula_safe_cells(alice_client, supplier):
    supplier.name = '=HYPERLINK("http://evil")'
    supplier.save(update_fields=["name"])
    this_month_ack(supplier, on_time=True)
    this_month_ack(supplier, on_time=False)

    response = alice_client.get(reverse("suppliers:scorecard-export", args=["ACME"]), {"months": "3"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment;")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:6] == [
        "Supplier code",
        "Supplier",
        "Month",
        "On-time acknowledgement (%)",
        "On-time acknowledgement hits",
        "On-time acknowledgement total",
    ]
    assert len(rows) == 1 + 3
    last = rows[-1]
    assert last[:6] == ["ACME", '\'=HYPERLINK("http://evil")', f"{timezone.localdate():%Y-%m}", "50.0", "1", "2"]
    assert rows[1][3:6] == ["", "0", "0"]


def test_the_list_and_detail_run_a_constant_number_of_queries(buyer_client, supplier):
    def counts() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as listed:
            assert buyer_client.get(reverse("suppliers:scorecard-list"), {"months": "24"}).status_code == 200
        with CaptureQueriesContext(connection) as detailed:
            assert buyer_client.get(reverse("suppliers:scorecard-detail", args=["ACME"])).status_code == 200
        return len(listed), len(detailed)

    def more_data(n: int) -> None:
        for _ in range(n):
            extra = SupplierFactory.create()
            this_month_ack(extra, on_time=True)
            this_month_ack(supplier, on_time=False)
            receive(promised_line(supplier, timezone.localdate()), timezone.now())
            notice(supplier, timezone.now(), [("4", "4")])
            receive(lead_time_line(supplier, timezone.localdate(), 3), timezone.now())

    more_data(1)
    small = counts()
    more_data(5)
    assert counts() == small
