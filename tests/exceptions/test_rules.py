"""The exception rules, driven by the real services, with their events delivered by the integration engine."""

import datetime as dt
from decimal import Decimal

import pytest
from celery import current_app
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from exceptions.models import CaseActivity, CaseStatus, CaseType, ExceptionCase, ResolutionCode, RuleSetting
from exceptions.rules import on_notice_event, on_po_event, rules_sweep
from exceptions.services import case_resolve
from planning_sync import delivery
from planning_sync.envelope import cloudevent
from planning_sync.models import Connector, Delivery, OutboxEvent, Subscription
from purchasing.inbound import purchase_order_import, receipt_import
from purchasing.models import AcknowledgementLine, ReasonCode, ShipmentNotice
from purchasing.services import (
    LineChange,
    LineDecision,
    acknowledgement_deadlines_sweep,
    change_order_issue,
    proposal_decide,
)
from purchasing.services.shipments import shipment_notice_cancel
from tests.exceptions.factories import (
    NEED_BY,
    answer,
    case_of,
    issued_po,
    kinds,
    line_of,
    promise,
    replay_rules,
    rules_connector,
    run_rules,
    ship,
)
from tests.factories import PurchaseOrderLineFactory, ScheduleLineFactory
from tests.planning_sync.receiver import Receiver

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("portal_defaults")]


@pytest.fixture(autouse=True)
def _rules_connector(db):
    rules_connector()


@pytest.fixture
def reason(db) -> ReasonCode:
    return ReasonCode.objects.get_or_create(code="OUT_OF_STOCK", defaults={"label": "Out of stock"})[0]


def pending_answer(po, line_number: int) -> AcknowledgementLine:
    return AcknowledgementLine.objects.get(line__po=po, line__line_number=line_number, outcome="pending")


# --- promise after need-by ---------------------------------------------------------------------


def test_a_promise_after_need_by_opens_a_case_for_the_line(supplier, supplier_user, buyer):
    po = issued_po(supplier)
    answer(po, supplier_user, promise(10, 2))  # within the 2 days' tolerance: applied at once
    run_rules()
    case = case_of("promise_after_need:PO-100001:10")
    assert case.type == CaseType.PROMISE_AFTER_NEED
    assert case.status == CaseStatus.OPEN
    assert (case.po, case.po_line.line_number, case.supplier, case.assignee) == (po, 10, supplier, buyer)
    assert case.title == "PO-100001 line 10 promised 2 days after need-by"
    assert case.details["promised_date"] == (NEED_BY + dt.timedelta(days=2)).isoformat()
    assert case.details["days_late"] == "2"
    assert case.details["source"] == "schedule"
    assert not ExceptionCase.objects.filter(dedupe_key="promise_after_need:PO-100001:20").exists()


def test_a_pending_proposal_after_need_by_opens_a_case_from_the_proposed_date(supplier, supplier_user):
    po = issued_po(supplier)
    answer(po, supplier_user, promise(10, 10))  # beyond tolerance: waits for the buyer
    run_rules()
    case = case_of("promise_after_need:PO-100001:10")
    assert case.details["source"] == "proposal"
    assert case.details["days_late"] == "10"
    assert "pending the buyer's review" in case.summary


def test_the_same_late_promise_seen_again_keeps_one_case(supplier, supplier_user):
    po = issued_po(supplier)
    answer(po, supplier_user, promise(10, 2))  # records po.line.changed and po.acknowledged: both evaluate
    run_rules()
    replay_rules()
    case = case_of("promise_after_need:PO-100001:10")
    assert kinds(case) == ["opened"]


def test_a_later_need_by_still_before_the_promise_updates_the_case(supplier, supplier_user, buyer):
    po = issued_po(supplier)
    answer(po, supplier_user, promise(10, 2))
    run_rules()
    change_order_issue(
        po=po,
        by=buyer,
        expected_version=None,
        changes=[LineChange(line_number=10, need_by_date=NEED_BY + dt.timedelta(days=1))],
    )
    run_rules()
    case = case_of("promise_after_need:PO-100001:10")
    assert case.status == CaseStatus.OPEN
    assert case.details["days_late"] == "1"
    assert kinds(case) == ["opened", "updated"]


def test_a_need_by_moved_past_the_promise_resolves_the_case(supplier, supplier_user, buyer):
    po = issued_po(supplier)
    answer(po, supplier_user, promise(10, 2))
    run_rules()
    change_order_issue(
        po=po,
        by=buyer,
        expected_version=None,
        changes=[LineChange(line_number=10, need_by_date=NEED_BY + dt.timedelta(days=5))],
    )
    run_rules()
    case = case_of("promise_after_need:PO-100001:10")
    assert case.status == CaseStatus.RESOLVED
    assert case.resolution_code == ResolutionCode.CLEARED
    assert kinds(case) == ["opened", "cleared"]
    assert "is now promised for" in case.activities.get(kind="cleared").note


