"""Quality scores and trends, failing checks with sample rows, quarantined rows (suite runs and
pipeline gates), SLA status, and cleansing lineage.

Scores, checks and SLAs come from the stored Great Expectations runs (``workbench validate``,
the pipelines' quality stage or ``POST /workbench/api/quality/{suite}/validate``) through
:mod:`workbench.quality.scores`: ``current_scores(con)``, ``score_history(con)``,
``failing_checks(con)`` (with a ``sample_rows`` column) and ``sla_status(con)``, each a
DataFrame. Until validation has run, the panels say so.
"""

from __future__ import annotations

import importlib
import logging

import pandas as pd
import panel as pn

from workbench.ui import messages, theme
from workbench.ui.quality.remote import frame
from workbench.ui.quality.store import QualityStore
from workbench.ui.table import result_table

log = logging.getLogger("workbench.ui")
FUNCTIONS = ("current_scores", "score_history", "failing_checks", "sla_status", "quarantine")


def quality_source():
    """The validation module, or None when it is not available (yet)."""
    try:
        mod = importlib.import_module("workbench.quality.scores")
    except Exception:  # noqa: BLE001  not installed / not written yet
        return None
    return mod if all(hasattr(mod, f) for f in FUNCTIONS) else None


def _frame(store: QualityStore, name: str) -> pd.DataFrame | None:
    mod = quality_source()
    if mod is None:
        return None
    if store.server is not None:  # a server owns the warehouse: ask it, as the person
        return frame(store.server.scores().get(_API_KEYS[name]))
    try:
        with store.connect() as con:
            return getattr(mod, name)(con)
    except Exception as exc:  # noqa: BLE001
        # The Jupyter server's pipelines extension may hold the warehouse (DuckDB: one writing
        # process per file, no readers beside it). Then ask it over REST, if it started us.
        remote = _from_server(name) if _is_lock_error(exc) else None
        if remote is None:
            raise
        return remote


def _is_lock_error(exc: BaseException) -> bool:
    return "lock" in str(exc).lower()


_API_KEYS = {
    "current_scores": "current",
    "score_history": "history",
    "failing_checks": "failing",
    "sla_status": "sla",
    "quarantine": "quarantine",
}


def _from_server(name: str) -> pd.DataFrame | None:
    """The frame from ``GET /workbench/api/quality/scores`` as the person viewing the page,
    when this app runs behind the Jupyter server (``WORKBENCH_API_URL``); else None."""
    from workbench.ui.connection import LOG_IN_MESSAGE, LOG_IN_TITLE, session_credentials
    from workbench.ui.dashboard.client import ApiClient, QueryError, api_base_url

    base = api_base_url()
    if not base:
        return None
    creds = session_credentials()  # only with the identity the gateway signed for this app
    if creds is None:
        raise QueryError(f"{LOG_IN_TITLE}. {LOG_IN_MESSAGE}")
    out = ApiClient(base, creds)._get("workbench/api/quality/scores")
    return frame(out.get(_API_KEYS[name]))


def _panel(title: str, df: pd.DataFrame | None, empty: str) -> pn.Column:
    body = (
        result_table(df)
        if df is not None and not df.empty
        else pn.pane.Markdown(empty, sizing_mode="stretch_width")
    )
    return pn.Column(theme.heading(title), body, sizing_mode="stretch_width")


def _trend_chart(history: pd.DataFrame):
    import hvplot.pandas  # noqa: F401

    x = next(
        (c for c in ("run_at", "validated_at", "at", "date") if c in history), history.columns[0]
    )
    y = next((c for c in ("score", "quality_score") if c in history), history.columns[-1])
    by = next((c for c in ("table", "suite", "target") if c in history), None)
    return history.hvplot.line(
        x=x,
        y=y,
        by=by,
        height=260,
        responsive=True,
        color=theme.PALETTE,
        title="Quality score over time",
    )


def scores_section(store: QualityStore) -> pn.Column:
    none = (
        "No validation results yet: run `workbench validate` (Great Expectations suites in "
        "`pipelines/`) and reload."
    )
    try:
        scores, history = _frame(store, "current_scores"), _frame(store, "score_history")
    except Exception as exc:  # noqa: BLE001
        return pn.Column(
            theme.heading("Scores"),
            messages.notice("Scores unavailable", messages.describe_error(exc)),
        )
    col = _panel("Scores", scores, none)
    if history is not None and not history.empty:
        col.append(_trend_chart(history))
        col.append(pn.pane.Markdown(trend_summary(history), sizing_mode="stretch_width"))
    return col


def trend_summary(history: pd.DataFrame) -> str:
    """The chart's text alternative (WCAG 1.1.1): each series' latest score and its range."""
    x = next(
        (c for c in ("run_at", "validated_at", "at", "date") if c in history), history.columns[0]
    )
    y = next((c for c in ("score", "quality_score") if c in history), history.columns[-1])
    by = next((c for c in ("table", "suite", "target") if c in history), None)
    groups = history.sort_values(x).groupby(by) if by else [("score", history.sort_values(x))]
    parts = [
        f"{name} {g[y].iloc[-1]:.1f} (range {g[y].min():.1f} to {g[y].max():.1f})"
        for name, g in groups
    ]
    return "Quality score over time, latest per series: " + "; ".join(parts) + "."


def checks_section(store: QualityStore) -> pn.Column:
    try:
        failing, sla = _frame(store, "failing_checks"), _frame(store, "sla_status")
    except Exception as exc:  # noqa: BLE001
        return pn.Column(
            theme.heading("Failing checks"),
            messages.notice("Checks unavailable", messages.describe_error(exc)),
        )
    try:
        held = _frame(store, "quarantine")
    except Exception as exc:  # noqa: BLE001  the checks above still stand
        log.warning("quarantine unavailable: %s", exc)
        held = None
    return pn.Column(
        failing_panel(failing), quarantine_panel(held), sla_panel(sla), sizing_mode="stretch_width"
    )


