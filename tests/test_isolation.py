"""The tenant-isolation matrix: every URL pattern of the project, walked as an outsider.

Bob (a user of BOLT) must get 404 on any URL that names one of ACME's objects,
and must not see ACME's data on any page that names none. A new URL pattern
with an argument this file does not know fails the test until a sample value
is added to SAMPLES, so no route escapes the matrix.
"""

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from planning_sync.models import Connector, Delivery, Subscription
from planning_sync.webhooks import webhook_register
from purchasing import services
from purchasing.documents.intake import document_receive
from purchasing.documents.shapes import PackageInput, ShipmentInput, ShipmentLineInput
from purchasing.models import OutboundDocument
from purchasing.services import LineDecision
from suppliers import self_service
from suppliers.compliance import compliance_document_upload
from suppliers.models import ApiScope, ComplianceDocumentType, Invitation, SupplierMembership
from suppliers.services import api_key_create
from suppliers.team import invitation_resend, invitation_send
from tests.factories import ExceptionCaseFactory, SupplierItemFactory
from tests.totp import enrol

pytestmark = pytest.mark.django_db

# The buyers' exceptions queue: routes that name one exception case.
EXCEPTION_CASE_ROUTES = [
    f"case-{verb}" for verb in ("detail", "claim", "assign", "comment", "snooze", "resolve", "replay", "contact")
]
# URL argument name -> how to name one of ACME's objects in it (see the `acme` fixture).
SAMPLES = ("number", "pk", "name", "site", "sku", "code", "token")
# Routes whose argument names a different kind of object than the default sample.
SAMPLE_OF_ROUTE = {
    "monitor:delivery-replay": {"pk": "delivery"},
    **{f"purchasing:shipment-{verb}": {"pk": "shipment"} for verb in ("detail", "cancel", "replace", "labels")},
    "purchasing:document-detail": {"pk": "document"},
    "purchasing:document-content": {"pk": "document"},
    "purchasing:outbound-document-content": {"pk": "outbound"},
    "suppliers:api-key-revoke": {"pk": "api_key"},
    "api:shipment-notice-detail": {"pk": "shipment"},
    "api:shipment-notice-cancel": {"pk": "shipment"},
    "api:document-detail": {"pk": "document"},
    "api:webhook-detail": {"pk": "webhook"},
    "api:webhook-delivery-list": {"pk": "webhook"},
    **{f"exceptions:{name}": {"pk": "case"} for name in EXCEPTION_CASE_ROUTES},
    **{f"suppliers:compliance-{verb}": {"pk": "compliance_document"} for verb in ("document", "download", "review")},
    "suppliers:contact-edit": {"pk": "contact"},
    "suppliers:contact-delete": {"pk": "contact"},
    "suppliers:address-edit": {"pk": "ship_from_address"},
    "suppliers:address-deactivate": {"pk": "ship_from_address"},
    "suppliers:terms-propose": {"pk": "supplier_item"},
    "suppliers:terms-proposal-decide": {"pk": "terms_proposal"},
    "audit:shipment-history": {"pk": "shipment"},
    "audit:case-history": {"pk": "case"},
    "audit:membership-history": {"pk": "membership"},
    "audit:api-key-history": {"pk": "api_key"},
    **{f"suppliers:invitation-{verb}": {"pk": "invitation"} for verb in ("resend", "revoke")},
    **{f"suppliers:membership-{verb}": {"pk": "membership"} for verb in ("role", "deactivate", "reactivate")},
}
# Links whose token is the credential (an invitation): checked on their own below, not as tenant objects.
TOKEN_LINKS = {"suppliers:invitation-accept"}
# Routes that serve the same thing to everyone and hold no tenant data (checked below).
NO_TENANT_DATA = {"purchasing:document-template"}
# Routes only buyers may use: a supplier gets 404 on them, even for its own objects.
BUYER_ONLY = {
    "purchasing:expected-receipts",
    "purchasing:po-change-order",
    "purchasing:proposal-decide",
    "purchasing:proposal-list",
    "suppliers:buyer-home",
    "suppliers:compliance-queue",
    "suppliers:compliance-review",
    "suppliers:terms-proposal-list",
    "suppliers:terms-proposal-decide",
    "suppliers:supplier-members",
    # The exceptions queue, supply projections and KPIs are the distributor's, even about a supplier's own PO.
    "exceptions:case-list",
    "exceptions:case-bulk",
    *(f"exceptions:{name}" for name in EXCEPTION_CASE_ROUTES),
    "exceptions:projection",
    "exceptions:kpis",
    # The audit trail names the distributor's staff and their addresses: buyers only.
    "audit:po-history",
    "audit:shipment-history",
    "audit:case-history",
    "audit:membership-history",
    "audit:api-key-history",
    "audit:supplier-history",
}
# The integration monitor is for the distributor's staff: every supplier user gets 404 there.
STAFF_NAMESPACES = {"monitor"}
# Machine endpoints (ERP and planning feeds) take a connector's bearer token, never a session.
MACHINE_NAMESPACES = {"planning_sync"}
# Pages that act only on the signed-in user's own account (allauth, and allauth.mfa's two-factor pages),
# or hold no tenant data.
ACCOUNT_PAGE_PREFIXES = ("account_", "mfa_")
PUBLIC = {"healthz", "api-schema", "api-docs", "api-redoc"}
# The supplier API takes an API key, never a session: its own matrix is at the end of this module.
API_NAMESPACE = "api"
ADMIN_NAMESPACE = "admin"


