"""Compiler edge cases: refused queries, filters joining a metric and a dimension with OR,
default time dimensions, metrics per row at unusual grains, windows on day grain and the
expression language's safety nets. Hand sums over the shop (see test_query_inputs.py)."""

from __future__ import annotations

import ibis
import pytest
from sqlglot import exp

from workbench.semantic.errors import QueryError, UnknownMemberError
from workbench.semantic.expr import ExprError, Translator, parse


@pytest.mark.parametrize(
    "target, kw, error, words",
    [
        ("shop.shops", dict(metrics=["revenue"]), UnknownMemberError, "Unknown model 'shops'"),
        (
            "shop",
            dict(metrics=["revenue"], dimensions=["region"], grain="month"),
            QueryError,
            "grain 'month' needs a time dimension",
        ),
        (
            "shop",
            dict(metrics=["revenue"], dimensions=["region", "region"]),
            QueryError,
            "A dimension is listed twice",
        ),
        (
            "shop",
            dict(dimensions=["order_id"], where=["revenue > 100"]),
            QueryError,
            "Filters on metrics need at least one metric in the query (orders.revenue)",
        ),
        (
            "shop",
            dict(metrics=["revenue"], where=["nosuch = 1"]),
            UnknownMemberError,
            "Unknown dimension or measure or metric 'nosuch'",
        ),
        (
            "shop",
            dict(metrics=["revenue"], time_range="2024", time_dimension="status"),
            QueryError,
            "'orders.status' is not a time dimension",
        ),
        (
            "shop",
            dict(metrics=["customer_count"], time_range="2024"),
            QueryError,
            "A time range needs a time dimension",
        ),
        (
            "shop",
            dict(dimensions=["returned_at", "product"]),
            QueryError,
            "do not share a model whose rows they all describe",
        ),
        (
            "shop",
            dict(metrics=["revenue"], dimensions=["region"], order=["nosuch"]),
            QueryError,
            "Cannot order by 'nosuch'",
        ),
        (
            "shop",
            dict(metrics=["revenue"], dimensions=["region"], order=["status"]),
            QueryError,
            "Cannot order by 'status'",
        ),
        (
            "shop",
            dict(
                metrics=["r"],
                dimensions=["order_date"],
                grain="month",
                define={"orders.r": {"type": "cumulative", "metric": "revenue_2m"}},
            ),
            QueryError,
            "window and comparison metrics cannot be nested",
        ),
        (
            "shop",
            dict(
                metrics=["bad"],
                define={"orders.bad": {"agg": "sum", "expr": "order_lines.line_no"}},
            ),
            QueryError,
            "Measures of 'orders' may only reference models joined many-to-one",
        ),
        (
            "shop",
            dict(
                dimensions=["order_id", "lr"], define={"order_lines.lr": {"metric": "line_revenue"}}
            ),
            QueryError,
            "needs a dimension of 'order_lines' on its key column 'order_id'",
        ),
        (
            "shop",
            dict(
                dimensions=["customer_name", "me"],
                define={"customers.me": {"metric": "order_count", "filter": "customers.me > 0"}},
            ),
            QueryError,
            "'customers.me' is evaluated from itself",
        ),
        (
            "shop",
            dict(
                dimensions=["customer_name", "n2"],
                define={
                    "customers.n1": {"metric": "order_count"},
                    "customers.n2": {"metric": "revenue", "at": ["n1"]},
                },
            ),
            QueryError,
            "grouped by 'customers.n1', itself a metric per row",
        ),
    ],
)
def test_refused_queries(shop, target, kw, error, words):
    with pytest.raises(error) as e:
        shop.query(target, **kw).df
    assert words in str(e.value)


def test_a_measure_without_time_dimension_setting_uses_its_only_one(shop):
    # returns has one time dimension (returned_at): the refund of order 3 on 2024-02-10
    assert shop.query("shop", ["refunds"], [], time_range="2024-02").df["refunds"].tolist() == [
        200.0
    ]
    assert shop.query("shop", ["refunds"], [], time_range="2024-03").df["refunds"].fillna(
        0
    ).tolist() == [0]


@pytest.mark.parametrize(
    "where, regions",
    [
        ("revenue > 340 or region = 'Nowhere'", ["South"]),  # North 300, South 350
        ("revenue > 400 or region = 'North'", ["North"]),
    ],
)
def test_or_of_a_metric_and_a_query_dimension(shop, where, regions):
    df = shop.query("shop", ["revenue"], ["region"], where=[where], order=["region"]).df
    assert df["region"].tolist() == regions


def test_detail_rows_in_a_time_range_and_order_words(shop):
    df = shop.query(
        "shop",
        dimensions=["order_id"],
        time_range="2025",
        time_dimension="order_date",
        order=["order_id desc"],
    ).df
    assert df["order_id"].tolist() == [7, 6]
    df = shop.query("shop", ["revenue"], ["store"], order=["revenue DESC"]).df
    assert df["store"].tolist() == ["S1", "N1", "N2"]  # 350, 250, 50


