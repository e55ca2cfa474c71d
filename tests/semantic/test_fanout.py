"""Fan-out and chasm traps: sums never double count. Expected values are worked out by hand
from the fixture in conftest.py (comments show the arithmetic), on every registered engine."""

import duckdb
import pytest


@pytest.fixture
def shop(engine_shop):
    """Every test here runs on each registered engine: `shop` is the shop on the engine under
    test (conftest.engine_shop), not the DuckDB-only one."""
    return engine_shop


def _naive(shop_db, sql):
    with duckdb.connect(str(shop_db), read_only=True) as con:
        return dict(con.execute(sql).fetchall())


def test_naive_join_would_double_count(shop_db):
    # the trap is real: orders 1 and 5 have two lines each, so a plain join counts them twice
    naive = _naive(
        shop_db,
        """
        select s.region, sum(o.amount) from orders o join stores s using (store_id)
        join order_lines l using (order_id) group by 1""",
    )
    assert naive == {"North": 400.0, "South": 420.0}


def test_revenue_with_units_by_region_does_not_fan_out(shop):
    df = shop.query("shop", ["revenue", "units"], ["region"], order=["region"]).df
    # North: orders 1,2,4,6 = 100+50+30+120 = 300; South: 3,5,7 = 200+70+80 = 350
    assert df["revenue"].tolist() == [300.0, 350.0]
    # units North: 2+1 (o1) +1 (o2) +1 (o4) +3 (o6) = 8; South: 4 (o3) +1+1 (o5) +2 (o7) = 8
    assert df["units"].tolist() == [8.0, 8.0]
    # and revenue alone gives the same figures: adding a measure never changes another
    alone = shop.query("shop", ["revenue"], ["region"], order=["region"]).df
    assert alone["revenue"].tolist() == [300.0, 350.0]


def test_revenue_by_line_dimension_is_deduplicated(shop):
    # revenue of orders containing each product, each order counted once per product:
    # A in orders 1,2,4,6 = 300; B in 1,3,5 = 370; C in 5,7 = 150
    df = shop.query("shop", ["revenue", "order_count"], ["product"], order=["product"]).df
    assert df["revenue"].tolist() == [300.0, 370.0, 150.0]
    assert df["order_count"].tolist() == [4, 3, 2]


def test_total_revenue_filtered_by_line_dimension(shop):
    # orders having a product A line: 1,2,4,6 -> 300, never 1's amount twice
    df = shop.query("shop", ["revenue"], [], where=["product = 'A'"]).df
    assert df["revenue"].tolist() == [300.0]


def test_chasm_trap_two_facts_share_a_dimension(shop):
    # revenue (orders) and refunds (returns -> orders) by customer region, two aggregates joined:
    # North customers 100,102: orders 1,2,4,6,7 = 380, no refunds; South (101): 3,5 = 270, refund 200
    df = shop.query(
        "shop", ["revenue", "refunds"], ["customer_region"], order=["customer_region"]
    ).df
    assert df["revenue"].tolist() == [380.0, 270.0]
    assert df["refunds"].fillna(0).tolist() == [0.0, 200.0]


def test_measures_from_three_models_without_dimensions(shop):
    df = shop.query("shop", ["revenue", "units", "refunds"], []).df
    # units: 2+1+1+4+1+1+1+3+2 = 16 (= 8 North + 8 South); one refund of 200
    assert df.iloc[0].tolist() == [650.0, 16.0, 200.0]