@dataclass(frozen=True)
class Route:
    name: str | None
    namespace: str
    arguments: tuple[str, ...]
    where: str

    @property
    def qualified_name(self) -> str:
        return f"{self.namespace}:{self.name}" if self.namespace else str(self.name)


def _arguments(pattern: URLPattern | URLResolver) -> tuple[str, ...]:
    regex = pattern.pattern.regex
    return tuple(regex.groupindex)


def walk(resolver: URLResolver | None = None, namespace: str = "", prefix: str = "") -> Iterator[Route]:
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            inner = ":".join(filter(None, [namespace, pattern.namespace or ""]))
            yield from walk(pattern, inner, prefix + str(pattern.pattern))
        else:
            route = prefix + str(pattern.pattern)
            yield Route(pattern.name, namespace, _arguments(pattern), route)


def _routes(kind: str) -> list[Route]:
    def classify(route: Route) -> str:
        if route.namespace.split(":")[0] == ADMIN_NAMESPACE:
            return "admin"
        if route.name in PUBLIC or (route.name or "").startswith(ACCOUNT_PAGE_PREFIXES):
            return "account"
        if route.qualified_name in NO_TENANT_DATA:
            return "shared"
        if route.qualified_name in TOKEN_LINKS:
            return "token"
        if route.namespace in MACHINE_NAMESPACES:
            return "machine"
        if route.namespace == API_NAMESPACE:
            return "api"
        return "object" if route.arguments else "list"

    return [route for route in walk() if classify(route) == kind]


def _get_or_post(client: Client, url: str):
    response = client.get(url)
    if response.status_code == 405:
        response = client.post(url)
    return response


def test_the_walk_finds_the_portals_routes():
    names = {route.qualified_name for route in walk()}
    assert {"purchasing:po-list", "purchasing:po-detail", "suppliers:supplier-home", "home"} <= names


