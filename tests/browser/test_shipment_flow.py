"""End to end in Chromium: a supplier ships a pallet of two cartons against a PO and prints the labels."""

import re

import pytest

from purchasing.models import ShipmentNotice, ShipmentStatus
from tests.factories import DEMO_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in(browser, live_server, email):
    page = browser.new_context(viewport={"width": 1280, "height": 1500}).new_page()
    page.goto(f"{live_server.url}/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/supplier/")
    return page


def test_supplier_ships_a_pallet_of_two_cartons_and_prints_the_labels(
    browser, live_server, shippable_po, supplier_user, shots
):
    page = _sign_in(browser, live_server, supplier_user.email)
    page.goto(f"{live_server.url}/pos/{shippable_po.number}/")
    page.get_by_role("link", name="Create shipment notice").click()
    page.get_by_role("heading", name="New shipment notice").wait_for()

    # The PO's lines come filled in with what is left to ship.
    assert page.get_by_label("PO-200001 line 10 quantity", exact=True).input_value() == "100"
    page.get_by_label("ASN number").fill("ASN-9001")
    page.get_by_label("Carrier SCAC").fill("upsn")
    page.get_by_label("Carrier name").fill("UPS")
    page.get_by_label("Tracking number").fill("1Z999AA10123456784")
    page.get_by_label("PO-200001 line 10 quantity", exact=True).fill("60")
    page.get_by_label("PO-200001 line 10 package", exact=True).fill("C1")
    page.get_by_label("PO-200001 line 20 package", exact=True).fill("C2")

    # "Split" and "Add package" add rows through htmx; rows left empty are ignored.
    page.get_by_role("button", name="Split PO-200001 line 10 over another package or lot").click()
    page.get_by_label("PO-200001 line 10 (2) quantity", exact=True).wait_for()
    page.get_by_role("button", name="Add package").click()
    page.get_by_label("Package 4 reference", exact=True).wait_for()
    page.get_by_role("button", name="Add package").click()
    page.get_by_label("Package 5 reference", exact=True).wait_for()

    for number, (ref, kind, inside) in enumerate(
        (("P1", "pallet", ""), ("C1", "carton", "P1"), ("C2", "carton", "P1")), 1
    ):
        page.get_by_label(f"Package {number} reference", exact=True).fill(ref)
        page.get_by_label(f"Package {number} kind", exact=True).select_option(kind)
        page.get_by_label(f"Package {number} inside", exact=True).fill(inside)
    page.get_by_label("ASN number").scroll_into_view_if_needed()
    shots(page, "create-form")
    page.get_by_role("button", name="Send shipment notice").click()

    page.get_by_text("Shipment notice ASN-9001 sent: 2 lines in 3 packages.").wait_for()
    page.get_by_role("heading", name="Shipment notice ASN-9001").wait_for()
    shots(page, "detail")
    tree = page.locator(".package-tree")
    pallet = tree.locator(":scope > li")
    assert pallet.locator(":scope > .package").inner_text().startswith("Pallet")
    cartons = pallet.locator(":scope > ul > li")
    assert cartons.count() == 2
    assert "SKU-BOLT" in cartons.nth(0).inner_text()
    assert "SKU-NUT" in cartons.nth(1).inner_text()
    assert re.search(r"\(00\) 0 0614141 \d{9} \d", tree.inner_text())

    notice = ShipmentNotice.objects.get(number="ASN-9001")
    assert notice.status == ShipmentStatus.IN_TRANSIT
    assert notice.carrier_scac == "UPSN"
    href = page.get_by_role("link", name="Print labels").get_attribute("href")
    labels = page.request.get(f"{live_server.url}{href}")
    assert labels.status == 200
    assert labels.headers["content-type"] == "application/pdf"
    assert labels.headers["content-disposition"] == 'inline; filename="ASN-ASN-9001-labels.pdf"'
    pdf = labels.body()
    assert pdf.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type /Page\b(?!s)", pdf)) == 3  # the pallet and its two cartons

    # The PO's page now shows the quantities shipped and loads its notices.
    page.get_by_role("link", name="PO-200001").first.click()
    page.locator(".po-shipments").get_by_role("link", name="ASN-9001").wait_for()
    assert "Ready for accrual" in page.locator("#line-10").inner_text()
    shots(page, "po-after-shipping")
