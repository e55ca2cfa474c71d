"""The dashboard spec (semantic/dashboards/kpi.yml): read with line-numbered errors, resolved
against a namespace's members, and drawn with the registered chart types."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from tests.support.prerequisites import require_module
from workbench.errors import SpecError

require_module("panel")

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "semantic" / "dashboards" / "kpi.yml"


def _write(tmp_path, text: str) -> Path:
    p = tmp_path / "kpi.yml"
    p.write_text(text)
    return p


def test_the_repo_spec_loads_and_names_no_member_the_retail_model_lacks():
    from workbench.semantic.loader import load_dir
    from workbench.ui.dashboard.members import resolve
    from workbench.ui.dashboard.spec import load_dashboard

    spec = load_dashboard(SPEC)
    space = load_dir(REPO / "semantic")["retail"]
    names = {
        item.name
        for model in space.spec.models
        for items in (model.dimensions, model.measures, model.metrics)
        for item in items
    }
    m = resolve(spec, "retail", names, live=False)
    assert m.kpis == list(spec.kpis)
    assert [p.key for p in m.panels] == [p.key for p in spec.panels]  # nothing dropped


MALFORMED = """\
title: Broken
namespaces: [retail]
time: order_date
kpis: [revenue]
drill:
  metric: revenue
  levels: [{dimension: region}]
queries:
  trend: {metrics: [revenue], dimensions: [$time]}
panels:
  - {key: trend, title: Revenue, chart: line, x: $time, y: revenue}
  - {key: heat, query: trend, title: Heat, chart: heatmapp, x: region, y: revenue}
