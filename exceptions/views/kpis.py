"""The operational KPI dashboard for buyers: charts over time, a table per supplier, and its CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET

from config.csv_cells import safe_cell
from config.http import AuthedRequest
from exceptions import kpis
from exceptions.charts import Series, bar_chart, line_chart
from suppliers.models import Supplier, is_buyer

TEMPLATE = "exceptions/kpis.html"


class KpiFilterForm(forms.Form):
    """The period and supplier of the dashboard; empty fields take their defaults."""

    weeks = forms.TypedChoiceField(
        label="Period",
        choices=[(weeks, f"Last {weeks} weeks") for weeks in kpis.WEEK_CHOICES],
        coerce=int,
    )
    supplier = forms.ModelChoiceField(
        queryset=Supplier.objects.order_by("name"),
        to_field_name="code",
        required=False,
        empty_label="All suppliers",
        error_messages={"invalid_choice": "There is no supplier with that code: choose one from the list."},
    )

    def __init__(self, query: Any) -> None:
        given = {name: query[name] for name in ("weeks", "supplier") if query.get(name)}
        super().__init__({"weeks": str(kpis.DEFAULT_WEEKS)} | given)


@require_GET
@login_required
def dashboard(request: AuthedRequest) -> HttpResponse:
    """Buyers only (404 for anyone else); ``?format=csv`` downloads the per-supplier table."""
    if not is_buyer(request.user):
        raise Http404
    form = KpiFilterForm(request.GET)
    context: dict[str, Any] = {
        "form": form,
        "supported": kpis.is_supported(),
        "board": None,
        "time_zone": settings.TIME_ZONE,
    }
    if not (context["supported"] and form.is_valid()):
        return render(request, TEMPLATE, context, status=200 if form.is_valid() else 400)
    board = kpis.dashboard(weeks=form.cleaned_data["weeks"], supplier=form.cleaned_data["supplier"])
    if request.GET.get("format") == "csv":
        return _csv_response(board)
    context |= {
        "board": board,
        "charts": _charts(board),
        "columns": [column.title for column in COLUMNS if column.on_page],
        "rows": [
            (row.supplier, [column.display(row) for column in COLUMNS if column.on_page]) for row in board.suppliers
        ],
        "age_buckets": kpis.AGE_BUCKETS,
        "totals": _period_rates(board),
        "csv_query": _query_with(request, format="csv"),
    }
    return render(request, TEMPLATE, context)


def _query_with(request: AuthedRequest, **extra: str) -> str:
    query = request.GET.copy()
    query.update(extra)
    return query.urlencode()


# --- charts -------------------------------------------------------------------------------


def _charts(board: kpis.Dashboard) -> dict[str, SafeString]:
    weeks = kpis.week_labels(board.period.mondays)

    def percentiles(title: str, figures: kpis.Weekly[kpis.Percentiles], high: str, unit: str) -> SafeString:
        return line_chart(
            title=title,
            x_labels=weeks,
            series=[
                Series("Median", figures.values(lambda p: p.p50)),
                Series(high, figures.values(lambda p: p.high), kind="dashed"),
            ],
            y_label=unit,
            x_title="Week of",
        )

    def rate(title: str, figures: kpis.Weekly[kpis.Rate]) -> SafeString:
        return line_chart(
            title=title,
            x_labels=weeks,
            series=[Series("Share", figures.values(lambda r: r.percent))],
            y_label="%",
            x_title="Week of",
            y_include=(100,),
        )

    return {
        "open_cases": bar_chart(
            title="Open cases by type and age",
            categories=[row.label for row in board.open_cases],
            series=[
                Series(bucket.label, [row.by_age[i] for row in board.open_cases])
                for i, bucket in enumerate(kpis.AGE_BUCKETS)
            ],
            y_label="cases",
            x_title="Case type",
        ),
        "resolve": percentiles("Time to resolve", board.resolve, "90th percentile", "hours"),
        "ack_cycle": percentiles("Acknowledgement cycle time", board.ack_cycle, "95th percentile", "hours"),
        "touchless": rate("Touchless rate", board.touchless),
        "latency": percentiles("Commit-to-ERP latency", board.latency, "95th percentile", "seconds"),
        "on_time": rate("On-time shipment", board.on_time),
        "asn_accuracy": rate("ASN accuracy", board.asn_accuracy),
    }


def _period_rates(board: kpis.Dashboard) -> dict[str, kpis.Rate]:
    """A rate over the whole period: the weeks' hits over the weeks' totals."""
    return {
        name: kpis.Rate(sum(r.hits for r in weekly.by_week.values()), sum(r.total for r in weekly.by_week.values()))
        for name, weekly in (
            ("touchless", board.touchless),
            ("on_time", board.on_time),
            ("asn_accuracy", board.asn_accuracy),
        )
    }


# --- the per-supplier table ---------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A column of the per-supplier table: ``kpi`` names a SupplierRow field, ``part`` a field of its figure."""

    title: str
    kpi: str
    part: str = ""
    on_page: bool = True
    decimals: int = 1

    def value(self, row: kpis.SupplierRow) -> float | int | None:
        figure = getattr(row, self.kpi)
        value: float | int | None = getattr(figure, self.part) if figure is not None and self.part else figure
        return value

    def display(self, row: kpis.SupplierRow) -> str:
        value = self.value(row)
        if value is None:
            return "—"
        return f"{value:,}" if isinstance(value, int) else f"{value:,.{self.decimals}f}"


# The page shows the headline of each KPI; the CSV adds the counts and high percentiles behind them.
COLUMNS = (
    Column("Open cases", "open_cases"),
    Column("Resolve median (h)", "resolve", "p50"),
    Column("Resolve p90 (h)", "resolve", "high", on_page=False),
    Column("Cases resolved", "resolve", "count", on_page=False),
    Column("Ack cycle median (h)", "ack_cycle", "p50"),
    Column("Ack cycle p95 (h)", "ack_cycle", "high", on_page=False),
    Column("Acks measured", "ack_cycle", "count", on_page=False),
    Column("Touchless (%)", "touchless", "percent"),
    Column("Acks", "touchless", "total", on_page=False),
    Column("On time (%)", "on_time", "percent"),
    Column("Notice lines shipped", "on_time", "total", on_page=False),
    Column("ASN accuracy (%)", "asn_accuracy", "percent"),
    Column("Notice lines received", "asn_accuracy", "total", on_page=False),
    Column("ERP latency median (s)", "latency", "p50", on_page=False, decimals=3),
    Column("ERP latency p95 (s)", "latency", "high", decimals=3),
    Column("Deliveries", "latency", "count", on_page=False),
)
PAGE_COLUMNS = [column for column in COLUMNS if column.on_page]


def _csv_response(board: kpis.Dashboard) -> HttpResponse:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Supplier code", "Supplier", *(column.title for column in COLUMNS)])
    for row in board.suppliers:
        values = [column.value(row) for column in COLUMNS]
        cells = [row.supplier.code, row.supplier.name, *("" if value is None else value for value in values)]
        writer.writerow([safe_cell(cell) for cell in cells])
    first = board.period.first_day
    stamp = timezone.localdate(board.period.now)
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="supplier-kpis-{first:%Y%m%d}-{stamp:%Y%m%d}.csv"'
    return response
