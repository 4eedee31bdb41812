from django.urls import path

from purchasing.views import documents, orders, receiving, shipments

app_name = "purchasing"

urlpatterns = [
    path("pos/", orders.po_list, name="po-list"),
    path("pos/export.csv", orders.po_export, name="po-export"),
    path("pos/<str:number>/", orders.po_detail, name="po-detail"),
    path("pos/<str:number>/acknowledge/", orders.po_acknowledge, name="po-acknowledge"),
    path("pos/<str:number>/accept-all/", orders.po_accept_all, name="po-accept-all"),
    path("pos/<str:number>/change-order/", orders.change_order, name="po-change-order"),
    path("proposals/", orders.proposal_list, name="proposal-list"),
    path("proposals/<int:pk>/decide/", orders.proposal_decide, name="proposal-decide"),
    # Shipment notices (ASNs).
    path("shipments/", shipments.shipment_list, name="shipment-list"),
    path("shipments/new/", shipments.shipment_create, name="shipment-create"),
    path("shipments/<int:pk>/", shipments.shipment_detail, name="shipment-detail"),
    path("shipments/<int:pk>/cancel/", shipments.shipment_cancel, name="shipment-cancel"),
    path("shipments/<int:pk>/replace/", shipments.shipment_replace, name="shipment-replace"),
    path("shipments/<int:pk>/labels.pdf", shipments.shipment_labels, name="shipment-labels"),
    # B2B documents: uploads, what became of them, our replies, templates.
    path("documents/", documents.document_list, name="document-list"),
    path("documents/<int:pk>/", documents.document_detail, name="document-detail"),
    path("documents/<int:pk>/content/", documents.document_content, name="document-content"),
    path("documents/sent/<int:pk>/", documents.outbound_document_content, name="outbound-document-content"),
    path("documents/templates/<str:kind>.<str:fmt>", documents.document_template, name="document-template"),
    # The warehouse's and buyers' view of what is coming.
    path("receiving/", receiving.expected_receipts, name="expected-receipts"),
]
