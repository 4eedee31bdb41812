"""Supplier self-service: the profile, contacts, ship-from addresses, proposed item terms and their review."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from config.celery import app as celery_app
from exceptions.handlers import dispatch
from exceptions.models import CaseStatus, CaseType, ExceptionCase
from exceptions.rules.sweep import sweep_terms_proposal_overdue
from planning_sync.connectors.tryton.connector import TrytonConnector
from planning_sync.envelope import cloudevent
from planning_sync.event_schemas import validate_event
from planning_sync.models import Connector, Delivery, OutboxEvent, Subscription
from purchasing.models import ShipmentNotice
from suppliers import self_service
from suppliers.models import (
    NotificationKind,
    NotificationOptOut,
    ShipFromAddress,
    Supplier,
    SupplierContact,
    SupplierItem,
    SupplierMembership,
    TermsProposal,
)
from tests.factories import SupplierFactory, SupplierItemFactory, SupplierMembershipFactory, UserFactory
from tests.purchasing.test_shipment_views import CREATE, _form_data

pytestmark = pytest.mark.django_db
Role = SupplierMembership.Role
TODAY = timezone.localdate


def member(supplier: Supplier, role: str, email: str):
    user = UserFactory.create(email=email)
    SupplierMembershipFactory.create(user=user, supplier=supplier, role=role)
    return user


def logged_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def eager_mail(monkeypatch):
    """Run the send-mail task in-process when its on-commit callback fires, so mail.outbox shows the result."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)


@pytest.fixture
def item(supplier) -> SupplierItem:
    return SupplierItemFactory.create(
        supplier=supplier, supplier_part_number="AC-100", lead_time_days=14, minimum_order_quantity=Decimal(10)
    )


def propose(item, user, **overrides) -> TermsProposal:
    values = {"lead_time_days": 21, "minimum_order_quantity": None, "effective_date": TODAY(), "note": "New mill."}
    return self_service.terms_propose(supplier_item=item, by=user, **(values | overrides))


# --- the company profile ---------------------------------------------------------------------------


def test_an_admin_saves_the_profile(alice_client, supplier):
    data = {
        "legal_name": "Acme Industrial Supply Ltd",
        "tax_id": "GB123456789",
        "website": "https://acme.example",
        "phone": "+44 113 496 0000",
        "po_email": "orders@acme.example",
        "address_line1": "1 Dock Road",
        "city": "Leeds",
        "postal_code": "LS1 4AP",
        "country": "GB",
        "default_currency": "GBP",
    }
    response = alice_client.post(reverse("suppliers:profile-edit", args=[supplier.code]), data)
    assert response.status_code == 302
    supplier.refresh_from_db()
    assert (supplier.legal_name, supplier.tax_id, supplier.default_currency) == (
        "Acme Industrial Supply Ltd",
        "GB123456789",
        "GBP",
    )
    page = alice_client.get(reverse("suppliers:profile", args=[supplier.code]))
    assert b"orders@acme.example" in page.content


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("phone", "call me", "phone number"),
        ("country", "G1", "ISO 3166"),
        ("default_currency", "E1R", "ISO 4217"),
        ("tax_id", "!!", "letters, digits"),
        ("po_email", "orders-at-acme", "valid email"),
        ("website", "acme", "valid URL"),
    ],
)
def test_a_bad_profile_field_is_named_and_nothing_is_saved(alice_client, supplier, field, value, says):
    data = {"legal_name": "Changed Ltd", "default_currency": "USD", field: value}
    response = alice_client.post(reverse("suppliers:profile-edit", args=[supplier.code]), data)
    assert response.status_code == 400
    assert says in " ".join(response.context["form"].errors[field])
    supplier.refresh_from_db()
    assert supplier.legal_name == ""


def test_the_service_refuses_distributor_fields_and_saves_nothing(supplier, supplier_user):
    with pytest.raises(ValidationError) as error:
        self_service.supplier_profile_update(
            supplier=supplier, by=supplier_user, changes={"legal_name": "Acme Ltd", "code": "ACME2", "status": "active"}
        )
    assert set(error.value.message_dict) == {"code", "status"}
    supplier.refresh_from_db()
    assert (supplier.code, supplier.legal_name) == ("ACME", "")


