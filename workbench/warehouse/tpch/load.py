"""Loading TPC-H parquet into DuckDB: into an open connection, or as a whole database file."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from .generate import (
    expected_row_counts,
    file_lock,
    parquet_files,
    parquet_paths,
    progress_bar,
)
from .schema import COLUMNS, TpchError, duckdb_path, sf_label


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def load_into(
    con,
    paths: Mapping[str, Path],
    *,
    schema: str | None = None,
    progress: bool = True,
) -> None:
    """Create (or replace) the TPC-H tables in an open DuckDB connection from parquet ``paths``.

    ``schema`` puts them in that schema (created if missing) instead of the default one, e.g. to
    add TPC-H to an existing warehouse file. Column names are checked against :data:`COLUMNS`.
    """
    prefix = ""
    if schema:
        con.execute(f"create schema if not exists {_quote_ident(schema)}")
        prefix = _quote_ident(schema) + "."
    with progress_bar(progress) as bar:
        task = bar.add_task("Loading TPC-H into DuckDB", total=len(paths))
        for table, location in paths.items():
            bar.update(task, description=f"Loading TPC-H into DuckDB: {table}")
            source = [str(f) for f in parquet_files(Path(location))]
            con.execute(
                f"create or replace table {prefix}{_quote_ident(table)} as "
                "select * from read_parquet(?)",
                [source],
            )
            got = [
                r[0]
                for r in con.execute(
                    f"select column_name from (describe {prefix}{_quote_ident(table)})"
                ).fetchall()
            ]
            want = list(COLUMNS.get(table, {}))
            if want and got != want:
                raise TpchError(f"unexpected columns in {table}: {got} (expected {want})")
            bar.advance(task)


def _duckdb_ok(path: Path, expected_rows: Mapping[str, int]) -> bool:
    import duckdb

    con = None
    # This process may already hold the file open read-write (DuckDB refuses a second
    # connection with other settings), so try both modes before declaring the file unusable.
    for read_only in (True, False):
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.Error:
            continue
    if con is None:
        return False
    try:
        for table, rows in expected_rows.items():
            got = con.execute(f"select count(*) from {_quote_ident(table)}").fetchone()
            if got is None or got[0] != rows:
                return False
        return True
    except duckdb.Error:
        return False
    finally:
        con.close()


def build_duckdb(
    sf: float | int | str,
    path: str | os.PathLike | None = None,
    *,
    parquet: str | os.PathLike | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Build a DuckDB file holding the eight TPC-H tables at scale factor ``sf``; return its path.

    ``path`` defaults to ``.workbench/tpch_sf<SF>.duckdb`` and ``parquet`` (the parquet cache
    directory) to ``.workbench/tpch/sf<SF>/``; the parquet is generated if missing. An existing
    file whose tables have the expected row counts is reused unless ``overwrite``. The file is
    built under a temporary name and renamed into place, so readers never see it half-loaded.
    """
    import duckdb

    label = sf_label(sf)
    target = Path(path) if path is not None else duckdb_path(label)
    paths = parquet_paths(label, parquet, progress=progress)
    expected = expected_row_counts(paths)
    if not overwrite and target.exists() and _duckdb_ok(target, expected):
        return target

    with file_lock(target):
        if not overwrite and target.exists() and _duckdb_ok(target, expected):
            return target
        tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
        for leftover in (tmp, Path(f"{tmp}.wal")):
            leftover.unlink(missing_ok=True)
        try:
            con = duckdb.connect(str(tmp))
            try:
                load_into(con, paths, progress=progress)
                con.execute("checkpoint")
            finally:
                con.close()
            os.replace(tmp, target)
            Path(f"{target}.wal").unlink(missing_ok=True)
        except BaseException:
            for leftover in (tmp, Path(f"{tmp}.wal")):
                leftover.unlink(missing_ok=True)
            raise
    return target
