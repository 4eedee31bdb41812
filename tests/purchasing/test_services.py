"""The purchasing services: acknowledgements, buyer decisions, change orders, new POs, deadlines.

The PO fixture (PO-100001) has line 10 (100 at 12.50, not yet promised) and line
20 (60 at 12.50, promised in two deliveries of 40 and 20 on its need-by date).
"""

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from config.celery import app as celery_app
from planning_sync import tasks as planning_tasks
from planning_sync.models import OutboxEvent
from planning_sync.outbox import record_event
from purchasing import notifications, services
from purchasing.errors import StaleVersion
from purchasing.models import (
    Acknowledgement,
    AcknowledgementLine,
    Channel,
    HistoryEntry,
    LineStatus,
    POStatus,
    PurchaseOrder,
    PurchaseOrderLine,
    ReasonCode,
)
from purchasing.rules import Delivery
from purchasing.services import LineChange, LineDecision, NewLine
from suppliers.models import NotificationKind, NotificationOptOut, Supplier, SupplierMembership
from tests.factories import (
    ItemFactory,
    PurchaseOrderFactory,
    SiteFactory,
    SupplierMembershipFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

Action = AcknowledgementLine.Action
Outcome = AcknowledgementLine.Outcome
Role = SupplierMembership.Role


@pytest.fixture(autouse=True)
def _portal_defaults(portal_defaults):
    """Pin the tolerances and deadlines these tests reason about."""


@pytest.fixture
def reason(db) -> ReasonCode:
    return ReasonCode.objects.get_or_create(code="OUT_OF_STOCK", defaults={"label": "Out of stock"})[0]


@pytest.fixture
def eager_mail(monkeypatch):
    """Run the send-mail task in-process when its on-commit callback fires, so mail.outbox shows the result."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)


# --- helpers ---------------------------------------------------------------------


def mails(callbacks: list[Callable[[], object]]) -> list[Callable[[], object]]:
    """The on-commit callbacks that send mail: the others wake the delivery dispatcher for the events."""
    return [c for c in callbacks if getattr(c, "func", None) is not planning_tasks.wake_dispatcher]


def line(po: PurchaseOrder, number: int) -> PurchaseOrderLine:
    return PurchaseOrderLine.objects.get(po=po, line_number=number)


def fresh(po: PurchaseOrder) -> PurchaseOrder:
    return PurchaseOrder.objects.get(pk=po.pk)


def on(po: PurchaseOrder, number: int, days: int, quantity: str | None = None) -> Delivery:
    """A delivery of line ``number``, ``days`` after its need-by date (all of it unless ``quantity``)."""
    target = line(po, number)
    return Delivery(
        Decimal(quantity) if quantity else target.ordered_quantity,
        target.need_by_date + dt.timedelta(days=days),
    )


def accept(number: int) -> LineDecision:
    return LineDecision(line_number=number, action=Action.ACCEPT)


def change(number: int, **values) -> LineDecision:
    if "deliveries" in values:
        values["deliveries"] = tuple(values["deliveries"])
    return LineDecision(line_number=number, action=Action.CHANGE, **values)


def reject(number: int, reason_code: str = "OUT_OF_STOCK", note: str = "") -> LineDecision:
    return LineDecision(line_number=number, action=Action.REJECT, reason_code=reason_code, note=note)


def submit(po, by, *decisions, channel=Channel.WEB, note="", expected_version="current"):
    if expected_version == "current":
        expected_version = fresh(po).version
    return services.acknowledgement_submit(
        po=po, by=by, decisions=decisions, channel=channel, expected_version=expected_version, note=note
    )


def revise(po, by, **kwargs):
    return services.change_order_issue(po=po, by=by, expected_version=fresh(po).version, **kwargs)


def events(short_type: str) -> list[OutboxEvent]:
    return list(OutboxEvent.objects.filter(type=f"supplyline.{short_type}.v1"))


def error_keys(excinfo: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return set(excinfo.value.message_dict)


def messages(excinfo: pytest.ExceptionInfo[ValidationError], key: str) -> str:
    return " ".join(excinfo.value.message_dict[key])


def schedule(po: PurchaseOrder, number: int) -> list[tuple[Decimal, dt.date]]:
    return [(s.quantity, s.promised_date) for s in line(po, number).schedule_lines.order_by("schedule_number")]


def assert_nothing_written(po: PurchaseOrder, version: int = 1) -> None:
    assert fresh(po).version == version
    assert not Acknowledgement.objects.exists()
    assert not OutboxEvent.objects.exists()
    assert not HistoryEntry.objects.exists()
    assert set(po.lines.values_list("status", flat=True)) == {LineStatus.ISSUED}


@pytest.fixture
def price_proposal(po, supplier_user) -> AcknowledgementLine:
    """Line 10's price raised 10% (beyond the 2% tolerance) and line 20 accepted."""
    submit(po, supplier_user, change(10, unit_price=Decimal("13.75")), accept(20))
    return AcknowledgementLine.objects.get(line__line_number=10)


@pytest.fixture
def rejection(po, supplier_user, reason) -> AcknowledgementLine:
    submit(po, supplier_user, reject(10, note="Discontinued by our vendor"), accept(20))
    return AcknowledgementLine.objects.get(line__line_number=10)


@pytest.fixture
def acknowledged_po(po, supplier_user) -> PurchaseOrder:
    services.acknowledgement_accept_all(po=po, by=supplier_user, channel=Channel.WEB, expected_version=po.version)
    return fresh(po)


# --- acknowledgement: what is applied at once -------------------------------------------


def test_accepting_the_whole_po_acknowledges_it_touchless(po, supplier_user):
    need_by = line(po, 10).need_by_date
    ack = services.acknowledgement_accept_all(po=po, by=supplier_user, channel=Channel.WEB, expected_version=1)
    po = fresh(po)
    assert po.status == POStatus.ACKNOWLEDGED
    assert po.acknowledged_at is not None
    assert ack.submitted_by == supplier_user
    assert ack.revision == 1
    assert {(a.line.line_number, a.action, a.outcome) for a in ack.lines.all()} == {
        (10, Action.ACCEPT, Outcome.APPLIED),
        (20, Action.ACCEPT, Outcome.APPLIED),
    }
    assert set(po.lines.values_list("status", flat=True)) == {LineStatus.ACKNOWLEDGED}
    assert schedule(po, 10) == [(Decimal(100), need_by)]
    assert line(po, 10).original_promised_date == need_by
    assert len(events("po.acknowledged")) == 1
    assert events("po.line.changed") == []


def test_accepting_a_split_line_keeps_its_deliveries(po, supplier_user):
    need_by = line(po, 20).need_by_date
    submit(po, supplier_user, accept(10), accept(20))
    assert schedule(po, 20) == [(Decimal(40), need_by), (Decimal(20), need_by)]
    assert line(po, 20).original_promised_date == need_by


def test_a_date_change_within_tolerance_is_applied(po, supplier_user):
    promised = on(po, 10, days=2)
    ack = submit(po, supplier_user, change(10, deliveries=[promised]), accept(20))
    answer = ack.lines.get(line__line_number=10)
    assert answer.outcome == Outcome.APPLIED
    assert answer.breaches == []
    assert line(po, 10).status == LineStatus.ACKNOWLEDGED
    assert schedule(po, 10) == [(Decimal(100), promised.date)]
    assert line(po, 10).original_promised_date == promised.date
    assert fresh(po).status == POStatus.ACKNOWLEDGED


def test_a_quantity_and_price_change_within_tolerance_is_applied(po, supplier_user):
    need_by = line(po, 10).need_by_date
    submit(po, supplier_user, change(10, quantity=Decimal(105), unit_price=Decimal("12.75")), accept(20))
    changed = line(po, 10)
    assert (changed.status, changed.ordered_quantity, changed.unit_price) == (
        LineStatus.ACKNOWLEDGED,
        Decimal(105),
        Decimal("12.75"),
    )
    assert schedule(po, 10) == [(Decimal(105), need_by)]


def test_a_lower_price_is_applied_however_large_the_drop(po, supplier_user):
    submit(po, supplier_user, change(10, unit_price=Decimal("6.25")), accept(20))
    assert line(po, 10).unit_price == Decimal("6.25")
    assert line(po, 10).status == LineStatus.ACKNOWLEDGED


def test_a_split_within_tolerance_becomes_several_schedule_lines(po, supplier_user):
    first, second = on(po, 10, days=-1, quantity="60"), on(po, 10, days=2, quantity="40")
    submit(po, supplier_user, change(10, deliveries=[second, first]), accept(20))
    assert schedule(po, 10) == [(Decimal(60), first.date), (Decimal(40), second.date)]
    assert line(po, 10).original_promised_date == first.date
    assert line(po, 10).status == LineStatus.ACKNOWLEDGED


def test_a_split_may_add_up_to_a_changed_quantity(po, supplier_user):
    deliveries = [on(po, 10, days=0, quantity="54"), on(po, 10, days=1, quantity="50")]
    submit(po, supplier_user, change(10, quantity=Decimal(104), deliveries=deliveries), accept(20))
    assert line(po, 10).ordered_quantity == Decimal(104)
    assert [q for q, _ in schedule(po, 10)] == [Decimal(54), Decimal(50)]


def test_per_supplier_tolerances_override_the_portal_defaults(po, supplier_user, supplier):
    Supplier.objects.filter(pk=supplier.pk).update(price_tolerance_pct=Decimal(10), days_late_tolerance=7)
    submit(po, supplier_user, change(10, unit_price=Decimal("13.50"), deliveries=[on(po, 10, days=7)]), accept(20))
    assert line(po, 10).status == LineStatus.ACKNOWLEDGED
    assert line(po, 10).unit_price == Decimal("13.50")


def test_a_later_promise_never_changes_the_original_promised_date(acknowledged_po, supplier_user, buyer):
    po = acknowledged_po
    first_promise = line(po, 10).original_promised_date
    revise(po, buyer, changes=[LineChange(10, need_by_date=first_promise + dt.timedelta(days=10))])
    submit(po, supplier_user, change(10, deliveries=[on(po, 10, days=1)]))
    assert schedule(po, 10)[0][1] == first_promise + dt.timedelta(days=11)
    assert line(po, 10).original_promised_date == first_promise


def test_a_channel_without_a_version_skips_the_version_check(po, supplier_user):
    submit(po, supplier_user, accept(10), accept(20), channel=Channel.EDI, expected_version=None)
    assert fresh(po).status == POStatus.ACKNOWLEDGED
    assert fresh(po).version == 2


# --- acknowledgement: what waits for the buyer --------------------------------------------


def test_change_outside_tolerance_waits_for_buyer(po, supplier_user):
    ack = submit(po, supplier_user, change(10, unit_price=Decimal("13.75")), accept(20))
    answer = ack.lines.get(line__line_number=10)
    assert answer.outcome == Outcome.PENDING
    assert answer.breaches == ["Unit price 13.75 is 10% above 12.5 (tolerance 2%)."]
    assert answer.proposed["unit_price"] == "13.75"
    untouched = line(po, 10)
    assert untouched.status == LineStatus.CHANGES_PENDING
    assert untouched.unit_price == Decimal("12.5")
    assert untouched.original_promised_date is None
    assert schedule(po, 10) == []
    assert fresh(po).status == POStatus.CHANGES_PENDING
    assert fresh(po).acknowledged_at is None


def test_a_split_with_one_delivery_too_late_waits_for_buyer(po, supplier_user):
    late = on(po, 20, days=5, quantity="20")
    submit(po, supplier_user, accept(10), change(20, deliveries=[on(po, 20, days=0, quantity="40"), late]))
    answer = AcknowledgementLine.objects.get(line__line_number=20)
    assert answer.outcome == Outcome.PENDING
    assert len(answer.breaches) == 1
    assert f"Delivery of 20 on {late.date.isoformat()} is 5 days after" in answer.breaches[0]
    assert line(po, 20).status == LineStatus.CHANGES_PENDING


def test_a_quantity_cut_beyond_tolerance_waits_for_buyer(po, supplier_user):
    submit(po, supplier_user, change(10, quantity=Decimal(90)), accept(20))
    assert AcknowledgementLine.objects.get(line__line_number=10).breaches == [
        "Quantity 90 is 10% below the ordered 100 (tolerance 5%)."
    ]
    assert line(po, 10).ordered_quantity == Decimal(100)


def test_rejecting_a_line_waits_for_buyer(po, supplier_user, reason):
    submit(po, supplier_user, reject(10, note="Discontinued by our vendor"), accept(20))
    answer = AcknowledgementLine.objects.get(line__line_number=10)
    assert (answer.action, answer.outcome, answer.reason_code) == (Action.REJECT, Outcome.PENDING, reason)
    assert answer.note == "Discontinued by our vendor"
    assert line(po, 10).status == LineStatus.REJECTED
    assert line(po, 20).status == LineStatus.ACKNOWLEDGED
    assert fresh(po).status == POStatus.CHANGES_PENDING


# --- acknowledgement: invalid input, nothing written ---------------------------------------


def test_a_split_that_does_not_add_up_is_rejected_and_writes_nothing(po, supplier_user):
    deliveries = [on(po, 10, days=0, quantity="60"), on(po, 10, days=1, quantity="30")]
    with pytest.raises(ValidationError) as excinfo:
        submit(po, supplier_user, change(10, deliveries=deliveries), accept(20))
    assert error_keys(excinfo) == {"lines.10.deliveries"}
    assert "The deliveries add up to 90 but the line quantity is 100." in messages(excinfo, "lines.10.deliveries")
    assert_nothing_written(po)
    assert not AcknowledgementLine.objects.exists()
    assert schedule(po, 10) == []


def test_a_promised_date_in_the_past_is_rejected(po, supplier_user):
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    with pytest.raises(ValidationError) as excinfo:
        submit(po, supplier_user, change(10, deliveries=[Delivery(Decimal(100), yesterday)]), accept(20))
    assert messages(excinfo, "lines.10.deliveries") == f"The promised date {yesterday.isoformat()} is in the past."
    assert_nothing_written(po)


def test_a_negative_price_is_rejected(po, supplier_user):
    with pytest.raises(ValidationError) as excinfo:
        submit(po, supplier_user, change(10, unit_price=Decimal("-1")), accept(20))
    assert excinfo.value.message_dict == {"lines.10.unit_price": ["The unit price cannot be negative."]}
    assert_nothing_written(po)


def test_a_zero_quantity_is_rejected(po, supplier_user):
    with pytest.raises(ValidationError) as excinfo:
        submit(po, supplier_user, change(10, quantity=Decimal(0)), accept(20))
    assert messages(excinfo, "lines.10.quantity") == "The quantity must be more than zero."
    assert_nothing_written(po)


def test_a_delivery_of_nothing_is_rejected(po, supplier_user):
    deliveries = [on(po, 10, days=0, quantity="100"), on(po, 10, days=1, quantity="0")]
    with pytest.raises(ValidationError) as excinfo:
        submit(po, supplier_user, change(10, deliveries=deliveries), accept(20))
    assert "Every delivery needs a quantity above zero." in messages(excinfo, "lines.10.deliveries")


def test_every_invalid_field_is_reported_at_once(po, supplier_user):
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    with pytest.raises(ValidationError) as excinfo:
        submit(
            po,
            supplier_user,
            change(10, unit_price=Decimal("-0.01")),
            change(20, deliveries=[Delivery(Decimal(60), yesterday)]),
        )
    assert error_keys(excinfo) == {"lines.10.unit_price", "lines.20.deliveries"}
    assert_nothing_written(po)


def test_changing_the_quantity_of_a_split_line_needs_its_deliveries(po, supplier_user):
    with pytest.raises(ValidationError) as excinfo:
        submit(po, supplier_user, accept(10), change(20, quantity=Decimal(62)))
    assert messages(excinfo, "lines.20.deliveries") == (
        "The line is split into deliveries: give them for the new quantity."
    )


def test_a_line_not_on_the_po_is_rejected(po, supplier_user):
    with pytest.raises(ValidationError) as excinfo:
        submit(po, supplier_user, accept(10), accept(20), accept(30))
    assert excinfo.value.message_dict == {"lines.30": ["Line 30 is not on purchase order PO-100001."]}
    assert_nothing_written(po)


@pytest.mark.parametrize("status", [LineStatus.CLOSED, LineStatus.CANCELLED])
def test_a_closed_or_cancelled_line_cannot_be_answered(po, supplier_user, status):
    po.lines.filter(line_number=20).update(status=status)
    with pytest.raises(ValidationError) as excinfo:
        submit(po, supplier_user, accept(10), accept(20))
    assert excinfo.value.message_dict == {
        "lines.20": [f"Line 20 is {LineStatus(status).label.lower()}: it awaits no answer."]
    }
    assert line(po, 10).status == LineStatus.ISSUED


def test_a_line_answered_twice_is_rejected(po, supplier_user):
    with pytest.raises(ValidationError) as excinfo:
        submit(po, supplier_user, accept(10), change(10, unit_price=Decimal("12")), accept(20))
    assert excinfo.value.message_dict == {"lines.10": ["Line 10 is answered twice."]}
    assert_nothing_written(po)


def test_every_line_awaiting_an_answer_must_be_answered(po, supplier_user):
    with pytest.raises(ValidationError) as excinfo:
        submit(po, supplier_user, accept(10))
    assert excinfo.value.message_dict == {"lines.20": ["Line 20 needs an answer: accept, reject or change it."]}
    assert_nothing_written(po)


def test_an_unknown_action_is_rejected(po, supplier_user):
    with pytest.raises(ValidationError) as excinfo:
        submit(po, supplier_user, LineDecision(line_number=10, action="maybe"), accept(20))
    assert error_keys(excinfo) == {"lines.10.action"}
    assert "Unknown answer 'maybe'" in messages(excinfo, "lines.10.action")


@pytest.mark.parametrize("code", ["", "NO_SUCH_REASON", "RETIRED"])
def test_a_rejection_needs_an_active_reason_code(po, supplier_user, code):
    ReasonCode.objects.create(code="RETIRED", label="Retired reason", is_active=False)
    with pytest.raises(ValidationError) as excinfo:
        submit(po, supplier_user, reject(10, reason_code=code), accept(20))
    assert excinfo.value.message_dict == {"lines.10.reason_code": ["Choose a reason for rejecting the line."]}
    assert_nothing_written(po)


@pytest.mark.parametrize(
    "values",
    [{}, {"unit_price": Decimal("12.50")}, {"quantity": Decimal("100.000")}],
    ids=["nothing", "same-price", "same-quantity"],
)
def test_a_change_that_changes_nothing_is_rejected(po, supplier_user, values):
    with pytest.raises(ValidationError) as excinfo:
        submit(po, supplier_user, change(10, **values), accept(20))
    assert excinfo.value.message_dict == {"lines.10": ["Line 10: nothing was changed. Accept the line instead."]}


def test_a_po_awaiting_no_answer_refuses_an_acknowledgement(acknowledged_po, supplier_user):
    with pytest.raises(ValidationError) as excinfo:
        submit(acknowledged_po, supplier_user, accept(10), accept(20))
    assert messages(excinfo, "__all__") == "Purchase order PO-100001 is acknowledged: it awaits no answer."
    assert Acknowledgement.objects.count() == 1


def test_a_stale_version_raises_and_writes_nothing(po, supplier_user):
    PurchaseOrder.objects.filter(pk=po.pk).update(version=2)
    with pytest.raises(StaleVersion) as excinfo:
        submit(po, supplier_user, accept(10), accept(20), expected_version=1)
    assert excinfo.value.current_version == 2
    assert excinfo.value.code == "stale_version"
    assert_nothing_written(po, version=2)


# --- acknowledgement: version, events and history ----------------------------------------------


def test_each_service_call_raises_the_version_by_one(po, supplier_user, buyer):
    submit(po, supplier_user, change(10, unit_price=Decimal("13.75")), accept(20))
    assert fresh(po).version == 2
    services.proposal_decide(answer=AcknowledgementLine.objects.get(outcome=Outcome.PENDING), by=buyer, approve=True)
    assert fresh(po).version == 3
    revise(po, buyer, changes=[LineChange(20, unit_price=Decimal(12))])
    assert fresh(po).version == 4
    services.acknowledgement_accept_all(po=po, by=supplier_user, channel=Channel.WEB, expected_version=4)
    assert fresh(po).version == 5


def test_an_acknowledgement_emits_po_acknowledged_with_every_line_outcome(po, supplier_user, reason):
    submit(po, supplier_user, reject(10), accept(20), channel=Channel.API, note="Call me")
    [event] = events("po.acknowledged")
    assert event.priority == OutboxEvent.Priority.CRITICAL
    assert (event.subject_type, event.subject, event.aggregate_key) == (
        "purchase_order",
        "PO-100001",
        "purchase_order:PO-100001",
    )
    assert (event.actor, event.channel) == (supplier_user, Channel.API)
    assert {k: event.data[k] for k in ("po_number", "revision", "version", "status", "note")} == {
        "po_number": "PO-100001",
        "revision": 1,
        "version": 2,
        "status": POStatus.CHANGES_PENDING,
        "note": "Call me",
    }
    assert [
        (entry["line_number"], entry["action"], entry["outcome"], entry["reason_code"]) for entry in event.data["lines"]
    ] == [
        (10, Action.REJECT, Outcome.PENDING, "OUT_OF_STOCK"),
        (20, Action.ACCEPT, Outcome.APPLIED, None),
    ]


def test_only_applied_changes_emit_po_line_changed(po, supplier_user):
    promised = on(po, 10, days=1)
    submit(po, supplier_user, change(10, deliveries=[promised]), change(20, unit_price=Decimal("20")))
    [event] = events("po.line.changed")
    assert event.data["line_number"] == 10
    assert event.data["item_sku"] == line(po, 10).item.sku
    assert event.data["after"]["deliveries"] == [{"quantity": "100", "date": promised.date.isoformat()}]
    assert event.data["before"]["deliveries"][0]["date"] == line(po, 10).need_by_date.isoformat()
    assert event.priority == OutboxEvent.Priority.CRITICAL


@pytest.mark.django_db(transaction=True)
def test_record_event_outside_a_transaction_raises(po):
    with pytest.raises(RuntimeError, match="inside the transaction"):
        record_event("po.acknowledged", subject=po, data={})
    assert not OutboxEvent.objects.exists()


def test_an_acknowledgement_is_recorded_in_history_with_actor_and_channel(po, supplier_user, reason):
    submit(po, supplier_user, reject(10), change(20, unit_price=Decimal(12)), channel=Channel.CSV, note="See note")
    entries = HistoryEntry.objects.filter(po=po).order_by("id")
    assert [(e.action, e.line_number) for e in entries] == [
        ("line.reject", 10),
        ("line.change", 20),
        ("acknowledged", None),
    ]
    assert {(e.actor, e.channel) for e in entries} == {(supplier_user, Channel.CSV)}
    assert entries[2].summary == "Acknowledged revision 1: 1 of 2 lines applied. Note: See note"
    assert entries[1].changes["proposed"]["unit_price"] == "12"


# --- re-acknowledging a revision ---------------------------------------------------


def test_accept_all_answers_only_the_lines_awaiting_an_answer(acknowledged_po, supplier_user, buyer):
    revise(acknowledged_po, buyer, changes=[LineChange(10, unit_price=Decimal(12))])
    ack = services.acknowledgement_accept_all(
        po=acknowledged_po, by=supplier_user, channel=Channel.WEB, expected_version=fresh(acknowledged_po).version
    )
    assert [a.line.line_number for a in ack.lines.all()] == [10]
    assert ack.revision == 2
    assert fresh(acknowledged_po).status == POStatus.ACKNOWLEDGED


def test_accepting_a_price_only_revision_keeps_the_promised_split(acknowledged_po, supplier_user, buyer):
    promised = schedule(acknowledged_po, 20)
    revise(acknowledged_po, buyer, changes=[LineChange(20, unit_price=Decimal(12))])
    submit(acknowledged_po, supplier_user, accept(20))
    assert schedule(acknowledged_po, 20) == promised


def test_accepting_a_revised_quantity_promises_it_whole_on_the_need_by_date(acknowledged_po, supplier_user, buyer):
    new_need_by = line(acknowledged_po, 20).need_by_date + dt.timedelta(days=7)
    revise(acknowledged_po, buyer, changes=[LineChange(20, quantity=Decimal(80), need_by_date=new_need_by)])
    submit(acknowledged_po, supplier_user, accept(20))
    assert schedule(acknowledged_po, 20) == [(Decimal(80), new_need_by)]


def test_re_acknowledging_a_revised_line_clears_its_changes(acknowledged_po, supplier_user, buyer):
    revise(acknowledged_po, buyer, changes=[LineChange(10, unit_price=Decimal(12))])
    assert line(acknowledged_po, 10).revision_changes == {"unit_price": ["12.5", "12"]}
    submit(acknowledged_po, supplier_user, accept(10))
    assert line(acknowledged_po, 10).revision_changes == {}
    assert line(acknowledged_po, 10).status == LineStatus.ACKNOWLEDGED


def test_a_price_change_on_a_line_whose_quantity_the_buyer_changed_is_measured_on_price(
    acknowledged_po, supplier_user, buyer
):
    revise(acknowledged_po, buyer, changes=[LineChange(10, quantity=Decimal(120))])
    submit(acknowledged_po, supplier_user, change(10, unit_price=Decimal("12.60")))
    assert line(acknowledged_po, 10).unit_price == Decimal("12.60")
    assert schedule(acknowledged_po, 10) == [(Decimal(120), line(acknowledged_po, 10).need_by_date)]


# --- buyer decisions --------------------------------------------------------------------


def test_approving_a_change_applies_the_proposed_terms(po, supplier_user, buyer):
    late = on(po, 10, days=6)
    submit(po, supplier_user, change(10, unit_price=Decimal("13.75"), deliveries=[late]), accept(20))
    proposal = AcknowledgementLine.objects.get(line__line_number=10)
    decided = services.proposal_decide(answer=proposal, by=buyer, approve=True)
    assert (decided.outcome, decided.decided_by) == (Outcome.APPROVED, buyer)
    assert decided.decided_at is not None
    approved = line(po, 10)
    assert (approved.status, approved.unit_price) == (LineStatus.ACKNOWLEDGED, Decimal("13.75"))
    assert schedule(po, 10) == [(Decimal(100), late.date)]
    assert approved.original_promised_date == late.date
    assert fresh(po).status == POStatus.ACKNOWLEDGED
    assert fresh(po).acknowledged_at is not None


def test_approving_a_change_emits_line_changed_and_proposal_decided(price_proposal, buyer):
    services.proposal_decide(answer=price_proposal, by=buyer, approve=True)
    [changed] = events("po.line.changed")
    assert (changed.data["line_number"], changed.data["after"]["unit_price"]) == (10, "13.75")
    assert changed.actor == buyer
    [decided] = events("po.proposal.decided")
    assert decided.priority == OutboxEvent.Priority.CRITICAL
    assert (decided.data["po_number"], decided.data["line_number"], decided.data["decision"]) == (
        "PO-100001",
        10,
        Outcome.APPROVED,
    )


def test_declining_needs_a_reason(price_proposal, buyer):
    for blank in ("", "   "):
        with pytest.raises(ValidationError) as excinfo:
            services.proposal_decide(answer=price_proposal, by=buyer, approve=False, reason=blank)
        assert error_keys(excinfo) == {"reason"}
    price_proposal.refresh_from_db()
    assert price_proposal.outcome == Outcome.PENDING
    assert line(price_proposal.line.po, 10).status == LineStatus.CHANGES_PENDING
    assert events("po.proposal.decided") == []


def test_declining_sends_the_line_back_to_the_supplier_with_a_fresh_deadline(price_proposal, buyer, supplier):
    po = price_proposal.line.po
    Supplier.objects.filter(pk=supplier.pk).update(ack_deadline_hours=24)
    stale_mark = timezone.now() - dt.timedelta(days=3)
    PurchaseOrder.objects.filter(pk=po.pk).update(reminder_sent_at=stale_mark, overdue_at=stale_mark)
    before = timezone.now()
    decided = services.proposal_decide(answer=price_proposal, by=buyer, approve=False, reason=" Price is contracted ")
    after = timezone.now()
    assert (decided.outcome, decided.decision_reason) == (Outcome.DECLINED, "Price is contracted")
    assert line(po, 10).status == LineStatus.ISSUED
    assert line(po, 10).unit_price == Decimal("12.5")
    po = fresh(po)
    assert po.status == POStatus.ISSUED
    assert before + dt.timedelta(hours=24) <= po.acknowledgement_due <= after + dt.timedelta(hours=24)
    assert (po.reminder_sent_at, po.overdue_at) == (None, None)
    assert events("po.line.changed") == []
    assert events("po.proposal.decided")[0].data["reason"] == "Price is contracted"


def test_a_declined_line_can_be_answered_again(price_proposal, buyer, supplier_user):
    po = price_proposal.line.po
    services.proposal_decide(answer=price_proposal, by=buyer, approve=False, reason="Contract price")
    submit(po, supplier_user, change(10, unit_price=Decimal("12.70")))
    assert line(po, 10).unit_price == Decimal("12.70")
    assert fresh(po).status == POStatus.ACKNOWLEDGED


def test_approving_a_rejection_cancels_the_line(rejection, buyer):
    po = rejection.line.po
    services.proposal_decide(answer=rejection, by=buyer, approve=True)
    assert line(po, 10).status == LineStatus.CANCELLED
    assert fresh(po).status == POStatus.ACKNOWLEDGED
    assert events("po.line.changed") == []
    assert events("po.proposal.decided")[0].data["action"] == Action.REJECT


def test_approving_the_rejection_of_every_line_cancels_the_po(po, supplier_user, buyer, reason):
    submit(po, supplier_user, reject(10), reject(20))
    for answer in AcknowledgementLine.objects.all():
        services.proposal_decide(answer=answer, by=buyer, approve=True)
    assert fresh(po).status == POStatus.CANCELLED
    assert set(po.lines.values_list("status", flat=True)) == {LineStatus.CANCELLED}


def test_declining_a_rejection_asks_the_supplier_again(rejection, buyer):
    services.proposal_decide(answer=rejection, by=buyer, approve=False, reason="We need these")
    assert line(rejection.line.po, 10).status == LineStatus.ISSUED
    assert fresh(rejection.line.po).status == POStatus.ISSUED


@pytest.mark.parametrize("first", [True, False], ids=["approved", "declined"])
def test_a_proposal_cannot_be_decided_twice(price_proposal, buyer, first):
    services.proposal_decide(answer=price_proposal, by=buyer, approve=first, reason="No")
    version = fresh(price_proposal.line.po).version
    with pytest.raises(ValidationError) as excinfo:
        services.proposal_decide(answer=price_proposal, by=buyer, approve=not first, reason="Changed my mind")
    assert messages(excinfo, "__all__").startswith("This proposal was already ")
    assert fresh(price_proposal.line.po).version == version
    assert len(events("po.proposal.decided")) == 1


def test_an_applied_answer_is_no_proposal_to_decide(po, supplier_user, buyer):
    submit(po, supplier_user, accept(10), accept(20))
    with pytest.raises(ValidationError, match="already applied"):
        services.proposal_decide(answer=AcknowledgementLine.objects.first(), by=buyer, approve=True)


def test_the_decision_mail_reaches_the_supplier(price_proposal, buyer, eager_mail, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.proposal_decide(answer=price_proposal, by=buyer, approve=False, reason="Contract price")
    assert len(mails(callbacks)) == 1  # one mail for Alice, ACME's only user
    [message] = mail.outbox
    assert message.to == ["alice@example.com"]
    assert message.subject == "[Supplyline] PO-100001 line 10: the buyer declined your change"
    assert "Their reason: Contract price" in message.body
    assert "/pos/PO-100001/" in message.body


def test_a_decision_is_recorded_in_history_with_the_buyer(price_proposal, buyer):
    services.proposal_decide(answer=price_proposal, by=buyer, approve=False, reason="Too dear", channel=Channel.API)
    entry = HistoryEntry.objects.filter(action="proposal.decided").get()
    assert (entry.actor, entry.channel, entry.line_number) == (buyer, Channel.API, 10)
    assert "line 10: Too dear" in entry.summary


def test_a_declined_line_can_be_answered_while_another_proposal_is_pending(po, supplier_user, buyer, reason):
    submit(po, supplier_user, change(10, unit_price=Decimal("13.75")), reject(20))
    proposal = AcknowledgementLine.objects.get(line__line_number=10)
    services.proposal_decide(answer=proposal, by=buyer, approve=False, reason="Contract price")
    submit(po, supplier_user, accept(10))
    assert line(po, 10).status == LineStatus.ACKNOWLEDGED


# --- change orders -----------------------------------------------------------------


def test_a_change_order_raises_the_revision_and_asks_for_a_new_answer(acknowledged_po, buyer, supplier):
    po = acknowledged_po
    Supplier.objects.filter(pk=supplier.pk).update(ack_deadline_hours=72)
    PurchaseOrder.objects.filter(pk=po.pk).update(reminder_sent_at=timezone.now(), overdue_at=timezone.now())
    old_need_by = line(po, 10).need_by_date
    new_need_by = old_need_by + dt.timedelta(days=7)
    before = timezone.now()
    revise(po, buyer, changes=[LineChange(10, quantity=Decimal(120), need_by_date=new_need_by)])
    after = timezone.now()
    changed = line(po, 10)
    assert (changed.status, changed.ordered_quantity, changed.need_by_date) == (
        LineStatus.REVISED,
        Decimal(120),
        new_need_by,
    )
    assert changed.revision_changes == {
        "quantity": ["100", "120"],
        "need_by_date": [old_need_by.isoformat(), new_need_by.isoformat()],
    }
    assert line(po, 20).status == LineStatus.ACKNOWLEDGED
    po = fresh(po)
    assert (po.status, po.revision) == (POStatus.REVISED, 2)
    assert before + dt.timedelta(hours=72) <= po.acknowledgement_due <= after + dt.timedelta(hours=72)
    assert (po.reminder_sent_at, po.overdue_at) == (None, None)


def test_a_change_order_emits_po_revised_with_the_diff(acknowledged_po, buyer):
    revise(acknowledged_po, buyer, changes=[LineChange(20, unit_price=Decimal("11.9"))], cancellations=[10])
    [event] = events("po.revised")
    assert (event.actor, event.channel, event.subject) == (buyer, Channel.WEB, "PO-100001")
    assert event.data == {
        "po_number": "PO-100001",
        "revision": 2,
        "version": 3,
        "lines": [
            {"line_number": 20, "change": "changed", "fields": {"unit_price": ["12.5", "11.9"]}},
            {"line_number": 10, "change": "cancelled", "fields": {}},
        ],
    }


def test_a_change_order_is_recorded_in_history_with_actor_and_channel(acknowledged_po):
    revise(acknowledged_po, None, changes=[LineChange(20, unit_price=Decimal("11.9"))], channel=Channel.ERP)
    entry = HistoryEntry.objects.get(action="revised")
    assert (entry.actor, entry.channel, entry.summary) == (None, Channel.ERP, "Revision 2: 1 line changed.")
    assert entry.changes["lines"][0]["line_number"] == 20


def test_a_change_order_supersedes_pending_proposals_on_changed_lines(price_proposal, buyer):
    po = price_proposal.line.po
    revise(po, buyer, changes=[LineChange(10, unit_price=Decimal("13"))])
    price_proposal.refresh_from_db()
    assert price_proposal.outcome == Outcome.SUPERSEDED
    assert line(po, 10).status == LineStatus.REVISED
    assert fresh(po).status == POStatus.REVISED
    with pytest.raises(ValidationError, match="already superseded"):
        services.proposal_decide(answer=price_proposal, by=buyer, approve=True)


def test_a_change_order_leaves_proposals_on_other_lines_pending(po, supplier_user, buyer):
    submit(po, supplier_user, change(10, unit_price=Decimal("13.75")), accept(20))
    revise(po, buyer, changes=[LineChange(20, unit_price=Decimal("12"))])
    assert AcknowledgementLine.objects.get(line__line_number=10).outcome == Outcome.PENDING


def test_an_added_line_takes_the_next_multiple_of_ten(acknowledged_po, buyer):
    need_by = timezone.localdate() + dt.timedelta(days=30)
    first, second = ItemFactory.create(sku="SKU-NEW-1"), ItemFactory.create(sku="SKU-NEW-2")
    revise(
        acknowledged_po,
        buyer,
        additions=[
            NewLine(item_sku=first.sku, quantity=Decimal(5), unit_price=Decimal(3), need_by_date=need_by),
            NewLine(item_sku=second.sku, quantity=Decimal(7), unit_price=Decimal(4), need_by_date=need_by),
        ],
    )
    added = line(acknowledged_po, 30)
    assert (added.item, added.status, added.revision_changes) == (first, LineStatus.REVISED, {"added": [None, True]})
    assert line(acknowledged_po, 40).item == second
    assert fresh(acknowledged_po).status == POStatus.REVISED
    assert events("po.revised")[0].data["lines"][0]["fields"]["item_sku"] == [None, "SKU-NEW-1"]


def test_a_cancelled_line_is_cancelled(acknowledged_po, buyer):
    revise(acknowledged_po, buyer, cancellations=[20])
    cancelled = line(acknowledged_po, 20)
    assert (cancelled.status, cancelled.revision_changes) == (LineStatus.CANCELLED, {"cancelled": [False, True]})
    assert fresh(acknowledged_po).status == POStatus.ACKNOWLEDGED
    assert fresh(acknowledged_po).revision == 2


def test_cancelling_every_line_cancels_the_po(po, buyer):
    revise(po, buyer, cancellations=[10, 20])
    assert fresh(po).status == POStatus.CANCELLED


def test_a_change_order_that_changes_nothing_is_refused(acknowledged_po, buyer):
    same = line(acknowledged_po, 10)
    with pytest.raises(ValidationError) as excinfo:
        revise(
            acknowledged_po,
            buyer,
            changes=[LineChange(10, quantity=same.ordered_quantity, need_by_date=same.need_by_date)],
        )
    assert excinfo.value.message_dict == {"__all__": ["The change order changes nothing."]}
    assert fresh(acknowledged_po).revision == 1
    assert events("po.revised") == []


def test_a_need_by_date_in_the_past_is_refused(acknowledged_po, buyer):
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    with pytest.raises(ValidationError) as excinfo:
        revise(acknowledged_po, buyer, changes=[LineChange(10, need_by_date=yesterday)])
    assert excinfo.value.message_dict == {
        "lines.10.need_by_date": [f"The need-by date {yesterday.isoformat()} is in the past."]
    }
    assert line(acknowledged_po, 10).status == LineStatus.ACKNOWLEDGED


def test_a_change_order_refuses_bad_quantities_prices_and_unknown_lines(acknowledged_po, buyer):
    with pytest.raises(ValidationError) as excinfo:
        revise(
            acknowledged_po,
            buyer,
            changes=[LineChange(10, quantity=Decimal(0)), LineChange(20, unit_price=Decimal(-1))],
            cancellations=[90],
        )
    assert error_keys(excinfo) == {"lines.10.quantity", "lines.20.unit_price", "lines.90"}
    assert fresh(acknowledged_po).version == 2


@pytest.mark.parametrize("status", [POStatus.CLOSED, POStatus.CANCELLED, POStatus.SHIPPED])
def test_a_finished_po_cannot_change(acknowledged_po, buyer, status):
    PurchaseOrder.objects.filter(pk=acknowledged_po.pk).update(status=status)
    with pytest.raises(ValidationError) as excinfo:
        revise(acknowledged_po, buyer, changes=[LineChange(10, unit_price=Decimal(1))])
    assert "it cannot change" in messages(excinfo, "__all__")
    assert line(acknowledged_po, 10).unit_price == Decimal("12.5")


def test_a_cancelled_line_cannot_change(acknowledged_po, buyer):
    revise(acknowledged_po, buyer, cancellations=[20])
    with pytest.raises(ValidationError) as excinfo:
        revise(acknowledged_po, buyer, changes=[LineChange(20, unit_price=Decimal(1))])
    assert excinfo.value.message_dict == {"lines.20": ["Line 20 is cancelled: it cannot change."]}


def test_a_change_order_with_a_stale_version_writes_nothing(acknowledged_po, buyer):
    with pytest.raises(StaleVersion):
        services.change_order_issue(
            po=acknowledged_po, by=buyer, expected_version=1, changes=[LineChange(10, unit_price=Decimal(1))]
        )
    assert fresh(acknowledged_po).revision == 1
    assert events("po.revised") == []


def test_the_supplier_is_told_of_a_change_order(acknowledged_po, buyer, eager_mail, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        revise(acknowledged_po, buyer, changes=[LineChange(10, unit_price=Decimal(12))])
    assert len(mails(callbacks)) == 1
    [message] = mail.outbox
    assert message.to == ["alice@example.com"]
    assert message.subject == "[Supplyline] Purchase order PO-100001 changed (revision 2): please acknowledge again"


def test_a_line_revised_while_another_proposal_is_pending_can_be_answered(po, supplier_user, buyer, reason):
    submit(po, supplier_user, change(10, unit_price=Decimal("13.75")), reject(20))
    revise(po, buyer, changes=[LineChange(10, unit_price=Decimal("13"))])
    submit(po, supplier_user, accept(10))
    assert line(po, 10).status == LineStatus.ACKNOWLEDGED


def test_two_change_orders_before_an_answer_keep_both_changes(acknowledged_po, supplier_user, buyer):
    po = acknowledged_po
    old_need_by = line(po, 20).need_by_date
    new_need_by = old_need_by + dt.timedelta(days=14)
    revise(po, buyer, changes=[LineChange(20, need_by_date=new_need_by)])
    revise(po, buyer, changes=[LineChange(20, unit_price=Decimal(12))])
    assert set(line(po, 20).revision_changes) == {"need_by_date", "unit_price"}
    submit(po, supplier_user, accept(20))
    assert {date for _, date in schedule(po, 20)} == {new_need_by}


def test_an_added_line_after_an_odd_given_number_takes_a_multiple_of_ten(acknowledged_po, buyer):
    need_by = timezone.localdate() + dt.timedelta(days=30)
    item = ItemFactory.create()
    revise(
        acknowledged_po,
        buyer,
        additions=[
            NewLine(
                item_sku=item.sku, quantity=Decimal(1), unit_price=Decimal(1), need_by_date=need_by, line_number=35
            ),
            NewLine(item_sku=item.sku, quantity=Decimal(1), unit_price=Decimal(1), need_by_date=need_by),
        ],
    )
    assert sorted(acknowledged_po.lines.values_list("line_number", flat=True)) == [10, 20, 35, 40]


# --- new purchase orders -------------------------------------------------------------


@pytest.fixture
def issue(supplier, buyer):
    site = SiteFactory.create(code="WH01")
    need_by = timezone.localdate() + dt.timedelta(days=20)
    items = [ItemFactory.create(sku="SKU-A"), ItemFactory.create(sku="SKU-B")]

    def issue_po(number="PO-200001", erp_id="ERP-200001", lines=None):
        if lines is None:
            lines = [
                NewLine(item_sku=item.sku, quantity=Decimal(10), unit_price=Decimal(2), need_by_date=need_by)
                for item in items
            ]
        return services.purchase_order_issue(
            number=number,
            erp_id=erp_id,
            supplier=supplier,
            buyer=buyer,
            site=site,
            order_date=timezone.localdate(),
            lines=lines,
        )

    return issue_po


def test_issuing_a_po_creates_lines_awaiting_an_answer(issue, supplier, supplier_user):
    before = timezone.now()
    po = issue()
    assert (po.status, po.revision, po.version, po.supplier) == (POStatus.ISSUED, 1, 1, supplier)
    assert list(po.lines.values_list("line_number", "item__sku", "status")) == [
        (10, "SKU-A", LineStatus.ISSUED),
        (20, "SKU-B", LineStatus.ISSUED),
    ]
    assert before + dt.timedelta(hours=48) <= po.acknowledgement_due <= timezone.now() + dt.timedelta(hours=48)
    [event] = events("po.issued")
    assert (event.subject, event.channel) == ("PO-200001", Channel.ERP)
    assert event.data == {"po_number": "PO-200001", "supplier": "ACME", "lines": 2}
    entry = HistoryEntry.objects.get(po=po)
    assert (entry.action, entry.channel, entry.actor) == ("issued", Channel.ERP, None)


def test_the_supplier_is_told_of_a_new_po(issue, supplier_user, eager_mail, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        issue()
    assert len(mails(callbacks)) == 1
    [message] = mail.outbox
    assert message.to == ["alice@example.com"]
    assert message.subject.startswith("[Supplyline] New purchase order PO-200001: please acknowledge by ")
    assert message.alternatives[0][1] == "text/html"


def test_issuing_refuses_a_duplicate_number_or_erp_id(issue):
    issue()
    with pytest.raises(ValidationError) as excinfo:
        issue()
    assert error_keys(excinfo) == {"number", "erp_id"}
    assert PurchaseOrder.objects.count() == 1
    assert len(events("po.issued")) == 1


def test_issuing_refuses_a_po_without_lines(issue):
    with pytest.raises(ValidationError) as excinfo:
        issue(lines=[])
    assert excinfo.value.message_dict == {"lines": ["A purchase order needs at least one line."]}
    assert not PurchaseOrder.objects.exists()


def test_issuing_refuses_bad_lines_and_writes_nothing(issue):
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    with pytest.raises(ValidationError) as excinfo:
        issue(
            lines=[
                NewLine(item_sku="NO-SUCH-SKU", quantity=Decimal(1), unit_price=Decimal(1), need_by_date=yesterday),
                NewLine(item_sku="SKU-A", quantity=Decimal(0), unit_price=Decimal(-1), need_by_date=yesterday),
            ]
        )
    assert error_keys(excinfo) == {
        "additions.0.item_sku",
        "additions.0.need_by_date",
        "additions.1.quantity",
        "additions.1.unit_price",
        "additions.1.need_by_date",
    }
    assert not PurchaseOrder.objects.exists()
    assert not OutboxEvent.objects.exists()


def test_issuing_refuses_two_lines_with_the_same_number(issue):
    need_by = timezone.localdate() + dt.timedelta(days=20)
    with pytest.raises(ValidationError):
        issue(
            lines=[
                NewLine(
                    item_sku="SKU-A", quantity=Decimal(1), unit_price=Decimal(1), need_by_date=need_by, line_number=1
                ),
                NewLine(
                    item_sku="SKU-B", quantity=Decimal(1), unit_price=Decimal(1), need_by_date=need_by, line_number=1
                ),
            ]
        )
    assert not PurchaseOrder.objects.exists()


# --- who gets mail --------------------------------------------------------------------


def member(supplier, role, **kwargs):
    user = UserFactory.create(email=f"{role}-{supplier.code.lower()}@example.com")
    SupplierMembershipFactory.create(user=user, supplier=supplier, role=role, **kwargs)
    return user


@pytest.mark.parametrize("kind", NotificationKind.values)
def test_admins_and_the_order_desk_get_mail_and_shipping_and_viewers_do_not(po, supplier, outsider, kind):
    admin, desk = member(supplier, Role.ADMIN), member(supplier, Role.ORDER_DESK)
    member(supplier, Role.SHIPPING)
    member(supplier, Role.VIEWER)
    # outsider: BOLT's admin, who never hears of ACME's orders
    assert set(notifications.recipients(po, kind)) == {admin, desk}


def test_a_user_who_opted_out_gets_no_mail_of_that_kind(po, supplier):
    desk = member(supplier, Role.ORDER_DESK)
    NotificationOptOut.objects.create(user=desk, kind=NotificationKind.PO_CHANGED)
    assert desk not in notifications.recipients(po, NotificationKind.PO_CHANGED)
    assert desk in notifications.recipients(po, NotificationKind.PO_NEW)


def test_inactive_memberships_and_users_get_no_mail(po, supplier):
    member(supplier, Role.ADMIN, is_active=False)
    gone = member(supplier, Role.ORDER_DESK)
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    assert notifications.recipients(po, NotificationKind.PO_NEW) == []


def test_users_of_an_inactive_supplier_get_no_mail(po, supplier, supplier_user):
    Supplier.objects.filter(pk=supplier.pk).update(status=Supplier.Status.INACTIVE)
    assert notifications.recipients(po, NotificationKind.PO_NEW) == []


def test_one_mail_is_queued_per_recipient(
    acknowledged_po, supplier, supplier_user, buyer, eager_mail, django_capture_on_commit_callbacks
):
    desk = member(supplier, Role.ORDER_DESK)
    member(supplier, Role.SHIPPING)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        revise(acknowledged_po, buyer, cancellations=[20])
    assert len(mails(callbacks)) == 2
    assert sorted(m.to[0] for m in mail.outbox) == sorted([supplier_user.email, desk.email])


# --- acknowledgement deadlines ---------------------------------------------------------------


NOW = dt.datetime(2030, 5, 6, 9, 0, tzinfo=dt.UTC)


def due_po(supplier, hours: float, **kwargs) -> PurchaseOrder:
    return PurchaseOrderFactory.create(supplier=supplier, acknowledgement_due=NOW + dt.timedelta(hours=hours), **kwargs)


def test_the_sweep_reminds_once_before_the_deadline(supplier, supplier_user, django_capture_on_commit_callbacks):
    soon = due_po(supplier, hours=6)
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.acknowledgement_deadlines_sweep(now=NOW) == (1, 0)
    assert len(mails(callbacks)) == 1
    assert fresh(soon).reminder_sent_at == NOW
    assert fresh(soon).overdue_at is None
    assert services.acknowledgement_deadlines_sweep(now=NOW + dt.timedelta(hours=1)) == (0, 0)


def test_the_sweep_reminds_only_within_the_reminder_window(supplier, supplier_user):
    later = due_po(supplier, hours=13)
    assert services.acknowledgement_deadlines_sweep(now=NOW) == (0, 0)
    assert fresh(later).reminder_sent_at is None
    assert services.acknowledgement_deadlines_sweep(now=NOW + dt.timedelta(hours=1)) == (1, 0)


def test_the_sweep_marks_an_overdue_po_once(supplier, supplier_user, django_capture_on_commit_callbacks):
    late = due_po(supplier, hours=-1, number="PO-300001")
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.acknowledgement_deadlines_sweep(now=NOW) == (0, 1)
    assert len(mails(callbacks)) == 1
    assert fresh(late).overdue_at == NOW
    entry = HistoryEntry.objects.get(po=late)
    assert (entry.action, entry.channel, entry.actor) == ("overdue", Channel.SYSTEM, None)
    [event] = events("po.acknowledgement.overdue")
    assert event.data == {"po_number": "PO-300001", "due": (NOW - dt.timedelta(hours=1)).isoformat()}
    assert services.acknowledgement_deadlines_sweep(now=NOW + dt.timedelta(hours=5)) == (0, 0)
    assert HistoryEntry.objects.count() == 1
    assert len(events("po.acknowledgement.overdue")) == 1


def test_the_overdue_mail_says_so(supplier, supplier_user, eager_mail, django_capture_on_commit_callbacks):
    due_po(supplier, hours=-1, number="PO-300002")
    with django_capture_on_commit_callbacks(execute=True):
        services.acknowledgement_deadlines_sweep(now=NOW)
    [message] = mail.outbox
    assert message.subject == "[Supplyline] Overdue: acknowledge purchase order PO-300002"


@pytest.mark.parametrize("status", [POStatus.ACKNOWLEDGED, POStatus.CHANGES_PENDING, POStatus.CANCELLED])
def test_the_sweep_ignores_pos_awaiting_no_acknowledgement(supplier, supplier_user, status):
    due_po(supplier, hours=-1, status=status)
    due_po(supplier, hours=6, status=status)
    assert services.acknowledgement_deadlines_sweep(now=NOW) == (0, 0)
    assert not HistoryEntry.objects.exists()
    assert not OutboxEvent.objects.exists()


def test_a_revised_po_is_swept_like_a_new_one(supplier, supplier_user):
    due_po(supplier, hours=-2, status=POStatus.REVISED)
    due_po(supplier, hours=2, status=POStatus.REVISED)
    assert services.acknowledgement_deadlines_sweep(now=NOW) == (1, 1)


def test_an_erp_revision_number_is_kept_even_when_it_skips(po):
    services.change_order_issue(
        po=po,
        by=None,
        expected_version=None,
        changes=[services.LineChange(10, quantity=Decimal(7))],
        channel="erp",
        revision=5,
    )
    po.refresh_from_db()
    assert po.revision == 5
    event = OutboxEvent.objects.get(type="supplyline.po.revised.v1")
    assert event.data["revision"] == 5
    with pytest.raises(ValidationError) as excinfo:
        services.change_order_issue(
            po=po, by=None, expected_version=None, changes=[services.LineChange(10, quantity=Decimal(8))], revision=5
        )
    assert "revision" in excinfo.value.message_dict


def test_a_proposal_whose_date_has_passed_cannot_be_approved(po, supplier_user, buyer, reason):
    later = timezone.localdate() + dt.timedelta(days=40)
    submit(po, supplier_user, LineDecision(10, "change", deliveries=(Delivery(Decimal(100), later),)), accept(20))
    answer = AcknowledgementLine.objects.get(line__line_number=10)
    stale = {**answer.proposed, "deliveries": [{"quantity": "100", "date": "2020-01-01"}]}
    AcknowledgementLine.objects.filter(pk=answer.pk).update(proposed=stale)
    with pytest.raises(ValidationError, match="2020-01-01 has passed"):
        services.proposal_decide(answer=answer, by=buyer, approve=True)
    answer.refresh_from_db()
    assert answer.outcome == Outcome.PENDING
