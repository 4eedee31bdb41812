import csv
from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config.csv_cells import safe_cell
from config.http import AuthedRequest
from config.keyset import paginate_request
from purchasing import selectors, services
from purchasing.errors import StaleVersion
from purchasing.filters import TABS, PurchaseOrderFilter
from purchasing.forms import (
    ADDITION_SLOTS,
    ChangeOrderLineForm,
    LineAnswerForm,
    NewLineForm,
    ProposalDecisionForm,
    VersionForm,
    apply_service_errors,
)
from purchasing.models import AcknowledgementLine, Channel, PurchaseOrder
from suppliers.models import Supplier, is_buyer, is_purchasing_manager

EXPORT_COLUMNS = [
    "PO number",
    "Revision",
    "Supplier code",
    "Supplier",
    "Ship to",
    "Status",
    "Order date",
    "Acknowledge by",
    "Acknowledged at",
    "Lines",
    "Value",
    "Currency",
]


def _filterset(request: AuthedRequest) -> PurchaseOrderFilter:
    buyer = is_buyer(request.user)
    return PurchaseOrderFilter(
        request.GET,
        queryset=selectors.purchase_order_list(user=request.user),
        suppliers=Supplier.objects.visible_to(request.user) if buyer else None,
    )


@require_GET
@login_required
def po_list(request: AuthedRequest) -> HttpResponse:
    filterset = _filterset(request)
    valid = filterset.is_valid()
    queryset = filterset.qs.with_line_totals() if valid else PurchaseOrder.objects.none()
    page = paginate_request(request, queryset, ordering=filterset.ordering)
    counts = selectors.purchase_order_tab_counts(filterset.without_tab() if valid else PurchaseOrder.objects.none())
    query = request.GET.copy()
    for key in ("after", "before"):
        query.pop(key, None)
    tab_query = query.copy()
    tab_query.pop("tab", None)
    context = {
        "filter": filterset,
        "page": page,
        "query": query.urlencode(),
        "tab_query": tab_query.urlencode(),
        "tabs": [("", "All", counts.get("all", 0))] + [(k, label, counts.get(k, 0)) for k, (label, _) in TABS.items()],
        "active_tab": request.GET.get("tab", ""),
        "show_supplier": is_buyer(request.user),
    }
    template = "purchasing/po_list.html#po-results" if request.htmx else "purchasing/po_list.html"
    return render(request, template, context)


