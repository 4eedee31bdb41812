import datetime as dt

import pytest

from config.keyset import InvalidCursor, encode_cursor, paginate
from purchasing.models import PurchaseOrder
from tests.factories import PurchaseOrderFactory

pytestmark = pytest.mark.django_db
ORDERING = PurchaseOrder.LIST_ORDERING


@pytest.fixture
def orders(supplier):
    """Seven POs over three dates, so several rows tie on the date and only the id orders them."""
    start = dt.date(2026, 10, 1)
    return [PurchaseOrderFactory(supplier=supplier, order_date=start + dt.timedelta(days=n % 3)) for n in range(7)]


def _expected(orders):
    return sorted(orders, key=lambda po: (po.order_date, po.pk), reverse=True)


def test_walking_forward_visits_every_row_once_in_order(orders):
    seen, cursor = [], None
    while True:
        page = paginate(PurchaseOrder.objects.all(), ordering=ORDERING, page_size=3, after=cursor)
        seen += page.items
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert seen == _expected(orders)


def test_walking_back_returns_the_same_pages(orders):
    first = paginate(PurchaseOrder.objects.all(), ordering=ORDERING, page_size=3)
    second = paginate(PurchaseOrder.objects.all(), ordering=ORDERING, page_size=3, after=first.next_cursor)
    back = paginate(PurchaseOrder.objects.all(), ordering=ORDERING, page_size=3, before=second.previous_cursor)
    assert back.items == first.items
    assert back.previous_cursor is None
    assert back.next_cursor is not None


def test_the_first_page_has_no_previous_and_the_last_no_next(orders):
    first = paginate(PurchaseOrder.objects.all(), ordering=ORDERING, page_size=10)
    assert len(first.items) == 7
    assert first.previous_cursor is None
    assert first.next_cursor is None
    assert not first.has_other_pages


def test_an_empty_list_is_one_empty_page(db):
    page = paginate(PurchaseOrder.objects.all(), ordering=ORDERING, page_size=10)
    assert page.items == []
    assert not page.has_other_pages


def test_a_row_inserted_meanwhile_does_not_shift_the_next_page(orders, supplier):
    first = paginate(PurchaseOrder.objects.all(), ordering=ORDERING, page_size=3)
    PurchaseOrderFactory(supplier=supplier, order_date=dt.date(2026, 12, 1))
    second = paginate(PurchaseOrder.objects.all(), ordering=ORDERING, page_size=3, after=first.next_cursor)
    assert second.items == _expected(orders)[3:6]


@pytest.mark.parametrize(
    "cursor",
    [
        "not-base64!!",
        encode_cursor(["2026-01-01"]),
        "W10",
        "bnVsbA",
        encode_cursor(["soon", "1"]),
        encode_cursor(["2026-01-01", "x"]),
    ],
)
def test_a_cursor_this_ordering_did_not_make_is_refused(db, cursor):
    with pytest.raises(InvalidCursor):
        paginate(PurchaseOrder.objects.all(), ordering=ORDERING, page_size=3, after=cursor)
