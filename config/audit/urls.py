from django.urls import path

from config.audit import views

app_name = "audit"

urlpatterns = [
    path("pos/<str:number>/", views.po_history, name="po-history"),
    path("shipments/<int:pk>/", views.shipment_history, name="shipment-history"),
    path("cases/<int:pk>/", views.case_history, name="case-history"),
    path("memberships/<int:pk>/", views.membership_history, name="membership-history"),
    path("api-keys/<int:pk>/", views.api_key_history, name="api-key-history"),
    path("suppliers/<str:code>/", views.supplier_history, name="supplier-history"),
]