def test_a_threshold_for_the_supplier_lets_small_delays_pass(supplier, supplier_user):
    RuleSetting.objects.create(rule=CaseType.PROMISE_AFTER_NEED, supplier=supplier, threshold=Decimal(3))
    po = issued_po(supplier)
    answer(po, supplier_user, promise(10, 2))
    run_rules()
    assert not ExceptionCase.objects.exists()


def test_switching_the_rule_off_clears_its_open_case(supplier, supplier_user):
    po = issued_po(supplier)
    answer(po, supplier_user, promise(10, 2))
    run_rules()
    RuleSetting.objects.create(rule=CaseType.PROMISE_AFTER_NEED, supplier=supplier, is_enabled=False)
    replay_rules()  # the condition still holds, but nobody wants to hear of it
    case = case_of("promise_after_need:PO-100001:10")
    assert (case.status, case.resolution_code) == (CaseStatus.RESOLVED, ResolutionCode.CLEARED)
    assert case.resolution_note == "The rule is switched off for this supplier and site."
    assert kinds(case) == ["opened", "cleared"]


def test_a_case_a_buyer_accepted_is_not_reopened_for_the_same_promise(supplier, supplier_user, buyer):
    po = issued_po(supplier)
    answer(po, supplier_user, promise(10, 2))
    run_rules()
    case = case_of("promise_after_need:PO-100001:10")
    case_resolve(case_id=case.pk, code=ResolutionCode.ACCEPTED, by=buyer)
    change_order_issue(
        po=po, by=buyer, expected_version=None, changes=[LineChange(line_number=20, quantity=Decimal(60))]
    )
    run_rules()  # the whole PO is evaluated again
    assert ExceptionCase.objects.filter(type=CaseType.PROMISE_AFTER_NEED).count() == 1


def queries_to_handle(po) -> int:
    event = OutboxEvent.objects.get(subject=po.number, type="supplyline.po.acknowledged.v1")
    with CaptureQueriesContext(connection) as queries:
        on_po_event(cloudevent(event))  # this rule's handler alone (supply risk handles the event too)
    return len(queries.captured_queries)


def test_a_po_event_costs_as_many_queries_for_20_lines_as_for_2(supplier, supplier_user):
    small = issued_po(supplier, "PO-1", (10, "5", "1.00"), (20, "5", "1.00"))
    large = issued_po(supplier, "PO-2", *[(n * 10, "5", "1.00") for n in range(1, 21)])
    answer(small, supplier_user)
    answer(large, supplier_user)
    assert queries_to_handle(small) == queries_to_handle(large)


def test_a_po_event_reads_the_rule_settings_once_for_all_its_rules(supplier, supplier_user):
    """Every rule of the event (promise, quantity, price, proposal...) is set for the same supplier and site."""
    RuleSetting.objects.create(rule=CaseType.PROMISE_AFTER_NEED, supplier=supplier, threshold=Decimal(3))
    po = issued_po(supplier)
    answer(po, supplier_user, promise(10, 2))
    event = OutboxEvent.objects.get(subject=po.number, type="supplyline.po.acknowledged.v1")
    with CaptureQueriesContext(connection) as queries:
        on_po_event(cloudevent(event))
    reads = [q["sql"] for q in queries.captured_queries if 'FROM "exceptions_rulesetting"' in q["sql"]]
    assert len(reads) == 1
    assert not ExceptionCase.objects.filter(type=CaseType.PROMISE_AFTER_NEED).exists()  # the override applied


# --- quantity short ------------------------------------------------------------------------------


def test_a_quantity_cut_beyond_tolerance_opens_a_case(supplier, supplier_user):
    po = issued_po(supplier)
    answer(po, supplier_user, LineDecision(line_number=10, action="change", quantity=Decimal(80)))
    run_rules()
    case = case_of("quantity_short:PO-100001:10")
    assert case.title == "PO-100001 line 10: 80 of 100 offered"
    assert (case.details["ordered_quantity"], case.details["offered_quantity"], case.details["short_pct"]) == (
        "100",
        "80",
        "20",
    )
    assert case.po_line.line_number == 10


