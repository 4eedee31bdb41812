"""In Chromium, the portal's pages (two-factor ones too) and the API docs run under the Content-Security-Policy
without a violation."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from exceptions.models import CaseType
from tests.factories import (
    DEMO_PASSWORD,
    BuyerFactory,
    ExceptionCaseFactory,
    PurchaseOrderFactory,
    PurchaseOrderLineFactory,
    SupplierFactory,
    SupplierMembershipFactory,
    UserFactory,
)
from tests.totp import totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Records every violation the page reports, from the first byte on.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI + " " + event.sourceFile);
});
"""


@pytest.fixture
def world():
    buyer = BuyerFactory(email="bea@example.com")
    acme = SupplierFactory(code="ACME", name="Acme Industrial Supply", buyer=buyer)
    SupplierMembershipFactory(user=UserFactory(email="alex@example.com"), supplier=acme)
    po = PurchaseOrderFactory(supplier=acme, buyer=buyer, number="PO-300001")
    PurchaseOrderLineFactory(
        po=po, line_number=10, unit_price=Decimal("12.5"), need_by_date=timezone.localdate() + dt.timedelta(days=30)
    )
    case = ExceptionCaseFactory(po=po, type=CaseType.ACK_OVERDUE, title="PO-300001 not acknowledged", assignee=None)
    return po, case


class Watched:
    """A page whose console errors and CSP violations are collected."""

    def __init__(self, browser, expected: tuple[str, ...] = ()):
        self.expected = expected
        context = browser.new_context(viewport={"width": 1400, "height": 1600})
        context.add_init_script(RECORD_VIOLATIONS)
        self.page = context.new_page()
        self.console: list[str] = []
        self.page.on("console", self._on_console)

    def _on_console(self, message) -> None:
        # Errors, and Chromium's CSP reports whatever their level; Redoc's warnings about our schema
        # are not the policy's business. The portal has no favicon: the browser asks for one itself.
        relevant = message.type == "error" or "Content Security Policy" in message.text
        if relevant and not message.location["url"].endswith("/favicon.ico"):
            self.console.append(f"{message.type}: {message.text}")

    def visit(self, url: str) -> None:
        self.page.goto(url)
        self.page.wait_for_load_state("networkidle")
        self.assert_clean()

    def assert_clean(self) -> None:
        unexpected = [
            report
            for report in self.page.evaluate("window.__cspViolations") + self.console
            if not any(allowed in report for allowed in self.expected)
        ]
        assert unexpected == [], self.page.url

    def sign_in(self, live_server, email: str) -> None:
        self.visit(f"{live_server.url}/accounts/login/")
        self.page.get_by_label("E-mail").fill(email)
        self.page.get_by_label("Password").fill(DEMO_PASSWORD)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_load_state("networkidle")
        self.assert_clean()


def test_buyer_pages_and_htmx_run_without_a_policy_violation(browser, live_server, world, shots):
    po, case = world
    buyer = Watched(browser)
    buyer.sign_in(live_server, "bea@example.com")
    for path in ("/pos/", f"/pos/{po.number}/", "/exceptions/kpis/", "/exceptions/cases/"):
        buyer.visit(f"{live_server.url}{path}")
    shots(buyer.page, "queue")

    # htmx still swaps: the queue's filter and a claim from the row.
    page = buyer.page
    page.get_by_label("Type", exact=True).select_option(label="Shipment notice late")
    page.locator(f"#case-{case.pk}").wait_for(state="detached")
    page.get_by_label("Type", exact=True).select_option(label="Acknowledgement overdue")
    page.get_by_role("button", name=f"Claim case #{case.pk}").click()
    page.locator(f"#case-{case.pk}").get_by_text("You", exact=True).wait_for()
    buyer.assert_clean()
    shots(page, "claimed")


def test_supplier_pages_run_without_a_policy_violation(browser, live_server, world):
    po, _case = world
    supplier = Watched(browser)
    supplier.sign_in(live_server, "alex@example.com")
    supplier.visit(f"{live_server.url}/pos/")
    supplier.visit(f"{live_server.url}/pos/{po.number}/")


def test_the_two_factor_pages_run_without_a_policy_violation(browser, live_server, world, settings, shots):
    settings.SUPPLYLINE_MFA_REQUIRED = True
    buyer = Watched(browser)
    buyer.sign_in(live_server, "bea@example.com")  # a buyer must enrol: the activation page, QR code and all
    page = buyer.page
    qr = page.get_by_role("img", name="QR code for your authenticator app")
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")
    page.get_by_label("Authenticator code").fill(totp_code(page.get_by_label("Authenticator secret").input_value()))
    page.get_by_role("button", name="Activate").click()
    page.get_by_role("heading", name="Recovery codes").wait_for()
    buyer.assert_clean()
    for name in (
        "mfa_index",
        "mfa_view_recovery_codes",
        "mfa_generate_recovery_codes",
        "mfa_deactivate_totp",
        "mfa_reauthenticate",
        "account_reauthenticate",
    ):
        buyer.visit(live_server.url + reverse(name))
        assert page.url == live_server.url + reverse(name)
    shots(page, "reauthenticate")


# Redoc always shows Redocly's logo from their CDN; the policy blocks it (the docs load nothing from
# other hosts) and Redoc hides the broken image.
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.mark.parametrize(
    ("path", "ready", "expected"),
    [("/api/docs/", ".swagger-ui .info .title", ()), ("/api/redoc/", "h1", (REDOC_LOGO,))],
    ids=["swagger-ui", "redoc"],
)
def test_api_docs_render_under_the_policy(browser, live_server, path, ready, expected, shots):
    docs = Watched(browser, expected)
    docs.page.goto(f"{live_server.url}{path}")
    docs.page.locator(ready).first.wait_for()
    assert "Supplyline API" in docs.page.locator(ready).first.inner_text()
    docs.page.wait_for_load_state("networkidle")
    docs.assert_clean()
    shots(docs.page, path.strip("/").replace("/", "-"))
