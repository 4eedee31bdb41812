"""The supplier REST API's purchasing resources (docs/api.md): orders and their acknowledgements (orders.py),
shipment notices (shipments.py), B2B documents (documents.py) and the supplier's events feed (events.py)."""

from purchasing.api.documents import DocumentCreateApi, DocumentDetailApi
from purchasing.api.events import EventListApi
from purchasing.api.orders import AcknowledgementCreateApi, PurchaseOrderDetailApi, PurchaseOrderListApi
from purchasing.api.shipments import ShipmentNoticeCancelApi, ShipmentNoticeDetailApi, ShipmentNoticeListCreateApi

__all__ = [
    "AcknowledgementCreateApi",
    "DocumentCreateApi",
    "DocumentDetailApi",
    "EventListApi",
    "PurchaseOrderDetailApi",
    "PurchaseOrderListApi",
    "ShipmentNoticeCancelApi",
    "ShipmentNoticeDetailApi",
    "ShipmentNoticeListCreateApi",
]
