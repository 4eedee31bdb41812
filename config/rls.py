"""Row-level security on supplier-owned tables: the second line behind ``visible_to`` (docs/security.md).

``POLICIES`` names every model whose rows belong to a supplier and the rule that finds that supplier.
``apply`` (run after every ``migrate`` and ``flush``, so it covers tables added later) creates the
tenant role when it may, grants it the tables and sequences, and drops and recreates the policies:

- ``supplyline_tenant_rows``, RESTRICTIVE, ``TO`` the tenant role: the rule. PostgreSQL ORs a role's
  permissive policies and ANDs the restrictive ones, so this one narrows whatever else applies;
- ``supplyline_other_roles``, PERMISSIVE, ``TO PUBLIC``, ``USING (true)``: every other role (a
  non-owner reporting role, say) keeps seeing every row, as before. (The owner and superusers are not
  subject to row-level security at all.) Without a permissive policy the tenant would see nothing,
  and with a permissive rule instead of a restrictive one, the two would be ORed and it would see all.

A rule reads the scope with ``current_setting(..., true)``: when the setting is missing or empty, the
array is NULL, ``= ANY (NULL)`` is never true, and the tenant sees no row (fail closed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.core.checks import CheckMessage, Error
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model

from config.tenancy import SUPPLIER_IDS_SETTING, USER_ID_SETTING, tenant_role

# Each read once per statement (an InitPlan), not once per row. The cast outside the parentheses makes
# ``= ANY (...)`` compare with the array's elements, not with the rows of a subquery.
SUPPLIER_IDS = f"(SELECT string_to_array(nullif(current_setting('{SUPPLIER_IDS_SETTING}', true), ''), ','))::bigint[]"
USER_ID = f"(SELECT nullif(current_setting('{USER_ID_SETTING}', true), '')::bigint)"
TENANT_POLICY = "supplyline_tenant_rows"
OTHERS_POLICY = "supplyline_other_roles"
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class _Rule:
    """How a table's rows find their supplier: ``predicate`` filters what the tenant reads, changes and
    deletes (USING); ``check`` what it may write (WITH CHECK), the same unless a rule says otherwise."""

    def predicate(self, model: type[Model], db: BaseDatabaseWrapper) -> str:
        raise NotImplementedError

    def check(self, model: type[Model], db: BaseDatabaseWrapper) -> str:
        return self.predicate(model, db)


@dataclass(frozen=True)
class Owned(_Rule):
    """The row names its supplier in ``field``. With ``shared_when_null``, a row naming no supplier is
    the distributor's and every supplier may read it (the ERP's connector, which each change fans out to)."""

    field: str = "supplier"
    shared_when_null: bool = False

    def predicate(self, model: type[Model], db: BaseDatabaseWrapper) -> str:
        column = _column(model, self.field, db)
        rule = f"{column} = ANY ({SUPPLIER_IDS})"
        return f"{column} IS NULL OR {rule}" if self.shared_when_null else rule


@dataclass(frozen=True)
class Through(_Rule):
    """The row belongs to whoever may see the row ``field`` points at: that table's own policy decides,
    as PostgreSQL applies it to the subquery too. The lookup is by the parent's primary key."""

    field: str

    def predicate(self, model: type[Model], db: BaseDatabaseWrapper) -> str:
        parent = self.parent(model)
        table, key = db.ops.quote_name(parent._meta.db_table), db.ops.quote_name(_column_name(parent, "pk"))
        # Quoted names of our own models, no input: not an injection.
        return f"EXISTS (SELECT 1 FROM {table} AS parent WHERE parent.{key} = {_column(model, self.field, db)})"  # noqa: S608

    def parent(self, model: type[Model]) -> type[Model]:
        return model._meta.get_field(self.field).related_model  # type: ignore[return-value]


@dataclass(frozen=True)
class DistributorOnly(_Rule):
    """The distributor's own data about suppliers (exception cases, rule settings, ERP mappings and
    quarantine): no supplier request reads or writes it, so the tenant role sees no row."""

    def predicate(self, model: type[Model], db: BaseDatabaseWrapper) -> str:
        return "false"


@dataclass(frozen=True)
class Sql(_Rule):
    """A rule of its own; ``{table}``, ``{supplier_ids}`` and ``{user_id}`` are filled in."""

    sql: str

    def predicate(self, model: type[Model], db: BaseDatabaseWrapper) -> str:
        table = db.ops.quote_name(model._meta.db_table)
        return self.sql.format(table=table, supplier_ids=SUPPLIER_IDS, user_id=USER_ID)


@dataclass(frozen=True)
class WriteOnly(_Rule):
    """The audit trail's event tables: a supplier request's changes write their events (the triggers run
    as the tenant role), but the tenant reads, changes and deletes no row of them, its own included."""

    def predicate(self, model: type[Model], db: BaseDatabaseWrapper) -> str:
        return "false"

    def check(self, model: type[Model], db: BaseDatabaseWrapper) -> str:
        return "true"


