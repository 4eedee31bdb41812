"""The case services buyers and rules call: claim, assign, snooze, resolve, bulk, wake, and raising under races."""

import datetime as dt
import threading
import time

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from exceptions.models import CaseActivity, CaseStatus, CaseType, ExceptionCase, ResolutionCode, RuleSetting
from exceptions.rules import apply_outcomes
from exceptions.services import (
    Concern,
    Finding,
    case_assign,
    case_claim,
    case_raise,
    case_raise_created,
    case_resolve,
    case_snooze,
    cases_bulk_resolve,
    cases_wake,
)
from tests.factories import BuyerFactory, ExceptionCaseFactory, PurchaseOrderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(supplier) -> ExceptionCase:
    return ExceptionCaseFactory.create(po=PurchaseOrderFactory.create(supplier=supplier), assignee=None)


def activity_kinds(case: ExceptionCase) -> list[str]:
    return list(case.activities.values_list("kind", flat=True))


def test_a_buyer_claims_a_case_and_it_is_in_progress(case, buyer):
    case_claim(case_id=case.pk, by=buyer)
    case.refresh_from_db()
    assert (case.assignee, case.status) == (buyer, CaseStatus.IN_PROGRESS)
    assert activity_kinds(case) == ["claimed"]


def test_a_supplier_user_cannot_claim(case, supplier_user):
    with pytest.raises(ValidationError, match="Only buyers"):
        case_claim(case_id=case.pk, by=supplier_user)
    case.refresh_from_db()
    assert case.assignee is None
    assert not case.activities.exists()


def test_a_case_cannot_be_assigned_to_someone_who_is_not_a_buyer(case, buyer, supplier_user):
    with pytest.raises(ValidationError) as excinfo:
        case_assign(case_id=case.pk, to=supplier_user, by=buyer)
    assert "assignee" in excinfo.value.message_dict
    case.refresh_from_db()
    assert case.assignee is None
    assert not case.activities.exists()


def test_assigning_to_another_buyer_records_it(case, buyer):
    colleague = BuyerFactory.create()
    case_assign(case_id=case.pk, to=colleague, by=buyer, note="Yours, you know them.")
    case.refresh_from_db()
    assert case.assignee == colleague
    assert case.activities.get().data == {"assignee": colleague.pk, "previous_assignee": None}


@pytest.mark.parametrize(
    ("until", "message"),
    [
        (dt.timedelta(minutes=-1), "Snooze until a time in the future."),
        (dt.timedelta(days=91), "Snooze for 90 days at most."),
    ],
)
def test_snoozing_needs_a_time_in_the_next_90_days(case, buyer, until, message):
    with pytest.raises(ValidationError) as excinfo:
        case_snooze(case_id=case.pk, until=timezone.now() + until, by=buyer)
    assert excinfo.value.message_dict == {"until": [message]}
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN


def test_a_snoozed_case_wakes_when_its_time_comes(case, buyer):
    case_snooze(case_id=case.pk, until=timezone.now() + dt.timedelta(hours=1), by=buyer)
    assert cases_wake() == 0
    assert cases_wake(now=timezone.now() + dt.timedelta(hours=2)) == 1
    case.refresh_from_db()
    assert (case.status, case.snoozed_until) == (CaseStatus.OPEN, None)
    assert activity_kinds(case) == ["snoozed", "woke"]
    assert cases_wake(now=timezone.now() + dt.timedelta(hours=2)) == 0


@pytest.mark.parametrize("code", [ResolutionCode.CLEARED, "fixed", ""])
def test_resolving_needs_a_code_a_person_may_choose(case, buyer, code):
    with pytest.raises(ValidationError) as excinfo:
        case_resolve(case_id=case.pk, code=code, by=buyer)
    assert excinfo.value.message_dict == {"code": ["Choose a resolution code."]}
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN


def test_not_an_issue_needs_a_note(case, buyer):
    with pytest.raises(ValidationError) as excinfo:
        case_resolve(case_id=case.pk, code=ResolutionCode.NOT_AN_ISSUE, by=buyer)
    assert "note" in excinfo.value.message_dict
    case_resolve(case_id=case.pk, code=ResolutionCode.NOT_AN_ISSUE, by=buyer, note="Duplicate PO, cancelled in ERP.")
    case.refresh_from_db()
    assert (case.status, case.resolved_by, case.resolution_code) == (CaseStatus.RESOLVED, buyer, "not_an_issue")


def test_bulk_resolve_is_all_or_none(supplier, buyer):
    cases = ExceptionCaseFactory.create_batch(3, po=PurchaseOrderFactory.create(supplier=supplier))
    case_resolve(case_id=cases[2].pk, code=ResolutionCode.EXPEDITED, by=buyer)
    with pytest.raises(ValidationError, match="already resolved"):
        cases_bulk_resolve(case_ids=[c.pk for c in cases], code=ResolutionCode.ACCEPTED, by=buyer)
    assert ExceptionCase.objects.filter(status=CaseStatus.RESOLVED).count() == 1
    assert CaseActivity.objects.filter(kind="resolved").count() == 1
    resolved = cases_bulk_resolve(case_ids=[c.pk for c in cases[:2]], code=ResolutionCode.ACCEPTED, by=buyer)
    assert {c.status for c in resolved} == {CaseStatus.RESOLVED}


