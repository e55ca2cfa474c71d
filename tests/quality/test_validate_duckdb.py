"""The orders suite on a demo warehouse with injected faults: every fault is caught with the
hand-computed count, quarantined with the names of its checks, scored and explained; good rows
are untouched. Real Great Expectations runs through its SQL data source on DuckDB."""

from __future__ import annotations

import json

import duckdb
import pytest

from .conftest import NOW


def test_each_fault_is_caught_with_hand_computed_counts(duckdb_run, faulty):
    got = {o.name: o for o in duckdb_run.outcomes}
    for name, count in faulty["expected"].items():
        assert got[name].unexpected_count == count, name
        assert got[name].success is (count == 0), name
        assert got[name].element_count == faulty["rows"], name
    assert not got["columns_as_registered"].success  # schema drift: coupon_code added
    assert "coupon_code" in got["columns_as_registered"].observed_value
    assert got["orders_recent"].success
    assert not duckdb_run.passed
    assert all(o.error is None for o in duckdb_run.outcomes)


def test_failing_rows_are_quarantined_with_their_checks(duckdb_run, faulty):
    q = duckdb_run.quarantined
    got = {tuple(json.loads(k)): set(c) for k, c in zip(q.row_key, q.failed_checks, strict=True)}
    assert got == {(k,): v for k, v in faulty["quarantine"].items()}
    dup = faulty["hit"]["order_id_unique"][0]
    row = q[q.row_key == json.dumps([dup])].iloc[0]
    assert row.occurrences == 2 and len(json.loads(row.row_data)) == 2
    nulled = faulty["hit"]["customer_present"][0]
    data = json.loads(q[q.row_key == json.dumps([nulled])].iloc[0].row_data)
    assert data[0]["order_id"] == nulled and data[0]["customer_id"] is None


def test_good_rows_pass_untouched(duckdb_run, faulty):
    hit = {k for keys in faulty["hit"].values() for k in keys}
    assert duckdb_run.quarantined_keys() == {(k,) for k in hit}
    with duckdb.connect(str(faulty["path"]), read_only=True) as con:
        con.execute(f"ATTACH '{faulty['pristine']}' AS before (READ_ONLY)")
        assert con.execute("select count(*) from orders").fetchone()[0] == faulty["rows"]
        # nothing was deleted or changed: the warehouse's orders equal the pre-run copy
        diff = con.execute(
            "select count(*) from (select * from orders except all select * from before.orders)"
        ).fetchone()[0]
        assert diff == 0


def test_results_scores_and_quarantine_are_stored(duckdb_run, faulty):
    rid = duckdb_run.run_id
    with duckdb.connect(str(faulty["path"]), read_only=True) as con:
        runs = con.execute(
            "select success, checks, failed_checks, quarantined, rows from quality_runs "
            "where run_id = ?",
            [rid],
        ).fetchall()
        assert runs == [(False, 12, 9, 17, faulty["rows"])]
        n = con.execute("select count(*) from quality_results where run_id = ?", [rid]).fetchone()[
            0
        ]
        assert n == 12
        q = con.execute(
            "select row_key, failed_checks from quality_quarantine where run_id = ? "
            "order by row_key",
            [rid],
        ).fetchall()
        assert len(q) == 17 and all(r[1] for r in q)
        dims = dict(
            con.execute(
                "select dimension, score from quality_scores where run_id = ?", [rid]
            ).fetchall()
        )
        assert set(dims) == {
            "overall",
            "completeness",
            "validity",
            "uniqueness",
            "freshness",
            "consistency",
        }
        assert (
            con.execute("select count(*) from quality_metrics where run_id = ?", [rid]).fetchone()[
                0
            ]
            > 10
        )


