"""The history page: buyers see who changed what and when; suppliers get 404."""

import re

import pgtrigger
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from config.audit import context
from purchasing.models import LineStatus, PurchaseOrderLine
from suppliers.models import Supplier
from suppliers.services import api_key_create
from tests.factories import ExceptionCaseFactory, SupplierFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("portal_defaults")]


def _rows(response) -> list[str]:
    body = response.content.decode()
    return [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ][1:]


def test_the_po_history_shows_who_changed_what_newest_first(po, alice_client, buyer_client):
    alice_client.post(
        reverse("purchasing:po-accept-all", args=[po.number]),
        {"version": po.version},
        headers={"X-Request-ID": "req-accept-1"},
        REMOTE_ADDR="203.0.113.7",
    )
    response = buyer_client.get(reverse("audit:po-history", args=[po.number]))
    assert response.status_code == 200
    rows = _rows(response)
    assert any(
        "Purchase order PO-100001 changed" in row
        and "Status: Issued → Acknowledged" in row
        and "alice@example.com" in row
        and "Web" in row
        and "203.0.113.7" in row
        and "req-accept-1" in row
        for row in rows
    ), rows
    assert any("Line 10 changed" in row and "Status: Awaiting acknowledgement → Acknowledged" in row for row in rows)
    assert any("Answer for line 20 created" in row for row in rows)
    # Ids are shown as what people know: the PO line's number, the user's e-mail.
    assert any(row.split(" ", 4)[4].startswith("Line 20, delivery 2 created Line: line 20 ") for row in rows)
    assert "Buyer: charlie@example.com" in rows[-1]
    # ...and the supplier, site and item by their codes and SKU.
    assert f"Supplier: {po.supplier.code}" in rows[-1]
    assert f"Ship to: {po.site.code}" in rows[-1] or f"Site: {po.site.code}" in rows[-1]
    line_10 = po.lines.get(line_number=10)
    assert any(f"Item: {line_10.item.sku}" in row for row in rows if row.split(" ", 4)[4].startswith("Line 10 created"))
    # The fixture's rows, created first and outside any request: recorded, with no context.
    assert rows[-1].split(" ", 4)[4].startswith("Purchase order PO-100001 created")
    assert "unknown (no context" in rows[-1]
    # Newest first: the acceptance marks the PO acknowledged last of all its writes.
    assert rows[0].split(" ", 4)[4].startswith("Purchase order PO-100001 changed")


def test_the_po_page_links_buyers_to_its_history(po, buyer_client, alice_client):
    url = reverse("audit:po-history", args=[po.number])
    assert url in buyer_client.get(reverse("purchasing:po-detail", args=[po.number])).content.decode()
    assert url not in alice_client.get(reverse("purchasing:po-detail", args=[po.number])).content.decode()


def test_suppliers_get_404_even_for_their_own_objects(po, supplier, supplier_user, alice_client, bob_client):
    case = ExceptionCaseFactory.create(po=po)
    api_key, _ = api_key_create(supplier=supplier, name="erp", scopes=["orders:read"], by=None, expires_at=None)
    membership = supplier_user.memberships.get()
    urls = [
        reverse("audit:po-history", args=[po.number]),
        reverse("audit:case-history", args=[case.pk]),
        reverse("audit:api-key-history", args=[api_key.pk]),
        reverse("audit:membership-history", args=[membership.pk]),
    ]
    for url in urls:
        assert alice_client.get(url).status_code == 404, url
        assert bob_client.get(url).status_code == 404, url


def test_an_unknown_object_is_404_for_buyers_too(buyer_client):
    assert buyer_client.get(reverse("audit:po-history", args=["PO-NOPE"])).status_code == 404
    assert buyer_client.get(reverse("audit:shipment-history", args=[999999])).status_code == 404


def test_the_history_pages_by_keyset_in_constant_queries(po, buyer_client, settings):
    settings.SUPPLYLINE_PAGE_SIZE = 3
    url = reverse("audit:po-history", args=[po.number])

    def queries_of(path: str) -> tuple[int, object]:
        with CaptureQueriesContext(connection) as captured:
            response = buyer_client.get(path)
        assert response.status_code == 200
        return len(captured), response

    for n in range(12):
        with context.opened(channel=context.Channel.COMMAND, command=f"bump-{n}"):
            PurchaseOrderLine.objects.filter(po=po).update(
                status=LineStatus.CANCELLED if n % 2 else LineStatus.ISSUED, ordered_quantity=100 + n
            )
    # A page of one change and a page of ten cost the same: a query per row would show here.
    settings.SUPPLYLINE_PAGE_SIZE = 1
    few, single = queries_of(url)
    assert len(_rows(single)) == 1
    settings.SUPPLYLINE_PAGE_SIZE = 10
    many, full = queries_of(url)
    assert len(_rows(full)) == 10
    assert many == few
    settings.SUPPLYLINE_PAGE_SIZE = 3
    _, page = queries_of(url)
    seen = _rows(page)
    assert len(seen) == 3
    assert "bump-11" in seen[0]
    older = re.search(r'rel="next" href="\?after=([^"]+)"', page.content.decode())
    assert older is not None
    _, second = queries_of(f"{url}?after={older.group(1)}")
    next_rows = _rows(second)
    assert len(next_rows) == 3
    assert not set(next_rows) & set(seen)
    assert "bump-10" in next_rows[1] or "bump-10" in next_rows[0]
    newer = re.search(r'rel="prev" href="\?before=([^"]+)"', second.content.decode())
    assert newer is not None
    assert _rows(buyer_client.get(f"{url}?before={newer.group(1)}")) == seen


