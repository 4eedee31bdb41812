"""The role-by-route matrix: every URL pattern, for every role, with two suppliers (docs/organisations.md).

One table (``UI``) says, for each route, which personas may read it (GET) and which may change something
through it (POST). For each (route, persona) pair:

- an allowed persona gets a success or a redirect (2xx, 3xx). Where the table gives no valid body for a
  POST (``data``), the request must get past the access checks: no 403, 404 or 5xx (a form error, 400, is
  fine: the persona was let in and the form said what is missing);
- a persona that may not gets 403 or 404, and nothing in the database changes. Which of the two is fixed:
  404 for another supplier's object, for a page of the other side (buyers' pages to supplier users,
  supplier-only pages to buyers); 403 for a member of the active supplier whose role lacks the right.
- a method the route does not take (``NO``) answers 405 to everyone.

The API is walked per scope (``API``): a key with the operation's scope gets through, any other is 403
and changes nothing. A route missing from either table fails ``test_every_route_is_in_the_table``, so no
route escapes: add new routes to ``UI`` (or ``API``) with who may read and who may change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from suppliers.models import ApiScope, ComplianceDocumentType, Invitation, SupplierMembership
from suppliers.services import api_key_create
from suppliers.team import invitation_resend
from tests.config.test_account_pages import REACHABLE
from tests.factories import PurchaseOrderFactory, SupplierMembershipFactory, UserFactory
from tests.test_isolation import _kwargs, acme, walk  # noqa: F401  (acme is a fixture used by name)

pytestmark = pytest.mark.django_db

# --- personas --------------------------------------------------------------------------------------------------------
# Four members of ACME, one per role; a buyer (staff, the distributor's); and BOLT's admin, the other supplier.
ADMIN, DESK, SHIPPING, VIEWER, BUYER, OUTSIDER = "admin", "order_desk", "shipping", "viewer", "buyer", "outsider"
PERSONAS = (ADMIN, DESK, SHIPPING, VIEWER, BUYER, OUTSIDER)

ACME = frozenset({ADMIN, DESK, SHIPPING, VIEWER})
SUPPLIERS = ACME | {OUTSIDER}  # a page without an object: BOLT's admin sees BOLT's own
EVERYONE = SUPPLIERS | {BUYER}
NOBODY: frozenset[str] = frozenset()
ADMINS = frozenset({ADMIN, OUTSIDER})  # each supplier's admin, on a page of their own supplier
ACKNOWLEDGERS = frozenset({ADMIN, DESK})  # on ACME's PO
SHIPPERS = frozenset({ADMIN, DESK, SHIPPING})  # on ACME's notice
SHIPPERS_ANYWHERE = SHIPPERS | {OUTSIDER}  # on a page of their own supplier
ONLY_BUYER = frozenset({BUYER})

Samples = dict[str, str]


@dataclass(frozen=True)
class Rule:
    """Who may GET and who may POST a route. ``None``: the route does not take that method (405 for all)."""

    get: frozenset[str] | None
    post: frozenset[str] | None
    # A valid POST body, from the sample objects: allowed personas must then get a 2xx or 3xx.
    data: Callable[[Samples], dict[str, Any]] | None = field(default=None, compare=False)


NO = None


UI: dict[str, Rule] = {
    # Homes: each side has its own; the neutral one sends everyone to theirs.
    "home": Rule(EVERYONE, NO),
    "suppliers:supplier-home": Rule(EVERYONE, NO),  # a buyer is redirected to the buyers' home
    "suppliers:buyer-home": Rule(ONLY_BUYER, NO),
    # One's own e-mail settings are personal, not the supplier's: every role keeps its own.
    "suppliers:notification-settings": Rule(EVERYONE, EVERYONE, data=lambda s: {"wanted": []}),
    # API keys: admins only (a member in another role: 403).
    "suppliers:api-key-list": Rule(ADMINS, NO),
    "suppliers:api-key-create": Rule(
        ADMINS, ADMINS, data=lambda s: {"supplier": s["own_supplier"], "name": "matrix", "scopes": ["orders:read"]}
    ),
    "suppliers:api-key-revoke": Rule(frozenset({ADMIN}), frozenset({ADMIN}), data=lambda s: {}),
    # The team: every member reads their own supplier's list; only admins change it.
    "suppliers:team": Rule(SUPPLIERS, NO),
    "suppliers:invitation-create": Rule(ADMINS, ADMINS, data=lambda s: {"email": "dan@example.com", "role": "viewer"}),
    "suppliers:invitation-resend": Rule(NO, frozenset({ADMIN}), data=lambda s: {}),
    "suppliers:invitation-revoke": Rule(NO, frozenset({ADMIN}), data=lambda s: {}),
    "suppliers:membership-role": Rule(NO, frozenset({ADMIN}), data=lambda s: {"role": "order_desk"}),
    "suppliers:membership-deactivate": Rule(NO, frozenset({ADMIN}), data=lambda s: {}),
    "suppliers:membership-reactivate": Rule(NO, frozenset({ADMIN}), data=lambda s: {}),
    # The link's token is the credential, and it is for carol@example.com, who is none of the personas:
    # every one of them is refused (403). Accepting is tested in tests/suppliers/test_team.py.
    "suppliers:invitation-accept": Rule(NOBODY, NOBODY),
    # Acting for ACME: its members may choose it; BOLT's admin and buyers may not (404).
    "suppliers:active-supplier-set": Rule(NO, ACME, data=lambda s: {"supplier": s["supplier_pk"]}),
    "suppliers:supplier-members": Rule(ONLY_BUYER, NO),
    # Self-service (docs/self-service.md): every member reads the profile; admins keep it (profile, contacts,
    # ship-from addresses); admins and the order desk propose item terms; buyers read all and decide terms.
    "suppliers:profile-home": Rule(EVERYONE, NO),  # a supplier user is sent to their own profile
    "suppliers:profile": Rule(ACME | {BUYER}, NO),
    "suppliers:profile-edit": Rule(frozenset({ADMIN}), frozenset({ADMIN})),
    "suppliers:contact-create": Rule(frozenset({ADMIN}), frozenset({ADMIN})),
    "suppliers:contact-edit": Rule(frozenset({ADMIN}), frozenset({ADMIN})),
    "suppliers:contact-delete": Rule(frozenset({ADMIN}), frozenset({ADMIN}), data=lambda s: {}),
    "suppliers:address-create": Rule(frozenset({ADMIN}), frozenset({ADMIN})),
    "suppliers:address-edit": Rule(frozenset({ADMIN}), frozenset({ADMIN})),
    "suppliers:address-deactivate": Rule(NO, frozenset({ADMIN}), data=lambda s: {}),
    "suppliers:supplier-items": Rule(ACME | {BUYER}, NO),
    "suppliers:terms-propose": Rule(ACKNOWLEDGERS, ACKNOWLEDGERS),
    "suppliers:terms-proposal-list": Rule(ONLY_BUYER, NO),
    "suppliers:terms-proposal-decide": Rule(NO, ONLY_BUYER),
    # Compliance: everyone sees their own standing; only admins upload; buyers review.
    "suppliers:compliance-overview": Rule(EVERYONE, NO),  # buyers are redirected to the review queue
    "suppliers:compliance-upload": Rule(ADMINS, ADMINS, data=lambda s: _compliance_upload(s)),
    "suppliers:compliance-queue": Rule(ONLY_BUYER, NO),
    "suppliers:compliance-supplier": Rule(ACME | {BUYER}, NO),
    "suppliers:compliance-document": Rule(ACME | {BUYER}, NO),
    "suppliers:compliance-download": Rule(ACME | {BUYER}, NO),
    "suppliers:compliance-review": Rule(NO, ONLY_BUYER, data=lambda s: {"decision": "approve"}),
    # Scorecards: suppliers their own, buyers all.
    "suppliers:scorecard-list": Rule(EVERYONE, NO),
    "suppliers:scorecard-detail": Rule(ACME | {BUYER}, NO),
    "suppliers:scorecard-export": Rule(ACME | {BUYER}, NO),
    # Purchase orders: everyone reads their own; admins and the order desk answer; buyers change.
    "purchasing:po-list": Rule(EVERYONE, NO),
    "purchasing:po-export": Rule(EVERYONE, NO),
    "purchasing:po-detail": Rule(ACME | {BUYER}, NO),
    "purchasing:po-acknowledge": Rule(ACKNOWLEDGERS, ACKNOWLEDGERS),
    "purchasing:po-accept-all": Rule(NO, ACKNOWLEDGERS, data=lambda s: {"version": s["po_version"]}),
    "purchasing:po-change-order": Rule(ONLY_BUYER, ONLY_BUYER),
    "purchasing:proposal-list": Rule(ONLY_BUYER, NO),
    "purchasing:proposal-decide": Rule(NO, ONLY_BUYER, data=lambda s: {"decision": "approve"}),
    # Shipment notices: everyone reads their own; admins, order desk and shipping send and change them.
    "purchasing:shipment-list": Rule(EVERYONE, NO),
    "purchasing:shipment-create": Rule(SHIPPERS_ANYWHERE, SHIPPERS_ANYWHERE),
    "purchasing:shipment-detail": Rule(ACME | {BUYER}, NO),
    "purchasing:shipment-cancel": Rule(NO, SHIPPERS, data=lambda s: {"reason": "Truck broke down"}),
    "purchasing:shipment-replace": Rule(SHIPPERS, SHIPPERS),
    "purchasing:shipment-labels": Rule(ACME | {BUYER}, NO),
    # Documents: everyone reads their own; the shipping roles upload (what a file may hold is checked by role).
    "purchasing:document-list": Rule(EVERYONE, SHIPPERS_ANYWHERE),
    "purchasing:document-detail": Rule(ACME | {BUYER}, NO),
    "purchasing:document-content": Rule(ACME | {BUYER}, NO),
    "purchasing:outbound-document-content": Rule(ACME | {BUYER}, NO),
    "purchasing:document-template": Rule(EVERYONE, NO),
    "purchasing:expected-receipts": Rule(ONLY_BUYER, NO),
    # The buyers' exceptions queue, projections and KPIs.
    "exceptions:case-list": Rule(ONLY_BUYER, NO),
    "exceptions:case-bulk": Rule(NO, ONLY_BUYER),
    "exceptions:case-detail": Rule(ONLY_BUYER, NO),
    "exceptions:case-claim": Rule(NO, ONLY_BUYER),
    "exceptions:case-assign": Rule(NO, ONLY_BUYER),
    "exceptions:case-comment": Rule(NO, ONLY_BUYER, data=lambda s: {"comment-note": "Called the supplier."}),
    "exceptions:case-snooze": Rule(NO, ONLY_BUYER),
    "exceptions:case-resolve": Rule(NO, ONLY_BUYER),
    "exceptions:case-replay": Rule(NO, ONLY_BUYER),
    "exceptions:case-contact": Rule(NO, ONLY_BUYER),
    "exceptions:projection": Rule(ONLY_BUYER, NO),
    "exceptions:kpis": Rule(ONLY_BUYER, NO),
    # The audit trail (docs/audit.md): the distributor's, even about a supplier's own objects.
    "audit:po-history": Rule(ONLY_BUYER, NO),
    "audit:shipment-history": Rule(ONLY_BUYER, NO),
    "audit:case-history": Rule(ONLY_BUYER, NO),
    "audit:membership-history": Rule(ONLY_BUYER, NO),
    "audit:api-key-history": Rule(ONLY_BUYER, NO),
    "audit:supplier-history": Rule(ONLY_BUYER, NO),
    # The integration monitor: the distributor's staff (the buyer persona is staff).
    "monitor:connector-list": Rule(ONLY_BUYER, NO),
    "monitor:connector-detail": Rule(ONLY_BUYER, NO),
    "monitor:connector-replay": Rule(NO, ONLY_BUYER),
    "monitor:delivery-replay": Rule(NO, ONLY_BUYER),
    # Served to anyone, holding no supplier's data.
    "healthz": Rule(EVERYONE, NO),
    "metrics": Rule(EVERYONE, NO),
    "api-schema": Rule(EVERYONE, NO),
    "api-docs": Rule(EVERYONE, NO),
    "api-redoc": Rule(EVERYONE, NO),
}

# Routes that take no session at all: a connector's bearer token (the ERP and planning feeds). Every
# persona's session gets 401; tests/planning_sync/test_inbound_api.py tests the tokens.
TOKEN_ONLY = {
    "planning_sync:purchase-orders-push",
    "planning_sync:receipts-push",
    "planning_sync:inventory-push",
    "planning_sync:demand-push",
    "planning_sync:safety-stock-push",
}
# Whole families, by prefix: each signed-in persona's own account (allauth: every persona may open its own
# pages; they act on the signed-in user only; the two-factor pages, mfa_, are tested in
# tests/suppliers/test_mfa.py and tests/test_isolation.py), and the Django admin (staff, by Django's own permissions;
# tests/test_isolation.py checks a supplier user is kept out of every page of it).
OWN_ACCOUNT_PREFIX = "account_"
OWN_MFA_PREFIX = "mfa_"
ADMIN_SITE_PREFIX = "admin:"

# The supplier API: per operation, the one scope a key needs (ANY_KEY: any valid key).
ANY_KEY = "any key"
API: dict[str, dict[str, str]] = {
    "api:whoami": {"GET": ANY_KEY},
    "api:purchase-order-list": {"GET": ApiScope.ORDERS_READ},
    "api:purchase-order-detail": {"GET": ApiScope.ORDERS_READ},
    "api:acknowledgement-create": {"POST": ApiScope.ORDERS_ACKNOWLEDGE},
    "api:shipment-notice-list": {"GET": ApiScope.ORDERS_READ, "POST": ApiScope.SHIPMENTS_WRITE},
    "api:shipment-notice-detail": {"GET": ApiScope.ORDERS_READ},
    "api:shipment-notice-cancel": {"POST": ApiScope.SHIPMENTS_WRITE},
    "api:document-create": {"POST": ApiScope.DOCUMENTS_WRITE},
    "api:document-detail": {"GET": ApiScope.DOCUMENTS_WRITE},
    "api:event-list": {"GET": ApiScope.ORDERS_READ},
    "api:webhook-list": {"GET": ApiScope.WEBHOOKS_MANAGE, "POST": ApiScope.WEBHOOKS_MANAGE},
    "api:webhook-detail": {"GET": ApiScope.WEBHOOKS_MANAGE, "DELETE": ApiScope.WEBHOOKS_MANAGE},
    "api:webhook-delivery-list": {"GET": ApiScope.WEBHOOKS_MANAGE},
}

ALLOWED = {200, 201, 202, 204, 301, 302, 303}
DENIED = {403, 404}


def _allowed(rule: Rule, method: str) -> frozenset[str] | None:
    return rule.get if method == "GET" else rule.post


def _compliance_upload(samples: Samples) -> dict[str, Any]:
    today = timezone.localdate()
    return {
        "supplier": samples["own_supplier"],
        "document_type": samples["document_type"],
        "file": SimpleUploadedFile("iso.pdf", b"%PDF-1.7 certificate"),
        "valid_from": today.isoformat(),
        "valid_to": (today + dt.timedelta(days=365)).isoformat(),
    }


# --- the walk --------------------------------------------------------------------------------------------------------


def _session_routes() -> list[str]:
    names = []
    for route in walk():
        name = route.qualified_name
        if route.namespace == "api" or name.startswith((OWN_ACCOUNT_PREFIX, OWN_MFA_PREFIX, ADMIN_SITE_PREFIX)):
            continue
        names.append(name)
    return names


def test_every_route_is_in_the_table():
    routes = {route.qualified_name: route for route in walk()}
    unnamed = [r.where for r in walk() if not r.name and not r.namespace.startswith(ADMIN_SITE_PREFIX[:-1])]
    assert not unnamed, f"Name these URL patterns so the role matrix can reverse them: {unnamed}"
    missing = sorted(set(_session_routes()) - set(UI) - TOKEN_ONLY)
    assert not missing, f"Say who may read and change these routes in UI in tests/test_roles.py: {missing}"
    missing_api = sorted({name for name, r in routes.items() if r.namespace == "api"} - set(API))
    assert not missing_api, f"Say which scope each operation needs in API in tests/test_roles.py: {missing_api}"
    stale = sorted((set(UI) | set(API) | TOKEN_ONLY) - set(routes))
    assert not stale, f"These routes no longer exist; drop them from tests/test_roles.py: {stale}"


@pytest.fixture
def personas(supplier, supplier_user, outsider, buyer) -> dict[str, Client]:
    """A signed-in client per persona; Alice (supplier_user) is ACME's admin, Bob (outsider) BOLT's."""
    users = {ADMIN: supplier_user, BUYER: buyer, OUTSIDER: outsider}
    for role in (DESK, SHIPPING, VIEWER):
        users[role] = UserFactory.create(email=f"{role}@example.com")
        SupplierMembershipFactory.create(user=users[role], supplier=supplier, role=role)
    clients = {}
    for name, user in users.items():
        clients[name] = Client()
        clients[name].force_login(user)
    return clients


@pytest.fixture
def samples(request, po, supplier, personas) -> Samples:
    """The isolation matrix's ACME objects, the viewer's membership for the team routes (changing the admin's
    own would hit the last-admin rule), and what the POST bodies need."""
    objects: Samples = request.getfixturevalue("acme")
    viewer = SupplierMembership.objects.get(user__email="viewer@example.com")
    po.refresh_from_db()
    _, token = invitation_resend(invitation=Invitation.objects.get(pk=objects["invitation"]), by=None)
    return objects | {
        "token": token,
        "kind": "ship_notice",
        "fmt": "csv",
        "membership": str(viewer.pk),
        "po_version": str(po.version),
        "supplier_pk": str(supplier.pk),
        "document_type": str(ComplianceDocumentType.objects.get().pk),
    }


def _state() -> dict[str, list[dict[str, Any]]]:
    """Every row of the portal's own tables: what a refused request must leave exactly as it was."""
    tables: dict[str, list[dict[str, Any]]] = {}
    for label in ("suppliers", "purchasing", "planning_sync", "exceptions"):
        for model in apps.get_app_config(label).get_models():
            rows = model._default_manager.order_by("pk").values()
            # Authenticating with an API key stamps when it was last used: not a change made through the route.
            tables[model._meta.label] = [{k: v for k, v in row.items() if k != "last_used_at"} for row in rows]
    return tables


