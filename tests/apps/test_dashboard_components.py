"""The dashboard in-process: on a real (small) warehouse through LocalClient, the same query
shapes the server's API returns."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.support.prerequisites import require_module

require_module("panel")

SPEC = Path(__file__).resolve().parents[2] / "semantic" / "dashboards" / "kpi.yml"


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    import workbench
    from workbench.ui.dashboard.client import LocalClient
    from workbench.ui.dashboard.members import resolve
    from workbench.ui.dashboard.spec import load_dashboard
    from workbench.ui.dashboard.view import Dashboard
    from workbench.warehouse.seed import build_demo_warehouse

    path = tmp_path_factory.mktemp("dash") / "warehouse.duckdb"
    build_demo_warehouse(path, scale=0.02, seed=42, end="2025-01-01", progress=False)
    wb = workbench.connect(warehouse=path, read_only=True)
    d = Dashboard(
        LocalClient(wb),
        members=resolve(load_dashboard(SPEC), "retail"),
        layouts_folder=tmp_path_factory.mktemp("layouts"),
    )
    d.preset.value = "Last 30 days"
    return d


def test_kpis_have_values_and_deltas(dashboard):
    from workbench.ui.dashboard.data import kpi_values

    kpis = {k["name"]: k for k in kpi_values(dashboard.snapshot, dashboard.m)}
    assert set(kpis) == {"revenue", "orders", "aov"}
    assert kpis["orders"]["value"] > 0 and kpis["orders"]["delta_pct"] is not None
    assert "vs previous period" in dashboard.kpis.object
    assert not dashboard.snapshot.errors


def test_every_panel_is_drawn_by_a_registered_chart_type(dashboard):
    """The spec's panels become charts of the registry's types (no kind of the dashboard's
    own), and the repo's spec uses ten of them, plus the drill table."""
    from workbench.ui.charts import chart_types

    kinds = {key: c.kind for key, c in dashboard.charts.items()}
    assert set(kinds.values()) <= set(chart_types()), kinds
    spec_charts = {p.key: p.chart for p in dashboard.m.chart_panels()}
    assert {k: kinds[k] for k in spec_charts} == spec_charts
    assert len(set(kinds.values())) >= 10, kinds
    # the drill table is the dashboard's own panel, counted only if it is there with rows
    assert "table" not in kinds.values() and "table" in dashboard.panels
    assert len(dashboard.table.value) > 0 and not dashboard.snapshot.errors


def test_a_kpi_and_a_panel_added_in_the_yaml_show_on_the_dashboard(dashboard, tmp_path):
    """A new KPI card and a new panel are a YAML edit of the dashboard spec, no Python."""
    from workbench.ui.dashboard.data import kpi_values
    from workbench.ui.dashboard.members import discover_members
    from workbench.ui.dashboard.spec import load_dashboard
    from workbench.ui.dashboard.view import Dashboard

    text = SPEC.read_text().replace(
        "kpis: [revenue, orders, aov]", "kpis: [revenue, orders, aov, cancellation_rate]"
    )
    text = text.replace(
        "  - key: explore\n",
        "  - {key: cancellations, query: stores, chart: bar,"
        " title: Cancellation rate by store, x: store, y: cancellation_rate}\n"
        "  - key: explore\n",
    )
    text = text.replace(
        "  stores: {metrics: [revenue, orders, aov],",
        "  stores: {metrics: [revenue, orders, aov, cancellation_rate],",
    )
    path = tmp_path / "kpi.yml"
    path.write_text(text)
    m = discover_members(dashboard.client, namespace="retail", spec=load_dashboard(path))
    d = Dashboard(dashboard.client, members=m, layouts_folder=tmp_path / "layouts")
    d.preset.value = "Last 30 days"
    kpis = {k["name"]: k for k in kpi_values(d.snapshot, d.m)}
    assert list(kpis) == ["revenue", "orders", "aov", "cancellation_rate"]
    assert kpis["cancellation_rate"]["value"] is not None
    assert "Cancellation rate" in d.kpis.object
    chart = d.charts["cancellations"]
    assert chart.kind == "bar" and "cancellation_rate" in chart.data.columns
    assert "cancellations" in d.panels and not d.snapshot.errors


def test_a_namespace_marked_live_is_used_once_it_answers():
    """ "Live" is the model's `live: true`, not a namespace name."""
    from workbench.ui.dashboard.members import discover_members
    from workbench.ui.dashboard.spec import load_dashboard

    class Fake:
        answers = False

        def catalog(self, text="", namespace=None, limit=20):
            models = [
                {"namespace": "stream", "kind": "model", "name": "s", "live": True},
                {"namespace": "history", "kind": "model", "name": "h", "live": False},
            ]
            members = [{"namespace": namespace, "kind": "metric", "name": "revenue"}]
            return {
                "namespaces": ["history", "stream"],
                "entries": models if namespace is None else members,
            }

        def query(self, q):
            if not self.answers:
                raise RuntimeError("no gold views yet")
            return {}

    spec = load_dashboard(SPEC).model_copy(update={"namespaces": ("stream", "history")})
    client = Fake()
    m = discover_members(client, spec=spec)
    assert (m.namespace, m.live) == ("history", False)
    client.answers = True
    m = discover_members(client, spec=spec)
    assert (m.namespace, m.live) == ("stream", True)


