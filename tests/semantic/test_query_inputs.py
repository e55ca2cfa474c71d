"""What a query is given: structured filters, top, limits, query-time members (their mistakes
too) and the lazy Query handle. Figures are hand sums over the shop (tests/semantic/conftest.py):

order  customer store(region)  amount  status      lines (qty)
1      Ann      10 (North)     100     completed   A 2, B 1
2      Ann      11 (North)      50     completed   A 1
3      Bob      20 (South)     200     returned    B 4
4      Cy       10 (North)      30     completed   A 1
5      Bob      20 (South)      70     completed   B 1, C 1
6      Ann      10 (North)     120     completed   A 3
7      Cy       20 (South)      80     cancelled   C 2
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from workbench.semantic.adhoc import freeze
from workbench.semantic.errors import QueryError, UnknownMemberError
from workbench.semantic.querydef import QuerySpec, structured_filter


def _one(shop, metric, **kw):
    return shop.query("shop", [metric], [], **kw).df[metric].fillna(0).tolist()[0]


# --- structured filters ----------------------------------------------------------------
@pytest.mark.parametrize(
    "f, count, revenue",
    [
        ({"member": "status", "op": "not_in", "values": ["completed"]}, 2, 280.0),  # 3, 7
        ({"member": "order_id", "op": "between", "values": [1, 3]}, 3, 350.0),  # 1, 2, 3
        ({"member": "order_id", "op": "gte", "value": 6}, 2, 200.0),  # 6, 7
        ({"member": "order_id", "op": "<", "value": 2.5}, 2, 150.0),  # 1, 2
        ({"member": "order_id", "op": "!=", "value": 3}, 6, 450.0),
        ({"member": "status", "op": "like", "value": "c%"}, 6, 450.0),  # not 3
        ({"member": "stores.region", "value": "South"}, 3, 350.0),  # op '='
        ({"member": "status", "op": "not_null"}, 7, 650.0),
        ({"member": "status", "op": "is_null"}, 0, 0.0),
        ({"member": "status", "op": "=", "value": None}, 0, 0.0),  # = NULL is unknown
        ({"member": "status", "op": "=", "value": "x' or '1'='1"}, 0, 0.0),  # a value stays a value
    ],
)
def test_structured_filter_keeps_the_rows_it_says(shop, f, count, revenue):
    assert _one(shop, "order_count", where=[f]) == count
    assert _one(shop, "revenue", where=f) == revenue  # one filter may be given bare


def test_structured_filter_with_true_and_false(shop):
    big = {"orders.big": {"expr": "amount >= 100", "type": "boolean"}}
    assert _one(shop, "revenue", define=big, where=[{"member": "big", "value": True}]) == 420.0
    assert _one(shop, "revenue", define=big, where=[{"member": "big", "value": False}]) == 230.0


def test_structured_filter_text_is_built_from_literals():
    assert (
        structured_filter({"member": "stores.region", "op": "in", "values": ["N", 3]})
        == "stores.region IN ('N', 3)"
    )
    assert structured_filter({"member": "flag", "value": False}) == "flag = FALSE"
    assert structured_filter({"member": "status", "op": "not_null"}) == "NOT status IS NULL"


@pytest.mark.parametrize(
    "f, words",
    [
        ({"op": "=", "value": 1}, "needs 'member'"),
        ({"member": "status", "value": 1, "values": [1], "extra": 1}, "needs 'member'"),
        ({"member": "status; drop table orders", "value": 1}, "Bad member name"),
        ({"member": "a.b.c", "value": 1}, "Bad member name"),
        ({"member": "order_id", "op": "between", "values": [1]}, "'between' needs two values"),
        ({"member": "order_id", "op": "=", "values": [1, 2]}, "'=' needs one value"),
        ({"member": "order_id", "op": ">"}, "'>' needs one value"),
    ],
)
def test_malformed_structured_filters(f, words):
    with pytest.raises(QueryError, match=words):
        structured_filter(f)


# --- top, limit, lists given as text -----------------------------------------------------
@pytest.mark.parametrize(
    "top, words",
    [
        ("revenue", "top needs"),
        ({"n": 2}, "top needs"),
        ({"n": 2, "by": "revenue", "within": ["region"]}, "top needs"),
        ({"n": True, "by": "revenue"}, "top 'n' must be a whole number"),
        ({"n": "3", "by": "revenue"}, "top 'n' must be a whole number"),
    ],
)
def test_malformed_top(shop, top, words):
    with pytest.raises(QueryError, match=words):
        shop.query("shop", ["revenue"], ["store"], top=top)


def test_lowest_store_per_region_with_per_as_text(shop):
    # revenue per store: N1 100+30+120 = 250, N2 50, S1 350; the lowest of North is N2
    df = shop.query(
        "shop",
        ["revenue"],
        ["region", "store"],
        order=["region"],
        top={"n": 1, "by": "revenue", "per": "region", "lowest": True},
    ).df
    assert list(zip(df["region"], df["store"], df["revenue"], strict=True)) == [
        ("North", "N2", 50.0),
        ("South", "S1", 350.0),
    ]


@pytest.mark.parametrize("limit", [-1, "5", 2.5])
def test_limit_must_be_a_non_negative_whole_number(shop, limit):
    with pytest.raises(QueryError, match="limit must be a non-negative whole number"):
        shop.query("shop", ["revenue"], ["region"], limit=limit)


def test_segments_and_via_given_as_text(shop):
    # completed orders: 1, 2, 4, 5, 6 -> 100 + 50 + 30 + 70 + 120
    assert _one(shop, "revenue", segments="completed") == 370.0
    assert QuerySpec.build("shop", ["revenue"], segments="completed, ", via="stores").via == (
        "stores",
    )


def test_equal_definitions_make_equal_keys():
    a = {"x": {"agg": "sum", "expr": "amount"}, "y": {"agg": "count"}}
    b = [{"name": "y", "agg": "count"}, {"agg": "sum", "expr": "amount", "name": "x"}]
    assert freeze(a) == freeze(b)
    assert freeze(a) != freeze([{"name": "x", "agg": "sum", "expr": "qty"}])
    assert (
        QuerySpec.build("shop", ["x"], define=a).key()
        == QuerySpec.build("shop", ["x"], define=b).key()
    )


# --- query-time members ------------------------------------------------------------------
def test_a_query_time_measure_takes_the_query_model(shop):
    assert _model_one(shop, "orders", [{"name": "n", "agg": "count"}], "n") == 7


def _model_one(shop, model, metrics, col, **kw):
    return shop.query(f"shop.{model}", metrics, [], **kw).df[col].tolist()[0]


def test_a_constant_dimension_belongs_to_the_query_model(shop):
    df = shop.query(
        "shop.orders", ["order_count"], ["one"], define={"one": {"expr": "1", "kind": "dimension"}}
    ).df
    assert df["one"].tolist() == [1] and df["order_count"].tolist() == [7]


def test_a_metric_with_its_own_model_counts_its_rows(shop):
    assert _one(shop, "n2", define={"orders.n2": {"expression": "count(*) * 2"}}) == 14.0


def test_count_distinct_spelled_as_sql(shop):
    assert _one(shop, "count(distinct status)") == 3


@pytest.mark.parametrize(
    "kw, error, words",
    [
        (dict(metrics=[{"agg": "sum", "expr": "amount"}]), QueryError, "needs a 'name'"),
        (
            dict(metrics=["x"], define={"shops.x": {"agg": "count"}}),
            QueryError,
            "'shops.x' is defined on unknown model 'shops'",
        ),
        (
            dict(dimensions=["n"], define={"n": {"metric": "order_count"}}),
            QueryError,
            "say which with 'model'",
        ),
        (
            dict(metrics=["x"], define={"x": {"agg": "count"}}),
            QueryError,
            "'x' needs a model (e.g. model: orders)",
        ),
        (
            dict(metrics=["x"], define={"orders.x": {"agg": "sum"}}),
            QueryError,
            "Query-time member 'x': definition: agg 'sum' needs 'expr' or 'column'",
        ),
        (
            dict(metrics=["x"], define={"orders.x": {"agg": "count", "colour": "red"}}),
            QueryError,
            "Query-time member 'x': colour: unknown field",
        ),
        (
            dict(metrics=["order_count"], dimensions=["one"], define={"one": {"expr": "1"}}),
            QueryError,
            "'one' refers to no dimension",
        ),
        (
            dict(metrics=["order_count"], dimensions=["customer_region || region"]),
            QueryError,
            "mixes models (customers, stores) none of whose rows reach the others many-to-one",
        ),
        (
            dict(metrics=["k"], define={"k": {"type": "derived", "expr": "1"}}),
            QueryError,
            "Query-time metric 'k' refers to no metric",
        ),
        (dict(metrics=["sum(amount"]), QueryError, "cannot parse metric 'sum(amount'"),
        (
            dict(metrics=["sum(distinct amount)"]),
            QueryError,
            "only count(distinct ...) is supported",
        ),
        (dict(metrics=["sum(*)"]), QueryError, "sum() needs an expression"),
        (
            dict(
                metrics=["bad"],
                define={
                    "orders.bad": {
                        "type": "ratio",
                        "numerator": "revenue",
                        "denominator": "nothing",
                    }
                },
            ),
            QueryError,
            "Query-time member 'orders.bad': Unknown",
        ),
        (
            dict(dimensions=["customer_name", "m"], define={"customers.m": {"metric": "nothing"}}),
            QueryError,
            "Query-time member 'customers.m': Unknown",
        ),
        (dict(dimensions=["customers.nothing"]), UnknownMemberError, "customers.nothing"),
    ],
)
def test_query_time_member_mistakes(shop, kw, error, words):
    with pytest.raises(error) as e:
        shop.query("shop", **kw).df
    assert words in str(e.value)


# --- the Query handle --------------------------------------------------------------------
def test_the_query_handle(shop, monkeypatch):
    q = shop.query("shop", ["revenue"], ["region"], order=["region"])
    assert repr(q) == "<Query shop metrics=['revenue'] dimensions=['region']>"
    assert len(q) == 2
    assert q.to_pandas()["revenue"].tolist() == [300.0, 350.0]
    t = q.to_pyarrow()
    assert isinstance(t, pa.Table) and t.column("revenue").to_pylist() == [300.0, 350.0]
    assert "<table" in q._repr_html_() and "North" in q._repr_html_()
    raw = q.sql(pretty=False)
    assert raw == q.plan.sql and "SUM" in raw.upper()

    import sqlglot

    def broken(*a, **k):
        raise ValueError("cannot pretty-print")

    monkeypatch.setattr(sqlglot, "transpile", broken)
    assert q.sql() == raw  # pretty-printing failing gives the plain SQL
