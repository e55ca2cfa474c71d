"""Chart types, and the chart factory on hvPlot.

A chart type is a small class declared as a ``workbench.charts`` entry point (pyproject.toml;
the built-ins are declared the same way a third party's are), so adding one does not touch
the factory.  One registry serves every app: :func:`auto_chart` (the query builder,
``Query.chart()``) picks the first registered type that accepts the result's shape, and the
dashboard draws a panel with the type its spec names (``ChartType.live``; the dashboard-only
types are in :mod:`workbench.ui.dashboard.chart_types`).  Colours come from the Okabe-Ito palette in
:mod:`workbench.ui.theme`; the result table next to the chart is the textual alternative.
"""

from __future__ import annotations

from typing import ClassVar

import pandas as pd

from workbench.registry import Registry
from workbench.ui.theme import PALETTE

MAX_BARS = 40


class ChartType:
    """One way of drawing a result.  For the query builder: ``accepts`` says whether it fits a
    result (the default: never picked automatically), ``render`` draws it with hvPlot.  For the
    dashboard: ``live`` gives the function that draws a panel's frame, ``dashboard_panel`` the
    panel itself."""

    name: ClassVar[str] = ""
    priority: ClassVar[int] = 100  # lower is tried first

    def accepts(self, df: pd.DataFrame, x: str | None, ys: list[str], by: str | None) -> bool:
        return False

    def render(self, df: pd.DataFrame, x: str | None, ys: list[str], by: str | None, **opts):
        raise NotImplementedError(f"the chart type {self.name!r} draws only on the dashboard")

    def live(self, x: str | None, y: str, by: str | None = None, label: str | None = None):
        """The dashboard's drawing: a function from one panel's DataFrame to a HoloViews element
        of a fixed type (a refresh sends new data down its pipe).  Not overridden: the type
        does not draw on the dashboard."""
        raise NotImplementedError(f"the chart type {self.name!r} does not draw on the dashboard")

    def dashboard_panel(
        self,
        key: str,
        title: str,
        x: str | None,
        y: str,
        by: str | None = None,
        label: str | None = None,
        describe=None,
        marks_render=None,
    ):
        """The dashboard panel fed by the snapshot frame ``key`` (dashboard.charts.LiveChart)."""
        from workbench.ui.dashboard.charts import LiveChart

        return LiveChart(
            key,
            title,
            self.name,
            self.live(x, y, by, label),
            describe or (lambda df: ""),
            marks_render=marks_render,
        )


CHARTS: Registry[ChartType] = Registry("chart type", "workbench.charts", ChartType)

#: ``@register`` on a ``ChartType`` subclass with a ``name`` (tests and notebooks; a package
#: declares a ``workbench.charts`` entry point instead).
register = CHARTS.register


def chart_types() -> dict[str, type[ChartType]]:
    """Every loadable chart type, in the order ``auto_chart`` tries them (a plugin that fails to
    import is logged and left out)."""
    return dict(sorted(CHARTS.classes().items(), key=lambda kv: (kv[1].priority, kv[0])))


def _hvplot(df: pd.DataFrame):
    import hvplot.pandas  # noqa: F401  (registers the .hvplot accessor)

    return df.hvplot


def _common_opts(ys: list[str], by: str | None, opts: dict) -> dict:
    base = dict(
        responsive=True,
        height=340,
        grid=True,
        legend="top_left",
        ylabel=ys[0] if len(ys) == 1 else "",
        fontscale=1.1,
    )
    base["color"] = PALETTE if (by or len(ys) > 1) else PALETTE[0]
    base.update(opts)
    return base


class LineChart(ChartType):
    """A time series: x is a date/time column."""

    name = "line"
    priority = 10

    def accepts(self, df, x, ys, by):
        return x is not None and bool(ys) and pd.api.types.is_datetime64_any_dtype(df[x])

    def render(self, df, x, ys, by, **opts):
        df = df.sort_values(x)
        return _hvplot(df).line(
            x=x, y=ys if len(ys) > 1 else ys[0], by=by, **_common_opts(ys, by, opts)
        )

    def live(self, x, y, by=None, label=None):
        from workbench.ui.dashboard import charts as live

        return live.line(x, y)


class BarChart(ChartType):
    """Categories on x, largest first, at most MAX_BARS of them."""

    name = "bar"
    priority = 20

    def accepts(self, df, x, ys, by):
        return x is not None and bool(ys)

    def render(self, df, x, ys, by, **opts):
        df = df.copy()
        df[x] = df[x].astype(str)
        if by is None:
            df = (
                df.nlargest(MAX_BARS, ys[0])
                if len(df) > MAX_BARS
                else df.sort_values(ys[0], ascending=False)
            )
        else:
            df[by] = df[by].astype(str)
        return _hvplot(df).bar(
            x=x, y=ys if len(ys) > 1 else ys[0], by=by, rot=45, **_common_opts(ys, by, opts)
        )

    def live(self, x, y, by=None, label=None):
        from workbench.ui.dashboard import charts as live

        return live.bars(x, y)


def numeric_columns(df: pd.DataFrame, candidates: list[str]) -> list[str]:
    return [
        c
        for c in candidates
        if c in df.columns
        and pd.api.types.is_numeric_dtype(df[c])
        and not pd.api.types.is_bool_dtype(df[c])
    ]


def auto_chart(
    df: pd.DataFrame, metrics: list[str], dimensions: list[str], kind: str | None = None, **opts
):
    """The chart for a query result, or ``None`` when a chart would say nothing (a single
    number, no numeric metric, an empty result)."""
    if df is None or df.empty:
        return None
    ys = numeric_columns(df, metrics) or numeric_columns(
        df, [c for c in df.columns if c not in dimensions]
    )
    dims = [d for d in dimensions if d in df.columns]
    if not ys or not dims:
        return None
    # Prefer a time dimension on x; a second dimension becomes the series.
    dims.sort(key=lambda d: not pd.api.types.is_datetime64_any_dtype(df[d]))
    x, by = dims[0], (dims[1] if len(dims) > 1 else None)
    if by is not None:
        ys = ys[:1]  # one metric per series when split by a dimension
    types = chart_types()
    candidates = [types[kind]] if kind else list(types.values())
    for cls in candidates:
        chart_type = cls()
        if chart_type.accepts(df, x, ys, by):
            return chart_type.render(df, x, ys, by, **opts)
    return None


def chart_summary(df: pd.DataFrame, metrics: list[str], dims: list[str]) -> str:
    """One sentence a screen reader reads in place of the chart (WCAG 1.1.1): what is plotted
    against what, and each metric's range."""
    if df is None or df.empty:
        return ""
    against = f" by {', '.join(dims)}" if dims else ""
    ranges = "; ".join(
        f"{m} from {df[m].min():,.2f} to {df[m].max():,.2f}"
        for m in metrics
        if m in df.columns and pd.api.types.is_numeric_dtype(df[m])
    )
    return f"Chart of {', '.join(metrics)}{against}, {len(df)} points" + (
        f": {ranges}." if ranges else "."
    )
