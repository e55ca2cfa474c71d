"""Where quality runs live: tables in the DuckDB warehouse.

DuckDB lets one process hold the file for writing, so every write opens the file, writes in one
transaction and closes it again.

* ``quality_runs``        one row per run (suite, engine, verdict, score, data docs)
* ``quality_results``     one row per check and run
* ``quality_quarantine``  failing rows: key, the checks they failed, the run, the row itself.
                          Source rows are never deleted.
* ``quality_scores``      overall and per-dimension scores with their breakdown (history)
* ``quality_metrics``     row count, null rates, distributions per run (history checks)
* ``quality_alerts``      what the history checks found
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pandas as pd

DDL = {
    "quality_runs": """run_id VARCHAR, suite VARCHAR, target VARCHAR, engine VARCHAR,
        started_at TIMESTAMP, seconds DOUBLE, success BOOLEAN, checks INTEGER, failed_checks INTEGER,
        rows BIGINT, quarantined BIGINT, score DOUBLE, data_docs VARCHAR""",
    "quality_results": """run_id VARCHAR, suite VARCHAR, check_name VARCHAR, expectation VARCHAR,
        column_name VARCHAR, dimension VARCHAR, weight DOUBLE, success BOOLEAN, element_count BIGINT,
        unexpected_count BIGINT, missing_count BIGINT, observed_value VARCHAR, error VARCHAR""",
    "quality_quarantine": """run_id VARCHAR, suite VARCHAR, target VARCHAR, row_key VARCHAR,
        failed_checks VARCHAR[], occurrences INTEGER, row_data VARCHAR, quarantined_at TIMESTAMP""",
    "quality_scores": """run_id VARCHAR, suite VARCHAR, target VARCHAR, dimension VARCHAR, score DOUBLE,
        weight DOUBLE, breakdown VARCHAR, computed_at TIMESTAMP""",
    "quality_metrics": """run_id VARCHAR, suite VARCHAR, target VARCHAR, metric VARCHAR,
        column_name VARCHAR, value DOUBLE, computed_at TIMESTAMP""",
    "quality_alerts": """run_id VARCHAR, suite VARCHAR, target VARCHAR, kind VARCHAR, column_name VARCHAR,
        previous DOUBLE, current DOUBLE, threshold DOUBLE, message VARCHAR, raised_at TIMESTAMP""",
}


@contextlib.contextmanager
def writer(warehouse: str | Path, connection=None):
    """A read-write connection for one batch of writes; ``connection`` reuses the caller's."""
    if connection is not None:
        cur = connection.cursor()
        try:
            yield cur
        finally:
            cur.close()
        return
    import duckdb

    con = duckdb.connect(str(warehouse))
    try:
        yield con
    finally:
        con.close()


def ensure_tables(con) -> None:
    for name, cols in DDL.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({cols})")


def append(con, table: str, rows: list[dict]) -> None:
    if not rows:
        return
    df = pd.DataFrame(rows)
    cols = [c.split()[0] for c in (" ".join(DDL[table].split())).split(", ")]
    df = df.reindex(columns=cols)
    con.register("_q_rows", df)
    try:
        con.execute(f"INSERT INTO {table} SELECT {', '.join(cols)} FROM _q_rows")
    finally:
        con.unregister("_q_rows")


def read(
    warehouse: str | Path, sql: str, params: list | None = None, connection=None
) -> pd.DataFrame:
    """Read quality tables (read-only; empty frame if they don't exist yet)."""
    from .ge_runtime import open_duckdb

    con = connection.cursor() if connection is not None else open_duckdb(warehouse, read_only=True)
    try:
        return con.execute(sql, params or []).df()
    except Exception as e:
        if "does not exist" in str(e):
            return pd.DataFrame()
        raise
    finally:
        con.close()


def dumps(v) -> str | None:
    return None if v is None else json.dumps(v, default=str)
