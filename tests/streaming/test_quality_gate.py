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
    return {"order_id": oid, "customer_id": 10 + oid, "store_id": 1, "channel_id": channel, "region_id": region,
            "ordered_at": T, "status": status, "is_promo": False, "line_count": 1, "gross_amount": "200.00",
            "discount_amount": "0.00", "net_amount": net}


def _line(oid, qty, amount, product=1):
    return {"order_id": oid, "line_no": 1, "product_id": product, "quantity": qty, "unit_price": "1.00",
            "discount": "0.00", "line_amount": amount}


class Feed:
    def __init__(self, tmp_path, warehouse):
        spec = spec_with_source({"kind": "embedded", "path": str(tmp_path / "op.sqlite")})
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
    rows = con.execute("SELECT row_key, failed_checks FROM stream_quarantine WHERE released_at IS NULL "
                       "AND table_name = 'orders'").fetchall()
    return {json.loads(k)[0]: sorted(f) for k, f in rows}


def _rows(con, sql):
    return sorted(tuple(float(v) if hasattr(v, "as_tuple") else v for v in r) for r in con.execute(sql).fetchall())


def _recompute_without_quarantine(con):
    visible = ("(SELECT * FROM silver_orders WHERE json_array(order_id)::VARCHAR NOT IN (SELECT row_key FROM "
               "stream_quarantine WHERE released_at IS NULL AND silver_table = 'silver_orders'))")
    for name, sql in RECOMPUTE.items():
        assert _rows(con, f"SELECT * FROM {name}") == _rows(con, sql.replace("silver_orders", visible)), name


def test_bad_rows_quarantined_excluded_from_gold_and_released_by_a_fix(tmp_path, warehouse):
    f = Feed(tmp_path, warehouse)
    r1 = f.batch([
        ("orders", "c", None, _order(1, 1, "processing", "100.00")), ("order_lines", "c", None, _line(1, 2, "100.00")),
        ("orders", "c", None, _order(2, 1, "processing", "-5.00")), ("order_lines", "c", None, _line(2, 1, "7.00")),
        ("orders", "c", None, _order(3, 2, "bogus", "50.00")),
        ("orders", "c", None, _order(4, 2, "lost", "-1.00")),
    ])
    con = f.con
    assert r1.quarantined == 3 and r1.dead_letters == 0
    assert _active(con) == {2: ["net_amount_non_negative"], 3: ["status_known"],
                            4: ["net_amount_non_negative", "status_known"]}
    q = con.execute("SELECT DISTINCT pipeline, batch_id, position, quarantined_at IS NOT NULL "
                    "FROM stream_quarantine").fetchall()
    assert q == [("qg_test", r1.batch_id, "6", True)]
    # silver keeps every row (never deleted)
    assert con.execute("SELECT count(*) FROM silver_orders").fetchone()[0] == 4
    # gold counts only order 1: region 2 has no visible order at all
    assert _rows(con, "SELECT region_id, channel_id, revenue, orders, all_orders, _rows FROM live_sales_minute") == \
        [(1, 1, 100.0, 1, 1, 1)]
    assert _rows(con, "SELECT region_id, revenue, orders, _rows FROM live_sales_day") == [(1, 100.0, 1, 1)]
    # product 1 is in category 2 (reference stand-in: 1 + id % 12); order 2's line is hidden with its order
    assert _rows(con, "SELECT category_id, line_revenue, units, _rows FROM live_category_minute") == \
        [(2, 100.0, 2.0, 1)]
    _recompute_without_quarantine(con)

    # batch 2: order 2 corrected (passes), order 3 still bad (new status), order 4 deleted
    r2 = f.batch([
        ("orders", "u", _order(2, 1, "processing", "-5.00"), _order(2, 1, "processing", "7.00")),
        ("orders", "u", _order(3, 2, "bogus", "50.00"), _order(3, 2, "unknown", "50.00")),
        ("orders", "d", _order(4, 2, "lost", "-1.00"), None),
    ])
    con = f.con
    assert r2.quarantined == 1 and r2.released == 3
    assert _active(con) == {3: ["status_known"]}
    reasons = dict(con.execute("SELECT json_extract(row_key, '$[0]')::INT, release_reason FROM stream_quarantine "
                               "WHERE released_batch = ?", [r2.batch_id]).fetchall())
    assert reasons == {2: "passed", 3: "superseded", 4: "deleted"}
    assert _rows(con, "SELECT region_id, channel_id, revenue, orders, all_orders, _rows FROM live_sales_minute") == \
        [(1, 1, 107.0, 2, 2, 2)]
    assert _rows(con, "SELECT category_id, line_revenue, units, _rows FROM live_category_minute") == \
        [(2, 107.0, 3.0, 2)]
    assert con.execute("SELECT count(*) FROM silver_orders").fetchone()[0] == 3
    _recompute_without_quarantine(con)

    # batch 3: order 1 goes bad (cancelled is fine, 'weird' is not); its line disappears from gold too
    f.batch([("orders", "u", _order(1, 1, "processing", "100.00"), _order(1, 1, "weird", "100.00"))])
    con = f.con
    assert _active(con) == {1: ["status_known"], 3: ["status_known"]}
    assert _rows(con, "SELECT region_id, channel_id, revenue, orders, all_orders, _rows FROM live_sales_minute") == \
        [(1, 1, 7.0, 1, 1, 1)]
    assert _rows(con, "SELECT category_id, line_revenue, units, _rows FROM live_category_minute") == \
        [(2, 7.0, 1.0, 1)]
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
                after = dict(after, net_amount=-1 if rng.random() < 0.5 else after["net_amount"],
                             status="??" if rng.random() < 0.5 else after["status"])
            changes.append((table, op, before, after))
    for k in range(0, len(changes), 97):
        f.batch(changes[k:k + 97])
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


@pytest.mark.parametrize("checks, problem, field", [
    ("- {name: a, expect: expect_column_values_to_be_between, column: net_amt, min_value: 0}",
     "column 'net_amt' is not a column of orders", "column"),
    ("- {name: a, expect: expect_column_values_to_be_unique, column: order_id}",
     "not a row-level expectation", "checks"),
    ("- {name: a, expect: expect_column_values_to_not_be_null, column: status, mostly: 0.9}",
     "'mostly' is a whole-table threshold", "checks"),
])
def test_spec_errors_name_file_line_and_field(tmp_path, checks, problem, field):
    yaml = "quality:\n  tables:\n    orders:\n      checks:\n        " + checks + "\n"
    path = _write(tmp_path, yaml)
    line = len(path.read_text().splitlines())   # the check is the last line
    with pytest.raises(ModelError) as e:
        load_spec(path)
    text = str(e.value)
    assert problem in text and "bad.yml" in text and str(line) in text and field in text, text


def test_demo_spec_has_the_gate():
    spec = demo_spec()
    assert [c["name"] for c in spec["quality"]["tables"]["orders"]["checks"]] == \
        ["net_amount_non_negative", "status_known"]
