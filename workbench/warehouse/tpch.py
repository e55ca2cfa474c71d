"""TPC-H benchmark data at any scale factor.

The data comes from ``tpchgen-cli`` (the Rust port of ``dbgen``; same rows, much faster). It is
generated once per scale factor as parquet under ``.workbench/tpch/sf<SF>/`` and loaded into a
DuckDB file ``.workbench/tpch_sf<SF>.duckdb``. DuckDB reads the database file; the Spark engine
reads the parquet directly (see :func:`parquet_paths`).

Column types are kept exactly as tpchgen-cli writes them (keys BIGINT/INTEGER, money and
quantities DECIMAL(15,2), dates DATE, text VARCHAR), which are the types the TPC-H spec asks for;
:data:`COLUMNS` records them and the load checks the column names against it.

Shell: ``python -m workbench.warehouse.tpch --sf 1``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path

__all__ = [
    "COLUMNS",
    "TABLES",
    "TpchError",
    "build_duckdb",
    "duckdb_path",
    "find_tpchgen_cli",
    "generate_parquet",
    "load_into",
    "parquet_dir",
    "parquet_paths",
    "sf_label",
]

# Generation order: small tables first, so progress moves early.
TABLES: tuple[str, ...] = (
    "region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem",
)

# What tpchgen-cli 4.x writes, as DuckDB reads it. The semantic model (semantic/tpch.yml) and
# the oracle queries depend on these names.
COLUMNS: dict[str, dict[str, str]] = {
    "region": {"r_regionkey": "BIGINT", "r_name": "VARCHAR", "r_comment": "VARCHAR"},
    "nation": {
        "n_nationkey": "BIGINT", "n_name": "VARCHAR", "n_regionkey": "BIGINT",
        "n_comment": "VARCHAR",
    },
    "supplier": {
        "s_suppkey": "BIGINT", "s_name": "VARCHAR", "s_address": "VARCHAR",
        "s_nationkey": "BIGINT", "s_phone": "VARCHAR", "s_acctbal": "DECIMAL(15,2)",
        "s_comment": "VARCHAR",
    },
    "customer": {
        "c_custkey": "BIGINT", "c_name": "VARCHAR", "c_address": "VARCHAR",
        "c_nationkey": "BIGINT", "c_phone": "VARCHAR", "c_acctbal": "DECIMAL(15,2)",
        "c_mktsegment": "VARCHAR", "c_comment": "VARCHAR",
    },
    "part": {
        "p_partkey": "BIGINT", "p_name": "VARCHAR", "p_mfgr": "VARCHAR", "p_brand": "VARCHAR",
        "p_type": "VARCHAR", "p_size": "INTEGER", "p_container": "VARCHAR",
        "p_retailprice": "DECIMAL(15,2)", "p_comment": "VARCHAR",
    },
    "partsupp": {
        "ps_partkey": "BIGINT", "ps_suppkey": "BIGINT", "ps_availqty": "INTEGER",
        "ps_supplycost": "DECIMAL(15,2)", "ps_comment": "VARCHAR",
    },
    "orders": {
        "o_orderkey": "BIGINT", "o_custkey": "BIGINT", "o_orderstatus": "VARCHAR",
        "o_totalprice": "DECIMAL(15,2)", "o_orderdate": "DATE", "o_orderpriority": "VARCHAR",
        "o_clerk": "VARCHAR", "o_shippriority": "INTEGER", "o_comment": "VARCHAR",
    },
    "lineitem": {
        "l_orderkey": "BIGINT", "l_partkey": "BIGINT", "l_suppkey": "BIGINT",
        "l_linenumber": "INTEGER", "l_quantity": "DECIMAL(15,2)",
        "l_extendedprice": "DECIMAL(15,2)", "l_discount": "DECIMAL(15,2)",
        "l_tax": "DECIMAL(15,2)", "l_returnflag": "VARCHAR", "l_linestatus": "VARCHAR",
        "l_shipdate": "DATE", "l_commitdate": "DATE", "l_receiptdate": "DATE",
        "l_shipinstruct": "VARCHAR", "l_shipmode": "VARCHAR", "l_comment": "VARCHAR",
    },
}

MANIFEST = "_manifest.json"
DEFAULT_ROOT = Path(".workbench")


class TpchError(RuntimeError):
    """Generating or loading TPC-H data failed."""


# --------------------------------------------------------------------------- names and paths

def sf_label(sf: float | int | str) -> str:
    """Canonical text of a scale factor: ``0.01 -> "0.01"``, ``1.0 -> "1"``, ``"10" -> "10"``."""
    try:
        value = Decimal(str(sf))
    except InvalidOperation as exc:
        raise ValueError(f"scale factor must be a number, got {sf!r}") from exc
    if not value.is_finite() or value <= 0:
        raise ValueError(f"scale factor must be positive, got {sf!r}")
    text = format(value.normalize(), "f")
    return text


def parquet_dir(sf: float | int | str, root: str | os.PathLike | None = None) -> Path:
    """Default parquet cache directory for a scale factor: ``<root>/tpch/sf<SF>``."""
    return Path(root if root is not None else DEFAULT_ROOT) / "tpch" / f"sf{sf_label(sf)}"


def duckdb_path(sf: float | int | str, root: str | os.PathLike | None = None) -> Path:
    """Default DuckDB file for a scale factor: ``<root>/tpch_sf<SF>.duckdb``."""
    return Path(root if root is not None else DEFAULT_ROOT) / f"tpch_sf{sf_label(sf)}.duckdb"


def find_tpchgen_cli() -> Path:
    """The ``tpchgen-cli`` binary: next to the running interpreter (venvs), else on ``PATH``."""
    name = "tpchgen-cli.exe" if os.name == "nt" else "tpchgen-cli"
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("tpchgen-cli")
    if found:
        return Path(found)
    raise TpchError(
        "tpchgen-cli not found next to the Python interpreter or on PATH; "
        "install it with `pip install 'workbench[tpch]'` (package tpchgen-cli)"
    )


# --------------------------------------------------------------------------- helpers

@contextlib.contextmanager
def _file_lock(target: Path) -> Iterator[None]:
    """Serialise builders of the same target across processes (parallel test sessions)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    lock_path = target.parent / f".{target.name}.lock"
    with open(lock_path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _progress(enabled: bool):
    from rich.console import Console
    from rich.progress import (
        BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn,
    )

    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not enabled,
    )