"""


def test_an_unknown_chart_type_is_reported_with_file_line_field_and_a_suggestion(tmp_path):
    from workbench.ui.dashboard.spec import load_dashboard

    path = _write(tmp_path, MALFORMED)
    with pytest.raises(SpecError) as err:
        load_dashboard(path)
    e = err.value
    assert (e.file, e.line, e.field) == (str(path), 12, "panels[1].chart")
    assert "heatmapp" in e.problem and "heatmap" in e.problem.split("heatmapp", 1)[1]
    assert str(e).startswith(f"{path}:12 (panels[1].chart): ")


@pytest.mark.parametrize(
    ("change", "line", "field", "words"),
    [
        (
            ("levels: [{dimension: region}]", "levels: [{dimension: region, lable: Region}]"),
            7,
            "drill.levels[0].lable",
            "unknown field 'lable'",
        ),
        (
            (
                "query: trend, title: Heat, chart: heatmapp",
                "query: tren, title: Heat, chart: heatmap",
            ),
            12,
            "panels[1].query",
            "no query 'tren' under 'queries' (did you mean trend?)",
        ),
        (
            (
                "{key: trend, title: Revenue, chart: line, x: $time, y: revenue}",
                "{key: trend, chart: line, x: $time, y: revenue}",
            ),
            11,
            "panels[0]",
            "panel 'trend' needs title",
        ),
        (("- {key: heat,", "- {key: trend,"), 12, "panels[1].key", "'trend' is used twice"),
    ],
)
def test_malformed_specs_name_the_line_and_field(tmp_path, change, line, field, words):
    from workbench.ui.dashboard.spec import load_dashboard

    text = (
        MALFORMED.replace("chart: heatmapp", "chart: heatmap").replace(*change)
        if "heatmapp" not in change[0]
        else MALFORMED.replace(*change)
    )
    with pytest.raises(SpecError) as err:
        load_dashboard(_write(tmp_path, text))
    assert (err.value.line, err.value.field) == (line, field)
    assert words in err.value.problem


def test_a_missing_spec_says_where_it_was_looked_for(tmp_path):
    from workbench.ui.dashboard.spec import load_dashboard

    with pytest.raises(SpecError, match="dashboard spec is missing"):
        load_dashboard(tmp_path / "nowhere.yml")


def test_a_panel_whose_members_the_namespace_lacks_is_left_out():
    from workbench.ui.dashboard.members import resolve
    from workbench.ui.dashboard.spec import load_dashboard

    spec = load_dashboard(SPEC)
    names = {"revenue", "orders", "minute", "region"}  # no aov, store, channel, category
    m = resolve(spec, "tiny", names, time_dimensions=["minute"])
    assert m.time == "minute" and m.kpis == ["revenue", "orders"]
    assert [lv.dimension for lv in m.levels] == ["region"]
    assert [p.key for p in m.panels] == ["trend", "drill", "explore"]
    assert m.queries["trend"].dimensions == ("minute",)


# (chart type, x, y, by, label, frame): every type the dashboard draws, on a small frame
T0 = dt.datetime(2025, 1, 1)
TIMES = [T0 + dt.timedelta(minutes=i) for i in range(4)]
CASES = {
    "line": ("t", "m", None, None, pd.DataFrame({"t": TIMES, "m": [1.0, 2, 3, 4]})),
    "bar": ("c", "m", None, None, pd.DataFrame({"c": list("abcd"), "m": [1.0, 2, 3, 4]})),
    "area": (
        "t",
        "m",
        "c",
        None,
        pd.DataFrame({"t": TIMES * 2, "c": list("aaaabbbb"), "m": [1.0] * 8}),
    ),
    "stacked_bar": (
        "c",
        "m",
        "d",
        None,
        pd.DataFrame({"c": list("aabb"), "d": list("xyxy"), "m": [1.0, 2, 3, 4]}),
    ),
    "scatter": (
        "m",
        "n",
        "d",
        "c",
        pd.DataFrame(
            {"c": list("abcd"), "d": list("xxyy"), "m": [1.0, 2, 3, 4], "n": [4.0, 3, 2, 1]}
        ),
    ),
    "heatmap": (
        "c",
        "m",
        "d",
        None,
        pd.DataFrame({"c": list("aabb"), "d": list("xyxy"), "m": [1.0, 2, 3, 4]}),
    ),
    "histogram": (None, "m", None, "c", pd.DataFrame({"c": list("abcd"), "m": [1.0, 2, 3, 4]})),
    "box": (
        "d",
        "m",
        None,
        "c",
        pd.DataFrame({"c": list("abcd"), "d": list("xxyy"), "m": [1.0, 2, 3, 4]}),
    ),
    "treemap": (
        "d",
        "m",
        None,
        "c",
        pd.DataFrame({"c": list("abcd"), "d": list("xxyy"), "m": [1.0, 2, 3, 4]}),
    ),
    "donut": ("c", "m", None, None, pd.DataFrame({"c": list("abc"), "m": [1.0, 1, 2]})),
}
ELEMENTS = {
    "line": "Curve",
    "bar": "Bars",
    "area": "Overlay NdOverlay",
    "stacked_bar": "Bars",
    "scatter": "Scatter",
    "heatmap": "HeatMap",
    "histogram": "Histogram",
    "box": "BoxWhisker",
    "treemap": "Overlay",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_dashboard_chart_type_draws_a_panel_from_its_frame(name):
    from workbench.ui.charts import CHARTS

    x, y, by, label, df = CASES[name]
    panel = CHARTS.get(name)().dashboard_panel("k", "Title", x, y, by, label)
    assert panel.key == "k" and panel.kind == name
    panel.update(df)
    if name == "donut":
        assert panel.source.data["label"] == ["c", "a", "b"]
        assert panel.source.data["share"][0] == pytest.approx(0.5)
        return
    assert type(panel.render(df)).__name__ in ELEMENTS[name].split()
    assert type(panel.render(pd.DataFrame())).__name__ in ELEMENTS[name].split()  # quiet window


def test_the_dashboard_only_types_are_never_picked_for_the_query_builder():
    from workbench.ui import charts

    df = pd.DataFrame({"c": list("ab"), "m": [1.0, 2]})
    assert type(charts.auto_chart(df, ["m"], ["c"])).__name__ == "Bars"
    assert charts.auto_chart(df, ["m"], ["c"], kind="heatmap") is None
    assert charts.auto_chart(df, ["m"], ["c"], kind="donut") is None
