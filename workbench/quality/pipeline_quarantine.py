"""Rows quarantined by the streaming pipelines' quality gate, read where people look.

The gate (``workbench/streaming/quality_gate.py``) writes ``stream_quarantine`` (or the table a
pipeline's ``quality.quarantine_table`` names): the row key, silver table, the checks the row
failed, the batch that found it, the row as judged (``row_data``) and, once a later change of
the key passed, was deleted or failed again, when and why it was released. Silver keeps every
row; gold skips the active entries. Nothing here writes.

* :func:`quarantine_tables`   the gate tables in a warehouse (found by their columns);
* :func:`pipeline_quarantine` their entries, active ones only by default;
* :func:`failing_checks`      per pipeline, table and check: rows actively quarantined, with a
                              few sample rows (the same columns as ``scores.failing_checks``).
"""

from __future__ import annotations

import json

import pandas as pd

_GATE_COLUMNS = (
    "pipeline",
    "silver_table",
    "table_name",
    "row_key",
    "failed_checks",
    "batch_id",
    "released_at",
    "release_reason",
)
COLUMNS = [
    "pipeline",
    "table_name",
    "silver_table",
    "row_key",
    "failed_checks",
    "batch_id",
    "position",
    "quarantined_at",
    "released_at",
    "release_reason",
    "row_data",
    "quarantine_table",
]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quarantine_tables(con) -> list[str]:
    """Tables of the current schema that have the pipeline quarantine's columns."""
    rows = con.execute(
        "SELECT table_name FROM information_schema.columns WHERE table_schema = current_schema() "
        f"AND column_name IN ({', '.join('?' for _ in _GATE_COLUMNS)}) GROUP BY table_name "
        "HAVING count(DISTINCT column_name) = ? ORDER BY table_name",
        [*_GATE_COLUMNS, len(_GATE_COLUMNS)],
    ).fetchall()
    return [r[0] for r in rows]


def pipeline_quarantine(
    con,
    *,
    active: bool = True,
    pipeline: str | None = None,
    table: str | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """Entries of every pipeline quarantine table, newest first. ``active``: only rows still
    quarantined (gold skips them); False adds released entries with their release reason."""
    parts = []
    for t in quarantine_tables(con):
        has_data = con.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = ? AND "
            "table_schema = current_schema() AND column_name = 'row_data'",
            [t],
        ).fetchone()[0]
        parts.append(
            f"SELECT pipeline, table_name, silver_table, row_key, failed_checks, batch_id, position, "
            f"quarantined_at, released_at, release_reason, {'row_data' if has_data else 'NULL'} AS row_data, "
            f"'{t}' AS quarantine_table FROM {_q(t)}"
        )
    if not parts:
        return pd.DataFrame(columns=COLUMNS)
    where, params = [], []
    if active:
        where.append("released_at IS NULL")
    if pipeline:
        where.append("pipeline = ?")
        params.append(pipeline)
    if table:
        where.append("(table_name = ? OR silver_table = ?)")
        params += [table, table]
    sql = (
        f"SELECT * FROM ({' UNION ALL '.join(parts)})"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + " ORDER BY quarantined_at DESC, row_key"
        + (f" LIMIT {int(limit)}" if limit else "")
    )
    return con.execute(sql, params).df()


def failing_checks(con, samples: int = 3) -> pd.DataFrame:
    """Per pipeline gate check with active quarantine entries: ``suite`` ('pipeline <name>'),
    ``check``, ``failing_rows`` (active), ``checked_rows`` (rows now in silver), ``fail_rate``,
    ``sample_rows`` (JSON text of up to ``samples`` rows as judged) and ``run_id`` (the latest
    batch that quarantined a row for it)."""
    q = pipeline_quarantine(con, active=True)
    cols = [
        "suite",
        "check",
        "failing_rows",
        "fail_rate",
        "dimension",
        "column",
        "expectation",
        "checked_rows",
        "observed",
        "error",
        "sample_rows",
        "run_id",
    ]
    if q.empty:
        return pd.DataFrame(columns=cols)
    q = q.explode("failed_checks").rename(columns={"failed_checks": "check"})
    out = []
    for (pipeline, table, silver, check), g in q.groupby(
        ["pipeline", "table_name", "silver_table", "check"], sort=True
    ):
        try:
            checked = con.execute(f"SELECT count(*) FROM {_q(silver)}").fetchone()[0]
        except Exception:  # noqa: BLE001  silver renamed or dropped since
            checked = None
        g = g.sort_values("row_key")
        sample = [
            _row(k, d) for k, d in zip(g.row_key[:samples], g.row_data[:samples], strict=True)
        ]
        out.append(
            {
                "suite": f"pipeline {pipeline}",
                "check": check,
                "failing_rows": len(g),
                "fail_rate": len(g) / checked if checked else None,
                "dimension": None,
                "column": None,
                "expectation": None,
                "checked_rows": checked,
                "observed": f"{table}: {len(g)} row(s) quarantined by the pipeline gate",
                "error": None,
                "sample_rows": json.dumps(sample, default=str),
                "run_id": g.sort_values("quarantined_at").batch_id.iloc[-1],
            }
        )
    return pd.DataFrame(out, columns=cols)


def _row(key: str, data) -> dict:
    if isinstance(data, str) and data:
        try:
            return json.loads(data)
        except ValueError:
            pass
    try:
        return {"row_key": json.loads(key)}
    except (TypeError, ValueError):
        return {"row_key": key}
