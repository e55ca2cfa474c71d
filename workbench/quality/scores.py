"""What the quality app shows, read from the stored validation runs (:mod:`.store`).

Four views, each a DataFrame computed from one open DuckDB connection (read-only is enough):

* :func:`current_scores`  the latest run of every suite: overall and per-dimension scores;
* :func:`score_history`   the overall score of every run, oldest first (the trend);
* :func:`failing_checks`  the failing checks of every suite's latest run, with a few of the
                          quarantined rows that failed each (``sample_rows``, JSON text), and
                          the pipeline quality gates' checks with rows in quarantine now;
* :func:`quarantine`      every quarantined row: from suite runs (``quality_quarantine``) and
                          from the pipelines' gates (``stream_quarantine``), one frame;
* :func:`sla_status`      each suite against its service levels: the quality score threshold,
                          each freshness check's ``max_age`` and how recently it was validated.

Nothing here imports Great Expectations: the app must stay quick to load. Before the first run
the quality tables do not exist and every view is an empty frame.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd

from .suite_spec import DIMENSIONS

__all__ = [
    "DEFAULT_MIN_SCORE",
    "DEFAULT_MAX_VALIDATION_AGE",
    "current_scores",
    "score_history",
    "failing_checks",
    "quarantine",
    "sla_status",
]

# The service levels when a caller names none: a suite is "healthy" when its overall score is at
# least this, and "validated" when its latest run is at most this old.
DEFAULT_MIN_SCORE = 95.0
DEFAULT_MAX_VALIDATION_AGE = dt.timedelta(days=1)
SAMPLES_PER_CHECK = 3

# The latest run of each suite (ties broken by run id, which starts with the time).
_LATEST = """(SELECT * FROM quality_runs QUALIFY row_number() OVER
               (PARTITION BY suite ORDER BY started_at DESC, run_id DESC) = 1)"""


def has_tables(con, *tables: str) -> bool:
    """Whether the quality tables exist yet (they are created by the first run)."""
    found = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_name IN "
            f"({', '.join('?' for _ in tables)})",
            list(tables),
        ).fetchall()
    }
    return set(tables) <= found


def current_scores(con) -> pd.DataFrame:
    """One row per suite from its latest run: ``suite, score``, one column per checked
    dimension, then ``passed, failed_checks, quarantined, rows, checks, target, engine, run_at,
    run_id``."""
    if not has_tables(con, "quality_runs", "quality_scores"):
        return pd.DataFrame()
    runs = con.execute(f"""
        SELECT suite, target, score, success AS passed, failed_checks, checks, rows, quarantined,
               engine, started_at AS run_at, run_id
        FROM {_LATEST} ORDER BY suite""").df()
    if runs.empty:
        return runs
    dims = con.execute(f"""
        SELECT s.run_id, s.dimension, s.score FROM quality_scores s
        JOIN {_LATEST} r USING (run_id) WHERE s.dimension <> 'overall'""").df()
    wide = (
        dims.pivot(index="run_id", columns="dimension", values="score")
        if not dims.empty
        else pd.DataFrame(index=pd.Index([], name="run_id"))
    )
    present = [d for d in DIMENSIONS if d in wide.columns]
    out = runs.merge(wide[present].reset_index(), on="run_id", how="left")
    cols = [
        "suite",
        "score",
        *present,
        "passed",
        "failed_checks",
        "quarantined",
        "rows",
        "checks",
        "target",
        "engine",
        "run_at",
        "run_id",
    ]
    return out[cols]


def suite_runs(con, suite: str, limit: int = 20) -> pd.DataFrame:
    """One suite's runs, newest first: ``run_id, engine, started_at, seconds, passed, checks,
    failed_checks, rows, quarantined, score`` (empty before the first run of any suite)."""
    if not has_tables(con, "quality_runs"):
        return pd.DataFrame()
    return con.execute(
        "SELECT run_id, engine, started_at, seconds, success AS passed, checks, failed_checks, "
        "rows, quarantined, score FROM quality_runs WHERE suite = ? "
        "ORDER BY started_at DESC, run_id DESC LIMIT ?",
        [suite, limit],
    ).df()


def score_history(con, suite: str | None = None) -> pd.DataFrame:
    """The overall score of every run, oldest first: ``run_at, suite, target, score, passed,
    run_id`` (the app draws one line per suite)."""
    if not has_tables(con, "quality_runs"):
        return pd.DataFrame()
    sql = (
        "SELECT started_at AS run_at, suite, target, score, success AS passed, run_id "
        "FROM quality_runs"
    )
    params: list = []
    if suite:
        sql += " WHERE suite = ?"
        params.append(suite)
    return con.execute(sql + " ORDER BY started_at, run_id", params).df()


def failing_checks(con, samples: int = SAMPLES_PER_CHECK) -> pd.DataFrame:
    """The failing checks of each suite's latest run, worst first, then the checks of the
    streaming pipelines' quality gates that have rows in quarantine now (``suite`` is
    ``pipeline <name>``, ``run_id`` the latest batch that quarantined a row).

    Columns: ``suite, check, failing_rows, fail_rate, dimension, column, expectation,
    checked_rows, observed, error, sample_rows, run_id``. ``sample_rows`` is JSON text of up to
    ``samples`` quarantined rows that failed the check (empty for table-level checks such as
    freshness or the column set, which fail as a whole).
    """
    from . import pipeline_quarantine

    suites = _suite_failing_checks(con, samples)
    gates = pipeline_quarantine.failing_checks(con, samples)
    if gates.empty:
        return suites
    if suites.empty:
        return gates
    return pd.concat([suites, gates], ignore_index=True)


def _suite_failing_checks(con, samples: int) -> pd.DataFrame:
    if not has_tables(con, "quality_runs", "quality_results"):
        return pd.DataFrame()
    checks = con.execute(f"""
        SELECT q.suite, q.check_name AS "check", q.dimension, q.expectation,
               q.column_name AS "column", q.unexpected_count AS failing_rows,
               q.element_count AS checked_rows,
               CASE WHEN q.element_count > 0
                    THEN q.unexpected_count::DOUBLE / q.element_count END AS fail_rate,
               q.observed_value AS observed, q.error, q.run_id
        FROM quality_results q JOIN {_LATEST} r USING (run_id)
        WHERE NOT q.success
        ORDER BY q.suite, fail_rate DESC NULLS LAST, q.check_name""").df()
    if checks.empty:
        return checks
    samples_by: dict[tuple[str, str], list] = {}
    if has_tables(con, "quality_quarantine"):
        rows = con.execute(
            f"""
            SELECT run_id, c AS check_name, row_key, row_data FROM (
                SELECT q.run_id, unnest(q.failed_checks) AS c, q.row_key, q.row_data
                FROM quality_quarantine q JOIN {_LATEST} r USING (run_id))
            QUALIFY row_number() OVER (PARTITION BY run_id, c ORDER BY row_key) <= ?""",
            [samples],
        ).fetchall()
        for run_id, check, key, data in rows:
            samples_by.setdefault((run_id, check), []).append(_sample(key, data))
    checks["sample_rows"] = [
        json.dumps(samples_by[(r, c)], default=str) if (r, c) in samples_by else ""
        for r, c in zip(checks["run_id"], checks["check"], strict=True)
    ]
    cols = [
        "suite",
        "check",
        "failing_rows",
        "fail_rate",
        "dimension",
        "column",
        "expectation",
        "checked_rows",
        "observed",
        "error",
        "sample_rows",
        "run_id",
    ]
    return checks[cols]


QUARANTINE_COLUMNS = [
    "source",
    "name",
    "target",
    "row_key",
    "failed_checks",
    "run_id",
    "quarantined_at",
    "released_at",
    "release_reason",
    "row_data",
]


def quarantine(con, active: bool = True, limit: int | None = 500) -> pd.DataFrame:
    """Quarantined rows from both places, newest first: ``source`` is ``validate`` (a suite run:
    ``name`` is the suite, ``run_id`` the run; only each suite's latest run unless ``active`` is
    False) or ``pipeline`` (a pipeline's gate: ``name`` is the pipeline, ``target`` the table,
    ``run_id`` the batch; active entries only unless ``active`` is False). Rows are never
    deleted by quarantine: silver and the validated tables keep them."""
    from . import pipeline_quarantine

    frames = []
    if has_tables(con, "quality_quarantine", "quality_runs"):
        latest = f"JOIN {_LATEST} r USING (run_id)" if active else ""
        frames.append(
            con.execute(f"""
            SELECT 'validate' AS source, q.suite AS name, q.target, q.row_key, q.failed_checks, q.run_id,
                   q.quarantined_at, NULL::TIMESTAMP AS released_at, NULL AS release_reason, q.row_data
            FROM quality_quarantine q {latest}""").df()
        )
    p = pipeline_quarantine.pipeline_quarantine(con, active=active)
    if not p.empty:
        frames.append(
            pd.DataFrame(
                {
                    "source": "pipeline",
                    "name": p.pipeline,
                    "target": p.table_name,
                    "row_key": p.row_key,
                    "failed_checks": p.failed_checks,
                    "run_id": p.batch_id,
                    "quarantined_at": p.quarantined_at,
                    "released_at": p.released_at,
                    "release_reason": p.release_reason,
                    "row_data": p.row_data,
                }
            )
        )
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=QUARANTINE_COLUMNS)
    out = pd.concat(frames, ignore_index=True)[QUARANTINE_COLUMNS]
    out = out.sort_values(["quarantined_at", "row_key"], ascending=[False, True], kind="stable")
    return out.head(limit).reset_index(drop=True) if limit else out.reset_index(drop=True)


def _sample(key: str, data: str | None):
    """The stored row (the first, if the key occurs more than once), else just its key."""
    try:
        rows = json.loads(data) if data else []
    except ValueError:
        rows = []
    if rows:
        return rows[0]
    try:
        return {"row_key": json.loads(key)}
    except ValueError:
        return {"row_key": key}


def sla_status(
    con,
    *,
    min_score: float = DEFAULT_MIN_SCORE,
    max_validation_age: dt.timedelta = DEFAULT_MAX_VALIDATION_AGE,
    suites_dir: str | Path | None = None,
    now: dt.datetime | None = None,
) -> pd.DataFrame:
    """Each suite against its service levels, from its latest run.

    One row per suite and SLA: ``suite, sla, status, threshold, observed, target, run_at``
    where ``status`` is ``met`` or ``breached``:

    * ``quality score``: the overall score is at least ``min_score``;
    * ``freshness <check>``: each freshness check of the suite passed, i.e. the newest value
      was at most the check's ``max_age`` old when the run validated it;
    * ``validated within``: the latest run is at most ``max_validation_age`` old (a suite
      nobody runs any more cannot be said to meet anything).
    """
    if not has_tables(con, "quality_runs", "quality_results"):
        return pd.DataFrame()
    now = now or dt.datetime.now()
    runs = con.execute(
        f"SELECT suite, target, score, started_at, run_id FROM {_LATEST} ORDER BY suite"
    ).df()
    fresh = con.execute(f"""
        SELECT q.run_id, q.check_name, q.success, q.observed_value, q.error
        FROM quality_results q JOIN {_LATEST} r USING (run_id)
        WHERE q.dimension = 'freshness' ORDER BY q.check_name""").df()
    out: list[dict] = []
    for r in runs.itertuples(index=False):
        run_at = pd.Timestamp(r.started_at).to_pydatetime()
        base = {"suite": r.suite, "target": r.target, "run_at": run_at}
        out.append(
            {
                **base,
                "sla": "quality score",
                "threshold": f"≥ {min_score:g}",
                "observed": f"{r.score:.1f}",
                "status": "met" if r.score >= min_score else "breached",
            }
        )
        ages = _max_ages(r.suite, suites_dir)
        for f in fresh[fresh.run_id == r.run_id].itertuples(index=False):
            observed = _json_text(f.observed_value)
            out.append(
                {
                    **base,
                    "sla": f"freshness {f.check_name}",
                    "threshold": f"newest ≤ {ages.get(f.check_name, '?')} old",
                    "observed": f"newest {observed}" if observed else (f.error or "no value"),
                    "status": "met" if f.success else "breached",
                }
            )
        age = now - run_at
        out.append(
            {
                **base,
                "sla": "validated within",
                "threshold": _words(max_validation_age),
                "observed": f"{_words(age)} ago",
                "status": "met" if age <= max_validation_age else "breached",
            }
        )
    return pd.DataFrame(
        out, columns=["suite", "sla", "status", "threshold", "observed", "target", "run_at"]
    )


def _max_ages(suite: str, suites_dir) -> dict[str, str]:
    """{freshness check: max_age} from the suite file, best effort (it may have moved)."""
    from .suite_spec import load_suite, suite_path

    try:
        spec = load_suite(suite_path(suite, suites_dir), check_expectations=False)
    except Exception:  # noqa: BLE001  the stored verdicts still stand without the file
        return {}
    return {c.name: c.max_age for c in spec.checks if c.max_age}


def _json_text(v) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    try:
        v = json.loads(v)
    except (TypeError, ValueError):
        pass
    if isinstance(v, dict):
        v = v.get("value", v)
    return str(v)


def _words(td: dt.timedelta) -> str:
    s = max(td.total_seconds(), 0)
    for unit, n in (("d", 86400), ("h", 3600), ("min", 60)):
        if s >= n:
            return f"{s / n:.1f} {unit}".replace(".0 ", " ")
    return f"{s:.0f} s"
