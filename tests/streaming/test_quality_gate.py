"""The pipeline quality gate: failing silver rows are quarantined (never deleted) with the checks they
failed and the batch that found them; gold skips them; a passing correction releases them.

Expected gold values are computed by hand below; `_recompute_without_quarantine` is independent
SQL (the hand-written recompute of conftest over silver minus the active quarantine keys)."""

from __future__ import annotations

import json
import random

import pytest

from workbench.semantic.errors import ModelError
from workbench.streaming import envelope, pipeline_from_dict
from workbench.streaming.apply import BatchApplier
from workbench.streaming.events import RawEvent, dumps
from workbench.streaming.simulator import OrderSimulator
from workbench.streaming.spec import load_spec

from .conftest import RECOMPUTE, demo_spec, spec_with_source

T = "2026-01-01 10:00:10"


def _order(oid, region, status, net, channel=1):
    return {
        "order_id": oid,
        "customer_id": 10 + oid,
        "store_id": 1,
        "channel_id": channel,
        "region_id": region,
        "ordered_at": T,
        "status": status,
        "is_promo": False,
        "line_count": 1,
        "gross_amount": "200.00",
        "discount_amount": "0.00",
        "net_amount": net,
    }


def _line(oid, qty, amount, product=1):
    return {
        "order_id": oid,
        "line_no": 1,
        "product_id": product,
        "quantity": qty,
        "unit_price": "1.00",
        "discount": "0.00",
        "line_amount": amount,
    }


class Feed:
    def __init__(self, tmp_path, warehouse, quality=None):
        spec = spec_with_source({"kind": "embedded", "path": str(tmp_path / "op.sqlite")})
        if quality is not None:
            spec["quality"] = quality
        self.p = pipeline_from_dict("qg_test", spec, warehouse)
        self.p._open_warehouse()
        self.applier = BatchApplier(self.p.con, self.p.spec, self.p.name, self.p.views)
        self.i = 0
        self.committed = None

    def batch(self, changes):
        evs = []
        for table, op, before, after in changes:
            self.i += 1
            evs.append(RawEvent(self.i, 0, str(self.i), dumps(envelope(table, op, before, after))))
        res = self.applier.apply(evs, self.committed)
        self.committed = res.position
        return res

    @property
    def con(self):
        return self.p.cursor()


def _active(con):
    rows = con.execute(
        "SELECT row_key, failed_checks FROM stream_quarantine WHERE released_at IS NULL "
        "AND table_name = 'orders'"
    ).fetchall()
    return {json.loads(k)[0]: sorted(f) for k, f in rows}


def _rows(con, sql):
    return sorted(
        tuple(float(v) if hasattr(v, "as_tuple") else v for v in r)
        for r in con.execute(sql).fetchall()
    )


_MEASURES = {"revenue", "orders", "all_orders", "_rows", "line_revenue", "units"}


def _recompute_without_quarantine(con):
    visible = (
        "(SELECT * FROM silver_orders WHERE json_array(order_id)::VARCHAR NOT IN (SELECT row_key FROM "
        "stream_quarantine WHERE released_at IS NULL AND silver_table = 'silver_orders'))"
    )
    for name, sql in RECOMPUTE.items():
        # gold may carry more dimensions than the hand-written recompute: roll it up to those
        cols = [d[0] for d in con.execute(f"DESCRIBE {sql}").fetchall()]
        sel = ", ".join(f"sum({c})" if c in _MEASURES else c for c in cols)
        assert _rows(con, f"SELECT {sel} FROM {name} GROUP BY ALL") == _rows(
            con, sql.replace("silver_orders", visible)
        ), name


