"""Running a suite with Great Expectations 1.x on DuckDB, Spark, PostgreSQL or pandas.

* DuckDB: GE's SQL data source over duckdb-engine (SQLAlchemy). Expectations are pushed down as
  SQL; failing-row counts run as filtered counts DuckDB can push into its scan
  (:mod:`.ge_duckdb`; ``pushdown=False`` gives GE's plain SQL engine, same results).
* Spark: GE's Spark data source over a DataFrame: the table's parquet export (the same one
  ``workbench.connect(engine="spark")`` uses) or the target SQL run by Spark SQL.
* PostgreSQL: GE's PostgreSQL data source; the tables must exist there.
* pandas: GE's pandas data source over a DataFrame (the benchmark's baseline).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .suite_spec import Suite, parse_age

log = logging.getLogger(__name__)
ENGINES = ("duckdb", "spark", "postgres", "pandas")


@dataclass
class CheckOutcome:
    """One check's verdict, engine-independent."""

    name: str
    expect: str
    dimension: str
    weight: float
    column: str | None
    success: bool
    element_count: int | None = None
    unexpected_count: int | None = None
    missing_count: int | None = None
    observed_value: Any = None
    unexpected_keys: list[tuple] = field(default_factory=list)
    error: str | None = None

    @property
    def row_level(self) -> bool:
        return self.unexpected_count is not None and self.element_count is not None

    @property
    def pass_rate(self) -> float:
        """Share of rows that pass (row checks) or 1/0 (table checks, or an error)."""
        if self.error:
            return 0.0
        unexpected, rows = self.unexpected_count, self.element_count
        if unexpected is not None and rows:  # row_level, over some rows
            return max(0.0, 1.0 - unexpected / rows)
        return 1.0 if self.success else 0.0


def open_duckdb(path: str | Path, read_only: bool = True):
    """A DuckDB connection to ``path``. In a process that already holds the file with other
    settings (a read-write Workbench), DuckDB refuses a second configuration: try both."""
    import duckdb

    with contextlib.suppress(duckdb.Error):
        return duckdb.connect(str(path), read_only=read_only)
    return duckdb.connect(str(path), read_only=not read_only)