def test_drill_region_store_category_and_back(dashboard):
    d = dashboard
    d.drill_into("North")
    assert d.snapshot.drill.picks == ("North",)
    stores = d.table.value
    assert "store" in stores.columns and len(stores) >= 1
    d.drill_into(stores["store"].iloc[0])
    assert "category" in d.table.value.columns
    assert "North" in d.crumbs.object
    d._on_up()
    d._on_up()
    assert d.snapshot.drill.picks == () and "region" in d.table.value.columns


def test_time_window_and_previous_period():
    from workbench.ui.dashboard.data import window_for

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
    from workbench.ui.dashboard import export as ex

    snap, m = dashboard.snapshot, dashboard.m
    csv = ex.to_csv(snap).decode()
    assert csv.startswith("panel,") and "kpi,revenue" in csv
    assert ex.to_excel(snap, m)[:2] == b"PK"
    assert ex.to_image(snap, m, "png")[:8] == b"\x89PNG\r\n\x1a\n"
    assert ex.to_image(snap, m, "pdf")[:5] == b"%PDF-"


def test_layout_rearranged_saved_and_restored(dashboard, tmp_path):
    from workbench.ui.dashboard.layout import LayoutEditor

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
    from workbench.ui.dashboard.client import Unreachable
    from workbench.ui.dashboard.view import freshness_line

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
    from workbench.ui.dashboard.client import ApiClient, Credentials

    c = Credentials.from_request(
        {"Authorization": "token abc"},
        {"username-127-0-0-1-8888": "x", "other": "y"},
        {"token": [b"t0k"]},
    )
    assert c.headers["Authorization"] == "token abc"
    assert "other" not in c.headers["Cookie"] and "username-127-0-0-1-8888=x" in c.headers["Cookie"]
    assert c.token == "t0k"
    # a password log-in: the access-token cookie travels, the refresh token never does
    logged_in = Credentials.from_request(
        {},
        {
            "workbench-access": "jwt",
            "workbench-refresh": "rt",
            "workbench-owner": "o",
            "_xsrf": "x",
        },
        {},
    )
    cookie = logged_in.headers["Cookie"]
    assert (
        "workbench-access=jwt" in cookie
        and "workbench-owner=o" in cookie
        and "refresh" not in cookie
    )
    client = ApiClient("http://127.0.0.1:1/", Credentials(token="t0k"))
    # the token travels as Jupyter's Authorization header, never in the query string
    assert (
        client._url("workbench/api/query", {"a": 1}) == "http://127.0.0.1:1/workbench/api/query?a=1"
    )
    assert client._headers()["Authorization"] == "token t0k"
    assert ApiClient("http://x/", c)._headers()["Authorization"] == "token abc"


def test_proxy_entry_points_the_app_at_this_server(tmp_path):
    from workbench.server.apps import published, server_dict

    server = server_dict(published("workbench-dashboard"))
    cmd = server["command"](unix_socket=str(tmp_path / "dashboard.sock"), base_url="/lab-base/")
    assert "--prefix" in cmd and "/lab-base/workbench-dashboard" in cmd
    env = server["environment"](base_url="/lab-base/")
    assert env["WORKBENCH_API_URL"].startswith("http://127.0.0.1:")
    assert env["WORKBENCH_API_URL"].endswith("/lab-base/")


# --- refreshing only on change, sharing between pages ------------------------------------------


class CountingClient:
    """A LocalClient whose data version the test moves, counting the queries it answers."""

    def __init__(self, local):
        self.local, self.queries, self.commit = local, 0, "2025-01-01T00:00:00+00:00"

    def query(self, q):
        self.queries += 1
        out = self.local.query(q)
        out["freshness"] = {"streaming": True, "last_commit": self.commit}
        return out

    def catalog(self, *a, **kw):
        return self.local.catalog(*a, **kw)

    def me(self):
        return None


@pytest.fixture
def counting(dashboard, monkeypatch, tmp_path):
    from workbench.ui.dashboard import state as dashboard_state

    monkeypatch.setattr(dashboard_state.VERSIONS, "ttl_s", 0.0)  # probe on every check
    return CountingClient(dashboard.data.client)


