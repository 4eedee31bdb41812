"""Shipment notice (ASN) pages: the list, the detail with its package tree, the form that sends or
corrects a notice, cancelling one, and the packages' shipping labels as a PDF."""

import dataclasses
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, HttpResponseBadRequest, QueryDict
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config.http import AuthedRequest
from config.keyset import paginate_request
from purchasing import selectors, services
from purchasing.documents.shapes import PackageInput, ShipmentInput, ShipmentLineInput
from purchasing.filters import ShipmentNoticeFilter
from purchasing.forms import (
    ShipmentCancelForm,
    ShipmentLineRowForm,
    ShipmentNoticeForm,
    ShipmentPackageRowForm,
    plain,
    posted_line_rows,
)
from purchasing.labels import ContentRow, ShippingLabel, shipping_labels_pdf
from purchasing.models import Channel, PurchaseOrder, PurchaseOrderLine, ShipmentLine, ShipmentNotice, Site
from purchasing.selectors import ShipmentContents
from suppliers.models import Supplier, SupplierMembership, is_buyer
from suppliers.self_service import ship_from_addresses

# The most open lines the form offers at once: each has four inputs, and Django refuses a post of
# more than DATA_UPLOAD_MAX_NUMBER_FIELDS (1000) fields. Bigger shipments come as CSV or EDI files.
MAX_FORM_LINES = 150
# The references a corrected notice's packages get on the form, by kind: P1, C1, C2, K1.
REF_PREFIXES = {"pallet": "P", "carton": "C", "package": "K"}
_UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9._-]")

Submit = Callable[[ShipmentInput], ShipmentNotice]


# --- access --------------------------------------------------------------------------------------


def _notice_to_change(request: AuthedRequest, pk: int) -> ShipmentNotice:
    """A notice the user may cancel or correct: 404 outside the user's suppliers and for buyers (who
    only read notices), 403 for a supplier role that may not ship."""
    if is_buyer(request.user):
        raise Http404
    notice = selectors.shipment_notice_get(user=request.user, pk=pk)
    if not selectors.may_ship(user=request.user, supplier_id=notice.supplier_id):
        raise PermissionDenied("Your role can view shipment notices but not change them. Ask your administrator.")
    return notice


def _shipping_suppliers(request: AuthedRequest) -> list[Supplier]:
    """The suppliers the user sends notices for: 404 for buyers, 403 for a role that may not ship."""
    if is_buyer(request.user):
        raise Http404
    suppliers = list(selectors.shipping_suppliers(user=request.user))
    if not suppliers:
        if SupplierMembership.objects.supplier_ids_of(request.user).exists():
            raise PermissionDenied("Your role can view shipment notices but not send them. Ask your administrator.")
        raise Http404
    return suppliers


# --- list ----------------------------------------------------------------------------------------


@require_GET
@login_required
def shipment_list(request: AuthedRequest) -> HttpResponse:
    buyer = is_buyer(request.user)
    filterset = ShipmentNoticeFilter(
        request.GET,
        queryset=selectors.shipment_notice_list(user=request.user),
        suppliers=Supplier.objects.visible_to(request.user) if buyer else None,
    )
    valid = filterset.is_valid()
    page = paginate_request(
        request, filterset.qs if valid else ShipmentNotice.objects.none(), ordering=ShipmentNoticeFilter.ordering
    )
    po_numbers = selectors.shipment_notice_po_numbers(notice_ids=[notice.pk for notice in page.items])
    query = request.GET.copy()
    for key in ("after", "before"):
        query.pop(key, None)
    context = {
        "filter": filterset,
        "page": page,
        "rows": [(notice, po_numbers.get(notice.pk, [])) for notice in page.items],
        "query": query.urlencode(),
        "filtered": any(query.values()),
        "po_number": filterset.form.cleaned_data.get("po", "") if valid else "",
        "show_supplier": buyer,
        "may_create": not buyer and selectors.shipping_suppliers(user=request.user).exists(),
    }
    template = "purchasing/shipment_list.html#shipment-results" if request.htmx else "purchasing/shipment_list.html"
    return render(request, template, context)


# --- detail and cancel ---------------------------------------------------------------------------


@require_GET
@login_required
def shipment_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    notice = selectors.shipment_notice_get(user=request.user, pk=pk)
    return _detail(request, notice, ShipmentCancelForm())