def context(docs_dir: str | Path | None = None):
    import great_expectations as gx

    from . import expectations  # noqa: F401  registers the custom expectations

    ctx = gx.get_context(mode="ephemeral")
    try:  # progress bars are noise in logs, tests and notebooks
        from great_expectations.data_context.types.base import ProgressBarsConfig

        ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    except Exception:  # noqa: S110  older GE releases lack the setting; progress bars are only cosmetic
        pass
    if docs_dir:
        ctx.add_data_docs_site(
            site_name="workbench",
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(Path(docs_dir).resolve()),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    return ctx


def ge_suite(spec: Suite, now: dt.datetime | None = None):
    """The GE ExpectationSuite for a suite spec; check name/dimension/weight go into meta."""
    import great_expectations as gx

    from .expectations import build_expectation

    now = now or dt.datetime.now()
    suite = gx.ExpectationSuite(name=spec.suite)
    for c in spec.checks:
        kwargs = dict(c.kwargs)
        expect = c.expect
        if c.dimension == "freshness" and c.max_age:
            # newest value no older than max_age, relative to the run's clock
            kwargs.setdefault("min_value", now - parse_age(c.max_age))
            expect = c.expect or "expect_column_max_to_be_between"
        suite.add_expectation(
            build_expectation(
                expect, kwargs, {"name": c.name, "dimension": c.dimension, "weight": c.weight}
            )
        )
    return suite


_TABLE_REF = re.compile(
    r'(?i)\b(?:from|join)\s+"?([A-Za-z_][A-Za-z0-9_]*)"?(?:\s*\.\s*"?([A-Za-z_][A-Za-z0-9_]*)"?)?'
)


def referenced_tables(sql: str) -> list[tuple[str | None, str]]:
    """(schema, table) pairs a target SQL reads, for registering Spark views."""
    out = []
    for a, b in _TABLE_REF.findall(sql):
        ref = (a, b) if b else (None, a)
        if ref not in out:
            out.append(ref)
    return out


def spark_dataframe(spec: Suite, warehouse: str | Path, spark=None, parquet_dir: str | None = None):
    """The suite's rows as a Spark DataFrame: parquet exports of the warehouse tables, and the
    target SQL (if any) run by Spark SQL."""
    from ..engines.spark_engine import SparkEngine, spark_session

    spark = spark or spark_session()
    eng = SparkEngine(warehouse=str(warehouse), parquet_dir=parquet_dir)
    t = spec.target
    if t.table:
        return spark.read.parquet(str(eng.parquet_path(t.table, t.schema_)))
    sql = t.sql or ""  # not a table, so SQL: a target has one or the other
    for schema, table in referenced_tables(sql):
        try:
            path = eng.parquet_path(table, schema)
        except Exception:  # noqa: S112  a CTE or subquery alias, not a table
            continue  # a CTE or subquery alias, not a table
        view = f"{schema}__{table}" if schema else table
        spark.read.parquet(str(path)).createOrReplaceTempView(view)
    return spark.sql(sql)


def run_suite(
    spec: Suite,
    engine: str,
    *,
    warehouse: str | Path | None = None,
    dataframe=None,
    postgres_url: str | None = None,
    duckdb_connection=None,
    result_format: str = "COMPLETE",
    docs_dir: str | Path | None = None,
    now: dt.datetime | None = None,
    run_name: str | None = None,
    pushdown: bool = True,
    spark_persist: bool = True,
) -> tuple[list[CheckOutcome], Any]:
    """Validate ``spec`` on ``engine`` with GE. Returns the outcomes and GE's validation result.

    On DuckDB, ``pushdown`` (default) runs GE's failing-row counts as filtered counts
    (:class:`.ge_duckdb.DuckDBExecutionEngine`); ``pushdown=False`` uses GE's plain SQL engine.
    On Spark, ``spark_persist=False`` stops GE from caching the DataFrame: better for a frame
    larger than Spark's memory, which GE's cache would spill to disk and read back per metric.

    ``result_format="COMPLETE"`` also returns the keys of every failing row (for quarantine);
    ``"SUMMARY"`` only counts them (cheaper: no per-check row queries).
    """
    import great_expectations as gx

    if engine not in ENGINES:
        raise ValueError(f"unknown engine '{engine}' (one of {', '.join(ENGINES)})")
    ctx = context(docs_dir)
    root = None
    t = spec.target
    batch_parameters: dict[str, Any] | None = None
    if engine in ("duckdb", "postgres"):
        if engine == "duckdb":
            import duckdb_engine

            if duckdb_connection is None:
                if warehouse is None:
                    raise ValueError("validating on DuckDB needs a warehouse path")
                root = open_duckdb(warehouse, read_only=True)
            from .ge_duckdb import DuckDBConnection, DuckDBDatasource  # noqa: F401  registers the type

            src = root or duckdb_connection
            # DuckDBConnection stands in for the DuckDB connection (a duck-typed wrapper, see it).
            creator = lambda: duckdb_engine.ConnectionWrapper(DuckDBConnection(src))  # type: ignore[arg-type]  # noqa: E731
            ds_kwargs = dict(
                name="warehouse",
                connection_string="duckdb:///:memory:",
                kwargs={"creator": creator},
            )
            # DuckDBDatasource registers itself with GE as type "workbench_duckdb"
            ds = (
                ctx.data_sources.add_workbench_duckdb(**ds_kwargs)
                if pushdown
                else ctx.data_sources.add_sql(**ds_kwargs)
            )
        else:
            url = postgres_url or "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
            ds = ctx.data_sources.add_postgres(
                name="warehouse", connection_string=sqlalchemy_url(url)
            )
        if t.table:
            asset = ds.add_table_asset(name=spec.suite, table_name=t.table, schema_name=t.schema_)
        else:
            asset = ds.add_query_asset(name=spec.suite, query=(t.sql or "").strip().rstrip(";"))
        bd = asset.add_batch_definition_whole_table("all")
    else:
        if dataframe is None:
            if engine == "spark":
                if warehouse is None:
                    raise ValueError("validating on Spark needs a warehouse (or a dataframe)")
                dataframe = spark_dataframe(spec, warehouse)
            else:
                if warehouse is None:
                    raise ValueError(f"validating on {engine} needs a warehouse (or a dataframe)")
                con = open_duckdb(warehouse, read_only=True)
                try:
                    dataframe = con.execute(f"SELECT * FROM {t.from_sql()}").df()
                finally:
                    con.close()
        ds = (
            ctx.data_sources.add_spark(name="warehouse", persist=spark_persist)
            if engine == "spark"
            else ctx.data_sources.add_pandas(name="warehouse")
        )
        asset = ds.add_dataframe_asset(name=spec.suite)
        bd = asset.add_batch_definition_whole_dataframe("all")
        batch_parameters = {"dataframe": dataframe}
    suite = ctx.suites.add(ge_suite(spec, now))
    vd = ctx.validation_definitions.add(
        gx.ValidationDefinition(name=run_name or spec.suite, data=bd, suite=suite)
    )
    rf: dict[str, Any] = {"result_format": result_format}
    if result_format == "COMPLETE":
        rf["unexpected_index_column_names"] = list(spec.key)
        rf["return_unexpected_index_query"] = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if docs_dir:
                from great_expectations.checkpoint import UpdateDataDocsAction

                cp = ctx.checkpoints.add(
                    gx.Checkpoint(
                        name=f"{spec.suite}_checkpoint",
                        validation_definitions=[vd],
                        actions=[UpdateDataDocsAction(name="data_docs", site_names=["workbench"])],
                        result_format=rf,
                    )
                )
                cp_result = cp.run(batch_parameters=batch_parameters)
                result = next(iter(cp_result.run_results.values()))
            else:
                result = vd.run(batch_parameters=batch_parameters, result_format=rf)
    finally:
        if root is not None:
            try:
                ds.get_engine().dispose()
            except Exception:  # noqa: S110  teardown: an engine that will not dispose holds nothing we can free
                pass
            root.close()
    return [_outcome(r, spec) for r in result.results], result


def sqlalchemy_url(url: str) -> str:
    """A libpq URL as SQLAlchemy wants it (GE and the runner's PostgreSQL reads go through
    SQLAlchemy, which needs the driver named)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


def _outcome(r, spec: Suite) -> CheckOutcome:
    cfg = r.expectation_config
    meta = cfg.meta or {}
    kw = cfg.kwargs
    res = r.result or {}
    column = kw.get("column") or (
        f"{kw.get('column_A')},{kw.get('column_B')}"
        if kw.get("column_A")
        else ",".join(kw.get("column_list") or []) or None
    )
    error = None
    if r.exception_info and r.exception_info.get("raised_exception"):
        error = r.exception_info.get("exception_message")
    else:
        for info in (r.exception_info or {}).values():
            if isinstance(info, dict) and info.get("raised_exception"):
                error = info.get("exception_message")
                break
    keys = []
    for item in res.get("unexpected_index_list") or []:
        if isinstance(item, dict):
            keys.append(tuple(_plain_value(item.get(k)) for k in spec.key))
    return CheckOutcome(
        name=meta.get("name", cfg.type),
        expect=cfg.type,
        dimension=meta.get("dimension", "validity"),
        weight=float(meta.get("weight", 1.0)),
        column=column,
        success=bool(r.success) and not error,
        element_count=res.get("element_count"),
        unexpected_count=res.get("unexpected_count"),
        missing_count=res.get("missing_count"),
        observed_value=_plain_value(res.get("observed_value")),
        unexpected_keys=keys,
        error=error,
    )


def _plain_value(v):
    if hasattr(v, "item") and not isinstance(v, (list, dict)):
        try:
            return v.item()
        except Exception:
            return v
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()
    if isinstance(v, list):
        return [_plain_value(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _plain_value(x) for k, x in v.items()}
    import decimal

    if isinstance(v, decimal.Decimal):
        return float(v)
    return v
