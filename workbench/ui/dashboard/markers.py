"""Anomaly markers on the dashboard's time-series charts.

Which anomalies a chart shows: those of the namespace whose rule watches the metric the chart
draws, whose bucket lies in the chart's time window, and whose series is the one the chart
draws. An anomaly's series is its metric under its rule's own ``where`` filters plus its slice
(``channel = 'store'`` and ``region = North`` for in-store orders sliced by region); a chart's
is its drill path (``region = North`` when the page is drilled into North), and for a chart
split by a dimension (orders by channel) each band adds ``channel = <band>``. The two must be
the same set of equalities: an unsliced, unfiltered anomaly on the unfiltered chart,
in-store orders in North on the ``store`` band of the channel chart drilled into North, and
never on a chart that draws another series. A rule filter that is not an equality
(``channel != 'store'``) matches no chart: no dashboard chart draws that series. Anomalies
stored before the store kept rule filters (``rule_where`` NULL) count as unfiltered.

A marker sits on the chart's own line at the anomaly's bucket (the anomaly's grain may differ
from the chart's, so its value could be on another scale); the hover gives the anomaly's own
value, expected value, score and severity.  Severity is shown by shape *and* colour (Okabe-Ito),
so it never depends on colour alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache

import holoviews as hv
import pandas as pd
from bokeh.models import HoverTool

from workbench.ui.theme import OKABE_ITO

# severity -> (Bokeh marker, colour, words for the legend / a screen reader)
SEVERITY_MARK = {
    "critical": ("triangle", OKABE_ITO["vermillion"], "critical (triangle)"),
    "warning": ("diamond", OKABE_ITO["orange"], "warning (diamond)"),
    "info": ("square", OKABE_ITO["sky_blue"], "info (square)"),
}
_OTHER = ("hex", OKABE_ITO["reddish_purple"], "other (hexagon)")

COLUMNS = [
    "rule",
    "metric",
    "grain",
    "slice_by",
    "slice_value",
    "ts",
    "value",
    "expected",
    "score",
    "severity",
    "direction",
    "incident_id",
    "rule_where",
]
NOT_AN_EQUALITY = object()  # a rule filter no chart's drill path can express
MARK_COLS = [
    "anomaly_value",
    "expected",
    "score",
    "severity",
    "slice",
    "direction",
    "incident",
    "marker",
    "colour",
]


def empty_anomalies() -> pd.DataFrame:
    df = pd.DataFrame({c: pd.Series([], dtype=object) for c in COLUMNS})
    df["ts"] = pd.to_datetime(df["ts"])
    return df


@lru_cache(maxsize=1024)
def rule_equalities(stored: str | None) -> tuple | object:
    """A stored ``rule_where`` (JSON list of filter texts) as sorted ((dimension, value), ...);
    ``NOT_AN_EQUALITY`` when one filter is anything but ``dimension = literal``. Parsed with the
    semantic layer's own expression parser, so the text means what the rule's query meant."""
    from sqlglot import exp

    from workbench.semantic.expr import ExprError, parse

    if stored is None or (isinstance(stored, float) and pd.isna(stored)):
        return ()
    try:
        filters = json.loads(stored)
    except (TypeError, ValueError):
        return NOT_AN_EQUALITY
    out: dict[str, str] = {}
    for text in filters or []:
        try:
            tree = parse(str(text))
        except ExprError:
            return NOT_AN_EQUALITY
        while isinstance(tree, exp.Paren):
            tree = tree.this
        if not isinstance(tree, exp.EQ):
            return NOT_AN_EQUALITY
        col, lit = tree.this, tree.expression
        if isinstance(lit, exp.Column) and isinstance(col, exp.Literal):
            col, lit = lit, col
        if not (isinstance(col, exp.Column) and isinstance(lit, exp.Literal)):
            return NOT_AN_EQUALITY
        if col.name in out and out[col.name] != str(lit.this):
            return NOT_AN_EQUALITY  # a = 'x' and a = 'y': an empty series
        out[col.name] = str(lit.this)
    return tuple(sorted(out.items()))


def _series_of(row) -> dict | None:
    """{dimension: value} the anomaly's series is filtered by (rule filters and slice)."""
    eqs = rule_equalities(row.rule_where if hasattr(row, "rule_where") else None)
    if not isinstance(eqs, tuple):  # NOT_AN_EQUALITY
        return None
    out = dict(eqs)
    if pd.notna(row.slice_by) and pd.notna(row.slice_value):
        if row.slice_by in out and out[row.slice_by] != str(row.slice_value):
            return None
        out[row.slice_by] = str(row.slice_value)
    return out


