"""The buyers' exceptions queue: the list, its filters, counts and pages, bulk actions, and one case's page."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from config.celery import app as celery_app
from exceptions.models import CaseActivity, CaseStatus, CaseType, ExceptionCase, ResolutionCode, Severity
from planning_sync.models import Connector, Delivery, Subscription
from planning_sync.outbox import record_event
from purchasing import services as purchasing_services
from purchasing.models import AcknowledgementLine, Channel
from purchasing.services import LineDecision
from suppliers.models import SupplierMembership
from tests.factories import (
    BuyerFactory,
    ExceptionCaseFactory,
    PurchaseOrderFactory,
    SiteFactory,
    SupplierFactory,
    SupplierMembershipFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

LIST = reverse("exceptions:case-list")
HTMX = {"HX-Request": "true"}


def _in(hours: float) -> dt.datetime:
    return timezone.now() + dt.timedelta(hours=hours)


def case(po, **fields) -> ExceptionCase:
    """A case about ``po`` (ACME's, by default assigned to nobody), due in a day unless told otherwise."""
    fields.setdefault("assignee", None)
    fields.setdefault("due_at", _in(24))
    return ExceptionCaseFactory.create(po=po, **fields)


def listed(response) -> list[int]:
    return [c.pk for c in response.context["page"].items]


@pytest.fixture
def lee(db):
    return BuyerFactory.create(email="lee@example.com", first_name="Lee", last_name="Buyer")


@pytest.fixture
def eager_mail(monkeypatch):
    """Run the send-mail task in-process when its on-commit callback fires, so mail.outbox shows the result."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)


@pytest.fixture
def queue(po, buyer, lee):
    """Five unresolved cases and a resolved one, in the queue's order: overdue first, then by severity and due time."""
    return {
        "overdue_critical": case(po, severity=Severity.CRITICAL, due_at=_in(-1), assignee=buyer),
        "overdue_low": case(po, severity=Severity.LOW, due_at=_in(-30), type=CaseType.ASN_LATE),
        "critical_soon": case(po, severity=Severity.CRITICAL, due_at=_in(5), assignee=lee),
        "medium_soon": case(po, severity=Severity.MEDIUM, due_at=_in(2), type=CaseType.QUANTITY_SHORT),
        "medium_later": case(po, severity=Severity.MEDIUM, due_at=_in(72), assignee=buyer),
        "resolved": case(
            po, status=CaseStatus.RESOLVED, resolved_at=timezone.now(), resolution_code=ResolutionCode.ACCEPTED
        ),
    }


def pks(queue, *names) -> list[int]:
    return [queue[name].pk for name in names]


# --- who may see it --------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client, queue):
    pk = queue["overdue_low"].pk
    for url in (LIST, reverse("exceptions:case-detail", args=[pk])):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
    response = client.post(reverse("exceptions:case-claim", args=[pk]))
    assert response.status_code == 302
    assert ExceptionCase.objects.get(pk=pk).assignee is None


@pytest.mark.parametrize(
    "route",
    [
        "case-detail",
        "case-claim",
        "case-assign",
        "case-comment",
        "case-snooze",
        "case-resolve",
        "case-replay",
        "case-contact",
    ],
)
def test_supplier_users_get_404_on_every_case_route(route, queue, alice_client, bob_client):
    url = reverse(f"exceptions:{route}", args=[queue["overdue_low"].pk])
    for client in (alice_client, bob_client):
        response = client.get(url) if route == "case-detail" else client.post(url, {"comment-note": "hi"})
        assert response.status_code == 404
    assert not CaseActivity.objects.filter(case=queue["overdue_low"]).exclude(kind="opened").exists()


def test_supplier_users_get_404_on_the_list_and_bulk(queue, alice_client):
    assert alice_client.get(LIST).status_code == 404
    response = alice_client.post(
        reverse("exceptions:case-bulk"), {"cases": [queue["overdue_low"].pk], "action": "resolve", "code": "accepted"}
    )
    assert response.status_code == 404
    assert not ExceptionCase.objects.get(pk=queue["overdue_low"].pk).is_resolved


def test_an_unknown_case_is_404_for_a_buyer(buyer_client):
    assert buyer_client.get(reverse("exceptions:case-detail", args=[999999])).status_code == 404
    assert buyer_client.post(reverse("exceptions:case-claim", args=[999999])).status_code == 404


def test_the_navigation_shows_the_queue_and_kpis_to_buyers_only(buyer_client, alice_client):
    page = buyer_client.get(reverse("suppliers:buyer-home")).content.decode()
    assert f'href="{LIST}"' in page
    assert f'href="{reverse("exceptions:kpis")}"' in page
    page = alice_client.get(reverse("suppliers:supplier-home")).content.decode()
    assert LIST not in page
    assert reverse("exceptions:kpis") not in page


# --- the list --------------------------------------------------------------------------------------


def test_overdue_cases_come_first_then_by_severity_and_due_time(buyer_client, queue):
    response = buyer_client.get(LIST)
    assert response.status_code == 200
    assert listed(response) == pks(
        queue, "overdue_critical", "overdue_low", "critical_soon", "medium_soon", "medium_later"
    )


@pytest.mark.parametrize(
    ("view", "expected"),
    [
        ("mine", ["overdue_critical", "medium_later"]),
        ("unassigned", ["overdue_low", "medium_soon"]),
        ("due_soon", ["critical_soon", "medium_soon"]),
        ("overdue", ["overdue_critical", "overdue_low"]),
    ],
)
def test_each_quick_view_narrows_the_queue(buyer_client, queue, view, expected):
    response = buyer_client.get(LIST, {"view": view})
    assert listed(response) == pks(queue, *expected)
    assert response.context["active_view"] == view


def test_the_quick_views_are_counted(buyer_client, queue):
    response = buyer_client.get(LIST, {"view": "mine"})
    counts = {key: count for key, _, count in response.context["views"]}
    assert counts == {"": 5, "mine": 2, "unassigned": 2, "due_soon": 2, "overdue": 2}
    assert 'aria-current="page">Mine <span class="count">2</span>' in response.content.decode()


def test_counts_by_type_and_severity(buyer_client, queue):
    breakdown = {row.type: dict(row.by_severity) for row in buyer_client.get(LIST).context["breakdown"]}
    assert breakdown == {
        CaseType.ACK_OVERDUE: {1: 2, 2: 0, 3: 1, 4: 0},
        CaseType.QUANTITY_SHORT: {1: 0, 2: 0, 3: 1, 4: 0},
        CaseType.ASN_LATE: {1: 0, 2: 0, 3: 0, 4: 1},
    }


def test_filters_by_type_severity_site_supplier_and_assignee(buyer_client, buyer, lee, queue, po):
    bolt_po = PurchaseOrderFactory.create(supplier=SupplierFactory.create(code="BOLT"), site=SiteFactory(code="WH-W"))
    bolt_case = case(bolt_po, severity=Severity.HIGH)
    assert listed(buyer_client.get(LIST, {"type": CaseType.ASN_LATE})) == pks(queue, "overdue_low")
    assert listed(buyer_client.get(LIST, {"severity": Severity.HIGH})) == [bolt_case.pk]
    assert listed(buyer_client.get(LIST, {"site": "WH-W"})) == [bolt_case.pk]
    assert listed(buyer_client.get(LIST, {"supplier": "BOLT"})) == [bolt_case.pk]
    assert listed(buyer_client.get(LIST, {"supplier": po.supplier.code, "assignee": lee.pk})) == pks(
        queue, "critical_soon"
    )


def test_the_status_filter_shows_resolved_or_snoozed_cases(buyer_client, queue):
    ExceptionCase.objects.filter(pk=queue["medium_later"].pk).update(status=CaseStatus.SNOOZED, snoozed_until=_in(48))
    assert listed(buyer_client.get(LIST, {"status": "resolved"})) == pks(queue, "resolved")
    assert listed(buyer_client.get(LIST, {"status": "snoozed"})) == pks(queue, "medium_later")
    # Snoozed cases are out of the default list (the work to do now) but in the unresolved one.
    assert queue["medium_later"].pk not in listed(buyer_client.get(LIST))
    assert queue["medium_later"].pk in listed(buyer_client.get(LIST, {"status": "unresolved"}))


def test_a_filter_value_that_does_not_exist_is_named_and_lists_nothing(buyer_client, queue):
    response = buyer_client.get(LIST, {"supplier": "NOPE"})
    assert response.status_code == 200
    assert listed(response) == []
    assert "Select a valid choice" in response.content.decode()


def test_every_row_shows_its_sla_timer_and_links(buyer_client, queue, po):
    page = buyer_client.get(LIST).content.decode()
    assert "Overdue by 1 d 6 h" in page or "Overdue by 1 d 5 h" in page  # overdue_low, 30 hours late
    assert "4 h 59 min left" in page or "5 h 0 min left" in page  # critical_soon
    assert f'href="{reverse("purchasing:po-detail", args=[po.number])}"' in page
    assert f'href="{reverse("exceptions:case-detail", args=[queue["medium_soon"].pk])}"' in page


def test_a_row_links_to_its_line_shipment_and_delivery(buyer_client, po, dead_delivery, shipment):
    line = po.lines.get(line_number=20)
    case(po, po_line=line, shipment=shipment, delivery=dead_delivery)
    page = buyer_client.get(LIST).content.decode()
    assert f"{reverse('purchasing:po-detail', args=[po.number])}#line-20" in page
    assert reverse("purchasing:shipment-detail", args=[shipment.pk]) in page
    assert reverse("monitor:connector-detail", args=["erp"]) in page


def test_an_empty_queue_says_so(buyer_client):
    response = buyer_client.get(LIST)
    assert "No open cases: nothing needs you right now." in response.content.decode()
    response = buyer_client.get(LIST, {"view": "overdue"})
    assert "No open case is overdue." in response.content.decode()
    response = buyer_client.get(LIST, {"type": CaseType.SUPPLY_RISK})
    assert "No cases match these filters." in response.content.decode()


def test_htmx_gets_the_results_partial(buyer_client, queue):
    response = buyer_client.get(LIST, {"view": "overdue"}, headers=HTMX)
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="case-results">')
    assert "<html" not in body
    assert f"#{queue['overdue_low'].pk} " in body


# --- pages -----------------------------------------------------------------------------------------


def _walk(client, params, cursor_key, start=None):
    pages, cursor = [], start
    while True:
        response = client.get(LIST, {**params, **({cursor_key: cursor} if cursor else {})})
        page = response.context["page"]
        pages.append([c.pk for c in page.items])
        cursor = page.next_cursor if cursor_key == "after" else page.previous_cursor
        if not cursor:
            return pages, page


def test_pages_walk_the_whole_queue_forward_and_back(buyer_client, queue, settings):
    settings.SUPPLYLINE_PAGE_SIZE = 2
    order = pks(queue, "overdue_critical", "overdue_low", "critical_soon", "medium_soon", "medium_later")
    forward, last = _walk(buyer_client, {}, "after")
    assert forward == [order[0:2], order[2:4], order[4:5]]
    backward, first = _walk(buyer_client, {}, "before", start=last.previous_cursor)
    assert backward == [order[2:4], order[0:2]]
    assert first.previous_cursor is None


def test_a_page_can_end_exactly_where_the_overdue_cases_end(buyer_client, queue, settings):
    settings.SUPPLYLINE_PAGE_SIZE = 1
    forward, _ = _walk(buyer_client, {"view": "overdue"}, "after")
    assert forward == [[queue["overdue_critical"].pk], [queue["overdue_low"].pk]]


def test_resolved_cases_page_newest_resolved_first(buyer_client, po, settings):
    settings.SUPPLYLINE_PAGE_SIZE = 2
    now = timezone.now()
    done = [
        case(po, status=CaseStatus.RESOLVED, resolved_at=now - dt.timedelta(hours=h), resolution_code="accepted")
        for h in range(5)
    ]
    forward, _ = _walk(buyer_client, {"status": "resolved"}, "after")
    assert forward == [[done[0].pk, done[1].pk], [done[2].pk, done[3].pk], [done[4].pk]]


def test_a_bad_page_link_shows_the_first_page_with_a_warning(buyer_client, queue):
    response = buyer_client.get(LIST, {"after": "not-a-cursor"}, follow=True)
    assert listed(response)[0] == queue["overdue_critical"].pk
    assert "That page link is not valid. Showing the first page." in response.content.decode()


def _queries(client, params=None) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(LIST, params or {}).status_code == 200
    return len(queries)


def _varied_cases(po, shipment, delivery, n: int, buyers) -> None:
    """``n`` cases about everything a row links to, assigned round the buyers: two overdue, the rest not yet due."""
    line = po.lines.get(line_number=10)
    for i in range(n):
        case(
            po,
            po_line=line,
            shipment=shipment,
            delivery=delivery,
            assignee=buyers[i % len(buyers)],
            severity=1 + i % 4,
            due_at=_in(-1 - i if i < 2 else i),
        )


def test_the_list_costs_the_same_queries_with_60_cases_as_with_3(
    buyer_client, po, shipment, dead_delivery, buyer, lee, settings
):
    settings.SUPPLYLINE_PAGE_SIZE = 25
    _varied_cases(po, shipment, dead_delivery, 3, [buyer, lee])
    few = _queries(buyer_client)
    _varied_cases(po, shipment, dead_delivery, 57, [buyer, lee, BuyerFactory.create()])
    many = _queries(buyer_client)
    assert many == few
    assert _queries(buyer_client, {"view": "mine", "supplier": po.supplier.code}) == few + 1  # the supplier looked up


def test_the_queue_with_200000_cases_pages_with_the_same_queries_as_with_20(buyer_client, po, buyer, settings):
    settings.SUPPLYLINE_PAGE_SIZE = 25
    _bulk_insert_cases(po, buyer, 20)
    few = _queries(buyer_client)
    _bulk_insert_cases(po, buyer, 199_980)
    many = _queries(buyer_client)
    assert many == few
    response = buyer_client.get(LIST)
    assert len(listed(response)) == 25
    assert response.context["views"][0][2] == 200_000
    assert _queries(buyer_client, {"after": response.context["page"].next_cursor}) == few


def _bulk_insert_cases(po, assignee, n: int) -> None:
    """Many cases at once, in SQL (factories would take minutes): severities and types mixed, a third assigned,
    one in 20,000 overdue (so that 20 cases and 200,000 both fill the first page from both parts of the queue)."""
    types = list(CaseType.values)
    start = ExceptionCase.objects.count()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO exceptions_exceptioncase (type, severity, status, dedupe_key, title, summary, due_at,
                resolution_code, resolution_note, details, opened_at, updated_at, po_id, supplier_id, site_id,
                assignee_id)
            SELECT (%(types)s::text[])[1 + g %% %(type_count)s], 1 + g %% 4, 'open', 'bulk:' || g, 'Case ' || g, '',
                now() + (CASE WHEN g %% 20000 = 0 THEN -1 ELSE 1 END) * (1 + g %% 500) * interval '1 hour',
                '', '', '{}', now(), now(), %(po)s, %(supplier)s, %(site)s,
                CASE WHEN g %% 3 = 0 THEN %(assignee)s END
            FROM generate_series(%(first)s, %(last)s) g
            """,
            {
                "types": types,
                "type_count": len(types),
                "po": po.pk,
                "supplier": po.supplier_id,
                "site": po.site_id,
                "assignee": assignee.pk,
                "first": start + 1,
                "last": start + n,
            },
        )
        cursor.execute("ANALYZE exceptions_exceptioncase")


# --- claiming from a row ---------------------------------------------------------------------------


def test_claiming_from_a_row_swaps_the_row(buyer_client, buyer, queue):
    target = queue["overdue_low"]
    response = buyer_client.post(
        reverse("exceptions:case-claim", args=[target.pk]), {"query": "view=overdue"}, headers=HTMX
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith(f'<tr id="case-{target.pk}">')
    assert ">You<" in body
    assert "Claim" not in body
    target.refresh_from_db()
    assert (target.assignee, target.status) == (buyer, CaseStatus.IN_PROGRESS)
    assert target.activities.filter(kind="claimed", actor=buyer).exists()


def test_a_claim_does_not_take_a_case_someone_claimed_meanwhile(buyer_client, buyer, lee, queue):
    target = queue["overdue_low"]  # the list showed it unassigned...
    ExceptionCase.objects.filter(pk=target.pk).update(assignee=lee)  # ...then Lee claimed it
    response = buyer_client.post(
        reverse("exceptions:case-claim", args=[target.pk]), {"query": "", "seen_assignee": ""}, headers=HTMX
    )
    assert "was given to" in response.content.decode()
    target.refresh_from_db()
    assert target.assignee == lee
    assert not target.activities.filter(kind="claimed").exists()


def test_claiming_a_snoozed_case_wakes_it(buyer_client, buyer, queue):
    target = queue["medium_later"]
    ExceptionCase.objects.filter(pk=target.pk).update(status=CaseStatus.SNOOZED, snoozed_until=_in(48))
    buyer_client.post(reverse("exceptions:case-claim", args=[target.pk]), {"seen_assignee": ""})
    target.refresh_from_db()
    assert (target.assignee, target.status, target.snoozed_until) == (buyer, CaseStatus.IN_PROGRESS, None)


def test_claiming_a_resolved_case_from_a_row_says_why_not(buyer_client, queue):
    target = queue["resolved"]
    response = buyer_client.post(reverse("exceptions:case-claim", args=[target.pk]), {"query": ""}, headers=HTMX)
    assert f"Case #{target.pk} is already resolved." in response.content.decode()
    target.refresh_from_db()
    assert target.assignee is None


def test_claiming_without_javascript_goes_back_to_the_same_list(buyer_client, buyer, queue):
    target = queue["medium_soon"]
    response = buyer_client.post(reverse("exceptions:case-claim", args=[target.pk]), {"query": "view=due_soon"})
    assert response.status_code == 302
    assert response["Location"] == f"{LIST}?view=due_soon"
    assert ExceptionCase.objects.get(pk=target.pk).assignee == buyer


# --- bulk ------------------------------------------------------------------------------------------

BULK = reverse("exceptions:case-bulk")


def test_bulk_assign_gives_every_selected_case_to_the_buyer(
    buyer_client, lee, queue, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)  # the mail task runs in-process
    chosen = pks(queue, "overdue_low", "medium_soon")
    with django_capture_on_commit_callbacks(execute=True):
        response = buyer_client.post(
            BULK, {"cases": chosen, "action": "assign", "assignee": lee.pk, "query": "view=unassigned"}
        )
    assert response.status_code == 302
    assert response["Location"] == f"{LIST}?view=unassigned"
    assert set(ExceptionCase.objects.filter(pk__in=chosen).values_list("assignee", flat=True)) == {lee.pk}
    [message] = mail.outbox  # one mail for the lot, not one per case
    assert message.to == [lee.email]
    assert message.subject.endswith("2 cases assigned to you")
    assert all(f"#{pk} " in message.body for pk in chosen)


def test_bulk_resolve_with_htmx_shows_the_same_list_again(buyer_client, buyer, queue):
    chosen = pks(queue, "overdue_low", "medium_soon")
    response = buyer_client.post(
        BULK, {"cases": chosen, "action": "resolve", "code": "expedited", "query": "view=unassigned"}, headers=HTMX
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="case-results">')
    assert "Resolved 2 cases: Expedited." in body
    assert "Every open case has someone on it." in body  # the unassigned view again, now empty
    resolved = ExceptionCase.objects.filter(pk__in=chosen)
    assert {(c.status, c.resolution_code, c.resolved_by_id) for c in resolved} == {("resolved", "expedited", buyer.pk)}


def test_bulk_resolve_is_all_or_none(buyer_client, queue):
    chosen = pks(queue, "overdue_low", "resolved", "medium_soon")
    response = buyer_client.post(BULK, {"cases": chosen, "action": "resolve", "code": "expedited"}, headers=HTMX)
    body = response.content.decode()
    assert "Nothing was changed" in body
    assert f"Case #{queue['resolved'].pk} is already resolved." in body
    assert not ExceptionCase.objects.filter(pk__in=pks(queue, "overdue_low", "medium_soon"), status="resolved").exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"action": "resolve", "code": "expedited", "cases": []}, "Select at least one case."),
        ({"action": "resolve", "cases": ["x"]}, "Select cases from the list."),
        ({"action": "resolve"}, "Choose a resolution for the selected cases."),
        ({"action": "resolve", "code": "not_an_issue"}, "Write a note."),
        ({"action": "resolve", "code": "cleared"}, "Select a valid choice."),
        ({"action": "assign", "assignee": "alice"}, "Select a valid choice."),
    ],
)
def test_bulk_errors_are_shown_and_change_nothing(buyer_client, queue, supplier_user, data, message):
    data = {"cases": pks(queue, "overdue_low")} | data
    if data.get("assignee") == "alice":
        data["assignee"] = supplier_user.pk  # not a buyer
    response = buyer_client.post(BULK, data, follow=True)
    assert message in response.content.decode()
    fresh = ExceptionCase.objects.get(pk=queue["overdue_low"].pk)
    assert (fresh.status, fresh.assignee_id) == (CaseStatus.OPEN, None)


# --- one case --------------------------------------------------------------------------------------


def detail(pk) -> str:
    return reverse("exceptions:case-detail", args=[pk])


def test_the_case_page_shows_its_facts_details_and_history(buyer_client, buyer, lee, po):
    target = case(
        po,
        title="PO-100001 line 20: 40 short",
        summary="The supplier confirmed 20 of 60.",
        details={
            "ordered": "60",
            "confirmed": "20",
            "deliveries": [{"quantity": "20", "date": "2026-12-01"}, {"quantity": "0", "date": "2026-12-08"}],
            "tolerance": {"quantity_pct": 5},
            "flags": ["late", "short"],
        },
    )
    CaseActivity.objects.create(case=target, kind="opened", note="Raised by its rule.")
    CaseActivity.objects.create(case=target, kind="assigned", actor=buyer, data={"assignee": lee.pk})
    CaseActivity.objects.create(case=target, kind="commented", actor=lee, note="Calling them.")
    page = buyer_client.get(detail(target.pk)).content.decode()
    assert f"Case #{target.pk}: PO-100001 line 20: 40 short" in page
    assert "The supplier confirmed 20 of 60." in page
    assert "Acknowledgement overdue" in page
    assert "Medium" in page
    assert '<th scope="col">Quantity</th>' in page  # a list of records is a table
    assert '<th scope="col">Date</th>' in page
    assert "<td>2026-12-08</td>" in page
    assert "<dt>Quantity pct</dt><dd>5</dd>" in page
    assert "late, short" in page
    assert "Assigned to Lee Buyer" in page
    assert "Calling them." in page
    assert "Supplyline" in page  # the rule opened it, nobody in person


def test_the_case_page_costs_the_same_queries_with_a_long_history(buyer_client, buyer, lee, po, dead_delivery):
    target = case(po, po_line=po.lines.get(line_number=10), delivery=dead_delivery, assignee=lee)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert buyer_client.get(detail(target.pk)).status_code == 200
        return len(queries)

    CaseActivity.objects.create(case=target, kind="assigned", actor=buyer, data={"assignee": lee.pk})
    few = count()
    for n in range(30):
        CaseActivity.objects.create(case=target, kind="commented", actor=[buyer, lee][n % 2], note=f"note {n}")
        CaseActivity.objects.create(
            case=target, kind="assigned", actor=buyer, data={"assignee": [buyer, lee][n % 2].pk}
        )
    assert count() == few


def test_claiming_on_the_case_page(buyer_client, buyer, queue):
    target = queue["overdue_low"]
    response = buyer_client.post(reverse("exceptions:case-claim", args=[target.pk]))
    assert response.status_code == 302
    assert response["Location"] == detail(target.pk)
    assert ExceptionCase.objects.get(pk=target.pk).assignee == buyer
    page = buyer_client.get(detail(target.pk)).content.decode()
    assert f"Case #{target.pk} is yours now." in page
    assert "Claim this case" not in page


def test_htmx_actions_swap_the_case_panel(buyer_client, queue):
    target = queue["overdue_low"]
    response = buyer_client.post(reverse("exceptions:case-claim", args=[target.pk]), headers=HTMX)
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="case-panel">')
    assert f"Case #{target.pk} is yours now." in body


def test_assigning_to_another_buyer_tells_them(
    buyer_client, lee, queue, eager_mail, django_capture_on_commit_callbacks
):
    target = queue["overdue_low"]
    with django_capture_on_commit_callbacks(execute=True):
        response = buyer_client.post(
            reverse("exceptions:case-assign", args=[target.pk]), {"assign-assignee": lee.pk, "assign-note": "Yours"}
        )
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.assignee == lee
    [message] = mail.outbox
    assert message.to == [lee.email]
    assert target.activities.get(kind="assigned").note == "Yours"


def test_a_case_goes_to_buyers_only(buyer_client, queue, supplier_user):
    target = queue["overdue_low"]
    response = buyer_client.post(
        reverse("exceptions:case-assign", args=[target.pk]), {"assign-assignee": supplier_user.pk}
    )
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert ExceptionCase.objects.get(pk=target.pk).assignee is None


def test_comments_join_the_history(buyer_client, buyer, queue):
    target = queue["overdue_low"]
    url = reverse("exceptions:case-comment", args=[target.pk])
    response = buyer_client.post(url, {"comment-note": "  "})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not target.activities.filter(kind="commented").exists()
    response = buyer_client.post(url, {"comment-note": "Asked ACME for a date."}, headers=HTMX)
    assert "Asked ACME for a date." in response.content.decode()
    assert target.activities.get(kind="commented").actor == buyer


@pytest.mark.parametrize(
    ("days", "message"),
    [(0, "Choose a date after today."), (-3, "Choose a date after today."), (91, "Snooze for 90 days at most.")],
)
def test_snoozing_needs_a_date_within_90_days(buyer_client, queue, days, message):
    target = queue["overdue_low"]
    until = timezone.localdate() + dt.timedelta(days=days)
    response = buyer_client.post(
        reverse("exceptions:case-snooze", args=[target.pk]), {"snooze-until": until.isoformat()}
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert ExceptionCase.objects.get(pk=target.pk).status == CaseStatus.OPEN


def test_a_snoozed_case_comes_back_at_the_start_of_the_day(buyer_client, queue):
    target = queue["overdue_low"]
    until = timezone.localdate() + dt.timedelta(days=3)
    response = buyer_client.post(
        reverse("exceptions:case-snooze", args=[target.pk]),
        {"snooze-until": until.isoformat(), "snooze-note": "Holiday"},
    )
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.status == CaseStatus.SNOOZED
    assert timezone.localtime(target.snoozed_until) == timezone.make_aware(dt.datetime.combine(until, dt.time.min))
    assert target.activities.get(kind="snoozed").note == "Holiday"


def test_resolving_needs_a_code(buyer_client, buyer, queue):
    target = queue["overdue_low"]
    url = reverse("exceptions:case-resolve", args=[target.pk])
    response = buyer_client.post(url, {"resolve-code": ""})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    response = buyer_client.post(url, {"resolve-code": "not_an_issue"})
    assert response.status_code == 400
    assert "Write a note." in response.content.decode()  # the service's rule, on its field
    assert ExceptionCase.objects.get(pk=target.pk).status == CaseStatus.OPEN
    response = buyer_client.post(url, {"resolve-code": "supplier_fixed", "resolve-note": "New date confirmed"})
    assert response.status_code == 302
    target.refresh_from_db()
    assert (target.status, target.resolution_code, target.resolution_note, target.resolved_by) == (
        CaseStatus.RESOLVED,
        "supplier_fixed",
        "New date confirmed",
        buyer,
    )


def test_a_resolved_case_cannot_be_resolved_again(buyer_client, queue):
    target = queue["resolved"]
    response = buyer_client.post(reverse("exceptions:case-resolve", args=[target.pk]), {"resolve-code": "expedited"})
    assert response.status_code == 400
    assert f"Case #{target.pk} is already resolved." in response.content.decode()
    assert ExceptionCase.objects.get(pk=target.pk).resolution_code == ResolutionCode.ACCEPTED


# --- acting from the case --------------------------------------------------------------------------


@pytest.fixture
def dead_delivery(po) -> Delivery:
    erp = Connector.objects.create(name="erp", kind="webhook", config={"url": "http://127.0.0.1:9/erp"})
    Subscription.objects.create(connector=erp, event_type="supplyline.po.*")
    with transaction.atomic():
        record_event("po.issued", subject=po, data={"number": po.number})
    dead = Delivery.objects.get(connector=erp)
    Delivery.objects.filter(pk=dead.pk).update(status=Delivery.Status.DEAD, attempts=12)
    dead.refresh_from_db()
    return dead


@pytest.fixture
def shipment(shippable_po, supplier_user):
    from purchasing.documents.shapes import PackageInput, ShipmentInput, ShipmentLineInput

    return purchasing_services.shipment_notice_submit(
        supplier=shippable_po.supplier,
        by=supplier_user,
        shipment=ShipmentInput(
            number="ASN-Q-1",
            ship_date=timezone.localdate(),
            packages=(PackageInput(ref="P1", kind="pallet"),),
            lines=(ShipmentLineInput(shippable_po.number, 10, Decimal(5), package_ref="P1"),),
        ),
        channel="web",
    )


def test_replaying_the_cases_dead_delivery(buyer_client, buyer, po, dead_delivery):
    target = case(po, type=CaseType.DELIVERY_DEAD, delivery=dead_delivery)
    page = buyer_client.get(detail(target.pk)).content.decode()
    assert "Replay the delivery" in page
    response = buyer_client.post(reverse("exceptions:case-replay", args=[target.pk]), follow=True)
    assert "Queued 1 delivery to be sent again, each with the same event id." in response.content.decode()
    dead_delivery.refresh_from_db()
    assert (dead_delivery.status, dead_delivery.attempts, dead_delivery.replays) == (Delivery.Status.PENDING, 0, 1)
    action = target.activities.get(kind="action")
    assert action.actor == buyer
    assert action.data == {"action": "replay", "deliveries": [dead_delivery.pk]}


def test_a_connectors_case_replays_every_delivery_still_dead(buyer_client, po, dead_delivery):
    other = Delivery.objects.create(
        event=dead_delivery.event,
        connector=Connector.objects.create(name="planning", kind="webhook", config={"url": "https://p.example"}),
        aggregate_key=dead_delivery.aggregate_key,
        status=Delivery.Status.DEAD,
        next_attempt_at=timezone.now(),
    )
    delivered = Delivery.objects.create(
        event=dead_delivery.event,
        connector=Connector.objects.create(name="other", kind="webhook", config={"url": "https://o.example"}),
        aggregate_key=dead_delivery.aggregate_key,
        status=Delivery.Status.DELIVERED,
        next_attempt_at=timezone.now(),
    )
    listed = [{"id": str(d.pk), "replays": "0"} for d in (dead_delivery, other, delivered)]
    target = case(po, type=CaseType.DELIVERY_DEAD, delivery=dead_delivery, details={"deliveries": listed})
    assert "Replay 2 deliveries" in buyer_client.get(detail(target.pk)).content.decode()

    response = buyer_client.post(reverse("exceptions:case-replay", args=[target.pk]), follow=True)

    assert "Queued 2 deliveries to be sent again" in response.content.decode()
    replays = dict(
        Delivery.objects.filter(pk__in=[d.pk for d in (dead_delivery, other, delivered)]).values_list("pk", "replays")
    )
    assert replays == {dead_delivery.pk: 1, other.pk: 1, delivered.pk: 0}  # a delivered one stays delivered


def test_a_delivery_on_its_way_is_not_replayed(buyer_client, po, dead_delivery):
    Delivery.objects.filter(pk=dead_delivery.pk).update(status=Delivery.Status.PENDING)
    target = case(po, type=CaseType.DELIVERY_DEAD, delivery=dead_delivery)
    response = buyer_client.post(reverse("exceptions:case-replay", args=[target.pk]), headers=HTMX)
    assert "Nothing was replayed: the delivery is pending" in response.content.decode()
    assert not target.activities.filter(kind="action").exists()
    assert Delivery.objects.get(pk=dead_delivery.pk).replays == 0


def test_a_case_without_a_delivery_has_nothing_to_replay(buyer_client, queue):
    target = queue["overdue_low"]
    response = buyer_client.post(reverse("exceptions:case-replay", args=[target.pk]), follow=True)
    assert "This case names no delivery to replay." in response.content.decode()
    assert not target.activities.filter(kind="action").exists()


def test_writing_to_the_supplier_reaches_its_order_desk_and_admins(
    buyer_client, buyer, po, supplier_user, eager_mail, django_capture_on_commit_callbacks
):
    desk = UserFactory.create(email="desk@acme.example")
    SupplierMembershipFactory.create(user=desk, supplier=po.supplier, role=SupplierMembership.Role.ORDER_DESK)
    shipping = UserFactory.create(email="dock@acme.example")
    SupplierMembershipFactory.create(user=shipping, supplier=po.supplier, role=SupplierMembership.Role.SHIPPING)
    target = case(po, title="Internal: demand at risk for customer X")
    page = buyer_client.get(detail(target.pk)).content.decode()
    assert "alice@example.com, desk@acme.example" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = buyer_client.post(
            reverse("exceptions:case-contact", args=[target.pk]), {"contact-message": "Can you ship line 10 earlier?"}
        )
    assert response.status_code == 302
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.com", "desk@acme.example"]
    message = mail.outbox[0]
    assert "Can you ship line 10 earlier?" in message.body
    assert po.number in message.subject
    assert "demand at risk" not in message.body + message.subject  # the case's own findings stay in-house
    action = target.activities.get(kind="action")
    assert action.note == "Can you ship line 10 earlier?"
    assert action.data == {"action": "contact", "to": ["alice@example.com", "desk@acme.example"]}


def test_an_empty_message_is_not_sent(buyer_client, po, supplier_user, django_capture_on_commit_callbacks):
    target = case(po)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = buyer_client.post(reverse("exceptions:case-contact", args=[target.pk]), {"contact-message": "   "})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert callbacks == []
    assert not target.activities.filter(kind="action").exists()


def test_a_supplier_with_nobody_to_write_to_is_named(buyer_client, po, django_capture_on_commit_callbacks):
    target = case(po)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = buyer_client.post(reverse("exceptions:case-contact", args=[target.pk]), {"contact-message": "Hello"})
    assert response.status_code == 400
    assert f"{po.supplier.name} has no active admin or order-desk user to write to." in response.content.decode()
    assert callbacks == []


def test_the_case_offers_the_lines_pending_proposal(buyer_client, buyer, po, supplier_user, reason):
    purchasing_services.acknowledgement_submit(
        po=po,
        by=supplier_user,
        decisions=[LineDecision(10, "reject", reason_code="OUT_OF_STOCK"), LineDecision(20, "accept")],
        channel=Channel.WEB,
        expected_version=po.version,
    )
    proposal = AcknowledgementLine.objects.get(line__line_number=10, outcome="pending")
    target = case(po, type=CaseType.PROPOSAL_OVERDUE, po_line=proposal.line)
    page = buyer_client.get(detail(target.pk)).content.decode()
    assert "Rejected: Out of stock" in page
    assert reverse("purchasing:proposal-decide", args=[proposal.pk]) in page
    assert f'name="next" value="{detail(target.pk)}"' in page
    response = buyer_client.post(
        reverse("purchasing:proposal-decide", args=[proposal.pk]), {"decision": "approve", "next": detail(target.pk)}
    )
    assert response["Location"] == detail(target.pk)
    proposal.refresh_from_db()
    assert proposal.outcome == AcknowledgementLine.Outcome.APPROVED
    assert "Approve line 10" not in buyer_client.get(detail(target.pk)).content.decode()


@pytest.fixture
def reason(db):
    from purchasing.models import ReasonCode

    return ReasonCode.objects.get_or_create(code="OUT_OF_STOCK", defaults={"label": "Out of stock"})[0]
