"""The supply projection page: the projected balance of an item at a site, and before/after a supply-risk case."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET

from config.http import AuthedRequest
from exceptions.charts import Series, line_chart
from exceptions.models import CaseType, ExceptionCase
from exceptions.projection import Projection
from exceptions.supply_risk import horizon_weeks, projection_for
from purchasing.models import Item, Site
from suppliers.models import is_buyer


@require_GET
@login_required
def projection(request: AuthedRequest, site: str, sku: str) -> HttpResponse:
    # The projection mixes every supplier's orders for the item: the distributor's view only.
    if not is_buyer(request.user):
        raise Http404
    site_obj = get_object_or_404(Site, code=site)
    item = get_object_or_404(Item, sku=sku)
    case = _case(request.GET.get("case"), item, site_obj)
    result = projection_for(item, site_obj)
    context: dict[str, Any] = {
        "item": item,
        "site": site_obj,
        "projection": result,
        "weeks": horizon_weeks(),
        "chart": _projection_chart(item, site_obj, result),
        "movements": [day for day in result.days if day.has_movements],
        "case": case,
        "change_chart": _change_chart(case) if case else None,
    }
    return render(request, "exceptions/projection.html", context)


def _case(case_id: str | None, item: Item, site: Site) -> ExceptionCase | None:
    """The supply-risk case of this item and site named by ``?case=``; any other id is not found."""
    if case_id is None:
        return None
    if not (case_id.isascii() and case_id.isdigit()):  # "²".isdigit() too, but int() refuses it
        raise Http404
    return get_object_or_404(ExceptionCase, pk=int(case_id), type=CaseType.SUPPLY_RISK, item=item, site=site)


def _label(day: dt.date) -> str:
    return day.strftime("%d %b")


def _number(value: Decimal) -> float:
    return float(value)


def _projection_chart(item: Item, site: Site, result: Projection) -> SafeString:
    days = result.days
    return line_chart(
        title=f"Projected balance of {item.sku} at {site.code}",
        x_labels=[_label(day.date) for day in days],
        series=[
            Series("Supply", [_number(day.supply) or None for day in days], "bar", "projection-supply"),
            Series("Demand", [_number(day.demand) or None for day in days], "bar", "projection-demand"),
            Series("Projected balance", [_number(day.balance) for day in days], "step", "projection-balance"),
            Series("Safety stock", [_number(result.safety_stock)] * len(days), "dashed", "projection-safety"),
        ],
        y_label=item.unit_of_measure,
    )


def _change_chart(case: ExceptionCase) -> SafeString:
    """The balance before and after the change that raised the case, over the days the case looked at."""
    after = case.details.get("after") or {}
    before = case.details.get("before")
    start = dt.date.fromisoformat(after["start"]) if after else case.opened_at.date()
    dates = [start + dt.timedelta(days=n) for n in range(len(after.get("balances", [])))]
    series = []
    if before:
        series.append(Series("Balance before the change", _aligned(before, dates), "dashed", "projection-before"))
    series += [
        Series("Balance after the change", _aligned(after, dates), "step", "projection-after"),
        Series("Safety stock", [float(after.get("safety_stock", 0))] * len(dates), "dashed", "projection-safety"),
    ]
    return line_chart(
        title=f"Case #{case.pk}: projected balance before and after the change",
        x_labels=[_label(date) for date in dates],
        series=series,
        y_label=case.details.get("unit_of_measure", ""),
    )


def _aligned(stored: dict[str, Any], dates: list[dt.date]) -> list[float | None]:
    """A stored series' balance on each date; None where it did not reach (it started later or ended sooner)."""
    start, balances = dt.date.fromisoformat(stored["start"]), stored["balances"]
    values: list[float | None] = []
    for date in dates:
        index = (date - start).days
        values.append(float(balances[index]) if 0 <= index < len(balances) else None)
    return values
