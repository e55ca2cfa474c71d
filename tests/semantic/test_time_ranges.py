"""Human time ranges and time grains, against dates worked out by hand on a calendar.

The anchor is Wednesday 2024-05-15 (its ISO week starts Monday 2024-05-13; it lies in Q2).
Every range is half-open [start, end).
"""

from __future__ import annotations

import datetime as dt

import pytest

from workbench.semantic.errors import QueryError
from workbench.semantic.timegrain import add_period, check_grain, parse_time_range

TODAY = dt.date(2024, 5, 15)


def D(*a) -> dt.datetime:
    return dt.datetime(*a)


@pytest.mark.parametrize(
    "text, start, end",
    [
        # relative counts: "last N" ends after today, "next N" starts tomorrow
        ("last 7 days", D(2024, 5, 9), D(2024, 5, 16)),
        ("past 3 months", D(2024, 2, 16), D(2024, 5, 16)),
        ("previous 1 year", D(2023, 5, 16), D(2024, 5, 16)),
        ("last 2 weeks", D(2024, 5, 2), D(2024, 5, 16)),
        ("last 1 quarter", D(2024, 2, 16), D(2024, 5, 16)),
        ("next 2 weeks", D(2024, 5, 16), D(2024, 5, 30)),
        ("next 3 days", D(2024, 5, 16), D(2024, 5, 19)),
        # calendar periods around today
        ("this week", D(2024, 5, 13), D(2024, 5, 20)),
        ("last week", D(2024, 5, 6), D(2024, 5, 13)),
        ("this month", D(2024, 5, 1), D(2024, 6, 1)),
        ("previous month", D(2024, 4, 1), D(2024, 5, 1)),
        ("this quarter", D(2024, 4, 1), D(2024, 7, 1)),
        ("last quarter", D(2024, 1, 1), D(2024, 4, 1)),
        ("this year", D(2024, 1, 1), D(2025, 1, 1)),
        ("last year", D(2023, 1, 1), D(2024, 1, 1)),
        ("today", D(2024, 5, 15), D(2024, 5, 16)),
        ("Yesterday", D(2024, 5, 14), D(2024, 5, 15)),
        # to date
        ("ytd", D(2024, 1, 1), D(2024, 5, 16)),
        ("year to date", D(2024, 1, 1), D(2024, 5, 16)),
        ("mtd", D(2024, 5, 1), D(2024, 5, 16)),
        ("qtd", D(2024, 4, 1), D(2024, 5, 16)),
        ("quarter to date", D(2024, 4, 1), D(2024, 5, 16)),
        # absolute periods
        ("2023", D(2023, 1, 1), D(2024, 1, 1)),
        ("FY2023", D(2023, 1, 1), D(2024, 1, 1)),  # calendar fiscal year
        ("2024-Q2", D(2024, 4, 1), D(2024, 7, 1)),
        ("2024q4", D(2024, 10, 1), D(2025, 1, 1)),
        ("2024-02", D(2024, 2, 1), D(2024, 3, 1)),
        ("2024-12", D(2024, 12, 1), D(2025, 1, 1)),
        ("2024-W10", D(2024, 3, 4), D(2024, 3, 11)),  # 2024-01-01 is a Monday: week 1 starts it
        ("2020w53", D(2020, 12, 28), D(2021, 1, 4)),  # 2020 has an ISO week 53
        ("2024-03-05", D(2024, 3, 5), D(2024, 3, 6)),
        # explicit ranges: a date end is inclusive (its whole day), a timestamp end is exact
        ("2024-01-01..2024-03-31", D(2024, 1, 1), D(2024, 4, 1)),
        ("2024-01-01 to 2024-01-31", D(2024, 1, 1), D(2024, 2, 1)),
        ("2024-01-01T10:00..2024-01-02T12:30", D(2024, 1, 1, 10), D(2024, 1, 2, 12, 30)),
    ],
)
def test_time_range_text(text, start, end):
    assert parse_time_range(text, TODAY) == (start, end)


def test_month_arithmetic_clamps_to_the_last_day():
    # next 1 month from Jan 31 ends on Feb 29 in a leap year, Feb 28 otherwise
    assert parse_time_range("next 1 month", dt.date(2024, 1, 30)) == (
        D(2024, 1, 31),
        D(2024, 2, 29),
    )
    assert parse_time_range("next 1 month", dt.date(2023, 1, 30)) == (
        D(2023, 1, 31),
        D(2023, 2, 28),
    )
    assert add_period(dt.date(2024, 2, 29), "year", 1) == dt.date(2025, 2, 28)
    assert add_period(dt.date(2024, 11, 30), "quarter", 1) == dt.date(2025, 2, 28)
    assert add_period(dt.date(2024, 1, 1), "week", -2) == dt.date(2023, 12, 18)


def test_fiscal_year_ends_in_its_named_year():
    # fiscal years starting in April: FY2025 runs 2024-04-01 .. 2025-03-31
    assert parse_time_range("fy2025", TODAY, fiscal_start_month=4) == (D(2024, 4, 1), D(2025, 4, 1))
    # a plain year stays the calendar year whatever the fiscal start
    assert parse_time_range("2025", TODAY, fiscal_start_month=4) == (D(2025, 1, 1), D(2026, 1, 1))


def test_relative_ranges_default_to_the_real_today():
    today = dt.date.today()
    start, end = parse_time_range("today")
    assert (start.date(), end.date()) == (today, today + dt.timedelta(days=1))


@pytest.mark.parametrize(
    "text, needle",
    [
        ("sometime soon", "Cannot understand time range"),
        ("2024-02-30", "Bad date '2024-02-30'"),
        ("2024-01-01..2024-13-01", "Bad date '2024-13-01'"),
    ],
)
def test_unparsable_time_ranges_are_query_errors(text, needle):
    with pytest.raises(QueryError, match=needle):
        parse_time_range(text, TODAY)


@pytest.mark.parametrize(
    "text", ["2024-13", "2024-W60", "0000", "9999", "fy0001", "last 99999999 days"]
)
def test_well_formed_text_naming_no_real_date_is_a_query_error(text):
    """Regression: these matched a pattern and then raised a bare ValueError/OverflowError
    from datetime (a traceback for the user, a 500 from the server)."""
    with pytest.raises(QueryError, match="names no real date"):
        parse_time_range(text, TODAY, fiscal_start_month=4)


def test_a_bad_time_range_fails_the_query_as_a_query_error(shop):
    with pytest.raises(QueryError, match="names no real date"):
        shop.query("shop", ["revenue"], time_range="2024-13").df


def test_grain_names():
    assert check_grain(" Month ") == "month"
    with pytest.raises(QueryError) as e:
        check_grain("mnth")
    assert "Unknown grain 'mnth'" in str(e.value) and "month" in e.value.suggestions
