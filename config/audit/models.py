"""The audit trail: one append-only event table per tracked model, written only by database triggers.

django-pghistory generates each table from the tracked model (a copy of its columns, plus ``pgh_id``,
``pgh_created_at``, ``pgh_label``, ``pgh_obj`` and the context) and pgtrigger installs, on the tracked
table, a row trigger per insert, update and delete that copies the row into it. Being triggers, they see
every write: ``save()``, ``bulk_create``, queryset ``update()`` and ``delete()``, raw SQL and ``psql``.
A protect trigger on each event table refuses any UPDATE or DELETE of an event (``append_only``).

The context of each event (who, channel, IP, request id: ``audit.context``) is stored in the event row
itself (``pgh_context``, JSON), not in pghistory's shared context table: no extra write per event and no
context row that later statements of the same request would overwrite. On SQLite there are no triggers,
so these tables stay empty (docs/audit.md).
"""

from typing import Any

import pghistory
from django.db import models

from exceptions.models import ExceptionCase
from purchasing.models import (
    Acknowledgement,
    AcknowledgementLine,
    PurchaseOrder,
    PurchaseOrderLine,
    ScheduleLine,
    ShipmentLine,
    ShipmentNotice,
    ShipmentPackage,
)
from suppliers.models import (
    ApiKey,
    Invitation,
    ShipFromAddress,
    Supplier,
    SupplierContact,
    SupplierItem,
    SupplierMembership,
    TermsProposal,
)


def _event_model(
    tracked: type[models.Model], *, exclude: tuple[str, ...] = (), indexes: dict[str, str] | None = None
) -> Any:
    """The abstract event model of ``tracked``: inserts, updates and deletes, with their context inline.

    Copied foreign keys are not indexed (settings.PGHISTORY_FOREIGN_KEY_FIELD): each index is paid for on
    every write. Only ``pgh_obj`` and the parent keys an object's history is read by (``indexes``,
    column to index name) are.
    """
    return pghistory.create_event_model(
        tracked,
        pghistory.InsertEvent(trigger_name="audit_insert"),
        # A save that changes only an auto_now timestamp (updated_at) records nothing.
        pghistory.UpdateEvent(trigger_name="audit_update", condition=pghistory.AnyChange(exclude_auto=True)),
        pghistory.DeleteEvent(trigger_name="audit_delete"),
        exclude=list(exclude),
        app_label="audit",
        obj_field=pghistory.ObjForeignKey(related_name="+", related_query_name="+", db_index=True),
        context_field=pghistory.ContextJSONField(),
        context_id_field=pghistory.ContextUUIDField(),
        append_only=True,
        meta={"indexes": [models.Index(fields=[field], name=name) for field, name in (indexes or {}).items()]},
    )


class PurchaseOrderEvent(_event_model(PurchaseOrder)):  # type: ignore[misc]
    pass


class PurchaseOrderLineEvent(_event_model(PurchaseOrderLine, indexes={"po": "audit_poline_po_idx"})):  # type: ignore[misc]
    pass


class ScheduleLineEvent(_event_model(ScheduleLine, indexes={"line": "audit_schedule_line_idx"})):  # type: ignore[misc]
    pass


class AcknowledgementEvent(_event_model(Acknowledgement, indexes={"po": "audit_ack_po_idx"})):  # type: ignore[misc]
    pass


class AcknowledgementLineEvent(_event_model(AcknowledgementLine, indexes={"acknowledgement": "audit_ackline_ack_idx"})):  # type: ignore[misc]
    pass


class ShipmentNoticeEvent(_event_model(ShipmentNotice)):  # type: ignore[misc]
    pass


class ShipmentPackageEvent(_event_model(ShipmentPackage, indexes={"shipment": "audit_package_asn_idx"})):  # type: ignore[misc]
    pass


class ShipmentLineEvent(_event_model(ShipmentLine, indexes={"shipment": "audit_asnline_asn_idx"})):  # type: ignore[misc]
    pass


class ExceptionCaseEvent(_event_model(ExceptionCase)):  # type: ignore[misc]
    pass


class SupplierMembershipEvent(_event_model(SupplierMembership)):  # type: ignore[misc]
    pass


# The key's hash never enters the trail (it is what a stolen copy of the trail would need), nor does
# last_used_at, which authentication bumps once a minute per key and which is not a change anyone made.
class ApiKeyEvent(_event_model(ApiKey, exclude=("secret_hash", "last_used_at"))):  # type: ignore[misc]
    pass


# A supplier's record and what it keeps about itself (docs/self-service.md): who changed the company's
# address, tax id, contacts, ship-from addresses or item terms, and who invited whom. The SSCC counter,
# bumped by every package a notice labels, is not a change anyone made.
class SupplierEvent(_event_model(Supplier, exclude=("sscc_serial",))):  # type: ignore[misc]
    pass


class SupplierContactEvent(_event_model(SupplierContact, indexes={"supplier": "audit_contact_supplier_idx"})):  # type: ignore[misc]
    pass


class ShipFromAddressEvent(_event_model(ShipFromAddress, indexes={"supplier": "audit_shipfrom_supplier_idx"})):  # type: ignore[misc]
    pass


class SupplierItemEvent(_event_model(SupplierItem, indexes={"supplier": "audit_supitem_supplier_idx"})):  # type: ignore[misc]
    pass


class TermsProposalEvent(_event_model(TermsProposal, indexes={"supplier": "audit_terms_supplier_idx"})):  # type: ignore[misc]
    pass


# The token's hash stays out of the trail, as an API key's does: it is what accepting the invitation
# checks, and no person reads it.
_InvitationEventBase = _event_model(
    Invitation, exclude=("token_hash",), indexes={"supplier": "audit_invite_supplier_idx"}
)


class InvitationEvent(_InvitationEventBase):  # type: ignore[misc,valid-type]
    pass
