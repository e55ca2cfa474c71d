"""Build the same small warehouse on every registered engine, for engine-agnostic tests.

A test describes its tables once, as DuckDB column types and Python rows; `EngineTarget.connect`
loads them where the engine reads data and opens the semantic layer on it:
- duckdb: a DuckDB file in the test's tmp dir;
- postgres: a fresh schema (dropped at the end of the session) in database `test` on 127.0.0.1;
- spark: parquet written by DuckDB, read by the one shared Spark session of the process.

A table set loaded once is reused by later `connect` calls with the same tables (a session
shares one load per engine; the workbenches are read-only). PostgreSQL is reached through one
psycopg2 connection per session; Spark through the one session of the process
(`workbench.engines.spark_engine.spark_session`).

`engine_params()` and the `engine` fixture below are what tests/conftest.py exposes to every
area: one param per engine registered in the `workbench.engines` entry points, marked `services`
(postgres) or `spark`; tests/support/engine_marks.py turns `notimpl`/`notyet` marks into strict
expected failures per engine.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest

import workbench

PG_HOST, PG_PORT, PG_DB = "127.0.0.1", 5432, "test"

# DuckDB column type -> PostgreSQL column type; anything else is written as given
PG_TYPES = {
    "integer": "integer",
    "int": "integer",
    "bigint": "bigint",
    "double": "double precision",
    "varchar": "text",
    "date": "date",
    "timestamp": "timestamp",
    "boolean": "boolean",
}

Tables = dict[str, tuple[list[tuple[str, str]], list[tuple]]]  # name -> ([(col, type)], rows)


def duckdb_file(path: Path, tables: Tables) -> Path:
    con = duckdb.connect(str(path))
    try:
        load_duckdb(con, tables)
    finally:
        con.close()
    return path


def load_duckdb(con, tables: Tables) -> None:
    """Create and fill `tables` on a DuckDB connection (also the oracle's loader)."""
    for name, (cols, rows) in tables.items():
        con.execute(f'create table "{name}" ({", ".join(f"{c} {t}" for c, t in cols)})')
        if rows:
            con.executemany(f'insert into "{name}" values ({", ".join("?" * len(cols))})', rows)


# what the shared test warehouse builder can load, and the mark each engine's param carries
BUILDERS = ("duckdb", "postgres", "spark")
PARAM_MARKS = {"postgres": [pytest.mark.services], "spark": [pytest.mark.spark]}


def engine_params() -> list:
    """One pytest param per registered engine (`workbench.engines` entry points), not a list kept
    here: a new engine is tested as soon as it is registered, and fails strictly until this
    module can build its warehouse."""
    from workbench.engines.base import available_engines

    out = []
    for name in available_engines():
        marks = list(PARAM_MARKS.get(name, []))
        if name not in BUILDERS:
            marks.append(
                pytest.mark.xfail(
                    strict=True,
                    raises=NotImplementedError,
                    reason=f"no test warehouse builder for engine '{name}'",
                )
            )
        out.append(pytest.param(name, marks=marks, id=name))
    return out


@pytest.fixture(scope="session", params=engine_params())
def engine(request, tmp_path_factory):
    """An `EngineTarget` for one registered engine, shared by the whole session:
    `engine.connect(tables, models_dir, principal, principals_file, **connect_overrides)`.

    A missing prerequisite (PostgreSQL down, pyspark absent) skips on a laptop and fails on CI,
    by the suite's one rule (`skip_or_fail_missing`)."""
    skip_or_fail = request.getfixturevalue("skip_or_fail_missing")
    if request.param == "postgres":
        try:
            socket.create_connection((PG_HOST, PG_PORT), timeout=1).close()
        except OSError as e:
            skip_or_fail(f"PostgreSQL is not reachable on {PG_HOST}:{PG_PORT} ({e})")
    if request.param == "spark":
        try:
            import pyspark  # noqa: F401
        except ImportError as e:
            skip_or_fail(f"pyspark is not importable ({e})")
    target = EngineTarget(request.param, tmp_path_factory.mktemp(f"engine_{request.param}"))
    yield target
    target.cleanup()


def tables_key(tables: Tables) -> str:
    """The content of a table set: equal tables are loaded once per engine."""
    return hashlib.sha256(repr(sorted(tables.items())).encode()).hexdigest()[:16]


@dataclass
class EngineTarget:
    """One engine under test; `connect` gives a Workbench over the given tables."""

    name: str
    tmp: Path
    _schemas: list[str] = field(default_factory=list)
    _count: itertools.count = field(default_factory=itertools.count)
    _loaded: dict[str, object] = field(default_factory=dict)
    _pg: object = None

    def connect(
        self, tables: Tables, models_dir: Path, principal, principals_file: Path, **overrides
    ):
        """A Workbench on this engine over `tables` (loaded on first use), as `principal`.
        `overrides` go to `workbench.connect` (e.g. `cache="memory"`); the default is no cache."""
        common = dict(
            models_dir=models_dir,
            principal=principal,
            cache="none",
            principals_file=principals_file,
        )
        common.update(overrides)
        if self.name not in BUILDERS:
            raise NotImplementedError(f"no test warehouse builder for engine '{self.name}'")
        key = tables_key(tables)
        if key not in self._loaded:
            self._loaded[key] = self._load(tables)
        where = self._loaded[key]
        if self.name == "duckdb":
            return workbench.connect(warehouse=where, read_only=True, **common)
        if self.name == "postgres":
            return workbench.connect(engine="postgres", url=where, **common)
        # no warehouse file on purpose: the Spark engine would re-export stale parquet
        return workbench.connect(
            warehouse=Path(where).parent / "absent.duckdb",
            engine="spark",
            parquet_dir=where,
            **common,
        )

    def _load(self, tables: Tables):
        work = self.tmp / f"wh{next(self._count)}"
        work.mkdir(parents=True)
        if self.name == "duckdb":
            return duckdb_file(work / "wh.duckdb", tables)
        if self.name == "postgres":
            return self._postgres(tables)
        parquet = work / "parquet"
        parquet.mkdir()
        con = duckdb.connect()
        try:
            load_duckdb(con, tables)
            for name in tables:
                # our own identifiers and tmp path, not user text
                con.execute(
                    f"copy \"{name}\" to '{parquet / (name + '.parquet')}' (format parquet)"
                )
        finally:
            con.close()
        return parquet

    def pg_connection(self):
        """The session's one psycopg2 connection to database `test` (created when absent)."""
        if self._pg is None:
            import psycopg2

            admin = psycopg2.connect(host=PG_HOST, port=PG_PORT, user="postgres", dbname="postgres")
            try:
                admin.autocommit = True
                with admin.cursor() as cur:
                    cur.execute("select 1 from pg_database where datname = %s", (PG_DB,))
                    if cur.fetchone() is None:
                        cur.execute(f'create database "{PG_DB}"')
            finally:
                admin.close()
            self._pg = psycopg2.connect(host=PG_HOST, port=PG_PORT, user="postgres", dbname=PG_DB)
        return self._pg

    def pg_schema(self) -> tuple[str, str]:
        """A fresh schema in database `test` (dropped at the end of the session) and the
        workbench URL that reads it: for fixtures that load their own data (e.g. TPC-H)."""
        schema = f"wb_t_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        con = self.pg_connection()
        with con, con.cursor() as cur:
            cur.execute(f"create schema {schema}")
        self._schemas.append(schema)
        return schema, f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{PG_DB}/{schema}"

    def _postgres(self, tables: Tables) -> str:
        schema, url = self.pg_schema()
        con = self.pg_connection()
        with con, con.cursor() as cur:
            for name, (cols, rows) in tables.items():
                ddl = ", ".join(f"{c} {PG_TYPES.get(t.lower(), t)}" for c, t in cols)
                cur.execute(f'create table {schema}."{name}" ({ddl})')
                if rows:
                    cur.executemany(
                        f'insert into {schema}."{name}" values ({", ".join(["%s"] * len(cols))})',
                        rows,
                    )
        return url

    def cleanup(self) -> None:
        if self._pg is None:
            return
        con, self._pg = self._pg, None
        try:
            with con, con.cursor() as cur:
                for schema in self._schemas:
                    cur.execute(f"drop schema if exists {schema} cascade")
        finally:
            con.close()
        self._schemas.clear()