@require_GET
@login_required
def po_export(request: AuthedRequest) -> HttpResponse | StreamingHttpResponse:
    """The filtered list (every page) as CSV, streamed so a long list needs little memory."""
    filterset = _filterset(request)
    if not filterset.is_valid():
        return HttpResponse(
            "The filters are not valid: " + "; ".join(f"{k}: {' '.join(v)}" for k, v in filterset.errors.items()),
            status=400,
            content_type="text/plain",
        )
    rows = filterset.qs.with_line_totals().order_by(*filterset.ordering).iterator(chunk_size=2000)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(_csv_lines(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="purchase-orders-{stamp}.csv"'
    return response


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_lines(rows: Iterator[PurchaseOrder]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(EXPORT_COLUMNS)
    for po in rows:
        yield writer.writerow(
            safe_cell(value)
            for value in (
                po.number,
                po.revision,
                po.supplier.code,
                po.supplier.name,
                po.site.code,
                po.get_status_display(),
                po.order_date.isoformat(),
                timezone.localtime(po.acknowledgement_due).isoformat(timespec="minutes"),
                timezone.localtime(po.acknowledged_at).isoformat(timespec="minutes") if po.acknowledged_at else "",
                po.line_count,  # type: ignore[attr-defined]
                po.total_value,  # type: ignore[attr-defined]
                po.currency,
            )
        )


@require_GET
@login_required
def po_detail(request: AuthedRequest, number: str) -> HttpResponse:
    try:
        po = selectors.purchase_order_get(user=request.user, number=number)
    except Http404:
        return _of_another_of_my_suppliers(request, number)
    buyer = is_buyer(request.user)
    pending = selectors.pending_answers_of(po=po)
    lines = [(line, pending.get(line.pk)) for line in po.lines.all()]
    context = {
        "po": po,
        "lines": lines,
        "history": selectors.po_history(po=po),
        "may_acknowledge": not buyer and selectors.may_acknowledge(user=request.user, po=po),
        "may_ship": not buyer and selectors.may_ship(user=request.user, supplier_id=po.supplier_id),
        "pending_count": len(pending),
        "edi_documents": selectors.purchase_order_edi_documents(po=po),
    }
    return render(request, "purchasing/po_detail.html", context)


def _of_another_of_my_suppliers(request: AuthedRequest, number: str) -> HttpResponse:
    """Still 404, but when the PO is of another supplier the user is an active member of (a mail's link while
    acting for the other), the page says so and offers the switch; to anyone else, a plain 404."""
    supplier = Supplier.objects.switchable_for(request.user).filter(purchase_orders__number=number).first()
    if supplier is None or is_buyer(request.user):
        raise Http404("No such purchase order.")
    context = {"number": number, "supplier": supplier}
    return render(request, "purchasing/po_other_supplier.html", context, status=404)


def _answer_forms(request: AuthedRequest, po: PurchaseOrder) -> list[LineAnswerForm]:
    data = request.POST if request.method == "POST" else None
    lines = po.lines.select_related("item").prefetch_related("schedule_lines").order_by("line_number")
    return [
        LineAnswerForm(data, line=line, terms=services.current_terms(line)) for line in lines if line.is_awaiting_answer
    ]


def _acknowledgeable(request: AuthedRequest, number: str) -> PurchaseOrder:
    po = selectors.acknowledgeable_po_get(user=request.user, number=number)
    if not selectors.may_acknowledge(user=request.user, po=po):
        raise PermissionDenied("Your role cannot acknowledge purchase orders. Ask your administrator.")
    return po


@require_http_methods(["GET", "POST"])
@login_required
def po_acknowledge(request: AuthedRequest, number: str) -> HttpResponse:
    po = _acknowledgeable(request, number)
    if not po.is_awaiting_acknowledgement:
        messages.info(request, f"Purchase order {po.number} is {po.get_status_display().lower()}: it awaits no answer.")
        return redirect("purchasing:po-detail", number=po.number)
    header = VersionForm(request.POST or None, initial={"version": po.version})
    line_forms = _answer_forms(request, po)
    status = 400 if request.method == "POST" else 200
    if request.method == "POST" and header.is_valid() and all(f.is_valid() for f in line_forms):
        try:
            ack = services.acknowledgement_submit(
                po=po,
                by=request.user,
                decisions=[f.decision() for f in line_forms],
                channel=Channel.WEB,
                expected_version=header.cleaned_data["version"],
                note=header.cleaned_data["note"],
            )
        except StaleVersion as error:
            header.add_error(None, error.message)
            status = 409
        except ValidationError as error:
            apply_service_errors(error, {f"lines.{f.line.line_number}": f for f in line_forms}, header)
        else:
            messages.success(request, _ack_message(ack.lines.all()))
            return redirect("purchasing:po-detail", number=po.number)
    context = {"po": po, "header": header, "forms": line_forms}
    return render(request, "purchasing/po_acknowledge.html", context, status=status)


def _ack_message(answers: Any) -> str:
    outcomes = [a.outcome for a in answers]
    applied = outcomes.count(AcknowledgementLine.Outcome.APPLIED)
    pending = outcomes.count(AcknowledgementLine.Outcome.PENDING)
    text = f"Acknowledgement sent: {applied} line{'s' if applied != 1 else ''} applied"
    if pending:
        text += f", {pending} waiting for the buyer's review"
    return text + "."


@require_POST
@login_required
def po_accept_all(request: AuthedRequest, number: str) -> HttpResponse:
    po = _acknowledgeable(request, number)
    form = VersionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Reload the purchase order and try again.")
        return redirect("purchasing:po-detail", number=po.number)
    try:
        ack = services.acknowledgement_accept_all(
            po=po, by=request.user, channel=Channel.WEB, expected_version=form.cleaned_data["version"]
        )
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, _ack_message(ack.lines.all()))
    return redirect("purchasing:po-detail", number=po.number)


def _buyer_only(request: AuthedRequest) -> None:
    if not is_buyer(request.user):
        raise Http404


@require_GET
@login_required
def proposal_list(request: AuthedRequest) -> HttpResponse:
    _buyer_only(request)
    default = "all" if is_purchasing_manager(request.user) else "mine"
    scope = request.GET.get("scope", default)
    scope = scope if scope in ("mine", "all") else default
    queryset = selectors.proposal_queue(user=request.user, scope=scope)
    page = paginate_request(request, queryset, ordering=("id",))
    context = {"page": page, "scope": scope}
    return render(request, "purchasing/proposal_list.html", context)


@require_POST
@login_required
def proposal_decide(request: AuthedRequest, pk: int) -> HttpResponse:
    answer = selectors.proposal_get(user=request.user, pk=pk)
    form = ProposalDecisionForm(request.POST)
    error = ""
    if form.is_valid():
        try:
            answer = services.proposal_decide(
                answer=answer,
                by=request.user,
                approve=form.cleaned_data["decision"] == "approve",
                reason=form.cleaned_data["reason"],
                channel=Channel.WEB,
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
    else:
        error = "Choose approve or decline."
    if request.htmx:
        answer.refresh_from_db()
        context = {"answer": answer, "error": error, "form": form}
        return render(request, "purchasing/proposal_list.html#proposal-row", context, status=400 if error else 200)
    if error:
        messages.error(request, error)
    else:
        messages.success(
            request,
            f"Line {answer.line.line_number} of {answer.line.po.number}: {answer.get_outcome_display().lower()}.",
        )
    return redirect(_safe_next(request) or "purchasing:proposal-list")


def _safe_next(request: AuthedRequest) -> str | None:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


@require_http_methods(["GET", "POST"])
@login_required
def change_order(request: AuthedRequest, number: str) -> HttpResponse:
    _buyer_only(request)
    po = selectors.purchase_order_get(user=request.user, number=number)
    data = request.POST if request.method == "POST" else None
    header = VersionForm(data, initial={"version": po.version})
    line_forms = [ChangeOrderLineForm(data, line=line) for line in po.lines.all() if line.is_open]
    new_forms = [NewLineForm(data, prefix=f"new-{n}") for n in range(ADDITION_SLOTS)]
    status = 400 if request.method == "POST" else 200
    if request.method == "POST" and all(f.is_valid() for f in [header, *line_forms, *new_forms]):
        try:
            services.change_order_issue(
                po=po,
                by=request.user,
                expected_version=header.cleaned_data["version"],
                changes=[c for f in line_forms if (c := f.change())],
                additions=[n for f in new_forms if (n := f.new_line())],
                cancellations=[f.line.line_number for f in line_forms if f.cleaned_data.get("cancel")],
                channel=Channel.WEB,
            )
        except StaleVersion as error:
            header.add_error(None, error.message)
            status = 409
        except ValidationError as error:
            keyed: dict[str, forms.Form] = {f"lines.{f.line.line_number}": f for f in line_forms}
            keyed |= {f"additions.{n}": f for n, f in enumerate(new_forms)}
            apply_service_errors(error, keyed, header)
        else:
            messages.success(request, f"Change order sent: {po.number} is now revision {po.revision + 1}.")
            return redirect("purchasing:po-detail", number=po.number)
    context = {"po": po, "header": header, "line_forms": line_forms, "new_forms": new_forms}
    return render(request, "purchasing/po_change_order.html", context, status=status)
