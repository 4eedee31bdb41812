"""A change the ERP holding the PO cannot take (a Tryton purchase's quantity or price): a case for the buyer.

The Tryton connector here is only the row and its imported purchase: deciding that a change needs a
person reads our own tables, not the Tryton server (tests/planning_sync/tryton covers the server side).
"""

import datetime as dt
from decimal import Decimal

import pytest

from exceptions.models import CaseStatus, CaseType, ExceptionCase, ResolutionCode
from exceptions.services import case_resolve
from planning_sync.connectors.tryton.mapping import purchase_erp_id
from planning_sync.models import Connector, TrytonPurchase
from purchasing.models import AcknowledgementLine, ReasonCode
from purchasing.rules import Delivery as Promise
from purchasing.services import LineDecision, proposal_decide
from tests.exceptions.factories import NEED_BY, answer, issued_po, rules_connector, run_rules

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("portal_defaults")]

KEY = "erp_manual_change:tryton:PO-100001:10"


@pytest.fixture
def tryton_po(supplier):
    """PO-100001 as the Tryton connector imported it from purchase 42."""
    rules_connector()
    connector = Connector.objects.create(
        name="tryton",
        kind="tryton",
        config={"url": "http://127.0.0.1:9", "database": "erp", "username": "admin", "password": "x"},
    )
    TrytonPurchase.objects.create(connector=connector, purchase_id=42, revision=1)
    po = issued_po(supplier)
    po.erp_id = purchase_erp_id(42)
    po.save(update_fields=["erp_id"])
    return po


def change(quantity: str | None = None, price: str | None = None) -> LineDecision:
    qty = Decimal(quantity) if quantity else Decimal(100)
    return LineDecision(
        line_number=10,
        action="change",
        quantity=Decimal(quantity) if quantity else None,
        unit_price=Decimal(price) if price else None,
        deliveries=(Promise(qty, NEED_BY),),
    )


def test_a_quantity_change_within_tolerance_asks_the_buyer_to_make_it_in_tryton(tryton_po, supplier_user, buyer):
    answer(tryton_po, supplier_user, change(quantity="98"))  # 2% less: applied at once
    run_rules()

    case = ExceptionCase.objects.get(dedupe_key=KEY)
    assert (case.type, case.status, case.assignee) == (CaseType.ERP_MANUAL_CHANGE, CaseStatus.OPEN, buyer)
    assert case.details["wanted"] == {"quantity": "98"}
    assert "set the quantity to 98 there" in case.summary

    run_rules()  # the same events again change nothing
    assert ExceptionCase.objects.filter(type=CaseType.ERP_MANUAL_CHANGE).count() == 1


def test_a_date_change_needs_no_one(tryton_po, supplier_user):
    later = NEED_BY + dt.timedelta(days=1)  # within tolerance: applied, and Tryton takes dates
    answer(tryton_po, supplier_user, LineDecision(10, "change", deliveries=(Promise(Decimal(100), later),)))
    run_rules()
    assert not ExceptionCase.objects.filter(type=CaseType.ERP_MANUAL_CHANGE).exists()


def test_a_po_no_such_erp_holds_needs_no_one(tryton_po, supplier_user):
    tryton_po.erp_id = "ERP-77"
    tryton_po.save(update_fields=["erp_id"])
    answer(tryton_po, supplier_user, change(quantity="98"))
    run_rules()
    assert not ExceptionCase.objects.filter(type=CaseType.ERP_MANUAL_CHANGE).exists()


def test_an_approved_price_change_asks_for_the_price(tryton_po, supplier_user, buyer):
    answer(tryton_po, supplier_user, change(price="11.00"))  # 10% more: waits for the buyer
    run_rules()
    assert not ExceptionCase.objects.filter(type=CaseType.ERP_MANUAL_CHANGE).exists()

    proposal_decide(answer=AcknowledgementLine.objects.get(line__line_number=10), by=buyer, approve=True)
    run_rules()

    assert ExceptionCase.objects.get(dedupe_key=KEY).details["wanted"] == {"unit_price": "11"}


def test_an_approved_rejection_asks_to_cancel_the_line_and_the_buyer_resolves_it(tryton_po, supplier_user, buyer):
    reason = ReasonCode.objects.get_or_create(code="OUT_OF_STOCK", defaults={"label": "Out of stock"})[0]
    answer(tryton_po, supplier_user, LineDecision(10, "reject", reason_code=reason.code))
    run_rules()
    proposal_decide(answer=AcknowledgementLine.objects.get(line__line_number=10), by=buyer, approve=True)
    run_rules()

    case = ExceptionCase.objects.get(dedupe_key=KEY)
    assert "cancel the line there" in case.summary
    # The portal cannot see Tryton's purchase: the buyer says when it is done.
    case_resolve(case_id=case.pk, code=ResolutionCode.REPLAYED, by=buyer, note="Cancelled in Tryton")
    assert ExceptionCase.objects.get(pk=case.pk).status == CaseStatus.RESOLVED
