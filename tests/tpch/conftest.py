"""TPC-H fixtures: data built once per test session, the oracle's answers, and connections.

Scale factor: ``WORKBENCH_TPCH_SF`` (default 0.01). The parquet is cached in the repository's
``.workbench/tpch/`` (shared between sessions, guarded by a file lock); each session loads its
own DuckDB file under pytest's tmp dir, so parallel sessions never fight over a DuckDB lock.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from .oracle import OracleResult, run_official
from .semantic_queries import NAMES

REPO = Path(__file__).resolve().parents[2]
MODEL_FILE = REPO / "semantic" / "tpch.yml"


def pytest_collection_modifyitems(config, items):
    """TPC-H on Spark is `slow` (as the Spark twin of the oracle test was): `-m "not slow"`
    leaves it out, while DuckDB and PostgreSQL answer the same queries in a second or two."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if (
            item.path.parent == Path(__file__).parent
            and callspec is not None
            and callspec.params.get("engine") == "spark"
        ):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def tpch_sf() -> str:
    from workbench.warehouse.tpch import sf_label

    return sf_label(os.environ.get("WORKBENCH_TPCH_SF", "0.01"))


@pytest.fixture(scope="session")
def tpch_parquet(tpch_sf) -> Path:
    """Directory of the generated parquet (``<table>.parquet`` each)."""
    from workbench.warehouse.tpch import generate_parquet, parquet_dir

    cache_root = Path(os.environ.get("WORKBENCH_TPCH_CACHE", REPO / ".workbench"))
    return generate_parquet(tpch_sf, parquet_dir(tpch_sf, cache_root), progress=False)


@pytest.fixture(scope="session")
def tpch_duckdb(tpch_sf, tpch_parquet, tmp_path_factory) -> Path:
    """A DuckDB file with the eight TPC-H tables, private to this test session."""
    from workbench.warehouse.tpch import build_duckdb

    path = tmp_path_factory.mktemp("tpch") / f"tpch_sf{tpch_sf}.duckdb"
    return build_duckdb(tpch_sf, path, parquet=tpch_parquet, progress=False)


@pytest.fixture(scope="session")
def tpch_oracle(tpch_duckdb) -> dict[str, OracleResult]:
    """The official queries' answers, computed before anything else opens the file (DuckDB
    refuses a second connection to one file with a different read-only setting)."""
    import duckdb

    con = duckdb.connect(str(tpch_duckdb), read_only=True)
    try:
        out = {name: run_official(con, name) for name in NAMES}
    finally:
        con.close()
    # At small scale factors no line qualifies for Q17 and SQL's sum() over no rows is NULL; the
    # semantic layer's documented rule is that sums and counts of an existing group are 0
    # (docs/semantic-models.md, "Empty groups"), and a query without dimensions has one group.
    q17 = out["q17"]
    if q17.rows == ((None,),):
        out["q17"] = OracleResult(q17.name, q17.columns, ((0,),))
    return out


@pytest.fixture(scope="session")
def tpch_sql(tpch_duckdb):
    """Run reference SQL on the TPC-H file: ``tpch_sql(text) -> (columns, rows)``."""
    import duckdb

    con = duckdb.connect(str(tpch_duckdb), read_only=True)

    def run(text: str) -> tuple[tuple[str, ...], list[tuple]]:
        cur = con.cursor()
        try:
            cur.execute(text)
            return tuple(d[0] for d in cur.description), cur.fetchall()
        finally:
            cur.close()

    yield run
    con.close()


@pytest.fixture(scope="session")
def tpch_models_dir(tmp_path_factory) -> Path:
    """A models directory holding only tpch.yml, so other namespaces (work in progress in the
    same tree) cannot break these tests."""
    directory = tmp_path_factory.mktemp("tpch_models")
    shutil.copy(MODEL_FILE, directory / "tpch.yml")
    return directory


@pytest.fixture(scope="session")
def tpch_wb(tpch_duckdb, tpch_models_dir, tpch_oracle):
    """The semantic layer on DuckDB over the TPC-H file (after the oracle has run)."""
    import workbench

    # read-only, like the oracle's connection: DuckDB lets one process open a file twice only
    # with the same settings
    wb = workbench.connect(
        warehouse=tpch_duckdb, models_dir=tpch_models_dir, cache="none", read_only=True
    )
    yield wb
    close = getattr(wb, "close", None)
    if close:
        close()


@pytest.fixture(scope="session")
def tpch_wb_spark(tpch_parquet, tpch_models_dir, tpch_oracle, tmp_path_factory):
    """The semantic layer on Spark, reading the generated parquet directly."""
    import workbench

    # No warehouse file on purpose: given one, the Spark engine treats parquet older than the
    # warehouse as stale and re-exports it from DuckDB into parquet_dir (our shared cache).
    no_warehouse = tmp_path_factory.mktemp("tpch_spark") / "absent.duckdb"
    wb = workbench.connect(
        warehouse=no_warehouse,
        models_dir=tpch_models_dir,
        engine="spark",
        parquet_dir=tpch_parquet,
        cache="none",
    )
    yield wb
    close = getattr(wb, "close", None)
    if close:
        close()


@pytest.fixture(scope="session")
def tpch_wb_postgres(engine, tpch_parquet, tpch_models_dir, tpch_oracle, tmp_path_factory):
    """The semantic layer on PostgreSQL over the generated parquet, loaded with COPY into a
    fresh schema of the engine fixture's database (dropped at the end of the session)."""
    import duckdb

    import workbench

    schema, url = engine.pg_schema()
    con = engine.pg_connection()
    csv_dir = tmp_path_factory.mktemp("tpch_pg_csv")
    duck = duckdb.connect()
    try:
        for path in sorted(tpch_parquet.glob("*.parquet")):
            table, csv = path.stem, csv_dir / f"{path.stem}.csv"
            # our own file names and column types, not user text
            cols = duck.execute(f"describe select * from read_parquet('{path}')").fetchall()
            duck.execute(
                f"copy (select * from read_parquet('{path}')) to '{csv}' (format csv, header false)"
            )
            ddl = ", ".join(f'"{c[0]}" {c[1]}' for c in cols)
            with con, con.cursor() as cur, csv.open() as f:
                cur.execute(f'create table {schema}."{table}" ({ddl})')
                cur.copy_expert(f'copy {schema}."{table}" from stdin with (format csv)', f)
    finally:
        duck.close()
    wb = workbench.connect(engine="postgres", url=url, models_dir=tpch_models_dir, cache="none")
    yield wb
    wb.close()


@pytest.fixture(scope="session")
def tpch_on(engine, request):
    """The semantic layer over TPC-H on the engine under test (the `engine` fixture's param)."""
    builders = {"duckdb": "tpch_wb", "spark": "tpch_wb_spark", "postgres": "tpch_wb_postgres"}
    if engine.name not in builders:
        raise NotImplementedError(f"no TPC-H warehouse builder for engine '{engine.name}'")
    return request.getfixturevalue(builders[engine.name])
