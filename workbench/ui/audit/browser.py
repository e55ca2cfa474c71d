"""The audit log browser: a filter bar (user, action, time range, text), the chain banner, events
per hour by action, one page of entries newest first with an entry's details, and a CSV of
every entry the filters match.  Everything comes from the audit API as the person looking
(workbench.ui.audit.client); errors are shown by their message, never as a traceback.
"""

from __future__ import annotations

import html
import io

import panel as pn

from workbench.ui import messages
from workbench.ui.audit import entries as shown
from workbench.ui.audit.client import PAGE_SIZE, AuditApiError, AuditClient
from workbench.ui.charts import auto_chart
from workbench.ui.theme import MUTED_TEXT, OKABE_ITO, TEXT, heading, styled

CUSTOM = "between"
TIME_RANGES = {
    "Last hour": "1h",
    "Last 24 hours": "24h",
    "Last 7 days": "7d",
    "Last 30 days": "30d",
    "All time": "",
    "Between the dates below": CUSTOM,
}
DEFAULT_RANGE = "7d"
MAX_BAR_HOURS = 24  # more hours than this: a line per action instead of groups of bars
BANNER_COLOURS = {
    "ok": OKABE_ITO["bluish_green"],
    "broken": OKABE_ITO["vermillion"],
    "unknown": OKABE_ITO["orange"],
}