def _call(client: Client, method: str, url: str, data: dict[str, Any] | None):
    if method == "GET":
        return client.get(url)
    return client.post(url, data or {})


CASES = [(name, method) for name in sorted(UI) for method in ("GET", "POST") if _allowed(UI[name], method) is not None]
NOT_TAKEN = [(name, method) for name in sorted(UI) for method in ("GET", "POST") if _allowed(UI[name], method) is None]


@pytest.mark.parametrize(("name", "method"), NOT_TAKEN, ids=lambda v: v)
def test_a_method_a_route_does_not_take_is_405_for_everyone(name, method, personas):
    route = next(r for r in walk() if r.qualified_name == name)
    # Any well-formed arguments do: the method is refused before the view looks anything up.
    url = reverse(name, kwargs=dict.fromkeys(route.arguments, "1"))
    for persona in PERSONAS:
        status = _call(personas[persona], method, url, None).status_code
        assert status == 405, f"{method} {url} is not a method of this route, but {persona} got {status}"


@pytest.mark.parametrize(("name", "method"), CASES, ids=lambda v: v)
def test_each_role_may_do_what_the_table_says_and_nothing_else(name, method, personas, samples, other_supplier):
    """Refused personas go first, so a refusal is checked against the untouched state; the allowed ones
    follow, and a later one may find the work done (a redirect with a message is still a success)."""
    rule = UI[name]
    route = next(r for r in walk() if r.qualified_name == name)
    url = reverse(name, kwargs=_kwargs(route, samples))
    allowed = _allowed(rule, method) or NOBODY
    for persona in sorted(PERSONAS, key=lambda p: p in allowed):
        own = str(other_supplier.pk) if persona == OUTSIDER else samples["supplier_pk"]
        data = rule.data({**samples, "own_supplier": own}) if method == "POST" and rule.data else None
        if persona not in allowed:
            before = _state()
            status = _call(personas[persona], method, url, data).status_code
            assert status in DENIED, f"{persona} may not {method} {url}, got {status}"
            assert _state() == before, f"{persona}'s refused {method} {url} changed something"
            continue
        status = _call(personas[persona], method, url, data).status_code
        if method == "GET" or data is not None:
            assert status in ALLOWED, f"{persona} may {method} {url}, got {status}"
        else:
            assert status not in DENIED, f"{persona} may {method} {url}, got {status}"
            assert status < 500, f"{persona} may {method} {url}, got {status}"


