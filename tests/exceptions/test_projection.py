"""The projection's arithmetic, with no database: balances, breaches, demand at risk, and what a change made new."""

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exceptions.projection import (
    DemandLine,
    Supply,
    new_breach_dates,
    open_deliveries,
    project,
)

START = dt.date(2026, 12, 1)


def day(n: int) -> dt.date:
    return START + dt.timedelta(days=n)


def demand(n: int, quantity: str, priority: int = 5, reference: str = "") -> DemandLine:
    return DemandLine(day(n), Decimal(quantity), priority, customer_reference=reference, reference=reference)


def supply(n: int, quantity: str, source: str = "PO-1 line 10") -> Supply:
    return Supply(day(n), Decimal(quantity), source)


def test_the_balance_adds_supply_and_takes_demand_day_by_day():
    result = project(
        on_hand=Decimal(50),
        safety_stock=Decimal(0),
        supply=[supply(3, "40")],
        demand=[demand(1, "20"), demand(5, "30")],
        start=START,
        weeks=1,
    )

    assert [d.date for d in result.days] == [day(n) for n in range(7)]
    assert result.balances == [50, 30, 30, 70, 70, 40, 40]
    assert [(d.date, d.supply, d.demand) for d in result.days if d.has_movements] == [
        (day(1), 0, 20),
        (day(3), 40, 0),
        (day(5), 0, 30),
    ]
    assert not result.breaches
    assert result.demand_at_risk == ()
    assert (result.shortfall, result.days_short, result.lowest_balance) == (0, 0, 30)


def test_past_due_counts_on_the_first_day_and_beyond_the_horizon_not_at_all():
    result = project(
        on_hand=Decimal(10),
        safety_stock=Decimal(0),
        supply=[supply(-4, "5", "late PO"), supply(7, "1000", "after the horizon")],
        demand=[demand(-2, "12"), demand(6, "1"), demand(30, "999")],
        start=START,
        weeks=1,
    )

    assert result.days[0].supplies == (supply(-4, "5", "late PO"),)
    assert result.days[0].demands == (demand(-2, "12"),)
    assert result.balances == [3, 3, 3, 3, 3, 3, 2]


def test_a_breach_names_its_first_days_the_worst_shortfall_and_how_long():
    result = project(
        on_hand=Decimal(100),
        safety_stock=Decimal(40),
        supply=[supply(6, "200")],
        demand=[demand(2, "70"), demand(4, "50")],
        start=START,
        weeks=1,
    )

    assert result.balances == [100, 100, 30, 30, -20, -20, 180]
    assert result.first_below_safety == day(2)
    assert result.first_below_zero == day(4)
    assert result.shortfall == 60  # 40 of safety stock, and 20 below zero
    assert result.days_short == 4
    assert result.lowest_balance == -20
    assert result.breaches


def test_the_demand_at_risk_is_what_goes_uncovered_the_highest_priority_served_first():
    result = project(
        on_hand=Decimal(100),
        safety_stock=Decimal(10),
        supply=[],
        demand=[
            demand(1, "30", priority=5, reference="early"),
            demand(3, "50", priority=9, reference="low"),
            demand(3, "20", priority=1, reference="top"),
            demand(5, "5", priority=3, reference="late"),
        ],
        start=START,
        weeks=1,
    )

    # Day 1: 70. Day 3: the priority 1 line first (50), then the priority 9 line takes it to 0,
    # 10 below safety stock. Day 5: -5, all of it short.
    assert [(r.demand.reference, r.short) for r in result.demand_at_risk] == [("low", 10), ("late", 5)]
    assert result.highest_priority_at_risk == 3


def test_safety_stock_missed_without_demand_puts_no_demand_at_risk():
    result = project(on_hand=Decimal(5), safety_stock=Decimal(20), supply=[], demand=[], start=START, weeks=1)

    assert result.first_below_safety == START
    assert result.first_below_zero is None
    assert result.demand_at_risk == ()
    assert result.highest_priority_at_risk is None


def test_the_horizon_is_at_least_a_week():
    with pytest.raises(ValueError, match="at least one week"):
        project(on_hand=Decimal(0), safety_stock=Decimal(0), supply=[], demand=[], start=START, weeks=0)


def test_what_shipped_is_taken_off_the_earliest_deliveries():
    deliveries = [(day(9), Decimal(40)), (day(2), Decimal(30)), (day(5), Decimal(30))]

    assert open_deliveries(deliveries, Decimal(0)) == sorted(deliveries)
    assert open_deliveries(deliveries, Decimal(45)) == [(day(5), Decimal(15)), (day(9), Decimal(40))]
    assert open_deliveries(deliveries, Decimal(100)) == []
    assert open_deliveries(deliveries, Decimal(120)) == []


# --- what a change made new --------------------------------------------------------------


def breaching(*balances: int, safety_stock: int = 10, start: dt.date = START) -> dict[str, Any]:
    return {
        "before_start": start,
        "before_balances": [Decimal(b) for b in balances],
        "before_safety_stock": Decimal(safety_stock),
    }


def projection_of(*demands: DemandLine, on_hand: int = 50, safety_stock: int = 10, weeks: int = 1):
    return project(
        on_hand=Decimal(on_hand),
        safety_stock=Decimal(safety_stock),
        supply=[],
        demand=demands,
        start=START,
        weeks=weeks,
    )


