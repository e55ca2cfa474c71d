"""TPC-H through the semantic layer, checked against the official queries run on DuckDB.

The oracle is ``queries/<name>.sql`` (official text, validation parameters) executed directly;
nothing here hard-codes an answer. The same semantic queries run on every registered engine
(the ``engine`` fixture: DuckDB, PostgreSQL with the ``services`` marker, Spark with ``spark``)
against the same oracle.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow.parquet as pq
import pytest

from .oracle import assert_matches_oracle
from .semantic_queries import NAMES, ORDER_KEYS, QUERIES, to_oracle

ASIA = {"CHINA", "INDIA", "INDONESIA", "JAPAN", "VIETNAM"}


def _descending(values) -> bool:
    return all(a >= b for a, b in zip(values, values[1:], strict=False))


# ------------------------------------------------------------------------------- the oracle


def test_oracle_answers_are_plausible(tpch_oracle):
    """Structural facts of the official answers that hold at every scale factor >= 0.01."""
    o = {name: tpch_oracle[name].frame() for name in NAMES}

    q1 = o["q01"]
    assert list(zip(q1.l_returnflag, q1.l_linestatus, strict=True)) == [
        ("A", "F"),
        ("N", "F"),
        ("N", "O"),
        ("R", "F"),
    ]
    assert (q1.sum_disc_price < q1.sum_base_price).all()
    assert (q1.sum_charge > q1.sum_disc_price).all()
    assert q1.avg_disc.astype(float).between(0.04, 0.06).all()
    assert q1.avg_qty.astype(float).between(24, 27).all()

    q3 = o["q03"]
    assert len(q3) == 10 and _descending(list(q3.revenue))
    assert (q3.o_orderdate < dt.date(1995, 3, 15)).all()

    q5 = o["q05"]
    assert set(q5.n_name) <= ASIA and len(q5) >= 1 and _descending(list(q5.revenue))

    assert len(o["q06"]) == 1 and o["q06"].revenue[0] > 0

    q10 = o["q10"]
    assert len(q10) == 20 and _descending(list(q10.revenue))

    q12 = o["q12"]
    assert list(q12.l_shipmode) == ["MAIL", "SHIP"]
    assert (q12.high_line_count > 0).all() and (q12.low_line_count > q12.high_line_count).all()

    assert 0 < o["q14"].promo_revenue[0] < 100
    assert o["q19"].revenue[0] > 0


def test_oracle_q1_and_q6_agree_with_a_computation_from_the_parquet(tpch_parquet, tpch_oracle):
    """Recompute Q1 and Q6 without DuckDB (pyarrow + exact Decimals) from the generated files:
    checks the load into DuckDB and the SQL text together."""
    li = pq.read_table(
        tpch_parquet / "lineitem.parquet",
        columns=[
            "l_returnflag",
            "l_linestatus",
            "l_quantity",
            "l_extendedprice",
            "l_discount",
            "l_tax",
            "l_shipdate",
        ],
    ).to_pylist()

    q6 = sum(
        (
            r["l_extendedprice"] * r["l_discount"]
            for r in li
            if dt.date(1994, 1, 1) <= r["l_shipdate"] < dt.date(1995, 1, 1)
            and Decimal("0.05") <= r["l_discount"] <= Decimal("0.07")
            and r["l_quantity"] < 24
        ),
        Decimal(0),
    )
    assert tpch_oracle["q06"].rows[0][0] == q6

    groups: dict[tuple, list] = {}
    for r in li:
        if r["l_shipdate"] <= dt.date(1998, 9, 2):
            g = groups.setdefault((r["l_returnflag"], r["l_linestatus"]), [0, 0, 0, 0, 0])
            disc = r["l_extendedprice"] * (1 - r["l_discount"])
            g[0] += r["l_quantity"]
            g[1] += r["l_extendedprice"]
            g[2] += disc
            g[3] += disc * (1 + r["l_tax"])
            g[4] += 1
    expected = [(k[0], k[1], *v[:4], v[4]) for k, v in sorted(groups.items())]
    got = [(r[0], r[1], r[2], r[3], r[4], r[5], r[9]) for r in tpch_oracle["q01"].rows]
    assert got == expected


# ---------------------------------------------------------------------- the semantic layer


@pytest.mark.parametrize("name", NAMES)
def test_semantic_query_matches_oracle(tpch_on, tpch_oracle, name):
    """On every registered engine (the `engine` fixture): DuckDB, PostgreSQL, Spark."""
    result = tpch_on.query("tpch", **QUERIES[name])
    assert_matches_oracle(to_oracle(name, result.df), tpch_oracle[name], ORDER_KEYS[name])
