"""Metric types, grains, time ranges, segments and detail queries, checked against hand sums,
on every registered engine."""

import datetime as dt

import pandas as pd
import pytest

from .conftest import PRINCIPALS, SHOP_TABLES

MONTHS = ["2024-01-01", "2024-02-01", "2024-03-01", "2025-01-01", "2025-02-01"]


@pytest.fixture
def shop(engine_shop):
    """Every test here runs on each registered engine: `shop` is the shop on the engine under
    test (conftest.engine_shop), not the DuckDB-only one."""
    return engine_shop


def _monthly(shop, metrics, **kw):
    df = shop.query(
        "shop", ["revenue", *metrics], ["order_date"], grain="month", order=["order_date"], **kw
    ).df
    return df


def test_monthly_revenue(shop):
    df = _monthly(shop, [])
    assert [str(d.date()) for d in df["order_date"]] == MONTHS
    assert df["revenue"].tolist() == [150.0, 230.0, 70.0, 120.0, 80.0]  # 100+50, 200+30, ...


def test_cumulative_and_rolling(shop):
    df = _monthly(shop, ["revenue_running", "revenue_2m"])
    assert df["revenue_running"].tolist() == [150.0, 380.0, 450.0, 570.0, 650.0]
    # rolling two *months*: Jan 2025's window is Dec 2024 (empty) + Jan 2025, not Mar 2024
    assert df["revenue_2m"].tolist() == [150.0, 380.0, 300.0, 120.0, 200.0]


def test_period_over_period(shop):
    df = _monthly(shop, ["revenue_pop", "revenue_yoy"])
    assert df["revenue_pop"].tolist()[1:3] == [150.0, 230.0]
    assert df["revenue_pop"].isna().tolist() == [True, False, False, True, False]
    assert df["revenue_pop"].iloc[4] == 120.0
    assert df["revenue_yoy"].tolist()[3:] == [120.0 - 150.0, 80.0 - 230.0]


def test_time_range_keeps_history_for_windows(shop):
    df = _monthly(shop, ["revenue_running", "revenue_pop"], time_range="2025")
    assert df["revenue"].tolist() == [120.0, 80.0]
    assert df["revenue_running"].tolist() == [570.0, 650.0]  # includes all of 2024
    assert df["revenue_pop"].iloc[1] == 120.0


def test_percent_of_total(shop):
    df = shop.query("shop", ["revenue", "revenue_share"], ["region"], order=["region"]).df
    assert df["revenue_share"].tolist() == pytest.approx([300 / 650, 350 / 650])


def test_ratio_simple_derived_median_and_measure_filter(shop):
    df = shop.query(
        "shop",
        ["aov", "north_revenue", "revenue_per_buyer", "median_amount", "completed_revenue"],
        ["amount_band"],
        order=["amount_band"],
    ).df
    large, small = df.iloc[0], df.iloc[1]
    # large: orders 1 (100), 3 (200), 6 (120) -> aov 420/3; buyers 100, 101
    assert large["aov"] == pytest.approx(140.0)
    assert large["revenue_per_buyer"] == pytest.approx(420 / 2)
    assert large["north_revenue"] == 220.0  # 1 and 6 are in North stores
    assert large["median_amount"] == 120.0
    assert large["completed_revenue"] == 220.0  # 3 was returned
    # small: 2 (50), 4 (30), 5 (70), 7 (80)
    assert small["aov"] == pytest.approx(57.5)
    assert small["median_amount"] == 60.0
    assert small["completed_revenue"] == 150.0


def test_grains_and_fiscal(shop):
    q = shop.query(
        "shop",
        ["revenue"],
        ["order_date__quarter", "region"],
        order=["order_date__quarter", "region"],
    ).df
    assert q["revenue"].tolist() == [180.0, 270.0, 120.0, 80.0]
    y = shop.query("shop", ["revenue"], ["order_date__year"], order=["order_date__year"]).df
    assert y["revenue"].tolist() == [450.0, 200.0]
    w = shop.query("shop", ["order_count"], ["order_date__week"], order=["order_date__week"]).df
    assert str(w["order_date__week"].iloc[0].date()) == "2024-01-01"  # Monday of ISO week 1


def test_time_ranges(shop):
    def rev(tr):
        return shop.query("shop", ["revenue"], [], time_range=tr).df["revenue"].iloc[0]

    assert rev("2024-Q1") == 450.0
    assert rev("2024-02") == 230.0
    assert rev("2024-01-01..2024-01-31") == 150.0
    today = dt.date(2025, 2, 20)
    last = shop.query("shop", ["revenue"], [], time_range="last 30 days", today=today).df
    assert last["revenue"].iloc[0] == 80.0  # only order 7 (2025-02-11)

    def last_30(today=None):
        df = shop.query("shop", ["revenue"], [], time_range="last 30 days", today=today).df
        return 0.0 if df.empty or pd.isna(df["revenue"].iloc[0]) else df["revenue"].iloc[0]

    # the 30 days end with `today` included: 2025-02-11 is the first of them on 2025-03-12,
    # gone on 2025-03-13
    assert last_30(dt.date(2025, 3, 12)) == 80.0
    assert last_30(dt.date(2025, 3, 13)) == 0.0
    # without `today` the range ends at the real date, long after the shop's last order
    assert dt.date.today() > dt.date(2025, 3, 13) and last_30() == 0.0


