from django.urls import path

from suppliers import views

app_name = "suppliers"

urlpatterns = [
    path("supplier/", views.supplier_home, name="supplier-home"),
    path("buyer/", views.buyer_home, name="buyer-home"),
    path("settings/notifications/", views.notification_settings, name="notification-settings"),
]