def _detail(
    request: AuthedRequest, notice: ShipmentNotice, cancel_form: ShipmentCancelForm, status: int = 200
) -> HttpResponse:
    contents = selectors.shipment_notice_contents(notice=notice)
    may_change = (
        not is_buyer(request.user)
        and notice.is_changeable
        and selectors.may_ship(user=request.user, supplier_id=notice.supplier_id)
    )
    context = {
        "notice": notice,
        "contents": contents,
        "po_numbers": _po_numbers(line for line, _ in contents.lines),
        "replaced_by": selectors.shipment_notice_replacement(notice=notice),
        "may_change": may_change,
        "cancel_form": cancel_form,
    }
    return render(request, "purchasing/shipment_detail.html", context, status=status)


@require_POST
@login_required
def shipment_cancel(request: AuthedRequest, pk: int) -> HttpResponse:
    notice = _notice_to_change(request, pk)
    form = ShipmentCancelForm(request.POST)
    if not form.is_valid():
        return _detail(request, notice, form, status=400)
    try:
        services.shipment_notice_cancel(
            notice=notice, by=request.user, reason=form.cleaned_data["reason"], channel=Channel.WEB
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            f"Shipment notice {notice.number} is cancelled: its quantities are open on the purchase order lines again.",
        )
    return redirect("purchasing:shipment-detail", pk=notice.pk)


# --- the form: send and correct ------------------------------------------------------------------


@dataclass(frozen=True)
class _Scope:
    """Who ships where: one of the user's suppliers, the ship-to site, and the PO the user came from."""

    suppliers: list[Supplier]
    supplier: Supplier
    sites: list[Site]  # the sites with open lines, to choose from
    site: Site | None
    po_number: str  # its lines come first, prefilled


@require_http_methods(["GET", "POST"])
@login_required
def shipment_create(request: AuthedRequest) -> HttpResponse:
    suppliers = _shipping_suppliers(request)
    if request.method == "GET" and "new" in request.GET:
        return _added_row(request, suppliers)
    scope = _scope(request, suppliers)
    if scope.site is None:
        status = 400 if request.method == "POST" else 200
        return render(request, "purchasing/shipment_form.html", _form_context(scope, None, None, []), status=status)
    posted = posted_line_rows(request.POST) if request.method == "POST" else {}
    lines = selectors.shipment_candidate_lines(
        supplier=scope.supplier, site=scope.site, including=posted, first_po=scope.po_number, limit=MAX_FORM_LINES
    )
    remaining = {line.pk: _remaining(line) for line in lines}
    preselected = [line for line in lines if line.po.number == scope.po_number and remaining[line.pk] > 0]
    initial = ShipmentInput(
        number="",
        ship_date=timezone.localdate(),
        lines=tuple(ShipmentLineInput(line.po.number, line.line_number, remaining[line.pk]) for line in preselected),
    )

    def submit(shipment: ShipmentInput) -> ShipmentNotice:
        return services.shipment_notice_submit(
            supplier=scope.supplier, by=request.user, shipment=shipment, channel=Channel.WEB
        )

    return _form_page(request, scope, None, lines, remaining, initial, submit)


@require_http_methods(["GET", "POST"])
@login_required
def shipment_replace(request: AuthedRequest, pk: int) -> HttpResponse:
    notice = _notice_to_change(request, pk)
    if not notice.is_changeable:
        messages.info(
            request,
            f"Shipment notice {notice.number} is {notice.get_status_display().lower()}: it can no longer be corrected.",
        )
        return redirect("purchasing:shipment-detail", pk=notice.pk)
    contents = selectors.shipment_notice_contents(notice=notice)
    own = _quantities(line for line, _ in contents.lines)
    posted = posted_line_rows(request.POST) if request.method == "POST" else {}
    lines = selectors.shipment_candidate_lines(
        supplier=notice.supplier, site=notice.site, including={*own, *posted}, limit=MAX_FORM_LINES
    )
    # The correction replaces this notice, so its own quantities are free to ship again.
    remaining = {line.pk: _remaining(line, plus=own.get(line.pk, Decimal(0))) for line in lines}
    scope = _Scope([notice.supplier], notice.supplier, [notice.site], notice.site, po_number="")

    def submit(shipment: ShipmentInput) -> ShipmentNotice:
        return services.shipment_notice_replace(
            notice=notice,
            by=request.user,
            shipment=dataclasses.replace(shipment, number=notice.number),
            channel=Channel.WEB,
        )

    return _form_page(request, scope, notice, lines, remaining, _as_input(notice, contents), submit)