@pytest.fixture
def acme(po, shippable_po, supplier_user, settings, tmp_path) -> dict[str, str]:
    """One of each of ACME's objects that a URL can name: its PO, a proposal on it, a delivery of its events,
    a shipment notice with a package, a document it sent and our reply, an exception case about its PO,
    the item and site of a PO line (a supply projection), its code (a scorecard) and a compliance document."""
    settings.MEDIA_ROOT = tmp_path
    compliance = compliance_document_upload(
        supplier=po.supplier,
        document_type=ComplianceDocumentType.objects.create(name="ISO 9001", is_required=True),
        file=SimpleUploadedFile("iso.pdf", b"%PDF-1.7 certificate"),
        valid_from=timezone.localdate(),
        valid_to=timezone.localdate() + dt.timedelta(days=365),
        by=supplier_user,
    )
    erp = Connector.objects.create(name="erp", kind="webhook", config={"url": "http://127.0.0.1:9/erp"})
    Subscription.objects.create(connector=erp, event_type="supplyline.po.*")
    ack = services.acknowledgement_submit(
        po=po,
        by=supplier_user,
        decisions=[LineDecision(10, "reject", reason_code="OUT_OF_STOCK"), LineDecision(20, "accept")],
        channel="web",
        expected_version=po.version,
    )
    dead = Delivery.objects.filter(event__subject=po.number).first()
    assert dead is not None
    Delivery.objects.filter(pk=dead.pk).update(status=Delivery.Status.DEAD)
    notice = services.shipment_notice_submit(
        supplier=po.supplier,
        by=supplier_user,
        shipment=ShipmentInput(
            number="ASN-ISO-1",
            ship_date=timezone.localdate(),
            packages=(PackageInput(ref="P1", kind="pallet"),),
            lines=(ShipmentLineInput(shippable_po.number, 10, Decimal(5), package_ref="P1"),),
        ),
        channel="web",
    )
    document = document_receive(
        supplier=po.supplier, content=ISA_GARBAGE, filename="bad.x12", source="upload", by=supplier_user
    )
    api_key, _ = api_key_create(supplier=po.supplier, name="iso", scopes=["orders:read"], by=None, expires_at=None)
    invitation, _ = invitation_send(supplier=po.supplier, email="carol@example.com", role="viewer", by=supplier_user)
    webhook, _ = webhook_register(
        supplier=po.supplier, url="https://hooks.acme.example/supplyline", event_types=["supplyline.po.issued.v1"]
    )
    reply = OutboundDocument.objects.create(
        supplier=po.supplier,
        format="x12",
        kind="functional_ack",
        filename="997.x12",
        content=b"ISA",
        control_number="9",
    )
    contact = self_service.contact_create(
        supplier=po.supplier,
        by=supplier_user,
        values={"name": "Ann Sales", "function": "sales", "email": "ann@acme.example", "is_primary": True},
    )
    address = self_service.ship_from_address_create(
        supplier=po.supplier,
        by=supplier_user,
        values={"label": "Leeds", "line1": "1 Dock Road", "city": "Leeds", "country": "GB"},
    )
    supplier_item = SupplierItemFactory.create(supplier=po.supplier)
    terms = self_service.terms_propose(
        supplier_item=SupplierItemFactory.create(supplier=po.supplier),
        by=supplier_user,
        lead_time_days=30,
        minimum_order_quantity=None,
        effective_date=timezone.localdate(),
    )
    return {
        "number": po.number,
        "code": po.supplier.code,
        "contact": str(contact.pk),
        "ship_from_address": str(address.pk),
        "supplier_item": str(supplier_item.pk),
        "terms_proposal": str(terms.pk),
        "compliance_document": str(compliance.pk),
        "pk": str(ack.lines.get(action="reject").pk),
        "name": erp.name,
        "delivery": str(dead.pk),
        "shipment": str(notice.pk),
        "document": str(document.pk),
        "outbound": str(reply.pk),
        "api_key": str(api_key.pk),
        "membership": str(supplier_user.memberships.get(supplier=po.supplier).pk),
        "webhook": str(webhook.pk),
        "invitation": str(invitation.pk),
        "case": str(ExceptionCaseFactory.create(po=po, title=f"{po.number}: not acknowledged").pk),
        "site": shippable_po.site.code,
        "sku": shippable_po.lines.get(line_number=10).item.sku,
    }


