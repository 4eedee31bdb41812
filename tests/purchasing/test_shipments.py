"""Shipment notices through the service every channel uses: checks, packages, cancel, replace, receipts."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from planning_sync.models import OutboxEvent
from purchasing import gs1
from purchasing.documents.shapes import PackageInput, ShipmentInput, ShipmentLineInput
from purchasing.inbound import receipt_import
from purchasing.models import (
    HistoryEntry,
    LineStatus,
    POStatus,
    PurchaseOrderLine,
    ShipmentLine,
    ShipmentNotice,
    ShipmentPackage,
    ShipmentStatus,
)
from purchasing.services.shipments import (
    shipment_notice_cancel,
    shipment_notice_replace,
    shipment_notice_submit,
    shipment_notices_departed_sweep,
)
from tests.factories import PurchaseOrderFactory, PurchaseOrderLineFactory, SiteFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("portal_defaults")]

TODAY = timezone.localdate()
PALLET_SSCC = gs1.make_sscc(company_prefix="0614141", serial=900001)
CARTON_1_SSCC = gs1.make_sscc(company_prefix="0614141", serial=900002)
CARTON_2_SSCC = gs1.make_sscc(company_prefix="0614141", serial=900003)


def pallet_of_two_cartons(number: str = "ASN-1", *, bolts: str = "60", nuts: str = "60", **header) -> ShipmentInput:
    """A pallet holding two cartons: 60 bolts (line 10) in one, 60 nuts (line 20) in the other."""
    return ShipmentInput(
        number=number,
        ship_date=header.pop("ship_date", timezone.localdate()),
        estimated_arrival=header.pop("estimated_arrival", timezone.localdate() + dt.timedelta(days=2)),
        carrier_scac="UPSN",
        carrier_name="UPS",
        tracking_number="1Z999",
        packages=(
            PackageInput(ref="P1", kind="pallet", sscc=PALLET_SSCC),
            PackageInput(ref="C1", kind="carton", sscc=CARTON_1_SSCC, parent_ref="P1"),
            PackageInput(ref="C2", kind="carton", sscc=CARTON_2_SSCC, parent_ref="P1"),
        ),
        lines=(
            ShipmentLineInput("PO-200001", 10, Decimal(bolts), package_ref="C1"),
            ShipmentLineInput("PO-200001", 20, Decimal(nuts), package_ref="C2"),
        ),
        **header,
    )


def _submit(supplier, shipment, by=None):
    return shipment_notice_submit(supplier=supplier, by=by, shipment=shipment, channel="web")


def _errors(excinfo):
    return excinfo.value.message_dict


def test_a_pallet_of_two_cartons_ships_and_moves_the_lines(supplier, shippable_po, supplier_user):
    notice = _submit(supplier, pallet_of_two_cartons(), by=supplier_user)
    assert notice.status == ShipmentStatus.IN_TRANSIT  # shipped today
    pallet = ShipmentPackage.objects.get(shipment=notice, parent=None)
    assert pallet.kind == "pallet"
    assert pallet.sscc == PALLET_SSCC
    assert sorted(pallet.children.values_list("sscc", flat=True)) == sorted([CARTON_1_SSCC, CARTON_2_SSCC])
    bolts = PurchaseOrderLine.objects.get(po=shippable_po, line_number=10)
    nuts = PurchaseOrderLine.objects.get(po=shippable_po, line_number=20)
    assert (bolts.shipped_quantity, bolts.status) == (Decimal(60), LineStatus.PARTIALLY_SHIPPED)
    assert (nuts.shipped_quantity, nuts.status) == (Decimal(60), LineStatus.SHIPPED)
    assert bolts.is_ready_for_accrual
    shippable_po.refresh_from_db()
    assert shippable_po.status == POStatus.PARTIALLY_SHIPPED
    assert HistoryEntry.objects.filter(po=shippable_po, action="shipped").count() == 1


def test_the_notice_records_its_event_with_the_asn_number_as_subject(supplier, shippable_po):
    _submit(supplier, pallet_of_two_cartons())
    event = OutboxEvent.objects.get(type="supplyline.asn.submitted.v1")
    assert event.subject == "ASN-1"
    assert event.aggregate_key == f"shipment_notice:{supplier.pk}:ASN-1"
    assert event.priority == OutboxEvent.Priority.CRITICAL
    assert [p["sscc"] for p in event.data["packages"]] == [PALLET_SSCC, CARTON_1_SSCC, CARTON_2_SSCC]
    assert event.data["packages"][1]["parent_sscc"] == PALLET_SSCC
    assert event.data["lines"][0] | {} == {
        "po_number": "PO-200001",
        "line_number": 10,
        "item_sku": "SKU-BOLT",
        "quantity": "60",
        "lot_number": "",
        "expiry_date": None,
        "package_sscc": CARTON_1_SSCC,
    }


def test_one_line_may_ship_in_several_notices(supplier, shippable_po):
    _submit(supplier, pallet_of_two_cartons("ASN-1", bolts="60", nuts="30"))
    second = ShipmentInput(number="ASN-2", ship_date=TODAY, lines=(ShipmentLineInput("PO-200001", 10, Decimal(40)),))
    _submit(supplier, second)
    bolts = PurchaseOrderLine.objects.get(po=shippable_po, line_number=10)
    assert (bolts.shipped_quantity, bolts.status) == (Decimal(100), LineStatus.SHIPPED)


def test_over_shipment_beyond_the_quantity_tolerance_is_refused_and_nothing_is_written(supplier, shippable_po):
    # 5% over 60 nuts is 63.
    with pytest.raises(ValidationError) as excinfo:
        _submit(supplier, pallet_of_two_cartons(nuts="64"))
    assert "63" in _errors(excinfo)["lines.2.quantity"][0]
    assert not ShipmentNotice.objects.exists()
    assert not ShipmentPackage.objects.exists()
    assert not PurchaseOrderLine.objects.filter(shipped_quantity__gt=0).exists()
    assert not OutboxEvent.objects.filter(type__startswith="supplyline.asn").exists()


def test_over_shipment_within_tolerance_counts_earlier_notices(supplier, shippable_po):
    _submit(
        supplier, ShipmentInput(number="A", ship_date=TODAY, lines=(ShipmentLineInput("PO-200001", 20, Decimal(60)),))
    )
    _submit(
        supplier, ShipmentInput(number="B", ship_date=TODAY, lines=(ShipmentLineInput("PO-200001", 20, Decimal(3)),))
    )
    with pytest.raises(ValidationError) as excinfo:
        _submit(
            supplier,
            ShipmentInput(number="C", ship_date=TODAY, lines=(ShipmentLineInput("PO-200001", 20, Decimal(1)),)),
        )
    assert "64 shipped of 60 ordered" in _errors(excinfo)["lines.1.quantity"][0]


@pytest.mark.parametrize(
    "status", [LineStatus.ISSUED, LineStatus.CHANGES_PENDING, LineStatus.CLOSED, LineStatus.CANCELLED]
)
def test_unacknowledged_closed_or_cancelled_lines_cannot_ship(supplier, shippable_po, status):
    PurchaseOrderLine.objects.filter(po=shippable_po, line_number=20).update(status=status)
    with pytest.raises(ValidationError) as excinfo:
        _submit(supplier, pallet_of_two_cartons())
    assert "only acknowledged lines can ship" in _errors(excinfo)["lines.2.line_number"][0]


def test_every_problem_is_reported_at_once_by_line(supplier, shippable_po):
    shipment = ShipmentInput(
        number="bad number!",
        ship_date=TODAY,
        estimated_arrival=TODAY - dt.timedelta(days=1),
        carrier_scac="ups1",
        packages=(
            PackageInput(
                ref="C1", sscc=CARTON_1_SSCC[:-1] + "0" if CARTON_1_SSCC[-1] != "0" else CARTON_1_SSCC[:-1] + "1"
            ),
        ),
        lines=(
            ShipmentLineInput("PO-200001", 10, Decimal(5), item_sku="SKU-NUT", package_ref="C9"),
            ShipmentLineInput("PO-200001", 30, Decimal(5)),
            ShipmentLineInput("PO-999999", 10, Decimal(5)),
        ),
    )
    with pytest.raises(ValidationError) as excinfo:
        _submit(supplier, shipment)
    errors = _errors(excinfo)
    assert set(errors) >= {
        "number",
        "estimated_arrival",
        "carrier_scac",
        "packages.1.sscc",
        "lines.1.item_sku",
        "lines.1.package_ref",
        "lines.2.line_number",
        "lines.3.po_number",
    }
    assert "check digit" in errors["packages.1.sscc"][0]
    assert "SKU-BOLT, not SKU-NUT" in errors["lines.1.item_sku"][0]


def test_another_suppliers_po_reads_as_unknown(supplier, other_supplier, shippable_po):
    PurchaseOrderFactory.create(supplier=other_supplier, number="PO-BOLT-1", status=POStatus.ACKNOWLEDGED)
    with pytest.raises(ValidationError) as excinfo:
        _submit(
            supplier,
            ShipmentInput(number="X", ship_date=TODAY, lines=(ShipmentLineInput("PO-BOLT-1", 10, Decimal(1)),)),
        )
    assert _errors(excinfo)["lines.1.po_number"] == ["There is no purchase order 'PO-BOLT-1' of yours."]


def test_one_notice_ships_several_pos_of_one_site_only(supplier, shippable_po):
    other_site = PurchaseOrderFactory.create(
        supplier=supplier, number="PO-200002", site=SiteFactory.create(code="WH-WEST"), status=POStatus.ACKNOWLEDGED
    )
    PurchaseOrderLineFactory.create(po=other_site, line_number=10, status=LineStatus.ACKNOWLEDGED)
    shipment = ShipmentInput(
        number="X",
        ship_date=TODAY,
        lines=(ShipmentLineInput("PO-200001", 10, Decimal(1)), ShipmentLineInput("PO-200002", 10, Decimal(1))),
    )
    with pytest.raises(ValidationError) as excinfo:
        _submit(supplier, shipment)
    assert "WH-EAST, WH-WEST" in _errors(excinfo)["lines"][0]


def test_asn_numbers_are_unique_per_supplier(supplier, shippable_po):
    _submit(supplier, pallet_of_two_cartons("ASN-1", bolts="10", nuts="10"))
    with pytest.raises(ValidationError) as excinfo:
        _submit(
            supplier,
            ShipmentInput(number="ASN-1", ship_date=TODAY, lines=(ShipmentLineInput("PO-200001", 10, Decimal(1)),)),
        )
    assert "already sent shipment notice ASN-1" in _errors(excinfo)["number"][0]


def test_an_sscc_may_be_on_one_active_notice_only(supplier, shippable_po):
    _submit(supplier, pallet_of_two_cartons("ASN-1", bolts="10", nuts="10"))
    with pytest.raises(ValidationError) as excinfo:
        _submit(supplier, pallet_of_two_cartons("ASN-2", bolts="10", nuts="10"))
    assert any(f"SSCC {PALLET_SSCC} is already on shipment notice ASN-1" in m for m in _errors(excinfo)["packages"])


def test_packages_without_sscc_are_numbered_from_the_gs1_prefix(supplier, shippable_po):
    shipment = ShipmentInput(
        number="ASN-G",
        ship_date=TODAY,
        packages=(PackageInput(ref="P", kind="pallet"), PackageInput(ref="C", parent_ref="P")),
        lines=(ShipmentLineInput("PO-200001", 10, Decimal(1), package_ref="C"),),
    )
    notice = _submit(supplier, shipment)
    ssccs = list(notice.packages.order_by("position").values_list("sscc", flat=True))
    assert ssccs == [gs1.make_sscc(company_prefix="0614141", serial=n) for n in (1, 2)]
    supplier.refresh_from_db()
    assert supplier.sscc_serial == 2


def test_a_package_cannot_hold_itself(supplier, shippable_po):
    shipment = ShipmentInput(
        number="LOOP",
        ship_date=TODAY,
        packages=(PackageInput(ref="A", parent_ref="B"), PackageInput(ref="B", parent_ref="A")),
        lines=(ShipmentLineInput("PO-200001", 10, Decimal(1), package_ref="A"),),
    )
    with pytest.raises(ValidationError) as excinfo:
        _submit(supplier, shipment)
    assert "inside itself" in _errors(excinfo)["packages.1.parent_ref"][0]


def test_lot_and_expiry_are_required_where_the_item_needs_them(supplier, shippable_po):
    line = PurchaseOrderLine.objects.get(po=shippable_po, line_number=10)
    line.item.lot_controlled = line.item.expiry_controlled = True
    line.item.save()
    with pytest.raises(ValidationError) as excinfo:
        _submit(
            supplier,
            ShipmentInput(number="L", ship_date=TODAY, lines=(ShipmentLineInput("PO-200001", 10, Decimal(1)),)),
        )
    assert set(_errors(excinfo)) == {"lines.1.lot_number", "lines.1.expiry_date"}
    lot = ShipmentLineInput("PO-200001", 10, Decimal(1), lot_number="LOT7", expiry_date=TODAY + dt.timedelta(days=300))
    notice = _submit(supplier, ShipmentInput(number="L", ship_date=TODAY, lines=(lot,)))
    assert notice.lines.get().lot_number == "LOT7"


def test_dates_must_be_sensible(supplier, shippable_po):
    far = ShipmentInput(
        number="D", ship_date=TODAY - dt.timedelta(days=31), lines=(ShipmentLineInput("PO-200001", 10, Decimal(1)),)
    )
    with pytest.raises(ValidationError) as excinfo:
        _submit(supplier, far)
    assert "more than 30 days ago" in _errors(excinfo)["ship_date"][0]


def test_a_future_ship_date_is_submitted_until_the_sweep_sees_the_day(supplier, shippable_po):
    later = TODAY + dt.timedelta(days=3)
    notice = _submit(supplier, pallet_of_two_cartons(ship_date=later, estimated_arrival=later))
    assert notice.status == ShipmentStatus.SUBMITTED
    assert shipment_notices_departed_sweep(today=later - dt.timedelta(days=1)) == 0
    assert shipment_notices_departed_sweep(today=later) == 1
    notice.refresh_from_db()
    assert notice.status == ShipmentStatus.IN_TRANSIT


def test_cancel_takes_the_quantities_off_the_lines(supplier, shippable_po, supplier_user):
    notice = _submit(supplier, pallet_of_two_cartons())
    with pytest.raises(ValidationError):
        shipment_notice_cancel(notice=notice, by=supplier_user, reason=" ", channel="web")
    shipment_notice_cancel(notice=notice, by=supplier_user, reason="Truck broke down", channel="web")
    notice.refresh_from_db()
    assert notice.status == ShipmentStatus.CANCELLED
    assert list(PurchaseOrderLine.objects.filter(po=shippable_po).values_list("shipped_quantity", "status")) == [
        (Decimal(0), LineStatus.ACKNOWLEDGED),
        (Decimal(0), LineStatus.ACKNOWLEDGED),
    ]
    shippable_po.refresh_from_db()
    assert shippable_po.status == POStatus.ACKNOWLEDGED
    assert OutboxEvent.objects.filter(type="supplyline.asn.cancelled.v1", subject="ASN-1").exists()
    # Its number and SSCCs are free again only for a replacement; a new notice may reuse the SSCCs.
    _submit(supplier, pallet_of_two_cartons("ASN-1B"))


def test_replace_keeps_the_number_and_swaps_the_quantities(supplier, shippable_po):
    first = _submit(supplier, pallet_of_two_cartons(bolts="60", nuts="60"))
    corrected = pallet_of_two_cartons(bolts="100", nuts="50")
    second = shipment_notice_replace(notice=first, by=None, shipment=corrected, channel="web")
    first.refresh_from_db()
    assert first.status == ShipmentStatus.REPLACED
    assert second.replaces == first
    assert second.number == "ASN-1"
    assert second.status == ShipmentStatus.IN_TRANSIT
    assert list(PurchaseOrderLine.objects.filter(po=shippable_po).values_list("shipped_quantity", flat=True)) == [
        Decimal(100),
        Decimal(50),
    ]
    event = OutboxEvent.objects.get(type="supplyline.asn.replaced.v1")
    assert event.data["replaces"] == "ASN-1"


def test_an_edi_replace_purpose_finds_the_notice_by_number(supplier, shippable_po):
    _submit(supplier, pallet_of_two_cartons(bolts="60", nuts="60"))
    replacement = pallet_of_two_cartons(bolts="70", nuts="60", replaces=True)
    notice = _submit(supplier, replacement)
    assert notice.replaces is not None
    assert ShipmentNotice.objects.active().count() == 1


def _receive(po_number, erp_id, lines, *, asn_number=None):
    document = {
        "erp_id": erp_id,
        "po_number": po_number,
        "received_at": timezone.now().isoformat(),
        "lines": [{"line_number": n, "quantity": q} for n, q in lines],
    }
    if asn_number:
        document["asn_number"] = asn_number
    with transaction.atomic():
        return receipt_import(document)


def test_receipts_move_a_notice_to_received_and_close_it_with_variances(supplier, shippable_po):
    notice = _submit(supplier, pallet_of_two_cartons(bolts="60", nuts="60"))
    _receive("PO-200001", "GR-1", [(10, "58")], asn_number="ASN-1")
    notice.refresh_from_db()
    assert notice.status == ShipmentStatus.RECEIVED
    assert notice.received_at is not None
    bolts = ShipmentLine.objects.get(shipment=notice, po_line__line_number=10)
    assert bolts.received_quantity == Decimal(58)
    assert bolts.variance == Decimal(-2)
    with pytest.raises(ValidationError):
        shipment_notice_cancel(notice=notice, by=None, reason="too late", channel="web")
    _receive("PO-200001", "GR-2", [(10, "2"), (20, "60")])  # no ASN named: the open notice of each line
    notice.refresh_from_db()
    assert notice.status == ShipmentStatus.CLOSED
    events = OutboxEvent.objects.filter(type="supplyline.asn.received.v1").order_by("id")
    assert [e.data["status"] for e in events] == ["received", "closed"]


def test_a_receipt_naming_an_unknown_notice_is_refused(supplier, shippable_po):
    _submit(supplier, pallet_of_two_cartons())
    with pytest.raises(ValidationError) as excinfo:
        _receive("PO-200001", "GR-9", [(10, "1")], asn_number="NOPE")
    assert "asn_number" in excinfo.value.message_dict


def test_errors_name_the_line_and_package_where_the_notice_lists_them(supplier, shippable_po):
    bad_sscc = CARTON_1_SSCC[:-1] + ("0" if CARTON_1_SSCC[-1] != "0" else "1")
    shipment = ShipmentInput(
        number="ORDER",
        ship_date=TODAY,
        # The carton comes before its pallet, and an unknown PO before the over-shipped line.
        packages=(PackageInput(ref="C", sscc=bad_sscc, parent_ref="P"), PackageInput(ref="P", kind="pallet")),
        lines=(ShipmentLineInput("PO-999", 10, Decimal(1)), ShipmentLineInput("PO-200001", 20, Decimal(99))),
    )
    with pytest.raises(ValidationError) as excinfo:
        _submit(supplier, shipment)
    errors = _errors(excinfo)
    assert "packages.1.sscc" in errors
    assert "lines.1.po_number" in errors
    assert "lines.2.quantity" in errors


def test_a_pallet_cannot_be_inside_a_carton(supplier, shippable_po):
    shipment = ShipmentInput(
        number="NEST",
        ship_date=TODAY,
        packages=(PackageInput(ref="C", kind="carton"), PackageInput(ref="P", kind="pallet", parent_ref="C")),
        lines=(ShipmentLineInput("PO-200001", 10, Decimal(1), package_ref="P"),),
    )
    with pytest.raises(ValidationError) as excinfo:
        _submit(supplier, shipment)
    assert _errors(excinfo)["packages.2.parent_ref"] == ["A pallet cannot be inside carton C."]