def test_the_profile_form_offers_no_distributor_field(alice_client, supplier):
    form = alice_client.get(reverse("suppliers:profile-edit", args=[supplier.code])).context["form"]
    assert not {"code", "status", "buyer", "price_tolerance_pct", "erp_vendor_id"} & set(form.fields)


@pytest.mark.parametrize("role", [Role.ORDER_DESK, Role.SHIPPING, Role.VIEWER])
def test_only_admins_edit_the_profile_contacts_and_addresses(client, supplier, role):
    logged_in(client, member(supplier, role, "someone@acme.example"))
    for name in ("profile-edit", "contact-create", "address-create"):
        url = reverse(f"suppliers:{name}", args=[supplier.code])
        assert client.get(url).status_code == 403
        assert client.post(url, {"legal_name": "X", "name": "X", "label": "X"}).status_code == 403
    assert client.get(reverse("suppliers:profile", args=[supplier.code])).status_code == 200
    assert not SupplierContact.objects.exists()
    assert not ShipFromAddress.objects.exists()


def test_a_buyer_reads_every_profile_but_edits_none(buyer_client, supplier, other_supplier):
    listing = buyer_client.get(reverse("suppliers:profile-home"))
    assert b"ACME" in listing.content
    assert b"BOLT" in listing.content
    assert buyer_client.get(reverse("suppliers:profile", args=["BOLT"])).status_code == 200
    assert buyer_client.get(reverse("suppliers:profile-edit", args=["BOLT"])).status_code == 403


def test_a_supplier_user_lands_on_their_own_profile(alice_client, supplier, other_supplier):
    response = alice_client.get(reverse("suppliers:profile-home"))
    assert response["Location"] == reverse("suppliers:profile", args=["ACME"])


def test_another_suppliers_profile_is_404(bob_client, supplier):
    assert bob_client.get(reverse("suppliers:profile", args=[supplier.code])).status_code == 404
    assert bob_client.get(reverse("suppliers:supplier-items", args=[supplier.code])).status_code == 404


# --- contacts --------------------------------------------------------------------------------------


CONTACT = {"name": "Ann Sales", "function": "sales", "email": "ann@acme.example", "phone": "+1 312 555 0100"}


def test_a_new_primary_contact_takes_over_from_the_old_one(alice_client, supplier):
    url = reverse("suppliers:contact-create", args=[supplier.code])
    assert alice_client.post(url, CONTACT | {"is_primary": "on"}).status_code == 302
    assert alice_client.post(url, CONTACT | {"name": "Ben Sales", "is_primary": "on"}).status_code == 302
    assert alice_client.post(
        url, CONTACT | {"name": "Cy Ships", "function": "shipping", "is_primary": "on"}
    ).status_code
    primaries = SupplierContact.objects.filter(supplier=supplier, is_primary=True)
    assert sorted(primaries.values_list("name", "function")) == [("Ben Sales", "sales"), ("Cy Ships", "shipping")]


@pytest.mark.parametrize(
    ("field", "value"),
    [("email", "ann-at-acme"), ("phone", "ring ring"), ("function", "ceo"), ("name", ""), ("name", "x" * 101)],
)
def test_a_bad_contact_field_is_named_and_nothing_is_written(alice_client, supplier, field, value):
    existing = self_service.contact_create(
        supplier=supplier, by=None, values=CONTACT | {"name": "Old Primary", "is_primary": True}
    )
    url = reverse("suppliers:contact-create", args=[supplier.code])
    response = alice_client.post(url, CONTACT | {"is_primary": "on", field: value})
    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert list(SupplierContact.objects.values_list("pk", "is_primary")) == [(existing.pk, True)]


def test_the_service_validates_a_contact_whatever_the_caller(supplier, supplier_user):
    with pytest.raises(ValidationError) as error:
        self_service.contact_create(supplier=supplier, by=supplier_user, values=CONTACT | {"phone": "abc"})
    assert set(error.value.message_dict) == {"phone"}
    assert not SupplierContact.objects.exists()


