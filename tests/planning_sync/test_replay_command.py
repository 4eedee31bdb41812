"""manage.py replay_deliveries: filters, dry run, and no replay of everything by accident."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from planning_sync.models import Connector, Delivery
from tests.planning_sync.rows import ACKNOWLEDGED, LINE_CHANGED, delivery_row

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def rows(db) -> dict[str, Delivery]:
    erp = Connector.objects.create(name="erp", kind="webhook", config={})
    planning = Connector.objects.create(name="planning", kind="webhook", config={})
    day = dt.timedelta(days=1)
    return {
        "erp_dead_po1": delivery_row(erp, status="dead", recorded_at=NOW, event_type=LINE_CHANGED, po_number="PO-1"),
        "erp_delivered_po1": delivery_row(erp, status="delivered", recorded_at=NOW, latency=day, po_number="PO-1"),
        "erp_dead_po2_old": delivery_row(erp, status="dead", recorded_at=NOW - 3 * day, po_number="PO-2"),
        "erp_pending": delivery_row(erp, status="pending", recorded_at=NOW, po_number="PO-1"),
        "planning_dead": delivery_row(planning, status="dead", recorded_at=NOW, event_type=ACKNOWLEDGED),
    }


def _run(*args: str) -> str:
    out = StringIO()
    call_command("replay_deliveries", *args, stdout=out)
    return out.getvalue()


def _pending(rows: dict[str, Delivery]) -> set[str]:
    pending = set(Delivery.objects.filter(status=Delivery.Status.PENDING).values_list("pk", flat=True))
    return {name for name, row in rows.items() if row.pk in pending} - {"erp_pending"}


def test_filters_choose_what_is_replayed(rows):
    output = _run("--connector", "erp", "--status", "dead", "--since", "2026-03-01T00:00:00+00:00")
    assert "1 delivery match." in output
    assert "Queued 1 delivery for replay." in output
    assert _pending(rows) == {"erp_dead_po1"}


def test_type_po_and_until_filters(rows):
    _run("--type", ACKNOWLEDGED, "--po", "PO-2", "--until", "2026-03-01")
    assert _pending(rows) == {"erp_dead_po2_old"}


def test_delivered_deliveries_can_be_sent_again(rows):
    _run("--connector", "erp", "--status", "delivered")
    assert _pending(rows) == {"erp_delivered_po1"}
    assert Delivery.objects.get(pk=rows["erp_delivered_po1"].pk).replays == 1


def test_a_dry_run_counts_and_changes_nothing(rows):
    output = _run("--po", "PO-1", "--dry-run")
    assert "3 deliveries match." in output  # two to erp, one to planning
    assert "Dry run: nothing was queued." in output
    assert _pending(rows) == set()


def test_no_filter_is_refused_unless_all_is_given(rows):
    with pytest.raises(CommandError, match="Give at least one filter"):
        _run()
    assert _pending(rows) == set()
    assert "Queued 4 deliveries" in _run("--all")
    assert _pending(rows) == set(rows) - {"erp_pending"}


def test_an_unknown_connector_or_a_bad_time_is_a_clear_error(rows):
    with pytest.raises(CommandError, match="No connector is named 'crm'"):
        _run("--connector", "crm")
    with pytest.raises(CommandError, match="not an ISO 8601 time"):
        _run("--since", "yesterday")