def test_with_no_earlier_projection_every_breach_is_new():
    now = projection_of(demand(5, "45"))

    assert new_breach_dates(now, before_start=None, before_balances=[], before_safety_stock=Decimal(0)) == [
        day(5),
        day(6),
    ]


def test_a_breach_on_the_same_days_as_before_is_not_new():
    now = projection_of(demand(5, "45"))

    assert new_breach_dates(now, **breaching(50, 50, 50, 50, 50, 5, 5)) == []


def test_a_breach_that_comes_sooner_is_new_from_its_first_day():
    now = projection_of(demand(3, "45"))

    assert new_breach_dates(now, **breaching(50, 50, 50, 50, 50, 5, 5)) == [day(3), day(4)]


def test_falling_below_zero_is_new_even_where_safety_stock_was_missed_before():
    now = projection_of(demand(5, "55"))

    assert new_breach_dates(now, **breaching(50, 50, 50, 50, 50, 5, 5)) == [day(5), day(6)]


def test_a_higher_safety_stock_is_a_new_breach_where_the_balance_stays_the_same():
    now = projection_of(safety_stock=60)

    assert new_breach_dates(now, **breaching(50, 50, 50, 50, 50, 50, 50, safety_stock=10)) == [day(n) for n in range(7)]


def test_days_past_the_earlier_horizon_compare_with_its_last_day():
    yesterday = START - dt.timedelta(days=1)
    now = projection_of(demand(6, "45"))

    # Yesterday's projection ended on day 5, already short: day 6 is short as it was.
    assert new_breach_dates(now, **breaching(50, 50, 50, 50, 50, 50, 5, start=yesterday)) == []
    assert new_breach_dates(now, **breaching(50, 50, 50, 50, 50, 50, 50, start=yesterday)) == [day(6)]


# --- properties ------------------------------------------------------------------------------

quantities = st.decimals(min_value=0, max_value=10_000, places=3, allow_nan=False, allow_infinity=False)
positive = quantities.filter(lambda q: q > 0)  # as the database's check constraints keep them
offsets = st.integers(min_value=-10, max_value=30)
supplies = st.lists(st.builds(lambda n, q: Supply(day(n), q, "s"), offsets, quantities), max_size=15)
demands = st.lists(
    st.builds(lambda n, q, p: DemandLine(day(n), q, p), offsets, positive, st.integers(min_value=1, max_value=9)),
    max_size=15,
)


@given(on_hand=quantities, safety_stock=quantities, supply=supplies, demand=demands)
def test_every_balance_is_on_hand_plus_supply_minus_demand_to_date(on_hand, safety_stock, supply, demand):
    result = project(on_hand=on_hand, safety_stock=safety_stock, supply=supply, demand=demand, start=START, weeks=2)

    for d in result.days:
        arrived = sum((s.quantity for s in supply if s.date <= d.date), Decimal(0))
        needed = sum((x.quantity for x in demand if x.date <= d.date), Decimal(0))
        assert d.balance == on_hand + arrived - needed
    short_days = [d.date for d in result.days if d.balance < safety_stock]
    assert result.days_short == len(short_days)
    assert result.first_below_safety == (short_days[0] if short_days else None)
    assert result.shortfall == max([safety_stock - d.balance for d in result.days] + [Decimal(0)])


@given(on_hand=quantities, safety_stock=quantities, supply=supplies, demand=demands)
def test_demand_at_risk_is_part_of_the_demand_and_only_where_the_balance_is_short(
    on_hand, safety_stock, supply, demand
):
    result = project(on_hand=on_hand, safety_stock=safety_stock, supply=supply, demand=demand, start=START, weeks=2)

    short_days = {d.date for d in result.days if d.balance < safety_stock}
    for risk in result.demand_at_risk:
        assert 0 < risk.short <= risk.demand.quantity
        assert max(risk.demand.date, START) in short_days
        assert risk.demand.date >= result.first_below_safety or risk.demand.date < START
    if not short_days:
        assert result.demand_at_risk == ()


@given(on_hand=quantities, safety_stock=quantities, supply=supplies, demand=demands)
def test_a_projection_compared_with_itself_has_nothing_new(on_hand, safety_stock, supply, demand):
    result = project(on_hand=on_hand, safety_stock=safety_stock, supply=supply, demand=demand, start=START, weeks=2)

    assert (
        new_breach_dates(
            result, before_start=START, before_balances=result.balances, before_safety_stock=result.safety_stock
        )
        == []
    )


@given(
    deliveries=st.lists(st.tuples(st.builds(day, offsets), positive), max_size=8),
    done=quantities,
)
def test_open_deliveries_keep_what_is_left_latest_first(deliveries, done):
    left = open_deliveries(deliveries, done)

    total = sum((q for _, q in deliveries), Decimal(0))
    assert sum((q for _, q in left), Decimal(0)) == max(total - done, Decimal(0))
    # What is left is the tail of the deliveries in date order, only the first of it cut short.
    ordered = sorted(deliveries, key=lambda d: d[0])
    tail = ordered[len(ordered) - len(left) :]
    assert [d for d, _ in left] == [d for d, _ in tail]
    assert all(q == full for (_, q), (_, full) in zip(left[1:], tail[1:], strict=True))
