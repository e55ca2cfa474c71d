"""The dashboard's controls and what they do: time range, drill path (region → store →
category, by the selects, a bar click or a table row), metric search, exports.

A mixin of ``Dashboard`` (dashboard.view): the handlers change the drill path or the time
window and call ``self.refresh()``; ``sync_drill_controls`` puts a snapshot's drill state back
into the selects and the breadcrumb.
"""

from __future__ import annotations

import datetime as dt
import html
import io
from typing import Any

import panel as pn

from workbench.ui import theme
from workbench.ui.dashboard.data import DEFAULT_PRESET, TIME_PRESETS, Drill, Snapshot
from workbench.ui.dashboard.members import Members

CUSTOM = "Custom range"


class DashboardControls:
    # Set by the class this is mixed into (dashboard.view.Dashboard), declared for the type checker.
    client: Any
    m: Members
    drill: Drill
    drill_chart: Any  # charts of panels.build_charts
    explore: Any
    table: pn.widgets.Tabulator
    _explore: str | None

    def refresh(self) -> None:
        """Fetch and show what the controls now select (Dashboard's)."""
        raise NotImplementedError

    # --- building ----------------------------------------------------------------------------
    def _build_controls(self) -> None:
        self.preset = theme.styled(
            pn.widgets.Select(
                name="Time range",
                options=list(TIME_PRESETS) + [CUSTOM],
                value=DEFAULT_PRESET,
                width=200,
            )
        )
        now = dt.datetime.now().replace(second=0, microsecond=0)
        self.custom = theme.styled(
            pn.widgets.DatetimeRangeInput(
                name="Custom range (from, to)",
                start=now - dt.timedelta(days=3650),
                end=now + dt.timedelta(days=1),
                value=(now - dt.timedelta(hours=1), now),
                visible=False,
                width=360,
            )
        )
        # one picker per drill level but the last (which is shown, not drilled into)
        self.level_selects = [
            theme.styled(
                pn.widgets.Select(name=lv.label, options=[lv.all], width=200 if i == 0 else 240)
            )
            for i, lv in enumerate(self.m.levels[:-1])
        ]
        self.up = theme.styled(
            pn.widgets.Button(name="Drill up", button_type="default", disabled=True, align="end")
        )
        self.crumbs = pn.pane.HTML("", sizing_mode="stretch_width")
        self.search = theme.styled(
            pn.widgets.TextInput(
                name="Find a metric or dimension",
                placeholder="name or synonym, e.g. sales",
                width=260,
            )
        )
        self.results = theme.styled(
            pn.widgets.Select(name="Matches", options={}, size=5, width=320)
        )
        self.chart_it = theme.styled(
            pn.widgets.Button(name="Chart this metric", button_type="default", disabled=True)
        )
        self.status = pn.pane.HTML("", sizing_mode="stretch_width")
        self.kpis = pn.pane.HTML("", sizing_mode="stretch_width")
        self.preset.param.watch(self._on_time, "value")
        self.custom.param.watch(self._on_time, "value")
        for i, select in enumerate(self.level_selects):
            select.param.watch(lambda event, i=i: self._on_level(i, event), "value")
        self.up.on_click(self._on_up)
        self.search.param.watch(self._on_search, "value_input")
        self.results.param.watch(self._on_result, "value")
        self.chart_it.on_click(self._on_chart_it)
        self.downloads = self._build_downloads()

    def _build_downloads(self) -> pn.FlexBox:
        from workbench.ui.dashboard import export as ex

        def make(label, ext, fn):
            def cb():
                return io.BytesIO(fn(self.snapshot or Snapshot()))

            return theme.styled(
                pn.widgets.FileDownload(
                    callback=cb,
                    filename=f"workbench-dashboard.{ext}",
                    label=label,
                    button_type="default",
                    embed=False,
                    width=150,
                )
            )

        self.export_buttons = {
            "csv": make("Export CSV", "csv", ex.to_csv),
            "xlsx": make("Export Excel", "xlsx", lambda s: ex.to_excel(s, self.m)),
            "png": make("Export PNG", "png", lambda s: ex.to_image(s, self.m, "png")),
            "pdf": make("Export PDF", "pdf", lambda s: ex.to_image(s, self.m, "pdf")),
        }
        return pn.FlexBox(*self.export_buttons.values(), gap="6px")

    # --- time and drill ----------------------------------------------------------------------
    def _on_time(self, event=None) -> None:
        self.custom.visible = self.preset.value == CUSTOM
        self.refresh()

    def _on_level(self, i: int, event) -> None:
        """The picker of drill level ``i`` changed: the path up to it, then the new value."""
        picks = self.drill.picks
        if i > len(picks):
            return  # its outer level is not picked (the picker is disabled then)
        value = None if event.new in (None, self.m.levels[i].all) else event.new
        if value != (picks[i] if i < len(picks) else None):
            self.drill = Drill(picks[:i] + ((value,) if value else ()))
            self.refresh()

    def _on_up(self, event=None) -> None:
        self.drill = Drill(self.drill.picks[:-1])
        self.refresh()

    def drill_into(self, value: str) -> None:
        """Drill one level down into ``value`` of the current level (bar click, table row)."""
        if value is None or not self.drill.can_go_down(self.m):
            return
        self.drill = Drill((*self.drill.picks, str(value)))
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

    def sync_drill_controls(self, snap: Snapshot) -> None:
        picks, levels = self.drill.picks, self.m.levels
        dims = [lv.dimension for lv in levels[: len(self.level_selects)]]
        # the values a picker offers: from the spec query that has the most of the pickers'
        # dimensions (the level's own and the outer ones), else from the drill level's table
        frames = [snap.frames[k] for k in self.m.queries if snap.frames.get(k) is not None]
        frames.sort(key=lambda df: -sum(d in df.columns for d in dims))
        for i, select in enumerate(self.level_selects):
            lv = levels[i]
            source = next((df for df in frames if lv.dimension in df.columns), None)
            if source is None and i == 0:
                source = snap.frames.get("drill")
            if source is not None and lv.dimension in source.columns:
                names = sorted(source[lv.dimension].dropna().astype(str).unique())
                # the outermost picker offers everything while nothing is picked; an inner
                # one what its outer picks leave (nothing to offer: only "all")
                if (i == 0 and not picks) or (i > 0 and (len(picks) >= i or not names)):
                    select.options = [lv.all, *names]
            if i < len(picks) and picks[i] not in select.options:
                select.options = list(select.options) + [picks[i]]
            select.value = picks[i] if i < len(picks) else lv.all
            select.disabled = i > len(picks)
        self.up.disabled = not picks
        top = levels[0].all if levels else "All"
        crumbs = " › ".join(html.escape(c) for c in snap.drill.crumbs(top))
        self.crumbs.object = (
            f"<nav aria-label='Drill path'><p style='margin:0'>Showing: "
            f"<strong>{crumbs}</strong></p></nav>"
        )

    # --- metric search -----------------------------------------------------------------------
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
