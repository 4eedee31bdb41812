"""The shipment notice pages: list, the send and correct form, detail, cancel, labels, and who may use them."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from purchasing import gs1
from purchasing.documents.shapes import ShipmentInput, ShipmentLineInput
from purchasing.models import (
    Item,
    LineStatus,
    POStatus,
    PurchaseOrderLine,
    ShipmentNotice,
    ShipmentPackage,
    ShipmentStatus,
)
from purchasing.services.shipments import shipment_notice_cancel, shipment_notice_submit
from suppliers.models import SupplierMembership
from tests.factories import (
    PurchaseOrderFactory,
    PurchaseOrderLineFactory,
    SiteFactory,
    SupplierMembershipFactory,
    UserFactory,
)
from tests.purchasing.test_labels import bars_in, decode, page_contents, page_text
from tests.purchasing.test_shipments import CARTON_1_SSCC, CARTON_2_SSCC, PALLET_SSCC, pallet_of_two_cartons

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("portal_defaults")]

LIST = reverse("purchasing:shipment-list")
CREATE = reverse("purchasing:shipment-create")
TODAY = timezone.localdate()


def detail(notice) -> str:
    return reverse("purchasing:shipment-detail", args=[notice.pk])


def _submit(supplier, shipment=None, by=None) -> ShipmentNotice:
    return shipment_notice_submit(supplier=supplier, by=by, shipment=shipment or pallet_of_two_cartons(), channel="web")


def _loose(number: str, po_number: str = "PO-200001", line: int = 10, quantity: str = "1", **header) -> ShipmentInput:
    lines = (ShipmentLineInput(po_number, line, Decimal(quantity)),)
    return ShipmentInput(number=number, ship_date=header.pop("ship_date", TODAY), lines=lines, **header)


def _line(po, number: int) -> PurchaseOrderLine:
    return PurchaseOrderLine.objects.get(po=po, line_number=number)


def _form_data(po, *, lines=None, packages=None, **header) -> dict[str, str]:
    """What the form posts: the header, a row per line of ``po`` ({line number or (number, row): fields}), packages."""
    data = {
        "supplier": po.supplier.code,
        "site": po.site.code,
        "po": "",
        "number": "ASN-100",
        "ship_date": TODAY.isoformat(),
        "estimated_arrival": (TODAY + dt.timedelta(days=2)).isoformat(),
        "carrier_scac": "UPSN",
        "carrier_name": "UPS",
        "tracking_number": "1Z999",
        "bill_of_lading": "",
        "ship_from": "",
    } | header
    rows = {(key, 0) if isinstance(key, int) else key: values for key, values in (lines or {}).items()}
    for line in po.lines.order_by("line_number"):
        rows.setdefault((line.line_number, 0), {})
    for (number, row), values in rows.items():
        prefix = f"line-{_line(po, number).pk}-{row}"
        for name in ("quantity", "lot_number", "expiry_date", "package_ref"):
            data[f"{prefix}-{name}"] = values.get(name, "")
    for n, package in enumerate(packages or []):
        for name in ("ref", "kind", "sscc", "parent_ref"):
            data[f"package-{n}-{name}"] = package.get(name, "carton" if name == "kind" else "")
    return data


PALLET_OF_TWO_CARTONS = [
    {"ref": "P1", "kind": "pallet"},
    {"ref": "C1", "kind": "carton", "parent_ref": "P1"},
    {"ref": "C2", "kind": "carton", "parent_ref": "P1"},
]


def _line_form(response, po, number: int, row: int = 0):
    pk = _line(po, number).pk
    form = response.context["form"]
    return next(r for group in form.groups if group.line.pk == pk for r in group.rows if r.row == row)


def _nothing_written(po) -> None:
    assert not ShipmentNotice.objects.exists()
    assert not ShipmentPackage.objects.exists()
    assert set(po.lines.values_list("shipped_quantity", flat=True)) == {Decimal(0)}


# --- list ----------------------------------------------------------------------------------------


def _numbers(response) -> list[str]:
    return [notice.number for notice, _ in response.context["rows"]]


def test_a_supplier_lists_its_notices_without_a_supplier_column(alice_client, supplier, shippable_po, other_supplier):
    _submit(supplier)
    bolt_po = PurchaseOrderFactory(supplier=other_supplier, site=shippable_po.site, status=POStatus.ACKNOWLEDGED)
    PurchaseOrderLineFactory(po=bolt_po, line_number=1, status=LineStatus.ACKNOWLEDGED)
    _submit(other_supplier, _loose("BOLT-ASN", bolt_po.number, 1))
    response = alice_client.get(LIST)
    assert response.status_code == 200
    assert _numbers(response) == ["ASN-1"]
    body = response.content.decode()
    assert "BOLT-ASN" not in body
    assert 'scope="col">Supplier<' not in body
    assert "PO-200001" in body
    assert "In transit" in body
    assert "UPS" in body
    assert "New shipment notice" in body


def test_a_buyer_lists_every_suppliers_notices_and_filters_by_supplier(
    buyer_client, supplier, shippable_po, other_supplier
):
    _submit(supplier)
    bolt_po = PurchaseOrderFactory(supplier=other_supplier, status=POStatus.ACKNOWLEDGED)
    PurchaseOrderLineFactory(po=bolt_po, line_number=1, status=LineStatus.ACKNOWLEDGED)
    _submit(other_supplier, _loose("BOLT-ASN", bolt_po.number, 1))
    response = buyer_client.get(LIST)
    assert sorted(_numbers(response)) == ["ASN-1", "BOLT-ASN"]
    assert 'scope="col">Supplier<' in response.content.decode()
    assert "New shipment notice" not in response.content.decode()
    assert _numbers(buyer_client.get(LIST, {"supplier": "BOLT"})) == ["BOLT-ASN"]


def test_the_list_filters_by_status_and_site_and_searches_asn_po_and_tracking_numbers(
    alice_client, supplier, shippable_po
):
    west = PurchaseOrderFactory(
        supplier=supplier, number="PO-300009", site=SiteFactory(code="WH-WEST"), status=POStatus.ACKNOWLEDGED
    )
    PurchaseOrderLineFactory(po=west, line_number=1, status=LineStatus.ACKNOWLEDGED)
    _submit(supplier)  # ASN-1 to WH-EAST, tracking 1Z999, in transit
    later = _submit(
        supplier, _loose("WEST-7", "PO-300009", 1, tracking_number="TRK-42", ship_date=TODAY + dt.timedelta(days=3))
    )
    assert later.status == ShipmentStatus.SUBMITTED
    assert _numbers(alice_client.get(LIST, {"status": "submitted"})) == ["WEST-7"]
    assert _numbers(alice_client.get(LIST, {"site": "WH-EAST"})) == ["ASN-1"]
    assert _numbers(alice_client.get(LIST, {"q": "west"})) == ["WEST-7"]
    assert _numbers(alice_client.get(LIST, {"q": "PO-2000"})) == ["ASN-1"]
    assert _numbers(alice_client.get(LIST, {"q": "trk-42"})) == ["WEST-7"]
    assert _numbers(alice_client.get(LIST, {"po": "PO-300009"})) == ["WEST-7"]
    assert _numbers(alice_client.get(LIST, {"q": "nothing-like-it"})) == []


def test_an_empty_list_says_how_to_create_a_notice(alice_client):
    body = alice_client.get(LIST).content.decode()
    assert "No shipment notices yet." in body
    assert f'href="{CREATE}"' in body
    assert "Create shipment notice" in body  # the button on an acknowledged PO's page


def test_a_filter_that_matches_nothing_offers_the_whole_list(alice_client, supplier, shippable_po):
    _submit(supplier)
    body = alice_client.get(LIST, {"status": "cancelled"}).content.decode()
    assert "No shipment notices match these filters." in body


def test_htmx_filtering_returns_only_the_results(alice_client, supplier, shippable_po):
    _submit(supplier)
    response = alice_client.get(LIST, {"q": "ASN"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="shipment-results">')
    assert "ASN-1" in body
    assert "<form" not in body


def _many_notices(supplier, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        po = PurchaseOrderFactory.create(supplier=supplier, status=POStatus.ACKNOWLEDGED, site=SiteFactory())
        for line in (1, 2):
            PurchaseOrderLineFactory(po=po, line_number=line, status=LineStatus.ACKNOWLEDGED)
        _submit(
            supplier,
            ShipmentInput(
                number=f"MANY-{n}",
                ship_date=TODAY,
                lines=(ShipmentLineInput(po.number, 1, Decimal(1)), ShipmentLineInput(po.number, 2, Decimal(1))),
            ),
        )


def test_the_list_runs_a_fixed_number_of_queries(alice_client, buyer_client, supplier, django_assert_max_num_queries):
    _many_notices(supplier, 2)
    with CaptureQueriesContext(connection) as few:
        assert alice_client.get(LIST).status_code == 200
    _many_notices(supplier, 6, start=2)
    with django_assert_max_num_queries(len(few)):
        response = alice_client.get(LIST)
    assert len(response.context["rows"]) == 8
    with django_assert_max_num_queries(len(few) + 2):  # a buyer also gets the supplier filter's choices
        assert len(buyer_client.get(LIST).context["rows"]) == 8


def test_the_list_pages_with_a_cursor(alice_client, supplier, settings):
    _many_notices(supplier, 3)
    settings.SUPPLYLINE_PAGE_SIZE = 2
    first = alice_client.get(LIST)
    assert _numbers(first) == ["MANY-2", "MANY-1"]
    second = alice_client.get(LIST, {"after": first.context["page"].next_cursor})
    assert _numbers(second) == ["MANY-0"]
    broken = alice_client.get(LIST, {"after": "not-a-cursor"}, follow=True)
    assert _numbers(broken) == ["MANY-2", "MANY-1"]
    assert "That page link is not valid." in broken.content.decode()


# --- the form: create ----------------------------------------------------------------------------


def test_a_supplier_user_sends_a_pallet_of_two_cartons(alice_client, supplier_user, supplier, shippable_po):
    data = _form_data(
        shippable_po,
        lines={10: {"quantity": "60", "package_ref": "C1"}, 20: {"quantity": "60", "package_ref": "C2"}},
        packages=[*PALLET_OF_TWO_CARTONS, {}],  # a spare blank row is ignored
    )
    response = alice_client.post(CREATE, data, follow=True)
    notice = ShipmentNotice.objects.get()
    assert response.redirect_chain == [(detail(notice), 302)]
    assert "Shipment notice ASN-100 sent: 2 lines in 3 packages." in response.content.decode()
    assert (notice.supplier, notice.site.code, notice.submitted_by) == (supplier, "WH-EAST", supplier_user)
    assert (notice.carrier_scac, notice.tracking_number, notice.channel) == ("UPSN", "1Z999", "web")
    pallet = notice.packages.get(parent=None)
    assert pallet.kind == "pallet"
    cartons = list(pallet.children.order_by("position"))
    assert [c.lines.get().po_line.line_number for c in cartons] == [10, 20]
    # No SSCC given: each is numbered from the supplier's GS1 prefix.
    assert all(p.sscc.startswith("00614141") and gs1.validate_sscc(p.sscc) for p in notice.packages.all())
    assert _line(shippable_po, 10).shipped_quantity == 60


def test_the_form_from_a_po_preselects_its_site_and_lines(alice_client, supplier, shippable_po):
    _submit(supplier, _loose("EARLIER", quantity="40"))  # 60 of line 10 left
    other = PurchaseOrderFactory(
        supplier=supplier, site=shippable_po.site, status=POStatus.ACKNOWLEDGED, number="PO-100000"
    )
    PurchaseOrderLineFactory(po=other, line_number=1, status=LineStatus.ACKNOWLEDGED)
    response = alice_client.get(CREATE, {"po": "PO-200001"})
    assert response.status_code == 200
    form = response.context["form"]
    assert [(g.line.po.number, g.line.line_number) for g in form.groups] == [
        ("PO-200001", 10),
        ("PO-200001", 20),
        ("PO-100000", 1),
    ]
    assert [g.remaining for g in form.groups] == [60, 60, 100]
    assert [g.rows[0]["quantity"].value() for g in form.groups] == ["60", "60", None]
    body = response.content.decode()
    assert '<input type="hidden" name="site" value="WH-EAST">' in body
    assert form.header["ship_date"].value() == TODAY


def test_lot_and_expiry_inputs_are_marked_required_where_the_item_needs_them(alice_client, shippable_po):
    Item.objects.filter(sku="SKU-NUT").update(lot_controlled=True, expiry_controlled=True)
    response = alice_client.get(CREATE, {"po": "PO-200001"})
    nuts = _line_form(response, shippable_po, 20)
    assert nuts.fields["lot_number"].label == "PO-200001 line 20 lot or batch (required)"
    assert 'aria-required="true"' in str(nuts["expiry_date"])
    assert "required" not in _line_form(response, shippable_po, 10).fields["lot_number"].label


def test_a_user_of_several_suppliers_ships_for_the_active_one(
    alice_client, supplier_user, other_supplier, shippable_po
):
    SupplierMembershipFactory(user=supplier_user, supplier=other_supplier, role=SupplierMembership.Role.SHIPPING)
    bolt_po = PurchaseOrderFactory(supplier=other_supplier, status=POStatus.ACKNOWLEDGED, number="PO-BOLT-9")
    PurchaseOrderLineFactory(po=bolt_po, line_number=1, status=LineStatus.ACKNOWLEDGED)
    data = _form_data(bolt_po, lines={1: {"quantity": "5"}})
    # Acting for ACME, BOLT's lines are not offered, and asking for BOLT is ignored.
    response = alice_client.get(CREATE, {"supplier": "BOLT"})
    assert '<label for="scope-supplier">Supplier</label>' not in response.content.decode()
    assert alice_client.post(CREATE, data).status_code == 400
    assert not ShipmentNotice.objects.exists()

    alice_client.post(reverse("suppliers:active-supplier-set"), {"supplier": other_supplier.pk})
    response = alice_client.get(CREATE)
    assert [g.line.po.number for g in response.context["form"].groups] == ["PO-BOLT-9"]
    assert alice_client.post(CREATE, data).status_code == 302
    assert ShipmentNotice.objects.get().supplier == other_supplier


def test_with_lines_to_several_sites_the_user_picks_the_site(alice_client, supplier, shippable_po):
    west = PurchaseOrderFactory(supplier=supplier, site=SiteFactory(code="WH-WEST"), status=POStatus.ACKNOWLEDGED)
    PurchaseOrderLineFactory(po=west, line_number=1, status=LineStatus.ACKNOWLEDGED)
    response = alice_client.get(CREATE)
    assert response.context["form"] is None
    assert "Choose the site this shipment goes to" in response.content.decode()
    assert "WH-EAST · East warehouse (2 open lines)" in response.content.decode()
    response = alice_client.get(CREATE, {"site": "WH-WEST"})
    assert [g.line.po.number for g in response.context["form"].groups] == [west.number]


def test_with_nothing_acknowledged_the_form_says_why_nothing_can_ship(alice_client, po):
    response = alice_client.get(CREATE)
    assert response.status_code == 200
    assert "is ready to ship" in response.content.decode()
    assert "acknowledged it" in response.content.decode()


def test_a_buyer_cannot_open_the_form(buyer_client, shippable_po):
    assert buyer_client.get(CREATE).status_code == 404
    assert buyer_client.post(CREATE, _form_data(shippable_po, lines={10: {"quantity": "1"}})).status_code == 404
    assert not ShipmentNotice.objects.exists()


def test_a_viewer_may_look_but_not_send(client, supplier, shippable_po):
    viewer = UserFactory()
    SupplierMembershipFactory(user=viewer, supplier=supplier, role=SupplierMembership.Role.VIEWER)
    client.force_login(viewer)
    assert client.get(CREATE).status_code == 403
    notice = _submit(supplier)
    response = client.get(detail(notice))
    assert response.status_code == 200
    assert "Cancel notice" not in response.content.decode()
    assert client.post(reverse("purchasing:shipment-cancel", args=[notice.pk]), {"reason": "x"}).status_code == 403


def test_one_line_splits_over_two_cartons_with_two_lots(alice_client, shippable_po):
    data = _form_data(
        shippable_po,
        lines={
            (10, 0): {"quantity": "30", "package_ref": "C1", "lot_number": "L-1"},
            (10, 1): {"quantity": "20", "package_ref": "C2", "lot_number": "L-2"},
        },
        packages=PALLET_OF_TWO_CARTONS,
    )
    assert alice_client.post(CREATE, data).status_code == 302
    notice = ShipmentNotice.objects.get()
    assert list(notice.lines.order_by("position").values_list("quantity", "lot_number", "package__parent__kind")) == [
        (Decimal(30), "L-1", "pallet"),
        (Decimal(20), "L-2", "pallet"),
    ]
    assert _line(shippable_po, 10).shipped_quantity == 50


def test_add_package_without_javascript_redraws_the_form_with_another_row_and_no_errors(alice_client, shippable_po):
    data = _form_data(shippable_po, lines={10: {"quantity": "7"}}, packages=PALLET_OF_TWO_CARTONS, number="")
    response = alice_client.post(CREATE, data | {"add": "package"})
    assert response.status_code == 200
    form = response.context["form"]
    assert [row.row for row in form.package_rows] == [0, 1, 2, 3]
    assert form.error_summary() == []
    assert _line_form(response, shippable_po, 10)["quantity"].value() == "7"
    assert 'value="C2"' in response.content.decode()
    assert not ShipmentNotice.objects.exists()


def test_split_without_javascript_adds_a_row_to_that_line(alice_client, shippable_po):
    nuts = _line(shippable_po, 20)
    response = alice_client.post(CREATE, _form_data(shippable_po) | {"add": f"line-{nuts.pk}"})
    assert _line_form(response, shippable_po, 20, row=1) is not None
    assert f'id="row-line-{nuts.pk}-1"' in response.content.decode()


def test_htmx_add_package_returns_a_row_and_the_button_for_the_next(alice_client):
    response = alice_client.get(
        CREATE, {"new": "package", "row": "3", "add": "package"}, headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert 'name="package-3-ref"' in body
    assert 'hx-swap-oob="true"' in body
    assert "row=4" in body
    assert "<form" not in body


def test_htmx_split_returns_a_row_of_that_line_and_only_of_ones_own_lines(alice_client, bob_client, shippable_po):
    nuts = _line(shippable_po, 20)
    params = {"new": "line", "line": str(nuts.pk), "row": "1", "add": f"line-{nuts.pk}"}
    body = alice_client.get(CREATE, params, headers={"HX-Request": "true"}).content.decode()
    assert f'name="line-{nuts.pk}-1-quantity"' in body
    assert f'id="split-{nuts.pk}"' in body
    assert "row=2" in body
    assert bob_client.get(CREATE, params, headers={"HX-Request": "true"}).status_code == 404
    assert alice_client.get(CREATE, params | {"row": "x"}).status_code == 400


# --- the form: every error on its input, nothing written ------------------------------------------


def test_over_shipment_is_shown_on_the_lines_quantity_and_nothing_is_written(alice_client, shippable_po):
    data = _form_data(shippable_po, lines={10: {"quantity": "10"}, 20: {"quantity": "64"}})
    response = alice_client.post(CREATE, data)
    assert response.status_code == 400
    nuts = _line_form(response, shippable_po, 20)
    assert "your tolerance allows at most 63" in nuts.errors["quantity"][0]
    assert not _line_form(response, shippable_po, 10).errors
    body = response.content.decode()
    assert "The notice was not sent." in body
    assert f'href="#{nuts["quantity"].id_for_label}"' in body  # the summary links to the input
    assert 'value="64"' in body  # what was typed stays
    _nothing_written(shippable_po)


@pytest.mark.parametrize(
    ("header", "field", "message"),
    [
        ({"number": ""}, "number", "This field is required."),
        ({"number": "bad number!"}, "number", "Use up to 30 letters"),
        ({"ship_date": (TODAY - dt.timedelta(days=40)).isoformat()}, "ship_date", "more than 30 days ago"),
        (
            {"estimated_arrival": (TODAY - dt.timedelta(days=1)).isoformat()},
            "estimated_arrival",
            "before the ship date",
        ),
        ({"carrier_scac": "U1"}, "carrier_scac", "A SCAC code is 2 to 4 capital letters"),
        ({"ship_date": "not a date"}, "ship_date", "Enter a valid date."),
    ],
)
def test_header_errors_land_on_their_field(alice_client, shippable_po, header, field, message):
    response = alice_client.post(CREATE, _form_data(shippable_po, lines={10: {"quantity": "5"}}, **header))
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].header.errors[field])
    _nothing_written(shippable_po)


def test_a_number_already_sent_is_refused_on_the_number(alice_client, supplier, shippable_po):
    _submit(supplier, _loose("ASN-100"))
    response = alice_client.post(CREATE, _form_data(shippable_po, lines={20: {"quantity": "5"}}))
    assert "You already sent shipment notice ASN-100" in response.context["form"].header.errors["number"][0]
    assert ShipmentNotice.objects.count() == 1


def test_line_errors_land_on_the_lines_inputs(alice_client, shippable_po):
    Item.objects.filter(sku="SKU-NUT").update(lot_controlled=True, expiry_controlled=True)
    data = _form_data(
        shippable_po,
        lines={
            10: {"quantity": "5", "expiry_date": TODAY.isoformat(), "package_ref": "NOPE"},
            20: {"quantity": "5"},
        },
    )
    response = alice_client.post(CREATE, data)
    bolts, nuts = _line_form(response, shippable_po, 10), _line_form(response, shippable_po, 20)
    assert bolts.errors == {
        "expiry_date": ["The goods would expire by the ship date."],
        "package_ref": ["There is no package NOPE."],
    }
    assert nuts.errors == {
        "lot_number": ["Item SKU-NUT needs a lot or batch number."],
        "expiry_date": ["Item SKU-NUT needs an expiry date."],
    }
    _nothing_written(shippable_po)


def test_a_row_with_a_lot_but_no_quantity_asks_for_the_quantity(alice_client, shippable_po):
    response = alice_client.post(
        CREATE, _form_data(shippable_po, lines={10: {"quantity": "5"}, 20: {"lot_number": "L1"}})
    )
    assert _line_form(response, shippable_po, 20).errors == {
        "quantity": ["Give the quantity shipped, or clear this row."]
    }
    _nothing_written(shippable_po)


def test_a_notice_without_lines_says_so_above_the_lines(alice_client, shippable_po):
    response = alice_client.post(CREATE, _form_data(shippable_po))
    assert response.context["form"].lines_errors == ["A shipment notice needs at least one line."]
    assert "A shipment notice needs at least one line." in response.content.decode()
    _nothing_written(shippable_po)


def test_a_line_that_stopped_being_shippable_is_still_shown_with_its_error(alice_client, shippable_po):
    data = _form_data(shippable_po, lines={10: {"quantity": "5"}, 20: {"quantity": "5"}})
    PurchaseOrderLine.objects.filter(po=shippable_po, line_number=20).update(status=LineStatus.CLOSED)
    response = alice_client.post(CREATE, data)
    nuts = _line_form(response, shippable_po, 20)
    assert "only acknowledged lines can ship" in nuts.non_field_errors()[0]
    assert "only acknowledged lines can ship" in response.content.decode()
    _nothing_written(shippable_po)


def test_package_errors_land_on_the_package_rows(alice_client, shippable_po):
    wrong_check_digit = PALLET_SSCC[:-1] + str((int(PALLET_SSCC[-1]) + 1) % 10)
    packages = [
        {"ref": "C9", "kind": "carton", "sscc": wrong_check_digit, "parent_ref": "P1"},  # listed before its pallet
        {"ref": "P1", "kind": "pallet"},
        {"ref": "C2", "parent_ref": "P7"},
        {"ref": "C2"},
        {"sscc": CARTON_2_SSCC},
    ]
    data = _form_data(shippable_po, lines={10: {"quantity": "5", "package_ref": "C9"}}, packages=packages)
    response = alice_client.post(CREATE, data)
    rows = response.context["form"].package_rows
    assert "Name the package" in rows[4].errors["ref"][0]  # the form's own check first
    del data["package-4-sscc"]
    response = alice_client.post(CREATE, data)
    rows = response.context["form"].package_rows
    assert "check digit" in rows[0].errors["sscc"][0]
    assert not rows[1].errors
    assert rows[2].errors["parent_ref"] == ["There is no package P7 to hold it."]
    assert rows[3].errors["ref"] == ["Package C2 appears twice."]
    _nothing_written(shippable_po)


def test_an_sscc_on_another_active_notice_is_refused(alice_client, supplier, shippable_po):
    _submit(supplier)
    packages = [{"ref": "C1", "sscc": CARTON_1_SSCC}]
    response = alice_client.post(CREATE, _form_data(shippable_po, lines={10: {"quantity": "1"}}, packages=packages))
    assert response.context["form"].packages_errors == [f"SSCC {CARTON_1_SSCC} is already on shipment notice ASN-1."]
    assert ShipmentNotice.objects.count() == 1


# --- detail --------------------------------------------------------------------------------------


def test_the_detail_shows_the_package_tree_with_readable_ssccs_and_the_lines(alice_client, supplier, shippable_po):
    notice = _submit(supplier, pallet_of_two_cartons(bolts="60", nuts="60"))
    response = alice_client.get(detail(notice))
    assert response.status_code == 200
    body = response.content.decode()
    tree = body[body.index('class="package-tree"') : body.index("<h2>Lines</h2>")]
    pallet = gs1.sscc_human_readable(PALLET_SSCC, company_prefix_length=7)
    assert pallet.startswith("(00) 0 0614141 000900001 ")
    positions = [
        tree.index(text)
        for text in (pallet, "holds 2 packages", CARTON_1_SSCC[8:17], "SKU-BOLT", CARTON_2_SSCC[8:17], "SKU-NUT")
    ]
    assert positions == sorted(positions)
    assert tree.count("<ul>") == 3  # the pallet holds the cartons, each carton holds a line
    assert "Print labels" in body
    assert "Correct (replace)" in body
    assert "Cancel notice" in body
    assert "Not yet" in body  # nothing received


def test_received_quantities_and_variance_show_per_line(alice_client, supplier, shippable_po):
    notice = _submit(supplier)
    notice.lines.filter(po_line__line_number=10).update(received_quantity=58)
    notice.lines.filter(po_line__line_number=20).update(received_quantity=60)
    ShipmentNotice.objects.filter(pk=notice.pk).update(status=ShipmentStatus.RECEIVED, received_at=timezone.now())
    body = alice_client.get(detail(notice)).content.decode()
    assert "-2 short" in body
    assert "The warehouse received goods against this notice." in body
    assert "Correct (replace)" not in body
    assert "Cancel notice" not in body


def test_a_notice_without_packages_has_no_labels(alice_client, supplier, shippable_po):
    notice = _submit(supplier, _loose("LOOSE-1"))
    body = alice_client.get(detail(notice)).content.decode()
    assert "Print labels" not in body
    assert "the lines ship loose" in body
    assert alice_client.get(reverse("purchasing:shipment-labels", args=[notice.pk])).status_code == 404


def test_a_buyer_reads_a_notice_and_prints_its_labels_but_cannot_change_it(buyer_client, supplier, shippable_po):
    notice = _submit(supplier)
    body = buyer_client.get(detail(notice)).content.decode()
    assert "Print labels" in body
    assert "Correct (replace)" not in body
    assert "Cancel notice" not in body
    assert buyer_client.get(reverse("purchasing:shipment-labels", args=[notice.pk])).status_code == 200
    assert buyer_client.get(reverse("purchasing:shipment-replace", args=[notice.pk])).status_code == 404
    cancel = buyer_client.post(reverse("purchasing:shipment-cancel", args=[notice.pk]), {"reason": "no"})
    assert cancel.status_code == 404
    notice.refresh_from_db()
    assert notice.status == ShipmentStatus.IN_TRANSIT


# --- cancel --------------------------------------------------------------------------------------


def test_cancelling_needs_a_reason(alice_client, supplier, shippable_po):
    notice = _submit(supplier)
    response = alice_client.post(reverse("purchasing:shipment-cancel", args=[notice.pk]), {"reason": "  "})
    assert response.status_code == 400
    assert response.context["cancel_form"].errors == {"reason": ["Say why the notice is cancelled."]}
    assert '<details class="cancel-notice" open>' in response.content.decode()
    notice.refresh_from_db()
    assert notice.status == ShipmentStatus.IN_TRANSIT


def test_cancelling_withdraws_the_notice_and_frees_its_quantities(alice_client, supplier, shippable_po):
    notice = _submit(supplier)
    url = reverse("purchasing:shipment-cancel", args=[notice.pk])
    response = alice_client.post(url, {"reason": "Truck broke down"}, follow=True)
    assert response.redirect_chain == [(detail(notice), 302)]
    body = response.content.decode()
    assert "Shipment notice ASN-1 is cancelled" in body
    assert "Truck broke down" in body
    assert "Cancel notice" not in body
    assert "Correct (replace)" not in body
    notice.refresh_from_db()
    assert notice.status == ShipmentStatus.CANCELLED
    assert _line(shippable_po, 10).shipped_quantity == 0
    again = alice_client.post(url, {"reason": "twice"}, follow=True)
    assert "can no longer change" in again.content.decode()


def test_cancel_answers_only_a_post(alice_client, supplier, shippable_po):
    notice = _submit(supplier)
    assert alice_client.get(reverse("purchasing:shipment-cancel", args=[notice.pk])).status_code == 405


# --- correct (replace) ---------------------------------------------------------------------------


def test_correcting_starts_from_the_notice(alice_client, supplier, shippable_po):
    notice = _submit(supplier)
    response = alice_client.get(reverse("purchasing:shipment-replace", args=[notice.pk]))
    assert response.status_code == 200
    form = response.context["form"]
    assert "number" not in form.header.fields
    assert form.header["tracking_number"].value() == "1Z999"
    assert [
        (row["ref"].value(), row["kind"].value(), row["sscc"].value(), row["parent_ref"].value())
        for row in form.package_rows
    ] == [
        ("P1", "pallet", PALLET_SSCC, ""),
        ("C1", "carton", CARTON_1_SSCC, "P1"),
        ("C2", "carton", CARTON_2_SSCC, "P1"),
        (None, "carton", None, None),
    ]
    bolts = _line_form(response, shippable_po, 10)
    assert (bolts["quantity"].value(), bolts["package_ref"].value()) == ("60", "C1")
    # Its own 60 are free again for the correction: 100 ordered, 60 shipped on this very notice.
    assert form.groups[0].remaining == 100
    assert "Correct shipment notice ASN-1" in response.content.decode()


def test_a_correction_replaces_the_notice(alice_client, supplier, shippable_po):
    old = _submit(supplier)
    data = _form_data(
        shippable_po,
        lines={10: {"quantity": "100", "package_ref": "C1"}, 20: {"quantity": "30", "package_ref": "C2"}},
        packages=[
            {"ref": "P1", "kind": "pallet", "sscc": PALLET_SSCC},
            {"ref": "C1", "sscc": CARTON_1_SSCC, "parent_ref": "P1"},
            {"ref": "C2", "sscc": CARTON_2_SSCC, "parent_ref": "P1"},
        ],
    )
    del data["number"]
    response = alice_client.post(reverse("purchasing:shipment-replace", args=[old.pk]), data, follow=True)
    new = ShipmentNotice.objects.get(replaces=old)
    assert response.redirect_chain == [(detail(new), 302)]
    assert "Shipment notice ASN-1 corrected" in response.content.decode()
    assert new.number == "ASN-1"
    old.refresh_from_db()
    assert old.status == ShipmentStatus.REPLACED
    assert (_line(shippable_po, 10).shipped_quantity, _line(shippable_po, 20).shipped_quantity) == (100, 30)
    assert "earlier version of ASN-1" in response.content.decode()
    old_page = alice_client.get(detail(old)).content.decode()
    assert "Replaced" in old_page
    assert detail(new) in old_page


def test_a_refused_correction_keeps_the_old_notice(alice_client, supplier, shippable_po):
    old = _submit(supplier)
    data = _form_data(shippable_po, lines={20: {"quantity": "64"}})
    response = alice_client.post(reverse("purchasing:shipment-replace", args=[old.pk]), data)
    assert response.status_code == 400
    assert "63" in _line_form(response, shippable_po, 20).errors["quantity"][0]
    assert "The correction was not sent." in response.content.decode()
    old.refresh_from_db()
    assert old.status == ShipmentStatus.IN_TRANSIT
    assert ShipmentNotice.objects.count() == 1
    assert _line(shippable_po, 20).shipped_quantity == 60


def test_a_cancelled_notice_cannot_be_corrected(alice_client, supplier, shippable_po, supplier_user):
    notice = _submit(supplier)
    shipment_notice_cancel(notice=notice, by=supplier_user, reason="gone", channel="web")
    response = alice_client.get(reverse("purchasing:shipment-replace", args=[notice.pk]), follow=True)
    assert response.redirect_chain == [(detail(notice), 302)]
    assert "it can no longer be corrected" in response.content.decode()


# --- labels --------------------------------------------------------------------------------------


def test_labels_are_a_page_per_package_with_the_notices_data(alice_client, supplier, shippable_po):
    notice = _submit(supplier, pallet_of_two_cartons(bill_of_lading="BOL-7"))
    response = alice_client.get(reverse("purchasing:shipment-labels", args=[notice.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'inline; filename="ASN-ASN-1-labels.pdf"'
    pallet, first, second = page_contents(response.content)
    assert [decode(bars_in(page)) for page in (pallet, first, second)] == [
        "]C100" + PALLET_SSCC,
        "]C100" + CARTON_1_SSCC,
        "]C100" + CARTON_2_SSCC,
    ]
    text = page_text(pallet)
    for expected in (
        "Acme Industrial Supply",
        "East warehouse (WH-EAST)",
        "UPS",
        "Tracking 1Z999",
        "B/L BOL-7",
        "ASN ASN-1",
        "PO PO-200001",
        "PALLET",
        "1 OF 1",
    ):
        assert expected in text, expected
    assert "SKU-BOLT" in text
    assert "SKU-NUT" in text
    assert "(00) 0 0614141 000900001" in text
    second_text = page_text(second)
    assert "2 OF 2" in second_text
    assert "SKU-NUT" in second_text
    assert "SKU-BOLT" not in second_text


def test_a_label_file_name_never_carries_a_slash(alice_client, supplier, shippable_po):
    notice = _submit(supplier, pallet_of_two_cartons("2026/0042"))
    response = alice_client.get(reverse("purchasing:shipment-labels", args=[notice.pk]))
    assert response["Content-Disposition"] == 'inline; filename="ASN-2026-0042-labels.pdf"'


# --- isolation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("purchasing:shipment-detail", "get"),
        ("purchasing:shipment-labels", "get"),
        ("purchasing:shipment-replace", "get"),
        ("purchasing:shipment-replace", "post"),
        ("purchasing:shipment-cancel", "post"),
    ],
)
def test_an_outsider_gets_404_on_every_view_of_a_notice(bob_client, supplier, shippable_po, name, method):
    notice = _submit(supplier)
    data = _form_data(shippable_po, lines={10: {"quantity": "1"}}) | {"reason": "mine now"}
    response = getattr(bob_client, method)(reverse(name, args=[notice.pk]), data if method == "post" else None)
    assert response.status_code == 404
    notice.refresh_from_db()
    assert notice.status == ShipmentStatus.IN_TRANSIT


def test_an_outsider_neither_lists_nor_preselects_another_suppliers_po(bob_client, supplier, shippable_po):
    _submit(supplier)
    assert b"ASN-1" not in bob_client.get(LIST).content
    response = bob_client.get(CREATE, {"po": "PO-200001"})
    assert response.status_code == 200
    assert b"PO-200001" not in response.content
    data = _form_data(shippable_po, lines={10: {"quantity": "1"}})
    response = bob_client.post(CREATE, data | {"supplier": "ACME"})
    assert response.status_code in (200, 400)
    assert ShipmentNotice.objects.count() == 1


def test_anonymous_users_are_sent_to_sign_in(client):
    response = client.get(LIST)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


# --- the PO's page -------------------------------------------------------------------------------


def test_the_po_page_shows_shipped_received_accrual_and_the_way_to_its_notices(alice_client, supplier, shippable_po):
    _submit(supplier)
    PurchaseOrderLine.objects.filter(po=shippable_po, line_number=20).update(received_quantity=60)
    body = alice_client.get(reverse("purchasing:po-detail", args=["PO-200001"])).content.decode()
    bolts = body[body.index('id="line-10"') : body.index('id="line-20"')]
    nuts = body[body.index('id="line-20"') : body.index("</tbody>")]
    assert "Ready for accrual" in bolts
    assert "Ready for accrual" not in nuts
    assert re.search(r'<td class="num">60</td>\s*<td class="num">0</td>', bolts)
    assert re.search(r'<td class="num">60</td>\s*<td class="num">60</td>', nuts)
    assert f'hx-get="{LIST}?po=PO-200001"' in body
    assert f'href="{LIST}?po=PO-200001"' in body
    assert f'href="{CREATE}?po=PO-200001"' in body  # partially shipped: more can ship


def test_only_supplier_users_get_the_create_link_and_only_on_a_shippable_po(
    alice_client, buyer_client, po, shippable_po
):
    link = f'href="{CREATE}?po=PO-200001"'
    assert link in alice_client.get(reverse("purchasing:po-detail", args=["PO-200001"])).content.decode()
    assert link not in buyer_client.get(reverse("purchasing:po-detail", args=["PO-200001"])).content.decode()
    issued = alice_client.get(reverse("purchasing:po-detail", args=[po.number])).content.decode()
    assert "Create shipment notice" not in issued
    assert "shipments/?po=" not in issued


def test_the_pos_notices_load_into_its_page(alice_client, supplier, shippable_po):
    _submit(supplier)
    response = alice_client.get(LIST, {"po": "PO-200001"}, headers={"HX-Request": "true"})
    assert _numbers(response) == ["ASN-1"]
    assert 'class="muted po-filter-note"' in response.content.decode()
