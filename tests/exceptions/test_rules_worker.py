"""End to end with a real Celery worker: a supplier's answer reaches the rules through the engine, unprompted."""

import pytest

from exceptions.models import CaseType, ExceptionCase
from tests.celery_worker import drain, wait_for
from tests.exceptions.factories import answer, issued_po, promise, rules_connector

pytestmark = [pytest.mark.worker, pytest.mark.usefixtures("portal_defaults")]


@pytest.mark.django_db(transaction=True)
def test_a_late_promise_becomes_a_case_within_seconds(worker, supplier, supplier_user, buyer):
    rules_connector()
    po = issued_po(supplier)
    answer(po, supplier_user, promise(10, 2))  # committed: its on-commit hook wakes the dispatcher on the worker
    cases = ExceptionCase.objects.filter(type=CaseType.PROMISE_AFTER_NEED, dedupe_key="promise_after_need:PO-100001:10")
    assert wait_for(cases.exists, timeout=10), "no case: the worker did not run the rules"
    case = cases.get()
    assert (case.po, case.assignee) == (po, buyer)
    assert drain(), "the worker did not finish the PO's other deliveries"
