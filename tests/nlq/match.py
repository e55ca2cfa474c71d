"""Execution match: does an answer's frame hold the same rows as the gold's?

Rows are compared as a multiset (row order ignored unless the item is ``ordered``). Within a row
the values are compared as a multiset too, so column names and column order never matter: an
engine may call the revenue column ``Revenue`` or put the region last. Values are normalised
before comparing:

* numbers (int, float, Decimal, numpy) become floats rounded to 1e-6 (``-0.0`` is ``0.0``);
  from a million up, to 12 significant digits instead, because a float sum of that size already
  differs in its last bits between two summation orders (2045134942.093901 vs .0939);
* booleans stay booleans (``True`` is not ``1``);
* dates, datetimes and timestamps become ISO timestamps (a date is its midnight);
* missing values (None, NaN, NaT, pandas NA) are all one "missing";
* everything else is its ``str()``.

A frame with an extra or a missing column does not match: its rows are different rows.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

MISSING = ("missing",)
DIGITS = 6
SIGNIFICANT = 12


def normalise_value(value: Any) -> tuple:
    """One value as a hashable, typed token (see the module doc)."""
    if value is None or value is pd.NaT:
        return MISSING
    if isinstance(value, bool | np.bool_):
        return ("bool", bool(value))
    if isinstance(value, int | float | decimal.Decimal | np.integer | np.floating):
        f = float(value)
        if math.isnan(f):
            return MISSING
        if math.isinf(f):
            return ("num", f)
        r = round(f, min(DIGITS, SIGNIFICANT - 1 - math.floor(math.log10(abs(f))))) if f else f
        return ("num", 0.0 if r == 0 else r)
    if isinstance(value, pd.Timestamp | dt.datetime | dt.date | np.datetime64):
        ts = pd.Timestamp(value)
        if ts is pd.NaT:
            return MISSING
        return ("time", ts.tz_localize(None).isoformat() if ts.tzinfo else ts.isoformat())
    try:
        if pd.isna(value):
            return MISSING
    except (TypeError, ValueError):
        pass
    return ("text", str(value))


def normalise_row(values) -> tuple:
    """A row as the sorted multiset of its normalised values (column order ignored)."""
    return tuple(sorted((normalise_value(v) for v in values), key=repr))


def frame_rows(frame: pd.DataFrame) -> list[tuple]:
    """The rows of a DataFrame, normalised, in the frame's order (the index is not data)."""
    return [normalise_row(row) for row in frame.itertuples(index=False, name=None)]


def rows_of(rows: list[list[Any]]) -> list[tuple]:
    """Hand-written expected rows (lists of values), normalised."""
    return [normalise_row(row) for row in rows]


def rows_match(got: list[tuple], want: list[tuple], ordered: bool = False) -> bool:
    """Same rows; in the same order only when ``ordered``."""
    if ordered:
        return got == want
    return Counter(got) == Counter(want)


def frames_match(got: pd.DataFrame, want: pd.DataFrame, ordered: bool = False) -> bool:
    return rows_match(frame_rows(got), frame_rows(want), ordered)


def describe_mismatch(got: list[tuple], want: list[tuple], limit: int = 3) -> str:
    """A short human reason two row lists differ (for the benchmark's failure listing)."""
    if len(got) != len(want):
        return f"{len(got)} rows, expected {len(want)}"
    if got and want and len(got[0]) != len(want[0]):
        return f"{len(got[0])} columns, expected {len(want[0])}"
    extra = list((Counter(got) - Counter(want)).elements())[:limit]
    if not extra:
        return "same rows in another order"
    return "unexpected rows: " + "; ".join(_show(r) for r in extra)


def _show(row: tuple) -> str:
    return "(" + ", ".join("null" if v == MISSING else str(v[1]) for v in row) + ")"


__all__ = [
    "describe_mismatch",
    "frame_rows",
    "frames_match",
    "normalise_row",
    "normalise_value",
    "rows_match",
    "rows_of",
]