def test_a_rejected_line_opens_a_quantity_short_case(supplier, supplier_user, reason):
    po = issued_po(supplier)
    answer(po, supplier_user, LineDecision(line_number=20, action="reject", reason_code="OUT_OF_STOCK"))
    run_rules()
    case = case_of("quantity_short:PO-100001:20")
    assert case.title == "PO-100001 line 20 rejected"
    assert "Out of stock" in case.summary
    assert case.details["offered_quantity"] == "0"


def test_the_same_shortfall_twice_keeps_one_case(supplier, supplier_user):
    po = issued_po(supplier)
    answer(po, supplier_user, LineDecision(line_number=10, action="change", quantity=Decimal(80)))
    run_rules()
    replay_rules()
    assert ExceptionCase.objects.filter(type=CaseType.QUANTITY_SHORT).count() == 1
    assert kinds(case_of("quantity_short:PO-100001:10")) == ["opened"]


def test_the_buyer_approving_the_shortfall_resolves_the_case(supplier, supplier_user, buyer):
    po = issued_po(supplier)
    answer(po, supplier_user, LineDecision(line_number=10, action="change", quantity=Decimal(80)))
    run_rules()
    proposal_decide(answer=pending_answer(po, 10), by=buyer, approve=True)
    run_rules()
    case = case_of("quantity_short:PO-100001:10")
    assert (case.status, case.resolution_code) == (CaseStatus.RESOLVED, ResolutionCode.CLEARED)
    assert "the ordered 80 stands" in case.activities.get(kind="cleared").note


def test_the_buyer_declining_a_rejection_resolves_the_case(supplier, supplier_user, buyer, reason):
    po = issued_po(supplier)
    answer(po, supplier_user, LineDecision(line_number=20, action="reject", reason_code="OUT_OF_STOCK"))
    run_rules()
    proposal_decide(answer=pending_answer(po, 20), by=buyer, approve=False, reason="Ship the substitute.")
    run_rules()
    assert case_of("quantity_short:PO-100001:20").status == CaseStatus.RESOLVED


# --- price beyond tolerance ----------------------------------------------------------------------


def test_a_price_rise_beyond_tolerance_opens_a_case(supplier, supplier_user):
    po = issued_po(supplier)
    answer(po, supplier_user, LineDecision(line_number=10, action="change", unit_price=Decimal("11.00")))
    run_rules()
    case = case_of("price_out_of_tolerance:PO-100001:10")
    assert case.details["change_pct"] == "10"
    assert case.details["tolerance_pct"] == "2"
    assert case.details["over_by_points"] == "8"
    assert "11 instead of 10" in case.summary


def test_a_price_case_needs_more_than_the_threshold_beyond_tolerance(supplier, supplier_user):
    RuleSetting.objects.create(rule=CaseType.PRICE_OUT_OF_TOLERANCE, threshold=Decimal(8))
    po = issued_po(supplier)
    answer(po, supplier_user, LineDecision(line_number=10, action="change", unit_price=Decimal("11.00")))
    run_rules()
    assert not ExceptionCase.objects.filter(type=CaseType.PRICE_OUT_OF_TOLERANCE).exists()


def test_the_price_case_is_raised_once_and_resolves_when_decided(supplier, supplier_user, buyer):
    po = issued_po(supplier)
    answer(po, supplier_user, LineDecision(line_number=10, action="change", unit_price=Decimal("11.00")))
    run_rules()
    replay_rules()
    case = case_of("price_out_of_tolerance:PO-100001:10")
    proposal_decide(answer=pending_answer(po, 10), by=buyer, approve=False, reason="No surcharge.")
    run_rules()
    case.refresh_from_db()
    assert (case.status, case.resolution_code) == (CaseStatus.RESOLVED, ResolutionCode.CLEARED)
    assert kinds(case) == ["opened", "cleared"]


# --- proposal awaiting review ----------------------------------------------------------------


def test_a_proposal_waiting_past_the_threshold_opens_a_case_in_the_sweep(supplier, supplier_user, buyer):
    po = issued_po(supplier)
    answer(po, supplier_user, LineDecision(line_number=10, action="change", unit_price=Decimal("11.00")))
    run_rules()
    assert not ExceptionCase.objects.filter(type=CaseType.PROPOSAL_OVERDUE).exists()  # 24 hours by default
    later = timezone.now() + dt.timedelta(hours=25)
    assert rules_sweep(now=later)[CaseType.PROPOSAL_OVERDUE] == (1, 0)
    rules_sweep(now=later)
    case = case_of("proposal_overdue:PO-100001:10")
    assert (case.po_line.line_number, case.assignee) == (10, buyer)
    assert case.details["answer"] == str(pending_answer(po, 10).pk)
    assert kinds(case) == ["opened"]


