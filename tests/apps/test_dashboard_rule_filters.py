"""A filtered rule's anomaly is drawn on the chart of its own series, not the unfiltered one.

In-process, like test_dashboard_incidents.py: a real small demo warehouse through LocalClient and
a real IncidentStore filled through its public API. The filters come from the rule files
(pipelines/alerts/retail_store_orders_by_region.yml: in-store orders only) or are written here;
the oracle for a marker's height is the chart's own data summed by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.support.prerequisites import require_module

require_module("panel")
hv = require_module("holoviews")

T_ONLINE = pd.Timestamp("2024-12-18 00:00")  # orders where channel = 'online', unsliced
T_STORE_N = pd.Timestamp("2024-12-19 00:00")  # in-store orders (the real rule), region North
T_PLAIN = pd.Timestamp("2024-12-20 00:00")  # orders, no filter, unsliced: the control
T_NOT_EQ = pd.Timestamp("2024-12-21 00:00")  # orders where channel != 'store': no chart


def _anomaly(ts, group, rule_where, slice_by=None, slice_value=None, value=1.0):
    from workbench.anomaly.jobs import Anomaly

    return Anomaly(
        rule=f"r_{group}",
        namespace="retail",
        metric="orders",
        grain="day",
        slice_by=slice_by,
        slice_value=slice_value,
        ts=ts.to_pydatetime(),
        value=value,
        expected=50.0,
        score=0.9,
        severity="warning",
        direction="down",
        group=group,
        rule_where=list(rule_where),
    )


@pytest.fixture(scope="module")
def store_rule():
    from workbench.anomaly.alert_rules import load_rule

    rule = load_rule("pipelines/alerts/retail_store_orders_by_region.yml")
    assert rule.source.where == ["channel = 'store'"] and rule.source.slice_by == "region"
    return rule


@pytest.fixture(scope="module")
def store_path(tmp_path_factory, store_rule):
    from workbench.anomaly.incidents import IncidentStore

    path = tmp_path_factory.mktemp("incidents") / "incidents.sqlite"
    store = IncidentStore(path)
    store.add(_anomaly(T_ONLINE, "a", ["channel = 'online'"]))
    store.add(_anomaly(T_STORE_N, "b", store_rule.source.where, "region", "North"))
    store.add(_anomaly(T_PLAIN, "c", []))
    store.add(_anomaly(T_NOT_EQ, "d", ["channel != 'store'"]))
    return path


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory, store_path):
    import workbench
    from workbench.ui.dashboard.client import LocalClient
    from workbench.ui.dashboard.members import resolve
    from workbench.ui.dashboard.spec import load_dashboard
    from workbench.ui.dashboard.view import Dashboard
    from workbench.warehouse.seed import build_demo_warehouse

    wh = tmp_path_factory.mktemp("dash-filters") / "warehouse.duckdb"
    build_demo_warehouse(wh, scale=0.02, seed=42, end="2025-01-01", progress=False)
    wb = workbench.connect(warehouse=wh, read_only=True)
    d = Dashboard(
        LocalClient(wb.as_principal("analyst")),
        members=resolve(load_dashboard(), "retail"),
        layouts_folder=tmp_path_factory.mktemp("layouts"),
        incidents_db=store_path,
    )
    d.preset.value = "Last 30 days"
    d.results.options = {"orders": "metric:orders"}
    d.results.value = "metric:orders"
    d._on_chart_it()  # the explore chart draws orders, unfiltered
    return d


def _markers(chart) -> pd.DataFrame:
    overlay = chart.dmap[()]
    scatters = [e for e in overlay if isinstance(e, hv.Scatter)]
    assert len(scatters) == 1
    return scatters[0].dframe()


def test_unfiltered_orders_chart_shows_only_the_unfiltered_anomaly(dashboard):
    d = dashboard
    w = d.snapshot.window
    assert all(w.start <= t < w.end for t in (T_ONLINE, T_STORE_N, T_PLAIN, T_NOT_EQ))
    assert list(_markers(d.charts["explore"])["order_date"]) == [T_PLAIN]


def test_channel_filtered_anomaly_is_drawn_on_its_band_of_the_channel_chart(dashboard):
    d = dashboard
    marks = _markers(d.charts["channel_trend"])
    assert set(marks["order_date"]) == {T_ONLINE, T_PLAIN}  # not North's, not the != one
    row = marks[marks["order_date"] == T_ONLINE].iloc[0]
    assert row["slice"] == "channel = online"
    data = d.charts["channel_trend"].data
    at = data[data["order_date"] == T_ONLINE]
    online_top = at.loc[at["channel"].astype(str) <= "online", "orders"].sum()
    assert 0 < online_top < at["orders"].sum()  # the band is not the total
    assert row["orders"] == pytest.approx(online_top)


def test_in_store_anomaly_of_north_only_on_norths_store_band(dashboard):
    d = dashboard
    d.drill_into("North")
    try:
        assert _markers(d.charts["explore"]).empty  # North's orders, all channels
        assert _markers(d.charts["trend"]).empty  # revenue: another metric anyway
        marks = _markers(d.charts["channel_trend"])
        assert list(marks["order_date"]) == [T_STORE_N]
        assert marks["slice"].tolist() == ["channel = store, region = North"]
        data = d.charts["channel_trend"].data
        at = data[data["order_date"] == T_STORE_N]
        top = at.loc[at["channel"].astype(str) <= "store", "orders"].sum()
        assert top > 0 and marks.iloc[0]["orders"] == pytest.approx(top)
    finally:
        d._on_up()
    assert T_STORE_N not in set(_markers(d.charts["channel_trend"])["order_date"])


def test_matching_rules_by_hand():
    import json

    from workbench.ui.dashboard.markers import for_chart

    a = pd.DataFrame(
        {
            "metric": ["orders"] * 5,
            "slice_by": [None, "region", None, "region", "region"],
            "slice_value": [None, "North", None, "North", "North"],
            "ts": pd.date_range("2025-01-01", periods=5, freq="D"),
            "rule_where": [
                json.dumps(["channel = 'web'"]),
                json.dumps(["channel = 'web'"]),
                json.dumps(["(channel = 'web')", "'EU' = zone"]),
                None,
                json.dumps(["region = 'South'"]),
            ],
        }
    )

    def pick(*args, **kw):
        return [int(t.day) for t in for_chart(a, ["orders"], *args, **kw)["ts"]]

    assert pick({}) == []  # every one has a filter or a slice
    assert pick({"channel": "web"}) == [1]
    assert pick({}, by="channel") == [1]
    assert pick({"region": "North"}) == [4]  # NULL: stored before, unfiltered
    assert pick({"region": "North"}, by="channel") == [2, 4]
    assert pick({"channel": "web", "zone": "EU"}) == [3]
    assert pick({"region": "South"}) == []  # region = South and = North: empty


def test_the_page_reads_a_store_no_writer_has_migrated_yet(tmp_path):
    """An incident store from before rule filters (opened read-only: the page never migrates):
    its anomalies are read, unfiltered, and drawn where they were drawn before."""
    import sqlite3

    from tests.support.incident_schemas import OLD_SCHEMA
    from workbench.ui.dashboard.incidents import IncidentFeed
    from workbench.ui.dashboard.markers import for_chart

    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)
        db.execute(
            "insert into anomalies values (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                "f",
                1,
                "r",
                "retail",
                "orders",
                "day",
                "region",
                "North",
                T_PLAIN.isoformat(),
                1.0,
                9.0,
                0.9,
                "warning",
                "down",
                "x",
            ),
        )
    a = IncidentFeed(path).anomalies("retail")
    assert len(a) == 1 and a["rule_where"].isna().all()
    assert len(for_chart(a, ["orders"], {"region": "North"})) == 1
    with sqlite3.connect(path) as db:  # still the old file: nothing was written to it
        assert "rule_where" not in [r[1] for r in db.execute("pragma table_info(anomalies)")]
