"""Two-factor authentication: buyers and supplier admins must enrol; enrolled users pass the code step."""

import pytest
from allauth.mfa.models import Authenticator
from django.test import Client
from django.urls import reverse

from suppliers.models import SupplierMembership
from tests.factories import DEMO_PASSWORD, SupplierMembershipFactory, UserFactory
from tests.totp import enrol, totp_code

pytestmark = pytest.mark.django_db
LOGIN = reverse("account_login")
ACTIVATE = reverse("mfa_activate_totp")
AUTHENTICATE = reverse("mfa_authenticate")


@pytest.fixture(autouse=True)
def _mfa_required(settings):
    settings.SUPPLYLINE_MFA_REQUIRED = True


@pytest.fixture
def viewer(supplier):
    user = UserFactory.create(email="vera@example.com")
    SupplierMembershipFactory.create(user=user, supplier=supplier, role=SupplierMembership.Role.VIEWER)
    return user


def _sign_in(client: Client, email: str):
    return client.post(LOGIN, {"login": email, "password": DEMO_PASSWORD})


@pytest.mark.parametrize("who", ["buyer", "supplier_user"], ids=["buyer", "supplier-admin"])
def test_a_user_who_must_use_mfa_reaches_nothing_but_enrolment(who, request, po, client):
    _sign_in(client, request.getfixturevalue(who).email)
    for url in (reverse("home"), reverse("purchasing:po-list"), reverse("purchasing:po-detail", args=[po.number])):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == ACTIVATE
    assert client.get(reverse("admin:index"))["Location"] == ACTIVATE
    page = client.get(ACTIVATE)
    assert page.status_code == 200
    assert b'src="data:image/svg+xml;base64,' in page.content
    assert b"Set it up to continue" in page.content
    assert b'aria-label="Main"' not in page.content  # no navigation into the portal until enrolled
    assert client.get(reverse("mfa_index")).status_code == 200
    assert client.post(reverse("account_logout"))["Location"] == LOGIN


def test_an_older_session_confirms_the_password_before_enrolling(buyer_client):
    confirm = buyer_client.get(ACTIVATE)
    assert confirm["Location"].startswith(reverse("account_reauthenticate"))
    page = buyer_client.get(confirm["Location"])
    assert b'<label for="id_password">Password</label>' in page.content
    wrong = buyer_client.post(confirm["Location"], {"password": "wrong"})
    assert wrong.status_code == 200
    assert b'aria-invalid="true"' in wrong.content
    response = buyer_client.post(confirm["Location"], {"password": DEMO_PASSWORD, "next": ACTIVATE})
    assert response["Location"] == ACTIVATE
    assert buyer_client.get(ACTIVATE).status_code == 200


