from celery import shared_task

from purchasing import services


@shared_task
def sweep_acknowledgement_deadlines() -> tuple[int, int]:
    """Reminders before the acknowledgement deadline and overdue marks after it (from beat)."""
    return services.acknowledgement_deadlines_sweep()


@shared_task
def sweep_shipments_departed() -> int:
    """Shipment notices whose ship date has come are in transit (from beat)."""
    return services.shipment_notices_departed_sweep()


@shared_task
def sweep_unsent_purchase_orders() -> int:
    """POs an EDI supplier should have received but did not, because a task message was lost (from beat)."""
    from purchasing.documents import replies  # the documents layer imports the services, which import this module

    return replies.purchase_orders_unsent_sweep()


@shared_task
def import_document_folders() -> int:
    """Take the files suppliers dropped in their inbound folders (from beat, on the bulk queue); safe to run twice."""
    from purchasing.documents import folders  # see sweep_unsent_purchase_orders

    return folders.scan_inbound_folders()


@shared_task
def send_purchase_order_document(po_id: int) -> bool:
    """The PO's current revision to its EDI supplier (850 or ORDERS); once per revision, so safe to run twice."""
    from purchasing.documents import replies  # see sweep_unsent_purchase_orders
    from purchasing.models import PurchaseOrder

    po = PurchaseOrder.objects.select_related("supplier").filter(pk=po_id).first()
    return po is not None and replies.purchase_order_send(po) is not None
