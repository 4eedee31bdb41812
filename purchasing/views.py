from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from config.http import HtmxHttpRequest
from config.keyset import InvalidCursor, paginate
from purchasing import selectors
from purchasing.filters import PurchaseOrderFilter
from purchasing.models import PurchaseOrder
from suppliers.models import Supplier, is_buyer


@require_GET
@login_required
def po_list(request: HtmxHttpRequest) -> HttpResponse:
    buyer = is_buyer(request.user)
    filterset = PurchaseOrderFilter(
        request.GET,
        queryset=selectors.purchase_order_list(user=request.user),
        suppliers=Supplier.objects.visible_to(request.user) if buyer else None,
    )
    queryset = filterset.qs if filterset.is_valid() else PurchaseOrder.objects.none()
    try:
        page = paginate(
            queryset,
            ordering=PurchaseOrder.LIST_ORDERING,
            page_size=settings.SUPPLYLINE_PAGE_SIZE,
            after=request.GET.get("after"),
            before=request.GET.get("before"),
        )
    except InvalidCursor as error:
        messages.warning(request, f"{error} Showing the first page.")
        page = paginate(queryset, ordering=PurchaseOrder.LIST_ORDERING, page_size=settings.SUPPLYLINE_PAGE_SIZE)
    query = request.GET.copy()
    for key in ("after", "before"):
        query.pop(key, None)
    context = {"filter": filterset, "page": page, "query": query.urlencode(), "show_supplier": buyer}
    template = "purchasing/po_list.html#po-table" if request.htmx else "purchasing/po_list.html"
    return render(request, template, context)


@require_GET
@login_required
def po_detail(request: HttpRequest, number: str) -> HttpResponse:
    po = selectors.purchase_order_get(user=request.user, number=number)
    return render(request, "purchasing/po_detail.html", {"po": po, "lines": po.lines.all()})
