"""Expected receipts: what is coming to each site by day, as a list or a month calendar (buyers and staff)."""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from config.http import AuthedRequest
from purchasing import selectors
from purchasing.documents.forms import ExpectedReceiptsForm
from purchasing.models import Site
from suppliers.models import is_buyer


@dataclass(frozen=True)
class CalendarDay:
    day: dt.date
    in_month: bool
    is_today: bool
    notices: int = 0
    shipped: Decimal = Decimal(0)
    deliveries: int = 0
    due: Decimal = Decimal(0)
    flagged: int = 0
    link: str = ""

    @property
    def is_empty(self) -> bool:
        return not (self.notices or self.deliveries)


@require_GET
@login_required
def expected_receipts(request: AuthedRequest) -> HttpResponse:
    # The warehouse staff are buyers (or staff) for now; suppliers never see other suppliers' traffic.
    if not is_buyer(request.user):
        raise Http404
    today = timezone.localdate()
    form = ExpectedReceiptsForm(request.GET, today=today)
    context: dict[str, Any] = {"form": form, "today": today, "view": "list", "groups": [], "weeks": []}
    if not form.is_valid():
        context["view"] = "calendar" if request.GET.get("view") == "calendar" else "list"
        return render(request, "purchasing/expected_receipts.html", context)
    data = form.cleaned_data
    site: Site | None = data["site"]
    sites = [site] if site else list(Site.objects.order_by("code"))
    context |= {"view": data["view"], "site": site, "start": data["start"], "end": data["end"], "month": data["month"]}
    if data["view"] == "calendar":
        context |= _calendar(sites, data["month"], today, site)
    else:
        # Overdue notices belong to a range that starts today (or before), not to a look ahead.
        groups = selectors.expected_receipts(
            sites=sites, start=data["start"], end=data["end"], today=today, overdue=data["start"] <= today
        )
        context |= {"groups": groups, "has_receipts": any(group.days or group.overdue for group in groups)}
    return render(request, "purchasing/expected_receipts.html", context)


def _calendar(sites: list[Site], month: dt.date, today: dt.date, site: Site | None) -> dict[str, Any]:
    """A Monday-first month grid with each day's totals over the sites, linking to that day's list."""
    grid = calendar.Calendar(firstweekday=calendar.MONDAY).monthdatescalendar(month.year, month.month)
    first, last = grid[0][0], grid[-1][-1]
    groups = selectors.expected_receipts(sites=sites, start=first, end=last, today=today, overdue=False)
    by_date: dict[dt.date, list[selectors.ExpectedDay]] = defaultdict(list)
    for group in groups:
        for day, expected in group.days.items():
            by_date[day].append(expected)
    site_query = {"site": site.code} if site else {}
    weeks = [[_calendar_day(day, month, today, by_date[day], site_query) for day in week] for week in grid]
    return {
        "weeks": weeks,
        "weekdays": [calendar.day_abbr[(calendar.MONDAY + n) % 7] for n in range(7)],
        "previous_month": _month_link(_shift_month(month, -1), site_query),
        "next_month": _month_link(_shift_month(month, 1), site_query),
        "this_month": _month_link(today, site_query),
    }


def _calendar_day(
    day: dt.date, month: dt.date, today: dt.date, same: list[selectors.ExpectedDay], site_query: dict[str, str]
) -> CalendarDay:
    return CalendarDay(
        day=day,
        in_month=day.month == month.month,
        is_today=day == today,
        notices=sum(len(expected.notices) for expected in same),
        shipped=sum((expected.shipped_quantity for expected in same), Decimal(0)),
        deliveries=sum(len(expected.deliveries) for expected in same),
        due=sum((expected.due_quantity for expected in same), Decimal(0)),
        flagged=sum(expected.flagged for expected in same),
        link="?" + urlencode(site_query | {"start": day.isoformat(), "end": day.isoformat()}),
    )


def _shift_month(month: dt.date, months: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _month_link(month: dt.date, site_query: dict[str, str]) -> str:
    return "?" + urlencode(site_query | {"view": "calendar", "month": month.strftime("%Y-%m")})