def _per_customer(shop, dim, **kw):
    df = shop.query("shop", dimensions=["customer_name", dim], **kw).df
    return dict(zip(df["customer_name"], df[dim], strict=True))


def test_a_child_models_metric_per_grandparent_row(shop):
    # units per customer: Ann 2+1 (order 1) + 1 (2) + 3 (6); Bob 4 + 1+1; Cy 1 + 2
    assert _per_customer(shop, "customers.units") == {"Ann": 7, "Bob": 6, "Cy": 3}


def test_a_ratio_metric_per_row(shop):
    # average order value: Ann (100+50+120)/3, Bob (200+70)/2, Cy (30+80)/2
    assert _per_customer(shop, "customers.aov") == {"Ann": 90.0, "Bob": 135.0, "Cy": 55.0}


def test_a_metric_per_row_with_a_condition_reading_no_column(shop):
    assert _per_customer(shop, "customers.order_count", where=["1 = 1"]) == {
        "Ann": 3,
        "Bob": 2,
        "Cy": 2,
    }


def test_a_metric_per_row_of_its_own_model(shop):
    # revenue per order, then orders of at least 100: 100 + 200 + 120
    d = {"orders.own_revenue": {"metric": "revenue"}}
    df = shop.query("shop", ["revenue"], [], define=d, where=["own_revenue >= 100"]).df
    assert df["revenue"].tolist() == [420.0]


def test_rolling_window_on_day_grain_counts_days_not_rows(shop):
    """20 days back from each order day: Jan 20 reaches Jan 5 (150), Feb 3 reaches Jan 20
    (250), Feb 15 reaches Feb 3 (230), Mar 1 reaches Feb 15 (100); 2025 days stand alone."""
    d = {"orders.rev_20d": {"type": "rolling", "metric": "revenue", "window": 20}}
    df = shop.query(
        "shop", ["rev_20d"], ["order_date"], grain="day", order=["order_date"], define=d
    ).df
    assert df["rev_20d"].tolist() == [100.0, 150.0, 250.0, 230.0, 100.0, 120.0, 80.0]
    d = {"orders.rev_3w": {"type": "rolling", "metric": "revenue", "window": 3}}
    df = shop.query(
        "shop", ["rev_3w"], ["order_date"], grain="week", order=["order_date"], define=d
    ).df
    assert df["rev_3w"].tolist() == [100.0, 150.0, 250.0, 230.0, 100.0, 120.0, 80.0]


def test_a_date_dimension_at_an_hour_grain_is_the_date(shop):
    d = {"orders.day_of": {"expr": "date(order_date)", "type": "time"}}
    df = shop.query("shop", ["revenue"], ["day_of__hour"], order=["day_of__hour"], define=d).df
    assert [str(v)[:10] for v in df["day_of__hour"]][:2] == ["2024-01-05", "2024-01-20"]
    assert df["revenue"].tolist() == [100.0, 50.0, 200.0, 30.0, 70.0, 120.0, 80.0]


# --- expressions ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "where, revenue",
    [
        ("floor(order_id / 3) = 1", 300.0),  # orders 3, 4, 5: 200 + 30 + 70
        ("ceil(order_id / 3) = 1", 350.0),  # orders 1, 2, 3: 100 + 50 + 200
    ],
)
def test_floor_and_ceil(shop, where, revenue):
    assert shop.query("shop", ["revenue"], [], where=[where]).df["revenue"].tolist() == [revenue]


@pytest.mark.parametrize(
    "where, words",
    [
        ("status is 1", "only 'is [not] null|true|false'"),
        ("cast(status as blob) = 'x'", "is not supported"),
        ("extract(second from order_date) = 1", "extract(second) is not supported"),
    ],
)
def test_unsupported_expressions(shop, where, words):
    with pytest.raises(
        QueryError,
        match=words.replace("(", r"\(")
        .replace(")", r"\)")
        .replace("[", r"\[")
        .replace("]", r"\]")
        .replace("|", r"\|"),
    ):
        shop.query("shop", ["revenue"], [], where=[where]).df


@pytest.mark.parametrize("text", ["", "   ", None])
def test_empty_expressions(text):
    with pytest.raises(ExprError, match="empty expression"):
        parse(text)


def _translate(tree):
    t = ibis.table({"x": "int64"}, name="t")
    return Translator(lambda q, n: t[n], {}, "test")(tree)


def test_translator_refuses_nodes_the_parser_never_gives_it():
    """Defence in depth: trees built by hand (not from the whitelisting parser) are refused
    rather than translated with a part of their meaning lost."""
    col = exp.column("x")
    with pytest.raises(ExprError, match="var is not supported"):
        _translate(exp.EQ(this=col, expression=exp.Var(this="DAY")))
    with pytest.raises(ExprError, match="negated is is not supported"):
        _translate(exp.Is(this=col, expression=exp.Null(), negate=True))
    with pytest.raises(ExprError, match="subqueries are not allowed"):
        _translate(exp.In(this=col, query=exp.select("1")))