def test_a_contact_is_edited_and_deleted(alice_client, supplier):
    contact = self_service.contact_create(supplier=supplier, by=None, values=CONTACT)
    edit = reverse("suppliers:contact-edit", args=[supplier.code, contact.pk])
    assert alice_client.post(edit, CONTACT | {"function": "quality"}).status_code == 302
    contact.refresh_from_db()
    assert contact.function == "quality"
    delete = reverse("suppliers:contact-delete", args=[supplier.code, contact.pk])
    assert b"Delete Ann Sales" in alice_client.get(delete).content
    assert alice_client.post(delete).status_code == 302
    assert not SupplierContact.objects.exists()


def test_an_edit_of_a_contact_deleted_meanwhile_is_refused_not_saved_again(supplier, supplier_user):
    """The edit page read the contact, then someone deleted it: Django's save() would INSERT it back."""
    contact = self_service.contact_create(supplier=supplier, by=supplier_user, values=CONTACT)
    opened = SupplierContact.objects.get(pk=contact.pk)
    self_service.contact_delete(contact=contact, by=supplier_user)
    with pytest.raises(ValidationError) as error:
        self_service.contact_update(contact=opened, by=supplier_user, values=CONTACT | {"function": "quality"})
    assert error.value.messages == ["This contact was deleted meanwhile: nothing was saved."]
    assert not SupplierContact.objects.exists()


def test_another_suppliers_contact_is_404_even_through_ones_own_code(client, supplier, other_supplier):
    bolt_contact = self_service.contact_create(supplier=other_supplier, by=None, values=CONTACT)
    logged_in(client, member(supplier, Role.ADMIN, "admin@acme.example"))
    url = reverse("suppliers:contact-edit", args=[supplier.code, bolt_contact.pk])
    assert client.post(url, CONTACT | {"name": "Hijacked"}).status_code == 404
    assert client.post(reverse("suppliers:contact-delete", args=[supplier.code, bolt_contact.pk])).status_code == 404
    bolt_contact.refresh_from_db()
    assert bolt_contact.name == "Ann Sales"


# --- ship-from addresses -----------------------------------------------------------------------------


ADDRESS = {"label": "Leeds", "line1": "1 Dock Road", "city": "Leeds", "postal_code": "LS1 4AP", "country": "GB"}


def test_the_first_address_is_the_default_and_a_new_default_replaces_it(supplier, supplier_user):
    leeds = self_service.ship_from_address_create(supplier=supplier, by=supplier_user, values=ADDRESS)
    york = self_service.ship_from_address_create(
        supplier=supplier, by=supplier_user, values=ADDRESS | {"label": "York"}
    )
    assert (leeds.is_default, york.is_default) == (True, False)
    self_service.ship_from_address_create(
        supplier=supplier, by=supplier_user, values=ADDRESS | {"label": "Hull", "is_default": True}
    )
    assert list(ShipFromAddress.objects.filter(is_default=True).values_list("label", flat=True)) == ["Hull"]
    assert leeds.as_text() == "Acme Industrial Supply\n1 Dock Road\nLS1 4AP Leeds\nGB"


def test_the_default_is_deactivated_last(alice_client, supplier, supplier_user):
    leeds = self_service.ship_from_address_create(supplier=supplier, by=supplier_user, values=ADDRESS)
    york = self_service.ship_from_address_create(
        supplier=supplier, by=supplier_user, values=ADDRESS | {"label": "York"}
    )
    url = reverse("suppliers:address-deactivate", args=[supplier.code, leeds.pk])
    alice_client.post(url)
    leeds.refresh_from_db()
    assert leeds.is_active
    alice_client.post(reverse("suppliers:address-deactivate", args=[supplier.code, york.pk]))
    alice_client.post(url)
    assert not ShipFromAddress.objects.filter(is_active=True).exists()
    assert not ShipFromAddress.objects.filter(is_default=True).exists()


def test_the_default_cannot_be_unset_without_another(supplier, supplier_user):
    leeds = self_service.ship_from_address_create(supplier=supplier, by=supplier_user, values=ADDRESS)
    with pytest.raises(ValidationError) as error:
        self_service.ship_from_address_update(address=leeds, by=supplier_user, values={"is_default": False})
    assert set(error.value.message_dict) == {"is_default"}


@pytest.mark.parametrize(
    ("field", "value"), [("country", "UK1"), ("city", ""), ("line1", ""), ("label", ""), ("country", "g8")]
)
def test_a_bad_address_field_is_named_and_nothing_is_written(alice_client, supplier, field, value):
    response = alice_client.post(reverse("suppliers:address-create", args=[supplier.code]), ADDRESS | {field: value})
    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert not ShipFromAddress.objects.exists()