def test_deciding_the_proposal_resolves_its_overdue_case(supplier, supplier_user, buyer):
    po = issued_po(supplier)
    answer(po, supplier_user, LineDecision(line_number=10, action="change", unit_price=Decimal("11.00")))
    rules_sweep(now=timezone.now() + dt.timedelta(hours=25))
    proposal_decide(answer=pending_answer(po, 10), by=buyer, approve=True)
    run_rules()
    case = case_of("proposal_overdue:PO-100001:10")
    assert (case.status, case.resolution_code) == (CaseStatus.RESOLVED, ResolutionCode.CLEARED)
    assert "decided or superseded" in case.activities.get(kind="cleared").note


# --- acknowledgement overdue -----------------------------------------------------------------


def overdue_po(supplier):
    po = issued_po(supplier)
    po.acknowledgement_due = timezone.now() - dt.timedelta(hours=1)
    po.save(update_fields=["acknowledgement_due"])
    return po


def test_the_overdue_event_opens_an_acknowledgement_case(supplier, buyer):
    po = overdue_po(supplier)
    acknowledgement_deadlines_sweep()  # records po.acknowledgement.overdue
    run_rules()
    case = case_of("ack_overdue:PO-100001")
    assert (case.type, case.po, case.po_line, case.assignee) == (CaseType.ACK_OVERDUE, po, None, buyer)
    assert case.title == "PO-100001 not acknowledged"
    assert case.details["episode"] == po.acknowledgement_due.isoformat()


def test_the_sweep_and_the_event_keep_one_acknowledgement_case(supplier):
    overdue_po(supplier)
    rules_sweep()
    acknowledgement_deadlines_sweep()
    run_rules()
    rules_sweep()
    assert kinds(case_of("ack_overdue:PO-100001")) == ["opened"]


def test_grace_days_hold_the_case_back_until_the_sweep_finds_them_passed(supplier):
    RuleSetting.objects.create(rule=CaseType.ACK_OVERDUE, supplier=supplier, grace_days=2)
    overdue_po(supplier)
    acknowledgement_deadlines_sweep()
    run_rules()
    rules_sweep()
    assert not ExceptionCase.objects.exists()
    rules_sweep(now=timezone.now() + dt.timedelta(days=2))
    assert case_of("ack_overdue:PO-100001").details["grace_days"] == "2"


def test_acknowledging_resolves_the_overdue_case(supplier, supplier_user):
    po = overdue_po(supplier)
    rules_sweep()
    answer(po, supplier_user)
    run_rules()
    case = case_of("ack_overdue:PO-100001")
    assert (case.status, case.resolution_code) == (CaseStatus.RESOLVED, ResolutionCode.CLEARED)
    assert "awaits no acknowledgement" in case.activities.get(kind="cleared").note


def test_the_sweep_resolves_the_case_when_the_event_never_came(supplier, supplier_user):
    po = overdue_po(supplier)
    rules_sweep()
    answer(po, supplier_user)  # its event is not delivered
    assert rules_sweep()[CaseType.ACK_OVERDUE] == (0, 1)
    assert case_of("ack_overdue:PO-100001").status == CaseStatus.RESOLVED


def test_an_erp_cancellation_resolves_the_overdue_case(supplier):
    po = overdue_po(supplier)
    rules_sweep()
    purchase_order_import(
        {
            "erp_id": po.erp_id,
            "number": po.number,
            "revision": 2,
            "status": "cancelled",
            "supplier_erp_vendor_id": supplier.erp_vendor_id,
            "site_code": po.site.code,
            "order_date": po.order_date.isoformat(),
            "lines": [
                {
                    "line_number": 10,
                    "item_sku": line.item.sku,
                    "quantity": "100",
                    "unit_price": "10",
                    "need_by_date": NEED_BY.isoformat(),
                }
                for line in po.lines.filter(line_number=10)
            ],
        }
    )
    run_rules()
    assert case_of("ack_overdue:PO-100001").status == CaseStatus.RESOLVED


def test_a_buyer_s_resolution_stands_while_the_same_deadline_is_missed(supplier, buyer):
    overdue_po(supplier)
    rules_sweep()
    case = case_of("ack_overdue:PO-100001")
    case_resolve(case_id=case.pk, code=ResolutionCode.SUPPLIER_FIXED, by=buyer, note="Called them.")
    rules_sweep()
    assert ExceptionCase.objects.count() == 1
    assert not CaseActivity.objects.filter(kind="opened").exclude(case=case).exists()


# --- shipment notice late ----------------------------------------------------------------------

TODAY = timezone.localdate()