def for_chart(
    anoms: pd.DataFrame | None,
    metrics: list[str],
    where: dict[str, str],
    start=None,
    end=None,
    by: str | None = None,
) -> pd.DataFrame:
    """The anomalies a chart of ``metrics`` filtered by ``where`` ({dimension: value}, the drill
    path) shows in [start, end); ``by``: the chart draws one series per value of it."""
    if anoms is None or anoms.empty:
        return empty_anomalies()
    a = anoms[anoms["metric"].isin(metrics)]
    if start is not None:
        a = a[a["ts"] >= pd.Timestamp(start)]
    if end is not None:
        a = a[a["ts"] < pd.Timestamp(end)]
    chart = {str(k): str(v) for k, v in (where or {}).items()}
    keep = []
    for row in a.itertuples(index=False):
        series = _series_of(row)
        if series is None:
            keep.append(False)
            continue
        if series == chart:
            keep.append(True)
            continue
        # a band of a split chart: the chart's filters plus `by = <band>` (the marker is drawn
        # on that band's top)
        keep.append(
            by is not None
            and by not in chart
            and by in series
            and {**chart, by: series[by]} == series
        )
    if not len(a):
        return a.reset_index(drop=True)
    return a[keep].sort_values("ts").reset_index(drop=True)


def _heights(chart: pd.DataFrame, time: str, metric: str, by: str | None) -> dict:
    """{slice value or None: the chart's y at each of its times} (stacked tops when ``by``)."""
    if chart is None or chart.empty or time not in chart.columns or metric not in chart.columns:
        return {}
    if not by or by not in chart.columns:
        return {None: chart.groupby(time)[metric].sum().sort_index()}
    wide = chart.pivot_table(index=time, columns=by, values=metric, aggfunc="sum").fillna(0)
    tops = wide.cumsum(axis=1)  # same column order as the stacked area (sorted)
    out: dict[str | None, pd.Series] = {str(c): tops[c].sort_index() for c in tops.columns}
    out[None] = wide.sum(axis=1).sort_index()
    return out


def _y_at(series: pd.Series | None, ts: pd.Timestamp, fallback: float) -> float:
    """The chart's value at the bucket holding ``ts`` (the last point at or before it; the
    first one after it when the anomaly is older than the chart's first point)."""
    if series is None or series.empty:
        return fallback
    before = series[series.index <= ts]
    return float(before.iloc[-1] if len(before) else series.iloc[0])


def marker_frame(
    anoms: pd.DataFrame, chart: pd.DataFrame | None, time: str, metric: str, by: str | None = None
) -> pd.DataFrame:
    """One row per marker: x, y on the chart, and what the hover shows."""
    cols = {time: pd.Series([], dtype="datetime64[ns]"), metric: pd.Series([], dtype=float)}
    cols.update(
        {
            c: pd.Series([], dtype=float if c in ("anomaly_value", "expected", "score") else object)
            for c in MARK_COLS
        }
    )
    if anoms is None or anoms.empty:
        return pd.DataFrame(cols)
    heights = _heights(chart, time, metric, by)
    rows: list[dict[str, object]] = []
    for a in anoms.itertuples(index=False):
        ts = pd.Timestamp(a.ts)
        value = float(a.value) if pd.notna(a.value) else float("nan")
        series = _series_of(a) or {}
        key = series.get(by) if by else None
        marker, colour, _ = SEVERITY_MARK.get(a.severity, _OTHER)
        where = ", ".join(f"{k} = {v}" for k, v in sorted(series.items())) or "total"
        rows.append(
            {
                time: ts,
                metric: _y_at(heights.get(key), ts, value),
                "anomaly_value": value,
                "expected": float(a.expected) if pd.notna(a.expected) else float("nan"),
                "score": float(a.score),
                "severity": str(a.severity),
                "slice": where,
                "direction": str(a.direction),
                "incident": f"#{a.incident_id}",
                "marker": marker,
                "colour": colour,
            }
        )
    return pd.DataFrame(rows, columns=list(cols))


def markers(time: str, metric: str, by: str | None = None) -> Callable:
    """A render function (chart frame, anomalies) -> hv.Scatter of markers, for LiveChart."""
    hover = HoverTool(
        tooltips=[
            ("Anomaly", "@severity @direction (@slice), incident @incident"),
            ("at", f"@{{{time}}}{{%F %H:%M}}"),
            ("value", "@anomaly_value{0,0.00}"),
            ("expected", "@expected{0,0.00}"),
            ("score", "@score{0.000}"),
        ],
        formatters={f"@{{{time}}}": "datetime"},
    )

    def render(chart: pd.DataFrame, anoms: pd.DataFrame | None) -> hv.Scatter:
        d = marker_frame(anoms, chart, time, metric, by)
        return hv.Scatter(d, time, [metric] + MARK_COLS, label="Anomaly").opts(
            marker=hv.dim("marker"),
            color="colour",
            size=13,
            line_color="black",
            line_width=1,
            tools=[hover],
            show_legend=False,
        )

    return render


def legend_html() -> str:
    """The markers' key, as text (next to the charts; the legend needs no colour vision)."""
    parts = ", ".join(words for _, _, words in SEVERITY_MARK.values())
    return (
        f"Anomaly markers by severity: {parts}. Hover a marker for its value, expected "
        f"value and score."
    )
