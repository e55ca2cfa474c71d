"""Build the same small warehouse on every registered engine, for engine-agnostic tests.

A test describes its tables once, as DuckDB column types and Python rows; `EngineTarget.connect`
loads them where the engine reads data and opens the semantic layer on it:
- duckdb: a DuckDB file in the test's tmp dir;
- postgres: a fresh schema (dropped at the end of the session) in database `test` on 127.0.0.1;
- spark: parquet written by DuckDB, read by the one shared Spark session of the process.

`tests/semantic/conftest.py` turns this into the `engine` fixture, parametrised over
`available_engines()`.
"""
from __future__ import annotations

import itertools
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

import workbench

PG_HOST, PG_PORT, PG_DB = "127.0.0.1", 5432, "test"

# DuckDB column type -> PostgreSQL column type; anything else is written as given
PG_TYPES = {"integer": "integer", "int": "integer", "bigint": "bigint", "double": "double precision",
            "varchar": "text", "date": "date", "timestamp": "timestamp", "boolean": "boolean"}

Tables = dict[str, tuple[list[tuple[str, str]], list[tuple]]]   # name -> ([(col, type)], rows)


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


@dataclass
class EngineTarget:
    """One engine under test; `connect` gives a Workbench over freshly loaded tables."""
    name: str
    tmp: Path
    _schemas: list[str] = field(default_factory=list)
    _count: itertools.count = field(default_factory=itertools.count)

    def connect(self, tables: Tables, models_dir: Path, principal, principals_file: Path):
        work = self.tmp / f"wh{next(self._count)}"
        work.mkdir(parents=True)
        common = dict(models_dir=models_dir, principal=principal, cache="none",
                      principals_file=principals_file)
        if self.name == "duckdb":
            return workbench.connect(warehouse=duckdb_file(work / "wh.duckdb", tables),
                                     read_only=True, **common)
        if self.name == "postgres":
            return workbench.connect(engine="postgres", url=self._postgres(tables), **common)
        if self.name == "spark":
            parquet = work / "parquet"
            parquet.mkdir()
            con = duckdb.connect()
            try:
                load_duckdb(con, tables)
                for name in tables:
                    # our own identifiers and tmp path, not user text
                    con.execute(f"copy \"{name}\" to '{parquet / (name + '.parquet')}' "
                                "(format parquet)")
            finally:
                con.close()
            # no warehouse file on purpose: the Spark engine would re-export stale parquet
            return workbench.connect(warehouse=work / "absent.duckdb", engine="spark",
                                     parquet_dir=parquet, **common)
        raise NotImplementedError(f"no test warehouse builder for engine '{self.name}'")

    def _postgres(self, tables: Tables) -> str:
        import psycopg2
        schema = f"wb_t_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        con = psycopg2.connect(host=PG_HOST, port=PG_PORT, user="postgres", dbname=PG_DB)
        try:
            with con, con.cursor() as cur:
                cur.execute(f"create schema {schema}")
                for name, (cols, rows) in tables.items():
                    ddl = ", ".join(f"{c} {PG_TYPES.get(t.lower(), t)}" for c, t in cols)
                    cur.execute(f'create table {schema}."{name}" ({ddl})')
                    if rows:
                        cur.executemany(f'insert into {schema}."{name}" values '
                                        f'({", ".join(["%s"] * len(cols))})', rows)
        finally:
            con.close()
        self._schemas.append(schema)
        return f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{PG_DB}/{schema}"

    def cleanup(self) -> None:
        if not self._schemas:
            return
        import psycopg2
        con = psycopg2.connect(host=PG_HOST, port=PG_PORT, user="postgres", dbname=PG_DB)
        try:
            with con, con.cursor() as cur:
                for schema in self._schemas:
                    cur.execute(f"drop schema if exists {schema} cascade")
        finally:
            con.close()
        self._schemas.clear()