def test_score_is_weighted_and_explained(duckdb_run, faulty):
    n = faulty["rows"]
    e = faulty["expected"]
    s = duckdb_run.score
    # by hand: dimension = weight-averaged pass rate of its checks
    completeness = 100 * (2 * 1 + (1 - e["customer_present"] / n) + 1) / 4  # order_id weight 2
    validity = (
        100
        * (
            (1 - e["status_known"] / n)
            + (1 - e["net_amount_in_range"] / n)
            + (1 - e["line_count_in_range"] / n)
            + 0
        )
        / 4
    )  # + schema drift: 0
    uniqueness = 100 * (1 - e["order_id_unique"] / n)
    consistency = (
        100
        * (
            2 * (1 - e["total_equals_lines"] / n)
            + (1 - e["shipped_after_ordered"] / n)
            + (1 - e["refund_within_payment"] / n)
        )
        / 4
    )
    assert s.dimensions["completeness"] == pytest.approx(completeness, abs=1e-3)
    assert s.dimensions["validity"] == pytest.approx(validity, abs=1e-3)
    assert s.dimensions["uniqueness"] == pytest.approx(uniqueness, abs=1e-3)
    assert s.dimensions["consistency"] == pytest.approx(consistency, abs=1e-3)
    assert s.dimensions["freshness"] == 100
    overall = (
        0.25 * completeness + 0.25 * validity + 0.2 * uniqueness + 0.2 * consistency + 0.1 * 100
    )
    assert s.overall == pytest.approx(overall, abs=1e-3)
    text = duckdb_run.explain()
    for name in list(faulty["hit"]) + ["columns_as_registered"]:
        assert name in text
    lost = {b["check"]: b["points_lost"] for b in s.breakdown}
    assert lost["columns_as_registered"] == pytest.approx(6.25)
    assert sum(lost.values()) == pytest.approx(100 - s.overall, abs=1e-2)


def test_data_docs_are_built(duckdb_run, faulty):
    assert (faulty["docs"] / "index.html").exists()
    assert duckdb_run.data_docs.endswith("index.html")


def test_to_dict_is_json(duckdb_run):
    body = json.loads(json.dumps(duckdb_run.to_dict(), default=str))
    assert body["passed"] is False and body["quarantined"] == 17
    assert body["score"]["overall"] == duckdb_run.score.overall


def test_history_alerts_and_clean_run(demo_wh, tmp_path):
    import shutil

    import workbench.quality as quality

    wh = tmp_path / "hist.duckdb"
    shutil.copy(demo_wh, wh)
    clean = quality.validate(wh, "orders", "duckdb", now=NOW, data_docs=False)
    assert clean.passed and len(clean.quarantined) == 0 and clean.alerts == []
    assert clean.score.overall == 100
    with duckdb.connect(str(wh)) as con:
        n = con.execute("select count(*) from orders").fetchone()[0]
        # keep 30% of the orders (row-count jump), blank 10% of customers (null-rate drift),
        # and triple amounts together with their lines and payments (a shift, rules still hold)
        con.execute("delete from orders where order_id % 10 >= 3")
        con.execute("update orders set customer_id = null where order_id % 10 = 0")
        con.execute(
            "update orders set net_amount = net_amount * 3, refund_amount = refund_amount * 3"
        )
        con.execute("update order_lines set line_amount = line_amount * 3")
        con.execute("update payments set amount = amount * 3")
        kept = con.execute("select count(*) from orders").fetchone()[0]
    drifted = quality.validate(wh, "orders", "duckdb", now=NOW, data_docs=False)
    kinds = {(a.kind, a.column) for a in drifted.alerts}
    assert ("row_count_jump", None) in kinds
    assert ("null_rate_drift", "customer_id") in kinds
    assert ("distribution_shift", "net_amount") in kinds
    assert ("null_rate_drift", "status") not in kinds
    jump = next(a for a in drifted.alerts if a.kind == "row_count_jump")
    assert (jump.previous, jump.current) == (n, kept)
    with duckdb.connect(str(wh), read_only=True) as con:
        stored = con.execute(
            "select kind from quality_alerts where run_id = ?", [drifted.run_id]
        ).fetchall()
        assert {r[0] for r in stored} >= {"row_count_jump", "null_rate_drift", "distribution_shift"}
        hist = con.execute(
            "select count(distinct run_id) from quality_scores where suite = 'orders'"
        ).fetchone()[0]
        assert hist == 2
