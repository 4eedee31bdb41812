"""A supplier's team: invitations through allauth, roles, deactivation, and acting for one supplier at a time."""

import datetime as dt
import hashlib
import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from config.celery import app as celery_app
from purchasing.models import PurchaseOrder
from suppliers import team
from suppliers.models import Invitation, Supplier, SupplierMembership, User
from tests.factories import PurchaseOrderFactory, SupplierMembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

Role = SupplierMembership.Role
TEAM = reverse("suppliers:team")
INVITE = reverse("suppliers:invitation-create")
SWITCH = reverse("suppliers:active-supplier-set")


@pytest.fixture
def eager_mail(monkeypatch):
    """Run the send-mail task in-process when its on-commit callback fires, so mail.outbox shows the result."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)


def member(supplier, role, email=None) -> User:
    user = UserFactory.create(**({"email": email} if email else {}))
    SupplierMembershipFactory.create(user=user, supplier=supplier, role=role)
    return user


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def accept_url(token: str) -> str:
    return reverse("suppliers:invitation-accept", args=[token])


def invite(supplier, email="carol@example.com", role=Role.SHIPPING, by=None) -> tuple[Invitation, str]:
    return team.invitation_send(supplier=supplier, email=email, role=role, by=by)


# --- inviting ---------------------------------------------------------------------------------------------------------


def test_an_admin_invites_by_email_and_only_a_hash_of_the_link_is_stored(
    alice_client, supplier, eager_mail, django_capture_on_commit_callbacks, settings
):
    settings.SUPPLYLINE_INVITATION_DAYS = 3
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(INVITE, {"email": " Carol@Example.com ", "role": "shipping"})

    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert (invitation.email, invitation.role, invitation.supplier) == ("carol@example.com", "shipping", supplier)
    assert invitation.expires_at - invitation.sent_at == dt.timedelta(days=3)
    [message] = mail.outbox
    assert message.to == ["carol@example.com"]
    assert "Acme Industrial Supply" in message.subject
    token = re.search(r"/invitations/([^/]+)/", message.body).group(1)
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(Invitation.objects.values().get())


def test_an_invitation_names_the_field_that_is_wrong_and_creates_nothing(alice_client, supplier_user):
    response = alice_client.post(INVITE, {"email": "not-an-address", "role": "emperor"})
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"email", "role"}
    response = alice_client.post(INVITE, {"email": supplier_user.email, "role": "viewer"})
    assert response.status_code == 400
    assert "already an active member" in response.content.decode()
    assert not Invitation.objects.exists()


def test_an_address_gets_one_open_invitation_per_supplier(alice_client, supplier):
    invite(supplier)
    response = alice_client.post(INVITE, {"email": "carol@example.com", "role": "viewer"})
    assert response.status_code == 400
    assert "open invitation already" in response.content.decode()
    assert Invitation.objects.count() == 1


def test_resending_draws_a_new_link_and_kills_the_old_one(alice_client, supplier, client):
    invitation, old = invite(supplier)
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - dt.timedelta(days=1))

    assert alice_client.post(reverse("suppliers:invitation-resend", args=[invitation.pk])).status_code == 302

    invitation.refresh_from_db()
    assert invitation.is_pending
    assert client.get(accept_url(old)).status_code == 404
    assert "does not work" in client.get(accept_url(old)).content.decode()


def test_a_revoked_link_says_so(alice_client, supplier, client):
    invitation, token = invite(supplier)
    assert alice_client.post(reverse("suppliers:invitation-revoke", args=[invitation.pk])).status_code == 302
    response = client.get(accept_url(token))
    assert response.status_code == 410
    assert "withdrawn" in response.content.decode()
    assert not team.invitation_revoke(invitation=invitation, by=None)  # once only


def test_an_expired_link_says_so_and_accepts_nobody(supplier, client):
    invitation, token = invite(supplier)
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now())
    response = client.get(accept_url(token))
    assert response.status_code == 410
    assert "expired" in response.content.decode()
    assert client.get(reverse("account_signup")).status_code == 200
    assert "No public sign-up" in client.get(reverse("account_signup")).content.decode()


# --- accepting --------------------------------------------------------------------------------------------------------


def test_a_new_person_signs_up_through_allauth_and_is_signed_in_as_a_member(supplier, client):
    _, token = invite(supplier, role=Role.SHIPPING)
    response = client.get(accept_url(token))
    assert response["Location"] == reverse("account_signup")
    page = client.get(reverse("account_signup"))
    assert page.status_code == 200
    assert 'value="carol@example.com"' in page.content.decode()

    response = client.post(
        reverse("account_signup"),
        {
            "email": "carol@example.com",
            "first_name": "Carol",
            "last_name": "Carrier",
            "password1": "a-Long-passphrase-9",
            "password2": "a-Long-passphrase-9",
        },
    )

    assert response.status_code == 302
    carol = User.objects.get(email="carol@example.com")
    assert carol.get_full_name() == "Carol Carrier"
    assert SupplierMembership.objects.get(user=carol).role == Role.SHIPPING
    assert Invitation.objects.get().status == Invitation.Status.ACCEPTED
    assert client.get(reverse("suppliers:supplier-home")).status_code == 200  # signed in
    assert client.get(accept_url(token)).status_code == 410  # used up


def test_sign_up_is_for_the_invited_address_only(supplier, client):
    _, token = invite(supplier)
    client.get(accept_url(token))
    response = client.post(
        reverse("account_signup"),
        {"email": "mallory@example.com", "password1": "a-Long-passphrase-9", "password2": "a-Long-passphrase-9"},
    )
    assert response.status_code == 200
    assert "carol@example.com" in str(response.context["form"].errors["email"])
    assert not User.objects.filter(email="mallory@example.com").exists()


def test_sign_up_closes_when_the_supplier_loses_access_after_the_invitation(supplier, client):
    _, token = invite(supplier)
    client.get(accept_url(token))
    Supplier.objects.filter(pk=supplier.pk).update(status=Supplier.Status.INACTIVE)

    response = client.post(
        reverse("account_signup"),
        {"email": "carol@example.com", "password1": "a-Long-passphrase-9", "password2": "a-Long-passphrase-9"},
    )

    assert response.status_code == 200
    assert "No public sign-up" in response.content.decode()
    assert not User.objects.filter(email="carol@example.com").exists()
    assert Invitation.objects.get().status == Invitation.Status.PENDING


@pytest.mark.parametrize("signed_in", [False, True])
def test_the_link_of_a_supplier_without_access_says_so(supplier, client, signed_in):
    _, token = invite(supplier)
    if signed_in:
        client.force_login(UserFactory.create(email="carol@example.com"))
    Supplier.objects.filter(pk=supplier.pk).update(status=Supplier.Status.INACTIVE)
    response = client.get(accept_url(token))
    assert response.status_code == 410
    assert "has no access to Supplyline at the moment" in response.content.decode()
    assert client.post(accept_url(token)).status_code == 410
    assert not SupplierMembership.objects.filter(user__email="carol@example.com").exists()
    Supplier.objects.filter(pk=supplier.pk).update(status=Supplier.Status.ACTIVE)
    assert client.get(accept_url(token)).status_code in (200, 302)  # it works again


def test_public_sign_up_stays_closed(client, db):
    response = client.get(reverse("account_signup"))
    assert "No public sign-up" in response.content.decode()
    client.post(reverse("account_signup"), {"email": "x@example.com", "password1": "pw-Long-9x", "password2": "pw"})
    assert not User.objects.filter(email="x@example.com").exists()


def test_a_person_with_an_account_signs_in_as_that_address_then_joins(supplier, other_supplier, outsider, client):
    _, token = invite(supplier, email="bob@example.com", role=Role.VIEWER)
    page = client.get(accept_url(token))
    assert "Sign in as bob@example.com" in page.content.decode()
    assert client.get(reverse("account_signup")).status_code == 200  # still closed: Bob has an account
    assert not User.objects.filter(email="bob@example.com").exclude(pk=outsider.pk).exists()

    client.force_login(outsider)
    assert "Join Acme Industrial Supply" in client.get(accept_url(token)).content.decode()
    response = client.post(accept_url(token))

    assert response.status_code == 302
    assert SupplierMembership.objects.get(user=outsider, supplier=supplier).role == Role.VIEWER
    # Joined and switched to the supplier that invited him.
    assert client.get(reverse("suppliers:supplier-home")).context["suppliers"] == [supplier]


def test_another_account_cannot_use_someone_elses_link(supplier, bob_client):
    _, token = invite(supplier)
    assert bob_client.get(accept_url(token)).status_code == 403
    assert bob_client.post(accept_url(token)).status_code == 403
    assert not SupplierMembership.objects.filter(supplier=supplier, user__email="bob@example.com").exists()
    assert Invitation.objects.get().is_pending


# --- the team page ----------------------------------------------------------------------------------------------------


def test_the_admin_sees_members_and_open_invitations_with_controls(alice_client, supplier):
    member(supplier, Role.VIEWER, "victor@example.com")
    invite(supplier)
    page = alice_client.get(TEAM).content.decode()
    assert "victor@example.com" in page
    assert "carol@example.com" in page
    assert "Deactivate victor@example.com" in page
    assert "Revoke the invitation of carol@example.com" in page


@pytest.mark.parametrize("role", [Role.ORDER_DESK, Role.SHIPPING, Role.VIEWER])
def test_other_members_get_the_list_read_only_and_403_on_changes(supplier, supplier_user, role):
    client = signed_in(member(supplier, role))
    invitation, _ = invite(supplier)
    page = client.get(TEAM)
    assert page.status_code == 200
    assert "alice@example.com" in page.content.decode()
    assert "carol@example.com" not in page.content.decode()
    assert "Deactivate" not in page.content.decode()
    alice = SupplierMembership.objects.get(user=supplier_user)
    for url, data in [
        (reverse("suppliers:membership-role", args=[alice.pk]), {"role": "viewer"}),
        (reverse("suppliers:membership-deactivate", args=[alice.pk]), {}),
        (reverse("suppliers:invitation-revoke", args=[invitation.pk]), {}),
        (reverse("suppliers:invitation-resend", args=[invitation.pk]), {}),
        (INVITE, {"email": "dan@example.com", "role": "admin"}),
    ]:
        assert client.post(url, data).status_code == 403, url
    alice.refresh_from_db()
    assert (alice.role, alice.is_active) == (Role.ADMIN, True)
    assert Invitation.objects.get().is_pending


def test_the_last_active_admin_can_be_neither_demoted_nor_deactivated(alice_client, supplier, supplier_user):
    alice = SupplierMembership.objects.get(user=supplier_user)
    response = alice_client.post(reverse("suppliers:membership-role", args=[alice.pk]), {"role": "viewer"}, follow=True)
    assert "last active admin" in response.content.decode()
    alice_client.post(reverse("suppliers:membership-deactivate", args=[alice.pk]))
    alice.refresh_from_db()
    assert (alice.role, alice.is_active) == (Role.ADMIN, True)

    # A deactivated admin does not count: the rule is about active ones.
    dormant = SupplierMembership.objects.get(user=member(supplier, Role.ADMIN))
    team.membership_deactivate(membership=dormant, by=None)
    alice_client.post(reverse("suppliers:membership-role", args=[alice.pk]), {"role": "viewer"})
    alice.refresh_from_db()
    assert alice.role == Role.ADMIN

    team.membership_reactivate(membership=dormant, by=None)
    alice_client.post(reverse("suppliers:membership-role", args=[alice.pk]), {"role": "viewer"})
    alice.refresh_from_db()
    assert alice.role == Role.VIEWER


def test_a_bad_role_names_the_field_and_changes_nothing(alice_client, supplier):
    victor = SupplierMembership.objects.get(user=member(supplier, Role.VIEWER))
    response = alice_client.post(reverse("suppliers:membership-role", args=[victor.pk]), {"role": "root"}, follow=True)
    assert "Role: choose" in response.content.decode()
    victor.refresh_from_db()
    assert victor.role == Role.VIEWER


def test_deactivation_takes_effect_on_the_next_request(alice_client, supplier, po):
    desk = member(supplier, Role.ORDER_DESK)
    desk_client = signed_in(desk)
    detail = reverse("purchasing:po-detail", args=[po.number])
    assert desk_client.get(detail).status_code == 200
    membership = SupplierMembership.objects.get(user=desk)

    alice_client.post(reverse("suppliers:membership-deactivate", args=[membership.pk]))

    assert desk_client.get(detail).status_code == 404
    assert po.number not in desk_client.get(reverse("purchasing:po-list")).content.decode()
    alice_client.post(reverse("suppliers:membership-reactivate", args=[membership.pk]))
    assert desk_client.get(detail).status_code == 200


def test_buyers_see_a_suppliers_members_read_only(buyer_client, alice_client, supplier, supplier_user):
    url = reverse("suppliers:supplier-members", args=[supplier.code])
    page = buyer_client.get(url)
    assert page.status_code == 200
    assert "alice@example.com" in page.content.decode()
    assert "Deactivate" not in page.content.decode()
    assert alice_client.get(url).status_code == 404
    assert buyer_client.get(TEAM).status_code == 404


# --- acting for one supplier at a time --------------------------------------------------------------------------------


@pytest.fixture
def two_hats(supplier_user, supplier, other_supplier):
    """Alice is ACME's admin and BOLT's viewer; each supplier has a PO."""
    SupplierMembershipFactory.create(user=supplier_user, supplier=other_supplier, role=Role.VIEWER)
    return (
        PurchaseOrderFactory.create(supplier=supplier, number="PO-ACME-1"),
        PurchaseOrderFactory.create(supplier=other_supplier, number="PO-BOLT-1"),
    )


def test_the_default_is_the_first_membership_and_the_nav_offers_the_others(alice_client, two_hats):
    page = alice_client.get(reverse("purchasing:po-list")).content.decode()
    assert "PO-ACME-1" in page
    assert "PO-BOLT-1" not in page
    assert 'name="supplier"' in page
    assert "Bolt &amp; Nut Co" in page
    assert "Acting for" in page


def test_switching_changes_everything_the_user_sees_and_may_do(alice_client, two_hats, other_supplier):
    response = alice_client.post(SWITCH, {"supplier": other_supplier.pk, "next": reverse("purchasing:po-list")})
    assert response["Location"] == reverse("purchasing:po-list")
    page = alice_client.get(reverse("purchasing:po-list")).content.decode()
    assert "PO-BOLT-1" in page
    assert "PO-ACME-1" not in page
    assert alice_client.get(reverse("purchasing:po-detail", args=["PO-ACME-1"])).status_code == 404
    # At BOLT she is a viewer: the team page is read-only and API keys are not hers.
    assert "Invite someone" not in alice_client.get(TEAM).content.decode()
    assert alice_client.get(reverse("suppliers:api-key-list")).status_code == 403


def test_a_switch_to_a_supplier_one_is_no_member_of_is_refused(alice_client, two_hats, supplier, buyer):
    stranger = PurchaseOrderFactory.create(supplier__code="ZED", number="PO-ZED-1").supplier
    assert alice_client.post(SWITCH, {"supplier": stranger.pk}).status_code == 404
    assert alice_client.post(SWITCH, {"supplier": "x"}).status_code == 404
    assert "PO-ACME-1" in alice_client.get(reverse("purchasing:po-list")).content.decode()
    assert alice_client.get(SWITCH).status_code == 405


def test_switching_from_a_detail_page_goes_home(alice_client, two_hats, other_supplier):
    page = alice_client.get(reverse("purchasing:po-detail", args=["PO-ACME-1"])).content.decode()
    assert 'name="next"' not in page  # that PO would be 404 once BOLT is active
    assert alice_client.post(SWITCH, {"supplier": other_supplier.pk})["Location"] == reverse("home")


def test_a_link_to_a_po_of_the_other_supplier_offers_the_switch(alice_client, bob_client, two_hats, other_supplier):
    url = reverse("purchasing:po-detail", args=["PO-BOLT-1"])
    response = alice_client.get(url)
    assert response.status_code == 404
    assert "Act for Bolt &amp; Nut Co" in response.content.decode()
    assert alice_client.post(SWITCH, {"supplier": other_supplier.pk, "next": url})["Location"] == url
    assert alice_client.get(url).status_code == 200
    # Someone who is no member of ACME learns nothing of whose PO it is.
    response = bob_client.get(reverse("purchasing:po-detail", args=["PO-ACME-1"]))
    assert response.status_code == 404
    assert "Acme" not in response.content.decode()


def test_a_deactivated_choice_falls_back_to_the_first_membership(alice_client, two_hats, supplier_user, other_supplier):
    alice_client.post(SWITCH, {"supplier": other_supplier.pk})
    SupplierMembership.objects.filter(user=supplier_user, supplier=other_supplier).update(is_active=False)
    page = alice_client.get(reverse("purchasing:po-list")).content.decode()
    assert "PO-ACME-1" in page
    assert "PO-BOLT-1" not in page


def test_a_request_with_no_choice_never_acts_for_two_suppliers(supplier_user, two_hats):
    assert PurchaseOrder.objects.visible_to(supplier_user).count() == 1


# --- controls a role may not use are not drawn ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "shown"), [(Role.ADMIN, True), (Role.ORDER_DESK, True), (Role.SHIPPING, True), (Role.VIEWER, False)]
)
def test_only_shipping_roles_see_the_shipment_button_on_an_acknowledged_po(supplier, shippable_po, role, shown):
    client = signed_in(member(supplier, role))
    page = client.get(reverse("purchasing:po-detail", args=[shippable_po.number])).content.decode()
    assert ("Create shipment notice" in page) is shown