def test_bad_rows_quarantined_excluded_from_gold_and_released_by_a_fix(tmp_path, warehouse):
    f = Feed(tmp_path, warehouse)
    r1 = f.batch(
        [
            ("orders", "c", None, _order(1, 1, "processing", "100.00")),
            ("order_lines", "c", None, _line(1, 2, "100.00")),
            ("orders", "c", None, _order(2, 1, "processing", "-5.00")),
            ("order_lines", "c", None, _line(2, 1, "7.00")),
            ("orders", "c", None, _order(3, 2, "bogus", "50.00")),
            ("orders", "c", None, _order(4, 2, "lost", "-1.00")),
        ]
    )
    con = f.con
    assert r1.quarantined == 3 and r1.dead_letters == 0
    assert _active(con) == {
        2: ["net_amount_non_negative"],
        3: ["status_known"],
        4: ["net_amount_non_negative", "status_known"],
    }
    q = con.execute(
        "SELECT DISTINCT pipeline, batch_id, position, quarantined_at IS NOT NULL "
        "FROM stream_quarantine"
    ).fetchall()
    assert q == [("qg_test", r1.batch_id, "6", True)]
    # silver keeps every row (never deleted)
    assert con.execute("SELECT count(*) FROM silver_orders").fetchone()[0] == 4
    # gold counts only order 1: region 2 has no visible order at all
    assert _rows(
        con,
        "SELECT region_id, channel_id, revenue, orders, all_orders, _rows FROM live_sales_minute",
    ) == [(1, 1, 100.0, 1, 1, 1)]
    assert _rows(con, "SELECT region_id, revenue, orders, _rows FROM live_sales_day") == [
        (1, 100.0, 1, 1)
    ]
    # product 1 is in category 2 (reference stand-in: 1 + id % 12); order 2's line is hidden with its order
    assert _rows(
        con, "SELECT category_id, line_revenue, units, _rows FROM live_category_minute"
    ) == [(2, 100.0, 2.0, 1)]
    _recompute_without_quarantine(con)

    # batch 2: order 2 corrected (passes), order 3 still bad (new status), order 4 deleted
    r2 = f.batch(
        [
            (
                "orders",
                "u",
                _order(2, 1, "processing", "-5.00"),
                _order(2, 1, "processing", "7.00"),
            ),
            ("orders", "u", _order(3, 2, "bogus", "50.00"), _order(3, 2, "unknown", "50.00")),
            ("orders", "d", _order(4, 2, "lost", "-1.00"), None),
        ]
    )
    con = f.con
    assert r2.quarantined == 1 and r2.released == 3
    assert _active(con) == {3: ["status_known"]}
    reasons = dict(
        con.execute(
            "SELECT json_extract(row_key, '$[0]')::INT, release_reason FROM stream_quarantine "
            "WHERE released_batch = ?",
            [r2.batch_id],
        ).fetchall()
    )
    assert reasons == {2: "passed", 3: "superseded", 4: "deleted"}
    assert _rows(
        con,
        "SELECT region_id, channel_id, revenue, orders, all_orders, _rows FROM live_sales_minute",
    ) == [(1, 1, 107.0, 2, 2, 2)]
    assert _rows(
        con, "SELECT category_id, line_revenue, units, _rows FROM live_category_minute"
    ) == [(2, 107.0, 3.0, 2)]
    assert con.execute("SELECT count(*) FROM silver_orders").fetchone()[0] == 3
    _recompute_without_quarantine(con)

    # batch 3: order 1 goes bad (cancelled is fine, 'weird' is not); its line disappears from gold too
    f.batch(
        [("orders", "u", _order(1, 1, "processing", "100.00"), _order(1, 1, "weird", "100.00"))]
    )
    con = f.con
    assert _active(con) == {1: ["status_known"], 3: ["status_known"]}
    assert _rows(
        con,
        "SELECT region_id, channel_id, revenue, orders, all_orders, _rows FROM live_sales_minute",
    ) == [(1, 1, 7.0, 1, 1, 1)]
    assert _rows(
        con, "SELECT category_id, line_revenue, units, _rows FROM live_category_minute"
    ) == [(2, 7.0, 1.0, 1)]
    _recompute_without_quarantine(con)
    # a rebuild from silver agrees with the incrementally maintained gold
    before = _rows(con, "SELECT * FROM live_sales_minute")
    f.p.views[0].recompute(f.p.con)
    assert _rows(f.con, "SELECT * FROM live_sales_minute") == before


