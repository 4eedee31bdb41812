"""The integration monitor pages, the health figures behind them, replay, and the planning_sync admin."""

import datetime as dt
import re

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from planning_sync import selectors
from planning_sync.models import Connector, Delivery, Subscription
from suppliers.models import BUYERS_GROUP
from tests.factories import UserFactory
from tests.planning_sync.rows import ACKNOWLEDGED, LINE_CHANGED, delivery_row, scenario

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def erp(db) -> Connector:
    return Connector.objects.create(
        name="erp", kind="webhook", config={"url": "https://erp.example/events"}, last_success_at=NOW
    )


@pytest.fixture
def staff_client(buyer) -> Client:
    """Charlie, a buyer: buyers are staff, so they see the monitor."""
    client = Client()
    client.force_login(buyer)
    return client


@pytest.fixture
def admin_client_(db) -> Client:
    client = Client()
    client.force_login(UserFactory.create(email="root@example.com", is_staff=True, is_superuser=True))
    return client


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


# --- Who sees it -------------------------------------------------------------------------


@pytest.mark.parametrize("url_name", ["monitor:connector-list", "monitor:connector-detail"])
def test_suppliers_and_non_staff_buyers_get_404(alice_client, bob_client, erp, url_name):
    args = ["erp"] if url_name.endswith("detail") else []
    group_member = UserFactory(email="dana@example.com", is_staff=False)
    group_member.groups.add(Group.objects.get_or_create(name=BUYERS_GROUP)[0])
    dana = Client()
    dana.force_login(group_member)
    for client in (alice_client, bob_client, dana):
        assert client.get(reverse(url_name, args=args)).status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(client, erp):
    response = client.get(reverse("monitor:connector-list"))
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


def test_a_non_staff_user_cannot_replay(alice_client, erp, frozen):
    dead = delivery_row(erp, status=Delivery.Status.DEAD, recorded_at=NOW, last_error="HTTP 400")
    assert alice_client.post(reverse("monitor:delivery-replay", args=[dead.pk])).status_code == 404
    assert alice_client.post(reverse("monitor:connector-replay", args=["erp"]), {"status": "dead"}).status_code == 404
    dead.refresh_from_db()
    assert dead.status == Delivery.Status.DEAD


# --- Health figures ------------------------------------------------------------------------


def test_health_counts_backlog_age_error_rate_and_latency_percentiles(erp):
    scenario(erp, NOW)
    health = selectors.connector_health(erp, now=NOW)
    assert health["backlog"] == 4
    assert health["oldest_pending_age_s"] == 300
    assert health["error_rate_pct"] == 16.7
    assert (health["p50_ms"], health["p95_ms"]) == (1050.0, 1905.0)
    assert (health["delivered_last_hour"], health["dead"]) == (20, 4)
    assert health["circuit"] == Connector.Circuit.CLOSED
    assert health["last_success_at"] == NOW


def test_the_python_fallback_computes_the_same_percentiles(erp, monkeypatch):
    scenario(erp, NOW)
    monkeypatch.setattr(selectors, "_sql_latency", lambda: False)
    health = selectors.connector_health(erp, now=NOW)
    assert (health["p50_ms"], health["p95_ms"]) == (1050.0, 1905.0)
    assert health["error_rate_pct"] == 16.7


def test_a_connector_without_traffic_has_no_rates(erp):
    health = selectors.connector_health(erp, now=NOW)
    assert health["backlog"] == 0
    assert health["oldest_pending_age_s"] is health["error_rate_pct"] is health["p50_ms"] is None


def test_percentile_interpolates_like_postgresql():
    assert selectors.percentile([4, 1, 3, 2], 0.5) == 2.5
    assert selectors.percentile([10], 0.95) == 10
    assert selectors.percentile([], 0.5) is None


def test_the_overview_covers_every_connector(erp):
    scenario(erp, NOW)
    Connector.objects.create(name="planning", kind="webhook", config={"url": "https://plan.example"})
    rows = selectors.connectors_overview(NOW)
    assert [(r["connector"].name, r["backlog"], r["dead"]) for r in rows] == [("erp", 4, 4), ("planning", 0, 0)]


