"""One validation run: GE verdicts → quarantine, scores, metric history, stored in the warehouse.

``validate(wb_or_path, suite, engine)`` is what notebooks, the CLI, the pipeline stage and the
REST API call. Failing rows are copied to ``quality_quarantine`` with their key, the names of
the checks they failed and the run id; the source rows are never touched.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from . import store
from .ge_runtime import CheckOutcome, open_duckdb, run_suite, spark_dataframe
from .history import Alert, compare, compute_metrics
from .scoring import QualityScore, score
from .suite_spec import Suite, load_suite, suite_path

DOCS_DIR = Path(".workbench") / "data_docs"


@dataclass
class RunResult:
    run_id: str
    suite: str
    target: str | None  # the suite target's name (None: SQL without a model)
    engine: str
    started_at: dt.datetime
    seconds: float
    outcomes: list[CheckOutcome]
    quarantined: pd.DataFrame
    score: QualityScore
    alerts: list[Alert] = field(default_factory=list)
    metrics: list[tuple] = field(default_factory=list)
    data_docs: str | None = None
    rows: int | None = None

    @property
    def passed(self) -> bool:
        return all(o.success for o in self.outcomes)

    @property
    def failed_checks(self) -> list[str]:
        return [o.name for o in self.outcomes if not o.success]

    @property
    def results(self) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "check": o.name,
                    "expectation": o.expect,
                    "column": o.column,
                    "dimension": o.dimension,
                    "success": o.success,
                    "element_count": o.element_count,
                    "unexpected_count": o.unexpected_count,
                    "observed_value": o.observed_value,
                    "error": o.error,
                }
                for o in self.outcomes
            ]
        )

    def verdicts(self) -> dict[str, tuple[bool, int | None]]:
        """{check: (success, unexpected_count)}: what must agree across engines."""
        return {o.name: (o.success, o.unexpected_count) for o in self.outcomes}

    def quarantined_keys(self) -> set[tuple]:
        return {tuple(json.loads(k)) for k in self.quarantined.get("row_key", [])}

    def explain(self) -> str:
        head = (
            f"run {self.run_id} · suite {self.suite} on {self.engine}: "
            f"{'PASSED' if self.passed else 'FAILED'} ({len(self.outcomes) - len(self.failed_checks)}"
            f"/{len(self.outcomes)} checks), {len(self.quarantined)} rows quarantined"
        )
        parts = [head, self.score.explain()]
        for a in self.alerts:
            parts.append(f"  alert {a.kind}: {a.message}")
        return "\n".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (the REST API's response body)."""
        return {
            "run_id": self.run_id,
            "suite": self.suite,
            "target": self.target,
            "engine": self.engine,
            "started_at": self.started_at.isoformat(timespec="seconds"),
            "seconds": round(self.seconds, 3),
            "passed": self.passed,
            "rows": self.rows,
            "failed_checks": self.failed_checks,
            "results": [
                {k: (v if not isinstance(v, float) or v == v else None) for k, v in r.items()}
                for r in self.results.to_dict("records")
            ],
            "quarantined": len(self.quarantined),
            "score": self.score.to_dict(),
            "alerts": [a.__dict__ for a in self.alerts],
            "data_docs": self.data_docs,
        }

    def _repr_markdown_(self) -> str:  # notebooks
        return "```\n" + self.explain() + "\n```"


def _resolve(wb_or_path, engine: str | None):
    """(settings, warehouse path, engine name, existing duckdb connection, postgres url)."""
    from ..config import load_settings

    con = None
    if wb_or_path is not None and hasattr(wb_or_path, "engine") and hasattr(wb_or_path, "settings"):
        wb = wb_or_path
        settings = wb.settings
        eng = wb.engine
        name = engine or eng.name
        warehouse = Path(
            getattr(eng, "path", None)
            or getattr(eng, "warehouse", None)
            or settings.path(settings.warehouse)
        )
        if eng.name == "duckdb" and name == "duckdb" and str(warehouse) != ":memory:":
            try:
                con = eng.native_connection()  # the Workbench's own DuckDB connection (same file)
            except Exception:
                con = None
        pg = getattr(eng, "url", None) or settings.postgres.url
        return settings, warehouse, name, con, pg
    settings = load_settings()
    warehouse = Path(wb_or_path) if wb_or_path is not None else settings.path(settings.warehouse)
    return settings, warehouse, engine or "duckdb", None, settings.postgres.url