type Rule = Owned | Through | DistributorOnly | Sql | WriteOnly

# Every model with a foreign-key path to Supplier, and how its rows find their supplier.
# tests/config/test_rls.py fails for a model with such a path that is missing here.
POLICIES: dict[str, Rule] = {
    # A user also sees their own memberships, and the suppliers they hold them with, outside the scope:
    # what they need to switch to another of their suppliers, when the scope is only the active one.
    "suppliers.Supplier": Sql(
        "{table}.id = ANY ({supplier_ids}) OR EXISTS (SELECT 1 FROM suppliers_suppliermembership AS m "
        "WHERE m.supplier_id = {table}.id AND m.user_id = {user_id})"
    ),
    "suppliers.SupplierMembership": Sql("{table}.supplier_id = ANY ({supplier_ids}) OR {table}.user_id = {user_id}"),
    "suppliers.SupplierItem": Owned(),
    "suppliers.ApiKey": Owned(),
    "suppliers.IdempotencyRecord": Through("api_key"),
    "suppliers.ComplianceDocument": Owned(),
    "suppliers.Invitation": Owned(),
    "suppliers.SupplierContact": Owned(),
    "suppliers.ShipFromAddress": Owned(),
    "suppliers.TermsProposal": Owned(),
    "purchasing.PurchaseOrder": Owned(),
    "purchasing.PurchaseOrderLine": Through("po"),
    "purchasing.ScheduleLine": Through("line"),
    "purchasing.Acknowledgement": Through("po"),
    "purchasing.AcknowledgementLine": Through("acknowledgement"),
    "purchasing.HistoryEntry": Through("po"),
    "purchasing.Receipt": Through("po"),
    "purchasing.ReceiptLine": Through("receipt"),
    "purchasing.InboundDocument": Owned(),
    "purchasing.OutboundDocument": Owned(),
    "purchasing.ShipmentNotice": Owned(),
    "purchasing.ShipmentPackage": Through("shipment"),
    "purchasing.ShipmentLine": Through("shipment"),
    # Events about no one supplier (stock, demand, supply risk) are the distributor's.
    "planning_sync.OutboxEvent": Owned(),
    "planning_sync.Connector": Owned(shared_when_null=True),
    "planning_sync.Subscription": Through("connector"),
    # A delivery carries its event: it is the event's supplier's, whichever connector it goes to.
    "planning_sync.Delivery": Through("event"),
    "planning_sync.InboundRecord": DistributorOnly(),
    "planning_sync.TrytonMapping": DistributorOnly(),
    "planning_sync.TrytonPurchase": DistributorOnly(),
    "exceptions.ExceptionCase": DistributorOnly(),
    "exceptions.CaseActivity": DistributorOnly(),
    "exceptions.RuleSetting": DistributorOnly(),
    # The audit trail (config/audit, docs/audit.md): written by triggers, read by buyers only.
    **{
        f"audit.{name}Event": WriteOnly()
        for name in (
            "PurchaseOrder",
            "PurchaseOrderLine",
            "ScheduleLine",
            "Acknowledgement",
            "AcknowledgementLine",
            "ShipmentNotice",
            "ShipmentPackage",
            "ShipmentLine",
            "ExceptionCase",
            "SupplierMembership",
            "ApiKey",
            "Supplier",
            "SupplierContact",
            "ShipFromAddress",
            "SupplierItem",
            "TermsProposal",
            "Invitation",
        )
    },
}


def _column_name(model: type[Model], field: str) -> str:
    target = model._meta.pk if field == "pk" else model._meta.get_field(field)
    return str(target.column)  # type: ignore[union-attr]


def _column(model: type[Model], field: str, db: BaseDatabaseWrapper) -> str:
    return f"{db.ops.quote_name(model._meta.db_table)}.{db.ops.quote_name(_column_name(model, field))}"


def policy_statements(db: BaseDatabaseWrapper, existing_tables: set[str]) -> list[str]:
    """Drop and create both policies of every table in POLICIES that exists."""
    role = db.ops.quote_name(tenant_role())
    statements = []
    for label, rule in POLICIES.items():
        model = apps.get_model(label)
        if model._meta.db_table not in existing_tables:
            continue  # not migrated yet (a partial migrate)
        table = db.ops.quote_name(model._meta.db_table)
        predicate = rule.predicate(model, db)
        check = rule.check(model, db)
        statements += [
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
            f"DROP POLICY IF EXISTS {TENANT_POLICY} ON {table}",
            f"DROP POLICY IF EXISTS {OTHERS_POLICY} ON {table}",
            f"CREATE POLICY {OTHERS_POLICY} ON {table} AS PERMISSIVE FOR ALL TO PUBLIC USING (true) WITH CHECK (true)",
            f"CREATE POLICY {TENANT_POLICY} ON {table} AS RESTRICTIVE FOR ALL TO {role} "
            f"USING ({predicate}) WITH CHECK ({check})",
        ]
    return statements


