"""Data quality: Great Expectations suites on DuckDB, Spark and PostgreSQL, quarantine, scores,
metric history, suite suggestions (part A); schema evolution (:mod:`.schema`), cleansing
(:mod:`.cleansing`) and lineage (part B).

Notebooks::

    import workbench, workbench.quality as quality
    run = quality.validate(workbench.connect(), "orders")            # or engine="spark"
    run.passed, run.results, run.quarantined, run.score.explain()
    quality.quarantined_rows()          # every quarantined row: suite runs and pipeline gates
    quality.quarantine(pipeline="demo_orders")   # what one pipeline's quality gate holds

Great Expectations takes seconds to import, so everything here is imported on first use.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "validate": "runner",
    "RunResult": "runner",
    "run_stage": "service",
    "api_validate": "service",
    "QualityGateFailed": "service",
    "score_history": "service",
    "latest_scores": "service",
    "quarantine": "service",
    "quarantined_rows": "service",
    "load_suite": "suite_spec",
    "list_suites": "suite_spec",
    "Suite": "suite_spec",
    "QualityScore": "scoring",
    "profile_table": "suggest",
    "propose_suite": "suggest",
    "accept_proposal": "suggest",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'workbench.quality' has no attribute '{name}'")
