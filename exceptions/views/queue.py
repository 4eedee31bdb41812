"""The buyers' exceptions queue: the list with its filters, counts and bulk actions; one case and what a buyer
does with it. Buyers only: anyone else gets 404, as for a page that does not exist.

With htmx, the list's filters and tabs swap the results, a row's claim swaps the row, and the actions on a
case's page swap the case's panel. htmx swaps only 2xx responses, so those partials come back with 200 and
show their errors inline; without JavaScript every form posts and redirects as usual.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.views.decorators.http import require_GET, require_POST

from config.http import AuthedRequest
from config.keyset import InvalidCursor, KeysetPage, paginate_request
from exceptions import actions, selectors, services
from exceptions.filters import ACTIVE, VIEW_LABELS, CaseFilter
from exceptions.forms import (
    AssignForm,
    BulkForm,
    CommentForm,
    ContactForm,
    ResolveForm,
    SnoozeForm,
    apply_service_error,
)
from exceptions.models import ExceptionCase, ResolutionCode
from planning_sync.models import Delivery
from suppliers.models import is_buyer

# The deliveries the engine sends again (``planning_sync.delivery.replay``).
REPLAYABLE = (Delivery.Status.DEAD, Delivery.Status.DELIVERED)
EMPTY = {
    "": "No open cases: nothing needs you right now.",
    "mine": "No open cases are assigned to you.",
    "unassigned": "Every open case has someone on it.",
    "due_soon": "No open case is due in the next 24 hours.",
    "overdue": "No open case is overdue.",
}


def _buyer_only(request: AuthedRequest) -> None:
    if not is_buyer(request.user):
        raise Http404


def _case_or_404(request: AuthedRequest, pk: int) -> ExceptionCase:
    return get_object_or_404(ExceptionCase.objects.visible_to(request.user), pk=pk)


# --- the list ----------------------------------------------------------------------------------------


@require_GET
@login_required
def case_list(request: AuthedRequest) -> HttpResponse:
    _buyer_only(request)
    context = _list_context(request, request.GET)
    template = "exceptions/case_list.html#case-results" if request.htmx else "exceptions/case_list.html"
    return render(request, template, context)


def _list_context(request: AuthedRequest, params: QueryDict) -> dict[str, Any]:
    now = timezone.now()
    user = request.user
    filterset = CaseFilter(params, queryset=selectors.case_queue(user=user), user=user, now=now)
    if filterset.is_valid():
        page = _page(request, filterset, params, now)
        counts = selectors.queue_counts(filterset.without("view"), user=user, now=now)
        breakdown = selectors.queue_breakdown(filterset.without("type", "severity"))
    else:
        page, counts, breakdown = KeysetPage([], None, None), {}, []
    query = _without(params, "after", "before")
    active_view = params.get("view", "") if params.get("view", "") in VIEW_LABELS else ""
    return {
        "filter": filterset,
        "page": page,
        "query": query.urlencode(),
        "view_query": _without(query, "view").urlencode(),
        "facet_query": _without(query, "type", "severity").urlencode(),
        "views": [("", "All", counts.get("all", 0))] + [(k, v, counts.get(k, 0)) for k, v in VIEW_LABELS.items()],
        "active_view": active_view,
        "breakdown": breakdown,
        "severities": ExceptionCase._meta.get_field("severity").choices,
        "empty_message": "No cases match these filters." if _narrowed(query) else EMPTY[active_view],
        "bulk_form": BulkForm(initial={"query": query.urlencode()}, auto_id="bulk_%s"),
    }


def _page(request: AuthedRequest, filterset: CaseFilter, params: QueryDict, now: dt.datetime) -> KeysetPage[Any]:
    if filterset.is_resolved_list:
        return paginate_request(request, filterset.qs, ordering=selectors.RESOLVED_ORDER)
    size = settings.SUPPLYLINE_PAGE_SIZE
    try:
        return selectors.case_queue_page(
            filterset.qs, now=now, page_size=size, after=params.get("after"), before=params.get("before")
        )
    except InvalidCursor as error:
        messages.warning(request, f"{error} Showing the first page.")
        return selectors.case_queue_page(filterset.qs, now=now, page_size=size)


def _narrowed(query: QueryDict) -> bool:
    """Whether filters other than the quick view narrow the list beyond the default (open and in progress)."""
    return any(value and key != "view" and (key, value) != ("status", ACTIVE) for key, value in query.items())


def _without(params: QueryDict, *names: str) -> QueryDict:
    query = params.copy()
    for name in names:
        query.pop(name, None)
    return query


@require_POST
@login_required
def case_bulk(request: AuthedRequest) -> HttpResponse:
    """Assign or resolve the ticked cases, all or none; then the same list again."""
    _buyer_only(request)
    form = BulkForm(request.POST)
    notice = ""
    if form.is_valid():
        try:
            notice = _bulk_apply(request, form.cleaned_data)
        except ValidationError as error:
            apply_service_error(form, error)
    errors = _bulk_errors(form)
    query = request.POST.get("query", "")
    if request.htmx:
        context = _list_context(request, QueryDict(query)) | {"bulk_errors": errors, "bulk_notice": notice}
        return render(request, "exceptions/case_list.html#case-results", context)
    for message in errors:
        messages.error(request, message)
    if notice:
        messages.success(request, notice)
    return redirect(reverse("exceptions:case-list") + (f"?{query}" if query else ""))


def _bulk_errors(form: BulkForm) -> list[str]:
    """Every error of the bulk form, each naming the control it is about (they sit away from the list)."""
    named = {"assignee", "code", "note"}
    return [
        f"{form.fields[field].label}: {message}" if field in named else str(message)
        for field, messages_ in form.errors.items()
        for message in messages_
    ]


def _bulk_apply(request: AuthedRequest, data: dict[str, Any]) -> str:
    ids = data["cases"]
    count = f"{len(ids)} case{'s' if len(ids) != 1 else ''}"
    if data["action"] == "assign":
        to = data["assignee"]
        services.cases_bulk_assign(case_ids=ids, to=to, by=request.user)
        return f"Assigned {count} to {selectors.person_name(to)}." if to else f"Unassigned {count}."
    services.cases_bulk_resolve(case_ids=ids, code=data["code"], by=request.user, note=data["note"])
    return f"Resolved {count}: {ResolutionCode(data['code']).label}."


# --- one case --------------------------------------------------------------------------------------------


@require_GET
@login_required
def case_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    _buyer_only(request)
    return render(request, "exceptions/case_detail.html", _detail_context(request, pk))


def _detail_context(request: AuthedRequest, pk: int, bound: forms.Form | None = None) -> dict[str, Any]:
    case = selectors.case_get(user=request.user, pk=pk)
    unbound = {
        "assign": AssignForm(prefix="assign", initial={"assignee": case.assignee_id}),
        "comment": CommentForm(prefix="comment"),
        "snooze": SnoozeForm(prefix="snooze"),
        "resolve": ResolveForm(prefix="resolve"),
        "contact": ContactForm(prefix="contact"),
    }
    if bound is not None:
        unbound[bound.prefix or ""] = bound
    return {
        "case": case,
        "history": selectors.case_history(case),
        "proposal": selectors.case_pending_proposal(case),
        "contacts": selectors.supplier_contacts(case),
        "forms": unbound,
        "replayable": _replayable(case),
    }


def _replayable(case: ExceptionCase) -> int:
    """How many of the case's deliveries the replay button would send (one query, none without any)."""
    ids = actions.case_deliveries(case)
    if not ids:
        return 0
    statuses = REPLAYABLE if len(ids) == 1 else (Delivery.Status.DEAD,)
    return Delivery.objects.filter(pk__in=ids, status__in=statuses).count()