def _stale_policy_statements(db: BaseDatabaseWrapper) -> list[str]:
    """Tables that have our policies but are no longer in POLICIES go back to no row-level security."""
    wanted = {apps.get_model(label)._meta.db_table for label in POLICIES}
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT tablename FROM pg_policies WHERE schemaname = current_schema() AND policyname = %s",
            [TENANT_POLICY],
        )
        stale = sorted({row[0] for row in cursor.fetchall()} - wanted)
    statements = []
    for name in stale:
        table = db.ops.quote_name(name)
        statements += [
            f"DROP POLICY IF EXISTS {TENANT_POLICY} ON {table}",
            f"DROP POLICY IF EXISTS {OTHERS_POLICY} ON {table}",
            f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY",
        ]
    return statements


def ensure_tenant_role(db: BaseDatabaseWrapper) -> None:
    """Create the tenant role and make the connecting role a member, or say clearly who must."""
    role = tenant_role()
    if not _ROLE_NAME.match(role):
        raise ImproperlyConfigured(f"SUPPLYLINE_TENANT_ROLE must be a lowercase SQL name, not {role!r}.")
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = %s), rolsuper OR rolcreaterole, current_user "
            "FROM pg_roles WHERE rolname = current_user",
            [role],
        )
        exists, may_create, user = cursor.fetchone()
        if exists:
            cursor.execute("SELECT pg_has_role(current_user, %s, 'MEMBER')", [role])
            if cursor.fetchone()[0]:
                return
        if not may_create:
            raise ImproperlyConfigured(_operator_steps(role, user))
        quoted = db.ops.quote_name(role)
        if not exists:
            # A parallel migrate may create it first: that is fine.
            cursor.execute(
                f"DO $$ BEGIN CREATE ROLE {quoted} NOLOGIN; "
                "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
            )
        cursor.execute("SELECT pg_has_role(current_user, %s, 'MEMBER')", [role])
        if not cursor.fetchone()[0]:
            cursor.execute(f"GRANT {quoted} TO CURRENT_USER")


def tenant_role_check(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``manage.py check --database default`` and ``migrate``: can supplier requests switch to the tenant role?"""
    db = connections["default"]
    if "default" not in (databases or ()) or db.vendor != "postgresql":
        return []
    role = tenant_role()
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT u.rolname, u.rolsuper OR u.rolcreaterole, "
            "r.oid IS NOT NULL AND pg_has_role(u.oid, r.oid, 'MEMBER'), "
            "NOT u.rolsuper AND NOT u.rolbypassrls AND r.oid IS NOT NULL AND pg_has_role(u.oid, r.oid, 'USAGE') "
            "AND EXISTS (SELECT FROM pg_tables WHERE schemaname = current_schema() AND tablename = %s "
            "AND tableowner <> u.rolname) "
            "FROM pg_roles AS u LEFT JOIN pg_roles AS r ON r.rolname = %s WHERE u.rolname = current_user",
            [apps.get_model("purchasing.PurchaseOrder")._meta.db_table, role],
        )
        user, may_create, member, restricted = cursor.fetchone()
    if not member and not may_create:
        return [Error(_operator_steps(role, user), id="supplyline.E001")]
    if restricted:
        return [
            Error(
                f"The database role {user!r} inherits the tenant role {role!r} and does not own the tables, so the "
                "tenant's row-level security would apply to every request (buyers would see nothing).",
                hint="Connect as the tables' owner, or make the role NOINHERIT (docs/operations.md#the-tenant-role).",
                id="supplyline.E002",
            )
        ]
    return []


def _operator_steps(role: str, user: str) -> str:
    return (
        f"The database role {user!r} cannot switch to the tenant role {role!r}, and may not create it. "
        f"As a superuser, run: CREATE ROLE {role} NOLOGIN; GRANT {role} TO {user}; "
        "then migrate again (docs/operations.md#the-tenant-role)."
    )


def grant_statements(db: BaseDatabaseWrapper) -> list[str]:
    role = db.ops.quote_name(tenant_role())
    with db.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        schema = db.ops.quote_name(cursor.fetchone()[0])
    return [
        f"GRANT USAGE ON SCHEMA {schema} TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}",
    ]


def apply(db: BaseDatabaseWrapper) -> None:
    """Role, grants and policies, idempotently; one round trip for the grants and policies."""
    if db.vendor != "postgresql":
        return
    ensure_tenant_role(db)
    with db.cursor() as cursor:
        existing = set(db.introspection.table_names(cursor))
    statements = grant_statements(db) + _stale_policy_statements(db) + policy_statements(db, existing)
    with db.cursor() as cursor:
        cursor.execute(";\n".join(statements))


def apply_after_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """post_migrate: every table exists by now, including any a later migration added."""
    apply(connections[using])
