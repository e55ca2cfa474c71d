"""The dashboard's charts: eleven kinds, each fed by one panel's DataFrame.

Charts are HoloViews DynamicMaps on a ``Pipe``: a refresh sends new data down the pipe and
Bokeh updates the existing plot's data in place (no re-layout, no flicker), which is what
keeps a once-a-second refresh cheap.  The donut is a plain Bokeh figure (HoloViews has no pie)
updated the same way through its ColumnDataSource.  Colours are Okabe-Ito throughout
(colour-blind safe); the heatmap uses cividis.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
from holoviews.streams import Pipe, Selection1D

from workbench.ui.theme import PALETTE

hv.extension("bokeh", logo=False)

HEIGHT = 280
BASE_OPTS = dict(
    responsive=True,
    height=HEIGHT,
    toolbar="above",
    default_tools=["save", "reset"],
    framewise=True,
    fontscale=1.0,
)


def _empty_note(df: pd.DataFrame | None) -> bool:
    return df is None or df.empty


NO_DATA = "(no data)"


def _blank(categorical: Sequence[str] = (), numeric: Sequence[str] = (), time: Sequence[str] = ()):
    """An empty frame whose column types match the real data.  A Bokeh axis or colour mapper
    is built once, from the first frame: a float column where categories will come later would
    make a linear axis that can never show them (the first rows of a quiet live window)."""
    cols = {c: pd.Series([], dtype=object) for c in categorical}
    cols.update({c: pd.Series([], dtype=float) for c in numeric})
    cols.update({c: pd.Series([], dtype="datetime64[ns]") for c in time})
    return pd.DataFrame(cols)


@dataclass
class LiveChart:
    """One chart panel: a title, a text description for screen readers, and a render
    function from the panel's DataFrame to a HoloViews element of a fixed type."""

    key: str  # which snapshot frame feeds it
    title: str
    kind: str
    render: Callable[[pd.DataFrame], hv.Element]
    describe: Callable[[pd.DataFrame], str] = field(default=lambda df: "")
    # (chart frame, anomalies) -> markers drawn over the chart (dashboard.markers), or None
    marks_render: Callable | None = None
    pipe: Pipe = field(init=False)
    pane: pn.viewable.Viewable = field(init=False)
    summary: pn.pane.HTML = field(init=False)
    data: pd.DataFrame = field(init=False)

    def __post_init__(self):
        self.data = pd.DataFrame()
        self.anomalies = pd.DataFrame()
        self.pipe = Pipe(data=self.data)
        streams = [self.pipe]
        if self.marks_render is not None:  # a second pipe: new anomalies redraw the markers only
            self.marks = Pipe(data=self.anomalies).rename(data="marks")
            streams.append(self.marks)
        self.dmap = hv.DynamicMap(self._safe_render, streams=streams)
        self.pane = pn.pane.HoloViews(
            self.dmap, sizing_mode="stretch_width", height=HEIGHT, linked_axes=False
        )
        self.summary = pn.pane.HTML(
            "", sizing_mode="stretch_width", styles={"font-size": "0.85em", "color": "#4d4d4d"}
        )

    def _safe_render(self, data, marks=None):
        df = data if isinstance(data, pd.DataFrame) else pd.DataFrame()
        element = self.render(df)
        if self.marks_render is None:
            return element
        return element * self.marks_render(
            df, marks if isinstance(marks, pd.DataFrame) else pd.DataFrame()
        )

    def show_anomalies(self, anoms: pd.DataFrame) -> None:
        """The anomalies to mark on this chart (already chosen for it: dashboard.markers)."""
        if self.marks_render is None or (
            anoms.equals(self.anomalies) and list(anoms.columns) == list(self.anomalies.columns)
        ):
            return
        self.anomalies = anoms
        self.marks.send(anoms)

    def update(self, df: pd.DataFrame | None) -> None:
        df = df if df is not None else pd.DataFrame()
        if df.equals(self.data) and list(df.columns) == list(self.data.columns):
            return
        self.data = df
        self.pipe.send(df)
        try:
            text = self.describe(df) if not df.empty else "No data in this time range."
        except Exception:  # noqa: BLE001  a summary is a nicety
            text = ""
        self.summary.object = f"<p role='note' style='margin:0'>{_esc(text)}</p>"


