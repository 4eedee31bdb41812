"""Expected receipts: what is coming to each site by day, its variances and late notices, for buyers only."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from purchasing.documents.shapes import ShipmentInput, ShipmentLineInput
from purchasing.inbound import receipt_import
from purchasing.models import (
    Channel,
    LineStatus,
    POStatus,
    ScheduleLine,
    ShipmentLine,
    ShipmentNotice,
    ShipmentStatus,
)
from purchasing.services.shipments import shipment_notice_cancel, shipment_notice_submit
from tests.factories import (
    ItemFactory,
    PurchaseOrderFactory,
    PurchaseOrderLineFactory,
    ScheduleLineFactory,
    SiteFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("portal_defaults")]

RECEIPTS = reverse("purchasing:expected-receipts")
TODAY = timezone.localdate()


def day(offset: int) -> dt.date:
    return TODAY + dt.timedelta(days=offset)


@pytest.fixture
def scheduled_po(shippable_po):
    """PO-200001 promised as: line 10, 100 on day 3; line 20 split, 40 on day 5 and 20 on day 10."""
    bolts = shippable_po.lines.get(line_number=10)
    nuts = shippable_po.lines.get(line_number=20)
    ScheduleLineFactory(line=bolts, schedule_number=1, quantity=100, promised_date=day(3))
    ScheduleLineFactory(line=nuts, schedule_number=1, quantity=40, promised_date=day(5))
    ScheduleLineFactory(line=nuts, schedule_number=2, quantity=20, promised_date=day(10))
    return shippable_po


def ship(supplier, number: str, arrives: dt.date | None, *lines: tuple[int, str], ship_date: dt.date | None = None):
    return shipment_notice_submit(
        supplier=supplier,
        by=None,
        channel=Channel.WEB,
        shipment=ShipmentInput(
            number=number,
            ship_date=ship_date or TODAY,
            estimated_arrival=arrives,
            lines=tuple(ShipmentLineInput("PO-200001", n, Decimal(q)) for n, q in lines),
        ),
    )


def expected(response) -> dict[str, dict[dt.date, tuple[list[str], list[tuple[str, int, Decimal]]]]]:
    """Site code -> day -> (ASN numbers, deliveries as (PO, line, still to ship))."""
    return {
        group.site.code: {
            d.day: (
                [n.notice.number for n in d.notices],
                [(x.line.po.number, x.line.line_number, x.open_quantity) for x in d.deliveries],
            )
            for d in group.days_in_order
        }
        for group in response.context["groups"]
        if group.days
    }


def row(response, asn: str, line_number: int):
    return next(
        line
        for group in response.context["groups"]
        for notices in [*(d.notices for d in group.days_in_order), group.overdue]
        for notice in notices
        if notice.notice.number == asn
        for line in notice.lines
        if line.line.line_number == line_number
    )


def test_promised_deliveries_are_listed_by_site_then_day(buyer_client, scheduled_po):
    west = SiteFactory(code="WH-WEST")
    other = PurchaseOrderFactory(supplier=scheduled_po.supplier, site=west, status=POStatus.ACKNOWLEDGED)
    line = PurchaseOrderLineFactory(po=other, line_number=10, ordered_quantity=7, status=LineStatus.ACKNOWLEDGED)
    ScheduleLineFactory(line=line, quantity=7, promised_date=day(3))
    # Outside the default fortnight, and a line not acknowledged: neither is listed.
    ScheduleLineFactory(
        line=PurchaseOrderLineFactory(po=other, line_number=20, status=LineStatus.ACKNOWLEDGED), promised_date=day(20)
    )
    ScheduleLineFactory(line=PurchaseOrderLineFactory(po=other, line_number=30), promised_date=day(4))

    response = buyer_client.get(RECEIPTS)

    assert response.status_code == 200
    assert expected(response) == {
        "WH-EAST": {
            day(3): ([], [("PO-200001", 10, Decimal(100))]),
            day(5): ([], [("PO-200001", 20, Decimal(40))]),
            day(10): ([], [("PO-200001", 20, Decimal(20))]),
        },
        "WH-WEST": {day(3): ([], [(other.number, 10, Decimal(7))])},
    }
    html = response.content.decode()
    assert html.index('id="site-wh-east"') < html.index(f'id="day-wh-east-{day(3)}"') < html.index('id="site-wh-west"')
    assert buyer_client.get(RECEIPTS, {"site": "WH-WEST"}).context["groups"][0].site == west


def test_a_notice_is_listed_on_its_arrival_day_and_what_it_ships_leaves_the_promised_list(buyer_client, scheduled_po):
    ship(scheduled_po.supplier, "ASN-A", day(3), (10, "100"))
    ship(scheduled_po.supplier, "ASN-NOARRIVAL", None, (20, "40"), ship_date=day(5))

    listed = expected(buyer_client.get(RECEIPTS))["WH-EAST"]

    assert listed[day(3)] == (["ASN-A"], [])
    assert listed[day(5)] == (["ASN-NOARRIVAL"], [])  # no estimated arrival: its ship date
    assert listed[day(10)] == ([], [("PO-200001", 20, Decimal(20))])


def test_variances_against_the_schedule_and_the_order_are_marked(buyer_client, scheduled_po):
    ship(scheduled_po.supplier, "ASN-SHORT", day(3), (10, "90"))
    ship(scheduled_po.supplier, "ASN-OVER", day(3), (10, "14"))  # 104 of 100 ordered: within the 5% tolerance

    response = buyer_client.get(RECEIPTS)

    short, over = row(response, "ASN-SHORT", 10), row(response, "ASN-OVER", 10)
    assert (short.scheduled, short.short_by, short.beyond_ordered) == (Decimal(100), Decimal(10), 0)
    assert (over.scheduled, over.over_by, over.beyond_ordered) == (Decimal(10), Decimal(4), Decimal(4))
    html = response.content.decode()
    assert "Short 10 of 100 due" in html
    assert "Over 4 of 10 due" in html
    assert "Over ordered by 4 (ordered 100)" in html
    assert "Late:" not in html


def test_a_notice_arriving_after_the_promised_date_is_late(buyer_client, scheduled_po):
    ship(scheduled_po.supplier, "ASN-LATE", day(7), (20, "40"))

    response = buyer_client.get(RECEIPTS)

    late = row(response, "ASN-LATE", 20)
    assert (late.scheduled, late.promised_date, late.days_late) == (None, day(5), 2)
    assert f"Late: 2 days after {day(5):%b} {day(5).day}" in response.content.decode()


def test_a_notice_whose_arrival_date_passed_unreceived_is_overdue(buyer_client, scheduled_po):
    ship(scheduled_po.supplier, "ASN-PAST", day(-2), (10, "30"), ship_date=day(-5))

    response = buyer_client.get(RECEIPTS)

    (group,) = [g for g in response.context["groups"] if g.site.code == "WH-EAST"]
    assert [n.notice.number for n in group.overdue] == ["ASN-PAST"]
    assert group.overdue[0].is_late
    assert "Arrival date passed, not received" in response.content.decode()


def test_received_notices_leave_the_expected_receipts(buyer_client, scheduled_po):
    ship(scheduled_po.supplier, "ASN-A", day(3), (10, "90"))
    ship(scheduled_po.supplier, "ASN-B", day(5), (20, "40"))

    receipt_import(
        {
            "erp_id": "RCPT-1",
            "po_number": "PO-200001",
            "asn_number": "ASN-A",
            "received_at": timezone.now().isoformat(),
            "lines": [{"line_number": 10, "quantity": "90"}],
        }
    )

    assert ShipmentNotice.objects.get(number="ASN-A").status in (ShipmentStatus.RECEIVED, ShipmentStatus.CLOSED)
    listed = expected(buyer_client.get(RECEIPTS))["WH-EAST"]
    assert listed[day(3)] == ([], [("PO-200001", 10, Decimal(10))])  # the 10 never shipped is still owed
    assert listed[day(5)] == (["ASN-B"], [])


def test_cancelled_notices_are_not_expected(buyer_client, scheduled_po):
    notice = ship(scheduled_po.supplier, "ASN-X", day(3), (10, "100"))
    shipment_notice_cancel(notice=notice, by=None, reason="Truck broke down.", channel=Channel.WEB)

    assert expected(buyer_client.get(RECEIPTS))["WH-EAST"][day(3)] == ([], [("PO-200001", 10, Decimal(100))])


def test_the_calendar_counts_each_day_and_links_to_its_list(buyer_client, scheduled_po):
    ship(scheduled_po.supplier, "ASN-LATE", day(7), (20, "40"))
    month = day(7).strftime("%Y-%m")

    response = buyer_client.get(RECEIPTS, {"view": "calendar", "month": month})

    assert response.status_code == 200
    cells = {cell.day: cell for week in response.context["weeks"] for cell in week}
    arriving = cells[day(7)]
    assert (arriving.notices, arriving.shipped, arriving.flagged) == (1, Decimal(40), 1)
    assert arriving.link == f"?start={day(7)}&end={day(7)}"
    assert f'href="?start={day(7)}&amp;end={day(7)}"' in response.content.decode()
    if day(3).strftime("%Y-%m") == month:
        assert (cells[day(3)].deliveries, cells[day(3)].due) == (1, Decimal(100))
    assert all(week[0].day.weekday() == 0 for week in response.context["weeks"])

    one_day = buyer_client.get(RECEIPTS + arriving.link)
    assert expected(one_day) == {"WH-EAST": {day(7): (["ASN-LATE"], [])}}


def test_the_calendar_keeps_the_site(buyer_client, scheduled_po):
    response = buyer_client.get(RECEIPTS, {"view": "calendar", "site": "WH-EAST"})
    assert response.context["weeks"][0][0].link.startswith("?site=WH-EAST&start=")
    assert "site=WH-EAST" in response.context["next_month"]


def test_the_default_range_is_today_and_the_next_fortnight(buyer_client):
    form = buyer_client.get(RECEIPTS).context["form"]
    assert (form.cleaned_data["start"], form.cleaned_data["end"]) == (TODAY, day(14))
    start_only = buyer_client.get(RECEIPTS, {"start": day(30).isoformat()}).context["form"]
    assert start_only.cleaned_data["end"] == day(44)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (0, 62, "Choose at most 62 days; this range has 63."),
        (5, 1, "The end date is before the start date."),
    ],
)
def test_a_range_too_long_or_backwards_is_refused(buyer_client, scheduled_po, start, end, message):
    response = buyer_client.get(RECEIPTS, {"start": day(start).isoformat(), "end": day(end).isoformat()})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert response.context["groups"] == []


def test_sixty_two_days_are_allowed(buyer_client):
    response = buyer_client.get(RECEIPTS, {"start": day(0).isoformat(), "end": day(61).isoformat()})
    assert response.context["form"].is_valid()


def test_a_supplier_user_gets_404(alice_client, scheduled_po):
    assert alice_client.get(RECEIPTS).status_code == 404
    assert alice_client.get(RECEIPTS, {"view": "calendar"}).status_code == 404


def test_an_outsider_gets_404(bob_client):
    assert bob_client.get(RECEIPTS).status_code == 404


def _many_receipts(supplier, prefix: str, sites: int, orders: int) -> None:
    """Per site, ``orders`` acknowledged POs of two lines, each promised and partly on a notice."""
    for s in range(sites):
        site = SiteFactory.create(code=f"{prefix}-{s}")
        for o in range(orders):
            po = PurchaseOrderFactory(supplier=supplier, site=site, status=POStatus.ACKNOWLEDGED)
            notice = ShipmentNotice.objects.create(
                supplier=supplier,
                site=site,
                number=f"{prefix}-{s}-{o}",
                status=ShipmentStatus.IN_TRANSIT,
                ship_date=TODAY,
                estimated_arrival=day(o % 10),
                channel=Channel.WEB,
            )
            for n in (10, 20):
                line = PurchaseOrderLineFactory.create(
                    po=po,
                    line_number=n,
                    item=ItemFactory(),
                    status=LineStatus.PARTIALLY_SHIPPED,
                    shipped_quantity=Decimal(30),
                )
                ScheduleLine.objects.create(line=line, schedule_number=1, quantity=50, promised_date=day(o % 7))
                ScheduleLine.objects.create(line=line, schedule_number=2, quantity=50, promised_date=day(o % 7 + 3))
                ShipmentLine.objects.create(shipment=notice, po_line=line, position=n // 10, quantity=30)


def _queries(client, **params) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(RECEIPTS, params).status_code == 200
    return len(captured)


@pytest.mark.parametrize("params", [{}, {"view": "calendar"}])
def test_the_page_takes_a_constant_number_of_queries(buyer_client, supplier, django_assert_max_num_queries, params):
    _many_receipts(supplier, "FEW", sites=1, orders=1)
    few = _queries(buyer_client, **params)
    _many_receipts(supplier, "MANY", sites=3, orders=12)

    with django_assert_max_num_queries(few):
        response = buyer_client.get(RECEIPTS, params)
    assert response.status_code == 200
    if not params:
        assert sum(len(d.notices) for g in response.context["groups"] for d in g.days.values()) == 37


def test_a_bad_month_is_refused_and_an_unknown_view_shows_the_list(buyer_client):
    refused = buyer_client.get(RECEIPTS, {"view": "calendar", "month": "2026-13"})
    assert "month" in refused.context["form"].errors
    assert refused.context["weeks"] == []
    assert buyer_client.get(RECEIPTS, {"view": "agenda", "month": "nope"}).context["view"] == "list"


def test_a_look_ahead_leaves_out_the_overdue_notices(buyer_client, scheduled_po):
    ship(scheduled_po.supplier, "ASN-PAST", day(-2), (10, "30"), ship_date=day(-5))
    response = buyer_client.get(RECEIPTS, {"start": day(1).isoformat()})
    assert all(not group.overdue for group in response.context["groups"])