def _tpchgen_version(binary: Path) -> str:
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "tpchgen-cli (unknown version)"
    return out.stdout.strip()


def _table_location(out_dir: Path, table: str, parts: int | None) -> Path:
    # tpchgen-cli's layout: one file per table, or a directory of parts with --parts.
    return out_dir / table if parts else out_dir / f"{table}.parquet"


def _parquet_files(location: Path) -> list[Path]:
    return sorted(location.glob("*.parquet")) if location.is_dir() else [location]


def _parquet_rows(location: Path) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(f).metadata.num_rows for f in _parquet_files(location))


def _read_manifest(out_dir: Path) -> dict | None:
    try:
        manifest = json.loads((out_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _manifest_ok(
    out_dir: Path, sf: str, tables: Iterable[str], parts: int | None | bool = False
) -> bool:
    """The cache at ``out_dir`` is complete for ``sf`` (and ``parts``, unless it is ``False``)."""
    manifest = _read_manifest(out_dir)
    if not manifest or manifest.get("scale_factor") != sf:
        return False
    if parts is not False and manifest.get("parts") != parts:
        return False
    entries = manifest.get("tables", {})
    return all(t in entries and (out_dir / entries[t]["path"]).exists() for t in tables)


# --------------------------------------------------------------------------- parquet

def _bytes_under(directory: Path) -> int:
    total = 0
    for f in directory.rglob("*"):
        with contextlib.suppress(OSError):
            total += f.stat().st_size
    return total


def _run_tpchgen(
    binary: Path, label: str, out: Path, *, parts: int | None, threads: int | None,
    progress: bool,
) -> None:
    # One invocation for all tables: each tpchgen-cli start costs ~1.5 s, so per-table runs
    # would multiply small builds' time by eight. Progress is the parquet written so far.
    cmd = [str(binary), "parquet", "-s", label, "-o", str(out), "--quiet", "--no-progress"]
    if parts:
        cmd += ["--parts", str(parts)]
    if threads:
        cmd += ["--num-threads", str(threads)]
    with _progress(progress) as bar:
        task = bar.add_task(f"TPC-H SF{label}: generating parquet", total=None)
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) as proc:
            try:
                while True:
                    try:
                        _, stderr = proc.communicate(timeout=0.25)
                        break
                    except subprocess.TimeoutExpired:
                        mb = _bytes_under(out) / 1e6
                        bar.update(task, description=f"TPC-H SF{label}: generating parquet "
                                                     f"({mb:,.1f} MB written)")
            except BaseException:
                proc.kill()
                raise
        if proc.returncode != 0:
            raise TpchError(
                f"tpchgen-cli failed at SF{label} (exit {proc.returncode}): {stderr.strip()}"
            )
        mb = _bytes_under(out) / 1e6
        bar.update(task, total=1, completed=1,
                   description=f"TPC-H SF{label}: parquet ready ({mb:,.1f} MB)")


def generate_parquet(
    sf: float | int | str,
    out_dir: str | os.PathLike | None = None,
    *,
    parts: int | None = None,
    threads: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Generate all eight TPC-H tables as parquet into ``out_dir`` and return it.

    ``out_dir`` defaults to ``.workbench/tpch/sf<SF>/``. Data already generated there (for the
    same scale factor) is reused unless ``overwrite``. ``parts`` splits each table into that many
    files under ``<out_dir>/<table>/`` (useful for Spark at large scale factors). Generation
    goes to a temporary sibling directory and is renamed into place when complete, so a crash
    never leaves a half-written cache, and a file lock lets parallel processes share one cache.
    """
    label = sf_label(sf)
    out = Path(out_dir) if out_dir is not None else parquet_dir(label)
    if parts is not None and parts < 1:
        raise ValueError(f"parts must be >= 1, got {parts}")
    if not overwrite and _manifest_ok(out, label, TABLES, parts):
        return out

    binary = find_tpchgen_cli()
    with _file_lock(out):
        if not overwrite and _manifest_ok(out, label, TABLES, parts):  # built meanwhile
            return out
        tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            _run_tpchgen(binary, label, tmp, parts=parts, threads=threads, progress=progress)
            entries: dict[str, dict] = {}
            for table in TABLES:
                location = _table_location(tmp, table, parts)
                if not location.exists():
                    raise TpchError(f"tpchgen-cli wrote no output for {table} at {location}")
                entries[table] = {"path": location.name, "rows": _parquet_rows(location)}
            manifest = {
                "scale_factor": label,
                "generator": _tpchgen_version(binary),
                "parts": parts,
                "tables": entries,
            }
            # Written last: its presence marks the directory complete.
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
            if out.exists():
                shutil.rmtree(out)
            os.replace(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return out


def parquet_paths(
    sf: float | int | str,
    out_dir: str | os.PathLike | None = None,
    *,
    generate: bool = True,
    progress: bool = True,
) -> dict[str, Path]:
    """``{table: path}`` of the parquet for a scale factor, generating it first if needed.

    A path is a ``.parquet`` file, or a directory of part files when generated with ``parts``
    (Spark's ``read.parquet`` takes either; for DuckDB use ``<dir>/*.parquet``).
    """
    label = sf_label(sf)
    out = Path(out_dir) if out_dir is not None else parquet_dir(label)
    if not _manifest_ok(out, label, TABLES):
        if not generate:
            raise TpchError(f"no TPC-H SF{label} parquet at {out}; run generate_parquet first")
        generate_parquet(label, out, progress=progress)
    manifest = _read_manifest(out)
    assert manifest is not None
    return {t: (out / manifest["tables"][t]["path"]).resolve() for t in TABLES}


def _expected_rows(paths: Mapping[str, Path]) -> dict[str, int]:
    out_dirs = {p.parent for p in paths.values()}
    if len(out_dirs) == 1:
        manifest = _read_manifest(next(iter(out_dirs)))
        if manifest:
            return {t: int(manifest["tables"][t]["rows"]) for t in paths}
    return {t: _parquet_rows(p) for t, p in paths.items()}


# --------------------------------------------------------------------------- duckdb

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
    with _progress(progress) as bar:
        task = bar.add_task("Loading TPC-H into DuckDB", total=len(paths))
        for table, location in paths.items():
            bar.update(task, description=f"Loading TPC-H into DuckDB: {table}")
            source = [str(f) for f in _parquet_files(Path(location))]
            con.execute(
                f"create or replace table {prefix}{_quote_ident(table)} as "
                "select * from read_parquet(?)",
                [source],
            )
            got = [r[0] for r in con.execute(
                f"select column_name from (describe {prefix}{_quote_ident(table)})"
            ).fetchall()]
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
            got = con.execute(f"select count(*) from {_quote_ident(table)}").fetchone()[0]
            if got != rows:
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
    expected = _expected_rows(paths)
    if not overwrite and target.exists() and _duckdb_ok(target, expected):
        return target

    with _file_lock(target):
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


# --------------------------------------------------------------------------- shell

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m workbench.warehouse.tpch",
        description="Generate TPC-H data with tpchgen-cli and load it into DuckDB.",
    )
    parser.add_argument("--sf", default="1", help="scale factor (default 1)")
    parser.add_argument("--root", default=None, help="cache root (default .workbench)")
    parser.add_argument("--out", default=None,
                        help="DuckDB file (default <root>/tpch_sf<SF>.duckdb)")
    parser.add_argument("--parts", type=int, default=None, help="split each table into N files")
    parser.add_argument("--parquet-only", action="store_true", help="skip the DuckDB load")
    parser.add_argument("--overwrite", action="store_true", help="regenerate even if cached")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)

    try:
        pq_dir = generate_parquet(
            args.sf, parquet_dir(args.sf, args.root), parts=args.parts,
            overwrite=args.overwrite, progress=not args.quiet,
        )
        print(f"parquet: {pq_dir}")
        if not args.parquet_only:
            db = build_duckdb(
                args.sf, args.out or duckdb_path(args.sf, args.root), parquet=pq_dir,
                overwrite=args.overwrite, progress=not args.quiet,
            )
            print(f"duckdb:  {db}")
    except (TpchError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