@pytest.mark.parametrize("name", sorted(TOKEN_ONLY))
@pytest.mark.parametrize("persona", PERSONAS)
def test_token_only_routes_refuse_every_session(name, persona, personas):
    response = personas[persona].post(reverse(name), data="[]", content_type="application/json")
    assert response.status_code == 401


ACCOUNT_PAGES = sorted(
    r.qualified_name
    for r in walk()
    # allauth's pages the portal offers (tests/config/test_account_pages.py); the closed ones are 404 to all.
    if not r.namespace and r.name in REACHABLE and r.name.startswith(OWN_ACCOUNT_PREFIX) and not r.arguments
)


@pytest.mark.parametrize("name", ACCOUNT_PAGES)
def test_every_role_opens_its_own_account_pages(name, personas):
    for persona in PERSONAS:
        assert personas[persona].get(reverse(name)).status_code < 400, persona


# --- the API, per scope -----------------------------------------------------------------------------------------------

API_CASES = [(name, method) for name in sorted(API) for method in API[name]]


@pytest.mark.parametrize(("name", "method"), API_CASES, ids=lambda v: v)
def test_each_api_operation_takes_its_scope_and_no_other(name, method, request, supplier, client):
    """A key holding one scope at a time: every other scope first (403, nothing changes), then the one needed."""
    route = next(r for r in walk() if r.qualified_name == name)
    url = reverse(name, kwargs=_kwargs(route, request.getfixturevalue("acme")))
    needed = API[name][method]
    for scope in sorted(ApiScope.values, key=lambda s: needed in (ANY_KEY, s)):
        _, secret = api_key_create(supplier=supplier, name=scope, scopes=[scope], by=None, expires_at=None)
        headers = {"Authorization": f"Bearer {secret}"}
        before = _state()
        response = client.generic(method, url, data=b"{}", content_type="application/json", headers=headers)
        if needed in (ANY_KEY, scope):
            assert response.status_code not in {401, 403, 404}, (scope, response.content)
            assert response.status_code < 500, (scope, response.content)
            if method == "GET":
                assert response.status_code == 200, (scope, response.content)
        else:
            assert response.status_code == 403, (scope, response.content)
            assert _state() == before, scope