class DonutPanel:
    """Share of a metric by category, as a Bokeh donut (updated via its data source)."""

    def __init__(self, key: str, title: str, dim: str, metric: str):
        from bokeh.models import ColumnDataSource, HoverTool, Range1d
        from bokeh.plotting import figure

        self.key, self.title, self.kind, self.dim, self.metric = key, title, "donut", dim, metric
        self.source = ColumnDataSource(
            dict(label=[], value=[], share=[], start=[], end=[], color=[])
        )
        fig = figure(
            height=HEIGHT,
            sizing_mode="stretch_width",
            toolbar_location="above",
            tools="save,reset",
            x_range=Range1d(start=-1.3, end=1.3),
            y_range=Range1d(start=-1.15, end=1.15),
            match_aspect=True,
            title=None,
        )
        fig.annular_wedge(
            x=0,
            y=0,
            inner_radius=0.5,
            outer_radius=0.95,
            start_angle="start",
            end_angle="end",
            color="color",
            legend_field="label",
            line_color="white",
            source=self.source,
        )
        fig.add_tools(
            HoverTool(
                tooltips=[("", "@label"), ("share", "@share{0.0%}"), (metric, "@value{0,0.00}")]
            )
        )
        fig.axis.visible = False
        fig.grid.visible = False
        fig.outline_line_color = None
        fig.legend.location = "right"
        self.fig = fig
        self.pane = pn.pane.Bokeh(fig, sizing_mode="stretch_width", height=HEIGHT)
        self.summary = pn.pane.HTML(
            "", sizing_mode="stretch_width", styles={"font-size": "0.85em", "color": "#4d4d4d"}
        )
        self.data = pd.DataFrame()

    def update(self, df: pd.DataFrame | None) -> None:
        df = df if df is not None else pd.DataFrame()
        if df.equals(self.data):
            return
        self.data = df
        if df.empty or self.metric not in df.columns:
            self.source.data = dict(label=[], value=[], share=[], start=[], end=[], color=[])
            self.summary.object = "<p role='note' style='margin:0'>No data in this time range.</p>"
            return
        d = df.sort_values(self.metric, ascending=False)
        values = d[self.metric].astype(float).clip(lower=0).to_numpy()
        total = values.sum() or 1.0
        ends = np.cumsum(values) / total * 2 * math.pi
        starts = np.concatenate([[0.0], ends[:-1]])
        labels = d[self.dim].astype(str).tolist()
        self.source.data = dict(
            label=labels,
            value=values.tolist(),
            share=(values / total).tolist(),
            start=starts.tolist(),
            end=ends.tolist(),
            color=[PALETTE[i % len(PALETTE)] for i in range(len(labels))],
        )
        parts = ", ".join(f"{lab} {v / total:.0%}" for lab, v in zip(labels, values, strict=True))
        self.summary.object = f"<p role='note' style='margin:0'>{_esc('Share: ' + parts)}</p>"


def squarify(values: list[float], x: float, y: float, w: float, h: float) -> list[tuple]:
    """Squarified treemap layout (Bruls et al.): rectangles (x0, y0, x1, y1) in value order."""
    vals = [v for v in values]
    total = sum(vals)
    if total <= 0 or not vals:
        return [(x, y, x, y) for _ in vals]
    scaled = [v * w * h / total for v in vals]
    out: list[tuple] = []

    def worst(row, side):
        s = sum(row)
        return max(max(side * side * r / (s * s), (s * s) / (side * side * r)) for r in row)

    def layout(row, x, y, w, h):
        s = sum(row)
        if w >= h:  # column on the left
            cw = s / h if h else 0
            yy = y
            for r in row:
                rh = r / cw if cw else 0
                out.append((x, yy, x + cw, yy + rh))
                yy += rh
            return x + cw, y, w - cw, h
        rh = s / w if w else 0
        xx = x
        for r in row:
            cw = r / rh if rh else 0
            out.append((xx, y, xx + cw, y + rh))
            xx += cw
        return x, y + rh, w, h - rh

    row: list[float] = []
    items = list(scaled)
    while items:
        side = min(w, h)
        r = items[0]
        if not row or worst(row + [r], side) <= worst(row, side):
            row.append(r)
            items.pop(0)
        else:
            x, y, w, h = layout(row, x, y, w, h)
            row = []
    if row:
        layout(row, x, y, w, h)
    return out


def _esc(text: str) -> str:
    import html

    return html.escape(str(text))


def _fmt(v) -> str:
    try:
        return f"{float(v):,.2f}"
    except (TypeError, ValueError):
        return str(v)


# --- render functions ---------------------------------------------------------------------


def line(time: str, metric: str) -> Callable:
    def render(df):
        d = (
            df[[time, metric]].sort_values(time)
            if not _empty_note(df)
            else pd.DataFrame({time: pd.to_datetime([]), metric: []})
        )
        return hv.Curve(d, time, metric).opts(
            color=PALETTE[0], line_width=2, tools=["hover"], **BASE_OPTS
        )

    return render


def stacked_area(time: str, by: str, metric: str) -> Callable:
    def render(df):
        if _empty_note(df):
            return hv.NdOverlay(
                {
                    NO_DATA: hv.Area(
                        pd.DataFrame({time: pd.to_datetime([]), metric: []}), time, metric
                    )
                },
                kdims=[by],
            ).opts(**BASE_OPTS)
        wide = df.pivot_table(index=time, columns=by, values=metric, aggfunc="sum").fillna(0)
        areas = {
            str(c): hv.Area((wide.index, wide[c].to_numpy()), time, metric).opts(
                color=PALETTE[i % len(PALETTE)], alpha=0.85, line_width=0.5
            )
            for i, c in enumerate(wide.columns)
        }
        return hv.Area.stack(hv.NdOverlay(areas, kdims=[by])).opts(
            legend_position="top_left", **BASE_OPTS
        )

    return render


