"""The procurement rules on plain values: no database."""

import datetime as dt
import json
from decimal import Decimal

import pytest

from purchasing.rules import Delivery, LineTerms, percent_change, tolerance_breaches
from suppliers.models import Tolerances

NEED_BY = dt.date(2027, 3, 15)
TOLERANCES = Tolerances(price_pct=Decimal(2), quantity_pct=Decimal(5), days_early=3, days_late=2)


def terms(quantity="100", price="10", *deliveries: tuple[str, int]) -> LineTerms:
    """Line terms; each delivery is (quantity, days after the need-by date); none means all on the need-by date."""
    schedule = deliveries or ((quantity, 0),)
    return LineTerms(
        Decimal(quantity),
        Decimal(price),
        tuple(Delivery(Decimal(q), NEED_BY + dt.timedelta(days=days)) for q, days in schedule),
    )


def breaches(proposed: LineTerms, current: LineTerms | None = None, tolerances: Tolerances = TOLERANCES) -> list[str]:
    return tolerance_breaches(current=current or terms(), proposed=proposed, need_by=NEED_BY, tolerances=tolerances)


@pytest.mark.parametrize("quantity", ["95", "100", "105", "104.999"])
def test_a_quantity_change_within_tolerance_is_no_breach(quantity):
    assert breaches(terms(quantity)) == []


def test_more_quantity_beyond_tolerance_is_a_breach_naming_the_numbers():
    assert breaches(terms("106.000")) == ["Quantity 106 is 6% above the ordered 100 (tolerance 5%)."]


def test_less_quantity_beyond_tolerance_is_a_breach_naming_the_numbers():
    assert breaches(terms("94")) == ["Quantity 94 is 6% below the ordered 100 (tolerance 5%)."]


def test_a_breach_message_rounds_the_percentage_to_one_decimal():
    assert breaches(terms("4"), current=terms("3")) == ["Quantity 4 is 33.3% above the ordered 3 (tolerance 5%)."]


@pytest.mark.parametrize("price", ["10.2", "10.1999", "10"])
def test_a_price_increase_within_tolerance_is_no_breach(price):
    assert breaches(terms(price=price)) == []


def test_a_price_increase_beyond_tolerance_is_a_breach_naming_the_numbers():
    assert breaches(terms(price="10.2100")) == ["Unit price 10.21 is 2.1% above 10 (tolerance 2%)."]


@pytest.mark.parametrize("price", ["9.99", "5", "0"])
def test_a_lower_price_is_never_a_breach(price):
    assert breaches(terms(price=price)) == []


def test_any_price_on_a_free_line_is_a_breach():
    assert breaches(terms(price="0.01"), current=terms(price="0")) == [
        "Unit price 0.01 is 100% above 0 (tolerance 2%)."
    ]
    assert breaches(terms(price="0"), current=terms(price="0")) == []


@pytest.mark.parametrize("days", [-3, -1, 0, 1, 2])
def test_a_date_within_the_early_and_late_tolerance_is_no_breach(days):
    assert breaches(terms("100", "10", ("100", days))) == []


def test_a_delivery_later_than_tolerated_is_a_breach_naming_the_dates():
    assert breaches(terms("100", "10", ("100", 3))) == [
        "Delivery of 100 on 2027-03-18 is 3 days after the need-by date 2027-03-15 (tolerance 2 days late)."
    ]


def test_a_delivery_earlier_than_tolerated_is_a_breach_naming_the_dates():
    assert breaches(terms("100", "10", ("100", -4))) == [
        "Delivery of 100 on 2027-03-11 is 4 days before the need-by date 2027-03-15 (tolerance 3 days early)."
    ]


def test_each_delivery_of_a_split_is_measured_against_the_need_by_date():
    proposed = terms("100", "10", ("30", -5), ("40", 1), ("30", 9))
    assert breaches(proposed) == [
        "Delivery of 30 on 2027-03-10 is 5 days before the need-by date 2027-03-15 (tolerance 3 days early).",
        "Delivery of 30 on 2027-03-24 is 9 days after the need-by date 2027-03-15 (tolerance 2 days late).",
    ]


def test_dates_are_measured_against_the_need_by_date_not_the_earlier_promise():
    already_late = terms("100", "10", ("100", 10))
    assert breaches(terms("100", "10", ("100", 2)), current=already_late) == []


def test_every_breach_of_one_proposal_is_listed():
    proposed = terms("120", "11", ("120", 5))
    assert [message.split(" ")[0] for message in breaches(proposed)] == ["Quantity", "Unit", "Delivery"]


def test_zero_tolerances_send_every_change_to_the_buyer():
    strict = Tolerances(price_pct=Decimal(0), quantity_pct=Decimal(0), days_early=0, days_late=0)
    assert len(breaches(terms("101", "10.01", ("101", 1)), tolerances=strict)) == 3
    assert breaches(terms(), tolerances=strict) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("100", "105", "5"),
        ("100", "95", "-5"),
        ("100", "100", "0"),
        ("8", "10", "25"),
        ("0", "0", "0"),
        ("0", "3", "100"),
    ],
)
def test_percent_change(old, new, expected):
    assert percent_change(Decimal(old), Decimal(new)) == Decimal(expected)


def test_line_terms_survive_a_round_trip_through_json():
    original = terms("60.000", "12.5000", ("40", -1), ("20.000", 2))
    stored = json.loads(json.dumps(original.as_json()))
    assert LineTerms.from_json(stored) == original
    assert stored == {
        "quantity": "60",
        "unit_price": "12.5",
        "deliveries": [{"quantity": "40", "date": "2027-03-14"}, {"quantity": "20", "date": "2027-03-17"}],
    }


def test_a_delivery_survives_a_round_trip_through_json():
    delivery = Delivery(Decimal("7.25"), NEED_BY)
    assert Delivery.from_json(delivery.as_json()) == delivery
