"""Catalog search ranking, detail rows through a linking model, a few functions and member
properties, hand-checked on the shop (see test_query_inputs.py for its orders)."""

from __future__ import annotations

import pytest

from workbench.semantic.errors import UnknownMemberError
from workbench.semantic.spec import Dimension, Measure, Metric


@pytest.mark.parametrize(
    "text, first",
    [
        ("revenue", "shop.orders.revenue"),  # exact name
        ("sales", "shop.orders.revenue"),  # a synonym
        ("revenue_sh", "shop.orders.revenue_share"),  # part of a name
        ("turno", "shop.orders.revenue"),  # part of a synonym (turnover)
        ("running xyz", "shop.orders.revenue_running"),  # one of two words
    ],
)
def test_search_ranks_names_then_synonyms_then_words(shop, text, first):
    hits = shop.search(text, namespace="shop")
    assert hits[0]["qualified_name"] == first


def test_an_empty_search_lists_the_catalog(shop):
    assert [e["qualified_name"] for e in shop.search("  ", limit=3, namespace="shop")] == [
        e["qualified_name"] for e in shop.catalog("shop")[:3]
    ]


def test_detail_rows_through_a_linking_model_are_distinct(shop):
    # customers and stores meet only through orders: (customer, store) of orders 1..7
    df = shop.query("shop", dimensions=["customer_name", "store"]).df
    pairs = sorted(zip(df["customer_name"], df["store"], strict=True))
    assert pairs == [("Ann", "N1"), ("Ann", "N2"), ("Bob", "S1"), ("Cy", "N1"), ("Cy", "S1")]


@pytest.mark.parametrize(
    "where, revenue",
    [
        ("greatest(order_id, 5) = 5", 450.0),  # orders 1..5
        ("day(order_date) = 1", 70.0),  # order 5, 2024-03-01
    ],
)
def test_functions(shop, where, revenue):
    assert shop.query("shop", ["revenue"], [], where=[where]).df["revenue"].tolist() == [revenue]


def test_fiscal_quarters_of_a_calendar_fiscal_year_are_calendar_quarters(shop):
    df = shop.query(
        "shop", ["revenue"], ["order_date__fiscal_quarter"], order=["order_date__fiscal_quarter"]
    ).df
    assert [str(v)[:10] for v in df["order_date__fiscal_quarter"]] == ["2024-01-01", "2025-01-01"]
    assert df["revenue"].tolist() == [450.0, 200.0]


def test_a_qualified_name_of_an_unknown_model(shop):
    with pytest.raises(UnknownMemberError, match="Unknown model 'shops'"):
        shop.query("shop", ["revenue"], ["shops.region"]).df


def test_member_properties():
    assert Dimension(name="d", column="c").source == "c"
    assert Dimension(name="d", expr="c + 1").source == "c + 1"
    assert Dimension(name="d").source == "d"
    assert Measure(name="m", agg="sum", expr="x").additive
    assert Measure(name="m", agg="count").additive
    assert not Measure(name="m", agg="avg", expr="x").additive
    assert Metric(name="r", type="ratio", numerator="a", denominator="b").references() == ["a", "b"]
    assert Metric(name="s", type="rolling", metric="a", window=2).references() == ["a"]
