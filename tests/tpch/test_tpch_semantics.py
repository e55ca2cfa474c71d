"""The semantic layer's guarantees on TPC-H data, each checked against hand-written SQL run
directly on DuckDB: no fan-out or chasm double counting, role-playing nations and regions,
measure filters through joins, time grains and ranges, segments, ratio metrics, and exact
decimal literals in filters. Also: the Ibis expression behind each oracle query, executed by
Ibis itself, gives the oracle's answer (not only the engine's SQL path).
"""

from __future__ import annotations

import pytest

from .oracle import OracleResult, assert_matches_oracle
from .semantic_queries import NAMES, ORDER_KEYS, QUERIES, to_oracle

REVENUE = "sum(l_extendedprice * (1 - l_discount))"

# name: (semantic query, reference SQL with the result's columns in the same order, order keys)
CASES: dict[str, tuple[dict, str, tuple[str, ...]]] = {
    "fan_out_orders_by_line_dimension": (
        dict(
            metrics=["order_count", "total_price"], dimensions=["l_shipmode"], order=["l_shipmode"]
        ),
        "select l_shipmode, count(*) as order_count, sum(o_totalprice) as total_price "
        "from orders join (select distinct l_orderkey, l_shipmode from lineitem) l "
        "  on o_orderkey = l_orderkey group by l_shipmode order by l_shipmode",
        ("l_shipmode",),
    ),
    "chasm_line_and_order_measures_by_segment": (
        dict(
            metrics=["revenue", "order_count"], dimensions=["c_mktsegment"], order=["c_mktsegment"]
        ),
        f"with r as (select c_mktsegment, {REVENUE} as revenue from lineitem "
        "  join orders on l_orderkey = o_orderkey join customer on o_custkey = c_custkey "
        "  group by 1), "
        "o as (select c_mktsegment, count(*) as order_count from orders "
        "  join customer on o_custkey = c_custkey group by 1) "
        "select c_mktsegment, revenue, order_count from r join o using (c_mktsegment) "
        "order by c_mktsegment",
        ("c_mktsegment",),
    ),
    "role_playing_customer_and_supplier_regions": (
        dict(
            metrics=["revenue"],
            dimensions=["customer_region.r_name", "supplier_region.r_name"],
            order=["customer_region.r_name", "supplier_region.r_name"],
        ),
        f"select cr.r_name as customer_region, sr.r_name as supplier_region, {REVENUE} as revenue "
        "from lineitem join orders on l_orderkey = o_orderkey "
        "join customer on o_custkey = c_custkey "
        "join nation cn on c_nationkey = cn.n_nationkey "
        "join region cr on cn.n_regionkey = cr.r_regionkey "
        "join supplier on l_suppkey = s_suppkey "
        "join nation sn on s_nationkey = sn.n_nationkey "
        "join region sr on sn.n_regionkey = sr.r_regionkey "
        "group by 1, 2 order by 1, 2",
        ("customer_region", "supplier_region"),
    ),
    "dimension_model_measures_without_facts": (
        dict(
            metrics=["customer_count", "customer_balance"],
            dimensions=["customer_nation.n_name"],
            order=["customer_nation.n_name"],
        ),
        "select n_name, count(*) as customer_count, sum(c_acctbal) as customer_balance "
        "from customer join nation on c_nationkey = n_nationkey group by 1 order by 1",
        ("n_name",),
    ),
    "partsupp_through_supplier_roles": (
        dict(
            metrics=["inventory_value", "min_supply_cost"],
            dimensions=["supplier_region.r_name"],
            order=["supplier_region.r_name"],
        ),
        "select r_name, sum(ps_supplycost * ps_availqty) as inventory_value, "
        "  min(ps_supplycost) as min_supply_cost "
        "from partsupp join supplier on ps_suppkey = s_suppkey "
        "join nation on s_nationkey = n_nationkey join region on n_regionkey = r_regionkey "
        "group by 1 order by 1",
        ("r_name",),
    ),
    "measure_filter_through_join_by_month": (
        dict(
            metrics=["promo_revenue", "revenue", "promo_revenue_pct"],
            dimensions=["l_shipdate__month"],
            time_range="1995",
            order=["l_shipdate__month"],
        ),
        "select date_trunc('month', l_shipdate) as month, "
        f"  sum(case when p_type like 'PROMO%' then l_extendedprice * (1 - l_discount) end) "
        f"    as promo_revenue, {REVENUE} as revenue, "
        f"  100.0 * sum(case when p_type like 'PROMO%' then l_extendedprice * (1 - l_discount) "
        f"    else 0 end) / {REVENUE} as pct "
        "from lineitem join part on l_partkey = p_partkey "
        "where l_shipdate >= date '1995-01-01' and l_shipdate < date '1996-01-01' "
        "group by 1 order by 1",
        ("month",),
    ),
    "time_grain_and_range_on_joined_time_dimension": (
        dict(
            metrics=["revenue", "count_order"],
            dimensions=["o_orderdate__quarter"],
            time_range="1994-01-01..1994-12-31",
            time_dimension="o_orderdate",
            order=["o_orderdate__quarter"],
        ),
        f"select date_trunc('quarter', o_orderdate) as q, {REVENUE} as revenue, "
        "  count(*) as count_order "
        "from lineitem join orders on l_orderkey = o_orderkey "
        "where o_orderdate between date '1994-01-01' and date '1994-12-31' "
        "group by 1 order by 1",
        ("q",),
    ),
    "segment_and_ratio_metric": (
        dict(
            metrics=["revenue_per_line", "count_order"],
            dimensions=["l_shipmode"],
            segments=["late"],
            order=["l_shipmode"],
        ),
        f"select l_shipmode, {REVENUE} / count(*) as revenue_per_line, count(*) as count_order "
        "from lineitem where l_receiptdate > l_commitdate group by 1 order by 1",
        ("l_shipmode",),
    ),
    "priority_measure_filters_per_year": (
        dict(
            metrics=["high_line_count", "low_line_count", "count_order"],
            dimensions=["l_receiptdate__year"],
            order=["l_receiptdate__year"],
        ),
        "select date_trunc('year', l_receiptdate) as y, "
        "  count(*) filter (where o_orderpriority in ('1-URGENT', '2-HIGH')) as high, "
        "  count(*) filter (where o_orderpriority not in ('1-URGENT', '2-HIGH')) as low, "
        "  count(*) as n "
        "from lineitem join orders on l_orderkey = o_orderkey group by 1 order by 1",
        ("y",),
    ),
    "decimal_literal_with_more_digits_than_the_column": (
        dict(
            metrics=["count_order", "revenue"],
            dimensions=["l_returnflag"],
            where=["l_discount > 0.055", "l_extendedprice <= 50000.005"],
            order=["l_returnflag"],
        ),
        f"select l_returnflag, count(*) as count_order, {REVENUE} as revenue from lineitem "
        "where l_discount > 0.055 and l_extendedprice <= 50000.005 group by 1 order by 1",
        ("l_returnflag",),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_semantic_guarantee_matches_reference_sql(tpch_wb, tpch_sql, case):
    query, sql, order_keys = CASES[case]
    columns, rows = tpch_sql(sql)
    expected = OracleResult(case, columns, tuple(tuple(r) for r in rows))
    df = tpch_wb.query("tpch", **query).df
    assert len(df.columns) == len(columns), (list(df.columns), columns)
    actual = df.set_axis(list(columns), axis=1)
    assert_matches_oracle(actual, expected, order_keys)


@pytest.mark.parametrize("name", NAMES)
def test_ibis_expression_matches_oracle(tpch_wb, tpch_oracle, name):
    """``q.to_ibis()`` executed by Ibis (which types results by the expression's schema) must
    give the oracle's answer too: that is the path Spark and notebooks take."""
    q = tpch_wb.query("tpch", **QUERIES[name])
    df = q.to_ibis().execute()
    assert_matches_oracle(to_oracle(name, df), tpch_oracle[name], ORDER_KEYS[name])