def _after_action(
    request: AuthedRequest, pk: int, *, done: str = "", error: str = "", bound: forms.Form | None = None
) -> HttpResponse:
    """The case's panel again (htmx), or back to the case's page with a message; a form with errors shows again."""
    if bound is not None:
        # Errors that name no field (the case was resolved meanwhile) go above the panel, where they show
        # whichever forms the case's state leaves on the page.
        error = error or " ".join(str(message) for message in bound.non_field_errors())
    if request.htmx:
        context = _detail_context(request, pk, bound) | {"notice": done, "error": error}
        return render(request, "exceptions/case_detail.html#case-panel", context)
    if bound is not None and bound.errors:
        context = _detail_context(request, pk, bound) | {"error": error}
        return render(request, "exceptions/case_detail.html", context, status=400)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, done)
    return redirect("exceptions:case-detail", pk=pk)


def _act(request: AuthedRequest, pk: int, form: forms.Form, act: Callable[[dict[str, Any]], str]) -> HttpResponse:
    """Validate the form, call the service through ``act`` (which says what it did), and answer."""
    _case_or_404(request, pk)
    if form.is_valid():
        try:
            done = act(form.cleaned_data)
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            return _after_action(request, pk, done=done)
    return _after_action(request, pk, bound=form)


@require_POST
@login_required
def case_claim(request: AuthedRequest, pk: int) -> HttpResponse:
    _case_or_404(request, pk)
    error = ""
    try:
        services.case_claim(case_id=pk, by=request.user, seen_assignee_id=_seen_assignee(request))
    except ValidationError as exc:
        error = " ".join(exc.messages)
    if "query" not in request.POST:  # claimed on the case's own page
        return _after_action(request, pk, done=f"Case #{pk} is yours now.", error=error)
    # Claimed from a row of the list, which the form names with the list's filters.
    query = request.POST["query"]
    if request.htmx:
        case = selectors.case_queue(user=request.user).get(pk=pk)
        return render(request, "exceptions/case_list.html#case-row", {"case": case, "query": query, "row_error": error})
    messages.add_message(request, messages.ERROR if error else messages.SUCCESS, error or f"Case #{pk} is yours now.")
    return redirect(reverse("exceptions:case-list") + (f"?{query}" if query else ""))


