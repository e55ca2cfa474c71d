"""The dashboard's panels: which charts a namespace gets, and the card each sits in.

A chart is only built when the namespace has its members (``Members``): `retail` and `live` both
get all eleven kinds; a namespace without stores, channels or categories gets fewer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import panel as pn

from workbench.ui import theme
from workbench.ui.dashboard import charts as ch
from workbench.ui.dashboard import markers as mk
from workbench.ui.dashboard.data import Members
from workbench.ui.dashboard.text import describe_series, describe_top


def build_charts(m: Members, drill_render: Callable, drill_describe: Callable,
                 explore_render: Callable, explore_marks: Callable | None = None
                 ) -> dict[str, Any]:
    """Every chart panel of the namespace, by key (the trend, drill and explore always).
    The time series carry anomaly markers (dashboard.markers)."""
    charts: dict[str, Any] = {
        "trend": ch.LiveChart("trend", "Revenue over time", "line", ch.line(m.time, m.revenue),
                              describe_series(m.time, m.revenue),
                              marks_render=mk.markers(m.time, m.revenue)),
        "drill": ch.LiveChart("drill", "Revenue by region (click a bar to drill down)", "bar",
                              drill_render, drill_describe),
    }
    if m.channel:
        charts["channel_trend"] = ch.LiveChart(
            "channel_trend", "Orders over time by channel (stacked area)", "area",
            ch.stacked_area(m.time, m.channel, m.orders), describe_series(m.time, m.orders),
            marks_render=mk.markers(m.time, m.orders, by=m.channel))
        charts["channel"] = ch.DonutChart("channel", "Revenue share by channel", m.channel,
                                          m.revenue)
        if m.region:
            charts["region_channel"] = ch.LiveChart(
                "region_channel", "Revenue by region and channel (stacked bars)", "stacked bar",
                ch.stacked_bars(m.region, m.channel, m.revenue), describe_top(m.region, m.revenue))
    if m.region and m.category and m.line_revenue and m.region_by_category:
        charts["region_category"] = ch.LiveChart(
            "region_category", "Line revenue by category and region (heatmap)", "heatmap",
            ch.heatmap(m.category, m.region, m.line_revenue),
            describe_top(m.category, m.line_revenue))
    if m.region and m.store:
        stores = [
            ("scatter", "Stores: orders against average order value", "scatter",
             ch.scatter(m.orders, m.aov or m.revenue, m.store, m.region)),
            ("histogram", "Distribution of store revenue (histogram)", "histogram",
             ch.histogram(m.revenue)),
            ("box", "Store revenue by region (box plot)", "box", ch.box(m.region, m.revenue)),
            ("treemap", "Revenue by store, grouped by region (treemap)", "treemap",
             ch.treemap(m.region, m.store, m.revenue)),
        ]
        for key, title, kind, render in stores:
            charts[key] = ch.LiveChart("stores", title, kind, render,
                                       describe_top(m.store, m.revenue))
    charts["explore"] = ch.LiveChart("explore", "Explore: pick a metric with the search box",
                                     "line", explore_render, lambda df: "",
                                     marks_render=explore_marks)
    return charts


def drill_table() -> pn.widgets.Tabulator:
    return theme.styled(pn.widgets.Tabulator(
        pd.DataFrame(), name="Drill-down table", disabled=True, pagination="local",
        page_size=10, sizing_mode="stretch_width", height=320, show_index=False,
        selectable=1))


class Cards:
    """Wraps panels in titled cards; with ``defer`` a chart's card first holds a line of text
    and gets its chart later (``attach_next``), so the page is sent without drawing them."""

    def __init__(self, defer: bool = False):
        self.defer = defer
        self.pending: list[tuple[pn.Column, pn.viewable.Viewable]] = []

    def card(self, title: str, body, summary=None) -> pn.Column:
        if self.defer:
            slot = pn.Column(pn.pane.HTML("<p style='margin:0'>Drawing the chart…</p>",
                                          sizing_mode="stretch_width"),
                             sizing_mode="stretch_width", min_height=120)
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