# --- Pages ------------------------------------------------------------------------------------


def test_the_list_shows_each_connectors_health(staff_client, erp, frozen):
    scenario(erp, NOW)
    Connector.objects.filter(pk=erp.pk).update(circuit=Connector.Circuit.OPEN)
    text = _text(staff_client.get(reverse("monitor:connector-list")))
    row = re.search(r'<a href="/monitor/connectors/erp/">erp</a>.*?</tr>', text).group(0)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
    assert "Open (paused after failures)" in cells[0]
    assert cells[1:7] == ["4", "5 min", "16.7%", "1050", "1905", "4"]


def test_the_list_has_an_empty_state(staff_client):
    assert "No connectors are set up yet" in _text(staff_client.get(reverse("monitor:connector-list")))


def test_the_list_costs_the_same_queries_for_2_or_10_connectors(staff_client):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert staff_client.get(reverse("monitor:connector-list")).status_code == 200
        return len(captured)

    for n in range(2):
        scenario(Connector.objects.create(name=f"c{n}", kind="webhook", config={}), NOW)
    two = queries()
    for n in range(2, 10):
        scenario(Connector.objects.create(name=f"c{n}", kind="webhook", config={}), NOW)
    assert queries() == two


def test_the_detail_page_shows_tiles_and_dead_letters_with_payload(staff_client, erp, frozen):
    scenario(erp, NOW)
    response = staff_client.get(reverse("monitor:connector-detail", args=["erp"]))
    text = _text(response)
    assert response.status_code == 200
    assert '<span class="tile-value">4</span><span class="tile-label">Backlog' in text
    assert "1905 ms" in text
    assert "16.7%" in text
    assert text.count("HTTP 400: unknown line") == 3
    assert "PO-DEAD-0" in text
    assert "&quot;specversion&quot;: &quot;1.0&quot;" in text  # the CloudEvent, escaped inside <pre>
    assert 'Replay<span class="visually-hidden"> supplyline.po.line.changed.v1 for PO-DEAD-2</span>' in text


def test_an_unknown_connector_is_404(staff_client):
    assert staff_client.get(reverse("monitor:connector-detail", args=["nope"])).status_code == 404


def test_dead_letters_page_by_keyset(staff_client, erp, frozen, monkeypatch):
    monkeypatch.setattr(selectors, "DEAD_LETTER_PAGE_SIZE", 2)
    for i in range(5):
        delivery_row(erp, status=Delivery.Status.DEAD, recorded_at=NOW, po_number=f"PO-{i}", last_error="x")
    first = _text(staff_client.get(reverse("monitor:connector-detail", args=["erp"])))
    assert "PO-4" in first
    assert "PO-3" in first
    assert "PO-2" not in first
    older = re.search(r'rel="next" href="\?after=([^"]+)"', first).group(1)
    second = staff_client.get(
        reverse("monitor:connector-detail", args=["erp"]), {"after": older}, HTTP_HX_REQUEST="true"
    )
    text = _text(second)
    assert "PO-2" in text
    assert "PO-1" in text
    assert "PO-4" not in text
    assert "<h1>" not in text  # htmx gets the dead-letter partial only


def test_a_bad_page_link_shows_the_first_page(staff_client, erp):
    delivery_row(erp, status=Delivery.Status.DEAD, recorded_at=NOW, po_number="PO-7", last_error="x")
    response = staff_client.get(reverse("monitor:connector-detail", args=["erp"]), {"after": "garbage"}, follow=True)
    assert "PO-7" in _text(response)
    assert "not valid" in _text(response)


# --- Replay ------------------------------------------------------------------------------