def test_two_addresses_cannot_share_a_name(alice_client, supplier, supplier_user):
    self_service.ship_from_address_create(supplier=supplier, by=supplier_user, values=ADDRESS)
    response = alice_client.post(
        reverse("suppliers:address-create", args=[supplier.code]), ADDRESS | {"label": "leeds", "is_default": "on"}
    )
    assert response.status_code == 400
    assert "already have an address" in response.context["form"].errors["label"][0]
    assert list(ShipFromAddress.objects.values_list("label", "is_default")) == [("Leeds", True)]


# --- proposing item terms ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"lead_time_days": 731}, "lead_time_days"),
        ({"lead_time_days": None}, "__all__"),  # nothing proposed
        ({"lead_time_days": 14}, "__all__"),  # today's terms
        ({"minimum_order_quantity": Decimal(0)}, "minimum_order_quantity"),
        ({"minimum_order_quantity": Decimal("1.0001")}, "minimum_order_quantity"),
        ({"effective_date": dt.date(2020, 1, 1)}, "effective_date"),
        ({"effective_date": timezone.localdate() + dt.timedelta(days=2000)}, "effective_date"),
        ({"note": "x" * 2001}, "note"),
    ],
)
def test_a_bad_proposal_names_the_field_and_writes_nothing(item, supplier_user, overrides, field):
    with pytest.raises(ValidationError) as error:
        propose(item, supplier_user, **overrides)
    assert field in error.value.message_dict
    assert not TermsProposal.objects.exists()


def test_the_form_names_the_bad_field(alice_client, supplier, item):
    url = reverse("suppliers:terms-propose", args=[supplier.code, item.pk])
    response = alice_client.post(url, {"lead_time_days": "-1", "effective_date": TODAY().isoformat()})
    assert response.status_code == 400
    assert response.context["form"].errors["lead_time_days"]
    response = alice_client.post(url, {"effective_date": TODAY().isoformat()})
    assert "Propose a new lead time" in response.context["form"].non_field_errors()[0]
    assert not TermsProposal.objects.exists()


def test_a_second_open_proposal_for_an_item_is_refused(item, supplier_user):
    first = propose(item, supplier_user)
    with pytest.raises(ValidationError, match="already has a proposal awaiting the buyer's review"):
        propose(item, supplier_user, lead_time_days=28)
    assert list(TermsProposal.objects.values_list("pk", "lead_time_days")) == [(first.pk, 21)]
    item.refresh_from_db()
    assert item.lead_time_days == 14  # unchanged until a buyer approves


@pytest.mark.parametrize(("role", "status"), [(Role.ORDER_DESK, 302), (Role.SHIPPING, 403), (Role.VIEWER, 403)])
def test_order_desk_proposes_terms_and_shipping_and_viewers_only_look(client, supplier, item, role, status):
    logged_in(client, member(supplier, role, "someone@acme.example"))
    url = reverse("suppliers:terms-propose", args=[supplier.code, item.pk])
    response = client.post(url, {"lead_time_days": "20", "effective_date": TODAY().isoformat()})
    assert response.status_code == status
    assert TermsProposal.objects.exists() == (status == 302)
    assert client.get(reverse("suppliers:supplier-items", args=[supplier.code])).status_code == 200


def test_a_buyer_cannot_propose_for_a_supplier(buyer_client, supplier, item):
    url = reverse("suppliers:terms-propose", args=[supplier.code, item.pk])
    assert buyer_client.post(url, {"lead_time_days": "20", "effective_date": TODAY().isoformat()}).status_code == 403


# --- the buyer's review ------------------------------------------------------------------------------