def test_an_htmx_request_is_sent_to_enrolment_as_a_whole_page(buyer_client):
    response = buyer_client.get(reverse("exceptions:case-list"), headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response["HX-Redirect"] == ACTIVATE


def test_mfa_is_optional_for_other_supplier_users(client, viewer):
    client.force_login(viewer)
    assert client.get(reverse("suppliers:supplier-home")).status_code == 200
    page = client.get(reverse("mfa_index"))
    assert b"Set up an authenticator app" in page.content
    assert b"Set it up to continue" not in client.get(ACTIVATE).content


def test_with_the_requirement_off_a_buyer_signs_in_without_mfa(client, buyer, settings):
    settings.SUPPLYLINE_MFA_REQUIRED = False
    response = client.post(LOGIN, {"login": buyer.email, "password": DEMO_PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("suppliers:buyer-home")


def test_a_buyer_signs_in_is_sent_to_enrol_and_activates_with_a_code(client, buyer):
    response = _sign_in(client, buyer.email)
    assert client.get(response["Location"])["Location"] == ACTIVATE
    client.get(ACTIVATE)
    secret = client.session["mfa.totp.secret"]

    refused = client.post(ACTIVATE, {"code": "000000" if totp_code(secret) != "000000" else "111111"})
    assert refused.status_code == 200
    assert b"Incorrect code" in refused.content
    assert not Authenticator.objects.filter(user=buyer).exists()

    activated = client.post(ACTIVATE, {"code": totp_code(secret)})
    assert activated["Location"] == reverse("mfa_view_recovery_codes")
    assert set(Authenticator.objects.filter(user=buyer).values_list("type", flat=True)) == {"totp", "recovery_codes"}
    codes_page = client.get(activated["Location"])
    codes = Authenticator.objects.get(user=buyer, type="recovery_codes").wrap().get_unused_codes()
    assert len(codes) == 10
    assert all(code.encode() in codes_page.content for code in codes)
    assert client.get(reverse("home"))["Location"] == reverse("suppliers:buyer-home")
    assert client.get(reverse("suppliers:buyer-home")).status_code == 200


def test_an_enrolled_buyer_needs_the_code_after_the_password(client, buyer):
    secret, _codes = enrol(buyer)
    response = _sign_in(client, buyer.email)
    assert response["Location"] == AUTHENTICATE
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("suppliers:buyer-home")).status_code == 302  # still signed out

    wrong = client.post(AUTHENTICATE, {"code": "12345"})
    assert b"Incorrect code" in wrong.content
    assert "_auth_user_id" not in client.session

    response = client.post(AUTHENTICATE, {"code": totp_code(secret)}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("suppliers:buyer-home")
    assert client.session["_auth_user_id"] == str(buyer.pk)


def test_a_recovery_code_signs_in_once(client, buyer):
    _secret, codes = enrol(buyer)
    _sign_in(client, buyer.email)
    response = client.post(AUTHENTICATE, {"code": codes[0]}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("suppliers:buyer-home")

    client.post(reverse("account_logout"))
    _sign_in(client, buyer.email)
    again = client.post(AUTHENTICATE, {"code": codes[0]})
    assert b"Incorrect code" in again.content
    assert "_auth_user_id" not in client.session


def _sign_in_with_mfa(client: Client, user, secret: str) -> None:
    _sign_in(client, user.email)
    client.post(AUTHENTICATE, {"code": totp_code(secret)})
    assert client.session["_auth_user_id"] == str(user.pk)


def test_a_buyer_cannot_turn_mfa_off(client, buyer):
    secret, _codes = enrol(buyer)
    _sign_in_with_mfa(client, buyer, secret)
    page = client.get(reverse("mfa_deactivate_totp"))
    assert b"must keep two-factor authentication" in page.content
    client.post(reverse("mfa_deactivate_totp"))
    assert Authenticator.objects.filter(user=buyer, type="totp").exists()


def test_a_user_for_whom_mfa_is_optional_can_turn_it_off(client, viewer):
    secret, _codes = enrol(viewer)
    _sign_in_with_mfa(client, viewer, secret)
    response = client.post(reverse("mfa_deactivate_totp"))
    assert response["Location"] == reverse("mfa_index")
    assert not Authenticator.objects.filter(user=viewer).exists()


def test_the_mfa_pages_of_an_enrolled_user_show_the_state(client, buyer):
    secret, codes = enrol(buyer)
    _sign_in_with_mfa(client, buyer, secret)
    index = client.get(reverse("mfa_index"))
    assert b"You sign in with a code from your authenticator app" in index.content
    assert b"10 of 10 recovery codes are unused" in index.content
    assert client.get(ACTIVATE)["Location"] == reverse("mfa_deactivate_totp")
    assert codes[0].encode() in client.get(reverse("mfa_view_recovery_codes")).content


def test_an_outsider_sees_nothing_of_another_users_codes(client, buyer, outsider):
    _secret, codes = enrol(buyer)
    client.force_login(outsider)
    assert client.get(reverse("mfa_view_recovery_codes")).status_code in {302, 404}
    assert codes[0].encode() not in client.get(reverse("mfa_index")).content


def test_the_admins_own_sign_in_form_cannot_skip_the_code_step(client, buyer):
    """The Django admin's sign-in takes a password alone: it must hand over to the portal's sign-in."""
    buyer.is_superuser = True
    buyer.save(update_fields=["is_superuser"])
    enrol(buyer)
    admin_login = reverse("admin:login")

    response = client.post(admin_login, {"username": buyer.email, "password": DEMO_PASSWORD})

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("admin:index")).status_code == 302  # still signed out