def test_replaying_one_dead_letter_makes_it_pending(staff_client, erp):
    dead = delivery_row(erp, status=Delivery.Status.DEAD, recorded_at=NOW, attempts=5, last_error="HTTP 400")
    response = staff_client.post(reverse("monitor:delivery-replay", args=[dead.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("monitor:connector-detail", args=["erp"])
    assert "sent again, with the same event id" in _text(response)
    dead.refresh_from_db()
    assert (dead.status, dead.attempts, dead.replays) == (Delivery.Status.PENDING, 0, 1)


def test_a_pending_delivery_is_not_replayed_and_the_page_says_why(staff_client, erp):
    pending = delivery_row(erp, status=Delivery.Status.PENDING, recorded_at=NOW)
    response = staff_client.post(reverse("monitor:delivery-replay", args=[pending.pk]), follow=True)
    assert "Nothing was replayed: this delivery is pending" in _text(response)
    pending.refresh_from_db()
    assert pending.replays == 0


def test_replaying_an_unknown_delivery_is_404_and_get_is_refused(staff_client):
    assert staff_client.post(reverse("monitor:delivery-replay", args=[999999])).status_code == 404
    assert staff_client.get(reverse("monitor:delivery-replay", args=[999999])).status_code == 405


def test_replay_by_filter_replays_only_what_matches(staff_client, erp):
    other = Connector.objects.create(name="planning", kind="webhook", config={})
    hour = dt.timedelta(hours=1)
    match = [
        delivery_row(erp, status="dead", recorded_at=NOW - hour, event_type=LINE_CHANGED, po_number="PO-9"),
        delivery_row(erp, status="dead", recorded_at=NOW - 2 * hour, event_type=LINE_CHANGED, po_number="PO-9"),
    ]
    left = [
        delivery_row(erp, status="dead", recorded_at=NOW - hour, event_type=ACKNOWLEDGED, po_number="PO-9"),
        delivery_row(erp, status="delivered", recorded_at=NOW - hour, event_type=LINE_CHANGED, po_number="PO-9"),
        delivery_row(erp, status="dead", recorded_at=NOW - hour, event_type=LINE_CHANGED, po_number="PO-8"),
        delivery_row(erp, status="dead", recorded_at=NOW - 5 * hour, event_type=LINE_CHANGED, po_number="PO-9"),
        delivery_row(other, status="dead", recorded_at=NOW - hour, event_type=LINE_CHANGED, po_number="PO-9"),
    ]
    since = timezone.localtime(NOW - 3 * hour).strftime("%Y-%m-%dT%H:%M")
    form = {"event_type": LINE_CHANGED, "status": "dead", "since": since, "until": "", "po_number": "PO-9"}
    response = staff_client.post(reverse("monitor:connector-replay", args=["erp"]), form, follow=True)
    assert "Queued 2 deliveries to erp to be sent again" in _text(response)
    assert {d.pk for d in Delivery.objects.filter(status=Delivery.Status.PENDING)} == {d.pk for d in match}
    assert not Delivery.objects.filter(pk__in=[d.pk for d in left], status=Delivery.Status.PENDING).exists()


def test_replay_by_filter_says_when_nothing_matches(staff_client, erp):
    response = staff_client.post(reverse("monitor:connector-replay", args=["erp"]), {"status": "dead"}, follow=True)
    assert "match; nothing was replayed" in _text(response)


def test_an_inverted_time_range_is_refused_with_the_form_shown_again(staff_client, erp):
    dead = delivery_row(erp, status="dead", recorded_at=NOW)
    form = {"status": "dead", "since": "2026-03-02T10:00", "until": "2026-03-01T10:00"}
    response = staff_client.post(reverse("monitor:connector-replay", args=["erp"]), form)
    assert response.status_code == 400
    assert "Choose a time after" in _text(response)
    dead.refresh_from_db()
    assert dead.status == Delivery.Status.DEAD


def test_replay_needs_the_csrf_token(buyer, erp):
    client = Client(enforce_csrf_checks=True)
    client.force_login(buyer)
    dead = delivery_row(erp, status="dead", recorded_at=NOW)
    assert client.post(reverse("monitor:delivery-replay", args=[dead.pk])).status_code == 403


# --- Admin -------------------------------------------------------------------------------


def _connector_form(**overrides) -> dict[str, str]:
    form = {
        "name": "erp-new",
        "kind": "webhook",
        "description": "",
        "is_enabled": "on",
        "config": '{"url": "https://erp.example/events"}',
        "timeout_s": "5",
        "rate_per_s": "50",
        "burst": "100",
        "max_attempts": "12",
        "pull_cursor": "",
        "subscriptions-TOTAL_FORMS": "1",
        "subscriptions-INITIAL_FORMS": "0",
        "subscriptions-0-event_type": "supplyline.po.*",
        "subscriptions-0-is_active": "on",
    }
    return form | overrides


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ('{"url": "ftp://erp.example"}', "url: Give the receiver"),
        ('{"url": "https://erp.example", "auth": {"type": "bearer"}}', "auth.token is required"),
        ('["not", "an", "object"]', "must be a JSON object"),
    ],
)
def test_the_admin_names_the_wrong_setting(admin_client_, config, expected):
    response = admin_client_.post(reverse("admin:planning_sync_connector_add"), _connector_form(config=config))
    assert response.status_code == 200
    assert expected in _text(response)
    assert not Connector.objects.exists()


def test_the_admin_refuses_an_unknown_kind(admin_client_):
    response = admin_client_.post(reverse("admin:planning_sync_connector_add"), _connector_form(kind="pigeon"))
    assert "Select a valid choice" in _text(response)


def test_the_admin_saves_a_valid_connector_with_its_subscription(admin_client_):
    response = admin_client_.post(reverse("admin:planning_sync_connector_add"), _connector_form())
    assert response.status_code == 302
    assert list(Subscription.objects.values_list("connector__name", "event_type")) == [("erp-new", "supplyline.po.*")]


def test_the_admin_replays_selected_deliveries(admin_client_, erp):
    dead = delivery_row(erp, status="dead", recorded_at=NOW, po_number="PO-1")
    pending = delivery_row(erp, status="pending", recorded_at=NOW, po_number="PO-2")
    response = admin_client_.post(
        reverse("admin:planning_sync_delivery_changelist"),
        {"action": "replay_selected", "_selected_action": [dead.pk, pending.pk]},
        follow=True,
    )
    assert "Queued 1 for replay" in _text(response)
    assert "1 still pending, in flight or retrying were left alone" in _text(response)
    dead.refresh_from_db()
    assert (dead.status, dead.replays) == (Delivery.Status.PENDING, 1)


def test_view_only_staff_see_deliveries_but_cannot_replay(erp, buyer):
    from django.contrib.auth.models import Permission

    buyer.user_permissions.add(Permission.objects.get(codename="view_delivery"))
    client = Client()
    client.force_login(buyer)
    dead = delivery_row(erp, status="dead", recorded_at=NOW)
    response = client.get(reverse("admin:planning_sync_delivery_changelist"))
    assert response.status_code == 200
    assert "replay_selected" not in response.content.decode()
    client.post(
        reverse("admin:planning_sync_delivery_changelist"), {"action": "replay_selected", "_selected_action": [dead.pk]}
    )
    dead.refresh_from_db()
    assert dead.status == Delivery.Status.DEAD


def test_a_delivery_opens_in_the_admin_with_its_cloudevent(admin_client_, erp):
    dead = delivery_row(erp, status="dead", recorded_at=NOW, po_number="PO-42")
    response = admin_client_.get(reverse("admin:planning_sync_delivery_change", args=[dead.pk]))
    assert response.status_code == 200
    assert "&quot;subject&quot;: &quot;PO-42&quot;" in response.content.decode()


def test_the_admin_shows_a_new_inbound_token_once(admin_client_, erp):
    pytest.importorskip("planning_sync.inbound")
    response = admin_client_.post(
        reverse("admin:planning_sync_connector_changelist"),
        {"action": "generate_inbound_token", "_selected_action": [erp.pk]},
        follow=True,
    )
    assert "Inbound token for erp:" in _text(response)
    erp.refresh_from_db()
    assert erp.inbound_token_hash
    assert "Inbound token for erp:" not in _text(admin_client_.get(reverse("admin:planning_sync_connector_changelist")))
