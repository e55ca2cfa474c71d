"""Rows quarantined by a streaming pipeline's quality gate show up where people look: the
quality app's failing checks and quarantine view (and the REST overview, which reads the same
functions) and the notebook API, beside the rows of suite runs. Oracle: the faults written by the
test, counted by hand."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from ruamel.yaml import YAML

import workbench.quality as quality
from workbench.quality import scores
from workbench.streaming import envelope, pipeline_from_dict
from workbench.streaming.apply import BatchApplier
from workbench.streaming.events import RawEvent, dumps

ROOT = Path(__file__).resolve().parents[2]
T = "2026-01-01 10:00:10"


def _order(oid, status="completed", net="10.00"):
    return {
        "order_id": oid,
        "customer_id": 10 + oid,
        "store_id": 1,
        "channel_id": 1,
        "region_id": 1,
        "ordered_at": T,
        "status": status,
        "is_promo": False,
        "line_count": 1,
        "gross_amount": "50.00",
        "discount_amount": "0.00",
        "net_amount": net,
    }


def _feed(tmp_path, changes):
    spec = copy.deepcopy(
        YAML(typ="safe").load((ROOT / "pipelines" / "demo_orders.yml").read_text())
    )
    spec["source"] = {"kind": "embedded", "path": str(tmp_path / "op.sqlite")}
    wh = tmp_path / "wh.duckdb"
    p = pipeline_from_dict("demo_q", spec, wh)
    p._open_warehouse()
    applier = BatchApplier(p.con, p.spec, p.name, p.views)
    ids = []
    for batch in changes:
        evs = [
            RawEvent(
                len(ids) + i + 1, 0, str(len(ids) + i + 1), dumps(envelope("orders", op, b, a))
            )
            for i, (op, b, a) in enumerate(batch)
        ]
        ids += evs
        res = applier.apply(evs, None)
    p.close()
    return wh, res


def test_pipeline_quarantine_is_visible_in_failing_checks_quarantine_and_notebook_api(tmp_path):
    good, neg, bogus, both = (
        _order(1),
        _order(2, net="-4.00"),
        _order(3, status="bogus"),
        _order(4, "lost", "-1.00"),
    )
    wh, res = _feed(
        tmp_path,
        [
            [("c", None, o) for o in (good, neg, bogus, both)],
            # order 3 is corrected later: released, no longer shown as active
            [("u", bogus, _order(3))],
        ],
    )
    import duckdb

    con = duckdb.connect(str(wh), read_only=True)
    try:
        failing = scores.failing_checks(con)
        held = scores.quarantine(con)
        everything = scores.quarantine(con, active=False)
    finally:
        con.close()
    # by hand: net_amount_non_negative fails 2 and 4; status_known failed 3 (released) and 4
    gate = failing[failing.suite == "pipeline demo_q"].set_index("check")
    assert gate.failing_rows.to_dict() == {"net_amount_non_negative": 2, "status_known": 1}
    assert gate.checked_rows.to_dict() == {"net_amount_non_negative": 4, "status_known": 4}
    samples = json.loads(gate.loc["net_amount_non_negative", "sample_rows"])
    assert [(r["order_id"], r["net_amount"]) for r in samples] == [(2, -4.0), (4, -1.0)]
    assert (
        gate.loc["status_known", "run_id"] == gate.loc["net_amount_non_negative", "run_id"]
    )  # batch 1
    # one quarantine view for both sources; active rows only unless asked
    assert set(held.source) == {"pipeline"} and sorted(held.row_key) == ["[2]", "[4]"]
    assert {k: sorted(v) for k, v in zip(held.row_key, held.failed_checks, strict=True)} == {
        "[2]": ["net_amount_non_negative"],
        "[4]": ["net_amount_non_negative", "status_known"],
    }
    released = everything[everything.released_at.notna()]
    assert list(zip(released.row_key, released.release_reason, strict=True)) == [("[3]", "passed")]
    # notebook API, on the warehouse file
    nb = quality.quarantine(wh, pipeline="demo_q")
    assert sorted(nb.row_key) == ["[2]", "[4]"] and set(nb.table_name) == {"orders"}
    assert sorted(quality.quarantined_rows(wh).row_key) == ["[2]", "[4]"]
    # silver still holds every row (quarantine never deletes)
    con = duckdb.connect(str(wh), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM silver_orders").fetchone()[0] == 4
    finally:
        con.close()


def test_suite_runs_and_pipeline_gates_share_the_quarantine_view(duckdb_run, faulty, tmp_path):
    import duckdb

    con = duckdb.connect(str(faulty["path"]), read_only=True)
    try:
        held = scores.quarantine(con, limit=None)
    finally:
        con.close()
    suite_rows = held[held.source == "validate"]
    assert set(suite_rows.name) == {"orders"} and set(suite_rows.run_id) == {duckdb_run.run_id}
    assert len(suite_rows) == len(duckdb_run.quarantined)


def test_the_app_panel_lists_both_sources():
    import pandas as pd

    from workbench.ui.quality.overview import quarantine_panel

    df = pd.DataFrame(
        {
            "source": ["pipeline", "validate"],
            "name": ["demo", "orders"],
            "target": ["orders", "x"],
            "row_key": ["[1]", "[2]"],
            "failed_checks": [["a", "b"], ["c"]],
            "run_id": ["b1", "r1"],
            "quarantined_at": pd.to_datetime(["2026-01-01", "2026-01-02"]),
            "released_at": [None, None],
            "release_reason": [None, None],
            "row_data": [None, None],
        }
    )
    col = quarantine_panel(df)
    md = col[1].object
    assert "**1** from pipeline gates" in md and "**1** from suite runs" in md
    assert list(col[2].value.failed_checks) == ["a, b", "c"]