def test_random_stream_with_bad_rows_keeps_gold_equal_to_recompute(tmp_path, warehouse):
    f = Feed(tmp_path, warehouse)
    rng = random.Random(11)
    sim = OrderSimulator(seed=11)
    changes = []
    for tx in sim.transactions(600):
        for table, op, before, after in tx:
            if table == "orders" and after is not None and rng.random() < 0.15:
                after = dict(
                    after,
                    net_amount=-1 if rng.random() < 0.5 else after["net_amount"],
                    status="??" if rng.random() < 0.5 else after["status"],
                )
            changes.append((table, op, before, after))
    for k in range(0, len(changes), 97):
        f.batch(changes[k : k + 97])
    con = f.con
    assert 0 < len(_active(con)) < con.execute("SELECT count(*) FROM silver_orders").fetchone()[0]
    _recompute_without_quarantine(con)


def _write(tmp_path, quality_yaml: str):
    """The demo spec with its quality section replaced."""
    from .conftest import ROOT

    base = (ROOT / "pipelines" / "demo_orders.yml").read_text().split("\nquality:")[0]
    p = tmp_path / "bad.yml"
    p.write_text(base + "\n" + quality_yaml)
    return p


@pytest.mark.parametrize(
    "checks, problem, field",
    [
        (
            "- {name: a, expect: expect_column_values_to_be_between, column: net_amt, min_value: 0}",
            "column 'net_amt' is not a column of orders",
            "column",
        ),
        (
            "- {name: a, expect: expect_column_values_to_be_unique, column: order_id}\n  engine: sql",
            "has no SQL form",
            "quality",
        ),
        (
            "- {name: a, expect: no_such_thing, column: order_id}",
            "is not a Great Expectations expectation type",
            "checks",
        ),
        (
            "- {name: a, expect: expect_column_values_to_not_be_null, column: status, mostly: 0.9}",
            "'mostly' is a whole-table threshold",
            "checks",
        ),
    ],
)
def test_spec_errors_name_file_line_and_field(tmp_path, checks, problem, field):
    yaml = "quality:\n  tables:\n    orders:\n      checks:\n        " + checks + "\n"
    path = _write(tmp_path, yaml)
    line = (
        next(i for i, t in enumerate(path.read_text().splitlines(), 1) if "name: a" in t)
        if "engine" not in checks
        else len(path.read_text().splitlines()) - 5
    )  # the check, or 'quality:'

    with pytest.raises(ModelError) as e:
        load_spec(path)
    text = str(e.value)
    assert problem in text and "bad.yml" in text and str(line) in text and field in text, text


def test_demo_spec_has_the_gate():
    spec = demo_spec()
    assert [c["name"] for c in spec["quality"]["tables"]["orders"]["checks"]] == [
        "net_amount_non_negative",
        "status_known",
        "gross_covers_net",
    ]
    assert spec["quality"]["engine"] == "auto"


# -- Great Expectations: the oracle of the SQL forms, and the engine of everything else ------------
ORACLE_CHECKS = [
    {
        "name": "customer_present",
        "expect": "expect_column_values_to_not_be_null",
        "column": "customer_id",
    },
    {
        "name": "net_in_range",
        "expect": "expect_column_values_to_be_between",
        "column": "net_amount",
        "min_value": 0,
        "max_value": 500,
    },
    {
        "name": "lines_below_20",
        "expect": "expect_column_values_to_be_between",
        "column": "line_count",
        "min_value": 1,
        "max_value": 20,
        "strict_max": True,
    },
    {
        "name": "status_known",
        "expect": "expect_column_values_to_be_in_set",
        "column": "status",
        "value_set": ["completed", "cancelled", "processing", "returned"],
    },
    {
        "name": "channel_not_9",
        "expect": "expect_column_values_to_not_be_in_set",
        "column": "channel_id",
        "value_set": [9],
    },
    {
        "name": "status_lower",
        "expect": "expect_column_values_to_match_regex",
        "column": "status",
        "regex": "^[a-z]+$",
    },
    {
        "name": "status_not_test",
        "expect": "expect_column_values_to_not_match_regex",
        "column": "status",
        "regex": "test",
    },
    {
        "name": "status_length",
        "expect": "expect_column_value_lengths_to_be_between",
        "column": "status",
        "min_value": 3,
        "max_value": 12,
    },
    {
        "name": "gross_covers_net",
        "expect": "expect_column_pair_values_a_to_be_greater_than_b",
        "column_A": "gross_amount",
        "column_B": "net_amount",
        "or_equal": True,
    },
    {
        "name": "net_near_gross",
        "expect": "expect_order_total_to_equal_sum_of_lines",
        "column_A": "net_amount",
        "column_B": "gross_amount",
        "tolerance": 5,
    },
    {
        "name": "discount_within_gross",
        "expect": "expect_refund_not_to_exceed_payment",
        "column_A": "discount_amount",
        "column_B": "gross_amount",
    },
]


