from django.urls import path

from suppliers import views

app_name = "suppliers"

urlpatterns = [
    path("supplier/", views.supplier_home, name="supplier-home"),
    path("buyer/", views.buyer_home, name="buyer-home"),
    path("settings/notifications/", views.notification_settings, name="notification-settings"),
    path("settings/api-keys/", views.api_key_list, name="api-key-list"),
    path("settings/api-keys/new/", views.api_key_create, name="api-key-create"),
    path("settings/api-keys/<int:pk>/revoke/", views.api_key_revoke, name="api-key-revoke"),
]
