"""Row-level security: a query with the wrong supplier scope, or none, cannot reach another supplier's rows.

The connecting role of the tests is the PostgreSQL superuser, which row-level security never restricts;
these tests switch to the tenant role as supplier requests do (config/tenancy.py).
"""

from collections.abc import Iterator
from typing import Any

import pytest
from celery import shared_task
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import ProgrammingError, connection, connections, transaction
from django.db.models import Model
from django.test import Client
from rest_framework.test import APIClient

from config import rls
from config.tenancy import enter_supplier_scope, leave_supplier_scope, supplier_scope, tenant_role
from purchasing.models import PurchaseOrder, PurchaseOrderLine, ScheduleLine
from suppliers.models import Supplier, SupplierMembership
from suppliers.services import api_key_create
from tests.factories import (
    PurchaseOrderFactory,
    PurchaseOrderLineFactory,
    ScheduleLineFactory,
    SupplierFactory,
    SupplierMembershipFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_suppliers_orders(supplier, other_supplier) -> tuple[PurchaseOrder, PurchaseOrder]:
    orders = []
    for owner, number in ((supplier, "PO-ACME-1"), (other_supplier, "PO-BOLT-1")):
        order = PurchaseOrderFactory.create(supplier=owner, number=number)
        ScheduleLineFactory.create(line=PurchaseOrderLineFactory.create(po=order, line_number=10))
        orders.append(order)
    return orders[0], orders[1]


@pytest.fixture
def acme_scope(two_suppliers_orders, supplier) -> Iterator[None]:
    """ACME's scope, as an API key of ACME enters it, once both suppliers' orders exist."""
    enter_supplier_scope(supplier_ids=[supplier.pk], user_id=None)
    yield
    leave_supplier_scope()


def _raw(sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def _database_session() -> tuple[str, str]:
    (row,) = _raw("SELECT current_user, coalesce(current_setting('supplyline.supplier_ids', true), '')")
    return str(row[0]), str(row[1])


# --- The policies ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("acme_scope")
def test_in_acmes_scope_the_orm_without_visible_to_sees_only_acmes_rows(two_suppliers_orders):
    assert _database_session()[0] == tenant_role()
    assert list(PurchaseOrder.objects.values_list("number", flat=True)) == ["PO-ACME-1"]
    assert set(PurchaseOrderLine.objects.values_list("po__number", flat=True)) == {"PO-ACME-1"}
    assert set(ScheduleLine.objects.values_list("line__po__number", flat=True)) == {"PO-ACME-1"}
    assert list(Supplier.objects.values_list("code", flat=True)) == ["ACME"]


@pytest.mark.usefixtures("acme_scope")
def test_in_acmes_scope_raw_sql_sees_only_acmes_rows(two_suppliers_orders):
    assert _raw("SELECT number FROM purchasing_purchaseorder ORDER BY number") == [("PO-ACME-1",)]
    joined = _raw(
        "SELECT DISTINCT po.number FROM purchasing_scheduleline s "
        "JOIN purchasing_purchaseorderline l ON l.id = s.line_id "
        "JOIN purchasing_purchaseorder po ON po.id = l.po_id"
    )
    assert joined == [("PO-ACME-1",)]


def test_without_a_supplier_scope_the_tenant_role_sees_nothing(two_suppliers_orders):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('supplyline.supplier_ids', '', false), set_config('role', %s, false)", [tenant_role()]
        )
    try:
        assert PurchaseOrder.objects.count() == 0
        assert _raw("SELECT count(*) FROM purchasing_purchaseorderline") == [(0,)]
        assert Supplier.objects.count() == 0
    finally:
        _raw("SELECT set_config('role', 'none', false)")
    assert PurchaseOrder.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_session_that_never_set_the_scope_sees_nothing(two_suppliers_orders):
    """A fresh connection, where ``supplyline.supplier_ids`` was never defined: current_setting is NULL."""
    fresh = connections.create_connection("default")
    try:
        with fresh.cursor() as cursor:
            cursor.execute("SELECT current_setting('supplyline.supplier_ids', true) IS NULL")
            assert cursor.fetchone() == (True,)
            cursor.execute(f"SET ROLE {tenant_role()}")
            cursor.execute("SELECT count(*) FROM purchasing_purchaseorder")
            assert cursor.fetchone() == (0,)
    finally:
        fresh.close()


@pytest.mark.usefixtures("acme_scope")
def test_writes_aimed_at_another_suppliers_rows_change_nothing(two_suppliers_orders, other_supplier):
    _, bolt_order = two_suppliers_orders
    assert PurchaseOrder.objects.filter(supplier=other_supplier).update(status="cancelled") == 0
    assert PurchaseOrderLine.objects.filter(po=bolt_order).update(ordered_quantity=1) == 0
    with connection.cursor() as cursor:
        cursor.execute("UPDATE purchasing_purchaseorder SET status = 'cancelled' WHERE number = 'PO-BOLT-1'")
        assert cursor.rowcount == 0
        cursor.execute("DELETE FROM purchasing_scheduleline")
        assert cursor.rowcount == 1  # ACME's only
    assert PurchaseOrder.objects.filter(pk=bolt_order.pk).delete()[0] == 0
    # A row may not be written into another supplier's PO either.
    with pytest.raises(ProgrammingError, match="row-level security"), transaction.atomic():
        PurchaseOrderLine.objects.create(
            po=bolt_order,
            line_number=20,
            item=PurchaseOrderLine.objects.get().item,
            ordered_quantity=1,
            unit_price=1,
            need_by_date=bolt_order.order_date,
        )
    leave_supplier_scope()
    bolt_order.refresh_from_db()
    assert bolt_order.status != "cancelled"
    assert ScheduleLine.objects.filter(line__po=bolt_order).count() == 1


def test_another_suppliers_membership_stays_hidden_but_a_users_own_are_shown(
    supplier_user, outsider, supplier, other_supplier, two_suppliers_orders
):
    """In ACME's scope (say, the active supplier of a user of both), the user's own BOLT membership and
    BOLT's row are readable, so the user can switch; Bob's BOLT membership and BOLT's orders are not."""
    SupplierMembershipFactory.create(user=supplier_user, supplier=other_supplier)
    enter_supplier_scope(supplier_ids=[supplier.pk], user_id=supplier_user.pk)
    try:
        visible = set(SupplierMembership.objects.values_list("user__email", "supplier__code"))
        assert visible == {("alice@example.com", "ACME"), ("alice@example.com", "BOLT")}
        assert set(Supplier.objects.values_list("code", flat=True)) == {"ACME", "BOLT"}
        assert PurchaseOrder.objects.filter(supplier=other_supplier).count() == 0
    finally:
        leave_supplier_scope()


# --- Requests enter and leave the scope -----------------------------------------------------------


@pytest.mark.urls("tests.config.rls_urls")
def test_a_supplier_users_request_runs_in_its_scope_and_leaves_it(alice_client, supplier, buyer_client):
    assert alice_client.get("/session/").json() == {"role": tenant_role(), "supplier_ids": str(supplier.pk)}
    assert _database_session() == ("postgres", "")
    assert supplier_scope() is None
    assert buyer_client.get("/session/").json() == {"role": "postgres", "supplier_ids": ""}
    assert Client().get("/session/").json() == {"role": "postgres", "supplier_ids": ""}


@pytest.mark.urls("tests.config.rls_urls")
def test_the_scope_is_every_supplier_the_user_belongs_to_whichever_is_active(
    alice_client, supplier_user, supplier, other_supplier, outsider, db
):
    """The database holds the tenant boundary (the user's memberships); the active supplier narrows the pages.
    A third supplier, and a deactivated membership, stay outside."""
    third = SupplierFactory.create(code="CORK", name="Cork Supply")
    SupplierMembershipFactory.create(user=supplier_user, supplier=other_supplier, role="viewer")
    SupplierMembershipFactory.create(user=supplier_user, supplier=third, is_active=False)

    for active in (supplier, other_supplier):
        alice_client.post("/settings/active-supplier/", {"supplier": active.pk})
        ids = alice_client.get("/session/").json()["supplier_ids"]
        assert sorted(int(pk) for pk in ids.split(",")) == sorted([supplier.pk, other_supplier.pk])


@pytest.mark.urls("tests.config.rls_urls")
def test_a_user_without_a_membership_gets_an_empty_scope(db):
    stranger = Client()
    stranger.force_login(UserFactory.create(email="nobody@example.com"))
    assert stranger.get("/session/").json() == {"role": tenant_role(), "supplier_ids": ""}


@pytest.mark.urls("tests.config.rls_urls")
def test_the_scope_is_left_after_a_request_that_raised(alice_client):
    with pytest.raises(RuntimeError, match=f"failed as {tenant_role()}"):
        alice_client.get("/fails/")
    assert _database_session() == ("postgres", "")


def test_a_streaming_response_keeps_its_scope_until_it_is_closed(alice_client, two_suppliers_orders):
    response = alice_client.get("/pos/export.csv")
    assert response.streaming
    assert _database_session()[0] == tenant_role()  # its rows are read while the body streams
    body = b"".join(response.streaming_content).decode()
    assert "PO-ACME-1" in body
    assert "PO-BOLT-1" not in body
    assert _database_session() == ("postgres", "")


@pytest.mark.urls("tests.config.rls_urls")
def test_a_response_nobody_closed_does_not_lend_its_scope_to_the_next_request(alice_client, buyer_client):
    alice_client.get("/pos/export.csv")  # never read, so never closed
    assert buyer_client.get("/session/").json() == {"role": "postgres", "supplier_ids": ""}


@pytest.mark.urls("tests.config.rls_urls")
def test_an_api_request_runs_in_its_keys_scope(supplier, outsider):
    _, secret = api_key_create(supplier=supplier, name="erp", scopes=["orders:read"], by=None, expires_at=None)
    api = APIClient()
    api.force_login(outsider)  # a session cookie of BOLT's user decides nothing for the API
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.get("/api/session/").json() == {"role": tenant_role(), "supplier_ids": str(supplier.pk)}
    assert _database_session() == ("postgres", "")
    api.credentials(HTTP_AUTHORIZATION="Bearer sl_live_not-a-key")
    assert api.get("/api/session/").status_code == 401
    assert _database_session() == ("postgres", "")


@pytest.mark.django_db(transaction=True)
def test_a_connection_opened_again_inside_a_scope_gets_the_scope_back(supplier):
    enter_supplier_scope(supplier_ids=[supplier.pk], user_id=None)
    try:
        connection.close()
        assert _database_session() == (tenant_role(), str(supplier.pk))
    finally:
        leave_supplier_scope()
    assert _database_session() == ("postgres", "")


@shared_task
def _database_role() -> str:
    return _database_session()[0]


def test_a_task_run_eagerly_inside_a_scope_runs_as_the_connecting_role(supplier):
    enter_supplier_scope(supplier_ids=[supplier.pk], user_id=None)
    try:
        assert _database_role.apply().get() == "postgres"
        assert _database_session() == (tenant_role(), str(supplier.pk))
    finally:
        leave_supplier_scope()


# --- Misconfiguration fails loudly ----------------------------------------------------------------


def test_a_missing_tenant_role_is_a_clear_error(settings, supplier):
    settings.SUPPLYLINE_TENANT_ROLE = "supplyline_no_such_role"
    with pytest.raises(ImproperlyConfigured, match="supplyline_no_such_role"), transaction.atomic():
        enter_supplier_scope(supplier_ids=[supplier.pk], user_id=None)
    assert supplier_scope() is None


def test_migrate_says_what_to_run_when_it_may_not_create_the_role(settings):
    """The tenant role itself may not create roles: it stands for a connecting role without CREATEROLE."""
    _raw("SELECT set_config('role', %s, false)", [tenant_role()])
    settings.SUPPLYLINE_TENANT_ROLE = "supplyline_no_such_role"
    try:
        with pytest.raises(ImproperlyConfigured, match="CREATE ROLE supplyline_no_such_role NOLOGIN"):
            rls.ensure_tenant_role(connection)
    finally:
        _raw("SELECT set_config('role', 'none', false)")


def test_the_database_check_passes_for_a_connecting_role_that_may_switch():
    assert rls.tenant_role_check(databases=["default"]) == []


def test_the_database_check_names_the_missing_role_and_the_statements_to_run(settings):
    _raw("SELECT set_config('role', %s, false)", [tenant_role()])  # a role that may not create roles
    settings.SUPPLYLINE_TENANT_ROLE = "supplyline_no_such_role"
    try:
        (error,) = rls.tenant_role_check(databases=["default"])
    finally:
        _raw("SELECT set_config('role', 'none', false)")
    assert error.id == "supplyline.E001"
    assert "GRANT supplyline_no_such_role TO supplyline_tenant" in error.msg


# --- Every supplier-owned table has its policy -----------------------------------------------------


def _reaches_supplier(model: type[Model], seen: frozenset[type[Model]] = frozenset()) -> bool:
    if model is Supplier:
        return True
    return any(
        _reaches_supplier(field.related_model, seen | {model})  # type: ignore[arg-type]
        for field in model._meta.concrete_fields
        if field.many_to_one or field.one_to_one
        if field.related_model not in seen | {model}
    )


def test_every_model_with_a_path_to_a_supplier_has_a_policy():
    owned = {model._meta.label for model in apps.get_models() if _reaches_supplier(model)}
    assert owned - set(rls.POLICIES) == set(), "add these models to config.rls.POLICIES"
    policies = _raw(
        "SELECT tablename, array_agg(policyname::text ORDER BY policyname) FROM pg_policies "
        "WHERE schemaname = current_schema() GROUP BY tablename"
    )
    protected = {table: sorted(names) for table, names in policies}
    enabled = {row[0] for row in _raw("SELECT relname FROM pg_class WHERE relrowsecurity")}
    for label in owned:
        table = apps.get_model(label)._meta.db_table
        assert protected.get(table) == [rls.OTHERS_POLICY, rls.TENANT_POLICY], label
        assert table in enabled, label


def test_a_rule_through_a_parent_ends_at_a_supplier():
    for label, rule in rls.POLICIES.items():
        model = apps.get_model(label)
        while isinstance(rule, rls.Through):
            model = rule.parent(model)
            assert model._meta.label in rls.POLICIES, f"{label}: {model._meta.label} has no policy"
            rule = rls.POLICIES[model._meta.label]


def test_the_policies_are_applied_again_without_error():
    rls.apply(connection)
    rls.apply(connection)
    assert len(_raw("SELECT 1 FROM pg_policies WHERE policyname = %s", [rls.TENANT_POLICY])) == len(rls.POLICIES)


def test_a_supplier_requests_change_writes_its_audit_events_but_the_tenant_reads_none(two_suppliers_orders, supplier):
    """The audit triggers run as the tenant role: their INSERT passes (WITH CHECK true); no audit row, the
    supplier's own included, can be read, changed or deleted in the scope (config/rls.py, WriteOnly)."""
    acme_po, _ = two_suppliers_orders
    enter_supplier_scope(supplier_ids=[supplier.pk], user_id=None)
    try:
        changed = PurchaseOrderLine.objects.filter(po=acme_po).update(ordered_quantity=77)
        seen = _raw("SELECT count(*) FROM audit_purchaseorderlineevent")
        deleted = _raw("WITH gone AS (DELETE FROM audit_purchaseorderlineevent RETURNING 1) SELECT count(*) FROM gone")
    finally:
        leave_supplier_scope()

    assert changed == 1
    assert seen == [(0,)]
    assert deleted == [(0,)]
    recorded = _raw(
        "SELECT count(*) FROM audit_purchaseorderlineevent "
        "WHERE pgh_label = 'update' AND ordered_quantity = 77 AND po_id = %s",
        [acme_po.pk],
    )
    assert recorded == [(1,)]
