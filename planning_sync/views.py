"""The integration monitor: staff pages for connector health, dead letters and replay."""

from __future__ import annotations

import json
import logging
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from config.http import AuthedRequest
from config.keyset import InvalidCursor, KeysetPage
from planning_sync import delivery, selectors
from planning_sync.envelope import cloudevent
from planning_sync.models import Connector, Delivery

logger = logging.getLogger("supplyline.monitor")
DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


def _datetime_local(label: str) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        required=False,
        input_formats=[DATETIME_LOCAL, "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
    )


class ReplayFilterForm(forms.Form):
    """Which of a connector's dead or delivered deliveries to send again (times are when the event was recorded)."""

    event_type = forms.CharField(
        label="Event type", required=False, max_length=100, help_text="e.g. supplyline.po.acknowledged.v1"
    )
    status = forms.ChoiceField(
        label="Status",
        required=False,
        initial=Delivery.Status.DEAD,
        choices=[(Delivery.Status.DEAD, "Dead letters"), (Delivery.Status.DELIVERED, "Delivered"), ("", "Both")],
    )
    since = _datetime_local("Recorded since")
    until = _datetime_local("Recorded before")
    po_number = forms.CharField(label="PO number", required=False, max_length=60)

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean()
        since, until = self.cleaned_data.get("since"), self.cleaned_data.get("until")
        if since and until and since >= until:
            self.add_error("until", "Choose a time after “Recorded since”.")
        return cleaned


def _require_staff(request: AuthedRequest) -> None:
    """The monitor shows every connector's traffic: staff only, and a 404 for everyone else."""
    if not request.user.is_staff:
        raise Http404


@require_GET
@login_required
def connector_list(request: AuthedRequest) -> HttpResponse:
    _require_staff(request)
    context = {"rows": selectors.connectors_overview(now=timezone.now())}
    return render(request, "planning_sync/connector_list.html", context)


@require_GET
@login_required
def connector_detail(request: AuthedRequest, name: str) -> HttpResponse:
    _require_staff(request)
    connector = get_object_or_404(Connector, name=name)
    if request.htmx:
        context = _dead_letter_context(request, connector)
        return render(request, "planning_sync/connector_detail.html#dead-letters", context)
    return _render_detail(request, connector, ReplayFilterForm())


def _render_detail(
    request: AuthedRequest, connector: Connector, form: ReplayFilterForm, status: int = 200
) -> HttpResponse:
    context = _dead_letter_context(request, connector) | {
        "health": selectors.connector_health(connector, now=timezone.now()),
        "form": form,
        "window_minutes": int(selectors.WINDOW.total_seconds() // 60),
    }
    return render(request, "planning_sync/connector_detail.html", context, status=status)


def _dead_letter_context(request: AuthedRequest, connector: Connector) -> dict[str, object]:
    page = _dead_letter_page(request, connector)
    return {
        "connector": connector,
        "page": page,
        "dead_letters": [(row, json.dumps(cloudevent(row.event), indent=2, default=str)) for row in page.items],
    }


def _dead_letter_page(request: AuthedRequest, connector: Connector) -> KeysetPage[Delivery]:
    try:
        return selectors.dead_letters(connector, after=request.GET.get("after"), before=request.GET.get("before"))
    except InvalidCursor as error:
        messages.warning(request, f"{error} Showing the first page.")
        return selectors.dead_letters(connector)


@require_POST
@login_required
def delivery_replay(request: AuthedRequest, pk: int) -> HttpResponse:
    _require_staff(request)
    target = get_object_or_404(Delivery.objects.select_related("connector", "event"), pk=pk)
    if delivery.replay(Delivery.objects.filter(pk=pk)):
        logger.info("replay requested", extra={"user_id": request.user.pk, "delivery_id": pk, "count": 1})
        messages.success(
            request, f"Queued {target.event.type} for {target.event.subject} to be sent again, with the same event id."
        )
    else:
        messages.warning(
            request,
            f"Nothing was replayed: this delivery is {target.get_status_display().lower()}, "
            "and only dead or delivered deliveries can be sent again.",
        )
    return redirect("monitor:connector-detail", name=target.connector.name)


@require_POST
@login_required
def connector_replay(request: AuthedRequest, name: str) -> HttpResponse:
    _require_staff(request)
    connector = get_object_or_404(Connector, name=name)
    form = ReplayFilterForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, connector, form, status=400)
    count = delivery.replay(delivery.replayable(connector=connector.name, **form.cleaned_data))
    logger.info("replay requested", extra={"user_id": request.user.pk, "connector": connector.name, "count": count})
    if count:
        messages.success(
            request,
            f"Queued {count} {'delivery' if count == 1 else 'deliveries'} to {connector.name} "
            "to be sent again, with their original event ids.",
        )
    else:
        messages.warning(request, f"No dead or delivered deliveries to {connector.name} match; nothing was replayed.")
    return redirect("monitor:connector-detail", name=connector.name)
