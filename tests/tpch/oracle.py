"""The TPC-H correctness oracle: the official query text run directly on DuckDB, and the
comparison of a semantic-layer result against it."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

QUERY_DIR = Path(__file__).parent / "queries"
REL_TOL = 1e-6


@dataclass(frozen=True)
class OracleResult:
    name: str
    columns: tuple[str, ...]
    rows: tuple[tuple, ...]  # exact values as DuckDB returns them (Decimal, date, ...)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(list(self.rows), columns=list(self.columns))


def official_sql(name: str) -> str:
    return (QUERY_DIR / f"{name}.sql").read_text()


def run_official(con, name: str) -> OracleResult:
    """Run ``queries/<name>.sql`` on a DuckDB connection, keeping exact values."""
    cur = con.execute(official_sql(name))
    columns = tuple(d[0] for d in cur.description)
    return OracleResult(name, columns, tuple(tuple(r) for r in cur.fetchall()))


def _norm(v):
    """One comparable Python value per cell: None, float, str, date or datetime."""
    if v is None or v is pd.NaT or v is pd.NA:
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float, Decimal)):
        return float(v)
    if isinstance(v, pd.Timestamp):
        v = v.to_pydatetime()
    if isinstance(v, dt.datetime):
        # a DATE grouped at day grain may come back as a midnight timestamp
        return v.date() if v.time() == dt.time(0) and v.tzinfo is None else v
    return v


def cells_equal(a, b, rel_tol: float = REL_TOL) -> bool:
    a, b = _norm(a), _norm(b)
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=rel_tol, abs_tol=1e-9)
    if isinstance(a, float) and isinstance(b, str) or isinstance(a, str) and isinstance(b, float):
        # an integer key typed as a categorical dimension may come back as text
        num, txt = (a, b) if isinstance(a, float) else (b, a)
        return num.is_integer() and txt.strip() == str(int(num))
    return a == b


def _row_key(row) -> tuple:
    # total order over normalised cells, None first, for comparing tie groups as multisets
    return tuple((v is not None, str(type(v)), v if v is not None else 0) for v in map(_norm, row))


def assert_matches_oracle(
    actual: pd.DataFrame,
    expected: OracleResult,
    order_keys: tuple[str, ...] = (),
    rel_tol: float = REL_TOL,
) -> None:
    """``actual`` (oracle column names, see semantic_queries.to_oracle) equals the oracle.

    Same columns, same row count, every cell equal (numbers within ``rel_tol``). Rows are
    compared in order; where the oracle's ORDER BY keys tie, the order inside the tie group is
    not defined by the query, so those rows are compared as a multiset.
    """
    name = expected.name
    assert tuple(actual.columns) == expected.columns, (
        f"{name}: columns {list(actual.columns)} != oracle {list(expected.columns)}"
    )
    got = [tuple(r) for r in actual.itertuples(index=False, name=None)]
    want = list(expected.rows)
    assert len(got) == len(want), (
        f"{name}: {len(got)} rows != oracle {len(want)} rows\n"
        f"semantic:\n{actual.head(30)}\noracle:\n{expected.frame().head(30)}"
    )

    key_idx = [expected.columns.index(k) for k in order_keys]
    start = 0
    while start < len(want):
        end = start + 1
        while end < len(want) and all(
            cells_equal(want[end][i], want[start][i], rel_tol=0.0) for i in key_idx
        ):
            end += 1
        want_group, got_group = want[start:end], got[start:end]
        if end - start > 1:
            want_group = sorted(want_group, key=_row_key)
            got_group = sorted(got_group, key=_row_key)
        for offset, (g, w) in enumerate(zip(got_group, want_group, strict=True)):
            bad = [
                (expected.columns[i], g[i], w[i])
                for i in range(len(w))
                if not cells_equal(g[i], w[i], rel_tol)
            ]
            assert not bad, (
                f"{name}: row {start + offset} differs from the oracle: "
                + "; ".join(f"{c}: semantic {gv!r} != oracle {wv!r}" for c, gv, wv in bad)
                + f"\nsemantic row: {g}\noracle row:   {w}"
            )
        start = end