@pytest.mark.parametrize("name", sorted(API))
def test_methods_outside_the_table_are_refused(name, request, supplier, client):
    route = next(r for r in walk() if r.qualified_name == name)
    url = reverse(name, kwargs=_kwargs(route, request.getfixturevalue("acme")))
    _, secret = api_key_create(supplier=supplier, name="all", scopes=list(ApiScope.values), by=None, expires_at=None)
    for method in {"GET", "POST", "PUT", "PATCH", "DELETE"} - set(API[name]):
        response = client.generic(
            method, url, data=b"{}", content_type="application/json", headers={"Authorization": f"Bearer {secret}"}
        )
        assert response.status_code in {403, 405}, f"{method} {url}: {response.status_code}"


# --- a user of two suppliers ------------------------------------------------------------------------------------------


def test_a_user_of_two_suppliers_sees_and_acts_only_for_the_active_one(
    personas, samples, po, supplier_user, other_supplier, outsider
):
    """Alice, ACME's admin, is also BOLT's order desk. Acting for ACME she cannot touch BOLT's PO; after
    switching she sees BOLT's only and cannot touch ACME's."""
    alice = personas[ADMIN]
    SupplierMembershipFactory.create(
        user=supplier_user, supplier=other_supplier, role=SupplierMembership.Role.ORDER_DESK
    )
    bolt_po = PurchaseOrderFactory.create(supplier=other_supplier, number="PO-BOLT-7")

    def sees(number: str) -> bool:
        listed = number in alice.get(reverse("purchasing:po-list")).content.decode()
        opened = alice.get(reverse("purchasing:po-detail", args=[number])).status_code == 200
        assert listed == opened
        return listed

    assert sees(po.number)
    assert not sees(bolt_po.number)
    before = _state()
    assert alice.post(reverse("purchasing:po-accept-all", args=[bolt_po.number]), {"version": "1"}).status_code == 404
    assert _state() == before

    assert alice.post(reverse("suppliers:active-supplier-set"), {"supplier": other_supplier.pk}).status_code == 302

    assert sees(bolt_po.number)
    assert not sees(po.number)
    before = _state()
    version = str(po.version)
    assert alice.post(reverse("purchasing:po-accept-all", args=[po.number]), {"version": version}).status_code == 404
    assert alice.get(reverse("suppliers:api-key-list")).status_code == 403  # order desk at BOLT
    assert alice.get(reverse("suppliers:compliance-document", args=[samples["compliance_document"]])).status_code == 404
    assert alice.get(reverse("purchasing:shipment-detail", args=[samples["shipment"]])).status_code == 404
    assert _state() == before
    assert outsider.memberships.get().supplier == other_supplier
