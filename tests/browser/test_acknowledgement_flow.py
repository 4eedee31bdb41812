"""End to end in Chromium: a supplier answers a PO line by line, the buyer approves a price."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from purchasing.models import AcknowledgementLine, LineStatus, POStatus
from tests.factories import (
    DEMO_PASSWORD,
    BuyerFactory,
    PurchaseOrderFactory,
    PurchaseOrderLineFactory,
    SupplierFactory,
    SupplierMembershipFactory,
    UserFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
NEED_BY = timezone.localdate() + dt.timedelta(days=30)


@pytest.fixture
def order():
    buyer = BuyerFactory(email="bea@example.com")
    acme = SupplierFactory(code="ACME", name="Acme Industrial Supply", buyer=buyer)
    SupplierMembershipFactory(user=UserFactory(email="alex@example.com", first_name="Alex"), supplier=acme)
    po = PurchaseOrderFactory(supplier=acme, buyer=buyer, number="PO-300001")
    for number in (10, 20, 30, 40):
        PurchaseOrderLineFactory(
            po=po, line_number=number, ordered_quantity=60, unit_price=Decimal("12.5"), need_by_date=NEED_BY
        )
    return po


def _sign_in(browser, live_server, email):
    page = browser.new_context(viewport={"width": 1280, "height": 2400}).new_page()
    page.goto(f"{live_server.url}/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/supplier/" if "alex" in email else "**/buyer/")
    return page


def test_supplier_answers_line_by_line_and_buyer_approves_the_price(browser, live_server, order, shots):
    supplier = _sign_in(browser, live_server, "alex@example.com")
    supplier.goto(f"{live_server.url}/pos/{order.number}/")
    shots(supplier, "supplier-sees-new-po")
    supplier.get_by_role("link", name="Answer line by line").click()

    line = lambda n: supplier.get_by_role("group", name=f"Line {n} ·")  # noqa: E731
    line(10).get_by_label("Accept").check()
    line(20).get_by_label("Change").check()
    line(20).get_by_label("Line 20 delivery 1 date").fill((NEED_BY + dt.timedelta(days=1)).isoformat())
    line(30).get_by_label("Change").check()
    line(30).get_by_label("Line 30 delivery 1 quantity").fill("35")
    line(30).get_by_text("Split line 30 into more deliveries").click()
    line(30).get_by_label("Line 30 delivery 2 quantity").fill("25")
    line(30).get_by_label("Line 30 delivery 2 date").fill((NEED_BY + dt.timedelta(days=2)).isoformat())
    line(40).get_by_label("Change").check()
    line(40).get_by_label("Unit price for line 40").fill("15")
    shots(supplier, "supplier-fills-answers")
    supplier.get_by_role("button", name="Send acknowledgement").click()

    supplier.get_by_text("Acknowledgement sent: 3 lines applied, 1 waiting for the buyer's review.").wait_for()
    shots(supplier, "supplier-sent-answers")
    order.refresh_from_db()
    assert order.status == POStatus.CHANGES_PENDING
    assert order.lines.get(line_number=30).schedule_lines.count() == 2

    buyer = _sign_in(browser, live_server, "bea@example.com")
    buyer.get_by_role("link", name="Proposals").click()
    shots(buyer, "buyer-sees-proposal")
    buyer.get_by_role("button", name=f"Approve {order.number} line 40").click()
    buyer.get_by_text("Approved by buyer").wait_for()
    shots(buyer, "buyer-approved-price")

    supplier.goto(f"{live_server.url}/pos/{order.number}/")
    supplier.get_by_text("Buyer approved the supplier's change of line 40.").wait_for()
    shots(supplier, "supplier-sees-result")
    row = supplier.locator("#line-40")
    assert "15" in row.inner_text()
    assert "Acknowledged" in supplier.locator(".title-row").inner_text()
    order.refresh_from_db()
    assert order.status == POStatus.ACKNOWLEDGED
    assert order.lines.get(line_number=40).unit_price == 15
    assert set(order.lines.values_list("status", flat=True)) == {LineStatus.ACKNOWLEDGED}
    assert AcknowledgementLine.objects.get(line__line_number=40).outcome == AcknowledgementLine.Outcome.APPROVED