def validate(
    wb_or_path=None,
    suite: str | Path | Suite = "orders",
    engine: str | None = None,
    *,
    suites_dir: str | Path | None = None,
    store_results: bool = True,
    quarantine: bool = True,
    data_docs: bool = True,
    history: bool = True,
    now: dt.datetime | None = None,
    dataframe=None,
    postgres_url: str | None = None,
    docs_dir: str | Path | None = None,
    run_id: str | None = None,
) -> RunResult:
    """Validate ``suite`` on ``engine`` ("duckdb", "spark", "postgres" or "pandas").

    ``wb_or_path``: a Workbench (``workbench.connect()``), a DuckDB warehouse path, or None for
    the configured warehouse. Results, quarantined rows, scores and metrics are written to that
    warehouse unless ``store_results=False``; Data Docs go to ``.workbench/data_docs/``.
    """
    settings, warehouse, engine, con, pg_default = _resolve(wb_or_path, engine)
    if isinstance(suite, Suite):
        spec = suite
    else:
        folder = suites_dir or settings.path("pipelines/quality")
        spec = load_suite(suite_path(suite, folder))
    if spec.status != "active":
        raise ValueError(
            f"suite '{spec.suite}' is {spec.status}: a person must review and accept it "
            "(workbench.quality.accept_proposal) before it runs"
        )
    run_id = run_id or f"{dt.datetime.now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    started = dt.datetime.now()
    docs = Path(docs_dir) if docs_dir else (settings.path(str(DOCS_DIR)) if data_docs else None)
    t0 = time.perf_counter()
    cached = None
    if engine == "spark" and dataframe is None:
        # GE runs one Spark job per metric bundle and per failing-row list: cache the rows once
        cached = dataframe = spark_dataframe(spec, warehouse).cache()
    own_con = None
    if engine == "duckdb" and con is None:
        own_con = con = open_duckdb(warehouse, read_only=True)
    try:
        outcomes, _ = run_suite(
            spec,
            engine,
            warehouse=warehouse,
            dataframe=dataframe,
            postgres_url=postgres_url or pg_default,
            duckdb_connection=con,
            docs_dir=docs if data_docs else None,
            now=now,
            run_name=run_id,
        )
        rows = next((o.element_count for o in outcomes if o.element_count is not None), None)
        quarantined = (
            _quarantine_rows(spec, outcomes, engine, con, dataframe, postgres_url or pg_default)
            if quarantine
            else _empty_q()
        )
        metrics = []
        if history:
            metrics = _metrics(spec, engine, con, dataframe, postgres_url or pg_default)
    finally:
        if own_con is not None:
            own_con.close()
        if cached is not None:
            cached.unpersist()
    seconds = time.perf_counter() - t0
    sc = score(spec.target.name, outcomes, spec.dimension_weights)
    result = RunResult(
        run_id,
        spec.suite,
        spec.target.name,
        engine,
        started,
        seconds,
        outcomes,
        quarantined,
        sc,
        [],
        metrics,
        str(docs / "index.html") if data_docs and docs else None,
        rows,
    )
    if history and metrics:
        prev = previous_metrics(warehouse, spec.suite, connection=con if own_con is None else None)
        result.alerts = compare(metrics, prev, spec.history)
    if store_results:
        save(result, warehouse, connection=con if own_con is None else None)
    return result


def _empty_q() -> pd.DataFrame:
    return pd.DataFrame(columns=["row_key", "failed_checks", "occurrences", "row_data"])


def _quarantine_rows(
    spec: Suite, outcomes: list[CheckOutcome], engine: str, con, dataframe, pg_url: str
) -> pd.DataFrame:
    failed: dict[tuple, list[str]] = {}
    for o in outcomes:
        for k in o.unexpected_keys:
            names = failed.setdefault(k, [])
            if o.name not in names:
                names.append(o.name)
    if not failed:
        return _empty_q()
    keys = pd.DataFrame(list(failed), columns=spec.key)
    rows = _fetch_rows(spec, keys, engine, con, dataframe, pg_url)
    out = []
    for k, names in failed.items():
        matched = rows.get(k, [])
        out.append(
            {
                "row_key": json.dumps(list(k), default=str),
                "failed_checks": names,
                "occurrences": len(matched) or 1,
                "row_data": json.dumps(matched, default=str),
            }
        )
    return pd.DataFrame(out)


def _fetch_rows(spec: Suite, keys: pd.DataFrame, engine: str, con, dataframe, pg_url) -> dict:
    """The full failing rows, by key, read from the engine that validated them."""
    try:
        if engine == "duckdb":
            cur = con.cursor()
            try:
                cur.register("_q_keys", keys)
                on = " AND ".join(f'_t."{k}" IS NOT DISTINCT FROM _k."{k}"' for k in spec.key)
                df = cur.execute(
                    f"SELECT _t.* FROM {spec.target.from_sql().replace(' AS _target', '')} _t "
                    f"JOIN _q_keys _k ON {on}"
                ).df()
            finally:
                cur.close()
        elif engine == "spark":
            spark = dataframe.sparkSession
            kdf = spark.createDataFrame(keys.astype(object).where(keys.notna(), None))
            cond = [dataframe[k].eqNullSafe(kdf[k]) for k in spec.key]
            df = dataframe.join(kdf, cond, "inner").select(dataframe["*"]).toPandas()
        elif engine == "pandas":
            df = dataframe.merge(keys, on=spec.key, how="inner")
        else:
            import sqlalchemy as sa

            eng = sa.create_engine(_pg(pg_url))
            try:
                with eng.connect() as c:
                    df = pd.read_sql(sa.text(f"SELECT * FROM {spec.target.from_sql()}"), c)
                df = df.merge(keys, on=spec.key, how="inner")
            finally:
                eng.dispose()
    except Exception:
        return {}
    records = json.loads(df.to_json(orient="records", date_format="iso"))
    out: dict[tuple, list] = {}
    for rec in records:
        out.setdefault(tuple(rec.get(k) for k in spec.key), []).append(rec)
    return out


