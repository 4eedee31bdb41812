from django.urls import path

from purchasing import views

app_name = "purchasing"

urlpatterns = [
    path("", views.po_list, name="po-list"),
    path("<str:number>/", views.po_detail, name="po-detail"),
]
