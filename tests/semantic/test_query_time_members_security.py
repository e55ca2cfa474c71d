"""Query-time members obey the same policies as model members: a hidden dimension cannot be
reached through an ad-hoc measure, a metric per row or a filter on one, masked values stay
masked, and row policies apply inside a metric per row (hand-checked on the shop fixture), on every
registered engine."""

from __future__ import annotations

import pytest

from workbench.semantic.errors import AccessDeniedError

from .conftest import PRINCIPALS


@pytest.fixture
def shop(engine_shop):
    """Every test here runs on each registered engine: `shop` is the shop on the engine under
    test (conftest.engine_shop), not the DuckDB-only one."""
    return engine_shop


@pytest.mark.parametrize(
    "kw",
    [
        dict(metrics=["count_distinct(customer_name)"]),
        dict(metrics=["order_count"], dimensions=["upper(customer_name)"]),
        dict(
            dimensions=["order_id", "who"],
            define={"orders.who": {"expr": "customers.customer_name"}},
        ),
        dict(
            metrics=["order_count"],
            dimensions=["initial"],
            define={"customers.initial": {"expr": "substring(customer_name, 1, 1)"}},
        ),
        dict(metrics=["order_count"], where=["lower(customer_name) = 'ann'"]),
    ],
)
def test_a_hidden_member_stays_hidden_through_query_time_members(shop, kw):
    viewer = shop.as_principal(PRINCIPALS["viewer"])
    with pytest.raises(AccessDeniedError):
        viewer.query("shop", **kw).df
    shop.query("shop", **kw).df  # the admin may


def test_masked_values_stay_masked_in_a_query_time_dimension(shop):
    analyst = shop.as_principal(PRINCIPALS["analyst"])
    df = analyst.query("shop", metrics=["customer_count"], dimensions=["lower(email)"]).df
    assert set(df["lower(email)"]) == {"****"}


def test_a_metric_per_row_counts_only_visible_rows(shop):
    """North sees orders of North stores by North customers: Ann has 1, 2, 6 (store 10, 11, 10),
    Cy has 4 (store 10); order 7 (South store) and Bob's orders are not theirs."""
    north = shop.as_principal(PRINCIPALS["north"])
    df = north.query("shop", dimensions=["customer_name", "customers.order_count"]).df
    assert dict(zip(df["customer_name"], df["customers.order_count"], strict=True)) == {
        "Ann": 3,
        "Cy": 1,
    }
    admin = shop.query("shop", dimensions=["customer_name", "customers.order_count"]).df
    assert dict(zip(admin["customer_name"], admin["customers.order_count"], strict=True)) == {
        "Ann": 3,
        "Bob": 2,
        "Cy": 2,
    }
