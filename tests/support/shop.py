"""A tiny semantic namespace on a temp DuckDB file, shared by the alerting tests (``shop``:
orders per minute/hour by region).  The HTTP / SMTP receivers are in tests/support/receivers.py."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

SHOP_YML = """
label: Shop
description: tiny test namespace
version: 1
models:
  - name: sales
    label: Sales
    description: orders per minute and region
    table: sales
    default_time_dimension: minute
    dimensions:
      - name: minute
        type: time
        column: ts
        label: Minute
      - name: region
        type: categorical
        column: region
        label: Region
    measures:
      - name: orders
        label: Orders
        agg: sum
        expr: n
      - name: revenue
        label: Revenue
        agg: sum
        expr: amount
    metrics:
      - name: aov
        type: ratio
        numerator: revenue
        denominator: orders
        label: AOV
"""


def make_shop(
    tmp: Path,
    hours: int = 24 * 21,
    start: str = "2026-01-01",
    seed: int = 0,
    drop: tuple[str, str, str] | None = None,
) -> tuple[Path, Path]:
    """A warehouse with hourly rows per region (North, South) following a daily cycle.

    ``drop=(region, from, to)`` removes that region's rows in [from, to): an outage that shows
    only as *missing rows*, as in real query results."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range(start, periods=hours, freq="h")
    rows = []
    for region, base in (("North", 40.0), ("South", 25.0)):
        level = base * (1 + 0.5 * np.sin(2 * np.pi * (idx.hour - 6) / 24))
        n = rng.poisson(level)
        for t, k in zip(idx, n, strict=True):
            rows.append((t, region, int(k), float(k) * 20.0))
    df = pd.DataFrame(rows, columns=["ts", "region", "n", "amount"])
    if drop:
        r, a, b = drop
        df = df[~((df.region == r) & (df.ts >= a) & (df.ts < b))]
    wh = tmp / "shop.duckdb"
    models = tmp / "models"
    models.mkdir(exist_ok=True)
    (models / "shop.yml").write_text(SHOP_YML)
    con = duckdb.connect(str(wh))
    con.register("df", df)
    con.execute("create or replace table sales as select * from df")
    con.close()
    return wh, models


def shop_from_rows(tmp: Path, rows: list[tuple], model_yml: str = SHOP_YML):
    """A connected workbench over a hand-written ``sales`` table: rows of (ts, region, n, amount)
    with the given model (the insight tests' hand-computed cases)."""
    import workbench

    (tmp / "models").mkdir()
    (tmp / "models" / "shop.yml").write_text(model_yml)
    con = duckdb.connect(str(tmp / "w.duckdb"))
    con.execute("create table sales(ts timestamp, region varchar, n integer, amount double)")
    con.executemany(
        "insert into sales values (?,?,?,?)",
        [(pd.Timestamp(t).to_pydatetime(), r, n, a) for t, r, n, a in rows],
    )
    con.close()
    return workbench.connect(warehouse=tmp / "w.duckdb", models_dir=tmp / "models", cache="none")


def append_rows(wh: Path, rows: list[tuple]) -> None:
    con = duckdb.connect(str(wh))
    con.executemany("insert into sales values (?, ?, ?, ?)", rows)
    con.close()
