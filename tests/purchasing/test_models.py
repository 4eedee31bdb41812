import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from purchasing.models import InvalidTransition, LineStatus, POStatus, PurchaseOrder
from tests.factories import PurchaseOrderFactory, PurchaseOrderLineFactory, SupplierMembershipFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (POStatus.ISSUED, POStatus.ACKNOWLEDGED),
        (POStatus.ISSUED, POStatus.CHANGES_PENDING),
        (POStatus.ACKNOWLEDGED, POStatus.REVISED),
        (POStatus.REVISED, POStatus.ACKNOWLEDGED),
        (POStatus.CHANGES_PENDING, POStatus.ISSUED),
        (POStatus.ACKNOWLEDGED, POStatus.PARTIALLY_SHIPPED),
        (POStatus.PARTIALLY_SHIPPED, POStatus.SHIPPED),
        (POStatus.SHIPPED, POStatus.RECEIVED),
        (POStatus.RECEIVED, POStatus.CLOSED),
    ],
)
def test_the_po_follows_its_state_machine(old, new):
    po = PurchaseOrderFactory.build(status=old, supplier__buyer=None, buyer=None)
    po.transition_to(new)
    assert po.status == new


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (POStatus.ISSUED, POStatus.SHIPPED),
        (POStatus.CHANGES_PENDING, POStatus.SHIPPED),
        (POStatus.RECEIVED, POStatus.ISSUED),
        (POStatus.CLOSED, POStatus.ACKNOWLEDGED),
        (POStatus.CANCELLED, POStatus.ISSUED),
    ],
)
def test_a_po_refuses_a_transition_the_machine_does_not_allow(old, new):
    po = PurchaseOrderFactory.build(status=old, number="PO-9", supplier__buyer=None, buyer=None)
    with pytest.raises(InvalidTransition, match=f"Purchase order PO-9 cannot go from {POStatus(old).label.lower()}"):
        po.transition_to(new)
    assert po.status == old


def test_every_status_has_a_row_in_the_transition_tables():
    assert set(POStatus.transitions()) == set(POStatus.values)
    assert set(LineStatus.transitions()) == set(LineStatus.values)
    for table, statuses in ((POStatus.transitions(), POStatus.values), (LineStatus.transitions(), LineStatus.values)):
        assert all(targets <= set(statuses) for targets in table.values())


def test_a_line_is_answered_by_accept_reject_or_proposal_and_then_decided(po):
    line = po.lines.first()
    line.transition_to(LineStatus.CHANGES_PENDING)
    line.transition_to(LineStatus.ISSUED)  # the buyer sent it back for a new answer
    line.transition_to(LineStatus.REJECTED)
    with pytest.raises(InvalidTransition, match="Line 10 cannot go from rejected by supplier to shipped"):
        line.transition_to(LineStatus.SHIPPED)


def test_acknowledgement_is_overdue_only_while_awaited_and_past_due(supplier):
    past = timezone.now() - dt.timedelta(hours=1)
    assert PurchaseOrderFactory(supplier=supplier, acknowledgement_due=past).is_acknowledgement_overdue
    assert not PurchaseOrderFactory(
        supplier=supplier, acknowledgement_due=past, status=POStatus.ACKNOWLEDGED
    ).is_acknowledgement_overdue
    future = timezone.now() + dt.timedelta(hours=1)
    assert not PurchaseOrderFactory(supplier=supplier, acknowledgement_due=future).is_acknowledgement_overdue


def test_querysets_name_the_queues(supplier):
    past = timezone.now() - dt.timedelta(hours=1)
    new = PurchaseOrderFactory(supplier=supplier)
    overdue = PurchaseOrderFactory(supplier=supplier, acknowledgement_due=past, status=POStatus.REVISED)
    done = PurchaseOrderFactory(supplier=supplier, status=POStatus.CLOSED)
    assert set(PurchaseOrder.objects.awaiting_acknowledgement()) == {new, overdue}
    assert list(PurchaseOrder.objects.acknowledgement_overdue()) == [overdue]
    assert done not in PurchaseOrder.objects.open()


def test_visible_to_keeps_each_supplier_to_its_own_pos(supplier_user, outsider, buyer, po, other_supplier):
    theirs = PurchaseOrderFactory(supplier=other_supplier)
    assert list(PurchaseOrder.objects.visible_to(supplier_user)) == [po]
    assert list(PurchaseOrder.objects.visible_to(outsider)) == [theirs]
    assert set(PurchaseOrder.objects.visible_to(buyer)) == {po, theirs}
    assert not PurchaseOrder.objects.visible_to(AnonymousUser()).exists()


def test_visible_to_returns_the_active_suppliers_pos_only_for_a_user_of_several(supplier_user, po, other_supplier):
    SupplierMembershipFactory(user=supplier_user, supplier=other_supplier)
    theirs = PurchaseOrderFactory(supplier=other_supplier)
    assert list(PurchaseOrder.objects.visible_to(supplier_user)) == [po]
    supplier_user.chosen_supplier_id = other_supplier.pk
    assert list(PurchaseOrder.objects.visible_to(supplier_user)) == [theirs]


def test_line_totals_are_computed_in_the_database(po):
    row = PurchaseOrder.objects.with_line_totals().get(pk=po.pk)
    assert row.line_count == 2
    assert row.total_value == Decimal(100) * Decimal("12.5") + Decimal(60) * Decimal("12.5")


def test_a_po_without_lines_totals_zero(supplier):
    row = PurchaseOrder.objects.with_line_totals().get(pk=PurchaseOrderFactory(supplier=supplier).pk)
    assert (row.line_count, row.total_value) == (0, Decimal(0))


@pytest.mark.parametrize(("field", "value"), [("ordered_quantity", Decimal(0)), ("unit_price", Decimal(-1))])
def test_the_database_refuses_impossible_lines(po, field, value):
    with pytest.raises(IntegrityError), transaction.atomic():
        PurchaseOrderLineFactory(po=po, line_number=99, **{field: value})


def test_line_numbers_are_unique_within_a_po(po):
    with pytest.raises(IntegrityError), transaction.atomic():
        PurchaseOrderLineFactory(po=po, line_number=10)
