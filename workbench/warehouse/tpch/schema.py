"""TPC-H names, column types, scale-factor labels and default cache paths.

Column types are kept exactly as tpchgen-cli writes them (keys BIGINT/INTEGER, money and
quantities DECIMAL(15,2), dates DATE, text VARCHAR), which are the types the TPC-H spec asks for;
:data:`COLUMNS` records them and the load checks the column names against it.
"""

from __future__ import annotations

import os
from decimal import Decimal, InvalidOperation
from pathlib import Path

# Generation order: small tables first, so progress moves early.
TABLES: tuple[str, ...] = (
    "region",
    "nation",
    "supplier",
    "customer",
    "part",
    "partsupp",
    "orders",
    "lineitem",
)

# What tpchgen-cli 4.x writes, as DuckDB reads it. The semantic model (semantic/tpch.yml) and
# the oracle queries depend on these names.
COLUMNS: dict[str, dict[str, str]] = {
    "region": {"r_regionkey": "BIGINT", "r_name": "VARCHAR", "r_comment": "VARCHAR"},
    "nation": {
        "n_nationkey": "BIGINT",
        "n_name": "VARCHAR",
        "n_regionkey": "BIGINT",
        "n_comment": "VARCHAR",
    },
    "supplier": {
        "s_suppkey": "BIGINT",
        "s_name": "VARCHAR",
        "s_address": "VARCHAR",
        "s_nationkey": "BIGINT",
        "s_phone": "VARCHAR",
        "s_acctbal": "DECIMAL(15,2)",
        "s_comment": "VARCHAR",
    },
    "customer": {
        "c_custkey": "BIGINT",
        "c_name": "VARCHAR",
        "c_address": "VARCHAR",
        "c_nationkey": "BIGINT",
        "c_phone": "VARCHAR",
        "c_acctbal": "DECIMAL(15,2)",
        "c_mktsegment": "VARCHAR",
        "c_comment": "VARCHAR",
    },
    "part": {
        "p_partkey": "BIGINT",
        "p_name": "VARCHAR",
        "p_mfgr": "VARCHAR",
        "p_brand": "VARCHAR",
        "p_type": "VARCHAR",
        "p_size": "INTEGER",
        "p_container": "VARCHAR",
        "p_retailprice": "DECIMAL(15,2)",
        "p_comment": "VARCHAR",
    },
    "partsupp": {
        "ps_partkey": "BIGINT",
        "ps_suppkey": "BIGINT",
        "ps_availqty": "INTEGER",
        "ps_supplycost": "DECIMAL(15,2)",
        "ps_comment": "VARCHAR",
    },
    "orders": {
        "o_orderkey": "BIGINT",
        "o_custkey": "BIGINT",
        "o_orderstatus": "VARCHAR",
        "o_totalprice": "DECIMAL(15,2)",
        "o_orderdate": "DATE",
        "o_orderpriority": "VARCHAR",
        "o_clerk": "VARCHAR",
        "o_shippriority": "INTEGER",
        "o_comment": "VARCHAR",
    },
    "lineitem": {
        "l_orderkey": "BIGINT",
        "l_partkey": "BIGINT",
        "l_suppkey": "BIGINT",
        "l_linenumber": "INTEGER",
        "l_quantity": "DECIMAL(15,2)",
        "l_extendedprice": "DECIMAL(15,2)",
        "l_discount": "DECIMAL(15,2)",
        "l_tax": "DECIMAL(15,2)",
        "l_returnflag": "VARCHAR",
        "l_linestatus": "VARCHAR",
        "l_shipdate": "DATE",
        "l_commitdate": "DATE",
        "l_receiptdate": "DATE",
        "l_shipinstruct": "VARCHAR",
        "l_shipmode": "VARCHAR",
        "l_comment": "VARCHAR",
    },
}

MANIFEST = "_manifest.json"
DEFAULT_ROOT = Path(".workbench")


class TpchError(RuntimeError):
    """Generating or loading TPC-H data failed."""


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