def _seen_assignee(request: AuthedRequest) -> int | object | None:
    """Who had the case on the page the buyer clicked Claim on ("" for nobody); ANY if the form did not say."""
    seen = request.POST.get("seen_assignee")
    if seen is None or (seen and not (seen.isascii() and seen.isdigit())):
        return services.ANY
    return int(seen) if seen else None


@require_POST
@login_required
def case_assign(request: AuthedRequest, pk: int) -> HttpResponse:
    def act(data: dict[str, Any]) -> str:
        to = data["assignee"]
        services.case_assign(case_id=pk, to=to, by=request.user, note=data["note"])
        return f"Assigned to {selectors.person_name(to)}." if to else "Nobody is assigned now."

    return _act(request, pk, AssignForm(request.POST, prefix="assign"), act)


@require_POST
@login_required
def case_comment(request: AuthedRequest, pk: int) -> HttpResponse:
    def act(data: dict[str, Any]) -> str:
        services.case_comment(case_id=pk, by=request.user, note=data["note"])
        return "Comment added."

    return _act(request, pk, CommentForm(request.POST, prefix="comment"), act)


@require_POST
@login_required
def case_snooze(request: AuthedRequest, pk: int) -> HttpResponse:
    form = SnoozeForm(request.POST, prefix="snooze")

    def act(data: dict[str, Any]) -> str:
        services.case_snooze(case_id=pk, until=form.until_time(), by=request.user, note=data["note"])
        return f"Snoozed until {date_format(data['until'], 'M j, Y')}: the case comes back to the queue then."

    return _act(request, pk, form, act)


@require_POST
@login_required
def case_resolve(request: AuthedRequest, pk: int) -> HttpResponse:
    def act(data: dict[str, Any]) -> str:
        case = services.case_resolve(case_id=pk, code=data["code"], by=request.user, note=data["note"])
        return f"Resolved: {case.get_resolution_code_display()}."

    return _act(request, pk, ResolveForm(request.POST, prefix="resolve"), act)


@require_POST
@login_required
def case_replay(request: AuthedRequest, pk: int) -> HttpResponse:
    _case_or_404(request, pk)
    try:
        sent = actions.case_delivery_replay(case_id=pk, by=request.user)
    except ValidationError as error:
        return _after_action(request, pk, error=" ".join(error.messages))
    what = "1 delivery" if sent == 1 else f"{sent} deliveries"
    return _after_action(request, pk, done=f"Queued {what} to be sent again, each with the same event id.")


@require_POST
@login_required
def case_contact(request: AuthedRequest, pk: int) -> HttpResponse:
    def act(data: dict[str, Any]) -> str:
        to = actions.case_supplier_contact(case_id=pk, by=request.user, message=data["message"])
        return f"Message sent to {', '.join(user.email for user in to)}."

    return _act(request, pk, ContactForm(request.POST, prefix="contact"), act)
