"""E-mail to a supplier's users about its purchase orders, by role, honouring opt-outs."""

from typing import Any

from django.conf import settings
from django.urls import reverse

from purchasing import tasks
from purchasing.models import PurchaseOrder
from suppliers import services as supplier_services
from suppliers.models import NotificationKind, User


def recipients(po: PurchaseOrder, kind: NotificationKind) -> list[User]:
    return supplier_services.notification_recipients(po.supplier_id, kind)


def notify_supplier(po: PurchaseOrder, kind: NotificationKind, **context: Any) -> int:
    """Queue one mail per recipient, sent once the current transaction commits. Returns how many."""
    base = {
        "po": po,
        "kind": kind,
        "po_url": settings.SUPPLYLINE_BASE_URL + reverse("purchasing:po-detail", args=[po.number]),
        **context,
    }
    return supplier_services.notify_users(recipients(po, kind), f"purchasing/email/{kind}", base)


def send_to_edi_supplier(po: PurchaseOrder) -> None:
    """An EDI supplier gets the PO's revision as an 850 or ORDERS, sent once the transaction commits."""
    if po.supplier.edi_standard:
        # celery-types does not know Celery 5.4+'s delay_on_commit yet.
        tasks.send_purchase_order_document.delay_on_commit(po.pk)  # type: ignore[attr-defined]
