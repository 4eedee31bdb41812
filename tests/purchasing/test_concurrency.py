"""Concurrent acknowledgements of one PO against PostgreSQL: the row lock and the version check lose no update."""

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, F

from planning_sync.models import OutboxEvent
from purchasing import services
from purchasing.errors import StaleVersion
from purchasing.models import Acknowledgement, AcknowledgementLine, Channel, PurchaseOrder, PurchaseOrderLine
from purchasing.services import LineDecision

pytestmark = pytest.mark.django_db(transaction=True)

Action = AcknowledgementLine.Action
ACCEPT_BOTH = (LineDecision(10, Action.ACCEPT), LineDecision(20, Action.ACCEPT))
# A price 1.6% higher on line 10: within tolerance, so applied at once if this answer wins.
NEW_PRICE_ON_10 = (LineDecision(10, Action.CHANGE, unit_price=Decimal("12.70")), LineDecision(20, Action.ACCEPT))


def in_thread(
    work: Callable[[], Any], *, barrier: threading.Barrier | None = None
) -> tuple[threading.Thread, dict[str, Any]]:
    """Run ``work`` on its own thread and database connection; the dict receives its result or exception."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            if barrier is not None:
                barrier.wait(timeout=10)
            outcome["result"] = work()
        except Exception as exc:  # handed to the test to assert on
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def submit_later(po, user, decisions, expected_version) -> Callable[[], Any]:
    return lambda: services.acknowledgement_submit(
        po=po, by=user, decisions=decisions, channel=Channel.WEB, expected_version=expected_version
    )


def race(po, user, expected_version, *answers) -> list[dict[str, Any]]:
    barrier = threading.Barrier(len(answers))
    started = [in_thread(submit_later(po, user, decisions, expected_version), barrier=barrier) for decisions in answers]
    for thread, _ in started:
        thread.join(timeout=30)
        assert not thread.is_alive(), "an acknowledgement never finished"
    return [outcome for _, outcome in started]


def test_of_two_concurrent_acknowledgements_with_one_version_exactly_one_wins(po, supplier_user):
    outcomes = race(po, supplier_user, po.version, ACCEPT_BOTH, NEW_PRICE_ON_10)
    winners = [i for i, o in enumerate(outcomes) if "result" in o]
    losers = [o["error"] for o in outcomes if "error" in o]
    assert len(winners) == 1
    assert len(losers) == 1
    assert isinstance(losers[0], StaleVersion)
    assert losers[0].current_version == 2
    po.refresh_from_db()
    assert po.version == 2
    ack = Acknowledgement.objects.get()
    assert ack.lines.count() == 2
    assert OutboxEvent.objects.filter(type="supplyline.po.acknowledged.v1").count() == 1
    # No lost or mixed update: line 10 says exactly what the winner answered.
    expected_price = Decimal("12.5") if winners == [0] else Decimal("12.70")
    assert PurchaseOrderLine.objects.get(po=po, line_number=10).unit_price == expected_price


def test_without_a_version_the_second_acknowledgement_finds_nothing_left_to_answer(po, supplier_user):
    outcomes = race(po, supplier_user, None, ACCEPT_BOTH, NEW_PRICE_ON_10)
    assert sum("result" in o for o in outcomes) == 1
    [error] = [o["error"] for o in outcomes if "error" in o]
    assert type(error) is ValidationError
    # Every answer settles each line it answers, so the first leaves the PO awaiting no answer at all.
    assert error.message_dict == {"__all__": ["Purchase order PO-100001 is acknowledged: it awaits no answer."]}
    po.refresh_from_db()
    assert po.version == 2
    per_line = AcknowledgementLine.objects.values("line_id").annotate(n=Count("id"))
    assert sorted(row["n"] for row in per_line) == [1, 1]


def test_an_acknowledgement_waits_for_the_po_row_lock_and_then_sees_the_other_write(po, supplier_user):
    with transaction.atomic():
        PurchaseOrder.objects.select_for_update().get(pk=po.pk)
        thread, outcome = in_thread(submit_later(po, supplier_user, ACCEPT_BOTH, expected_version=1))
        thread.join(timeout=0.5)
        assert thread.is_alive(), "the acknowledgement did not wait for the lock"
        assert not Acknowledgement.objects.exists()
        # Another writer's change, committed while the acknowledgement waits.
        PurchaseOrder.objects.filter(pk=po.pk).update(version=F("version") + 1)
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert isinstance(outcome.get("error"), StaleVersion)
    assert outcome["error"].current_version == 2
    assert not Acknowledgement.objects.exists()