def _form_page(
    request: AuthedRequest,
    scope: _Scope,
    notice: ShipmentNotice | None,
    lines: Sequence[PurchaseOrderLine],
    remaining: Mapping[int, Decimal],
    initial: ShipmentInput,
    submit: Submit,
) -> HttpResponse:
    posted = request.POST if request.method == "POST" else None
    # "Add package" and "Split" without JavaScript post the form: redraw it with one more row, no errors.
    adding = request.POST.get("add", "")
    form = ShipmentNoticeForm(
        posted,
        lines=lines,
        remaining=remaining,
        initial=initial,
        has_number=notice is None,
        bound=not adding,
        addresses=list(ship_from_addresses(scope.supplier)),
    )
    if adding:
        form.add_row(adding)
    elif posted is not None and form.is_valid():
        shipment = form.shipment()
        try:
            saved = submit(shipment)
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, _sent_message(saved, shipment, corrected=notice is not None))
            return redirect("purchasing:shipment-detail", pk=saved.pk)
    status = 400 if posted is not None and not adding else 200
    return render(request, "purchasing/shipment_form.html", _form_context(scope, notice, form, lines), status=status)


def _form_context(
    scope: _Scope, notice: ShipmentNotice | None, form: ShipmentNoticeForm | None, lines: Sequence[PurchaseOrderLine]
) -> dict[str, object]:
    open_count = 0
    if len(lines) >= MAX_FORM_LINES and scope.site is not None:
        open_count = selectors.shipment_candidate_count(supplier=scope.supplier, site=scope.site)
    return {
        "scope": scope,
        "notice": notice,
        "form": form,
        "open_count": open_count,
        "max_lines": MAX_FORM_LINES,
        "gs1_prefix": scope.supplier.gs1_company_prefix,
    }


def _scope(request: AuthedRequest, suppliers: list[Supplier]) -> _Scope:
    params: QueryDict = request.POST if request.method == "POST" else request.GET
    po = _preselected_po(params.get("po", ""), suppliers)
    by_code = {supplier.code: supplier for supplier in suppliers}
    supplier = po.supplier if po else by_code.get(params.get("supplier", ""), suppliers[0])
    sites = list(selectors.shipment_ship_to_sites(supplier=supplier))
    site: Site | None
    if po is not None:
        site = po.site
    elif request.method == "POST":
        # The site the form was drawn for, even if its lines have shipped meanwhile: the service says so.
        site = Site.objects.filter(code=params.get("site", "")).first()
    else:
        chosen = [s for s in sites if s.code == params.get("site")]
        site = chosen[0] if chosen else (sites[0] if len(sites) == 1 else None)
    return _Scope(suppliers, supplier, sites, site, po.number if po else "")


def _preselected_po(number: str, suppliers: list[Supplier]) -> PurchaseOrder | None:
    if not number:
        return None
    return (
        PurchaseOrder.objects.select_related("supplier", "site").filter(number=number, supplier__in=suppliers).first()
    )


def _remaining(line: PurchaseOrderLine, plus: Decimal = Decimal(0)) -> Decimal:
    return max(Decimal(0), line.ordered_quantity - line.shipped_quantity + plus)


def _quantities(lines: Iterable[ShipmentLine]) -> dict[int, Decimal]:
    totals: dict[int, Decimal] = defaultdict(Decimal)
    for line in lines:
        totals[line.po_line_id] += line.quantity
    return dict(totals)


def _as_input(notice: ShipmentNotice, contents: ShipmentContents) -> ShipmentInput:
    """The notice as the form's starting point for a correction; packages get references P1, C1, ..."""
    seen: Counter[str] = Counter()
    refs: dict[int, str] = {}
    for node in contents.packages:
        seen[node.package.kind] += 1
        refs[node.package.pk] = f"{REF_PREFIXES[node.package.kind]}{seen[node.package.kind]}"
    packages = tuple(
        PackageInput(
            ref=refs[node.package.pk],
            kind=node.package.kind,
            sscc=node.package.sscc,
            parent_ref=refs[node.package.parent_id] if node.package.parent_id is not None else None,
        )
        for node in contents.packages
    )
    lines = tuple(
        ShipmentLineInput(
            po_number=line.po_line.po.number,
            line_number=line.po_line.line_number,
            quantity=line.quantity,
            package_ref=refs[line.package_id] if line.package_id is not None else None,
            lot_number=line.lot_number,
            expiry_date=line.expiry_date,
        )
        for line, _ in contents.lines
    )
    return ShipmentInput(
        number=notice.number,
        ship_date=notice.ship_date,
        estimated_arrival=notice.estimated_arrival,
        carrier_scac=notice.carrier_scac,
        carrier_name=notice.carrier_name,
        tracking_number=notice.tracking_number,
        bill_of_lading=notice.bill_of_lading,
        ship_from=notice.ship_from,
        packages=packages,
        lines=lines,
    )


