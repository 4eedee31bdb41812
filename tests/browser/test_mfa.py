"""A buyer is made to enrol in TOTP on signing in, then signs in with a code, and once with a recovery code."""

import pytest
from django.urls import reverse

from tests.browser.test_csp import Watched
from tests.factories import BuyerFactory
from tests.totp import totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _mfa_required(settings):
    settings.SUPPLYLINE_MFA_REQUIRED = True


def _password_step(watched: Watched, live_server, email: str) -> None:
    watched.sign_in(live_server, email)
    assert watched.page.get_by_role("heading", name="Two-factor authentication").is_visible()


def _code_step(watched: Watched, code: str) -> None:
    page = watched.page
    page.get_by_label("Code").fill(code)
    page.get_by_role("button", name="Verify").click()
    page.wait_for_load_state("networkidle")
    watched.assert_clean()


def _sign_out(watched: Watched) -> None:
    watched.page.get_by_role("button", name="Sign out").click()
    watched.page.get_by_role("heading", name="Sign in to Supplyline").wait_for()


def test_a_buyer_enrols_in_totp_and_signs_in_with_it(browser, live_server, shots):
    BuyerFactory(email="bea@example.com")
    buyer = Watched(browser)
    page = buyer.page
    buyer.sign_in(live_server, "bea@example.com")

    # Made to enrol: every portal page leads back to the activation page.
    assert page.url == live_server.url + reverse("mfa_activate_totp")
    buyer.visit(f"{live_server.url}/pos/")
    assert page.url == live_server.url + reverse("mfa_activate_totp")
    qr = page.get_by_role("img", name="QR code for your authenticator app")
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0"), "the QR code must display under the CSP"
    shots(page, "enrol")

    secret = page.get_by_label("Authenticator secret").input_value()
    page.get_by_label("Authenticator code").fill(totp_code(secret))
    page.get_by_role("button", name="Activate").click()
    page.get_by_role("heading", name="Recovery codes").wait_for()
    buyer.assert_clean()
    codes = page.locator(".recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    shots(page, "recovery-codes")
    page.get_by_role("link", name="Continue to Supplyline").click()
    page.wait_for_load_state("networkidle")
    assert page.url == live_server.url + reverse("suppliers:buyer-home")
    _sign_out(buyer)

    # Password, then the app's code.
    _password_step(buyer, live_server, "bea@example.com")
    shots(page, "code-step")
    _code_step(buyer, totp_code(secret))
    assert page.url == live_server.url + reverse("suppliers:buyer-home")
    _sign_out(buyer)

    # A wrong code is refused; a recovery code works once.
    _password_step(buyer, live_server, "bea@example.com")
    _code_step(buyer, "00000000" if "00000000" not in codes else "99999999")
    assert page.get_by_role("alert").inner_text() == "Incorrect code."
    assert page.get_by_role("button", name="Verify").is_visible()
    shots(page, "wrong-code")
    _code_step(buyer, codes[0])
    assert page.url == live_server.url + reverse("suppliers:buyer-home")
    buyer.visit(live_server.url + reverse("mfa_index"))
    assert page.get_by_text("9 of 10 recovery codes are unused").is_visible()
    shots(page, "mfa-index")