def test_approval_updates_the_item_and_records_the_event(item, supplier_user, buyer):
    proposal = propose(item, supplier_user, minimum_order_quantity=Decimal("25.5"))
    assert not OutboxEvent.objects.exists()
    self_service.terms_decide(proposal=proposal, by=buyer, approve=True)
    item.refresh_from_db()
    assert (item.lead_time_days, item.minimum_order_quantity) == (21, Decimal("25.500"))
    [event] = OutboxEvent.objects.all()
    envelope = cloudevent(event)
    validate_event(envelope)
    assert envelope["type"] == "supplyline.supplier_item.terms.changed.v1"
    assert envelope["subject"] == f"ACME/{item.item.sku}"
    assert (event.aggregate_key, event.supplier_id, event.actor_id) == (
        f"supplier_item:{item.pk}",
        item.supplier_id,
        buyer.pk,
    )
    assert envelope["data"]["before"] == {"lead_time_days": 14, "minimum_order_quantity": "10.000"}
    assert envelope["data"]["after"] == {"lead_time_days": 21, "minimum_order_quantity": "25.500"}
    assert envelope["data"]["effective_date"] == TODAY().isoformat()


def test_rejection_needs_a_reason_and_changes_nothing_else(item, supplier_user, buyer):
    proposal = propose(item, supplier_user)
    with pytest.raises(ValidationError) as error:
        self_service.terms_decide(proposal=proposal, by=buyer, approve=False, reason="  ")
    assert set(error.value.message_dict) == {"reason"}
    proposal.refresh_from_db()
    assert proposal.status == TermsProposal.Status.PENDING
    self_service.terms_decide(proposal=proposal, by=buyer, approve=False, reason="Our contract says 14 days.")
    item.refresh_from_db()
    assert item.lead_time_days == 14
    assert not OutboxEvent.objects.exists()
    propose(item, supplier_user, lead_time_days=16)  # decided: the item takes a new proposal


def test_a_proposal_is_decided_once(item, supplier_user, buyer):
    proposal = propose(item, supplier_user)
    self_service.terms_decide(proposal=proposal, by=buyer, approve=True)
    with pytest.raises(ValidationError, match="already approved"):
        self_service.terms_decide(proposal=proposal, by=buyer, approve=False, reason="Changed my mind.")
    assert OutboxEvent.objects.count() == 1


def test_the_supplier_is_told_the_decision(
    item, supplier, supplier_user, buyer, eager_mail, django_capture_on_commit_callbacks
):
    viewer = member(supplier, Role.VIEWER, "viewer@acme.example")
    desk = member(supplier, Role.ORDER_DESK, "desk@acme.example")
    NotificationOptOut.objects.create(user=desk, kind=NotificationKind.TERMS_DECIDED)
    proposal = propose(item, supplier_user)
    with django_capture_on_commit_callbacks(execute=True):
        self_service.terms_decide(proposal=proposal, by=buyer, approve=False, reason="Our contract says 14 days.")
    [message] = mail.outbox
    assert message.to == [supplier_user.email]
    assert viewer.email not in message.to
    assert "rejected your new terms" in message.subject
    assert "Our contract says 14 days." in message.body


def test_the_buyer_decides_from_the_queue_with_htmx(buyer_client, item, supplier_user):
    proposal = propose(item, supplier_user)
    queue = buyer_client.get(reverse("suppliers:terms-proposal-list") + "?scope=all")
    assert f"Approve {item.item.sku} terms".encode() in queue.content
    url = reverse("suppliers:terms-proposal-decide", args=[proposal.pk])
    refused = buyer_client.post(url, {"decision": "reject", "reason": ""}, headers={"HX-Request": "true"})
    assert refused.status_code == 400
    assert b"Say why you reject" in refused.content
    approved = buyer_client.post(url, {"decision": "approve"}, headers={"HX-Request": "true"})
    assert approved.status_code == 200
    assert b"Approved" in approved.content
    assert TermsProposal.objects.get().status == TermsProposal.Status.APPROVED


