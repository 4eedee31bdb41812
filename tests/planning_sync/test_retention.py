"""The outbox's retention: delivered events past PLANNING_SYNC_RETENTION_DAYS go, with their deliveries;
work and dead letters stay; the beat task, the command and the events feed agree."""

import datetime as dt
from io import StringIO

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from config.celery import app
from exceptions.kpis import WEEK_CHOICES
from exceptions.models import CaseType
from planning_sync import checks, retention, tasks
from planning_sync.models import Connector, Delivery, OutboxEvent
from planning_sync.outbox import record_event
from suppliers.services import api_key_create
from tests.factories import ExceptionCaseFactory, PurchaseOrderFactory
from tests.planning_sync.rows import delivery_row

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)


@pytest.fixture
def erp(db) -> Connector:
    return Connector.objects.create(name="erp", kind="webhook", config={})


@pytest.fixture
def planning(db) -> Connector:
    return Connector.objects.create(name="planning", kind="webhook", config={})


def _old(days: int = 401) -> dt.datetime:
    return timezone.now() - days * DAY


def _event(connector: Connector, status: str, *, recorded_at: dt.datetime, po: str = "PO-1") -> OutboxEvent:
    return delivery_row(connector, status=status, recorded_at=recorded_at, latency=DAY, po_number=po).event


def _also(event: OutboxEvent, connector: Connector, status: str) -> Delivery:
    """A second connector's delivery of the same event."""
    return Delivery.objects.create(
        event=event,
        connector=connector,
        aggregate_key=event.aggregate_key,
        status=status,
        next_attempt_at=event.recorded_at,
    )


def _kept() -> set[int]:
    return set(OutboxEvent.objects.values_list("pk", flat=True))


def test_delivered_events_past_the_period_go_with_their_deliveries(erp, planning):
    gone = _event(erp, Delivery.Status.DELIVERED, recorded_at=_old())
    _also(gone, planning, Delivery.Status.DELIVERED)
    young = _event(erp, Delivery.Status.DELIVERED, recorded_at=_old(399))
    pruned = retention.prune_outbox()
    assert (pruned.events, pruned.deliveries) == (1, 2)
    assert _kept() == {young.pk}
    assert not Delivery.objects.filter(event_id=gone.pk).exists()


@pytest.mark.parametrize(
    "status", [Delivery.Status.PENDING, Delivery.Status.FAILED, Delivery.Status.IN_FLIGHT, Delivery.Status.DEAD]
)
def test_an_old_event_with_work_left_or_a_dead_letter_is_kept_whole(erp, planning, status):
    event = _event(erp, Delivery.Status.DELIVERED, recorded_at=_old(900))
    _also(event, planning, status)
    assert retention.prune_outbox().events == 0
    assert _kept() == {event.pk}
    assert event.deliveries.count() == 2


def test_an_old_event_no_connector_wanted_goes_too(supplier):
    po = PurchaseOrderFactory.create(supplier=supplier)
    with transaction.atomic():
        event = record_event("po.issued", subject=po, data={"po_number": po.number})
    OutboxEvent.objects.filter(pk=event.pk).update(recorded_at=_old())
    kept = {pk for pk in _kept() if pk != event.pk}  # the fixtures' own events, recorded now
    assert retention.prune_outbox().events == 1
    assert _kept() == kept


def test_it_walks_batch_after_batch_past_the_kept_ones(erp):
    dead = [_event(erp, Delivery.Status.DEAD, recorded_at=_old(), po=f"PO-D{n}") for n in range(3)]
    for n in range(7):
        _event(erp, Delivery.Status.DELIVERED, recorded_at=_old(), po=f"PO-{n}")
    pruned = retention.prune_outbox(batch=2)
    assert (pruned.events, pruned.deliveries) == (7, 7)
    assert _kept() == {event.pk for event in dead}


def test_a_dead_letter_case_loses_its_link_when_its_replayed_delivery_goes(erp):
    event = _event(erp, Delivery.Status.DELIVERED, recorded_at=_old())
    case = ExceptionCaseFactory.create(type=CaseType.DELIVERY_DEAD, delivery=event.deliveries.get())
    assert retention.prune_outbox().events == 1
    case.refresh_from_db()
    assert case.delivery_id is None


def test_zero_days_keeps_everything(erp, settings):
    settings.PLANNING_SYNC_RETENTION_DAYS = 0
    event = _event(erp, Delivery.Status.DELIVERED, recorded_at=_old(5000))
    assert retention.prune_outbox() == retention.Pruned()
    assert _kept() == {event.pk}
    out = StringIO()
    call_command("prune_outbox", stdout=out)
    assert "every event is kept" in out.getvalue()
    assert _kept() == {event.pk}


def test_the_period_is_the_setting(erp, settings):
    settings.PLANNING_SYNC_RETENTION_DAYS = 30
    old, young = _event(erp, "delivered", recorded_at=_old(31)), _event(erp, "delivered", recorded_at=_old(29))
    assert retention.prune_outbox().events == 1
    assert _kept() == {young.pk}
    assert old.pk not in _kept()


def test_the_command_counts_on_a_dry_run_then_deletes(erp, planning):
    event = _event(erp, Delivery.Status.DELIVERED, recorded_at=_old())
    _also(event, planning, Delivery.Status.DELIVERED)
    out = StringIO()
    call_command("prune_outbox", "--dry-run", stdout=out)
    assert "1 event recorded before" in out.getvalue()
    assert "(400 days) and 2 deliveries would be deleted." in out.getvalue()
    assert "Dry run: nothing was deleted." in out.getvalue()
    assert event.pk in _kept()
    out = StringIO()
    call_command("prune_outbox", stdout=out)
    assert "Deleted 1 event recorded before" in out.getvalue()
    assert out.getvalue().rstrip().endswith("(400 days) and 2 deliveries.")
    assert event.pk not in _kept()


def test_beat_runs_the_task_nightly(erp):
    entry = app.conf.beat_schedule["prune-outbox"]
    assert entry["task"] == tasks.prune_outbox.name == "planning_sync.tasks.prune_outbox"
    _event(erp, Delivery.Status.DELIVERED, recorded_at=_old())
    assert tasks.prune_outbox() == 1


def test_the_events_feed_says_what_to_do_with_a_cursor_past_the_period(supplier):
    po = PurchaseOrderFactory.create(supplier=supplier)
    with transaction.atomic():
        event = record_event("po.issued", subject=po, data={"po_number": po.number})
    OutboxEvent.objects.filter(pk=event.pk).update(recorded_at=_old())
    _, secret = api_key_create(supplier=supplier, name="erp", scopes=["orders:read"], by=None, expires_at=None)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.get(f"/api/v1/events/?after={event.event_id}").status_code == 200
    retention.prune_outbox()
    response = api.get(f"/api/v1/events/?after={event.event_id}")
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": "after",
            "detail": "No event of yours has this id (events are kept 400 days once delivered): "
            "read the feed again without after.",
        }
    ]


@pytest.mark.parametrize(("days", "warned"), [(400, False), (364, False), (0, False), (363, True), (30, True)])
def test_a_retention_shorter_than_the_kpi_window_is_warned_about(settings, days, warned):
    settings.PLANNING_SYNC_RETENTION_DAYS = days
    messages = [m for m in run_checks() if m.id == "planning_sync.W001"]
    assert bool(messages) is warned
    if warned:
        assert f"PLANNING_SYNC_RETENTION_DAYS is {days}" in messages[0].msg
    assert max(WEEK_CHOICES) * 7 == checks.KPI_WINDOW_DAYS  # the check follows the longest KPI window