def promised_in_the_past(po, days_ago: int = 3):
    """Line 10 of the shippable PO (100 of SKU-BOLT) promised whole ``days_ago`` days ago (a date no service takes)."""
    ScheduleLineFactory.create(
        line=line_of(po, 10), quantity=Decimal(100), promised_date=TODAY - dt.timedelta(days=days_ago)
    )


def test_a_promised_date_passed_without_a_notice_opens_a_case_in_the_sweep(supplier, shippable_po):
    promised_in_the_past(shippable_po)
    assert rules_sweep()[CaseType.ASN_LATE] == (1, 0)
    case = case_of("asn_late:PO-200001:10")
    assert (case.po_line, case.site, case.item) == (
        line_of(shippable_po, 10),
        shippable_po.site,
        line_of(shippable_po, 10).item,
    )
    assert (case.details["due_quantity"], case.details["shipped_quantity"]) == ("100", "0")


def test_grace_days_keep_a_just_missed_date_quiet(supplier, shippable_po):
    promised_in_the_past(shippable_po, days_ago=1)  # grace 1 day by default: not yet late
    rules_sweep()
    assert not ExceptionCase.objects.exists()


def test_a_partial_notice_updates_the_late_case_and_a_full_one_resolves_it(supplier, shippable_po):
    promised_in_the_past(shippable_po)
    rules_sweep()
    rules_sweep()
    ship(supplier, "ASN-1", ("PO-200001", 10, "40"))
    run_rules()
    case = case_of("asn_late:PO-200001:10")
    assert case.status == CaseStatus.OPEN
    assert case.details["shipped_quantity"] == "40"
    ship(supplier, "ASN-2", ("PO-200001", 10, "60"))
    run_rules()
    case.refresh_from_db()
    assert (case.status, case.resolution_code) == (CaseStatus.RESOLVED, ResolutionCode.CLEARED)
    assert kinds(case) == ["opened", "updated", "cleared"]
    assert "is shipped" in case.activities.get(kind="cleared").note


# --- shipment notice differs from the PO -------------------------------------------------------


def test_a_notice_shipping_less_than_due_opens_a_case_for_the_notice(supplier, shippable_po):
    ship(supplier, "ASN-1", ("PO-200001", 10, "60"), ("PO-200001", 20, "60"))
    run_rules()
    case = case_of("asn_mismatch:ACME:ASN-1")
    assert case.shipment == ShipmentNotice.objects.get(number="ASN-1")
    assert (case.po, case.po_line) == (shippable_po, line_of(shippable_po, 10))  # only line 10 is off
    assert case.details["lines"] == [
        {
            "po_number": "PO-200001",
            "line_number": "10",
            "shipped": "60",
            "expected": "100",
            "problem": "40% less than due",
        }
    ]


def test_a_notice_shipping_what_is_due_opens_nothing(supplier, shippable_po):
    ship(supplier, "ASN-1", ("PO-200001", 10, "100"), ("PO-200001", 20, "60"))
    run_rules()
    assert not ExceptionCase.objects.exists()


def test_a_second_notice_shipping_the_rest_matches(supplier, shippable_po):
    RuleSetting.objects.create(rule=CaseType.ASN_MISMATCH, supplier=supplier, threshold=Decimal(50))
    ship(supplier, "ASN-1", ("PO-200001", 10, "60"))  # 40% short: within the supplier's 50%
    ship(supplier, "ASN-2", ("PO-200001", 10, "40"))  # the 40 still open
    run_rules()
    assert not ExceptionCase.objects.exists()


def test_a_later_notice_does_not_count_against_an_earlier_one_checked_again(supplier, shippable_po):
    line = line_of(shippable_po, 10)
    for number, days, quantity in ((1, 2, 50), (2, 12, 50)):  # 50 promised in 2 days, 50 in 12
        ScheduleLineFactory.create(
            line=line, schedule_number=number, quantity=Decimal(quantity), promised_date=TODAY + dt.timedelta(days=days)
        )
    ship(supplier, "ASN-1", ("PO-200001", 10, "50"), estimated_arrival=TODAY + dt.timedelta(days=2))
    ship(supplier, "ASN-2", ("PO-200001", 10, "50"), estimated_arrival=TODAY + dt.timedelta(days=12))
    run_rules()
    replay_rules()  # ASN-1 checked again once ASN-2 exists: ASN-2's 50 are due after ASN-1 arrives
    assert not ExceptionCase.objects.filter(type=CaseType.ASN_MISMATCH).exists()