def test_segments_and_having(shop):
    df = shop.query("shop", ["revenue"], ["region"], segments=["completed"], order=["region"]).df
    assert df["revenue"].tolist() == [300.0, 70.0]
    df = shop.query("shop", ["revenue"], ["region"], where=["revenue > 320"]).df
    assert df["region"].tolist() == ["South"]


def test_detail_query(shop):
    df = shop.query(
        "shop",
        dimensions=["order_id", "store", "customer_name"],
        where=["status = 'completed'", "order_date >= '2024-02-01'"],
        order=["order_id"],
    ).df
    assert df["order_id"].tolist() == [4, 5, 6]
    assert df["store"].tolist() == ["N1", "S1", "N1"]
    assert df["customer_name"].tolist() == ["Cy", "Bob", "Ann"]


def test_order_and_limit(shop):
    df = shop.query("shop", ["revenue"], ["store"], order=["-revenue"], limit=2).df
    assert df["store"].tolist() == ["S1", "N1"]  # S1 350, N1 250, N2 50


def test_sql_and_ibis_are_exposed(shop):
    q = shop.query("shop", ["revenue"], ["region"])
    assert "SUM" in q.sql().upper() and "stores" in q.sql()
    assert set(q.to_ibis().columns) == {"region", "revenue"}


def test_value_lookup_and_search(shop):
    hits = shop.lookup("south")
    assert {h["member"] for h in hits} >= {"shop.stores.region", "shop.customers.customer_region"}
    top = shop.search("turnover")[0]
    assert top["qualified_name"] == "shop.orders.revenue"
    assert shop.search("territory")[0]["name"] == "region"


def test_chart_helper_picks_a_line_for_time_and_a_table_for_one_number(shop):
    import holoviews as hv

    line = shop.query("shop", ["revenue"], ["order_date"], grain="month").chart()
    assert isinstance(line, hv.Curve)
    assert list(line.data["revenue"]) == [150.0, 230.0, 70.0, 120.0, 80.0]
    assert isinstance(shop.query("shop", ["revenue"]).chart(), hv.Table)


def test_fiscal_year_starting_in_february(models_copy, engine):
    f = models_copy / "shop.yml"
    f.write_text(
        f.read_text().replace("label: Shop\n", "label: Shop\nfiscal_year_start_month: 2\n", 1)
    )
    wb = engine.connect(SHOP_TABLES, models_copy, PRINCIPALS["admin"], models_copy / "none.yml")
    df = wb.query(
        "shop", ["revenue"], ["order_date__fiscal_year"], order=["order_date__fiscal_year"]
    ).df
    # FY starting 1 Feb: Jan 2024 orders (150) fall in the FY that began 2023-02-01; Feb 2024 to
    # Jan 2025 (230 + 70 + 120) in FY 2024-02-01; Feb 2025 (80) in FY 2025-02-01
    assert [str(d.date()) for d in df["order_date__fiscal_year"]] == [
        "2023-02-01",
        "2024-02-01",
        "2025-02-01",
    ]
    assert df["revenue"].tolist() == [150.0, 420.0, 80.0]
    q = wb.query(
        "shop", ["revenue"], ["order_date__fiscal_quarter"], order=["order_date__fiscal_quarter"]
    ).df
    # fiscal quarters start Feb, May, Aug, Nov: Nov 2023-Jan 2024 holds January's 150
    assert str(q["order_date__fiscal_quarter"].iloc[0].date()) == "2023-11-01"
    assert q["revenue"].iloc[0] == 150.0


def test_structured_filters(shop):
    df = shop.query(
        "shop",
        ["revenue"],
        ["region"],
        order=["region"],
        where=[{"member": "status", "op": "in", "values": ["completed", "returned"]}],
    ).df
    assert df["revenue"].tolist() == [300.0, 270.0]  # South: 200 (returned) + 70
    df = shop.query(
        "shop",
        ["order_count"],
        [],
        where=[
            {"member": "stores.region", "op": "=", "value": "North"},
            {"member": "order_date", "op": ">=", "value": "2025-01-01"},
        ],
    ).df
    assert df["order_count"].tolist() == [1]  # order 6
    # a hostile value stays a value
    df = shop.query(
        "shop",
        ["order_count"],
        [],
        where=[{"member": "status", "op": "=", "value": "x' or '1'='1"}],
    ).df
    assert df["order_count"].fillna(0).tolist() == [0]
    from workbench.semantic.errors import QueryError

    with pytest.raises(QueryError, match="Unknown filter operator"):
        shop.query("shop", ["revenue"], [], where=[{"member": "status", "op": "~", "value": 1}]).df


def test_percentile_measure(models_copy, engine):
    f = models_copy / "shop.yml"
    f.write_text(
        f.read_text().replace(
            "      - {name: median_amount, agg: median, expr: amount}\n",
            "      - {name: median_amount, agg: median, expr: amount}\n"
            "      - {name: p75_amount, agg: percentile, percentile: 0.75, expr: amount}\n",
            1,
        )
    )
    wb = engine.connect(SHOP_TABLES, models_copy, PRINCIPALS["admin"], models_copy / "none.yml")
    df = wb.query("shop", ["p75_amount", "median_amount"], []).df
    # amounts sorted: 30 50 70 80 100 120 200; continuous p75 at position 0.75*6 = 4.5 -> 110
    assert df["p75_amount"].iloc[0] == pytest.approx(110.0)
    assert df["median_amount"].iloc[0] == 80.0