ISA_GARBAGE = b"ISA*00*garbage"


def _kwargs(route: Route, acme: dict[str, str]) -> dict[str, str]:
    override = SAMPLE_OF_ROUTE.get(route.qualified_name, {})
    return {a: acme[override.get(a, a)] for a in route.arguments}


def test_every_route_argument_has_a_sample():
    unknown = {(r.where, a) for r in _routes("object") for a in r.arguments if a not in SAMPLES}
    assert not unknown, f"Add a sample for these URL arguments to tests/test_isolation.py: {sorted(unknown)}"


@pytest.mark.parametrize("route", _routes("object"), ids=lambda r: r.qualified_name)
def test_an_outsider_gets_404_on_another_suppliers_objects(route, acme, bob_client, alice_client, buyer_client):
    assert route.name, f"Name the URL pattern {route.where} so the matrix can reverse it."
    url = reverse(route.qualified_name, kwargs=_kwargs(route, acme))
    staff_only = route.qualified_name in BUYER_ONLY or route.namespace in STAFF_NAMESPACES
    owner = buyer_client if staff_only else alice_client
    assert _get_or_post(owner, url).status_code != 404, f"{url} must exist for its owner"
    assert _get_or_post(bob_client, url).status_code == 404, f"{url} must be 404 for another supplier"
    if staff_only:
        assert _get_or_post(alice_client, url).status_code == 404, f"{url} is for buyers only"


@pytest.mark.parametrize("route", _routes("list"), ids=lambda r: r.qualified_name)
def test_an_outsider_never_sees_another_suppliers_data_on_a_page(route, acme, po, bob_client, alice_client):
    if route.qualified_name in BUYER_ONLY or route.namespace in STAFF_NAMESPACES:
        assert _get_or_post(alice_client, reverse(route.qualified_name)).status_code == 404, "for staff only"
    response = _get_or_post(bob_client, reverse(route.qualified_name))
    while response.status_code == 302:
        response = bob_client.get(response["Location"])
    assert response.status_code in {200, 404}
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert po.number.encode() not in body
    assert po.supplier.name.encode() not in body


@pytest.mark.parametrize("route", _routes("token"), ids=lambda r: r.qualified_name)
def test_a_token_link_names_nothing_without_its_token(route, acme, bob_client, client):
    """A made-up token is 404 for everyone; ACME's real link, opened while signed in as someone else,
    names neither ACME nor the invited address."""
    assert bob_client.get(reverse(route.qualified_name, kwargs={"token": "made-up"})).status_code == 404
    assert client.get(reverse(route.qualified_name, kwargs={"token": "made-up"})).status_code == 404
    invitation = Invitation.objects.get(pk=acme["invitation"])
    _, token = invitation_resend(invitation=invitation, by=None)  # a link we know the token of
    response = bob_client.get(reverse(route.qualified_name, kwargs={"token": token}))
    assert response.status_code == 403
    assert b"Acme" not in response.content
    assert b"carol@example.com" not in response.content
    assert not SupplierMembership.objects.filter(user__email="bob@example.com", supplier__code="ACME").exists()


# The admin's own sign-in pages are open by design.
ADMIN_OPEN = {"login", "logout", "password_change_done", "javascript-catalog"}
ADMIN_ROUTES = [r for r in _routes("admin") if r.name and r.name not in ADMIN_OPEN]


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=lambda r: r.qualified_name)
def test_the_admin_is_closed_to_supplier_users(route, po, bob_client):
    kwargs = {a: "purchasing" if a == "app_label" else str(po.pk) for a in route.arguments}
    response = bob_client.get(reverse(route.qualified_name, kwargs=kwargs))
    assert response.status_code in {302, 404}
    if response.status_code == 302:
        assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize("route", [r for r in _routes("account") if not r.arguments], ids=lambda r: r.qualified_name)
