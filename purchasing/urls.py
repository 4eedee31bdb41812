from django.urls import path

from purchasing import views

app_name = "purchasing"

urlpatterns = [
    path("pos/", views.po_list, name="po-list"),
    path("pos/export.csv", views.po_export, name="po-export"),
    path("pos/<str:number>/", views.po_detail, name="po-detail"),
    path("pos/<str:number>/acknowledge/", views.po_acknowledge, name="po-acknowledge"),
    path("pos/<str:number>/accept-all/", views.po_accept_all, name="po-accept-all"),
    path("pos/<str:number>/change-order/", views.change_order, name="po-change-order"),
    path("proposals/", views.proposal_list, name="proposal-list"),
    path("proposals/<int:pk>/decide/", views.proposal_decide, name="proposal-decide"),
]