def _sent_message(notice: ShipmentNotice, shipment: ShipmentInput, *, corrected: bool) -> str:
    lines, packages = len(shipment.lines), len(shipment.packages)
    what = f"{lines} line{'s' if lines != 1 else ''}"
    if packages:
        what += f" in {packages} package{'s' if packages != 1 else ''}"
    if corrected:
        return f"Shipment notice {notice.number} corrected: the new version has {what}."
    return f"Shipment notice {notice.number} sent: {what}."


def _added_row(request: AuthedRequest, suppliers: list[Supplier]) -> HttpResponse:
    """A blank row for htmx to append ("Add package", "Split"), with the button that adds the next one.

    Its parameter is ``new``, not the buttons' ``add``: htmx sends the clicked button's own value along."""
    try:
        row, line_id = int(request.GET.get("row", "")), int(request.GET.get("line", "0"))
    except ValueError:
        return HttpResponseBadRequest("Say which row to add.")
    if not 0 < row < 10_000:
        return HttpResponseBadRequest("Say which row to add.")
    if request.GET["new"] == "package":
        context: dict[str, object] = {"package": ShipmentPackageRowForm(row=row), "next_package_row": row + 1}
        return render(request, "purchasing/shipment_form.html#package-added", context)
    lines = PurchaseOrderLine.objects.select_related("po", "item").filter(po__supplier__in=suppliers)
    line = lines.filter(pk=line_id).first()
    if line is None:
        raise Http404("No such purchase order line.")
    context = {"row": ShipmentLineRowForm(line=line, row=row), "line": line, "next_row": row + 1, "first": False}
    return render(request, "purchasing/shipment_form.html#line-added", context)


# --- labels --------------------------------------------------------------------------------------


@require_GET
@login_required
def shipment_labels(request: AuthedRequest, pk: int) -> HttpResponse:
    notice = selectors.shipment_notice_get(user=request.user, pk=pk)
    contents = selectors.shipment_notice_contents(notice=notice)
    if not contents.packages:
        raise Http404("This shipment notice has no packages to label.")
    response = HttpResponse(shipping_labels_pdf(_labels(notice, contents)), content_type="application/pdf")
    filename = _UNSAFE_IN_FILENAME.sub("-", f"ASN-{notice.number}-labels.pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


def _labels(notice: ShipmentNotice, contents: ShipmentContents) -> list[ShippingLabel]:
    """One label per package, parents first; "CARTON 2 OF 3" counts the packages of its kind."""
    every_po = _po_numbers(line for line, _ in contents.lines)
    of_kind = Counter(node.package.kind for node in contents.packages)
    seen: Counter[str] = Counter()
    site = notice.site
    labels = []
    for node in contents.packages:
        kind, sscc = node.package.kind, node.package.sscc
        seen[kind] += 1
        lines = node.all_lines()
        labels.append(
            ShippingLabel(
                sscc=sscc,
                package_kind=kind,
                ship_from=notice.ship_from or notice.supplier.name,
                ship_to="\n".join(filter(None, [f"{site.name} ({site.code})", site.address])),
                carrier_name=notice.carrier_name,
                carrier_scac=notice.carrier_scac,
                tracking_number=notice.tracking_number,
                bill_of_lading=notice.bill_of_lading,
                asn_number=notice.number,
                po_numbers=tuple(_po_numbers(lines) or every_po),
                contents=tuple(_content_row(line) for line in lines),
                index=seen[kind],
                count=of_kind[kind],
                ship_date=notice.ship_date,
                company_prefix_length=selectors.sscc_company_prefix_length(sscc, notice.supplier.gs1_company_prefix),
            )
        )
    return labels


def _content_row(line: ShipmentLine) -> ContentRow:
    item = line.po_line.item
    return (item.sku, item.description, f"{plain(line.quantity)} {item.unit_of_measure}", line.lot_number)


def _po_numbers(lines: Iterable[ShipmentLine]) -> list[str]:
    return sorted({line.po_line.po.number for line in lines})
