from django.urls import path

from exceptions.views import kpis, queue, supply

app_name = "exceptions"

urlpatterns = [
    # The buyers' queue of exception cases.
    path("cases/", queue.case_list, name="case-list"),
    path("cases/bulk/", queue.case_bulk, name="case-bulk"),
    path("cases/<int:pk>/", queue.case_detail, name="case-detail"),
    path("cases/<int:pk>/claim/", queue.case_claim, name="case-claim"),
    path("cases/<int:pk>/assign/", queue.case_assign, name="case-assign"),
    path("cases/<int:pk>/comment/", queue.case_comment, name="case-comment"),
    path("cases/<int:pk>/snooze/", queue.case_snooze, name="case-snooze"),
    path("cases/<int:pk>/resolve/", queue.case_resolve, name="case-resolve"),
    path("cases/<int:pk>/replay/", queue.case_replay, name="case-replay"),
    path("cases/<int:pk>/contact/", queue.case_contact, name="case-contact"),
    # Supply risk: the projected balance of an item at a site.
    path("supply/<str:site>/<str:sku>/", supply.projection, name="projection"),
    # Operational KPIs.
    path("kpis/", kpis.dashboard, name="kpis"),
]