def _pg(url: str) -> str:
    from .ge_runtime import sqlalchemy_url

    return sqlalchemy_url(url)


def _metrics(spec: Suite, engine: str, con, dataframe, pg_url) -> list[tuple]:
    if engine == "duckdb":
        cur = con.cursor()
        try:
            return compute_metrics(spec, "duckdb", duckdb_connection=cur)
        finally:
            cur.close()
    if engine == "spark":
        return compute_metrics(spec, "spark", spark_df=dataframe)
    if engine == "pandas":
        return compute_metrics(spec, "pandas", pandas_df=dataframe)
    import sqlalchemy as sa

    eng = sa.create_engine(_pg(pg_url))
    try:
        return compute_metrics(spec, "postgres", sa_engine=eng)
    finally:
        eng.dispose()


def previous_metrics(warehouse, suite: str, connection=None) -> list[tuple]:
    df = store.read(
        warehouse,
        """
        SELECT metric, column_name, value FROM quality_metrics
        WHERE run_id = (SELECT run_id FROM quality_runs WHERE suite = ? ORDER BY started_at DESC LIMIT 1)""",
        [suite],
        connection=connection,
    )
    if df.empty:
        return []
    return [
        (
            r.metric,
            r.column_name if isinstance(r.column_name, str) else None,
            None if pd.isna(r.value) else float(r.value),
        )
        for r in df.itertuples()
    ]


def save(r: RunResult, warehouse, connection=None) -> None:
    now = dt.datetime.now()
    with store.writer(warehouse, connection) as con:
        store.ensure_tables(con)
        con.execute("BEGIN")
        try:
            store.append(
                con,
                "quality_runs",
                [
                    {
                        "run_id": r.run_id,
                        "suite": r.suite,
                        "target": r.target,
                        "engine": r.engine,
                        "started_at": r.started_at,
                        "seconds": r.seconds,
                        "success": r.passed,
                        "checks": len(r.outcomes),
                        "failed_checks": len(r.failed_checks),
                        "rows": r.rows,
                        "quarantined": len(r.quarantined),
                        "score": r.score.overall,
                        "data_docs": r.data_docs,
                    }
                ],
            )
            store.append(
                con,
                "quality_results",
                [
                    {
                        "run_id": r.run_id,
                        "suite": r.suite,
                        "check_name": o.name,
                        "expectation": o.expect,
                        "column_name": o.column,
                        "dimension": o.dimension,
                        "weight": o.weight,
                        "success": o.success,
                        "element_count": o.element_count,
                        "unexpected_count": o.unexpected_count,
                        "missing_count": o.missing_count,
                        "observed_value": store.dumps(o.observed_value),
                        "error": o.error,
                    }
                    for o in r.outcomes
                ],
            )
            if len(r.quarantined):
                q = r.quarantined.assign(
                    run_id=r.run_id, suite=r.suite, target=r.target, quarantined_at=now
                )
                store.append(con, "quality_quarantine", q.to_dict("records"))
            store.append(
                con,
                "quality_scores",
                [
                    {
                        "run_id": r.run_id,
                        "suite": r.suite,
                        "target": r.target,
                        "dimension": "overall",
                        "score": r.score.overall,
                        "weight": 1.0,
                        "breakdown": store.dumps(r.score.breakdown),
                        "computed_at": now,
                    }
                ]
                + [
                    {
                        "run_id": r.run_id,
                        "suite": r.suite,
                        "target": r.target,
                        "dimension": d,
                        "score": s,
                        "weight": r.score.weights[d],
                        "breakdown": store.dumps(
                            [b for b in r.score.breakdown if b["dimension"] == d]
                        ),
                        "computed_at": now,
                    }
                    for d, s in r.score.dimensions.items()
                ],
            )
            store.append(
                con,
                "quality_metrics",
                [
                    {
                        "run_id": r.run_id,
                        "suite": r.suite,
                        "target": r.target,
                        "metric": m,
                        "column_name": c,
                        "value": v,
                        "computed_at": now,
                    }
                    for m, c, v in r.metrics
                ],
            )
            store.append(
                con,
                "quality_alerts",
                [
                    {
                        "run_id": r.run_id,
                        "suite": r.suite,
                        "target": r.target,
                        "kind": a.kind,
                        "column_name": a.column,
                        "previous": a.previous,
                        "current": a.current,
                        "threshold": a.threshold,
                        "message": a.message,
                        "raised_at": now,
                    }
                    for a in r.alerts
                ],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
