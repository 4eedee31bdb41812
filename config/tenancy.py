"""The supplier scope of a request: PostgreSQL row-level security behind ``visible_to`` (docs/security.md).

A supplier user's web request, and every API-key request, runs its queries as the tenant role
(``SUPPLYLINE_TENANT_ROLE``, NOLOGIN) with ``supplyline.supplier_ids`` naming the suppliers it acts
for. The policies of ``config.rls`` let that role see only those suppliers' rows; with the setting
missing or empty it sees none. Everyone else (buyers, staff, Celery, commands, migrations) keeps the
connecting role, which the policies leave alone.

One statement enters the scope and one leaves it. The scope is remembered on the connection wrapper, so a
connection opened again in the middle of a request gets it back, a request that starts on a connection
some earlier response never closed starts from a clean one, and a Celery task run eagerly inside a
request runs as the connecting role, as in a worker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from celery.signals import task_postrun, task_prerun
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.db.models import QuerySet
from django.dispatch import receiver

logger = logging.getLogger("supplyline.tenancy")

SUPPLIER_IDS_SETTING = "supplyline.supplier_ids"
USER_ID_SETTING = "supplyline.user_id"
_STATE = "supplyline_supplier_scope"
_SUSPENDED = "supplyline_suspended_scopes"

_ENTER = "SELECT set_config(%s, {ids}, false), set_config(%s, %s, false), set_config('role', %s, false)"
_IDS_OF_QUERY = "coalesce((SELECT string_agg(s.id::text, ',') FROM ({query}) AS s(id)), '')"
# 'none' is SET ROLE NONE: back to the connecting role.
_LEAVE = "SELECT set_config('role', 'none', false), set_config(%s, '', false), set_config(%s, '', false)"


@dataclass(frozen=True)
class SupplierScope:
    supplier_ids: str  # comma-separated, as the policies read it
    user_id: str


def tenant_role() -> str:
    return str(settings.SUPPLYLINE_TENANT_ROLE)


# Set on a view whose credential is a token in its address, not the session (``token_credential``).
OUTSIDE_SCOPE_ATTRIBUTE = "supplyline_outside_supplier_scope"


def token_credential[V: Callable[..., Any]](view: V) -> V:
    """Mark a view whose URL token is its credential (an invitation link): it runs outside the supplier
    scope, because the person it is for may not belong to the supplier yet. The view must itself check
    the token, and must read nothing but what the token names."""
    setattr(view, OUTSIDE_SCOPE_ATTRIBUTE, True)
    return view


def enter_supplier_scope(*, supplier_ids: QuerySet[Any] | Iterable[int], user_id: int | None) -> None:
    """Run this connection's next queries as the tenant role, limited to ``supplier_ids``.

    ``supplier_ids`` is a one-column queryset (``SupplierMembership.objects.supplier_ids_of(user)``,
    evaluated inside the statement, so it costs no query of its own) or ids. ``user_id`` lets a user
    see their own memberships of suppliers outside the scope. SQLite has no roles: nothing happens.
    """
    if connection.vendor != "postgresql":
        return
    if isinstance(supplier_ids, QuerySet):
        # No ORDER BY: the membership model's default ordering would join two tables for nothing.
        query, params = supplier_ids.order_by().query.sql_with_params()
        ids_sql, ids_params = _IDS_OF_QUERY.format(query=query), list(params)
    else:
        ids_sql, ids_params = "%s", [",".join(str(int(pk)) for pk in supplier_ids)]
    user = "" if user_id is None else str(user_id)
    _apply(connection, _ENTER.format(ids=ids_sql), [SUPPLIER_IDS_SETTING, *ids_params, USER_ID_SETTING, user])


def _apply(db: BaseDatabaseWrapper, sql: str, params: list[Any]) -> None:
    try:
        with db.cursor() as cursor:
            cursor.execute(sql, [*params, tenant_role()])
            ids, user, _ = cursor.fetchone()
    except DatabaseError as error:
        raise ImproperlyConfigured(
            f"Cannot switch to the tenant role {tenant_role()!r} ({error}). The connecting role must be a member "
            "of it; `manage.py migrate` creates it when it may (docs/operations.md#the-tenant-role)."
        ) from error
    setattr(db, _STATE, SupplierScope(ids, user))


def leave_supplier_scope() -> None:
    """Back to the connecting role, with no supplier scope; nothing to do when none was entered."""
    if getattr(connection, _STATE, None) is None:
        return
    setattr(connection, _STATE, None)
    if connection.connection is None:  # closed: the role ended with the session
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute(_LEAVE, [SUPPLIER_IDS_SETTING, USER_ID_SETTING])
    except DatabaseError:
        # An aborted transaction refuses even this: the session may still hold the role, so it must
        # never serve another request.
        logger.warning("could not leave the supplier scope; closing the connection", exc_info=True)
        connection.close()


def supplier_scope() -> SupplierScope | None:
    """The scope this thread's connection is in, or None."""
    return getattr(connection, _STATE, None)


@receiver(connection_created)
def _restore_scope(sender: type, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """A connection closed and opened again inside a scoped request keeps its scope: fail closed."""
    scope: SupplierScope | None = getattr(connection, _STATE, None)
    if scope is not None:
        _reenter(connection, scope)


def _reenter(db: BaseDatabaseWrapper, scope: SupplierScope) -> None:
    _apply(db, _ENTER.format(ids="%s"), [SUPPLIER_IDS_SETTING, scope.supplier_ids, USER_ID_SETTING, scope.user_id])


@task_prerun.connect
def _suspend_scope_for_task(**kwargs: Any) -> None:
    """A task run eagerly inside a supplier request (CELERY_TASK_ALWAYS_EAGER, ``task.apply()``) runs as the
    connecting role, as it would in a worker; the request's scope comes back after it."""
    suspended: list[SupplierScope | None] | None = getattr(connection, _SUSPENDED, None)
    if suspended is None:
        suspended = []
        setattr(connection, _SUSPENDED, suspended)
    suspended.append(supplier_scope())
    leave_supplier_scope()


@task_postrun.connect
def _resume_scope_after_task(**kwargs: Any) -> None:
    suspended: list[SupplierScope | None] = getattr(connection, _SUSPENDED, [])
    scope = suspended.pop() if suspended else None
    if scope is not None:
        _reenter(connection, scope)
