"""The temporary-parking fee rule, case by case (pure function: no database)."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from app.domains.parking.fee_rule import FeeRule, NegativeDuration, parking_fee

# free 30 min, first hour 5.00, day hour 3.00, night hour 1.00 (22:00-07:00), cap 30.00 / 24 h
RULE = FeeRule()
D = datetime(2026, 11, 2)  # a Monday, local wall-clock time


def at(hour: int, minute: int = 0, day: int = 0) -> datetime:
    return D + timedelta(days=day, hours=hour, minutes=minute)


@pytest.mark.parametrize("entry,exit,cents", [
    (at(10), at(10), 0),                         # no time at all
    (at(10), at(10, 29), 0),                     # inside the free minutes
    (at(10), at(10, 30), 0),                     # exactly the free minutes
    (at(10), at(10, 31), 500),                   # one minute over: the first hour
    (at(10), at(11, 30), 500),                   # free + exactly the first hour
    (at(10), at(11, 31), 800),                   # then a started day hour
    (at(10), at(12, 30), 800),                   # free + first + one full hour
    (at(10), at(13, 0), 1100),                   # free + first + 1 h + a started hour
    (at(8), at(15, 30), 500 + 6 * 300),          # a working day, under the cap
    (at(8), at(20, 0), 3000),                    # a long day hits the cap (500 + 11*300 = 3800)
    (at(21), at(23, 30), 500 + 100),             # 21:30 first hour, 22:30 is a night hour
    (at(23), at(6, 30, day=1), 500 + 6 * 100),   # overnight: first hour, then six night hours
    (at(6), at(8, 30), 500 + 300),               # 06:30 first hour (first hour ignores night), 07:30 day
    (at(5), at(7, 31), 500 + 100 + 300),         # 06:30 night hour, 07:30 day hour
])
def test_fee_of_one_stay(entry, exit, cents):
    assert parking_fee(entry, exit, RULE).cents == cents


def test_the_cap_applies_per_24_hours_from_the_entry():
    # three whole days: each 24 h period capped at 30.00
    fee = parking_fee(at(8), at(8, day=3), RULE)
    assert fee.cents == 3 * 3000 and fee.capped_days == 3
    # two days and a short tail: the tail's block (08:00 on day 3 is a day hour) is not capped
    fee = parking_fee(at(8), at(8, 40, day=2), RULE)  # the 08:30 block starts the third period
    assert fee.cents == 2 * 3000 + 300


def test_a_night_only_stay_stays_under_the_cap():
    fee = parking_fee(at(22), at(6, 0, day=1), RULE)  # 22:30 first hour + 23:30 .. 05:30 = 7 night hours
    assert fee.cents == 500 + 7 * 100 and fee.capped_days == 0
    assert fee.explanation()["blocks"] == {"first_hour": 1, "night": 7}


def test_no_cap_and_no_night_window():
    rule = FeeRule(day_cap_cents=0, night_start_hour=0, night_end_hour=0)
    assert parking_fee(at(8), at(8, 30, day=1), rule).cents == 500 + 23 * 300


def test_night_window_inside_one_day():
    rule = FeeRule(night_start_hour=1, night_end_hour=5, free_minutes=0)
    # 00:00 first hour, 01:00..04:00 night, 05:00 day
    assert parking_fee(at(0), at(5, 30), rule).cents == 500 + 4 * 100 + 300


def test_zero_free_minutes_and_zero_prices():
    assert parking_fee(at(10), at(10, 0, ), FeeRule(free_minutes=0)).cents == 0
    assert parking_fee(at(10), at(10, 1), FeeRule(free_minutes=0)).cents == 500
    assert parking_fee(at(10), at(15), FeeRule(first_hour_cents=0, hourly_cents=0, night_hourly_cents=0)).cents == 0


def test_seconds_count():
    assert parking_fee(at(10), at(10, 30) + timedelta(seconds=1), RULE).cents == 500
    assert parking_fee(at(10), at(11, 30) + timedelta(seconds=1), RULE).cents == 800


def test_fee_grows_with_the_stay_and_is_integer_cents():
    previous = 0
    for minutes in range(0, 3 * 24 * 60, 7):
        fee = parking_fee(at(9), at(9) + timedelta(minutes=minutes), RULE)
        assert isinstance(fee.cents, int)
        assert fee.cents >= previous
        assert fee.cents <= 3000 * (minutes // (24 * 60) + 1)
        previous = fee.cents


def test_negative_duration_is_refused():
    with pytest.raises(NegativeDuration):
        parking_fee(at(10), at(9, 59), RULE)


@pytest.mark.parametrize("bad", [
    {"free_minutes": -1}, {"hourly_cents": 1.5}, {"day_cap_cents": True}, {"night_start_hour": 24},
    {"night_end_hour": -1},
])
def test_bad_rules_are_refused(bad):
    with pytest.raises(ValueError):
        FeeRule(**bad)


def test_rule_from_module_settings():
    rule = FeeRule.from_settings({"free_minutes": 15, "first_hour_price": Decimal("6.50"),
                                  "hourly_price": Decimal("2.00"), "night_hourly_price": Decimal("0.50"),
                                  "night_start_hour": 23, "night_end_hour": 6, "day_cap": Decimal("25.00")})
    assert rule == FeeRule(15, 650, 200, 50, 23, 6, 2500)
