from django.urls import path

from planning_sync import views

app_name = "monitor"

urlpatterns = [
    path("", views.connector_list, name="connector-list"),
    path("connectors/<slug:name>/", views.connector_detail, name="connector-detail"),
    path("connectors/<slug:name>/replay/", views.connector_replay, name="connector-replay"),
    path("deliveries/<int:pk>/replay/", views.delivery_replay, name="delivery-replay"),
]
