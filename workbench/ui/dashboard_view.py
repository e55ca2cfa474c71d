"""The live KPI dashboard as one Panel component: controls, KPI cards, eleven charts, the
freshness line, the layout editor and the exports, refreshed once a second.

Every number comes from a semantic query (``dashboard_data.build_queries``) answered by the
client (the Jupyter server's query API, or in-process in tests).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import logging
import os
from typing import Any

import pandas as pd
import panel as pn

from workbench.ui import theme
from workbench.ui import dashboard_charts as ch
from workbench.ui.dashboard_client import ApiError, Unreachable
from workbench.ui.dashboard_data import (DEFAULT_PRESET, TIME_PRESETS, DashboardData, Drill,
                                         Members, Snapshot, kpi_values, window_for)
from workbench.ui.dashboard_layout import LayoutEditor

REFRESH_MS = 1000
_log = logging.getLogger("workbench.dashboard")
CUSTOM = "Custom range"


def discover_members(client, namespace: str | None = None) -> Members:
    """Pick the namespace (``live`` when the server has it) and keep the members it has."""
    cat = client.catalog()
    spaces = cat.get("namespaces") or []
    ns = namespace or os.environ.get("WORKBENCH_DASHBOARD_NAMESPACE") or None
    if ns is None:
        ns = "retail"
        if "live" in spaces:
            try:  # the live namespace exists once the pipeline has created its gold views
                client.query({"namespace": "live", "metrics": ["orders"], "limit": 1})
                ns = "live"
            except Exception:  # noqa: BLE001
                pass
    entries = client.catalog(namespace=ns).get("entries", [])
    names = {e["name"] for e in entries}
    m = Members(namespace=ns).restrict_to(names)
    if m.time not in names:
        times = [e["name"] for e in entries if e["kind"] == "dimension" and e.get("type") == "time"]
        if times:
            m.time = times[0]
    if m.region and m.category and m.line_revenue:
        try:  # a panel that can never answer would only fail once a second
            client.query({"namespace": ns, "metrics": [m.line_revenue],
                          "dimensions": [m.region, m.category], "limit": 1})
        except Exception:  # noqa: BLE001
            m.region_by_category = False
    return m


class Dashboard:
    def __init__(self, client, members: Members | None = None, user: str | None = None,
                 layouts_folder=None, refresh_ms: int = REFRESH_MS, defer_charts: bool = False):
        theme.configure()
        # Drawing the ten Bokeh charts is most of a page's server-side cost; deferred, the
        # page (KPIs, controls, freshness) is sent first and each chart is swapped into its
        # card after the browser has loaded, one per tick so the 1 s refresh keeps running.
        self._defer_charts = defer_charts
        self._deferred: list[tuple[pn.Column, pn.viewable.Viewable]] = []
        self._doc = None
        self.client = client
        self.m = members or discover_members(client)
        self.data = DashboardData(client, self.m)
        self.drill = Drill()
        self.snapshot: Snapshot | None = None
        self._busy = False
        self._explore: str | None = None
        self.refresh_ms = refresh_ms
        self._live = self.m.namespace == "live"
        self._anchor = None if self._live else self.data.anchor(False)

        self._build_controls()
        self._build_panels()
        self.layout_editor = LayoutEditor({k: v[0] for k, v in self.panels.items()},
                                          self._arrange, user=user, folder=layouts_folder)
        self.grid = pn.FlexBox(flex_wrap="wrap", gap="12px", sizing_mode="stretch_width")
        self._arrange(self.layout_editor.order, self.layout_editor.hidden)
        self.view = self._page()
        self.refresh()
        self._callback = None

    # --- controls --------------------------------------------------------------------------
    def _build_controls(self) -> None:
        self.preset = theme.styled(pn.widgets.Select(
            name="Time range", options=list(TIME_PRESETS) + [CUSTOM], value=DEFAULT_PRESET,
            width=200))
        now = dt.datetime.now().replace(second=0, microsecond=0)
        self.custom = theme.styled(pn.widgets.DatetimeRangeInput(
            name="Custom range (from, to)", start=now - dt.timedelta(days=3650), end=now +
            dt.timedelta(days=1), value=(now - dt.timedelta(hours=1), now), visible=False,
            width=360))
        self.region = theme.styled(pn.widgets.Select(name="Region", options=["All regions"],
                                                     width=200, visible=bool(self.m.region)))
        self.store = theme.styled(pn.widgets.Select(name="Store", options=["All stores"],
                                                    width=240, visible=bool(self.m.store)))
        self.up = theme.styled(pn.widgets.Button(name="Drill up", button_type="default",
                                                 disabled=True, align="end"))
        self.crumbs = pn.pane.HTML("", sizing_mode="stretch_width")
        self.search = theme.styled(pn.widgets.TextInput(
            name="Find a metric or dimension", placeholder="name or synonym, e.g. sales",
            width=260))
        self.results = theme.styled(pn.widgets.Select(name="Matches", options={}, size=5,
                                                      width=320))
        self.chart_it = theme.styled(pn.widgets.Button(name="Chart this metric",
                                                       button_type="default", disabled=True))
        self.status = pn.pane.HTML("", sizing_mode="stretch_width")
        self.kpis = pn.pane.HTML("", sizing_mode="stretch_width")
        self.preset.param.watch(self._on_time, "value")
        self.custom.param.watch(self._on_time, "value")
        self.region.param.watch(self._on_region, "value")
        self.store.param.watch(self._on_store, "value")
        self.up.on_click(self._on_up)
        self.search.param.watch(self._on_search, "value_input")
        self.results.param.watch(self._on_result, "value")
        self.chart_it.on_click(self._on_chart_it)
        self.downloads = self._build_downloads()

    def _build_downloads(self) -> pn.FlexBox:
        from workbench.ui import dashboard_export as ex

        def make(label, ext, fn):
            def cb():
                snap = self.snapshot or Snapshot()
                return __import__("io").BytesIO(fn(snap))
            return theme.styled(pn.widgets.FileDownload(
                callback=cb, filename=f"workbench-dashboard.{ext}", label=label,
                button_type="default", embed=False, width=150))

        self.export_buttons = {
            "csv": make("Export CSV", "csv", ex.to_csv),
            "xlsx": make("Export Excel", "xlsx", lambda s: ex.to_excel(s, self.m)),
            "png": make("Export PNG", "png", lambda s: ex.to_image(s, self.m, "png")),
            "pdf": make("Export PDF", "pdf", lambda s: ex.to_image(s, self.m, "pdf")),
        }
        return pn.FlexBox(*self.export_buttons.values(), gap="6px")

    # --- panels ----------------------------------------------------------------------------
    def _build_panels(self) -> None:
        m = self.m
        level, metric = self.drill.level(m)
        self.charts: dict[str, Any] = {}
        self.trend = ch.LiveChart("trend", f"Revenue over time", "line",
                                  ch.line(m.time, m.revenue), _describe_series(m.time, m.revenue))
        self.charts["trend"] = self.trend
        self.drill_chart = ch.LiveChart("drill", "Revenue by region (click a bar to drill down)",
                                        "bar", self._drill_render, self._drill_describe)
        self.charts["drill"] = self.drill_chart
        self.tap = ch.tap_stream(self.drill_chart)
        self.tap.param.watch(self._on_tap, "index")
        if m.channel:
            self.charts["channel_trend"] = ch.LiveChart(
                "channel_trend", "Orders over time by channel (stacked area)", "area",
                ch.stacked_area(m.time, m.channel, m.orders), _describe_series(m.time, m.orders))
            self.charts["channel"] = ch.DonutChart("channel", "Revenue share by channel",
                                                   m.channel, m.revenue)
            if m.region:
                self.charts["region_channel"] = ch.LiveChart(
                    "region_channel", "Revenue by region and channel (stacked bars)",
                    "stacked bar", ch.stacked_bars(m.region, m.channel, m.revenue),
                    _describe_top(m.region, m.revenue))
        if m.region and m.category and m.line_revenue and m.region_by_category:
            self.charts["region_category"] = ch.LiveChart(
                "region_category", "Line revenue by category and region (heatmap)", "heatmap",
                ch.heatmap(m.category, m.region, m.line_revenue),
                _describe_top(m.category, m.line_revenue))
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
                c = ch.LiveChart("stores", title, kind, render, _describe_top(m.store, m.revenue))
                self.charts[key] = c
        self.explore = ch.LiveChart("explore", "Explore: pick a metric with the search box",
                                    "line", self._explore_render,
                                    lambda df: "")
        self.charts["explore"] = self.explore
        self.table = theme.styled(pn.widgets.Tabulator(
            pd.DataFrame(), name="Drill-down table", disabled=True, pagination="local",
            page_size=10, sizing_mode="stretch_width", height=320, show_index=False,
            selectable=1))
        self.table.param.watch(self._on_table_select, "selection")

        self.panels: dict[str, tuple[str, pn.viewable.Viewable]] = {
            "kpis": ("KPIs", self.kpis)}
        for key, c in self.charts.items():
            self.panels[key] = (c.title, self._card(c.title, c.pane, c.summary))
        self.panels["table"] = ("Drill-down table", self._card(
            "Table of the current drill level (select a row to drill down)", self.table, None))

    def _card(self, title, body, summary) -> pn.Column:
        if self._defer_charts:
            slot = pn.Column(pn.pane.HTML("<p style='margin:0'>Drawing the chart…</p>",
                                          sizing_mode="stretch_width"),
                             sizing_mode="stretch_width", min_height=120)
            self._deferred.append((slot, body))
            body = slot
        parts = [theme.heading(title, 3), body] + ([summary] if summary is not None else [])
        return pn.Column(*parts, sizing_mode="stretch_width",
                         styles={"flex": "1 1 420px", "min-width": "min(100%, 300px)",
                                 "border": "1px solid #d0d0d0", "border-radius": "6px",
                                 "padding": "4px 8px", "background": "#fff"})

    def _arrange(self, order: list[str], hidden: list[str]) -> None:
        items = []
        for key in order:
            if key in hidden or key not in self.panels:
                continue
            view = self.panels[key][1]
            if key == "kpis":
                view = pn.Column(view, sizing_mode="stretch_width", styles={"flex": "1 1 100%"})
            items.append(view)
        self.grid.objects = items

    def _page(self) -> pn.Column:
        controls = pn.FlexBox(self.preset, self.custom, self.region, self.store, self.up,
                              gap="10px", align_items="flex-end")
        finder = pn.Column(pn.FlexBox(self.search, self.results, self.chart_it, gap="10px",
                                      align_items="flex-end"), sizing_mode="stretch_width")
        tools = pn.Accordion(("Arrange and save the layout", self.layout_editor.view),
                             ("Export what is on screen", self.downloads),
                             ("Find a metric", finder), sizing_mode="stretch_width",
                             active=[1])
        return theme.page("Live KPI dashboard", pn.Column(
            self.status, controls, self.crumbs, tools, self.grid, sizing_mode="stretch_width"),
            intro="Every number is a governed metric, queried through the Workbench server.")

    # --- renders that depend on the drill level --------------------------------------------
    def _drill_render(self, df):
        level, metric = self.drill.level(self.m)
        return ch.bars(level or "x", metric)(df if level and level in df.columns else
                                             pd.DataFrame())

    def _drill_describe(self, df):
        level, metric = self.drill.level(self.m)
        return _describe_top(level, metric)(df)

    def _explore_render(self, df):
        metric = self._explore or self.m.revenue
        if df.empty or metric not in df.columns:
            df = pd.DataFrame({self.m.time: pd.to_datetime([]), metric: []})
        return ch.line(self.m.time, metric)(df).relabel(metric)

    # --- events ----------------------------------------------------------------------------
    def _on_time(self, event=None) -> None:
        self.custom.visible = self.preset.value == CUSTOM
        self.refresh()

    def _on_region(self, event) -> None:
        value = None if event.new in (None, "All regions") else event.new
        if value != self.drill.region:
            self.drill = Drill(region=value)
            self.refresh()

    def _on_store(self, event) -> None:
        value = None if event.new in (None, "All stores") else event.new
        if value != self.drill.store:
            self.drill = Drill(region=self.drill.region, store=value)
            self.refresh()

    def _on_up(self, event=None) -> None:
        if self.drill.store:
            self.drill = Drill(region=self.drill.region)
        else:
            self.drill = Drill()
        self.refresh()

    def drill_into(self, value: str) -> None:
        """Drill one level down into ``value`` of the current level (bar click, table row)."""
        if self.drill.store or value is None:
            return
        if self.drill.region and not self.m.store:
            return  # region → channel is the last level where there are no stores
        if self.drill.region:
            self.drill = Drill(region=self.drill.region, store=str(value))
        else:
            self.drill = Drill(region=str(value))
        self.refresh()

    def _on_tap(self, event) -> None:
        idx = event.new or []
        df = self.drill_chart.data
        level, _ = self.drill.level(self.m)
        if idx and level in df.columns and idx[0] < len(df):
            self.drill_into(df[level].iloc[idx[0]])

    def _on_table_select(self, event) -> None:
        df = self.table.value
        level, _ = self.drill.level(self.m)
        if event.new and level in df.columns and event.new[0] < len(df):
            self.drill_into(df[level].iloc[event.new[0]])

    def _on_search(self, event) -> None:
        text = (event.new or "").strip()
        if len(text) < 2:
            self.results.options = {}
            return
        try:
            hits = self.client.catalog(text, namespace=self.m.namespace, limit=12)["entries"]
        except Exception as exc:  # noqa: BLE001
            self.results.options = {f"Search failed: {exc}": ""}
            return
        opts = {}
        for e in hits:
            if e["kind"] == "model":
                continue
            syn = f" (also: {', '.join(e['synonyms'][:3])})" if e.get("synonyms") else ""
            opts[f"{e['label']} - {e['kind']} {e['name']}{syn}"] = f"{e['kind']}:{e['name']}"
        self.results.options = opts or {"No match": ""}

    def _on_result(self, event) -> None:
        v = event.new or ""
        self.chart_it.disabled = not v.startswith(("metric:", "measure:"))

    def _on_chart_it(self, event=None) -> None:
        v = self.results.value or ""
        if ":" in v:
            self._explore = v.split(":", 1)[1]
            self.explore.title = f"Explore: {self._explore} over time"
            self.refresh()

    # --- refresh ---------------------------------------------------------------------------
    def _window(self):
        anchor = dt.datetime.now() if self._live or self._anchor is None else self._anchor
        custom = self.custom.value if self.preset.value == CUSTOM else None
        return window_for(self.preset.value, anchor, custom)

    def _extra(self, w) -> dict:
        if not self._explore:
            return {}
        return {"explore": {"namespace": self.m.namespace, "metrics": [self._explore],
                            "dimensions": [self.m.time], "grain": w.grain,
                            "time_range": w.text(),
                            "where": self.drill.where(self.m), "order": [self.m.time]}}

    def fetch(self) -> Snapshot:
        w = self._window()
        return self.data.fetch(w, self.drill, extra=self._extra(w))

    def refresh(self) -> None:
        """Fetch and show now (blocking; used on start, on control changes and in tests)."""
        self.apply(self.fetch())

    async def tick(self) -> None:
        """The periodic callback: fetch off the event loop, then update the page."""
        if self._busy:
            return
        self._busy = True
        try:
            snap = await asyncio.get_running_loop().run_in_executor(None, self.fetch)
            self.apply(snap)
        finally:
            self._busy = False

    def start(self) -> "Dashboard":
        if self._callback is None:
            self._callback = pn.state.add_periodic_callback(self.tick, period=self.refresh_ms)
        if self._deferred:
            self._doc = pn.state.curdoc
            if self._doc is None:
                self.attach_charts()
            else:
                pn.state.onload(self._attach_next)
        return self

    def attach_charts(self) -> None:
        """Put every deferred chart into its card now."""
        while self._deferred:
            slot, body = self._deferred.pop(0)
            slot.objects = [body]

    def _attach_next(self) -> None:
        if not self._deferred:
            return
        slot, body = self._deferred.pop(0)
        slot.objects = [body]
        if self._deferred:
            self._doc.add_next_tick_callback(self._attach_next)

    def apply(self, snap: Snapshot) -> None:
        self.snapshot = snap
        # The KPIs and the freshness line first: they are what the page is for, and a chart
        # that fails to redraw must not hold them back.
        self.kpis.object = kpi_cards(kpi_values(snap, self.m))
        self.status.object = freshness_line(snap)
        for c in self.charts.values():
            if c.key in snap.frames or c.key == "drill":
                try:
                    c.update(snap.frames.get(c.key))
                except Exception as exc:  # noqa: BLE001  one chart, not the page
                    _log.warning("dashboard chart %s (%s) failed to update: %s", c.title,
                                 c.kind, exc)
        level, metric = snap.drill.level(self.m)
        self.drill_chart.title = f"{metric} by {level} (click a bar to drill down)"
        self.table.value = snap.frames.get("drill", pd.DataFrame())
        self._sync_drill_controls(snap)

    def _sync_drill_controls(self, snap: Snapshot) -> None:
        stores = snap.frames.get("stores")
        source = stores if stores is not None and self.m.region in stores.columns \
            else snap.frames.get("drill")
        if self.m.region and source is not None and self.m.region in source.columns \
                and not self.drill.region:
            regions = sorted(source[self.m.region].dropna().astype(str).unique())
            self.region.options = ["All regions"] + regions
        if self.m.store and stores is not None and self.m.store in stores.columns:
            names = sorted(stores[self.m.store].dropna().astype(str).unique())
            if self.drill.region or not names:
                self.store.options = ["All stores"] + names
        self.region.value = self.drill.region or "All regions"
        if self.drill.store and self.drill.store not in self.store.options:
            self.store.options = list(self.store.options) + [self.drill.store]
        self.store.value = self.drill.store or "All stores"
        self.store.disabled = not self.drill.region
        self.up.disabled = not self.drill.region
        crumbs = " › ".join(html.escape(c) for c in snap.drill.crumbs())
        self.crumbs.object = f"<nav aria-label='Drill path'><p style='margin:0'>Showing: " \
                             f"<strong>{crumbs}</strong></p></nav>"

    def servable(self, title: str = "Live KPI dashboard"):
        return self.view.servable(title=title)


# --- text helpers ----------------------------------------------------------------------------

def _fmt(v, fmt: str | None = None, unit: str | None = None) -> str:
    if v is None:
        return "–"
    if fmt == "percent":
        return f"{v:.1%}"
    text = f"{v:,.0f}" if abs(v) >= 1000 or fmt in ("integer", "number") and v == int(v) \
        else f"{v:,.2f}"
    return f"{text} {unit}" if unit and fmt == "currency" else text


def kpi_cards(kpis: list[dict]) -> str:
    cards = []
    for k in kpis:
        d = k["delta_pct"]
        if d is None:
            delta = "<span>no previous period data</span>"
        else:
            arrow, word = ("▲", "up") if d > 0 else ("▼", "down") if d < 0 else ("■", "flat")
            delta = (f"<span><span aria-hidden='true'>{arrow}</span> {word} {abs(d):.1f}% "
                     f"vs previous period</span>")
        cards.append(
            f"<div class='wb-kpi' role='group' aria-label='{html.escape(k['label'])}' "
            f"data-metric='{html.escape(k['name'])}' style='flex:1 1 180px;border:1px solid "
            f"#d0d0d0;border-radius:6px;padding:8px 12px;background:#fff'>"
            f"<div style='font-weight:600'>{html.escape(k['label'])}</div>"
            f"<div class='wb-kpi-value' style='font-size:1.8em;font-weight:700'>"
            f"{html.escape(_fmt(k['value'], k['format'], k['unit']))}</div>"
            f"<div style='color:#4d4d4d;font-size:0.9em'>{delta}</div></div>")
    return ("<section aria-label='Key figures' style='display:flex;flex-wrap:wrap;gap:12px'>"
            + "".join(cards) + "</section>")


def freshness_line(snap: Snapshot) -> str:
    fresh = snap.freshness or {}
    now = dt.datetime.now(dt.timezone.utc)
    parts = []
    last = fresh.get("last_commit")
    if last:
        try:
            t = dt.datetime.fromisoformat(str(last))
            t = t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)
            age = max(0.0, (now - t).total_seconds())
            parts.append(f"Data as of {t.astimezone():%H:%M:%S} ({_age(age)} old)")
        except ValueError:
            parts.append(f"Data as of {last}")
    elif snap.fetched_at:
        parts.append(f"Data fetched at {snap.fetched_at:%H:%M:%S}")
    parts.append("stream running" if fresh.get("streaming") else
                 "stream stopped: showing the last committed data")
    if snap.errors:
        lost = any(isinstance(e, str) and "not reachable" in e for e in snap.errors.values())
        first = next(iter(snap.errors.values()))
        parts.append("server unreachable: showing the last data received" if lost
                     else f"some panels failed: {first}")
    return (f"<p role='status' aria-live='polite' class='wb-freshness' style='margin:0.2em 0'>"
            f"{html.escape(' · '.join(parts))}</p>")


def _age(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


def _describe_series(time: str, metric: str):
    def d(df):
        if metric not in df.columns or df.empty:
            return ""
        s = df.sort_values(time)
        return (f"{metric} from {s[time].iloc[0]} to {s[time].iloc[-1]}: last value "
                f"{_fmt(float(s[metric].iloc[-1]))}, peak {_fmt(float(s[metric].max()))}.")
    return d


def _describe_top(dim: str | None, metric: str):
    def d(df):
        if not dim or dim not in df.columns or metric not in df.columns or df.empty:
            return ""
        top = df.groupby(dim)[metric].sum().sort_values(ascending=False).head(3)
        return f"Top {dim}: " + ", ".join(f"{k} {_fmt(float(v))}" for k, v in top.items()) + "."
    return d


__all__ = ["Dashboard", "discover_members", "kpi_cards", "freshness_line", "ApiError",
           "Unreachable"]