def quarantine_panel(held: pd.DataFrame | None) -> pn.Column:
    """Rows held in quarantine now: by suite runs (`workbench validate`, source ``validate``) and
    by the streaming pipelines' quality gates (source ``pipeline``; gold skips them until a
    later change passes). Never deleted: the tables keep every row."""
    empty = "No rows in quarantine."
    if held is None or held.empty:
        return _panel("Quarantined rows", None, empty)
    shown = held.drop(
        columns=[c for c in ("row_data", "released_at", "release_reason") if c in held]
    )
    if "failed_checks" in shown:
        shown = shown.assign(
            failed_checks=[
                ", ".join(v) if isinstance(v, (list, tuple)) or hasattr(v, "tolist") else str(v)
                for v in shown["failed_checks"]
            ]
        )
    by = held.groupby("source").size().to_dict() if "source" in held else {}
    note = pn.pane.Markdown(
        " · ".join(
            f"**{n}** from {'pipeline gates' if s == 'pipeline' else 'suite runs'}"
            for s, n in sorted(by.items())
        ),
        sizing_mode="stretch_width",
    )
    return pn.Column(
        theme.heading("Quarantined rows"),
        note,
        result_table(shown, page_size=10),
        sizing_mode="stretch_width",
    )


def failing_panel(failing: pd.DataFrame | None) -> pn.Column:
    """The failing checks of each suite's latest run; pick one to see rows that failed it."""
    if failing is None or failing.empty:
        return _panel("Failing checks", None, "No failing checks in the latest runs.")
    shown = failing.drop(columns=[c for c in ("sample_rows", "run_id") if c in failing])
    options = [f"{r.suite}: {r.check}" for r in failing.itertuples()]
    pick = theme.styled(
        pn.widgets.Select(
            name="Sample failing rows of", options=options, sizing_mode="stretch_width"
        )
    )
    rows = result_table(pd.DataFrame(), page_size=5)
    note = pn.pane.Markdown("", sizing_mode="stretch_width")

    def show(_=None):
        r = failing.iloc[options.index(pick.value)]
        sample = sample_frame(r["sample_rows"])
        from workbench.ui.table import set_result

        set_result(rows, sample)
        rows.visible = not sample.empty
        note.object = (
            ""
            if not sample.empty
            else f"`{r['check']}` is a table-level check: it fails as a whole "
            f"(observed: {r['observed'] if isinstance(r['observed'], str) else 'n/a'})."
        )

    pick.param.watch(show, "value")
    show()
    return pn.Column(
        theme.heading("Failing checks"),
        result_table(shown),
        pick,
        note,
        rows,
        sizing_mode="stretch_width",
    )


def sample_frame(sample_rows: str | None) -> pd.DataFrame:
    """The ``sample_rows`` JSON text of a failing check as a table."""
    import json

    if not isinstance(sample_rows, str) or not sample_rows:
        return pd.DataFrame()
    try:
        return pd.DataFrame(json.loads(sample_rows))
    except ValueError:
        return pd.DataFrame()


def sla_panel(sla: pd.DataFrame | None) -> pn.Column:
    empty = (
        "No SLA results yet (freshness and quality thresholds are evaluated from the runs "
        "of `workbench validate`)."
    )
    col = _panel("SLA status", sla, empty)
    if sla is not None and not sla.empty:
        breached = int((sla["status"] == "breached").sum())
        col.insert(
            1,
            pn.pane.Markdown(
                f"**{breached} of {len(sla)} SLA(s) breached**"
                if breached
                else f"All {len(sla)} SLA(s) met",
                sizing_mode="stretch_width",
            ),
        )
    return col


def lineage_section(store: QualityStore) -> pn.Column:
    """Per rule version of each table's latest cleansing run: rows updated and removed; pick a
    rule to see its changed rows with old and new values."""
    from workbench.quality import lineage

    if store.server is not None:  # a server owns the warehouse: ask it, as the person
        try:
            summary = store.server.lineage_summary()
        except Exception as exc:  # noqa: BLE001  shown as a message, never a traceback
            return pn.Column(
                theme.heading("Cleansing lineage"),
                messages.notice("Lineage unavailable", messages.describe_error(exc)),
            )
    else:
        try:
            with store.connect() as con:
                summary = lineage.summary(con)
        except Exception:  # noqa: BLE001  no cleansing run yet
            summary = pd.DataFrame()
    if summary.empty:
        return _panel("Cleansing lineage", None, "No cleansing run yet.")
    options = [f"{r.table_name}: {r.rule_name} v{r.rule_version}" for r in summary.itertuples()]
    pick = theme.styled(
        pn.widgets.Select(name="Rule", options=options, sizing_mode="stretch_width")
    )
    rows = result_table(pd.DataFrame())

    def show(_=None):
        i = options.index(pick.value)
        r = summary.iloc[i]
        if store.server is not None:
            df = store.server.lineage_changes(r.table_name, r.rule_name, int(r.rule_version), 200)
        else:
            with store.connect() as con:
                df = lineage.changes(
                    con, r.rule_name, int(r.rule_version), table=r.table_name, limit=200
                )
        from workbench.ui.table import set_result

        set_result(
            rows,
            df[
                [
                    "row_key",
                    "action",
                    "column_name",
                    "old_value",
                    "new_value",
                    "note",
                    "reversed_at",
                ]
            ],
        )

    pick.param.watch(show, "value")
    show()
    return pn.Column(
        theme.heading("Cleansing lineage"),
        result_table(summary.drop(columns=["run_id"])),
        pick,
        rows,
        sizing_mode="stretch_width",
    )