def test_a_replacement_still_off_updates_the_case_and_one_that_matches_resolves_it(supplier, shippable_po):
    ship(supplier, "ASN-1", ("PO-200001", 10, "60"))
    run_rules()
    replay_rules()
    ship(supplier, "ASN-1", ("PO-200001", 10, "70"), replaces=True)
    run_rules()
    case = case_of("asn_mismatch:ACME:ASN-1")
    assert case.status == CaseStatus.OPEN
    assert case.shipment == ShipmentNotice.objects.active().get(number="ASN-1")  # the replacement
    assert case.details["lines"][0]["shipped"] == "70"
    ship(supplier, "ASN-1", ("PO-200001", 10, "100"), replaces=True)
    run_rules()
    case.refresh_from_db()
    assert (case.status, case.resolution_code) == (CaseStatus.RESOLVED, ResolutionCode.CLEARED)
    assert kinds(case) == ["opened", "updated", "cleared"]
    assert "now ships what its PO lines are due" in case.activities.get(kind="cleared").note


def test_cancelling_the_notice_resolves_its_mismatch(supplier, shippable_po):
    ship(supplier, "ASN-1", ("PO-200001", 10, "60"))
    run_rules()
    shipment_notice_cancel(notice=ShipmentNotice.objects.get(number="ASN-1"), by=None, reason="Wrong.", channel="web")
    run_rules()
    case = case_of("asn_mismatch:ACME:ASN-1")
    assert case.status == CaseStatus.RESOLVED
    assert "was cancelled" in case.activities.get(kind="cleared").note


def test_a_notice_event_costs_as_many_queries_for_18_lines_as_for_2(supplier, shippable_po):
    for number in range(30, 210, 10):
        PurchaseOrderLineFactory.create(po=shippable_po, line_number=number, ordered_quantity=5, status="acknowledged")
    ship(supplier, "ASN-1", ("PO-200001", 10, "100"), ("PO-200001", 20, "60"))
    ship(supplier, "ASN-2", *[("PO-200001", n, "5") for n in range(30, 210, 10)])
    counts = []
    for number in ("ASN-1", "ASN-2"):
        event = OutboxEvent.objects.get(subject=number, type="supplyline.asn.submitted.v1")
        with CaptureQueriesContext(connection) as queries:
            on_notice_event(cloudevent(event))
        counts.append(len(queries.captured_queries))
    assert counts[0] == counts[1]


# --- shipment not received ---------------------------------------------------------------------


def test_a_notice_not_received_by_arrival_and_grace_opens_a_case(supplier, shippable_po):
    ship(supplier, "ASN-1", ("PO-200001", 10, "100"))  # arrives in 2 days; 2 grace days by default
    run_rules()
    rules_sweep(now=timezone.now() + dt.timedelta(days=4))
    assert not ExceptionCase.objects.exists()
    for _ in range(2):
        rules_sweep(now=timezone.now() + dt.timedelta(days=5))
    case = case_of("shipment_not_received:ACME:ASN-1")
    assert (case.shipment.number, case.po, case.severity) == ("ASN-1", shippable_po, 2)
    assert case.details["expected_date"] == (TODAY + dt.timedelta(days=2)).isoformat()
    assert kinds(case) == ["opened"]


def test_the_receipt_resolves_the_not_received_case(supplier, shippable_po):
    ship(supplier, "ASN-1", ("PO-200001", 10, "100"))
    rules_sweep(now=timezone.now() + dt.timedelta(days=5))
    receipt_import(
        {
            "erp_id": "GR-1",
            "po_number": "PO-200001",
            "asn_number": "ASN-1",
            "received_at": timezone.now().isoformat(),
            "lines": [{"line_number": 10, "quantity": "100"}],
        }
    )
    run_rules()
    case = case_of("shipment_not_received:ACME:ASN-1")
    assert (case.status, case.resolution_code) == (CaseStatus.RESOLVED, ResolutionCode.CLEARED)
    assert "was closed" in case.activities.get(kind="cleared").note


def test_cancelling_the_notice_resolves_the_not_received_case(supplier, shippable_po):
    ship(supplier, "ASN-1", ("PO-200001", 10, "100"))
    rules_sweep(now=timezone.now() + dt.timedelta(days=5))
    shipment_notice_cancel(notice=ShipmentNotice.objects.get(number="ASN-1"), by=None, reason="Lost.", channel="web")
    run_rules()
    assert case_of("shipment_not_received:ACME:ASN-1").status == CaseStatus.RESOLVED


# --- dead deliveries ---------------------------------------------------------------------------


@pytest.fixture
def erp(db) -> Connector:
    """An ERP webhook nobody answers, giving up after one attempt."""
    connector = Connector.objects.create(
        name="erp", kind="webhook", config={"url": "http://127.0.0.1:9/events"}, max_attempts=1, timeout_s=1
    )
    Subscription.objects.create(connector=connector, event_type="supplyline.*")
    return connector


