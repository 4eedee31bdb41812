"""End to end in Chromium: a buyer filters the exceptions queue, claims a case, comments on it and resolves it."""

import datetime as dt

import pytest
from django.utils import timezone

from exceptions.models import CaseStatus, CaseType, ExceptionCase, Severity
from tests.factories import (
    DEMO_PASSWORD,
    BuyerFactory,
    ExceptionCaseFactory,
    PurchaseOrderFactory,
    SupplierFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def cases():
    buyer = BuyerFactory(email="bea@example.com", first_name="Bea")
    acme = SupplierFactory(code="ACME", name="Acme Industrial Supply", buyer=buyer)
    now = timezone.now()
    late_ack = ExceptionCaseFactory(
        po=PurchaseOrderFactory(supplier=acme, buyer=buyer, number="PO-300001"),
        type=CaseType.ACK_OVERDUE,
        title="PO-300001 not acknowledged",
        assignee=None,
        due_at=now - dt.timedelta(hours=3),
    )
    late_asn = ExceptionCaseFactory(
        po=PurchaseOrderFactory(supplier=acme, buyer=buyer, number="PO-300002"),
        type=CaseType.ASN_LATE,
        severity=Severity.HIGH,
        title="PO-300002 shipped without a shipment notice",
        assignee=None,
        due_at=now + dt.timedelta(hours=5),
    )
    return buyer, late_ack, late_asn


def _sign_in(browser, live_server, email):
    page = browser.new_context(viewport={"width": 1400, "height": 1800}).new_page()
    page.goto(f"{live_server.url}/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/buyer/")
    return page


def test_buyer_filters_the_queue_claims_a_case_and_resolves_it(browser, live_server, cases, shots):
    buyer, late_ack, late_asn = cases
    page = _sign_in(browser, live_server, buyer.email)
    page.get_by_role("link", name="Exceptions queue").click()
    page.get_by_role("heading", name="Exceptions queue").wait_for()
    rows = page.locator("#case-results tr[id^='case-']")
    assert rows.count() == 2
    assert "Overdue by 3 h" in page.locator(f"#case-{late_ack.pk}").inner_text()  # overdue first, with its timer
    assert rows.first.get_attribute("id") == f"case-{late_ack.pk}"
    shots(page, "queue")

    # Filtering swaps the results in place (htmx) and keeps the address shareable.
    page.get_by_label("Type", exact=True).select_option(label="Shipment notice late")
    page.locator(f"#case-{late_ack.pk}").wait_for(state="detached")
    assert "type=asn_late" in page.url
    assert rows.count() == 1
    shots(page, "filtered")

    # Claiming from the row swaps just the row.
    page.get_by_role("button", name=f"Claim case #{late_asn.pk}").click()
    page.locator(f"#case-{late_asn.pk}").get_by_text("You", exact=True).wait_for()
    assert page.get_by_role("button", name=f"Claim case #{late_asn.pk}").count() == 0
    shots(page, "claimed")

    page.get_by_role("link", name=f"#{late_asn.pk} PO-300002 shipped without a shipment notice").click()
    page.get_by_role("heading", name=f"Case #{late_asn.pk}: PO-300002 shipped without a shipment notice").wait_for()
    page.get_by_label("Comment", exact=True).fill("ACME says the truck left yesterday; ASN to follow.")
    page.get_by_role("button", name="Add comment").click()
    page.get_by_text("Comment added.").wait_for()
    page.get_by_text("ACME says the truck left yesterday; ASN to follow.").wait_for()
    shots(page, "commented")

    page.get_by_label("Resolution", exact=True).select_option(label="Supplier corrected it")
    page.get_by_label("Resolution note").fill("ASN-7001 received.")
    page.get_by_role("button", name="Resolve case").click()
    page.get_by_text("Resolved: Supplier corrected it.").wait_for()
    assert "Resolved" in page.locator(".title-row").inner_text()
    shots(page, "resolved")

    case = ExceptionCase.objects.get(pk=late_asn.pk)
    assert (case.status, case.resolution_code, case.resolution_note) == (
        CaseStatus.RESOLVED,
        "supplier_fixed",
        "ASN-7001 received.",
    )
    assert (case.assignee, case.resolved_by) == (buyer, buyer)
    assert list(case.activities.order_by("at", "id").values_list("kind", flat=True)) == [
        "claimed",
        "commented",
        "resolved",
    ]
    assert ExceptionCase.objects.get(pk=late_ack.pk).status == CaseStatus.OPEN


def test_buyer_assigns_the_ticked_cases_to_a_colleague(browser, live_server, cases, shots):
    buyer, late_ack, late_asn = cases
    BuyerFactory(email="lee@example.com", first_name="Lee", last_name="Park")
    page = _sign_in(browser, live_server, buyer.email)
    page.goto(f"{live_server.url}/exceptions/cases/")
    page.get_by_label(f"Select case #{late_ack.pk}").check()
    page.get_by_label(f"Select case #{late_asn.pk}").check()
    page.get_by_label("Assign selected to").select_option(label="Lee Park")
    page.get_by_role("button", name="Assign selected").click()
    page.get_by_text("Assigned 2 cases to Lee Park.").wait_for()
    assert page.locator(f"#case-{late_ack.pk}").get_by_text("Lee Park").count() == 1
    shots(page, "assigned-in-bulk")
    assert set(ExceptionCase.objects.values_list("assignee__email", flat=True)) == {"lee@example.com"}
