"""A model's SQL: what is refused when the file loads, and how the one SELECT is written out
for an engine (schema-qualified tables, Spark's renamed temporary views)."""

from __future__ import annotations

import pytest

from workbench.semantic.model_sql import ModelSQLError, parse_model_sql, render


@pytest.mark.parametrize(
    "text, words",
    [
        ("", "the model's SQL is empty"),
        (";", "the model's SQL is empty"),
        ("select 'abc", "the model's SQL does not parse"),  # an unterminated string
        ("show tables", "must be a SELECT statement, not SHOW"),
        ("select 1; select 2", "found 2 statements"),
    ],
)
def test_refused_model_sql(text, words):
    with pytest.raises(ModelSQLError, match=words):
        parse_model_sql(text)


SQL = "with c as (select 1 as k) select o.a from orders o join x.y on true join c on true"


def test_the_namespace_schema_qualifies_only_unqualified_tables():
    out = render(parse_model_sql(SQL), "duckdb", schema="s")
    # orders gets the schema; x.y keeps its own; the CTE c is no table
    assert out == (
        "WITH c AS (SELECT 1 AS k) SELECT o.a FROM s.orders AS o JOIN x.y ON TRUE JOIN c ON TRUE"
    )


def test_renamed_tables_keep_their_alias_or_name():
    seen = []

    def rename(name, schema):
        seen.append((name, schema))
        return f"v_{schema}_{name}"

    out = render(parse_model_sql(SQL), "spark", schema="s", rename=rename)
    assert sorted(seen) == [("orders", "s"), ("y", "x")]
    assert "FROM `v_s_orders` AS o JOIN `v_x_y` AS y ON TRUE JOIN c ON TRUE" in out
    # a column qualified by the table's own name still resolves after the rename
    out = render(
        parse_model_sql("select orders.a from orders"), "spark", rename=lambda n, db: f"v_{n}"
    )
    assert out == "SELECT orders.a FROM `v_orders` AS orders"
    # a catalog-qualified table is left alone
    assert (
        render(parse_model_sql("select a from cat.db.t"), "spark", rename=lambda n, db: "never")
        == "SELECT a FROM cat.db.t"
    )