def test_the_row_shown_after_a_decision_is_read_in_one_query(buyer_client, item, supplier_user):
    proposal = propose(item, supplier_user)
    url = reverse("suppliers:terms-proposal-decide", args=[proposal.pk])
    with CaptureQueriesContext(connection) as queries:
        response = buyer_client.post(url, {"decision": "approve"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    # The row is rendered from one read of the proposal with its supplier, item and submitter: the request's
    # last statement. Anything the template loaded lazily would come after it.
    last = queries.captured_queries[-1]["sql"]
    assert 'FROM "suppliers_termsproposal"' in last
    assert all(f'JOIN "{table}"' in last for table in ("suppliers_supplier", "purchasing_item", "suppliers_user"))


def test_the_queue_and_decisions_are_for_buyers_only(alice_client, item, supplier_user):
    proposal = propose(item, supplier_user)
    assert alice_client.get(reverse("suppliers:terms-proposal-list")).status_code == 404
    url = reverse("suppliers:terms-proposal-decide", args=[proposal.pk])
    assert alice_client.post(url, {"decision": "approve"}).status_code == 404
    proposal.refresh_from_db()
    assert proposal.status == TermsProposal.Status.PENDING


def test_the_queue_shows_the_buyers_own_suppliers_by_default(buyer_client, buyer, item, supplier_user):
    stranger = SupplierFactory.create(code="ZED", buyer=UserFactory.create(email="other-buyer@example.com"))
    propose(SupplierItemFactory.create(supplier=stranger, lead_time_days=5), supplier_user)
    propose(item, supplier_user)
    mine = buyer_client.get(reverse("suppliers:terms-proposal-list"))
    assert [p.supplier.code for p in mine.context["page"].items] == ["ACME"]
    every = buyer_client.get(reverse("suppliers:terms-proposal-list") + "?scope=all")
    assert {p.supplier.code for p in every.context["page"].items} == {"ACME", "ZED"}


# --- the connectors acknowledge the new type -------------------------------------------------------------


def test_the_connectors_acknowledge_the_event(item, supplier_user, buyer):
    tryton = Connector.objects.create(
        name="tryton",
        kind="tryton",
        config={"url": "http://127.0.0.1:9", "database": "d", "username": "u", "password": "p"},
    )
    Subscription.objects.create(connector=tryton, event_type="supplyline.*")
    self_service.terms_decide(proposal=propose(item, supplier_user), by=buyer, approve=True)
    event = OutboxEvent.objects.get()
    assert Delivery.objects.filter(event=event, connector=tryton).exists()
    # Tryton has nothing to apply it to, and says so with a 204 without a call (port 9 answers nothing).
    outcome = TrytonConnector(tryton).deliver(cloudevent(event))
    assert (outcome.delivered, outcome.status_code) == (True, 204)
    assert dispatch(cloudevent(event)) == 0  # no exception rule is about item terms


# --- query counts ----------------------------------------------------------------------------------------


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_item_list_costs_the_same_queries_for_3_or_30_items(alice_client, supplier, supplier_user):
    url = reverse("suppliers:supplier-items", args=[supplier.code])
    for n in range(3):
        propose(SupplierItemFactory.create(supplier=supplier, lead_time_days=5), supplier_user, note=str(n))
    few = _queries(alice_client, url)
    for n in range(27):
        propose(SupplierItemFactory.create(supplier=supplier, lead_time_days=5), supplier_user, note=str(n))
    assert _queries(alice_client, url) == few


def test_the_review_queue_costs_the_same_queries_for_3_or_30_proposals(buyer_client, supplier, supplier_user):
    url = reverse("suppliers:terms-proposal-list") + "?scope=all"
    for _ in range(3):
        propose(SupplierItemFactory.create(supplier=supplier, lead_time_days=5), supplier_user)
    few = _queries(buyer_client, url)
    for _ in range(27):
        propose(SupplierItemFactory.create(supplier=supplier, lead_time_days=5), supplier_user)
    assert _queries(buyer_client, url) == few


def test_the_profile_costs_the_same_queries_with_many_contacts(alice_client, supplier, supplier_user):
    url = reverse("suppliers:profile", args=[supplier.code])
    self_service.contact_create(supplier=supplier, by=supplier_user, values=CONTACT)
    few = _queries(alice_client, url)
    for n in range(20):
        self_service.contact_create(supplier=supplier, by=supplier_user, values=CONTACT | {"name": f"C {n}"})
        self_service.ship_from_address_create(
            supplier=supplier, by=supplier_user, values=ADDRESS | {"label": f"Site {n}"}
        )
    assert _queries(alice_client, url) == few


def test_the_profile_list_costs_the_same_queries_for_many_suppliers(buyer_client):
    url = reverse("suppliers:profile-home")
    SupplierFactory.create_batch(3)
    few = _queries(buyer_client, url)
    SupplierFactory.create_batch(30)
    assert _queries(buyer_client, url) == few


# --- a saved address on a shipment notice ----------------------------------------------------------------


def test_a_notice_ships_from_the_saved_default_address(alice_client, supplier, supplier_user, shippable_po):
    leeds = self_service.ship_from_address_create(supplier=supplier, by=supplier_user, values=ADDRESS)
    york = self_service.ship_from_address_create(
        supplier=supplier, by=supplier_user, values=ADDRESS | {"label": "York"}
    )
    page = alice_client.get(CREATE + f"?supplier={supplier.code}&site={shippable_po.site.code}")
    header = page.context["form"].header
    assert header["ship_from_address"].value() == str(leeds.pk)  # the default comes preselected
    data = _form_data(shippable_po, lines={10: {"quantity": "5"}}, ship_from="typed, and replaced")
    assert alice_client.post(CREATE, data | {"ship_from_address": str(york.pk)}).status_code == 302
    notice = ShipmentNotice.objects.get()
    assert notice.ship_from == york.as_text()


def test_without_a_saved_address_the_typed_one_ships(alice_client, supplier, supplier_user, shippable_po):
    self_service.ship_from_address_create(supplier=supplier, by=supplier_user, values=ADDRESS)
    data = _form_data(shippable_po, lines={10: {"quantity": "5"}}, ship_from="Dock 4, Leeds")
    assert alice_client.post(CREATE, data | {"ship_from_address": ""}).status_code == 302
    assert ShipmentNotice.objects.get().ship_from == "Dock 4, Leeds"


def test_another_suppliers_address_cannot_be_picked(alice_client, supplier, other_supplier, shippable_po):
    bolt = self_service.ship_from_address_create(supplier=other_supplier, by=None, values=ADDRESS)
    self_service.ship_from_address_create(supplier=supplier, by=None, values=ADDRESS | {"label": "Own"})
    data = _form_data(shippable_po, lines={10: {"quantity": "5"}}) | {"ship_from_address": str(bolt.pk)}
    response = alice_client.post(CREATE, data)
    assert response.status_code == 400
    assert response.context["form"].header.errors["ship_from_address"]
    assert not ShipmentNotice.objects.exists()


# --- the exceptions rule: item terms awaiting review -----------------------------------------------------


def test_terms_waiting_too_long_open_a_case_that_the_decision_clears(item, supplier_user, buyer):
    proposal = propose(item, supplier_user)
    sweep_terms_proposal_overdue(timezone.now() + dt.timedelta(hours=47))
    assert not ExceptionCase.objects.exists()
    assert sweep_terms_proposal_overdue(timezone.now() + dt.timedelta(hours=49)) == (1, 0)
    case = ExceptionCase.objects.get()
    assert (case.type, case.supplier, case.assignee) == (CaseType.TERMS_PROPOSAL_OVERDUE, item.supplier, buyer)
    assert case.dedupe_key == f"terms_proposal_overdue:ACME:{proposal.pk}"
    self_service.terms_decide(proposal=proposal, by=buyer, approve=True)
    case.refresh_from_db()
    assert case.status == CaseStatus.RESOLVED


def test_the_sweep_clears_a_case_whose_proposal_was_decided_elsewhere(item, supplier_user, buyer):
    proposal = propose(item, supplier_user)
    sweep_terms_proposal_overdue(timezone.now() + dt.timedelta(hours=49))
    TermsProposal.objects.filter(pk=proposal.pk).update(status=TermsProposal.Status.REJECTED)
    assert sweep_terms_proposal_overdue(timezone.now() + dt.timedelta(hours=50)) == (0, 1)
    assert ExceptionCase.objects.get().status == CaseStatus.RESOLVED


def test_the_profile_page_reads_the_role_once_for_all_its_actions(alice_client, supplier):
    with CaptureQueriesContext(connection) as queries:
        page = alice_client.get(reverse("suppliers:profile", args=[supplier.code]))
    assert page.status_code == 200
    assert (page.context["may_edit"], page.context["may_contacts"], page.context["may_addresses"]) == (True,) * 3
    # The navigation reads the role on its own; the page's three actions share one read, not three alike.
    role_reads = [q["sql"] for q in queries if '"suppliers_suppliermembership"."role"' in q["sql"]]
    assert len(role_reads) == len(set(role_reads)), role_reads