def bars(dim: str, metric: str) -> Callable:
    def render(df):
        d = (
            df[[dim, metric]]
            if not _empty_note(df) and dim in df.columns
            else pd.DataFrame({dim: [NO_DATA], metric: [0.0]})
        )  # keeps the axis categorical
        return hv.Bars(d, dim, metric).opts(
            color=PALETTE[0],
            tools=["hover", "tap"],
            xrotation=30,
            nonselection_alpha=0.6,
            **BASE_OPTS,
        )

    return render


def stacked_bars(dim: str, by: str, metric: str) -> Callable:
    def render(df):
        empty = _empty_note(df) or not {dim, by, metric} <= set(df.columns)
        d = _blank([dim, by], [metric]) if empty else df[[dim, by, metric]]
        # HoloViews' stacked bar plot indexes the first stack value, so an empty frame (a
        # quiet time window) would fail at render time and blank the whole page.
        return hv.Bars(d, [dim, by], metric).opts(
            stacked=not empty, cmap=PALETTE, tools=["hover"], legend_position="right", **BASE_OPTS
        )

    return render


def scatter(x: str, y: str, label: str, by: str) -> Callable:
    def render(df):
        cols = [x, y, label, by]
        d = (
            df[cols].dropna()
            if not _empty_note(df) and set(cols) <= set(df.columns)
            else _blank([label, by], [x, y])[cols]
        )
        return hv.Scatter(d, x, [y, label, by]).opts(
            color=by, cmap=PALETTE, size=9, tools=["hover"], legend_position="right", **BASE_OPTS
        )

    return render


def heatmap(x: str, y: str, metric: str) -> Callable:
    def render(df):
        d = (
            df[[x, y, metric]]
            if not _empty_note(df)
            else pd.DataFrame({x: [NO_DATA], y: [NO_DATA], metric: [float("nan")]})
        )  # categorical axes
        return hv.HeatMap(d, [x, y], metric).opts(
            cmap="cividis", colorbar=True, tools=["hover"], xrotation=30, **BASE_OPTS
        )

    return render


def histogram(metric: str, bins: int = 12) -> Callable:
    def render(df):
        values = (
            df[metric].dropna().astype(float).to_numpy()
            if not _empty_note(df) and metric in df.columns
            else np.array([])
        )
        edges_counts = (
            np.histogram(values, bins=bins) if len(values) else (np.zeros(1), np.array([0, 1]))
        )
        counts, edges = edges_counts
        return hv.Histogram((edges, counts), kdims=[metric], vdims=["stores"]).opts(
            color=PALETTE[2], tools=["hover"], **BASE_OPTS
        )

    return render


def box(group: str, metric: str) -> Callable:
    def render(df):
        d = df[[group, metric]] if not _empty_note(df) else _blank([group], [metric])
        return hv.BoxWhisker(d, group, metric).opts(
            box_fill_color=PALETTE[5], tools=["hover"], **BASE_OPTS
        )

    return render


def treemap(group: str, label: str, metric: str) -> Callable:
    def render(df):
        if _empty_note(df) or metric not in df.columns:
            return hv.Rectangles([], vdims=["label", "value", "group"]).opts(
                **BASE_OPTS
            ) * hv.Labels([], vdims=["text"])
        d = df[df[metric].fillna(0) > 0].sort_values(metric, ascending=False).head(60)
        rects = squarify(d[metric].astype(float).tolist(), 0, 0, 100, 60)
        groups = sorted(d[group].astype(str).unique())
        color = {g: PALETTE[i % len(PALETTE)] for i, g in enumerate(groups)}
        data = [
            (x0, y0, x1, y1, str(lab), float(v), str(g))
            for (x0, y0, x1, y1), lab, v, g in zip(
                rects, d[label], d[metric], d[group], strict=True
            )
        ]
        r = hv.Rectangles(data, vdims=["label", "value", "group"]).opts(
            color="group",
            cmap=[color[g] for g in groups],
            line_color="white",
            tools=["hover"],
            xaxis=None,
            yaxis=None,
            show_legend=False,
            **BASE_OPTS,
        )
        big = [
            ((x0 + x1) / 2, (y0 + y1) / 2, lab[:14])
            for x0, y0, x1, y1, lab, v, g in data
            if (x1 - x0) > 9 and (y1 - y0) > 5
        ]
        return r * hv.Labels(big, vdims=["text"]).opts(text_font_size="8pt", text_color="white")

    return render


def tap_stream(chart: LiveChart) -> Selection1D:
    """Clicks on a bar: ``stream.index`` is the list of selected rows of ``chart.data``."""
    return Selection1D(source=chart.dmap)
