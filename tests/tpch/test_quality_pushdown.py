"""The benchmark suite (pipelines/quality/tpch_lineitem.yml) on TPC-H lineitem with injected
faults: the DuckDB-tuned GE engine (filtered counts, workbench.quality.ge_duckdb) gives exactly
the outcomes of GE's plain SQL engine, and both find the hand-counted faults."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from workbench.quality.ge_runtime import open_duckdb, run_suite
from workbench.quality.suite_spec import load_suite

SUITE = Path(__file__).resolve().parents[2] / "pipelines" / "quality" / "tpch_lineitem.yml"

# check -> (rows changed, the change); each fault hits its own rows (rn = row number by key)
FAULTS = {
    "partkey_present": (3, "l_partkey = null"),
    "quantity_in_range": (2, "l_quantity = 0"),
    "shipmode_known": (4, "l_shipmode = 'BOAT'"),
    "received_after_shipped": (5, "l_receiptdate = l_shipdate - 1"),
    "comment_length": (2, "l_comment = 'x' || repeat('y', 50)"),
    "discount_in_range": (1, "l_discount = 0.5"),
}


@pytest.fixture(scope="module")
def faulty_lineitem(tpch_duckdb, tmp_path_factory):
    path = tmp_path_factory.mktemp("pushdown") / "faulty.duckdb"
    shutil.copy(tpch_duckdb, path)
    with duckdb.connect(str(path)) as con:
        con.execute(
            "create temp table keyed as select l_orderkey k, l_linenumber n, "
            "row_number() over (order by l_orderkey, l_linenumber) rn from lineitem"
        )
        first = 1
        for _, (count, change) in FAULTS.items():
            con.execute(
                f"update lineitem set {change} from keyed where l_orderkey = k and "
                f"l_linenumber = n and rn between {first} and {first + count - 1}"
            )
            first += count + 10
        # three rows with an unknown return flag nulled: in-set checks do not judge nulls
        con.execute(
            "update lineitem set l_returnflag = null from keyed where l_orderkey = k "
            "and l_linenumber = n and rn between 200 and 202"
        )
        rows = con.execute("select count(*) from lineitem").fetchone()[0]
    return path, rows


def _run(path, pushdown, result_format="SUMMARY"):
    spec = load_suite(SUITE)
    con = open_duckdb(path)
    try:
        outs, _ = run_suite(
            spec, "duckdb", duckdb_connection=con, result_format=result_format, pushdown=pushdown
        )
    finally:
        con.close()
    return {o.name: o for o in outs}


def _comparable(outcomes):
    return {
        n: (
            o.success,
            o.element_count,
            o.unexpected_count,
            o.missing_count,
            o.observed_value,
            sorted(o.unexpected_keys),
            o.error,
        )
        for n, o in outcomes.items()
    }


@pytest.mark.parametrize("result_format", ["SUMMARY", "COMPLETE"])
def test_pushdown_engine_equals_plain_ge(faulty_lineitem, result_format):
    path, _ = faulty_lineitem
    fast = _run(path, True, result_format)
    plain = _run(path, False, result_format)
    assert len(fast) == 20
    assert _comparable(fast) == _comparable(plain)


def test_faults_are_counted_by_hand(faulty_lineitem):
    path, rows = faulty_lineitem
    got = _run(path, True)
    for name, (count, _) in FAULTS.items():
        assert got[name].unexpected_count == count, name
        assert got[name].success is False, name
    assert got["returnflag_known"].unexpected_count == 0
    assert got["returnflag_known"].missing_count == 3
    failing = {n for n, o in got.items() if not o.success}
    assert failing == set(FAULTS)
    assert got["rows_present"].observed_value == rows
    assert all(o.error is None for o in got.values())


def test_empty_table_gives_ge_null_counts(faulty_lineitem, tmp_path):
    path = tmp_path / "empty.duckdb"
    shutil.copy(faulty_lineitem[0], path)
    with duckdb.connect(str(path)) as con:
        con.execute("delete from lineitem")
    fast, plain = _run(path, True), _run(path, False)
    assert _comparable(fast) == _comparable(plain)
    assert fast["shipmode_known"].unexpected_count is None  # GE: sum() over no rows
    assert not fast["rows_present"].success


def test_only_ge_count_aggregates_are_rewritten():
    from great_expectations.compatibility.sqlalchemy import sqlalchemy as sa

    from workbench.quality.ge_duckdb import unexpected_condition

    cond = sa.column("x") > 3
    found = unexpected_condition(sa.func.sum(sa.case((cond, 1), else_=0)))
    assert str(found).strip("()") == str(cond) == "x > :x_1"
    assert unexpected_condition(sa.func.sum(sa.case((cond, 2), else_=0))) is None
    assert unexpected_condition(sa.func.sum(sa.column("x"))) is None
    assert unexpected_condition(sa.func.max(sa.case((cond, 1), else_=0))) is None


def test_a_failing_filtered_count_falls_back_to_ge_bundle(faulty_lineitem, monkeypatch):
    from workbench.quality import ge_duckdb

    path, _ = faulty_lineitem
    calls = []

    def refuse(self, domain, items):
        calls.append(len(items))
        raise RuntimeError("DuckDB refused the WHERE clause")

    expected = _comparable(_run(path, False))
    monkeypatch.setattr(ge_duckdb.DuckDBExecutionEngine, "_filtered_counts", refuse)
    assert _comparable(_run(path, True)) == expected
    assert calls and sum(calls) >= 15  # every failing-row count went the fallback way