def _faulty_orders(n=240, seed=5):
    rng = random.Random(seed)
    out = []
    for oid in range(1, n + 1):
        o = _order(
            oid,
            1 + oid % 3,
            rng.choice(["completed", "cancelled", "processing", "returned"]),
            f"{rng.uniform(1, 400):.2f}",
        )
        o["gross_amount"] = f"{float(o['net_amount']) + rng.choice([0, 2, 4.99, 5, 30]):.2f}"
        o["discount_amount"] = f"{float(o['gross_amount']) - float(o['net_amount']):.2f}"
        fault = rng.random()
        if fault < 0.04:
            o["customer_id"] = None
        elif fault < 0.08:
            o["net_amount"] = rng.choice(["-3.00", "900.00", None])
        elif fault < 0.12:
            o["status"] = rng.choice(
                ["TEST", "a test", "x", "returned-late", "completed_and_archived"]
            )
        elif fault < 0.15:
            o["channel_id"] = 9
        elif fault < 0.18:
            o["line_count"] = rng.choice([0, 20, 19])
        elif fault < 0.22:
            o["gross_amount"] = rng.choice([None, "1.00"])
        elif fault < 0.25:
            o["discount_amount"] = f"{float(o['gross_amount']) + 0.01:.2f}"
        out.append(o)
    return out


def _quarantined(con):
    rows = con.execute(
        "SELECT row_key, failed_checks FROM stream_quarantine WHERE released_at IS NULL"
    ).fetchall()
    return {json.loads(k)[0]: sorted(f) for k, f in rows}


def _ge_oracle(con, checks):
    """The same checks run by Great Expectations itself (pandas data source) on the same rows."""
    from workbench.quality.ge_runtime import run_suite
    from workbench.quality.suite_spec import Suite

    suite = Suite.model_validate(
        {
            "suite": "oracle",
            "target": {"table": "silver_orders"},
            "key": ["order_id"],
            "checks": [{**c, "dimension": "validity"} for c in checks],
        }
    )
    df = (
        con.execute("SELECT * EXCLUDE (_hi, _lo) FROM silver_orders").df()
        if "_hi" in [d[0] for d in con.execute("DESCRIBE silver_orders").fetchall()]
        else con.execute("SELECT * FROM silver_orders").df()
    )
    outcomes, _ = run_suite(suite, "pandas", dataframe=df)
    failed: dict = {}
    for o in outcomes:
        assert o.error is None, o
        for (k,) in o.unexpected_keys:
            failed.setdefault(k, []).append(o.name)
    return {k: sorted(v) for k, v in failed.items()}


@pytest.mark.parametrize("engine", ["auto", "ge"])
def test_gate_fails_exactly_the_keys_great_expectations_fails(tmp_path, warehouse, engine):
    quality = {"engine": engine, "tables": {"orders": {"checks": ORACLE_CHECKS}}}
    f = Feed(tmp_path, warehouse, quality)
    assert bool(f.applier.gate.ge) == (engine == "ge")  # auto: every check here has a SQL form
    orders = _faulty_orders()
    f.batch([("orders", "c", None, o) for o in orders])
    con = f.con
    got, oracle = _quarantined(con), _ge_oracle(con, ORACLE_CHECKS)
    assert got == oracle
    # every kind of check found something, and most rows passed untouched
    assert {c for v in got.values() for c in v} == {c["name"] for c in ORACLE_CHECKS}
    assert 0 < len(got) < len(orders) / 2


