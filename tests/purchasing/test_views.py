import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from purchasing.models import POStatus
from tests.factories import (
    PurchaseOrderFactory,
    PurchaseOrderLineFactory,
    ScheduleLineFactory,
    SiteFactory,
    SupplierMembershipFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
LIST = reverse("purchasing:po-list")
pytestmark = pytest.mark.django_db


def _numbers(response) -> set[str]:
    return {po.number for po in response.context["page"].items}


@pytest.mark.parametrize("url", [LIST, reverse("purchasing:po-detail", args=["PO-1"]), reverse("home")])
def test_anonymous_users_are_sent_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_a_supplier_lists_only_its_own_pos_without_a_supplier_column(alice_client, po, other_supplier):
    PurchaseOrderFactory(supplier=other_supplier, number="PO-BOLT-1")
    response = alice_client.get(LIST)
    assert response.status_code == 200
    assert _numbers(response) == {po.number}
    assert b"PO-BOLT-1" not in response.content
    assert b'scope="col">Supplier<' not in response.content


def test_a_buyer_lists_every_supplier_and_can_filter_by_supplier(buyer_client, po, other_supplier):
    theirs = PurchaseOrderFactory(supplier=other_supplier)
    assert _numbers(buyer_client.get(LIST)) == {po.number, theirs.number}
    assert _numbers(buyer_client.get(LIST, {"supplier": "BOLT"})) == {theirs.number}


def test_the_list_filters_by_status_site_search_and_dates(alice_client, po, supplier):
    other_site = SiteFactory(code="RNO")
    acked = PurchaseOrderFactory(
        supplier=supplier,
        number="PO-777001",
        status=POStatus.ACKNOWLEDGED,
        site=other_site,
        order_date=dt.date(2026, 1, 5),
    )
    assert _numbers(alice_client.get(LIST, {"status": "acknowledged"})) == {acked.number}
    assert _numbers(alice_client.get(LIST, {"site": "RNO"})) == {acked.number}
    assert _numbers(alice_client.get(LIST, {"q": "po-777"})) == {acked.number}
    assert _numbers(alice_client.get(LIST, {"q": acked.erp_id})) == {acked.number}
    assert _numbers(alice_client.get(LIST, {"ordered_before": "2026-01-31"})) == {acked.number}


def test_a_supplier_user_cannot_filter_by_another_supplier(alice_client, po):
    response = alice_client.get(LIST, {"supplier": "BOLT"})
    assert "supplier" not in response.context["filter"].form.fields
    assert _numbers(response) == {po.number}


def test_tabs_show_pos_awaiting_acknowledgement_and_overdue(alice_client, supplier):
    overdue = PurchaseOrderFactory(supplier=supplier, acknowledgement_due=timezone.now() - dt.timedelta(hours=2))
    fresh = PurchaseOrderFactory(supplier=supplier, acknowledgement_due=timezone.now() + dt.timedelta(hours=20))
    PurchaseOrderFactory(supplier=supplier, status=POStatus.ACKNOWLEDGED)
    assert _numbers(alice_client.get(LIST, {"tab": "awaiting"})) == {overdue.number, fresh.number}
    assert _numbers(alice_client.get(LIST, {"tab": "overdue"})) == {overdue.number}


def test_an_invalid_filter_says_what_is_wrong_and_lists_nothing(alice_client, po):
    response = alice_client.get(LIST, {"status": "lost", "ordered_after": "yesterday"})
    assert response.status_code == 200
    assert _numbers(response) == set()
    errors = response.context["filter"].form.errors
    assert "status" in errors
    assert "ordered_after" in errors
    assert b"Select a valid choice" in response.content


def test_an_empty_list_says_so(alice_client):
    response = alice_client.get(LIST)
    assert b"No purchase orders match these filters." in response.content


def test_htmx_requests_get_only_the_table(alice_client, po):
    response = alice_client.get(LIST, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert b'<div id="po-results">' in response.content
    assert b"<html" not in response.content
    assert po.number.encode() in response.content


def test_pages_link_to_the_next_and_back(alice_client, supplier, settings):
    settings.SUPPLYLINE_PAGE_SIZE = 2
    orders = [PurchaseOrderFactory(supplier=supplier, order_date=dt.date(2026, 3, day)) for day in range(1, 6)]
    first = alice_client.get(LIST)
    assert _numbers(first) == {orders[4].number, orders[3].number}
    second = alice_client.get(LIST, {"after": first.context["page"].next_cursor})
    assert _numbers(second) == {orders[2].number, orders[1].number}
    assert b'rel="next"' in second.content
    assert b'rel="prev"' in second.content
    back = alice_client.get(LIST, {"before": second.context["page"].previous_cursor})
    assert _numbers(back) == _numbers(first)


def test_a_broken_page_link_falls_back_to_the_first_page_with_a_warning(alice_client, po):
    response = alice_client.get(LIST, {"after": "garbage"})
    assert response.status_code == 200
    assert _numbers(response) == {po.number}
    assert b"That page link is not valid." in response.content


def _list_queries(client, **params) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(LIST, params).status_code == 200
    return len(queries)


def test_the_list_runs_the_same_queries_whatever_the_page_size(alice_client, supplier, settings):
    for _ in range(30):
        PurchaseOrderLineFactory(po=PurchaseOrderFactory(supplier=supplier))
    settings.SUPPLYLINE_PAGE_SIZE = 5
    small = _list_queries(alice_client)
    settings.SUPPLYLINE_PAGE_SIZE = 30
    large = _list_queries(alice_client)
    assert small == large


def test_the_buyer_list_runs_the_same_queries_for_many_suppliers(buyer_client, settings):
    settings.SUPPLYLINE_PAGE_SIZE = 50
    PurchaseOrderFactory()
    few = _list_queries(buyer_client)
    for _ in range(25):
        PurchaseOrderFactory()  # each with its own supplier, buyer and site
    assert _list_queries(buyer_client) == few


def test_the_detail_shows_lines_and_promised_deliveries(alice_client, po):
    response = alice_client.get(reverse("purchasing:po-detail", args=[po.number]))
    assert response.status_code == 200
    body = response.content.decode()
    assert f"Purchase order {po.number}" in body
    assert "40 · " in body
    assert "20 · " in body
    assert "No delivery promised yet" in body
    assert "Please acknowledge it by" in body


def test_the_detail_runs_the_same_queries_however_many_lines(alice_client, po):
    url = reverse("purchasing:po-detail", args=[po.number])
    with CaptureQueriesContext(connection) as before:
        alice_client.get(url)
    for number in range(30, 60):
        ScheduleLineFactory(line=PurchaseOrderLineFactory(po=po, line_number=number))
    with CaptureQueriesContext(connection) as after:
        alice_client.get(url)
    assert len(before) == len(after)


def test_another_suppliers_po_is_not_found(bob_client, po):
    assert bob_client.get(reverse("purchasing:po-detail", args=[po.number])).status_code == 404


def test_an_unknown_po_is_not_found(alice_client):
    assert alice_client.get(reverse("purchasing:po-detail", args=["PO-NOPE"])).status_code == 404


def test_home_sends_each_role_to_its_page(alice_client, buyer_client):
    assert alice_client.get(reverse("home"))["Location"] == reverse("suppliers:supplier-home")
    assert buyer_client.get(reverse("home"))["Location"] == reverse("suppliers:buyer-home")


def test_the_supplier_home_counts_pos_by_status(alice_client, supplier, other_supplier):
    PurchaseOrderFactory(supplier=supplier)
    PurchaseOrderFactory(supplier=supplier, acknowledgement_due=timezone.now() - dt.timedelta(hours=1))
    PurchaseOrderFactory(supplier=supplier, status=POStatus.SHIPPED)
    PurchaseOrderFactory(supplier=other_supplier)
    response = alice_client.get(reverse("suppliers:supplier-home"))
    counts = response.context["counts"]
    assert counts["total"] == 3
    assert counts["awaiting_acknowledgement"] == 2
    assert counts["acknowledgement_overdue"] == 1
    assert dict(counts["by_status"])[POStatus.SHIPPED] == 1
    assert b"Acme Industrial Supply" in response.content


def test_the_buyer_home_is_for_buyers_only(buyer_client, alice_client, po, other_supplier):
    PurchaseOrderFactory(supplier=other_supplier)
    response = buyer_client.get(reverse("suppliers:buyer-home"))
    assert response.status_code == 200
    assert response.context["counts"]["total"] == 2
    assert response.context["my_supplier_count"] == 2
    assert alice_client.get(reverse("suppliers:buyer-home")).status_code == 404


def test_a_user_without_a_supplier_is_told_how_to_get_access(client):
    client.force_login(UserFactory())
    response = client.get(reverse("suppliers:supplier-home"))
    assert b"No supplier access yet" in response.content
    assert response.context["counts"]["total"] == 0


def test_a_user_of_a_deactivated_membership_sees_nothing(client, supplier, po):
    user = UserFactory()
    SupplierMembershipFactory(user=user, supplier=supplier, is_active=False)
    client.force_login(user)
    assert client.get(reverse("purchasing:po-detail", args=[po.number])).status_code == 404
    assert _numbers(client.get(LIST)) == set()
