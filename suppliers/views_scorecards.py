"""Supplier scorecards: the buyers' table of suppliers, one supplier's months with a chart, and its CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET

from config.csv_cells import safe_cell
from config.http import AuthedRequest
from exceptions.charts import Series, line_chart
from suppliers import scorecards
from suppliers.models import Supplier, is_buyer

PAGE_SIZE = 50
# Sort keys of the buyers' table: the supplier's name, or a metric's latest month or whole period.
SORT_CHOICES = [("name", "Supplier")] + [
    (f"{metric.key}_{part}", f"{metric.title} ({label})")
    for metric in scorecards.METRICS
    for part, label in (("latest", "this month"), ("period", "period"))
]


class PeriodForm(forms.Form):
    months = forms.TypedChoiceField(
        label="Period",
        choices=[(n, f"Last {n} months") for n in scorecards.MONTH_CHOICES],
        coerce=int,
        error_messages={"invalid_choice": "Choose 3, 6, 12 or 24 months."},
    )

    def __init__(self, query: Any) -> None:
        super().__init__({"months": query.get("months") or str(scorecards.DEFAULT_MONTHS)})


class ListForm(PeriodForm):
    sort = forms.ChoiceField(choices=SORT_CHOICES, error_messages={"invalid_choice": "Choose a column to sort by."})
    descending = forms.BooleanField(required=False)

    def __init__(self, query: Any) -> None:
        forms.Form.__init__(
            self,
            {
                "months": query.get("months") or str(scorecards.DEFAULT_MONTHS),
                "sort": query.get("sort") or "name",
                "descending": query.get("descending", ""),
            },
        )


def _bad_request(request: AuthedRequest, form: forms.Form) -> HttpResponse:
    """A 400 naming each field that is wrong, with nothing computed."""
    errors = [f"{field}: {' '.join(str(m) for m in messages)}" for field, messages in form.errors.items()]
    return render(request, "suppliers/scorecard_error.html", {"errors": errors}, status=400)


@require_GET
@login_required
def scorecard_list(request: AuthedRequest) -> HttpResponse:
    """Buyers: every supplier with data, its latest month and period. A supplier's user is taken to the
    scorecard of their active supplier, so one navigation link serves both; nobody else gets one."""
    if not is_buyer(request.user):
        own = Supplier.objects.visible_to(request.user).order_by("code").values_list("code", flat=True).first()
        if own is None:
            raise Http404
        return redirect("suppliers:scorecard-detail", code=own)
    form = ListForm(request.GET)
    if not form.is_valid():
        return _bad_request(request, form)
    months, sort = form.cleaned_data["months"], form.cleaned_data["sort"]
    cards = _sorted(scorecards.scorecards(months=months), sort, descending=form.cleaned_data["descending"])
    page = Paginator(cards, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "months": months,
        "metrics": scorecards.METRICS,
        "sorts": SORT_CHOICES,
        "sort": sort,
        "descending": form.cleaned_data["descending"],
        "page": page,
        "rows": [(card, [(card.latest(m.key), card.overall(m.key)) for m in scorecards.METRICS]) for card in page],
    }
    return render(request, "suppliers/scorecard_list.html", context)


def _sorted(cards: list[scorecards.Scorecard], sort: str, *, descending: bool) -> list[scorecards.Scorecard]:
    """By name, or by a rate; suppliers without that figure come last whichever the direction."""
    by_name = sorted(cards, key=lambda card: (card.supplier.name, card.supplier.pk))
    if sort == "name":
        return by_name[::-1] if descending else by_name
    key, part = sort.rsplit("_", 1)

    def share(card: scorecards.Scorecard) -> float | None:
        rate = card.latest(key) if part == "latest" else card.overall(key)
        return None if rate is None else rate.share

    measured = sorted((c for c in by_name if share(c) is not None), key=lambda c: share(c) or 0.0, reverse=descending)
    return measured + [c for c in by_name if share(c) is None]


def _supplier_for(request: AuthedRequest, code: str) -> Supplier:
    """Buyers see every supplier, supplier users only their own: another supplier's is 404."""
    return get_object_or_404(Supplier.objects.visible_to(request.user), code=code)


@require_GET
@login_required
def scorecard_detail(request: AuthedRequest, code: str) -> HttpResponse:
    supplier = _supplier_for(request, code)
    form = PeriodForm(request.GET)
    if not form.is_valid():
        return _bad_request(request, form)
    months = form.cleaned_data["months"]
    card = scorecards.scorecard(supplier=supplier, months=months)
    context = {
        "card": card,
        "form": form,
        "months": months,
        "metrics": scorecards.METRICS,
        "chart": _chart(card),
        "totals": [card.overall(m.key) for m in scorecards.METRICS],
    }
    return render(request, "suppliers/scorecard_detail.html", context)


def _chart(card: scorecards.Scorecard) -> SafeString:
    return line_chart(
        title=f"Scorecard of {card.supplier.name}",
        x_labels=[f"{month:%b %Y}" for month in card.months],
        series=[
            Series(metric.title, [None if (r := card.rate(metric.key, m)) is None else r.percent for m in card.months])
            for metric in scorecards.METRICS
        ],
        y_label="%",
        x_title="Month",
        y_include=(100,),
    )


@require_GET
@login_required
def scorecard_export(request: AuthedRequest, code: str) -> HttpResponse:
    """The per-month table as CSV: each metric's hits, total and percentage."""
    supplier = _supplier_for(request, code)
    form = PeriodForm(request.GET)
    if not form.is_valid():
        return _bad_request(request, form)
    card = scorecards.scorecard(supplier=supplier, months=form.cleaned_data["months"])
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["Supplier code", "Supplier", "Month"]
    for metric in scorecards.METRICS:
        header += [f"{metric.title} (%)", f"{metric.title} hits", f"{metric.title} total"]
    writer.writerow(header)
    for month, rates in card.rows():
        cells: list[object] = [supplier.code, supplier.name, f"{month:%Y-%m}"]
        for rate in rates:
            cells += ["", 0, 0] if rate is None else [rate.percent, rate.hits, rate.total]
        writer.writerow([safe_cell(cell) for cell in cells])
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="scorecard-{supplier.pk}.csv"'
    return response