def test_checks_without_a_sql_form_run_with_great_expectations(tmp_path, warehouse):
    quality = {
        "tables": {
            "orders": {
                "checks": [
                    {
                        "name": "customer_is_not_the_store",
                        "expect": "expect_select_column_values_to_be_unique_within_record",
                        "column_list": ["customer_id", "store_id"],
                    },
                    {
                        "name": "status_known",
                        "expect": "expect_column_values_to_be_in_set",
                        "column": "status",
                        "value_set": ["completed", "processing"],
                    },
                ]
            }
        }
    }
    f = Feed(tmp_path, warehouse, quality)
    assert [c.name for c in f.applier.gate.ge["orders"].checks] == ["customer_is_not_the_store"]
    orders = [_order(i, 1, "completed" if i % 4 else "weird", "10.00") for i in range(1, 13)]
    for o in orders:
        o["customer_id"] = 1 if o["order_id"] % 3 == 0 else 100 + o["order_id"]  # store_id is 1
    res = f.batch([("orders", "c", None, o) for o in orders])
    # by hand: customer == store for 3, 6, 9, 12; status weird for 4, 8, 12
    expected = {
        3: ["customer_is_not_the_store"],
        6: ["customer_is_not_the_store"],
        9: ["customer_is_not_the_store"],
        4: ["status_known"],
        8: ["status_known"],
        12: ["customer_is_not_the_store", "status_known"],
    }
    assert _quarantined(f.con) == expected and res.quarantined == 6
    # the row as judged is kept with its entry
    data = json.loads(
        f.con.execute("SELECT row_data FROM stream_quarantine WHERE row_key = '[12]'").fetchone()[0]
    )
    assert data["customer_id"] == 1 and data["status"] == "weird" and data["net_amount"] == 10.0
    # a correction releases it; gold never counted it
    f.batch([("orders", "u", orders[11], dict(orders[11], customer_id=7, status="completed"))])
    assert 12 not in _quarantined(f.con)


def test_gate_runs_the_row_checks_of_a_suite(tmp_path, warehouse):
    suites = tmp_path / "quality"
    suites.mkdir()
    (suites / "live_orders.yml").write_text("""suite: live_orders
target: {table: silver_orders}
key: [order_id]
checks:
  - {name: customer_present, expect: expect_column_values_to_not_be_null, column: customer_id, dimension: completeness}
  - {name: order_id_unique, expect: expect_column_values_to_be_unique, column: order_id, dimension: uniqueness}
  - {name: net_non_negative, expect: expect_column_values_to_be_between, column: net_amount, min_value: 0,
     mostly: 0.99, dimension: validity}
  - {name: fresh, expect: expect_column_max_to_be_between, column: ordered_at, max_age: 2d, dimension: freshness}
""")
    quality = {
        "suites_dir": str(suites),
        "tables": {
            "orders": {
                "suite": "live_orders",
                "checks": [
                    {
                        "name": "status_known",
                        "expect": "expect_column_values_to_be_in_set",
                        "column": "status",
                        "value_set": ["completed"],
                    }
                ],
            }
        },
    }
    f = Feed(tmp_path, warehouse, quality)
    gate = f.applier.gate
    assert [c.name for c in gate.checks["orders"]] == [
        "customer_present",
        "net_non_negative",
        "status_known",
    ]
    assert gate.skipped["orders"] == [
        "order_id_unique",
        "fresh",
    ]  # whole-table checks: workbench validate
    bad = dict(_order(2, 1, "completed", "-1.00"), customer_id=None)
    f.batch(
        [
            ("orders", "c", None, _order(1, 1, "completed", "5.00")),
            ("orders", "c", None, bad),
            ("orders", "c", None, _order(3, 1, "lost", "5.00")),
        ]
    )
    assert _quarantined(f.con) == {2: ["customer_present", "net_non_negative"], 3: ["status_known"]}


def test_a_whole_table_check_inline_is_refused_when_the_gate_is_built(tmp_path, warehouse):
    quality = {
        "tables": {
            "orders": {
                "checks": [
                    {
                        "name": "unique_ids",
                        "expect": "expect_column_values_to_be_unique",
                        "column": "order_id",
                    }
                ]
            }
        }
    }
    with pytest.raises(ModelError) as e:
        Feed(tmp_path, warehouse, quality)
    assert "unique_ids" in str(e.value) and "whole table" in str(e.value)