@pytest.fixture
def eager_mail(monkeypatch):
    monkeypatch.setitem(current_app.conf, "task_always_eager", True)


def dead_to(connector):
    return Delivery.objects.get(connector=connector, status=Delivery.Status.DEAD)


def test_a_dead_delivery_to_the_erp_opens_a_critical_case_and_mails_the_buyer(
    supplier, supplier_user, buyer, erp, eager_mail, django_capture_on_commit_callbacks
):
    po = issued_po(supplier)
    answer(po, supplier_user)
    run_rules()
    dead = dead_to(erp)
    with django_capture_on_commit_callbacks(execute=True):
        assert rules_sweep()[CaseType.DELIVERY_DEAD] == (1, 0)
    case = case_of("delivery_dead:erp")
    assert (case.delivery, case.po, case.assignee, case.severity) == (dead, po, buyer, 1)
    assert case.title == "Sync to erp failed: po.acknowledged PO-100001"
    assert case.details["deliveries"] == [{"id": str(dead.pk), "replays": "0"}]
    assert (case.details["count"], case.details["event_types"]) == ("1", {"po.acknowledged": "1"})
    [message] = mail.outbox
    assert message.to == [buyer.email]
    assert f"Case #{case.pk}" in message.subject


def test_a_dead_delivery_is_raised_and_mailed_once(
    supplier, supplier_user, erp, eager_mail, django_capture_on_commit_callbacks
):
    answer(issued_po(supplier), supplier_user)
    run_rules()
    with django_capture_on_commit_callbacks(execute=True):
        rules_sweep()
        rules_sweep()
    assert ExceptionCase.objects.filter(type=CaseType.DELIVERY_DEAD).count() == 1
    assert len(mail.outbox) == 1


def test_an_outage_makes_one_case_for_the_connector_listing_its_dead_deliveries(
    supplier, supplier_user, buyer, erp, eager_mail, django_capture_on_commit_callbacks
):
    for number in ("PO-1", "PO-2", "PO-3"):
        answer(issued_po(supplier, number), supplier_user)
    run_rules()
    with django_capture_on_commit_callbacks(execute=True):
        assert rules_sweep()[CaseType.DELIVERY_DEAD] == (1, 0)
    dead = list(Delivery.objects.filter(connector=erp, status=Delivery.Status.DEAD).order_by("created_at", "pk"))
    assert len(dead) == 3
    case = case_of("delivery_dead:erp")
    assert (case.delivery, case.po, case.assignee) == (dead[0], None, buyer)  # the oldest; the POs' one buyer
    assert case.title == "Sync to erp failed: 3 events"
    assert case.details["count"] == "3"
    assert case.details["event_types"] == {"po.acknowledged": "3"}
    assert [d["id"] for d in case.details["deliveries"]] == [str(d.pk) for d in dead]
    assert (case.details["first_at"], case.details["last_at"]) == (
        dead[0].created_at.isoformat(),
        dead[-1].created_at.isoformat(),
    )
    assert "3 events did not reach erp (3 po.acknowledged)" in case.summary
    assert len(mail.outbox) == 1
    # One more dies while the case is open: the case lists it, nobody is mailed again.
    answer(issued_po(supplier, "PO-4"), supplier_user)
    run_rules()
    with django_capture_on_commit_callbacks(execute=True):
        assert rules_sweep()[CaseType.DELIVERY_DEAD] == (0, 0)
    case.refresh_from_db()
    assert (case.details["count"], len(case.details["deliveries"])) == ("4", 4)
    assert len(mail.outbox) == 1
    assert kinds(case) == ["opened", "updated"]


def test_a_dead_delivery_of_a_notice_goes_to_nobody(supplier, shippable_po, erp):
    ship(supplier, "ASN-1", ("PO-200001", 10, "100"))
    run_rules()
    rules_sweep()
    case = ExceptionCase.objects.get(type=CaseType.DELIVERY_DEAD)
    assert (case.po, case.supplier, case.assignee) == (None, None, None)
    assert case.title == "Sync to erp failed: asn.submitted ASN-1"


def test_dead_deliveries_to_a_supplier_s_own_webhook_are_not_the_buyers_cases(supplier, supplier_user, erp):
    Connector.objects.filter(pk=erp.pk).update(supplier=supplier)
    answer(issued_po(supplier), supplier_user)
    run_rules()
    assert Delivery.objects.filter(connector=erp, status=Delivery.Status.DEAD).exists()
    rules_sweep()
    assert not ExceptionCase.objects.filter(type=CaseType.DELIVERY_DEAD).exists()