def test_idle_page_runs_no_panel_queries_until_the_data_changes(dashboard, counting, tmp_path):
    from workbench.ui.dashboard.view import Dashboard

    d = Dashboard(counting, members=dashboard.m, layouts_folder=tmp_path)
    panels = len(d.snapshot.frames)
    assert d.fetches == 1 and panels >= 8
    before = counting.queries
    for _ in range(5):  # five idle checks: one probe each, no panel query
        snap, fresh = d.step()
        assert snap is None and fresh["last_commit"] == counting.commit
    assert counting.queries - before == 5 and d.fetches == 1
    counting.commit = "2025-01-01T00:00:01+00:00"  # a new batch reached gold
    early = []
    snap, _ = d.step(early=early.append)
    assert snap is not None and d.fetches == 2
    # the KPI figures first (shown before the charts' queries run), then the rest: no query twice
    assert [set(e.frames) for e in early] == [{"kpi", "kpi_previous"}]
    assert snap.frames["kpi"] is early[0].frames["kpi"] and len(snap.frames) == panels
    assert counting.queries - before == 5 + 1 + panels
    # the stream stops: nothing to refetch, but the page says how old its data is
    from workbench.ui.dashboard.text import freshness_line

    real = counting.query
    counting.query = lambda q: {
        **real(q),
        "freshness": {"streaming": False, "last_commit": counting.commit},
    }
    snap, fresh = d.step()
    line = freshness_line(d.snapshot, fresh)
    assert snap is None and "stream stopped" in line and " old)" in line and d.fetches == 2


def test_pages_of_one_person_share_snapshots_and_other_people_do_not(dashboard, counting, tmp_path):
    from workbench.ui.dashboard.data import kpi_values
    from workbench.ui.dashboard.view import Dashboard

    first = Dashboard(counting, members=dashboard.m, user="ann", layouts_folder=tmp_path)
    second = Dashboard(counting, members=dashboard.m, user="ann", layouts_folder=tmp_path)
    other = Dashboard(counting, members=dashboard.m, user="bob", layouts_folder=tmp_path)
    assert first.fetches == 1 and second.fetches == 0 and other.fetches == 1
    assert kpi_values(second.snapshot, second.m) == kpi_values(first.snapshot, first.m)
    second.drill_into("North")  # a view nobody fetched yet: its own fetch
    assert second.fetches == 1 and second.snapshot.drill.picks == ("North",)


def test_first_paint_has_the_kpi_numbers_of_the_live_cards(dashboard):
    from workbench.ui.dashboard.data import kpi_values
    from workbench.ui.dashboard.page import deferred, first_paint_html, first_snapshot
    from workbench.ui.dashboard.text import kpi_cards

    snap = first_snapshot(dashboard.data.client, dashboard.m, None)
    assert set(snap.frames) == {"kpi", "kpi_previous"}
    html = first_paint_html("Live KPI dashboard", snap, dashboard.m)
    assert kpi_cards(kpi_values(snap, dashboard.m)) in html and "wb-kpi-value" in html
    scripts = deferred(
        '<script type="text/javascript" src="static/js/bokeh.min.js"></script>'
        '<script type="text/javascript">Bokeh.set_log_level("info");</script>'
    )
    assert scripts.count("<script defer ") == 1 and '<script type="module">' in scripts


def test_dragging_a_panel_on_the_board_reorders_and_saves(dashboard, tmp_path):
    import panel as pn

    from workbench.ui.dashboard.board import PanelBoard
    from workbench.ui.dashboard.layout import LayoutEditor

    titles = {"kpis": "KPIs", "a": "A", "b": "B", "c": "C"}
    shown = []
    ed = LayoutEditor(titles, lambda o, h: shown.append((o, h)), user="ann", folder=tmp_path)
    ed.list.value = "a"
    ed.toggle.clicks += 1  # hide A
    board = PanelBoard(on_order=ed.set_order)
    board.set_panels([(k, titles[k], pn.pane.HTML(k)) for k in ed.order if k not in ed.hidden])
    assert board.keys == ["kpis", "b", "c"]
    board._handle_msg({"order": ["c", "kpis", "b"]})  # what the browser sends after a drop
    assert board.keys == ["c", "kpis", "b"] and [o.object for o in board.objects] == [
        "c",
        "kpis",
        "b",
    ]
    assert ed.order == ["c", "a", "kpis", "b"] and ed.hidden == ["a"]  # A kept its slot
    board._handle_msg({"order": ["c", "x"]})  # stale or foreign: ignored
    assert board.keys == ["c", "kpis", "b"]
    ed.save.clicks += 1
    again = LayoutEditor(titles, lambda o, h: None, user="ann", folder=tmp_path)
    assert again.order == ["c", "a", "kpis", "b"] and again.hidden == ["a"]


def test_who_is_looking_is_stable_for_anonymous_token_logins(monkeypatch):
    from workbench.ui.dashboard.client import ApiClient, Credentials

    answers = {
        "api/me": {
            "identity": {"username": "4c9b8168192b48f698a39f0301f0d6a7", "name": "Anonymous Dia"}
        },
        "workbench/api/catalog": {"principal": "analyst", "entries": []},
    }
    client = ApiClient("http://127.0.0.1:1/", Credentials(token="t"))
    monkeypatch.setattr(client, "_get", lambda path, params=None: answers[path])
    assert client.me() == "principal:analyst"  # a random name per request would not do
    answers["api/me"] = {"identity": {"username": "ann", "name": "Ann"}}
    assert client.me() == "ann"
