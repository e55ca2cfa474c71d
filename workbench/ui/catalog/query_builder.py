"""Pick metrics and dimensions, run a governed query, and show its result table, chart and SQL.

Works on any object with ``catalog()`` and ``query(namespace, metrics=..., dimensions=...,
grain=..., where=..., time_range=..., limit=...)`` returning an object with ``.df`` and
``.sql()`` (``workbench.connect()``).  Errors are shown by message, never as a traceback.
"""

from __future__ import annotations

import html
import time

import panel as pn

from workbench.ui import messages
from workbench.ui.catalog.availability import namespace_status
from workbench.ui.catalog.member_names import METRIC_KINDS, Entry, query_names  # noqa: F401  (query_names re-exported)
from workbench.ui.charts import auto_chart, chart_summary
from workbench.ui.sql_view import set_sql, sql_view
from workbench.ui.table import result_table, set_result
from workbench.ui.theme import NO_SPIN_CSS, heading, styled

NO_GRAIN = "none"  # Bokeh selects can't hold None
GRAINS = {
    "No time grain": NO_GRAIN,
    **{g.capitalize(): g for g in ("day", "week", "month", "quarter", "year")},
}
DEFAULT_LIMIT = 500


def option_label(entry: Entry, name: str) -> str:
    label = entry.get("label") or entry["name"]
    return label if label == name else f"{label} ({name})"


