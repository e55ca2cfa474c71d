"""TPC-H benchmark data at any scale factor.

The data comes from ``tpchgen-cli`` (the Rust port of ``dbgen``; same rows, much faster). It is
generated once per scale factor as parquet under ``.workbench/tpch/sf<SF>/`` and loaded into a
DuckDB file ``.workbench/tpch_sf<SF>.duckdb``. DuckDB reads the database file; the Spark engine
reads the parquet directly (see :func:`parquet_paths`).

Column types are kept exactly as tpchgen-cli writes them (keys BIGINT/INTEGER, money and
quantities DECIMAL(15,2), dates DATE, text VARCHAR), which are the types the TPC-H spec asks for;
:data:`COLUMNS` records them and the load checks the column names against it.

Shell: ``python -m workbench.warehouse.tpch --sf 1``.

The work is split by what it does: :mod:`.schema` (tables, column types, scale-factor labels
and default paths), :mod:`.generate` (tpchgen-cli to a parquet cache) and
:mod:`.load` (parquet into DuckDB). This package module is the public API and the shell entry
(``__main__`` runs :func:`main`).
"""

from __future__ import annotations

import argparse
import sys

from .generate import find_tpchgen_cli, generate_parquet, parquet_paths
from .load import build_duckdb, load_into
from .schema import (
    COLUMNS,
    DEFAULT_ROOT,
    MANIFEST,
    TABLES,
    TpchError,
    duckdb_path,
    parquet_dir,
    sf_label,
)

__all__ = [
    "COLUMNS",
    "DEFAULT_ROOT",
    "MANIFEST",
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m workbench.warehouse.tpch",
        description="Generate TPC-H data with tpchgen-cli and load it into DuckDB.",
    )
    parser.add_argument("--sf", default="1", help="scale factor (default 1)")
    parser.add_argument("--root", default=None, help="cache root (default .workbench)")
    parser.add_argument(
        "--out", default=None, help="DuckDB file (default <root>/tpch_sf<SF>.duckdb)"
    )
    parser.add_argument("--parts", type=int, default=None, help="split each table into N files")
    parser.add_argument("--parquet-only", action="store_true", help="skip the DuckDB load")
    parser.add_argument("--overwrite", action="store_true", help="regenerate even if cached")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)

    try:
        pq_dir = generate_parquet(
            args.sf,
            parquet_dir(args.sf, args.root),
            parts=args.parts,
            overwrite=args.overwrite,
            progress=not args.quiet,
        )
        print(f"parquet: {pq_dir}")
        if not args.parquet_only:
            db = build_duckdb(
                args.sf,
                args.out or duckdb_path(args.sf, args.root),
                parquet=pq_dir,
                overwrite=args.overwrite,
                progress=not args.quiet,
            )
            print(f"duckdb:  {db}")
    except (TpchError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
