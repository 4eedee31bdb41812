"""The supplier REST API, version 1, mounted at /api/v1/ (docs/api.md)."""

from django.urls import path

from config.api.whoami import WhoAmIApi
from planning_sync import webhook_api
from purchasing import api as purchasing_api

app_name = "api"

urlpatterns = [
    path("whoami/", WhoAmIApi.as_view(), name="whoami"),
    path("purchase-orders/", purchasing_api.PurchaseOrderListApi.as_view(), name="purchase-order-list"),
    path(
        "purchase-orders/<str:number>/", purchasing_api.PurchaseOrderDetailApi.as_view(), name="purchase-order-detail"
    ),
    path(
        "purchase-orders/<str:number>/acknowledgements/",
        purchasing_api.AcknowledgementCreateApi.as_view(),
        name="acknowledgement-create",
    ),
    path("shipment-notices/", purchasing_api.ShipmentNoticeListCreateApi.as_view(), name="shipment-notice-list"),
    path("shipment-notices/<int:pk>/", purchasing_api.ShipmentNoticeDetailApi.as_view(), name="shipment-notice-detail"),
    path(
        "shipment-notices/<int:pk>/cancel/",
        purchasing_api.ShipmentNoticeCancelApi.as_view(),
        name="shipment-notice-cancel",
    ),
    path("documents/", purchasing_api.DocumentCreateApi.as_view(), name="document-create"),
    path("documents/<int:pk>/", purchasing_api.DocumentDetailApi.as_view(), name="document-detail"),
    path("events/", purchasing_api.EventListApi.as_view(), name="event-list"),
    path("webhooks/", webhook_api.WebhookListCreateApi.as_view(), name="webhook-list"),
    path("webhooks/<int:pk>/", webhook_api.WebhookDetailApi.as_view(), name="webhook-detail"),
    path("webhooks/<int:pk>/deliveries/", webhook_api.WebhookDeliveryListApi.as_view(), name="webhook-delivery-list"),
]