class QueryBuilder(pn.viewable.Viewer):
    def __init__(self, wb, **params):
        super().__init__(**params)
        self.wb = wb
        self._entries = [e for e in wb.catalog() if e.get("qualified_name")]
        self._names = query_names(self._entries)
        namespaces = sorted({e["namespace"] for e in self._entries if e.get("namespace")})
        self.status_by_namespace = namespace_status(wb)
        usable = [n for n in namespaces if not self.status_by_namespace.get(n)]
        # Namespaces this warehouse can't answer stay listed (and explain themselves when run).
        options = {(n if n in usable else f"{n} (not in this warehouse)"): n for n in namespaces}

        self.namespace = styled(
            pn.widgets.Select(
                label="Namespace",
                options=options,
                value=(usable or namespaces or [None])[0],
                sizing_mode="stretch_width",
            )
        )
        self.metrics = styled(
            pn.widgets.MultiChoice(
                label="Metrics",
                options={},
                placeholder="Choose one or more metrics",
                sizing_mode="stretch_width",
            )
        )
        self.dimensions = styled(
            pn.widgets.MultiChoice(
                label="Group by",
                options={},
                placeholder="Optional dimensions",
                sizing_mode="stretch_width",
            )
        )
        self.grain = styled(
            pn.widgets.Select(label="Time grain", options=GRAINS, sizing_mode="stretch_width")
        )
        self.time_range = styled(
            pn.widgets.TextInput(
                label="Time range",
                placeholder="e.g. last 90 days, 2024-Q2, ytd",
                sizing_mode="stretch_width",
            )
        )
        self.where = styled(
            pn.widgets.TextAreaInput(
                label="Filters (one per line)",
                placeholder="channel = 'online'",
                rows=2,
                sizing_mode="stretch_width",
            )
        )
        self.limit = styled(
            pn.widgets.IntInput(
                label="Row limit",
                value=DEFAULT_LIMIT,
                start=1,
                end=100_000,
                sizing_mode="stretch_width",
            )
        )
        self.limit.stylesheets = [*self.limit.stylesheets, NO_SPIN_CSS]
        self.run_button = styled(pn.widgets.Button(label="Run query", button_type="primary"))

        self.status = messages.status_line("Choose at least one metric, then run the query.")
        self.error = messages.error_box()
        self.chart = pn.pane.HoloViews(
            None, sizing_mode="stretch_width", min_height=0, visible=False, linked_axes=False
        )
        self.chart_text = pn.pane.HTML("", sizing_mode="stretch_width", visible=False)
        self.table = result_table()
        self.table.visible = False
        self.sql = sql_view()
        self.sql_heading = heading("SQL", level=3)
        self.sql_heading.visible = False
        self.last_query = None

        self.namespace.param.watch(self._on_namespace, "value")
        self.run_button.on_click(self._on_run)
        self._on_namespace()

    # -- behaviour ---------------------------------------------------------------------------
    def _members(self, namespace: str, kinds: tuple[str, ...]) -> dict[str, str]:
        return {
            option_label(e, self._names[e["qualified_name"]]): self._names[e["qualified_name"]]
            for e in self._entries
            if e.get("namespace") == namespace and e.get("kind") in kinds
        }

    def _on_namespace(self, *_):
        ns = self.namespace.value
        self.metrics.options = self._members(ns, METRIC_KINDS)
        self.dimensions.options = self._members(ns, ("dimension",))
        self.metrics.value = [v for v in self.metrics.value if v in self.metrics.options.values()]
        self.dimensions.value = [
            v for v in self.dimensions.value if v in self.dimensions.options.values()
        ]

    def add(self, entry: Entry) -> None:
        """Add a catalog entry (metric, measure or dimension) to the query."""
        if entry.get("namespace") != self.namespace.value:
            self.namespace.value = entry["namespace"]
        name = self._names.get(entry.get("qualified_name"), entry.get("name"))
        target = self.metrics if entry.get("kind") in METRIC_KINDS else self.dimensions
        if entry.get("kind") not in (*METRIC_KINDS, "dimension"):
            return
        if name not in target.value:
            target.value = [*target.value, name]
        messages.set_status(self.status, f"Added {entry.get('label') or name} to the query.")

    def formats(self) -> dict[str, str]:
        ns = self.namespace.value
        return {
            self._names[e["qualified_name"]]: e["format"]
            for e in self._entries
            if e.get("namespace") == ns and e.get("format")
        }

    def run(self):
        """Run the query described by the controls; returns the Query or None on error."""
        messages.clear(self.error)
        if not self.metrics.value and not self.dimensions.value:
            messages.show_error(self.error, "Choose at least one metric or dimension first.")
            return None
        where = [line.strip() for line in (self.where.value or "").splitlines() if line.strip()]
        started = time.perf_counter()
        try:
            query = self.wb.query(
                self.namespace.value,
                metrics=list(self.metrics.value),
                dimensions=list(self.dimensions.value),
                grain=None if self.grain.value == NO_GRAIN else self.grain.value,
                where=where,
                time_range=(self.time_range.value or "").strip() or None,
                limit=self.limit.value,
            )
            sql = query.sql()
            df = query.df
        except Exception as exc:  # noqa: BLE001  (shown by message, logged if unexpected)
            messages.show_error(self.error, exc)
            messages.set_status(self.status, "The query did not run.")
            return None
        elapsed = time.perf_counter() - started
        self.last_query = query
        set_sql(self.sql, sql)
        self.sql_heading.visible = True
        set_result(self.table, df, self.formats())
        self.table.visible = True
        dims = [c for c in df.columns if c not in self.metrics.value]
        try:
            chart = auto_chart(df, list(self.metrics.value), dims)
        except Exception as exc:  # noqa: BLE001  a chart failure must not hide the table
            messages.log.warning("chart failed: %s", exc)
            chart = None
        self.chart.object = chart
        self.chart.visible = self.chart_text.visible = chart is not None
        self.chart_text.object = (
            f"<p class='wb-chart-summary'>"
            f"{html.escape(chart_summary(df, list(self.metrics.value), dims))}</p>"
        )
        rows = len(df)
        messages.set_status(
            self.status, f"{rows} row{'' if rows == 1 else 's'} in {elapsed:.2f} s."
        )
        return query

    def _on_run(self, _event=None):
        self.run_button.disabled = True
        try:
            self.run()
        finally:
            self.run_button.disabled = False

    # -- layout ------------------------------------------------------------------------------
    def __panel__(self):
        row = pn.FlexBox(
            self.grain,
            self.time_range,
            self.limit,
            flex_wrap="wrap",
            sizing_mode="stretch_width",
            styles={"gap": "8px"},
        )
        for w in (self.grain, self.time_range, self.limit):
            w.styles = {"flex": "1 1 140px"}
        return pn.Column(
            heading("Query"),
            self.namespace,
            self.metrics,
            self.dimensions,
            row,
            self.where,
            self.run_button,
            self.status,
            self.error,
            self.chart,
            self.chart_text,
            self.table,
            self.sql_heading,
            self.sql,
            sizing_mode="stretch_width",
        )
