"""The dashboard's panels: the charts the spec declares for a namespace, and the card each
sits in.

A panel is drawn by the chart type its spec names (the ``workbench.charts`` registry, the same
one the query builder uses) and is only built when the namespace has its members (``Members``,
dashboard.members); `retail` and `live` both get every panel of semantic/dashboards/kpi.yml.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import panel as pn

from workbench.ui import theme
from workbench.ui.charts import CHARTS
from workbench.ui.dashboard import charts as ch
from workbench.ui.dashboard import markers as mk
from workbench.ui.dashboard.members import Members
from workbench.ui.dashboard.spec import PanelSpec
from workbench.ui.dashboard.text import describe_series, describe_top


def chart_for(m: Members, p: PanelSpec) -> Any:
    """One declared panel's chart, fed by its query's snapshot frame."""
    if p.chart is None or p.y is None:  # the spec's validation requires both
        raise ValueError(f"panel {p.key!r} has no chart type or metric")
    metric = p.summary or p.y
    describe = (
        describe_series(m.time, metric)
        if p.x == m.time
        else describe_top(p.label or p.x or "", metric)
    )
    marks = mk.markers(p.x or m.time, p.y, by=p.by) if p.markers else None
    return CHARTS.get(p.chart)().dashboard_panel(
        p.source, p.title or p.key, p.x, p.y, p.by, p.label, describe, marks
    )


def build_charts(
    m: Members,
    drill_render: Callable,
    drill_describe: Callable,
    explore_render: Callable,
    explore_marks: Callable | None = None,
) -> dict[str, Any]:
    """Every chart panel of the namespace, by key, in the spec's order (the drill and explore
    panels always).  Time series the spec marks carry anomaly markers (dashboard.markers)."""
    charts: dict[str, Any] = {}
    first = m.levels[0].dimension if m.levels else ""
    for p in m.panels:
        if p.key == "drill":
            charts["drill"] = ch.LiveChart(
                "drill",
                p.title
                or f"{m.metric.replace('_', ' ').capitalize()} by {first} "
                "(click a bar to drill down)",
                "bar",
                drill_render,
                drill_describe,
            )
        elif p.key == "explore":
            charts["explore"] = ch.LiveChart(
                "explore",
                p.title or "Explore: pick a metric with the search box",
                "line",
                explore_render,
                lambda df: "",
                marks_render=explore_marks,
            )
        else:
            charts[p.key] = chart_for(m, p)
    if "drill" not in charts:  # the drill path's bar and the metric search are not optional
        charts["drill"] = ch.LiveChart(
            "drill", f"{m.metric} by {first}", "bar", drill_render, drill_describe
        )
    if "explore" not in charts:
        charts["explore"] = ch.LiveChart(
            "explore",
            "Explore: pick a metric with the search box",
            "line",
            explore_render,
            lambda df: "",
            marks_render=explore_marks,
        )
    return charts


def drill_table() -> pn.widgets.Tabulator:
    return theme.styled(
        pn.widgets.Tabulator(
            pd.DataFrame(),
            name="Drill-down table",
            disabled=True,
            pagination="local",
            page_size=10,
            sizing_mode="stretch_width",
            height=320,
            show_index=False,
            selectable=1,
        )
    )


class Cards:
    """Wraps panels in titled cards; with ``defer`` a chart's card first holds a line of text
    and gets its chart later (``attach_next``), so the page is sent without drawing them."""

    def __init__(self, defer: bool = False):
        self.defer = defer
        self.pending: list[tuple[pn.Column, pn.viewable.Viewable]] = []

    def card(self, title: str, body, summary=None) -> pn.Column:
        if self.defer:
            slot = pn.Column(
                pn.pane.HTML(
                    "<p style='margin:0'>Drawing the chart…</p>", sizing_mode="stretch_width"
                ),
                sizing_mode="stretch_width",
                min_height=120,
            )
            self.pending.append((slot, body))
            body = slot
        parts = [theme.heading(title, 3), body] + ([summary] if summary is not None else [])
        # the board draws the card's frame (dashboard.board)
        return pn.Column(*parts, sizing_mode="stretch_width")

    def attach_all(self) -> None:
        while self.pending:
            slot, body = self.pending.pop(0)
            slot.objects = [body]

    def attach_next(self) -> bool:
        """Put one deferred chart into its card; True while more are waiting."""
        if self.pending:
            slot, body = self.pending.pop(0)
            slot.objects = [body]
        return bool(self.pending)
