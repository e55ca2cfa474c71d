"""The dashboard in-process: on a real (small) warehouse through LocalClient, the same query
shapes the server's API returns."""

from __future__ import annotations

import datetime as dt

import pytest

pytest.importorskip("panel")


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    import workbench
    from workbench.ui.dashboard_client import LocalClient
    from workbench.ui.dashboard_data import Members
    from workbench.ui.dashboard_view import Dashboard
    from workbench.warehouse.seed import build_demo_warehouse

    path = tmp_path_factory.mktemp("dash") / "warehouse.duckdb"
    build_demo_warehouse(path, scale=0.02, seed=42, end="2025-01-01", progress=False)
    wb = workbench.connect(warehouse=path, read_only=True)
    d = Dashboard(LocalClient(wb), members=Members(namespace="retail"),
                  layouts_folder=tmp_path_factory.mktemp("layouts"))
    d.preset.value = "Last 30 days"
    return d


def test_kpis_have_values_and_deltas(dashboard):
    from workbench.ui.dashboard_data import kpi_values

    kpis = {k["name"]: k for k in kpi_values(dashboard.snapshot, dashboard.m)}
    assert set(kpis) == {"revenue", "orders", "aov"}
    assert kpis["orders"]["value"] > 0 and kpis["orders"]["delta_pct"] is not None
    assert "vs previous period" in dashboard.kpis.object
    assert not dashboard.snapshot.errors


def test_at_least_ten_chart_kinds(dashboard):
    kinds = {c.kind for c in dashboard.charts.values()} | {"table"}
    assert len(kinds) >= 10, kinds
    assert {"line", "area", "bar", "stacked bar", "scatter", "heatmap", "histogram", "box",
            "donut", "treemap", "table"} <= kinds


def test_drill_region_store_category_and_back(dashboard):
    d = dashboard
    d.drill_into("North")
    assert d.snapshot.drill.region == "North"
    stores = d.table.value
    assert "store" in stores.columns and len(stores) >= 1
    d.drill_into(stores["store"].iloc[0])
    assert "category" in d.table.value.columns
    assert "North" in d.crumbs.object
    d._on_up()
    d._on_up()
    assert d.snapshot.drill.region is None and "region" in d.table.value.columns


def test_time_window_and_previous_period():
    from workbench.ui.dashboard_data import window_for

    w = window_for("Last hour", dt.datetime(2025, 1, 1, 12, 30, 15))
    assert (w.end - w.start) == dt.timedelta(hours=1) and w.grain == "minute"
    p = w.previous()
    assert p.end == w.start and p.end - p.start == dt.timedelta(hours=1)


def test_search_finds_metric_by_synonym_and_charts_it(dashboard):
    d = dashboard
    d.search.value_input = "turnover"
    d._on_search(type("E", (), {"new": "turnover"})())
    assert any(v == "measure:revenue" or v == "metric:revenue" for v in d.results.options.values())
    d.results.value = next(v for v in d.results.options.values() if v.endswith(":revenue"))
    d._on_chart_it()
    assert not d.snapshot.frames["explore"].empty


def test_exports(dashboard):
    from workbench.ui import dashboard_export as ex

    snap, m = dashboard.snapshot, dashboard.m
    csv = ex.to_csv(snap).decode()
    assert csv.startswith("panel,") and "kpi,revenue" in csv
    assert ex.to_excel(snap, m)[:2] == b"PK"
    assert ex.to_image(snap, m, "png")[:8] == b"\x89PNG\r\n\x1a\n"
    assert ex.to_image(snap, m, "pdf")[:5] == b"%PDF-"


def test_layout_rearranged_saved_and_restored(dashboard, tmp_path):
    from workbench.ui.dashboard_layout import LayoutEditor

    seen = []
    titles = {"a": "A", "b": "B", "c": "C"}
    ed = LayoutEditor(titles, lambda o, h: seen.append((o, h)), user="ann", folder=tmp_path)
    ed.list.value = "c"
    ed.up.clicks += 1
    ed.toggle.clicks += 1
    ed.save.clicks += 1
    assert seen[-1] == (["a", "c", "b"], ["c"])
    again = LayoutEditor(titles, lambda o, h: None, user="ann", folder=tmp_path)
    assert again.order == ["a", "c", "b"] and again.hidden == ["c"]


def test_keeps_last_state_when_the_server_is_gone(dashboard):
    from workbench.ui.dashboard_client import Unreachable
    from workbench.ui.dashboard_view import freshness_line

    d = dashboard
    before = d.snapshot.frames["kpi"].copy()
    real = d.data.client

    class Down:
        def query(self, q):
            raise Unreachable("The Jupyter server is not reachable (refused).")

    d.data.client = Down()
    try:
        d.refresh()
    finally:
        d.data.client = real
    assert d.snapshot.frames["kpi"].equals(before)
    assert "unreachable" in freshness_line(d.snapshot)


def test_credentials_come_from_the_forwarded_request():
    from workbench.ui.dashboard_client import ApiClient, Credentials

    c = Credentials.from_request({"Authorization": "token abc"},
                                 {"username-127-0-0-1-8888": "x", "other": "y"},
                                 {"token": [b"t0k"]})
    assert c.headers["Authorization"] == "token abc"
    assert "other" not in c.headers["Cookie"] and "username-127-0-0-1-8888=x" in c.headers["Cookie"]
    assert c.token == "t0k"
    client = ApiClient("http://127.0.0.1:1/", Credentials(token="t0k"))
    # the token travels as Jupyter's Authorization header, never in the query string
    assert client._url("workbench/api/query", {"a": 1}) == \
        "http://127.0.0.1:1/workbench/api/query?a=1"
    assert client._headers()["Authorization"] == "token t0k"
    assert ApiClient("http://x/", c)._headers()["Authorization"] == "token abc"


def test_proxy_entry_points_the_app_at_this_server():
    from workbench.server.dashboard_proxy import dashboard as entry

    server = entry()
    cmd = server["command"](port=5006, base_url="/lab-base/")
    assert "--prefix" in cmd and "/lab-base/workbench-dashboard" in cmd
    env = server["environment"](base_url="/lab-base/")
    assert env["WORKBENCH_API_URL"].startswith("http://127.0.0.1:")
    assert env["WORKBENCH_API_URL"].endswith("/lab-base/")
