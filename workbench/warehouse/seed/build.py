"""Building the retail demo warehouse: draw every table (:func:`generate`), then write them into
one DuckDB file, replaced atomically (:func:`build_demo_warehouse`); :func:`main` is the shell entry.

The tables are drawn by concern: :mod:`.catalog` (reference data and customers),
:mod:`.calendar` (seasonality, expected orders), :mod:`.orders` (orders and lines),
:mod:`.incidents` (the labelled incidents) and :mod:`.finalize` (prices, amounts, returns,
payments: the warehouse tables).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from .calendar import Calendar, expected_orders, make_calendar
from .catalog import build_catalog, make_customers
from .finalize import finalize
from .incidents import (
    apply_outages,
    fraud_customers,
    fraud_orders,
    incidents_table,
    plan_incidents,
    pricing_error_orders,
)
from .orders import CustomerSampler, concat, draw_lines, draw_orders

__all__ = ["DEFAULT_PATH", "VERSION", "TABLES", "build_demo_warehouse", "history_bounds"]

DEFAULT_PATH = Path(".workbench") / "warehouse.duckdb"
VERSION = "1"
ORDERS_PER_DAY = 600  # average at scale 1.0: ~450k orders, ~1M lines over two years
CUSTOMERS = 80_000  # at scale 1.0

# Random streams: one per concern, so changing one generator never reshuffles the others.
STREAMS = {
    "catalog": 1,
    "calendar": 2,
    "customers": 3,
    "incidents": 4,
    "orders": 5,
    "lines": 6,
    "extra": 7,
    "finalize": 8,
}

MONEY = "DECIMAL(12,2)"
# Column types (columns named x__cents are integer cents, written as DECIMAL money named x).
TABLES: dict[str, dict] = {
    "regions": {
        "pk": ["region_id"],
        "types": {"region_id": "SMALLINT"},
        "comment": "Sales regions; every store and customer belongs to one.",
    },
    "stores": {
        "pk": ["store_id"],
        "types": {
            "store_id": "SMALLINT",
            "region_id": "SMALLINT",
            "opened_at": "DATE",
            "square_meters": "INTEGER",
        },
        "comment": "Physical stores and one fulfilment centre per region (serves digital orders).",
    },
    "channels": {
        "pk": ["channel_id"],
        "types": {"channel_id": "SMALLINT", "commission_rate": "DECIMAL(4,3)"},
        "comment": "Sales channels: store, online (web shop), mobile_app, marketplace.",
    },
    "categories": {
        "pk": ["category_id"],
        "types": {
            "category_id": "SMALLINT",
            "cost_ratio": "DECIMAL(4,2)",
            "expected_return_rate": "DECIMAL(4,2)",
        },
        "comment": "Product categories grouped in departments.",
    },
    "products": {
        "pk": ["product_id"],
        "types": {
            "product_id": "INTEGER",
            "category_id": "SMALLINT",
            "list_price": MONEY,
            "unit_cost": MONEY,
        },
        "comment": "Products with today's list price and unit cost (EUR).",
    },
    "customers": {
        "pk": ["customer_id"],
        "types": {"customer_id": "INTEGER", "region_id": "SMALLINT"},
        "comment": "Customers; name and email are PII.",
    },
    "orders": {
        "pk": ["order_id"],
        "types": {
            "order_id": "BIGINT",
            "customer_id": "INTEGER",
            "store_id": "SMALLINT",
            "channel_id": "SMALLINT",
            "region_id": "SMALLINT",
            "line_count": "SMALLINT",
        },
        "comment": "One row per order; net_amount = sum(order_lines.line_amount).",
    },
    "order_lines": {
        "pk": ["order_id", "line_no"],
        "types": {
            "order_id": "BIGINT",
            "line_no": "SMALLINT",
            "product_id": "INTEGER",
            "quantity": "INTEGER",
            "discount": "DECIMAL(4,2)",
            "returned_quantity": "INTEGER",
        },
        "comment": "Order lines; line_amount = round(quantity * unit_price * (1 - discount), 2).",
    },
    "returns": {
        "pk": ["return_id"],
        "types": {
            "return_id": "BIGINT",
            "order_id": "BIGINT",
            "line_no": "SMALLINT",
            "product_id": "INTEGER",
            "quantity": "INTEGER",
        },
        "comment": "One row per returned order line.",
    },
    "payments": {
        "pk": ["payment_id"],
        "types": {"payment_id": "BIGINT", "order_id": "BIGINT"},
        "comment": "One captured payment per non-cancelled order, for its net amount.",
    },
    "promotions": {
        "pk": ["promo_code"],
        "types": {
            "start_date": "DATE",
            "end_date": "DATE",
            "discount_pct": "SMALLINT",
            "volume_lift": "DECIMAL(4,2)",
        },
        "comment": "Planned promotions (known events, not incidents); end_date is exclusive.",
    },
    "holidays": {
        "pk": ["date"],
        "types": {"date": "DATE", "stores_close_hour": "SMALLINT"},
        "comment": "Public holidays: stores closed or closing early (known events, not incidents).",
    },
    "incidents": {
        "pk": ["incident_id"],
        "types": {"incident_id": "SMALLINT", "magnitude": "DOUBLE", "injected_orders": "INTEGER"},
        "comment": "Ground truth of injected incidents; end_ts is exclusive.",
    },
    "incident_orders": {
        "pk": ["order_id"],
        "types": {"incident_id": "SMALLINT", "order_id": "BIGINT"},
        "comment": "Orders added by an incident (pricing error bargain hunters, fraud).",
    },
    "warehouse_meta": {
        "pk": ["key"],
        "types": {},
        "comment": "How and when this warehouse was built.",
    },
}


def history_bounds(end: dt.date | dt.datetime | str | None = None) -> tuple[dt.date, dt.date]:
    """(start, end) dates of the history: orders fall in [start 00:00, end 00:00). The start is the
    first of the month two years before `end`, so there are at least two full years."""
    if end is None:
        end = dt.date.today()
    elif isinstance(end, str):
        end = dt.date.fromisoformat(end[:10])
    elif isinstance(end, dt.datetime):
        end = end.date()
    return dt.date(end.year - 2, end.month, 1), end


class _Steps:
    """Rich progress, or nothing."""

    def __init__(self, enabled: bool, total: int):
        self.progress = None
        if enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                TextColumn("[bold]seed[/] {task.description:<28}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                TimeElapsedColumn(),
                transient=False,
            )
            self.task = self.progress.add_task("starting", total=total)

    def __enter__(self):
        if self.progress:
            self.progress.start()
        return self

    def __exit__(self, *exc):
        if self.progress:
            self.progress.update(self.task, description="done")
            self.progress.stop()

    def step(self, description: str) -> None:
        if self.progress:
            self.progress.update(self.task, description=description, advance=1)


def generate(
    seed: int = 42, scale: float = 1.0, end=None, steps: _Steps | None = None
) -> dict[str, pd.DataFrame]:
    """All tables of the demo warehouse as DataFrames (money still in integer cents)."""
    steps = steps or _Steps(False, 0)
    start, end = history_bounds(end)

    def rng(name: str) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([seed, STREAMS[name]]))

    steps.step("calendar and catalog")
    cal = make_calendar(rng("calendar"), start, end)
    cat = build_catalog(rng("catalog"), cal.start_s, cal.end_s)
    customers = make_customers(
        rng("customers"), max(500, int(round(CUSTOMERS * scale))), cal.start_s, cal.end_s
    )
    incidents = plan_incidents(rng("incidents"), cal, cat)

    steps.step("orders")
    lam = expected_orders(cal, cat, ORDERS_PER_DAY * scale * len(cal.days))
    apply_outages(lam, cal, incidents)
    sampler = CustomerSampler(customers)
    orders = draw_orders(rng("orders"), cal, cat, sampler, lam)

    steps.step("incident orders")
    extra_rng = rng("extra")
    fcs = (
        cat.stores[cat.stores.store_type == "fulfilment_centre"]
        .sort_values("region_id")
        .store_id.to_numpy()
    )

    def store_for_region(region: np.ndarray) -> np.ndarray:
        return fcs[region]

    parts_o, parts_l = [orders], []
    lines_rng = rng("lines")
    parts_l.append(draw_lines(lines_rng, cal, cat, customers, orders))
    offset = len(orders["t"])
    for inc in incidents:
        if inc.kind == "pricing_error":
            o, ln = pricing_error_orders(extra_rng, inc, cat, sampler, scale, store_for_region)
        elif inc.kind == "fraud_burst":
            fraudsters = fraud_customers(extra_rng, inc, int(customers.customer_id.max()) + 1)
            customers = pd.concat([customers, fraudsters], ignore_index=True)
            o, ln = fraud_orders(extra_rng, inc, cat, fraudsters, scale, store_for_region)
        else:
            continue
        ln["order"] = ln["order"] + offset
        offset += len(o["t"])
        parts_o.append(o)
        parts_l.append(ln)

    steps.step("lines, returns, payments")
    tables = finalize(
        rng("finalize"), cal, cat, customers, concat(parts_o), concat(parts_l), incidents
    )
    steps.step("reference tables")
    tables.update(_reference_tables(cal, cat))
    tables["incidents"] = incidents_table(incidents)
    added = tables["incident_orders"].incident_id.value_counts()
    tables["incidents"]["injected_orders"] = (
        tables["incidents"].incident_id.map(added).fillna(0).astype(np.int64)
    )
    tables["warehouse_meta"] = pd.DataFrame(
        {
            "key": ["seed", "scale", "start", "end", "version"],
            "value": [str(seed), repr(float(scale)), start.isoformat(), end.isoformat(), VERSION],
        }
    )
    return tables


def _reference_tables(cal: Calendar, cat) -> dict[str, pd.DataFrame]:
    stores = cat.stores.copy()
    stores["opened_at"] = pd.to_datetime(stores.opened_at, unit="s").dt.date
    stores = stores[
        [
            "store_id",
            "store_name",
            "store_type",
            "city",
            "country",
            "country_code",
            "region_id",
            "region",
            "opened_at",
            "square_meters",
        ]
    ]
    products = cat.products.copy()
    products = products.assign(
        list_price__cents=np.round(products.list_price * 100).astype(np.int64),
        unit_cost__cents=np.round(products.unit_cost * 100).astype(np.int64),
    )
    products = products[
        [
            "product_id",
            "sku",
            "product_name",
            "brand",
            "category_id",
            "category",
            "list_price__cents",
            "unit_cost__cents",
        ]
    ]
    promos = cal.promotions[
        ["promo_code", "name", "start_date", "end_date", "discount_pct", "category", "volume_lift"]
    ]
    return {
        "regions": cat.regions,
        "stores": stores,
        "channels": cat.channels,
        "categories": cat.categories,
        "products": products,
        "promotions": promos,
        "holidays": cal.holidays.rename(columns={"holiday": "name"})[
            ["date", "name", "stores_closed", "stores_close_hour"]
        ],
    }


def _write(con: duckdb.DuckDBPyConnection, name: str, df: pd.DataFrame) -> None:
    """CREATE TABLE AS with explicit types. Keys are not declared as constraints: indexing them
    doubles both build time and file size, and the semantic models declare them anyway."""
    spec = TABLES[name]
    selects = []
    for col in df.columns:
        if col.endswith("__cents"):
            selects.append(f'CAST("{col}" / 100 AS {MONEY}) AS "{col[: -len("__cents")]}"')
        else:
            selects.append(
                f'CAST("{col}" AS {spec["types"].get(col) or _duck_type(df[col])}) AS "{col}"'
            )
    con.register("_seed_df", df)
    con.execute(f'CREATE TABLE "{name}" AS SELECT {", ".join(selects)} FROM _seed_df')
    con.unregister("_seed_df")
    con.execute(f"COMMENT ON TABLE \"{name}\" IS '{spec['comment'].replace(chr(39), chr(39) * 2)}'")


def _duck_type(s: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(s):
        return "BOOLEAN"
    if pd.api.types.is_integer_dtype(s):
        return "BIGINT"
    if pd.api.types.is_float_dtype(s):
        return "DOUBLE"
    if pd.api.types.is_datetime64_any_dtype(s):
        return "TIMESTAMP"
    if len(s) and isinstance(s.dropna().iloc[0] if s.notna().any() else None, dt.date):
        return "DATE"
    return "VARCHAR"


def build_demo_warehouse(
    path: str | os.PathLike | None = None,
    scale: float = 1.0,
    seed: int = 42,
    end: dt.date | dt.datetime | str | None = None,
    progress: bool = True,
) -> dict:
    """Build the retail demo warehouse into the DuckDB file `path` (replaced atomically).

    History: orders in [first of the month two years before `end`, `end` 00:00), `end` defaulting
    to today, so the last full day is yesterday. Returns a summary: path, seed, scale, start, end,
    seconds, bytes and the row count of every table.
    """
    path = Path(path) if path is not None else DEFAULT_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with _Steps(progress, total=5 + len(TABLES)) as steps:
        tables = generate(seed, scale, end, steps)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tables["warehouse_meta"] = pd.concat(
            [
                tables["warehouse_meta"],
                pd.DataFrame(
                    {
                        "key": ["built_at", "generator"],
                        "value": [
                            dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                            "workbench.warehouse.seed",
                        ],
                    }
                ),
            ],
            ignore_index=True,
        )
        con = duckdb.connect(str(tmp))
        try:
            for name in TABLES:
                steps.step(f"write {name}")
                _write(con, name, tables[name])
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(tmp, path)
    start, end_ = history_bounds(end)
    return {
        "path": str(path),
        "seed": seed,
        "scale": scale,
        "start": start.isoformat(),
        "end": end_.isoformat(),
        "seconds": round(time.perf_counter() - t0, 2),
        "bytes": path.stat().st_size,
        "rows": {name: len(df) for name, df in tables.items()},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="workbench seed", description="Build the retail demo warehouse."
    )
    ap.add_argument("--path", default=str(DEFAULT_PATH), help="DuckDB file to write (replaced)")
    ap.add_argument("--scale", type=float, default=1.0, help="1.0 ≈ 450k orders, 1M order lines")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument(
        "--end", default=None, help="YYYY-MM-DD, exclusive end of history (default: today)"
    )
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    info = build_demo_warehouse(
        args.path, scale=args.scale, seed=args.seed, end=args.end, progress=not args.quiet
    )
    rows = ", ".join(f"{k}={v:,}" for k, v in info["rows"].items())
    print(
        f"{info['path']}: {info['start']}..{info['end']} in {info['seconds']}s, "
        f"{info['bytes'] / 1e6:.1f} MB; {rows}"
    )
    return 0