def test_a_replay_that_gets_through_resolves_the_case(supplier, supplier_user, erp):
    answer(issued_po(supplier), supplier_user)
    run_rules()
    dead = dead_to(erp)
    rules_sweep()
    with Receiver() as receiver:
        erp.config = {"url": receiver.url}
        erp.save(update_fields=["config"])
        delivery.replay(Delivery.objects.filter(pk=dead.pk))
        rules_sweep()  # being replayed: the case stays open
        assert case_of("delivery_dead:erp").status == CaseStatus.OPEN
        delivery.dispatch(priority=None, budget_s=5)
    assert rules_sweep()[CaseType.DELIVERY_DEAD] == (0, 1)
    case = case_of("delivery_dead:erp")
    assert (case.status, case.resolution_code) == (CaseStatus.RESOLVED, ResolutionCode.CLEARED)
    assert case.activities.get(kind="cleared").note == (
        "No delivery to erp is dead any more: they were delivered after a replay."
    )


def test_dead_deliveries_a_buyer_resolved_are_not_read_again_until_another_dies(
    supplier, supplier_user, buyer, erp, eager_mail, django_capture_on_commit_callbacks
):
    answer(issued_po(supplier, "PO-1"), supplier_user)
    run_rules()
    first = dead_to(erp)
    rules_sweep()
    case = case_of("delivery_dead:erp")
    case_resolve(case_id=case.pk, code=ResolutionCode.REPLAYED, by=buyer, note="Keyed into the ERP by hand.")
    with CaptureQueriesContext(connection) as queries:
        assert rules_sweep()[CaseType.DELIVERY_DEAD] == (0, 0)
    reads = [q["sql"] for q in queries.captured_queries if 'FROM "planning_sync_delivery"' in q["sql"]]
    # Per connector, whether any dead delivery is not covered by a case: none is loaded.
    assert len(reads) == Connector.objects.filter(supplier__isnull=True).count()
    assert all(sql.startswith('SELECT 1 AS "a" FROM') for sql in reads)
    # Another one dies: a new case, listing only it, mailed once.
    answer(issued_po(supplier, "PO-2"), supplier_user)
    run_rules()
    with django_capture_on_commit_callbacks(execute=True):
        assert rules_sweep()[CaseType.DELIVERY_DEAD] == (1, 0)
        rules_sweep()
    second = ExceptionCase.objects.unresolved().get(dedupe_key="delivery_dead:erp")
    assert second.pk != case.pk
    assert second.details["count"] == "1"
    assert str(first.pk) not in [d["id"] for d in second.details["deliveries"]]
    assert len(mail.outbox) == 1


def test_a_resolved_dead_delivery_replayed_and_dead_again_opens_a_case(supplier, supplier_user, buyer, erp):
    answer(issued_po(supplier), supplier_user)
    run_rules()
    dead = dead_to(erp)
    rules_sweep()
    case = case_of("delivery_dead:erp")
    case_resolve(case_id=case.pk, code=ResolutionCode.NOT_AN_ISSUE, by=buyer, note="ERP down for upgrade.")
    delivery.replay(Delivery.objects.filter(pk=dead.pk))
    delivery.dispatch(priority=None, budget_s=5)  # nobody answers: dead again, replayed once
    assert dead_to(erp).replays == 1
    assert rules_sweep()[CaseType.DELIVERY_DEAD] == (1, 0)
    again = ExceptionCase.objects.unresolved().get(dedupe_key="delivery_dead:erp")
    assert again.details["deliveries"] == [{"id": str(dead.pk), "replays": "1"}]


def test_a_case_of_a_connector_that_is_no_longer_the_distributor_s_clears(supplier, supplier_user, erp):
    answer(issued_po(supplier), supplier_user)
    run_rules()
    rules_sweep()
    Connector.objects.filter(pk=erp.pk).update(supplier=supplier)
    assert rules_sweep()[CaseType.DELIVERY_DEAD] == (0, 1)
    assert case_of("delivery_dead:erp").status == CaseStatus.RESOLVED


def test_the_sweep_task_runs_on_beat_every_five_minutes(supplier):
    from config.celery import app
    from exceptions.tasks import sweep_exception_rules

    entry = next(e for e in app.conf.beat_schedule.values() if e["task"] == "exceptions.tasks.sweep_exception_rules")
    assert entry["schedule"] == dt.timedelta(minutes=5)
    overdue_po(supplier)
    assert sweep_exception_rules()[CaseType.ACK_OVERDUE] == (1, 0)
    assert case_of("ack_overdue:PO-100001").status == CaseStatus.OPEN
