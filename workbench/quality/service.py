"""Entry points for the pipeline stage, the REST API and notebooks' history views."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from . import store
from .runner import RunResult, validate


class QualityGateFailed(RuntimeError):
    """A blocking suite failed at the quality stage; gold is not refreshed from this batch."""

    def __init__(self, result: RunResult):
        self.result = result
        super().__init__(
            f"quality gate '{result.suite}' failed: {', '.join(result.failed_checks)} "
            f"({len(result.quarantined)} rows quarantined, run {result.run_id})"
        )


def run_stage(
    suites: list[str] | str,
    *,
    warehouse: str | Path | None = None,
    engine: str = "duckdb",
    block_on: str = "table",
    suites_dir: str | Path | None = None,
    now: dt.datetime | None = None,
) -> list[RunResult]:
    """The pipeline's quality stage, after silver and before gold.

    Validates each suite, quarantines failing rows and stores results. ``block_on``: "never"
    (record only), "table" (raise QualityGateFailed when a table-level check fails: schema drift,
    freshness, volume; failing rows are quarantined and gold should skip them), or "any".
    Gold builders exclude quarantined rows with :func:`quarantined_keys`.
    """
    results = []
    for name in [suites] if isinstance(suites, str) else suites:
        r = validate(warehouse, name, engine, suites_dir=suites_dir, now=now)
        results.append(r)
        table_failed = any(not o.success and not o.row_level for o in r.outcomes)
        if (block_on == "any" and not r.passed) or (block_on == "table" and table_failed):
            raise QualityGateFailed(r)
    return results


def api_validate(
    suite: str,
    engine: str = "duckdb",
    warehouse=None,
    suites_dir: str | Path | None = None,
    data_docs: bool = True,
) -> dict:
    """What the server's ``POST quality/{suite}/validate`` returns (JSON-ready).

    ``warehouse``: a Workbench (the server passes the one that holds the warehouse), a DuckDB
    warehouse path, or None for the configured one."""
    return validate(warehouse, suite, engine, suites_dir=suites_dir, data_docs=data_docs).to_dict()


def quarantine(
    warehouse: str | Path | None = None,
    suite: str | None = None,
    run_id: str | None = None,
    pipeline: str | None = None,
    active: bool = True,
) -> pd.DataFrame:
    """Quarantined rows of suite runs (latest run of the suite unless run_id is given), or with
    ``pipeline=`` the rows that pipeline's quality gate holds (``active=False``: released too)."""
    wh = _wh(warehouse)
    if pipeline:
        from .ge_runtime import open_duckdb
        from .pipeline_quarantine import pipeline_quarantine

        con = open_duckdb(wh, read_only=True)
        try:
            return pipeline_quarantine(con, active=active, pipeline=pipeline)
        finally:
            con.close()
    if run_id:
        return store.read(wh, "SELECT * FROM quality_quarantine WHERE run_id = ?", [run_id])
    if suite:
        return store.read(
            wh,
            """SELECT * FROM quality_quarantine WHERE run_id =
            (SELECT run_id FROM quality_runs WHERE suite = ? ORDER BY started_at DESC LIMIT 1)""",
            [suite],
        )
    return store.read(wh, "SELECT * FROM quality_quarantine ORDER BY quarantined_at DESC")


def quarantined_rows(
    warehouse: str | Path | None = None, active: bool = True, limit: int | None = 500
) -> pd.DataFrame:
    """Every quarantined row in one frame, from suite runs and from the pipelines' quality gates
    (``source`` says which; see :func:`workbench.quality.scores.quarantine`)."""
    from .ge_runtime import open_duckdb
    from .scores import quarantine as _all

    con = open_duckdb(_wh(warehouse), read_only=True)
    try:
        return _all(con, active=active, limit=limit)
    finally:
        con.close()


def quarantined_keys(suite: str, warehouse: str | Path | None = None) -> list[list]:
    import json

    df = quarantine(warehouse, suite)
    return [json.loads(k) for k in df.get("row_key", [])]


def latest_scores(warehouse: str | Path | None = None) -> pd.DataFrame:
    """Latest score per target and dimension (overall included)."""
    return store.read(
        _wh(warehouse),
        """
        SELECT s.* FROM quality_scores s JOIN (
            SELECT suite, max(computed_at) AS at FROM quality_scores GROUP BY suite) l
          ON s.suite = l.suite AND s.computed_at = l.at ORDER BY s.target, s.dimension""",
    )


def score_history(target: str | None = None, warehouse: str | Path | None = None) -> pd.DataFrame:
    sql = "SELECT run_id, suite, target, dimension, score, computed_at FROM quality_scores"
    params = []
    if target:
        sql += " WHERE target = ? OR suite = ?"
        params = [target, target]
    return store.read(_wh(warehouse), sql + " ORDER BY computed_at", params)


def _wh(warehouse):
    if warehouse is not None:
        return Path(warehouse)
    from ..config import load_settings

    s = load_settings()
    return s.path(s.warehouse)
