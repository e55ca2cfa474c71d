"""The dashboard on the live gold views of the real demo pipeline (embedded source, in-process):
the drill region → store → category works on live data as on `retail`, and every drilled number
equals plain SQL over silver (the oracle, written here, not the semantic layer's)."""

from __future__ import annotations

import pytest

from tests.support.prerequisites import require_module

require_module("panel")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    from ruamel.yaml import YAML

    from workbench.streaming import pipeline_from_dict
    from workbench.streaming.simulator import OrderSimulator
    from workbench.streaming.sources.embedded import OperationalStore
    from workbench.ui.dashboard.client import LocalClient

    tmp = tmp_path_factory.mktemp("live-dash")
    repo = __import__("pathlib").Path(__file__).resolve().parents[2]
    spec = YAML(typ="safe").load((repo / "pipelines" / "demo_orders.yml").read_text())
    spec["source"] = {"kind": "embedded", "path": str(tmp / "op.sqlite")}
    p = pipeline_from_dict("dash_live", spec, tmp / "wh.duckdb")
    p._open_warehouse()
    store = OperationalStore(tmp / "op.sqlite", p.spec.tables)
    store.write(OrderSimulator(seed=3).transactions(400))
    n = store.con.execute("SELECT count(*) FROM _cdc_outbox").fetchone()[0]
    # One malformed event: the stream goes on, it lands in the dead letters, the page says so.
    store.con.execute("INSERT INTO _cdc_outbox (tx_id, payload) VALUES (NULL, '{not json')")
    store.con.commit()
    p.run(max_events=n + 1)
    store.close()
    wb = p.connect_semantic(cache="none")
    yield p, LocalClient(wb, freshness=lambda: {"streaming": True, "last_commit": "x"})


def _oracle(con, region: str, store_id: int | None = None) -> dict:
    if store_id is None:
        rows = con.execute(
            "SELECT 'Store ' || o.store_id, sum(o.net_amount) FROM silver_orders o JOIN regions r "
            "USING (region_id) WHERE o.status <> 'cancelled' AND r.region = ? GROUP BY 1",
            [region],
        ).fetchall()
    else:
        rows = con.execute(
            "SELECT c.category, sum(l.line_amount) FROM silver_order_lines l JOIN silver_orders o "
            "USING (order_id) JOIN products p USING (product_id) JOIN categories c ON "
            "c.category_id = p.category_id JOIN regions r ON r.region_id = o.region_id "
            "WHERE o.status <> 'cancelled' AND r.region = ? AND o.store_id = ? GROUP BY 1",
            [region, store_id],
        ).fetchall()
    return {k: round(float(v), 2) for k, v in rows}


def test_live_drill_region_store_category_matches_sql(live, tmp_path):
    from workbench.ui.dashboard.members import discover_members
    from workbench.ui.dashboard.view import Dashboard

    p, client = live
    m = discover_members(client)
    assert m.namespace == "live" and m.live  # chosen for `live: true` in semantic/live.yml
    assert [(lv.dimension, lv.line_dimension) for lv in m.levels] == [
        ("region", None),
        ("store", "line_store"),
        ("category", None),
    ]
    assert "region_category" in m.queries  # region × category answers on live data now
    d = Dashboard(client, members=m, layouts_folder=tmp_path)
    d.preset.value = "Last 24 hours"
    assert {"heatmap", "treemap", "scatter", "box", "histogram"} <= {
        c.kind for c in d.charts.values()
    }
    regions = d.table.value
    region = str(regions.sort_values("revenue").iloc[-1]["region"])
    d.drill_into(region)
    stores = d.table.value
    assert list(stores.columns[:1]) == ["store"]
    con = p.cursor()
    assert {r.store: round(float(r.revenue), 2) for r in stores.itertuples()} == _oracle(
        con, region
    )
    store = str(stores.iloc[0]["store"])
    d.drill_into(store)
    cats = d.table.value
    assert "category" in cats.columns and not d.snapshot.errors
    assert {r.category: round(float(r.line_revenue), 2) for r in cats.itertuples()} == _oracle(
        con, region, int(store.split()[-1])
    )
    assert f"{region} › {store}" in d.crumbs.object
    d._on_up()
    assert d.snapshot.drill.picks == (region,) and "store" in d.table.value.columns


def test_status_line_shows_the_pipelines_own_health(live):
    """events/s, lag, p99 latency and dead letters of a running pipeline reach the status line
    through the server's freshness entry (the same function the server uses)."""
    import time

    from workbench.server.host import PipelineStatus
    from workbench.ui.dashboard.state import Snapshot
    from workbench.ui.dashboard.text import freshness_line, pipeline_health

    p, _ = live
    st = {**p.status(), "running": True}
    dead = p.cursor().execute("SELECT count(*) FROM stream_dead_letters").fetchone()[0]
    assert dead == 1 and st["dead_letters_total"] == dead
    entry = PipelineStatus.from_report("demo", st).freshness(time.time())
    assert entry["latency_p99_s"] is not None and entry["latency_p99_s"] >= 0
    [line] = pipeline_health({"pipelines": {"demo": entry}})
    assert line.startswith("demo: ") and "events/s" in line and "1 dead letter" in line
    assert f"p99 latency {entry['latency_p99_s']:.2f} s" in line
    stopped = pipeline_health({"pipelines": {"demo": {**entry, "running": False}}})
    assert stopped == []  # a stopped pipeline has no live figures to show
    html = freshness_line(
        Snapshot(),
        {"streaming": True, "last_commit": entry["last_commit"], "pipelines": {"demo": entry}},
    )
    assert "1 dead letter" in html and "stream running" in html
