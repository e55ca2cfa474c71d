"""The shop models on PostgreSQL give the same answers as on DuckDB (marker: services).

The fixture tables are loaded into their own schema of the `workbench_test` database (created
when absent), so nothing else living in that database is touched.
"""
from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

import workbench
import workbench.semantic.errors

from .conftest import CUSTOMERS, LINES, MODELS, ORDERS, PRINCIPALS, RETURNS, STORES
from .services import require_service

pytestmark = pytest.mark.services

HOST, PORT, DB = "127.0.0.1", 5432, "workbench_test"
SCHEMA = "wb_semantic_shop"
URL = f"postgresql://postgres@{HOST}:{PORT}/{DB}/{SCHEMA}"


DDL = {
    "stores": "store_id int, name text, region text",
    "customers": "customer_id int, name text, email text, region text",
    "orders": "order_id int, customer_id int, store_id int, ordered_at timestamp, "
              "amount double precision, status text",
    "order_lines": "order_id int, line_no int, product text, qty int, line_amount double precision",
    "returns": "return_id int, order_id int, returned_at timestamp, refund double precision",
}
ROWS = {"stores": STORES, "customers": CUSTOMERS, "orders": ORDERS, "order_lines": LINES,
        "returns": RETURNS}


@pytest.fixture(scope="module")
def pg_shop():
    require_service("PostgreSQL", HOST, PORT)
    import psycopg2
    admin = psycopg2.connect(host=HOST, port=PORT, user="postgres", dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("select 1 from pg_database where datname = %s", (DB,))
        if cur.fetchone() is None:
            cur.execute(f'create database "{DB}"')
    admin.close()
    con = psycopg2.connect(host=HOST, port=PORT, user="postgres", dbname=DB)
    with con, con.cursor() as cur:
        cur.execute(f"drop schema if exists {SCHEMA} cascade")
        cur.execute(f"create schema {SCHEMA}")
        for table, cols in DDL.items():
            cur.execute(f"create table {SCHEMA}.{table} ({cols})")
            rows = ROWS[table]
            cur.executemany(f"insert into {SCHEMA}.{table} values "
                            f"({', '.join(['%s'] * len(rows[0]))})", rows)
    con.close()
    yield URL


@pytest.fixture(scope="module")
def pg(pg_shop):
    wb = workbench.connect(engine="postgres", url=pg_shop, models_dir=MODELS,
                           principal=PRINCIPALS["admin"], cache="none",
                           principals_file=MODELS / "none.yml")
    yield wb
    wb.close()


def norm(v):
    if v is None or v is pd.NaT or v is pd.NA:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, (pd.Timestamp, dt.datetime)):
        return pd.Timestamp(v).tz_localize(None).to_pydatetime() if pd.Timestamp(v).tzinfo \
            else pd.Timestamp(v).to_pydatetime()
    if isinstance(v, dt.date):
        return dt.datetime(v.year, v.month, v.day)
    if hasattr(v, "item") and not isinstance(v, str):
        v = v.item()
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return round(float(v), 6)
    return v


def rows(df: pd.DataFrame) -> list[tuple]:
    return sorted((tuple(norm(v) for v in r) for r in df.itertuples(index=False)), key=repr)


QUERIES = {
    "revenue by region": dict(metrics=["revenue"], dimensions=["region"]),
    "fan-out revenue and units by region": dict(metrics=["revenue", "units"],
                                                dimensions=["region"]),
    "revenue by product (one-to-many dedup)": dict(metrics=["revenue"], dimensions=["product"]),
    "ratio aov by status": dict(metrics=["aov", "order_count"], dimensions=["status"]),
    "derived revenue per buyer": dict(metrics=["revenue_per_buyer"]),
    "measure filter and metric filter": dict(metrics=["completed_revenue", "north_revenue"],
                                             dimensions=["amount_band"]),
    "month grain": dict(metrics=["revenue"], dimensions=["order_date__month"]),
    "filter and order": dict(metrics=["revenue"], dimensions=["store"],
                             where=["status != 'cancelled'"], order=["-revenue"]),
    "detail across models": dict(dimensions=["order_id", "store", "customer_region", "email"]),
    "median": dict(metrics=["median_amount"], dimensions=["region"]),
}
WHO = ["admin", "north", "south", "noattr", "analyst"]

def cases():
    for name in sorted(QUERIES):
        for who in WHO:
            yield pytest.param(name, who, id=f"{name}-{who}")


@pytest.fixture(scope="module")
def duck(shop_db):
    wb = workbench.connect(warehouse=shop_db, models_dir=MODELS, principal=PRINCIPALS["admin"],
                           read_only=True, principals_file=MODELS / "none.yml", cache="none")
    yield wb
    wb.close()


def test_engine_is_postgres(pg):
    assert pg.engine.name == "postgres"
    assert "from" in pg.query("shop", metrics=["revenue"]).sql().lower()


def test_revenue_by_region(pg):
    df = pg.query("shop", metrics=["revenue"], dimensions=["region"], order=["region"]).df
    assert rows(df) == [("North", 300.0), ("South", 350.0)]


def test_fan_out_revenue_and_units_by_region(pg):
    df = pg.query("shop", metrics=["revenue", "units"], dimensions=["region"]).df
    assert rows(df) == [("North", 300.0, 8.0), ("South", 350.0, 8.0)]


def test_ratio(pg):
    df = pg.query("shop", metrics=["aov"], dimensions=["region"]).df
    assert rows(df) == [("North", 75.0), ("South", round(350 / 3, 6))]


def test_row_policy(pg):
    north = pg.as_principal(PRINCIPALS["north"])
    df = north.query("shop", metrics=["revenue"], dimensions=["region"]).df
    assert rows(df) == [("North", 300.0)]
    ids = north.query("shop", dimensions=["order_id"]).df["order_id"]
    assert set(ids) == {1, 2, 4, 6}
    assert pg.as_principal(PRINCIPALS["noattr"]).query("shop", dimensions=["order_id"]).df.empty


def test_mask_on_postgres(pg):
    df = pg.as_principal(PRINCIPALS["analyst"]).query("shop", dimensions=["email"],
                                                      distinct=True).df
    assert list(df["email"]) == ["****"]
    assert pg.as_principal(PRINCIPALS["analyst"]).query(
        "shop", dimensions=["customer_id"], where=["email = 'ann@x.com'"]).df.empty


@pytest.mark.parametrize("name,who", list(cases()))
def test_same_results_as_duckdb(pg, duck, name, who):
    p = PRINCIPALS[who]
    want = duck.as_principal(p).query("shop", **QUERIES[name]).df
    got = pg.as_principal(p).query("shop", **QUERIES[name]).df
    assert list(got.columns) == list(want.columns)
    assert rows(got) == rows(want)
    if QUERIES[name].get("order"):
        assert [norm(v) for v in got.iloc[:, -1]] == [norm(v) for v in want.iloc[:, -1]]