def test_account_pages_show_nothing_of_another_supplier(route, po, bob_client):
    response = bob_client.get(reverse(route.qualified_name))
    assert response.status_code < 500
    assert po.number.encode() not in response.content
    assert po.supplier.name.encode() not in response.content


@pytest.mark.parametrize(
    "route", [r for r in _routes("account") if (r.name or "").startswith("mfa_")], ids=lambda r: r.qualified_name
)
@pytest.mark.parametrize("required", [True, False], ids=["mfa-required", "mfa-optional"])
def test_two_factor_pages_show_nothing_of_another_users_authenticators(
    route, required, supplier_user, bob_client, settings
):
    settings.SUPPLYLINE_MFA_REQUIRED = required
    secret, codes = enrol(supplier_user)
    response = bob_client.get(reverse(route.qualified_name))
    assert response.status_code < 500
    assert secret.encode() not in response.content
    assert not any(code.encode() in response.content for code in codes)
    assert supplier_user.email.encode() not in response.content


@pytest.mark.parametrize("route", _routes("machine"), ids=lambda r: r.qualified_name)
def test_machine_endpoints_refuse_a_supplier_session(route, acme, alice_client):
    response = alice_client.post(reverse(route.qualified_name), data="[]", content_type="application/json")
    assert response.status_code == 401


@pytest.mark.parametrize("route", _routes("shared"), ids=lambda r: r.qualified_name)
def test_shared_downloads_hold_nothing_of_a_supplier(route, acme, po, bob_client):
    samples = {"kind": "ship_notice", "fmt": "csv"}
    response = bob_client.get(reverse(route.qualified_name, kwargs={a: samples[a] for a in route.arguments}))
    assert response.status_code == 200
    assert acme["number"].encode() not in response.content
    assert po.supplier.name.encode() not in response.content


# --- the supplier API: keys, not sessions ---------------------------------------------------------


def _bearer(supplier) -> dict[str, str]:
    _, secret = api_key_create(supplier=supplier, name="matrix", scopes=list(ApiScope.values), by=None, expires_at=None)
    return {"Authorization": f"Bearer {secret}"}


def _api_call(client: Client, url: str, headers: dict[str, str]):
    response = client.get(url, headers=headers)
    if response.status_code == 405:
        response = client.post(url, data={}, content_type="application/json", headers=headers)
    return response


API_ROUTES = [r for r in walk() if r.namespace == API_NAMESPACE]


@pytest.mark.parametrize("route", [r for r in API_ROUTES if r.arguments], ids=lambda r: r.qualified_name)
def test_another_suppliers_key_gets_404_on_every_api_object(route, acme, supplier, other_supplier, client):
    url = reverse(route.qualified_name, kwargs=_kwargs(route, acme))
    assert _api_call(client, url, _bearer(supplier)).status_code != 404, f"{url} must exist for its owner"
    assert _api_call(client, url, _bearer(other_supplier)).status_code == 404, f"{url} must be 404 for BOLT's key"


@pytest.mark.parametrize("route", [r for r in API_ROUTES if not r.arguments], ids=lambda r: r.qualified_name)
def test_another_suppliers_key_never_sees_acme_in_a_list(route, acme, po, other_supplier, client):
    response = _api_call(client, reverse(route.qualified_name), _bearer(other_supplier))
    assert response.status_code < 500
    assert po.number.encode() not in response.content
    assert po.supplier.name.encode() not in response.content
    assert b"ASN-ISO-1" not in response.content


@pytest.mark.parametrize("route", API_ROUTES, ids=lambda r: r.qualified_name)
def test_a_session_is_not_an_api_key(route, acme, alice_client):
    url = reverse(route.qualified_name, kwargs=_kwargs(route, acme))
    assert _api_call(alice_client, url, {}).status_code == 401