def finding(po, episode: str = "1", title: str = "") -> Finding:
    return Finding(
        type=CaseType.ACK_OVERDUE,
        key=f"ack_overdue:{po.number}",
        title=title or f"{po.number} not acknowledged",
        concern=Concern(supplier=po.supplier, po=po, site=po.site),
        details={"episode": episode},
    )


def test_raising_the_same_finding_twice_keeps_one_case(supplier):
    po = PurchaseOrderFactory.create(supplier=supplier)
    first = case_raise(finding(po))
    second = case_raise(finding(po))
    assert first is not None
    assert second is not None
    assert first.pk == second.pk
    assert activity_kinds(first) == ["opened"]


def test_raising_says_whether_it_opened_the_case(supplier):
    po = PurchaseOrderFactory.create(supplier=supplier)
    first, created = case_raise_created(finding(po))
    again, created_again = case_raise_created(finding(po, title="Still not acknowledged"))
    assert first is not None
    assert (created, again, created_again) == (True, first, False)


def test_a_new_episode_is_due_on_the_rule_s_sla_from_now(supplier):
    po = PurchaseOrderFactory.create(supplier=supplier)
    long_ago = timezone.now() - dt.timedelta(days=3)
    case = case_raise(finding(po, episode="deadline 1"), at=long_ago)
    assert case is not None
    assert case.due_at == long_ago + dt.timedelta(hours=24)
    case_raise(finding(po, episode="deadline 1", title="Still not acknowledged"))
    case.refresh_from_db()
    assert case.due_at == long_ago + dt.timedelta(hours=24)  # the same facts: the same deadline
    before = timezone.now()
    case_raise(finding(po, episode="deadline 2"))  # the ERP moved the deadline, which passed again
    case.refresh_from_db()
    assert before + dt.timedelta(hours=24) <= case.due_at <= timezone.now() + dt.timedelta(hours=24)
    assert not case.is_overdue()
    updated = case.activities.filter(kind="updated").last()
    assert updated is not None
    assert "due_at" in updated.data["changed"]
    assert updated.data["due_at"] == (long_ago + dt.timedelta(hours=24)).isoformat()


def test_a_rule_switched_off_clears_the_case_instead_of_raising(supplier):
    po = PurchaseOrderFactory.create(supplier=supplier)
    case = case_raise(finding(po))
    assert case is not None
    RuleSetting.objects.create(rule=CaseType.ACK_OVERDUE, supplier=supplier, site=po.site, is_enabled=False)
    assert case_raise_created(finding(po)) == (None, False)
    case.refresh_from_db()
    assert (case.status, case.resolution_code) == (CaseStatus.RESOLVED, ResolutionCode.CLEARED)
    assert case.resolution_note == "The rule is switched off for this supplier and site."
    assert activity_kinds(case) == ["opened", "cleared"]


@pytest.mark.django_db(transaction=True)
def test_a_case_opened_by_a_concurrent_raise_is_not_counted_as_opened(supplier):
    """Two sweeps at once: the one that loses the race updates the case, and does not report it opened."""
    po = PurchaseOrderFactory.create(supplier=supplier)
    raised = threading.Event()
    result: list[list[ExceptionCase]] = []
    errors: list[BaseException] = []

    def second_sweep() -> None:
        try:
            raised.wait(timeout=5)
            result.append(apply_outcomes({finding(po).key: finding(po)}))  # blocks on the first's insert
        except BaseException as error:  # reported by the test, not lost in the thread
            errors.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=second_sweep)
    thread.start()
    with transaction.atomic():
        case, created = case_raise_created(finding(po))
        raised.set()
        _wait_for_a_lock_wait()  # the second sweep saw no case, and waits on the unique index
    thread.join(timeout=10)
    assert errors == []
    assert created is True
    assert result == [[]]
    assert ExceptionCase.objects.get() == case


def _wait_for_a_lock_wait(timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # a transaction otherwise sees one snapshot
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError("the second raise never waited for the first")


@pytest.mark.django_db(transaction=True)
def test_two_threads_raising_one_key_at_once_open_one_case(supplier):
    po = PurchaseOrderFactory.create(supplier=supplier)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def raise_it() -> None:
        try:
            barrier.wait(timeout=5)
            case_raise(finding(po))
        except BaseException as error:  # reported by the test, not lost in the thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=raise_it) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == []
    assert ExceptionCase.objects.filter(dedupe_key=f"ack_overdue:{po.number}").count() == 1
    assert CaseActivity.objects.filter(kind="opened").count() == 1


def test_the_wake_task_runs_on_beat_every_minute(case, buyer):
    from config.celery import app
    from exceptions.tasks import wake_snoozed_cases

    entry = next(e for e in app.conf.beat_schedule.values() if e["task"] == "exceptions.tasks.wake_snoozed_cases")
    assert entry["schedule"] == dt.timedelta(minutes=1)
    case_snooze(case_id=case.pk, until=timezone.now() + dt.timedelta(hours=1), by=buyer)
    ExceptionCase.objects.filter(pk=case.pk).update(snoozed_until=timezone.now() - dt.timedelta(seconds=1))
    assert wake_snoozed_cases() == 1
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN
