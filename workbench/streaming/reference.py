"""Reference (dimension) tables that gold views join to with `reference: true`.

A fresh warehouse without the demo domain (a temporary test warehouse, or `make up` before the
demo warehouse is built) gets small stand-ins for the demo's products, categories, regions and
channels, so the demo pipeline's views work anywhere. Other missing reference tables are an error.
"""

from __future__ import annotations

import duckdb

from .spec import PipelineSpec

_DEMO = {
    "categories": "SELECT i::SMALLINT AS category_id, 'Category ' || i AS category, "
    "'Department ' || (1 + i % 5) AS department FROM range(1, 13) t(i)",
    "products": "SELECT i::INTEGER AS product_id, 'SKU-' || i AS sku, 'Product ' || i AS product_name, "
    "(1 + i % 12)::SMALLINT AS category_id, 'Category ' || (1 + i % 12) AS category "
    "FROM range(1, 603) t(i)",
    "regions": "SELECT * FROM (VALUES (1::SMALLINT, 'North'), (2, 'Central'), (3, 'West'), (4, 'South'), "
    "(5, 'East')) t(region_id, region)",
    "channels": "SELECT * FROM (VALUES (1::SMALLINT, 'store'), (2, 'online'), (3, 'mobile_app'), "
    "(4, 'marketplace')) t(channel_id, channel)",
}


def ensure_reference_tables(con: duckdb.DuckDBPyConnection, spec: PipelineSpec) -> None:
    have = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = current_schema()"
        ).fetchall()
    }
    need = {j.table for g in spec.gold for j in g.joins if j.reference} | set(spec.reference_tables)
    for t in sorted(need - have):
        if t in _DEMO:
            con.execute(f'CREATE TABLE "{t}" AS {_DEMO[t]}')
        else:
            raise RuntimeError(f"reference table '{t}' is not in the warehouse")
