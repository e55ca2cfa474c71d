"""Metric history checks, like Deequ's repository + anomaly checks.

Each run records metrics of the rows it validated: the row count, every checked column's null
rate and, for numeric columns, mean, standard deviation and quantiles (p10..p90). The next run
compares its metrics with the previous run's and raises alerts on:

* a row-count jump: ``|n - n_prev| / n_prev > row_count_change`` (default 0.5);
* null-rate drift: ``|null_rate - null_rate_prev| > null_rate_change`` (default 0.05);
* distribution shift: the largest quantile move, in units of the previous run's p10-p90 range,
  ``max_q |q - q_prev| / (p90_prev - p10_prev) > distribution_shift`` (default 0.25).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .suite_spec import Suite

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
DEFAULTS = {"row_count_change": 0.5, "null_rate_change": 0.05, "distribution_shift": 0.25}
_NUMERIC = (
    "int",
    "decimal",
    "double",
    "float",
    "numeric",
    "real",
    "long",
    "short",
    "byte",
    "hugeint",
)


@dataclass
class Alert:
    kind: str
    column: str | None
    previous: float | None  # None: the metric had no value (a quantile of an all-null column)
    current: float | None
    threshold: float
    message: str


def checked_columns(spec: Suite) -> list[str]:
    cols: list[str] = []
    for c in spec.checks:
        kw = c.kwargs
        for k in ("column", "column_A", "column_B"):
            if kw.get(k) and kw[k] not in cols:
                cols.append(kw[k])
        for col in kw.get("column_list") or []:
            if col not in cols:
                cols.append(col)
    return cols


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _qs(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def metrics_sql(columns: dict[str, str], source: str, dialect: str) -> tuple[str, list[tuple]]:
    """One aggregate query computing every metric. Returns SQL and (metric, column) per output."""
    q = _qs if dialect == "spark" else _q
    parts = ["count(*)"]
    labels: list[tuple[str, str | None]] = [("row_count", None)]
    for col, typ in columns.items():
        parts.append(f"avg(case when {q(col)} is null then 1.0 else 0.0 end)")
        labels.append(("null_rate", col))
        if any(t in typ.lower() for t in _NUMERIC) and "interval" not in typ.lower():
            x = (
                f"cast({q(col)} as double)"
                if dialect != "postgres"
                else f"cast({q(col)} as double precision)"
            )
            parts += [f"avg({x})", f"stddev_samp({x})"]
            labels += [("mean", col), ("stddev", col)]
            for p in QUANTILES:
                if dialect == "duckdb":
                    parts.append(f"quantile_cont({x}, {p})")
                elif dialect == "spark":
                    parts.append(f"percentile_approx({x}, {p}, 10000)")
                else:
                    parts.append(f"percentile_cont({p}) within group (order by {x})")
                labels.append((f"p{int(p * 100)}", col))
    return f"SELECT {', '.join(parts)} FROM {source}", labels


def compute_metrics(
    spec: Suite,
    engine: str,
    *,
    duckdb_connection=None,
    spark_df=None,
    sa_engine=None,
    pandas_df=None,
) -> list[tuple[str, str | None, float | None]]:
    """[(metric, column, value)] for the suite's rows on the engine that validated them."""
    wanted = checked_columns(spec)
    if engine == "duckdb":
        src = spec.target.from_sql()
        types = {
            r[0]: r[1]
            for r in duckdb_connection.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()
        }
        sql, labels = metrics_sql({c: types[c] for c in wanted if c in types}, src, "duckdb")
        row = duckdb_connection.execute(sql).fetchone()
    elif engine == "spark":
        types = dict(spark_df.dtypes)
        spark_df.createOrReplaceTempView("_wb_quality_target")
        sql, labels = metrics_sql(
            {c: types[c] for c in wanted if c in types}, "_wb_quality_target", "spark"
        )
        row = spark_df.sparkSession.sql(sql).collect()[0]
    elif engine == "pandas":
        import duckdb

        con = duckdb.connect()
        con.register("_t", pandas_df)
        types = {r[0]: r[1] for r in con.execute("DESCRIBE SELECT * FROM _t").fetchall()}
        sql, labels = metrics_sql({c: types[c] for c in wanted if c in types}, "_t", "duckdb")
        row = con.execute(sql).fetchone()
        con.close()
    else:
        import sqlalchemy as sa

        src = spec.target.from_sql()
        with sa_engine.connect() as c:
            res = c.execute(sa.text(f"SELECT * FROM {src} LIMIT 0"))
            cols = list(res.keys())
            types = {}
            for col in cols:
                t = c.execute(
                    sa.text(f"SELECT pg_typeof({_q(col)})::text FROM {src} LIMIT 1")
                ).scalar()
                types[col] = t or "text"
            sql, labels = metrics_sql(
                {c2: types[c2] for c2 in wanted if c2 in types}, src, "postgres"
            )
            row = c.execute(sa.text(sql)).fetchone()
    out = []
    for (metric, col), v in zip(labels, row, strict=True):
        out.append((metric, col, None if v is None else float(v)))
    return out


def compare(
    current: list[tuple], previous: list[tuple], thresholds: dict[str, float]
) -> list[Alert]:
    """Alerts from this run's metrics against the previous run's."""
    th = {**DEFAULTS, **(thresholds or {})}
    prev = {(m, c): v for m, c, v in previous}
    cur = {(m, c): v for m, c, v in current}
    alerts: list[Alert] = []
    n0, n1 = prev.get(("row_count", None)), cur.get(("row_count", None))
    if n0 and n1 is not None:
        change = abs(n1 - n0) / n0
        if change > th["row_count_change"]:
            alerts.append(
                Alert(
                    "row_count_jump",
                    None,
                    n0,
                    n1,
                    th["row_count_change"],
                    f"row count moved {change:.0%} ({n0:,.0f} → {n1:,.0f})",
                )
            )
    for (m, col), v in cur.items():
        if m == "null_rate" and (m, col) in prev and v is not None and prev[(m, col)] is not None:
            d = abs(v - prev[(m, col)])
            if d > th["null_rate_change"]:
                alerts.append(
                    Alert(
                        "null_rate_drift",
                        col,
                        prev[(m, col)],
                        v,
                        th["null_rate_change"],
                        f"{col}: null rate {prev[(m, col)]:.2%} → {v:.2%}",
                    )
                )
    for col in sorted({c for (m, c) in cur if m == "p50" and c is not None}):
        p10, p90 = prev.get(("p10", col)), prev.get(("p90", col))
        if p10 is None or p90 is None:
            continue
        spread = (p90 - p10) or 1.0
        moves = []
        for q in QUANTILES:
            a, b = prev.get((f"p{int(q * 100)}", col)), cur.get((f"p{int(q * 100)}", col))
            if a is not None and b is not None:
                moves.append(abs(b - a) / abs(spread))
        shift = max(moves) if moves else 0.0
        if shift > th["distribution_shift"] and not math.isnan(shift):
            alerts.append(
                Alert(
                    "distribution_shift",
                    col,
                    prev.get(("p50", col)),
                    cur.get(("p50", col)),
                    th["distribution_shift"],
                    f"{col}: quantiles moved by up to {shift:.2f}× the previous p10-p90 range "
                    f"(median {prev.get(('p50', col)):,.4g} → {cur.get(('p50', col)):,.4g})",
                )
            )
    return alerts
