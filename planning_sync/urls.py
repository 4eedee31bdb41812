"""The inbound feeds' push endpoints; config/urls.py mounts them under integration/."""

from django.urls import path

from planning_sync import api

app_name = "planning_sync"
urlpatterns = [
    path("erp/purchase-orders/", api.PurchaseOrderFeedApi.as_view(), name="purchase-orders-push"),
    path("erp/receipts/", api.ReceiptFeedApi.as_view(), name="receipts-push"),
    path("erp/inventory/", api.InventoryFeedApi.as_view(), name="inventory-push"),
    path("planning/demand/", api.DemandFeedApi.as_view(), name="demand-push"),
    path("planning/safety-stock/", api.SafetyStockFeedApi.as_view(), name="safety-stock-push"),
]
