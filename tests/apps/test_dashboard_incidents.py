"""Anomaly markers and the Incidents panel of the dashboard, in-process: a real (small) demo
warehouse through LocalClient and a real IncidentStore in tmp_path, filled through its public
API with hand-made anomalies.  Oracles: the anomalies' own timestamps and values, direct SQL on
the store, and the chart's data summed by hand."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pandas as pd
import pytest

from tests.support.prerequisites import require_module

require_module("panel")
hv = require_module("holoviews")

T_TOTAL = pd.Timestamp("2024-12-20 00:00")  # revenue, unsliced: on the trend
T_NORTH = pd.Timestamp("2024-12-21 00:00")  # revenue, region = North: only drilled into North
T_ONLINE = pd.Timestamp("2024-12-22 05:00")  # orders, channel = online (hour grain)
T_OLD = pd.Timestamp("2024-10-01 00:00")  # revenue, unsliced, outside "Last 30 days"
T_AOV = pd.Timestamp("2024-12-23 00:00")  # aov: no chart shows it
T_LIVE = pd.Timestamp("2024-12-24 00:00")  # revenue in another namespace


def _anomaly(
    metric,
    ts,
    value,
    expected,
    score,
    severity,
    slice_by=None,
    slice_value=None,
    namespace="retail",
    grain="day",
    group="g",
):
    from workbench.anomaly.jobs import Anomaly

    return Anomaly(
        rule=f"rule_{metric}_{slice_value or 'total'}",
        namespace=namespace,
        metric=metric,
        grain=grain,
        slice_by=slice_by,
        slice_value=slice_value,
        ts=ts.to_pydatetime(),
        value=value,
        expected=expected,
        score=score,
        severity=severity,
        direction="up" if value > (expected or 0) else "down",
        group=group,
    )


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    from workbench.anomaly.incidents import IncidentStore

    path = tmp_path_factory.mktemp("incidents") / "incidents.sqlite"
    store = IncidentStore(path)
    store.add(_anomaly("revenue", T_TOTAL, 9100.0, 4000.0, 0.97, "critical", group="a"))
    store.add(
        _anomaly("revenue", T_NORTH, 10.0, 2500.0, 0.81, "warning", "region", "North", group="b")
    )
    store.add(
        _anomaly(
            "orders",
            T_ONLINE,
            3.0,
            40.0,
            0.9,
            "critical",
            "channel",
            "online",
            grain="hour",
            group="c",
        )
    )
    store.add(_anomaly("revenue", T_OLD, 1.0, 3000.0, 0.99, "critical", group="d"))
    store.add(_anomaly("aov", T_AOV, 500.0, 60.0, 0.7, "info", group="e"))
    store.add(
        _anomaly("revenue", T_LIVE, 1.0, 3000.0, 0.99, "critical", namespace="live", group="f")
    )
    store.set_insight(
        1, "Revenue rose to 9,100.00 against about 4,000.00 expected.\nNorth contributed most."
    )
    return path


@pytest.fixture(scope="module")
def wb(tmp_path_factory):
    import workbench
    from workbench.warehouse.seed import build_demo_warehouse

    path = tmp_path_factory.mktemp("dash-inc") / "warehouse.duckdb"
    build_demo_warehouse(path, scale=0.02, seed=42, end="2025-01-01", progress=False)
    return workbench.connect(warehouse=path, read_only=True)


@pytest.fixture(scope="module")
def dashboard(wb, store_path, tmp_path_factory):
    from workbench.ui.dashboard.client import LocalClient
    from workbench.ui.dashboard.members import resolve
    from workbench.ui.dashboard.spec import load_dashboard
    from workbench.ui.dashboard.view import Dashboard

    d = Dashboard(
        LocalClient(wb.as_principal("analyst")),
        members=resolve(load_dashboard(), "retail"),
        layouts_folder=tmp_path_factory.mktemp("layouts"),
        incidents_db=store_path,
    )
    d.preset.value = "Last 30 days"
    return d


def _markers(chart) -> pd.DataFrame:
    """The markers the chart draws now: the Scatter in its rendered overlay."""
    overlay = chart.dmap[()]
    scatters = [e for e in overlay if isinstance(e, hv.Scatter)]
    assert len(scatters) == 1
    return scatters[0].dframe()


def test_trend_marks_the_total_revenue_anomaly_in_the_window_only(dashboard):
    d = dashboard
    assert d.drill.picks == ()
    w = d.snapshot.window
    assert w.start <= T_TOTAL < w.end and not (w.start <= T_OLD < w.end)  # the oracle's premise
    marks = _markers(d.charts["trend"])
    assert list(marks["order_date"]) == [T_TOTAL]  # not North, not old, not aov, not live
    row = marks.iloc[0]
    assert row["anomaly_value"] == 9100.0 and row["expected"] == 4000.0
    assert row["score"] == pytest.approx(0.97) and row["severity"] == "critical"
    assert row["marker"] == "triangle"  # shape, not colour alone
    trend = d.charts["trend"].data
    on_line = trend.loc[trend["order_date"] == T_TOTAL, "revenue"].sum()
    assert row["revenue"] == pytest.approx(on_line)  # the marker sits on the line


def test_channel_chart_marks_the_online_orders_anomaly_on_its_band(dashboard):
    d = dashboard
    marks = _markers(d.charts["channel_trend"])
    assert list(marks["slice"]) == ["channel = online"]
    row = marks.iloc[0]
    assert row["anomaly_value"] == 3.0 and row["severity"] == "critical"
    day = T_ONLINE.normalize()  # the chart is daily, the anomaly hourly
    assert row["order_date"] == T_ONLINE
    data = d.charts["channel_trend"].data
    at = data[data["order_date"] == day]
    # stacked bands in sorted channel order: online's top = every channel up to "online"
    top = at.loc[at["channel"].astype(str) <= "online", "orders"].sum()
    assert top > 0 and row["orders"] == pytest.approx(top)
    assert _markers(d.charts["trend"])["slice"].tolist() == ["total"]


def test_drilling_into_north_shows_norths_anomaly_instead(dashboard):
    d = dashboard
    d.drill_into("North")
    try:
        marks = _markers(d.charts["trend"])
        assert list(marks["order_date"]) == [T_NORTH]
        assert marks["slice"].tolist() == ["region = North"]
        assert marks["marker"].tolist() == ["diamond"]  # warning
        assert _markers(d.charts["channel_trend"]).empty  # online is not sliced by region
    finally:
        d._on_up()
    assert list(_markers(d.charts["trend"])["order_date"]) == [T_TOTAL]


def test_incidents_table_lists_every_incident(dashboard, store_path):
    with sqlite3.connect(store_path) as db:
        expected = {r[0]: r[1] for r in db.execute("select id, title from incidents")}
    p = dashboard.incidents
    table = p.table.value
    assert sorted(table["#"]) == sorted(expected) and len(expected) == 6
    assert dict(zip(table["#"], table["title"], strict=True)) == expected
    assert set(table.columns) >= {
        "status",
        "severity",
        "title",
        "started",
        "last seen",
        "anomalies",
    }
    assert "Incidents" in [t for t, _ in dashboard.panels.values()]


def test_selecting_an_incident_shows_its_insight_and_anomalies(dashboard):
    p = dashboard.incidents
    p.choice.value = 1
    assert p.selected == 1
    assert "North contributed most." in p.detail.object
    assert "9,100.00" in p.detail.object and "4,000.00" in p.detail.object


def test_analyst_acknowledges_and_history_records_who(dashboard, store_path):
    from workbench.anomaly.incidents import IncidentStore

    p = dashboard.incidents
    assert p.can_act and p.ack.visible and p.resolve.visible
    p.choice.value = 2
    assert not p.ack.disabled
    p.note.value = "looking into it"
    p.ack.clicks += 1
    store = IncidentStore(store_path)
    inc = store.get(2)
    assert inc["status"] == "acknowledged" and inc["acknowledged_by"] == "analyst"
    last = store.history(2)[-1]
    assert (last["action"], last["actor"], last["detail"]) == (
        "acknowledged",
        "analyst",
        "looking into it",
    )
    table = p.table.value
    assert table.loc[table["#"] == 2, "status"].item() == "acknowledged"
    assert p.ack.disabled and not p.resolve.disabled
    p.resolve.clicks += 1
    assert store.get(2)["status"] == "resolved" and store.get(2)["resolved_by"] == "analyst"


def test_viewer_sees_no_action_buttons_and_cannot_act(wb, store_path):
    from workbench.anomaly.incidents import IncidentStore
    from workbench.ui.dashboard.client import LocalClient
    from workbench.ui.dashboard.incidents import IncidentFeed, roles_of
    from workbench.ui.dashboard.incidents_panel import IncidentsPanel

    client = LocalClient(wb.as_principal("viewer"))
    p = IncidentsPanel(IncidentFeed(store_path), roles_of(client), actor="viewer")
    p.refresh()
    assert not p.can_act
    assert not (p.ack.visible or p.resolve.visible or p.note.visible)
    assert len(p.table.value) == 6  # reading is allowed
    before = IncidentStore(store_path).get(3)["status"]
    p.select(3)
    p.act("acknowledge")
    assert IncidentStore(store_path).get(3)["status"] == before == "open"
    assert "analyst and admin" in p.message.object


def test_new_incident_appears_on_the_next_check_without_reload(dashboard, store_path):
    from workbench.anomaly.incidents import IncidentStore

    d = dashboard
    assert d.poll_incidents(d.snapshot.window, force=True)  # the current state
    assert "panel" not in d.poll_incidents(d.snapshot.window)  # idle: nothing read
    IncidentStore(store_path).add(
        _anomaly("revenue", pd.Timestamp("2024-12-26"), 1.0, 3000.0, 0.95, "critical", group="z")
    )
    d.incident_feed._checked = 0.0  # skip the few seconds' wait
    news = d.poll_incidents(d.snapshot.window)
    d.show_incidents(news)
    d.mark_anomalies(d.snapshot)
    assert 7 in set(d.incidents.table.value["#"])
    assert pd.Timestamp("2024-12-26") in set(_markers(d.charts["trend"])["order_date"])


def test_for_chart_rules_by_hand():
    from workbench.ui.dashboard.markers import for_chart

    a = pd.DataFrame(
        {
            "metric": ["revenue", "revenue", "revenue", "orders"],
            "slice_by": [None, "region", "region", "channel"],
            "slice_value": [None, "North", "South", "web"],
            "ts": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04"]),
        }
    )
    assert for_chart(a, ["revenue"], {}).index.size == 1
    assert for_chart(a, ["revenue"], {"region": "South"})["slice_value"].tolist() == ["South"]
    assert for_chart(a, ["revenue"], {"region": "South", "store": "S1"}).empty
    assert for_chart(a, ["orders"], {}, by="channel")["slice_value"].tolist() == ["web"]
    assert for_chart(a, ["revenue"], {}, start=dt.datetime(2025, 1, 2)).empty


def test_behind_jupyter_actions_go_to_the_server_not_the_store(wb, store_path, monkeypatch):
    """With an ApiClient (the app behind Jupyter) the panel never writes the store itself: a
    server that cannot be reached leaves the incident as it was and says so in words.  The
    live-server cases (403 for a viewer, the server-side user in the history) are in
    tests/server/test_dashboard_incidents_rest.py."""
    import socket

    from workbench.anomaly.incidents import IncidentStore
    from workbench.semantic.errors import QueryError
    from workbench.ui.dashboard.client import ApiClient, Credentials, LocalClient
    from workbench.ui.dashboard.incidents import IncidentFeed
    from workbench.ui.dashboard.incidents_panel import IncidentsPanel

    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = ApiClient(f"http://127.0.0.1:{port}/", Credentials(token="t"), timeout=2)
    p = IncidentsPanel(IncidentFeed(store_path), {"analyst"}, actor="analyst", client=client)
    assert p.api is client
    p.refresh()
    open_ids = [
        int(i)
        for i, s in zip(p.table.value["#"], p.table.value["status"], strict=True)
        if s == "open"
    ]
    assert open_ids
    iid = open_ids[0]
    before = IncidentStore(store_path).history(iid)
    p.select(iid)
    p.act("acknowledge")
    assert IncidentStore(store_path).get(iid)["status"] == "open"
    assert IncidentStore(store_path).history(iid) == before
    assert "not reachable" in p.message.object and "Traceback" not in p.message.object

    # In-process (LocalClient) keeps the direct store path; so does no client outside Jupyter.
    monkeypatch.delenv("WORKBENCH_API_URL", raising=False)
    assert IncidentsPanel(IncidentFeed(store_path), {"analyst"}, client=LocalClient(wb)).api is None
    assert IncidentsPanel(IncidentFeed(store_path), {"analyst"}).api is None
    # Behind Jupyter without an explicit client, the session's forwarded credentials are used,
    # and only with the gateway's signed identity: without one nothing is asked.
    monkeypatch.setenv("WORKBENCH_API_URL", f"http://127.0.0.1:{port}/base/")
    with pytest.raises(QueryError, match="Log in to see this app"):
        IncidentsPanel(IncidentFeed(store_path), {"analyst"})
    from workbench.ui import connection

    monkeypatch.setattr(connection, "session_credentials", lambda: Credentials(token="t"))
    made = IncidentsPanel(IncidentFeed(store_path), {"analyst"}).api
    assert isinstance(made, ApiClient) and made.base == f"http://127.0.0.1:{port}/base/"