class AuditBrowser(pn.viewable.Viewer):
    def __init__(self, client: AuditClient, **params):
        super().__init__(**params)
        self.client = client
        self.offset = 0
        self.total = 0
        self.page: list[dict] = []

        def text(label: str, placeholder: str) -> pn.widgets.TextInput:
            return styled(
                pn.widgets.TextInput(
                    name=label, placeholder=placeholder, sizing_mode="stretch_width"
                )
            )

        self.user = text("User", "e.g. vera")
        self.action = text("Action", "login. (a family) or login.failure")
        self.time_range = styled(
            pn.widgets.Select(
                name="Time range",
                options=TIME_RANGES,
                value=DEFAULT_RANGE,
                sizing_mode="stretch_width",
            )
        )
        self.since = text("From (UTC)", "2026-12-01 or 2026-12-01T08:00")
        self.until = text("Until (UTC)", "2026-12-02 (that day included)")
        self.text = text("Text anywhere in the entry", "e.g. bad_password, retail, 10.0.0.7")
        self.search_button = styled(pn.widgets.Button(name="Search", button_type="primary"))
        self.clear_button = styled(pn.widgets.Button(name="Clear filters", button_type="default"))
        self.banner = pn.pane.HTML("", sizing_mode="stretch_width")
        self.status = messages.status_line("Loading the audit log…")
        self.error = messages.error_box()
        self.chart = pn.pane.HoloViews(
            None, sizing_mode="stretch_width", min_height=0, visible=False, linked_axes=False
        )
        self.chart_text = pn.pane.HTML("", sizing_mode="stretch_width")
        self.table = pn.widgets.Tabulator(
            shown.table_frame([]),
            disabled=True,
            show_index=False,
            selectable=1,
            pagination=None,
            layout="fit_data_stretch",
            sizing_mode="stretch_width",
            name="Audit entries",
        )
        self.newer = styled(pn.widgets.Button(name="← Newer", disabled=True))
        self.older = styled(pn.widgets.Button(name="Older →", disabled=True))
        self.pick = styled(
            pn.widgets.Select(name="Entry details", options={}, sizing_mode="stretch_width")
        )
        self.details = pn.pane.HTML(shown.details_html(None), sizing_mode="stretch_width")
        self.download = styled(
            pn.widgets.FileDownload(
                callback=self._csv,
                filename="workbench-audit.csv",
                embed=False,
                label="Download CSV of the filtered entries",
                button_type="default",
            )
        )

        self._set_custom_visible()
        self.time_range.param.watch(self._on_range, "value")
        for box in (self.user, self.action, self.since, self.until, self.text):
            box.param.watch(self._on_enter, "enter_pressed")
        self.search_button.on_click(lambda _e: self.search())
        self.clear_button.on_click(self._on_clear)
        self.newer.on_click(lambda _e: self.load(max(0, self.offset - PAGE_SIZE)))
        self.older.on_click(lambda _e: self.load(self.offset + PAGE_SIZE))
        self.pick.param.watch(self._on_pick, "value")
        self.table.param.watch(self._on_row, "selection")
        self.search()

    # -- what to ask ------------------------------------------------------------------------
    def filters(self) -> dict[str, str]:
        """The filter bar as audit API parameters (the server checks them)."""

        def typed(box: pn.widgets.TextInput) -> str:
            return (box.value or "").strip()

        out = {"user": typed(self.user), "action": typed(self.action), "text": typed(self.text)}
        if self.time_range.value == CUSTOM:
            out.update(since=typed(self.since), until=typed(self.until))
        else:
            out["since"] = str(self.time_range.value or "")
        return {k: v for k, v in out.items() if v}

    # -- behaviour --------------------------------------------------------------------------
    def search(self) -> None:
        self.load(0, verify=True)

    def load(self, offset: int, verify: bool = False) -> None:
        messages.clear(self.error)
        messages.set_status(self.status, "Searching the audit log…")
        try:
            answer = self.client.search(self.filters(), offset=offset, verify=verify)
        except AuditApiError as exc:
            messages.show_error(self.error, str(exc))  # the server's words, naming the field
            messages.set_status(
                self.status,
                "The search did not run; the entries below are from the last search that did.",
            )
            return
        self.offset, self.total, self.page = offset, int(answer["total"]), answer["entries"]
        if "chain" in answer:
            self._show_chain(answer["chain"])
        self._show_page()
        self._show_chart(answer.get("hourly") or [])

    def _show_chain(self, chain: dict) -> None:
        kind, sentence = shown.chain_banner(chain)
        colour = BANNER_COLOURS[kind]
        self.banner.object = (
            f"<div role='status' class='wb-chain wb-chain-{kind}' style='border-left:8px solid "
            f"{colour};background:#f7f7f7;color:{TEXT};padding:0.5em 0.8em;font-weight:600'>"
            f"{html.escape(sentence)}</div>"
        )

    def _show_page(self) -> None:
        self.table.selection = []
        self.table.value = shown.table_frame(self.page)
        self.pick.options = {shown.entry_label(e): e["seq"] for e in self.page}
        first = self.page[0]["seq"] if self.page else None
        self.pick.value = first
        self._show_details(first)
        n = len(self.page)
        if n:
            span = f"Entries {self.offset + 1}–{self.offset + n} of {self.total}, newest first"
        else:
            span = "No entries match these filters"
        given = self.filters()
        which = ", ".join(f"{k} {v}" for k, v in given.items()) if given else "no filters"
        messages.set_status(self.status, f"{span} ({which}).")
        self.newer.disabled = self.offset == 0
        self.older.disabled = self.offset + n >= self.total

    def _show_chart(self, hourly: list[dict]) -> None:
        df = shown.hourly_frame(hourly)
        chart = None
        if not df.empty:
            kind = "bar" if df["hour"].nunique() <= MAX_BAR_HOURS else "line"
            try:
                chart = auto_chart(
                    df,
                    ["events"],
                    ["hour", "action"],
                    kind=kind,
                    height=300,
                    title="Events per hour by action (UTC)",
                    xlabel="hour (UTC)",
                )
            except Exception as exc:  # noqa: BLE001  a chart failure must not hide the entries
                messages.log.warning("audit chart failed: %s", exc)
        self.chart.object = chart
        self.chart.visible = chart is not None
        self.chart_text.object = (
            f"<p class='wb-chart-summary' style='color:{MUTED_TEXT}'>"
            f"{html.escape(shown.hourly_summary(df))}</p>"
        )

    def _show_details(self, seq) -> None:
        entry = next((e for e in self.page if e["seq"] == seq), None)
        self.details.object = shown.details_html(entry)

    def _on_pick(self, event) -> None:
        self._show_details(event.new)

    def _on_row(self, event) -> None:
        if event.new and 0 <= event.new[0] < len(self.page):
            self.pick.value = self.page[event.new[0]]["seq"]

    def _on_enter(self, _event) -> None:
        self.search()

    def _on_range(self, _event) -> None:
        self._set_custom_visible()
        if self.time_range.value != CUSTOM:
            self.search()

    def _set_custom_visible(self) -> None:
        self.since.visible = self.until.visible = self.time_range.value == CUSTOM

    def _on_clear(self, _event) -> None:
        for box in (self.user, self.action, self.since, self.until, self.text):
            box.value = ""
        self.time_range.value = DEFAULT_RANGE
        self.search()

    def _csv(self) -> io.BytesIO:
        try:
            return io.BytesIO(shown.to_csv(self.client.all_entries(self.filters())))
        except AuditApiError as exc:
            messages.show_error(self.error, f"The CSV could not be made: {exc}")
            return io.BytesIO(shown.to_csv([]))

    # -- layout -----------------------------------------------------------------------------
    def __panel__(self):
        fields = (self.user, self.action, self.time_range, self.since, self.until, self.text)
        for w in fields:
            w.styles = {"flex": "1 1 180px", "min-width": "0"}
        bar = pn.FlexBox(
            *fields, flex_wrap="wrap", sizing_mode="stretch_width", styles={"gap": "8px"}
        )
        buttons = pn.FlexBox(
            self.search_button,
            self.clear_button,
            self.download,
            flex_wrap="wrap",
            styles={"gap": "8px"},
            sizing_mode="stretch_width",
        )
        pager = pn.FlexBox(self.newer, self.older, styles={"gap": "8px"})
        entries = pn.Column(
            heading("Entries"),
            self.table,
            pager,
            sizing_mode="stretch_width",
            styles={"flex": "2 1 420px", "min-width": "0"},
        )
        detail = pn.Column(
            heading("Entry details"),
            self.pick,
            self.details,
            sizing_mode="stretch_width",
            styles={"flex": "1 1 300px", "min-width": "0"},
        )
        return pn.Column(
            self.banner,
            pn.pane.HTML("<h2 style='margin:0.4em 0'>Filters</h2>", sizing_mode="stretch_width"),
            bar,
            buttons,
            self.status,
            self.error,
            heading("Events per hour"),
            self.chart,
            self.chart_text,
            pn.FlexBox(
                entries,
                detail,
                flex_wrap="wrap",
                sizing_mode="stretch_width",
                styles={"gap": "16px"},
            ),
            sizing_mode="stretch_width",
        )