def test_a_bad_cursor_shows_the_newest_changes_with_a_warning(po, buyer_client):
    response = buyer_client.get(reverse("audit:po-history", args=[po.number]) + "?after=not-a-cursor")
    assert response.status_code == 200
    assert "That page link is not valid." in response.content.decode()
    assert _rows(response)


def test_the_case_and_asn_pages_link_to_their_history(po, shippable_po, buyer_client, supplier_user):
    from decimal import Decimal

    from django.utils import timezone

    from purchasing import services
    from purchasing.documents.shapes import ShipmentInput, ShipmentLineInput

    notice = services.shipment_notice_submit(
        supplier=shippable_po.supplier,
        by=supplier_user,
        shipment=ShipmentInput(
            number="ASN-AUD-1",
            ship_date=timezone.localdate(),
            lines=(ShipmentLineInput(shippable_po.number, 10, Decimal(5)),),
        ),
        channel="web",
    )
    case = ExceptionCaseFactory.create(po=po)
    shipment_url = reverse("audit:shipment-history", args=[notice.pk])
    case_url = reverse("audit:case-history", args=[case.pk])
    assert shipment_url in buyer_client.get(reverse("purchasing:shipment-detail", args=[notice.pk])).content.decode()
    assert case_url in buyer_client.get(reverse("exceptions:case-detail", args=[case.pk])).content.decode()
    rows = _rows(buyer_client.get(shipment_url))
    assert any("ASN ASN-AUD-1 created" in row for row in rows)
    assert any("Notice line 1 created" in row for row in rows)
    assert any("Case #" in row for row in _rows(buyer_client.get(case_url)))


def test_the_supplier_history_shows_profile_contact_and_address_changes(supplier, alice_client, buyer_client):
    """The fraud-prone changes a supplier makes about itself (its address, tax id, contacts, ship-from
    addresses) are in the trail, with who made them; the SSCC counter's bumps are not changes anyone made."""
    profile = {
        "legal_name": "Acme Industrial Supply Ltd",
        "tax_id": "GB123456789",
        "po_email": "orders@acme.example",
        "address_line1": "1 Dock Road",
        "city": "Leeds",
        "postal_code": "LS1 4AP",
        "country": "GB",
        "default_currency": "GBP",
    }
    headers = {"X-Request-ID": "req-profile-1"}
    edit = alice_client.post(reverse("suppliers:profile-edit", args=[supplier.code]), profile, headers=headers)
    assert edit.status_code == 302
    contact = {"name": "Ann Sales", "function": "sales", "email": "ann@acme.example", "phone": ""}
    assert alice_client.post(reverse("suppliers:contact-create", args=[supplier.code]), contact).status_code == 302
    address = {"label": "Leeds warehouse", "line1": "2 Dock Road", "city": "Leeds", "country": "GB"}
    assert alice_client.post(reverse("suppliers:address-create", args=[supplier.code]), address).status_code == 302
    type(supplier).objects.filter(pk=supplier.pk).update(sscc_serial=41)  # a package labelled

    response = buyer_client.get(reverse("audit:supplier-history", args=[supplier.code]))
    assert response.status_code == 200
    rows = _rows(response)
    assert any(
        f"Supplier {supplier.code} changed" in row
        and "Tax or VAT id: GB123456789" in row
        and "Default currency: USD → GBP" in row
        and "alice@example.com" in row
        and "req-profile-1" in row
        for row in rows
    ), rows
    assert any("Contact Ann Sales (sales) created" in row and "alice@example.com" in row for row in rows), rows
    assert any("Ship-from address Leeds warehouse created" in row for row in rows), rows
    assert not any("sscc" in row.lower() for row in rows)


def test_the_supplier_history_is_the_buyers_and_the_profile_links_to_it(supplier, alice_client, buyer_client):
    url = reverse("audit:supplier-history", args=[supplier.code])
    assert alice_client.get(url).status_code == 404
    assert buyer_client.get(reverse("audit:supplier-history", args=["NOPE"])).status_code == 404
    profile = reverse("suppliers:profile", args=[supplier.code])
    assert url.encode() in buyer_client.get(profile).content
    assert url.encode() not in alice_client.get(profile).content


def test_a_row_older_than_the_trail_shows_no_column_the_trail_leaves_out(buyer_client):
    """Its first update has no earlier snapshot, so every copied field is shown: never one the event table
    does not copy (the SSCC counter here, an invitation's token hash, an API key's secret hash)."""
    with pgtrigger.ignore("suppliers.Supplier:audit_insert"):
        old = SupplierFactory.create(code="OLDCO")
    Supplier.objects.filter(pk=old.pk).update(sscc_serial=7, legal_name="Old Company Ltd")
    rows = _rows(buyer_client.get(reverse("audit:supplier-history", args=["OLDCO"])))
    assert len(rows) == 1
    assert "Supplier OLDCO changed" in rows[0]
    assert "Legal name: → Old Company Ltd" in rows[0] or "Legal name: Old Company Ltd" in rows[0]
    assert "SSCC" not in rows[0]
