"""The shop models give the same answers on every registered engine as on DuckDB, the reference
(the former PostgreSQL-only test_engines_services.py, now parametrised over the registry).

On DuckDB itself `test_same_results_as_duckdb` compares two connections to the same file: a
check of the comparison, not of an engine; every other engine is compared with DuckDB.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

import workbench

from .conftest import MODELS, PRINCIPALS


@pytest.fixture
def shop(engine_shop):
    """The shop on the engine under test (conftest.engine_shop)."""
    return engine_shop


def norm(v):
    if v is None or v is pd.NaT or v is pd.NA:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, (pd.Timestamp, dt.datetime)):
        return (
            pd.Timestamp(v).tz_localize(None).to_pydatetime()
            if pd.Timestamp(v).tzinfo
            else pd.Timestamp(v).to_pydatetime()
        )
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
    "fan-out revenue and units by region": dict(
        metrics=["revenue", "units"], dimensions=["region"]
    ),
    "revenue by product (one-to-many dedup)": dict(metrics=["revenue"], dimensions=["product"]),
    "ratio aov by status": dict(metrics=["aov", "order_count"], dimensions=["status"]),
    "derived revenue per buyer": dict(metrics=["revenue_per_buyer"]),
    "measure filter and metric filter": dict(
        metrics=["completed_revenue", "north_revenue"], dimensions=["amount_band"]
    ),
    "month grain": dict(metrics=["revenue"], dimensions=["order_date__month"]),
    "filter and order": dict(
        metrics=["revenue"],
        dimensions=["store"],
        where=["status != 'cancelled'"],
        order=["-revenue"],
    ),
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
    """The reference: the shop on DuckDB, no cache."""
    wb = workbench.connect(
        warehouse=shop_db,
        models_dir=MODELS,
        principal=PRINCIPALS["admin"],
        read_only=True,
        principals_file=MODELS / "none.yml",
        cache="none",
    )
    yield wb
    wb.close()


def test_the_workbench_runs_on_the_engine_under_test(shop, engine):
    assert shop.engine.name == engine.name
    assert "from" in shop.query("shop", metrics=["revenue"]).sql().lower()


def test_ratio_by_region(shop):
    df = shop.query("shop", metrics=["aov"], dimensions=["region"]).df
    assert rows(df) == [("North", 75.0), ("South", round(350 / 3, 6))]


def test_row_policy(shop):
    north = shop.as_principal(PRINCIPALS["north"])
    df = north.query("shop", metrics=["revenue"], dimensions=["region"]).df
    assert rows(df) == [("North", 300.0)]
    ids = north.query("shop", dimensions=["order_id"]).df["order_id"]
    assert set(ids) == {1, 2, 4, 6}
    assert shop.as_principal(PRINCIPALS["noattr"]).query("shop", dimensions=["order_id"]).df.empty


def test_mask(shop):
    df = (
        shop.as_principal(PRINCIPALS["analyst"])
        .query("shop", dimensions=["email"], distinct=True)
        .df
    )
    assert list(df["email"]) == ["****"]
    assert (
        shop.as_principal(PRINCIPALS["analyst"])
        .query("shop", dimensions=["customer_id"], where=["email = 'ann@x.com'"])
        .df.empty
    )


@pytest.mark.parametrize("name,who", list(cases()))
def test_same_results_as_duckdb(shop, duck, name, who):
    p = PRINCIPALS[who]
    want = duck.as_principal(p).query("shop", **QUERIES[name]).df
    got = shop.as_principal(p).query("shop", **QUERIES[name]).df
    assert list(got.columns) == list(want.columns)
    assert rows(got) == rows(want)
    if QUERIES[name].get("order"):
        assert [norm(v) for v in got.iloc[:, -1]] == [norm(v) for v in want.iloc[:, -1]]
