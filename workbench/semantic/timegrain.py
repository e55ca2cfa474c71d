"""Time grains (second … year, fiscal quarter and year) and human time ranges ('last 90 days')."""

from __future__ import annotations

import calendar
import datetime as dt
import re

import ibis
import ibis.expr.types as ir

from .errors import QueryError

GRAINS = (
    "second",
    "minute",
    "hour",
    "day",
    "week",
    "month",
    "quarter",
    "year",
    "fiscal_quarter",
    "fiscal_year",
)
_UNIT = {
    "second": "s",
    "minute": "m",
    "hour": "h",
    "day": "D",
    "week": "W",
    "month": "M",
    "quarter": "Q",
    "year": "Y",
}
# one period of each grain, for period-over-period offsets
PERIOD = {
    "second": {"seconds": 1},
    "minute": {"minutes": 1},
    "hour": {"hours": 1},
    "day": {"days": 1},
    "week": {"days": 7},
    "month": {"months": 1},
    "quarter": {"months": 3},
    "year": {"years": 1},
    "fiscal_quarter": {"months": 3},
    "fiscal_year": {"years": 1},
}


def check_grain(grain: str) -> str:
    g = grain.lower().strip()
    if g not in GRAINS:
        from .errors import closest

        raise QueryError(f"Unknown grain '{grain}'.", closest(g, GRAINS))
    return g


def truncate(value: ir.Value, grain: str, fiscal_start_month: int = 1) -> ir.Value:
    grain = check_grain(grain)
    if grain.startswith("fiscal_"):
        shift = fiscal_start_month - 1
        unit = "Q" if grain == "fiscal_quarter" else "Y"
        if shift == 0:
            return value.truncate(unit)
        # a fiscal period is the calendar period of the date moved back to the fiscal start
        back = value - ibis.interval(months=shift)
        return (back.truncate(unit) + ibis.interval(months=shift)).cast(value.type())
    if value.type().is_date() and grain in ("second", "minute", "hour"):
        return value
    return value.truncate(_UNIT[grain])


def period_index(value: ir.Value, grain: str) -> ir.IntegerValue:
    """An integer that grows by one per period: lets rolling windows be range windows on
    integers, which every engine supports, and stay right across gaps in the data."""
    grain = check_grain(grain).removeprefix("fiscal_")
    if grain in ("second", "minute", "hour", "day", "week"):
        secs = value.cast("timestamp").epoch_seconds()
        size = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}[grain]
        return (secs // size).cast("int64")
    months = value.year().cast("int64") * 12 + value.month().cast("int64") - 1
    return {"month": months, "quarter": months // 3, "year": value.year().cast("int64")}[grain]


def add_period(d: dt.date, grain: str, n: int = 1) -> dt.date:
    if grain in ("day",):
        return d + dt.timedelta(days=n)
    if grain == "week":
        return d + dt.timedelta(days=7 * n)
    months = {"month": 1, "quarter": 3, "year": 12}[grain] * n
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return dt.date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def parse_time_range(
    text: str, today: dt.date | None = None, fiscal_start_month: int = 1
) -> tuple[dt.datetime, dt.datetime]:
    """A half-open [start, end) range from text such as 'last 90 days', '2024-Q2', '2024',
    '2024-05', '2024-W10', '2024-01-01..2024-03-31', 'this year', 'ytd', 'yesterday'."""
    try:
        return _parse_time_range(text, today or dt.date.today(), fiscal_start_month)
    except (ValueError, OverflowError) as e:
        # well-formed text naming no real date ('2024-13', '2024-W60', 'last 99999999 days'):
        # a QueryError saying so, not a bare ValueError (a traceback, a 500 in the server)
        raise QueryError(f"Time range {text!r} names no real date ({e}).") from None


def _parse_time_range(
    text: str, today: dt.date, fiscal_start_month: int
) -> tuple[dt.datetime, dt.datetime]:
    t = text.strip().lower()
    start: dt.date | None = None
    end: dt.date | None = None
    m = re.fullmatch(r"(last|past|previous|next) (\d+) (day|week|month|quarter|year)s?", t)
    if m:
        n, unit = int(m.group(2)), m.group(3)
        if m.group(1) == "next":
            start, end = (
                today + dt.timedelta(days=1),
                add_period(today + dt.timedelta(days=1), unit, n),
            )
        else:
            end = today + dt.timedelta(days=1)
            start = add_period(end, unit, -n)
    elif m := re.fullmatch(r"(last|this|previous) (week|month|quarter|year)", t):
        cur = _period_start(today, m.group(2))
        start = add_period(cur, m.group(2), -1) if m.group(1) in ("last", "previous") else cur
        end = add_period(start, m.group(2), 1)
    elif t in ("today", "yesterday"):
        start = today - dt.timedelta(days=1 if t == "yesterday" else 0)
        end = start + dt.timedelta(days=1)
    elif t in ("ytd", "mtd", "qtd", "year to date", "month to date", "quarter to date"):
        unit = {"y": "year", "m": "month", "q": "quarter"}[t[0]]
        start, end = _period_start(today, unit), today + dt.timedelta(days=1)
    elif m := re.fullmatch(r"(fy)?(\d{4})", t):
        if m.group(1) and fiscal_start_month != 1:
            # FY2025 is the fiscal year that ends in calendar 2025
            start = dt.date(int(m.group(2)) - 1, fiscal_start_month, 1)
        else:
            start = dt.date(int(m.group(2)), 1, 1)
        end = add_period(start, "year", 1)
    elif m := re.fullmatch(r"(\d{4})-?q([1-4])", t):
        start = dt.date(int(m.group(1)), 3 * int(m.group(2)) - 2, 1)
        end = add_period(start, "quarter", 1)
    elif m := re.fullmatch(r"(\d{4})-(\d{1,2})", t):
        start = dt.date(int(m.group(1)), int(m.group(2)), 1)
        end = add_period(start, "month", 1)
    elif m := re.fullmatch(r"(\d{4})-?w(\d{1,2})", t):
        start = dt.date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
        end = start + dt.timedelta(days=7)
    elif m := re.fullmatch(r"(\S+)\s*(?:\.\.|to)\s*(\S+)", t):
        start, last = _date(m.group(1), text), _date(m.group(2), text)
        end = (
            last + dt.timedelta(days=1)
            if isinstance(last, dt.date) and not isinstance(last, dt.datetime)
            else last
        )
    elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", t):
        start = _date(t, text)
        end = start + dt.timedelta(days=1)
    if start is None or end is None:  # end is set with start; None only if nothing matched
        raise QueryError(
            f"Cannot understand time range {text!r}. Try 'last 90 days', '2024-Q2', '2024', "
            "'2024-05', '2024-W10', '2024-01-01..2024-03-31', 'this year', 'ytd' or 'yesterday'."
        )
    return _dt(start), _dt(end)


def _period_start(d: dt.date, unit: str) -> dt.date:
    if unit == "week":
        return d - dt.timedelta(days=d.weekday())
    if unit == "month":
        return d.replace(day=1)
    if unit == "quarter":
        return dt.date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)
    return dt.date(d.year, 1, 1)


def _date(s: str, text: str) -> dt.date:
    try:
        return dt.datetime.fromisoformat(s) if "t" in s or ":" in s else dt.date.fromisoformat(s)
    except ValueError:
        raise QueryError(f"Bad date {s!r} in time range {text!r}; use YYYY-MM-DD.") from None


def _dt(d: dt.date) -> dt.datetime:
    return d if isinstance(d, dt.datetime) else dt.datetime(d.year, d.month, d.day)
