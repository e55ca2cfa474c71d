"""Anomaly markers on the dashboard's time-series charts.

Which anomalies a chart shows: those of the namespace whose rule watches the metric the chart
draws, whose bucket lies in the chart's time window, and whose slice is what the chart shows:
an unsliced anomaly on an unfiltered chart, ``region = North`` when the page is drilled into
North (and nothing else), and for a chart split by a dimension (orders by channel) the
anomalies sliced by that dimension.

A marker sits on the chart's own line at the anomaly's bucket (the anomaly's grain may differ
from the chart's, so its value could be on another scale); the hover gives the anomaly's own
value, expected value, score and severity.  Severity is shown by shape *and* colour (Okabe-Ito),
so it never depends on colour alone.
"""

from __future__ import annotations

from typing import Callable

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

COLUMNS = ["rule", "metric", "grain", "slice_by", "slice_value", "ts", "value", "expected",
           "score", "severity", "direction", "incident_id"]
MARK_COLS = ["anomaly_value", "expected", "score", "severity", "slice", "direction",
             "incident", "marker", "colour"]


def empty_anomalies() -> pd.DataFrame:
    df = pd.DataFrame({c: pd.Series([], dtype=object) for c in COLUMNS})
    df["ts"] = pd.to_datetime(df["ts"])
    return df


def for_chart(anoms: pd.DataFrame | None, metrics: list[str], where: dict[str, str],
              start=None, end=None, by: str | None = None) -> pd.DataFrame:
    """The anomalies a chart of ``metrics`` filtered by ``where`` ({dimension: value}, the drill
    path) shows in [start, end); ``by``: the chart draws one series per value of it."""
    if anoms is None or anoms.empty:
        return empty_anomalies()
    a = anoms[anoms["metric"].isin(metrics)]
    if start is not None:
        a = a[a["ts"] >= pd.Timestamp(start)]
    if end is not None:
        a = a[a["ts"] < pd.Timestamp(end)]
    sliced = a["slice_by"].notna() & a["slice_value"].notna()
    if where:
        if len(where) != 1:   # e.g. region and store: no rule watches that combination as a slice
            return a.iloc[:0]
        (dim, value), = where.items()
        keep = sliced & (a["slice_by"] == dim) & (a["slice_value"].astype(str) == str(value))
    else:
        keep = ~sliced
        if by:
            keep = keep | (sliced & (a["slice_by"] == by))
    return a[keep].sort_values("ts").reset_index(drop=True)


def _heights(chart: pd.DataFrame, time: str, metric: str, by: str | None) -> dict:
    """{slice value or None: the chart's y at each of its times} (stacked tops when ``by``)."""
    if chart is None or chart.empty or time not in chart.columns or metric not in chart.columns:
        return {}
    if not by or by not in chart.columns:
        return {None: chart.groupby(time)[metric].sum().sort_index()}
    wide = chart.pivot_table(index=time, columns=by, values=metric, aggfunc="sum").fillna(0)
    tops = wide.cumsum(axis=1)  # same column order as the stacked area (sorted)
    out = {str(c): tops[c].sort_index() for c in tops.columns}
    out[None] = wide.sum(axis=1).sort_index()
    return out


def _y_at(series: pd.Series | None, ts: pd.Timestamp, fallback: float) -> float:
    """The chart's value at the bucket holding ``ts`` (the last point at or before it; the
    first one after it when the anomaly is older than the chart's first point)."""
    if series is None or series.empty:
        return fallback
    before = series[series.index <= ts]
    return float(before.iloc[-1] if len(before) else series.iloc[0])


def marker_frame(anoms: pd.DataFrame, chart: pd.DataFrame | None, time: str, metric: str,
                 by: str | None = None) -> pd.DataFrame:
    """One row per marker: x, y on the chart, and what the hover shows."""
    cols = {time: pd.Series([], dtype="datetime64[ns]"), metric: pd.Series([], dtype=float)}
    cols.update({c: pd.Series([], dtype=float if c in ("anomaly_value", "expected", "score")
                              else object) for c in MARK_COLS})
    if anoms is None or anoms.empty:
        return pd.DataFrame(cols)
    heights = _heights(chart, time, metric, by)
    rows = []
    for a in anoms.itertuples(index=False):
        ts = pd.Timestamp(a.ts)
        value = float(a.value) if pd.notna(a.value) else float("nan")
        key = str(a.slice_value) if by and a.slice_by == by and pd.notna(a.slice_value) else None
        marker, colour, _ = SEVERITY_MARK.get(a.severity, _OTHER)
        where = f"{a.slice_by} = {a.slice_value}" if pd.notna(a.slice_by) and \
            pd.notna(a.slice_value) else "total"
        rows.append({time: ts, metric: _y_at(heights.get(key), ts, value),
                     "anomaly_value": value,
                     "expected": float(a.expected) if pd.notna(a.expected) else float("nan"),
                     "score": float(a.score), "severity": str(a.severity), "slice": where,
                     "direction": str(a.direction), "incident": f"#{a.incident_id}",
                     "marker": marker, "colour": colour})
    return pd.DataFrame(rows, columns=list(cols))


def markers(time: str, metric: str, by: str | None = None) -> Callable:
    """A render function (chart frame, anomalies) -> hv.Scatter of markers, for LiveChart."""
    hover = HoverTool(tooltips=[
        ("Anomaly", "@severity @direction (@slice), incident @incident"),
        ("at", f"@{{{time}}}{{%F %H:%M}}"),
        ("value", "@anomaly_value{0,0.00}"), ("expected", "@expected{0,0.00}"),
        ("score", "@score{0.000}")], formatters={f"@{{{time}}}": "datetime"})

    def render(chart: pd.DataFrame, anoms: pd.DataFrame | None) -> hv.Scatter:
        d = marker_frame(anoms, chart, time, metric, by)
        return hv.Scatter(d, time, [metric] + MARK_COLS, label="Anomaly").opts(
            marker=hv.dim("marker"), color="colour", size=13, line_color="black",
            line_width=1, tools=[hover], show_legend=False)
    return render


def legend_html() -> str:
    """The markers' key, as text (next to the charts; the legend needs no colour vision)."""
    parts = ", ".join(words for _, _, words in SEVERITY_MARK.values())
    return f"Anomaly markers by severity: {parts}. Hover a marker for its value, expected " \
           f"value and score."
