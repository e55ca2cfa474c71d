"""The live KPI dashboard as one Panel component: controls, KPI cards, eleven charts on a
board the person rearranges, the freshness line, the exports.

Every number comes from a semantic query (``dashboard.data.build_queries``) answered by the
client (the Jupyter server's query API, or in-process in tests).  The page checks twice a
second whether anything it shows can have changed (the data version, the time window, the
drill path: dashboard.state) and only then fetches; otherwise it only updates the data's age.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from typing import TYPE_CHECKING, Any

import pandas as pd
import panel as pn

from workbench.ui import theme
from workbench.ui.dashboard import charts as ch
from workbench.ui.dashboard import markers as mk
from workbench.ui.dashboard.board import PanelBoard
from workbench.ui.dashboard.client import ApiError, Unreachable
from workbench.ui.dashboard.controls import CUSTOM, DashboardControls
from workbench.ui.dashboard.data import DashboardData, Drill, Snapshot, kpi_values, window_for
from workbench.ui.dashboard.incidents import IncidentFeed, roles_of
from workbench.ui.dashboard.incidents_panel import IncidentsPanel
from workbench.ui.dashboard.layout import LayoutEditor
from workbench.ui.dashboard.members import Members, discover_members
from workbench.ui.dashboard.panels import Cards, build_charts, drill_table
from workbench.ui.dashboard.state import SNAPSHOTS, VERSIONS, ViewKey, data_version
from workbench.ui.dashboard.text import describe_top, freshness_line, kpi_cards

if TYPE_CHECKING:
    from bokeh.document import Document
    from panel.io.callbacks import PeriodicCallback

# Twice a second: a commit shows within ~0.5 s + one fetch, well inside the 2 s promise, and
# an idle check costs at most one small probe query per process (VersionWatch), not a fetch.
REFRESH_MS = 500
_log = logging.getLogger("workbench.dashboard")


class Dashboard(DashboardControls):
    def __init__(
        self,
        client,
        members: Members | None = None,
        user: str | None = None,
        layouts_folder=None,
        refresh_ms: int = REFRESH_MS,
        defer_charts: bool = False,
        incidents_db=None,
    ):
        theme.configure()
        # Drawing the Bokeh charts is most of a page's server-side cost; deferred, the page
        # (KPIs, controls, freshness) is sent first and each chart is swapped into its card
        # after the browser has loaded, one per server tick.
        self.cards = Cards(defer=defer_charts)
        self._doc: Document | None = None
        self.client = client
        self.user = user
        # Snapshots are shared between pages of the same person only (row/column policies
        # differ per person); without a name from the server nothing is shared.
        self._shared = bool(user)
        self.m = members or discover_members(client)
        self.data = DashboardData(client, self.m)
        self.drill = Drill()
        self.snapshot: Snapshot | None = None
        self._busy = False
        self._explore: str | None = None
        self._shown: tuple | None = None  # (ViewKey, data version) on screen
        self.fetches = 0  # full fetches this page ran (not shared hits)
        self._fetched_at = 0.0
        self.refresh_ms = refresh_ms
        self._live = self.m.live
        self._anchor = None if self._live else self.data.anchor(False)
        # Anomalies and incidents: read from the detection jobs' store (dashboard.incidents)
        self.incident_feed = IncidentFeed(incidents_db)
        self.anomalies = mk.empty_anomalies()
        self._anomalies_window: tuple | None = None
        self.incidents = IncidentsPanel(
            self.incident_feed, roles_of(client), actor=user or _principal(client), client=client
        )

        self._build_controls()
        self._build_panels()
        self.layout_editor = LayoutEditor(
            {k: v[0] for k, v in self.panels.items()},
            self._arrange,
            user=user,
            folder=layouts_folder,
        )
        self.board = PanelBoard(on_order=self.layout_editor.set_order, sizing_mode="stretch_width")
        self._arrange(self.layout_editor.order, self.layout_editor.hidden)
        self.view = self._page()
        self.refresh()
        self._callback: PeriodicCallback | None = None

    # --- panels ----------------------------------------------------------------------------
    def _build_panels(self) -> None:
        self.charts: dict[str, Any] = build_charts(
            self.m,
            self._drill_render,
            self._drill_describe,
            self._explore_render,
            self._explore_marks,
        )
        self.drill_chart = self.charts["drill"]
        self.explore = self.charts["explore"]
        self.tap = ch.tap_stream(self.drill_chart)
        self.tap.param.watch(self._on_tap, "index")
        self.table = drill_table()
        self.table.param.watch(self._on_table_select, "selection")
        self.panels: dict[str, tuple[str, pn.viewable.Viewable]] = {"kpis": ("KPIs", self.kpis)}
        for key, c in self.charts.items():
            summary = (
                c.summary
                if getattr(c, "marks_render", None) is None
                else pn.Column(
                    c.summary,
                    pn.pane.HTML(
                        f"<p style='margin:0;font-size:0.85em;color:#4d4d4d'>"
                        f"{mk.legend_html()}</p>",
                        sizing_mode="stretch_width",
                    ),
                    sizing_mode="stretch_width",
                )
            )
            self.panels[key] = (c.title, self.cards.card(c.title, c.pane, summary))
        # deferred like the charts: a table in the page's first layout widens it on a phone
        self.panels["incidents"] = ("Incidents", self.cards.card("Incidents", self.incidents.view))
        self.panels["table"] = (
            "Drill-down table",
            self.cards.card(
                "Table of the current drill level (select a row to drill down)", self.table
            ),
        )

    def _arrange(self, order: list[str], hidden: list[str]) -> None:
        self.board.set_panels(
            [
                (k, self.panels[k][0], self.panels[k][1])
                for k in order
                if k not in hidden and k in self.panels
            ]
        )

    def _page(self) -> pn.Column:
        controls = pn.FlexBox(
            self.preset,
            self.custom,
            *self.level_selects,
            self.up,
            gap="10px",
            align_items="flex-end",
        )
        finder = pn.Column(
            pn.FlexBox(
                self.search, self.results, self.chart_it, gap="10px", align_items="flex-end"
            ),
            sizing_mode="stretch_width",
        )
        tools: pn.viewable.Viewable = pn.Accordion(
            ("Arrange and save the layout", self.layout_editor.view),
            ("Export what is on screen", self.downloads),
            ("Find a metric", finder),
            sizing_mode="stretch_width",
            active=[1],
        )
        if self.cards.defer:  # a third of the page's build: sent right after it, before charts
            slot = pn.Column(sizing_mode="stretch_width", min_height=40)
            self.cards.pending.insert(0, (slot, tools))
            tools = slot
        return theme.page(
            self.m.title,
            pn.Column(
                self.status, controls, self.crumbs, tools, self.board, sizing_mode="stretch_width"
            ),
            intro="Every number is a governed metric, queried through the Workbench server. "
            "Drag a panel by its Move handle (or focus it and use the arrow keys) to "
            "rearrange the page.",
        )

    # --- renders that depend on the drill level --------------------------------------------
    def _drill_render(self, df):
        level, metric = self.drill.level(self.m)
        return ch.bars(level or "x", metric)(
            df if level and level in df.columns else pd.DataFrame()
        )

    def _drill_describe(self, df):
        level, metric = self.drill.level(self.m)
        return describe_top(level, metric)(df)

    def _explore_render(self, df):
        metric = self._explore or self.m.metric
        if df.empty or metric not in df.columns:
            df = pd.DataFrame({self.m.time: pd.to_datetime([]), metric: []})
        return ch.line(self.m.time, metric)(df).relabel(metric)

    def _explore_marks(self, df, anoms):
        return mk.markers(self.m.time, self._explore or self.m.metric)(df, anoms)

    # --- refresh ---------------------------------------------------------------------------
    def _window(self):
        anchor = dt.datetime.now() if self._live or self._anchor is None else self._anchor
        custom = self.custom.value if self.preset.value == CUSTOM else None
        return window_for(self.preset.value, anchor, custom)

    def _extra(self, w) -> dict:
        if not self._explore:
            return {}
        return {
            "explore": {
                "namespace": self.m.namespace,
                "metrics": [self._explore],
                "dimensions": [self.m.time],
                "grain": w.grain,
                "time_range": w.text(),
                "where": self.drill.where(self.m),
                "order": [self.m.time],
            }
        }

    def fetch(self) -> Snapshot:
        """Run every panel's query now (no version check, no sharing)."""
        w = self._window()
        self.fetches += 1
        return self.data.fetch(w, self.drill, extra=self._extra(w))

    def step(self, force: bool = False, early=None) -> tuple[Snapshot | None, dict]:
        """Blocking.  (A snapshot to show, or None when the screen is current; the newest
        freshness.)  Fetches only when the view key or the data version changed, and takes a
        snapshot another page of the same person already fetched when there is one.
        ``early(snapshot)`` gets the KPI figures as soon as they are in, before the charts'."""
        w = self._window()
        key = ViewKey.of(self.user, self.m, w, self.drill, self._explore)
        fresh = VERSIONS.freshness(self.client, self.m)
        version = data_version(fresh)
        # after a failure: retry on the server's return, or every few seconds for one panel
        failing = bool(fresh.get("error")) or bool(
            self.snapshot and self.snapshot.errors and time.monotonic() - self._fetched_at > 5
        )
        if not force and not failing and self._shown == (key, version):
            return None, fresh
        snap = SNAPSHOTS.get(key, version) if self._shared else None
        if snap is None:
            self.fetches += 1
            self._fetched_at = time.monotonic()
            kpis = None
            if early is not None:
                kpis = self.data.fetch(w, self.drill, only=("kpi", "kpi_previous"))
                if not kpis.errors:
                    early(kpis)
                else:
                    kpis = None
            snap = self.data.fetch(w, self.drill, extra=self._extra(w), given=kpis)
            if not snap.errors:
                VERSIONS.note(self.m.namespace, snap.freshness)
                if self._shared:
                    SNAPSHOTS.put(key, version, snap)
        self._shown = (key, version)
        return snap, fresh

    def refresh(self) -> None:
        """Show the current state now (blocking; on start, on control changes, in tests)."""
        snap, _ = self.step(force=True)
        if snap is None:  # not reached: a forced step always fetches or takes a snapshot
            return
        self.show_incidents(self.poll_incidents(snap.window, force=True))
        self.apply(snap)

    async def tick(self) -> None:
        """The periodic callback: check (and fetch) off the event loop, then update."""
        if self._busy or _page_closed(self._doc):
            return
        self._busy = True
        try:
            loop = asyncio.get_running_loop()
            doc = pn.state.curdoc

            def early(kpis: Snapshot) -> None:  # from the worker thread: back to the loop
                if doc is not None:
                    doc.add_next_tick_callback(lambda: self._show_kpis(kpis))

            snap, fresh = await loop.run_in_executor(None, self.step, False, early)
            window = (snap or self.snapshot or Snapshot()).window or self._window()
            news = await loop.run_in_executor(None, self.poll_incidents, window)
            self.show_incidents(news)
            if snap is not None:
                self.apply(snap)
            elif "anomalies" in news and self.snapshot is not None:
                self.mark_anomalies(self.snapshot)
            elif self.snapshot is not None:  # same data: only its age moved on
                self.status.object = freshness_line(self.snapshot, fresh)
        finally:
            self._busy = False

    def start(self) -> Dashboard:
        self._doc = pn.state.curdoc
        if self._callback is None:
            # Panel runs coroutine functions as callbacks too; its annotation lists plain ones only.
            self._callback = pn.state.add_periodic_callback(self.tick, period=self.refresh_ms)  # type: ignore[arg-type]
        if self.cards.pending:
            if self._doc is None:
                self.attach_charts()
            else:
                self._doc.add_next_tick_callback(self._attach_next)
        return self

    def attach_charts(self) -> None:
        """Put every deferred chart into its card now."""
        self.cards.attach_all()

    def _attach_next(self) -> None:
        if _page_closed(self._doc):
            self.cards.pending.clear()  # nobody will see them
            return
        if self.cards.attach_next() and self._doc is not None:
            self._doc.add_next_tick_callback(self._attach_next)

    def _show_kpis(self, snap: Snapshot) -> None:
        self.kpis.object = kpi_cards(kpi_values(snap, self.m))
        self.status.object = freshness_line(snap)

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
                    _log.warning(
                        "dashboard chart %s (%s) failed to update: %s", c.title, c.kind, exc
                    )
        level, metric = snap.drill.level(self.m)
        self.drill_chart.title = f"{metric} by {level} (click a bar to drill down)"
        self.table.value = snap.frames.get("drill", pd.DataFrame())
        self.sync_drill_controls(snap)
        self.mark_anomalies(snap)

    # --- anomalies and incidents -----------------------------------------------------------
    def poll_incidents(self, window, force: bool = False) -> dict:
        """Blocking, any thread.  Reads the store only when it changed (a file stat, checked
        every few seconds) or the time window moved: {"anomalies": ..., "panel": ...}."""
        out: dict = {}
        try:
            changed = self.incident_feed.changed(force)
            key = (window.start, window.end) if window is not None else None
            if changed or force:
                out["panel"] = self.incidents.load()
            if (changed or force or key != self._anomalies_window) and key is not None:
                out["anomalies"] = (key, self.incident_feed.anomalies(self.m.namespace, *key))
        except Exception as exc:  # noqa: BLE001  the store is a side panel, not the page
            _log.warning("dashboard: reading incidents failed: %s", exc)
            out["error"] = str(exc)
        return out

    def show_incidents(self, news: dict) -> None:
        if "anomalies" in news:
            self._anomalies_window, self.anomalies = news["anomalies"]
        if "panel" in news:
            self.incidents.show(news["panel"])
        if "error" in news:
            self.incidents._say(f"Couldn't read the incidents: {news['error']}")

    def mark_anomalies(self, snap: Snapshot) -> None:
        """Each time series gets the anomalies of its metric, slice and time window."""
        w, m = snap.window, self.m
        if w is None:
            return
        where = snap.drill.slice(m)
        series = [(p.key, p.y, p.by) for p in m.chart_panels() if p.markers]
        for key, metric, by in [*series, ("explore", self._explore or m.metric, None)]:
            c = self.charts.get(key)
            if c is not None and getattr(c, "marks_render", None) is not None:
                c.show_anomalies(
                    mk.for_chart(
                        self.anomalies, [metric] if metric else [], where, w.start, w.end, by
                    )
                )

    def servable(self, title: str = "Live KPI dashboard"):
        return self.view.servable(title=title)


def _principal(client) -> str | None:
    principal = getattr(getattr(client, "wb", None), "principal", None)
    return getattr(principal, "user", None)


def _page_closed(doc) -> bool:
    """The browser has gone (Bokeh keeps a session ~15 s after its last connection closed):
    its ticks and chart drawing would only take time from the pages still open."""
    session = getattr(getattr(doc, "session_context", None), "_session", None)
    return session is not None and (session.destroyed or session.connection_count == 0)


__all__ = [
    "Dashboard",
    "discover_members",
    "kpi_cards",
    "freshness_line",
    "ApiError",
    "Unreachable",
]
