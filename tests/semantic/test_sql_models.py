"""Models over SQL (`sql:`) on DuckDB, PostgreSQL (marker: services) and Spark (marker: spark).

The models (sql_models/shop_sql.yml) put an aggregated select and a select with a CTE over the
shop tables, joined to table models. Every query is checked against hand-written SQL that the
same engine runs directly: the oracle is the engine, not the semantic layer.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest

import workbench
from tests.support.prerequisites import require_service
from workbench.semantic.errors import EngineError, ModelError
from workbench.semantic.loader import load_file

from .conftest import CUSTOMERS, LINES, ORDERS, PRINCIPALS, RETURNS, STORES, build_shop

SQL_MODELS = Path(__file__).parent / "sql_models"
TABLES = ("stores", "customers", "orders", "order_lines", "returns")

# The models' SQL, as a reader would write it by hand, over {table} placeholders.
CT = (
    "(select customer_id, count(*) as completed_orders, sum(amount) as completed_amount "
    "from {orders} where status = 'completed' group by customer_id)"
)
OU = (
    "(select o.order_id, o.store_id, u.units, u.line_count from {orders} o join "
    "(select order_id, sum(qty) as units, count(*) as line_count from {order_lines} "
    "group by order_id) u on u.order_id = o.order_id where o.status <> 'cancelled')"
)

CASES = {
    "sql model by a table model's dimension": (
        "admin",
        dict(metrics=["completed_amount", "buyers"], dimensions=["customer_region"]),
        f"select c.region, sum(t.completed_amount), count(*) from {CT} t "
        "left join {customers} c on c.customer_id = t.customer_id group by c.region",
    ),
    "table model by a sql model's dimension, with a filter": (
        "admin",
        dict(
            metrics=["revenue", "order_count"],
            dimensions=["completed_orders"],
            where=["status <> 'returned'"],
        ),
        f"select t.completed_orders, sum(o.amount), count(*) from {{orders}} o left join {CT} t "
        "on t.customer_id = o.customer_id where o.status <> 'returned' "
        "group by t.completed_orders",
    ),
    "measure filter and a filter on a sql model's column": (
        "admin",
        dict(metrics=["big_buyers", "completed_amount"], where=["completed_orders >= 2"]),
        "select count(case when t.completed_amount >= 100 then 1 end), sum(t.completed_amount) "
        f"from {CT} t where t.completed_orders >= 2",
    ),
    "model with a CTE, by a joined table model's dimension": (
        "admin",
        dict(metrics=["units", "multi_line_orders"], dimensions=["region"]),
        "select s.region, sum(u.units), count(case when u.line_count > 1 then 1 end) "
        f"from {OU} u left join {{stores}} s on s.store_id = u.store_id group by s.region",
    ),
    "detail rows across a table and a sql model": (
        "admin",
        dict(
            dimensions=["order_id", "status", "completed_orders"],
            where=["completed_orders >= 2", "status <> 'cancelled'"],
        ),
        f"select o.order_id, o.status, t.completed_orders from {{orders}} o left join {CT} t "
        "on t.customer_id = o.customer_id "
        "where t.completed_orders >= 2 and o.status <> 'cancelled'",
    ),
}
for _who, _region in (("north", "North"), ("south", "South")):
    CASES[f"row policy on a sql model through a table model ({_who})"] = (
        _who,
        dict(metrics=["completed_amount", "buyers"], dimensions=["customer_region"]),
        f"select c.region, sum(t.completed_amount), count(*) from {CT} t "
        "join {customers} c on c.customer_id = t.customer_id "
        f"where c.region = '{_region}' group by c.region",
    )
    CASES[f"row policy on the CTE model ({_who})"] = (
        _who,
        dict(metrics=["units"], dimensions=["store"]),
        f"select s.name, sum(u.units) from {OU} u join {{stores}} s on s.store_id = u.store_id "
        f"where s.region = '{_region}' group by s.name",
    )
    CASES[f"table model under a sql model's row policy ({_who})"] = (
        _who,
        dict(metrics=["revenue", "order_count"], dimensions=["status"]),
        f"select o.status, sum(o.amount), count(*) from {{orders}} o join {CT} t "
        "on t.customer_id = o.customer_id join {customers} c on c.customer_id = t.customer_id "
        f"where c.region = '{_region}' group by o.status",
    )


# engines -----------------------------------------------------------------------------------
PG_HOST, PG_PORT, PG_DB, PG_SCHEMA = "127.0.0.1", 5432, "test", "wb_sql_models"
PG_DDL = {
    "stores": "store_id int, name text, region text",
    "customers": "customer_id int, name text, email text, region text",
    "orders": "order_id int, customer_id int, store_id int, ordered_at timestamp, "
    "amount double precision, status text",
    "order_lines": "order_id int, line_no int, product text, qty int, line_amount double precision",
    "returns": "return_id int, order_id int, returned_at timestamp, refund double precision",
}
PG_ROWS = {
    "stores": STORES,
    "customers": CUSTOMERS,
    "orders": ORDERS,
    "order_lines": LINES,
    "returns": RETURNS,
}


def _duckdb(tmp):
    path = build_shop(tmp / "shop.duckdb")
    wb = workbench.connect(
        warehouse=path,
        models_dir=SQL_MODELS,
        principal=PRINCIPALS["admin"],
        read_only=True,
        cache="none",
        principals_file=tmp / "none.yml",
    )
    con = duckdb.connect(str(path), read_only=True)

    def run(sql):
        return con.execute(sql.format(**{t: t for t in TABLES})).fetchall()

    return wb, run, con.close


def _postgres(tmp):
    require_service("PostgreSQL", PG_HOST, PG_PORT)
    import psycopg2

    con = psycopg2.connect(host=PG_HOST, port=PG_PORT, user="postgres", dbname=PG_DB)
    with con, con.cursor() as cur:
        cur.execute(f"drop schema if exists {PG_SCHEMA} cascade")
        cur.execute(f"create schema {PG_SCHEMA}")
        for table, cols in PG_DDL.items():
            cur.execute(f"create table {PG_SCHEMA}.{table} ({cols})")
            rows = PG_ROWS[table]
            cur.executemany(
                f"insert into {PG_SCHEMA}.{table} values ({', '.join(['%s'] * len(rows[0]))})", rows
            )
    wb = workbench.connect(
        engine="postgres",
        principal=PRINCIPALS["admin"],
        cache="none",
        url=f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{PG_DB}/{PG_SCHEMA}",
        models_dir=SQL_MODELS,
        principals_file=tmp / "none.yml",
    )

    def run(sql):
        with con, con.cursor() as cur:
            cur.execute(sql.format(**{t: f"{PG_SCHEMA}.{t}" for t in TABLES}))
            return cur.fetchall()

    def close():
        with con, con.cursor() as cur:
            cur.execute(f"drop schema if exists {PG_SCHEMA} cascade")
        con.close()

    return wb, run, close


def _spark(tmp):
    from workbench.engines.spark_engine import spark_session

    parquet = tmp / "parquet"
    parquet.mkdir()
    db = build_shop(tmp / "shop.duckdb")
    with duckdb.connect(str(db), read_only=True) as con:
        for t in TABLES:
            con.execute(f"copy {t} to '{parquet / (t + '.parquet')}' (format parquet)")
    # No warehouse file: given one, the engine would re-export parquet it thinks is stale.
    wb = workbench.connect(
        warehouse=tmp / "absent.duckdb",
        engine="spark",
        parquet_dir=parquet,
        models_dir=SQL_MODELS,
        principal=PRINCIPALS["admin"],
        cache="none",
        principals_file=tmp / "none.yml",
    )
    session = spark_session()
    for t in TABLES:  # the oracle's own views of the same parquet
        session.read.parquet(str(parquet / f"{t}.parquet")).createOrReplaceTempView(f"oracle_{t}")

    def run(sql):
        return [
            tuple(r)
            for r in session.sql(sql.format(**{t: f"oracle_{t}" for t in TABLES})).collect()
        ]

    return wb, run, lambda: None


BUILDERS = {"duckdb": _duckdb, "postgres": _postgres, "spark": _spark}


@pytest.fixture(scope="module")
def engine(engine, tmp_path_factory):
    """(workbench, run_sql) on the engine under test: the suite's `engine` fixture (one param
    per registered engine) narrowed to this module's builders, each with its engine's own SQL
    as the oracle; one Spark session is shared by the whole run."""
    if engine.name not in BUILDERS:
        raise NotImplementedError(f"no sql-model warehouse builder for engine '{engine.name}'")
    wb, run, close = BUILDERS[engine.name](tmp_path_factory.mktemp(f"sql_models_{engine.name}"))
    yield wb, run
    wb.close()
    close()


def norm(v):
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, (pd.Timestamp, dt.datetime)):
        return pd.Timestamp(v).tz_localize(None).to_pydatetime()
    if hasattr(v, "item") and not isinstance(v, str):
        v = v.item()
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return round(float(v), 6)
    return v


def normal(rows) -> list[tuple]:
    return sorted((tuple(norm(v) for v in r) for r in rows), key=repr)


@pytest.mark.parametrize("case", sorted(CASES))
def test_sql_model_matches_hand_written_sql(engine, case):
    wb, run = engine
    who, query, oracle = CASES[case]
    df = wb.as_principal(PRINCIPALS[who]).query("shop_sql", **query).df
    cols = list(query.get("dimensions", [])) + list(query.get("metrics", []))
    got = normal(df[cols].itertuples(index=False))
    want = normal(run(oracle))
    assert want, "the oracle returned nothing: the case checks too little"
    assert got == want


def test_sql_model_honours_order_and_limit(engine):
    wb, run = engine
    df = wb.query(
        "shop_sql",
        metrics=["revenue"],
        dimensions=["completed_orders"],
        order=["-revenue"],
        limit=2,
    ).df
    want = run(
        f"select t.completed_orders, sum(o.amount) as r from {{orders}} o left join {CT} t "
        "on t.customer_id = o.customer_id group by t.completed_orders order by r desc"
    )
    assert [norm(v) for v in df["revenue"]] == [norm(r[1]) for r in want[:2]]


def test_compiled_sql_reads_the_model_query(engine):
    wb, _ = engine
    sql = wb.query("shop_sql", metrics=["completed_amount"]).sql().lower()
    assert "completed" in sql and "group by" in sql


# errors (DuckDB: they come from loading and binding, the same on every engine) --------------
def _model_file(tmp_path: Path, sql_block: str, extra_models: str = "") -> Path:
    d = tmp_path / "models"
    d.mkdir(exist_ok=True)
    f = d / "bad.yml"
    f.write_text(
        "models:\n"
        "  - name: orders\n"
        "    table: orders\n"
        "    measures:\n"
        "      - {name: revenue, agg: sum, expr: amount}\n"
        "  - name: broken\n"
        f"    sql: {sql_block}\n"
        "    measures:\n"
        "      - {name: n, agg: count}\n" + extra_models
    )
    return f


@pytest.mark.parametrize(
    "sql,needle",
    [
        ("select 1 as x; drop table orders", "one SELECT statement, found 2"),
        ("insert into orders select * from orders", "not INSERT"),
        ("create table t as select 1 as x", "not CREATE"),
        ("select * into copy_of_orders from orders", "SELECT ... INTO"),
        ("with gone as (delete from orders returning *) select * from gone", "contains DELETE"),
        ("select amount from", "does not parse"),
        ("pragma database_list", "not PRAGMA"),
    ],
)
def test_bad_model_sql_names_file_line_and_field(tmp_path, sql, needle):
    f = _model_file(tmp_path, sql)
    with pytest.raises(ModelError) as e:
        load_file(f)
    assert needle in str(e.value)
    assert e.value.file == str(f)
    assert e.value.line == 7  # the `sql:` line of model 'broken'
    assert e.value.field == "models[broken].sql"


def test_bad_sql_in_a_block_scalar_points_at_the_field(tmp_path):
    f = _model_file(tmp_path, "|\n      select 1 as x;\n      delete from orders")
    with pytest.raises(ModelError) as e:
        load_file(f)
    assert e.value.line == 7 and e.value.field == "models[broken].sql"
    assert "2 statements" in str(e.value)


@pytest.fixture
def shop_file(tmp_path) -> Path:
    return build_shop(tmp_path / "shop.duckdb")


def test_sql_the_engine_rejects_names_the_model_and_leaves_the_engine_usable(tmp_path, shop_file):
    """The bug: a failing model query left DuckDB with a pending result, every later lookup
    failed with "Resource In Use", and all of it was reported as missing tables."""
    f = _model_file(tmp_path, "select customer_id, no_such_column from orders")
    (f.parent / "good.yml").write_text(
        "models:\n  - name: orders\n    table: orders\n    measures:\n"
        "      - {name: revenue, agg: sum, expr: amount}\n"
    )
    wb = workbench.connect(
        warehouse=shop_file,
        models_dir=f.parent,
        cache="none",
        principals_file=tmp_path / "none.yml",
    )
    try:
        with pytest.raises(ModelError) as e:
            _ = wb.query("bad", metrics=["revenue"]).df
        assert e.value.file == str(f) and e.value.line == 7
        assert e.value.field == "models[broken].sql"
        assert "no_such_column" in str(e.value) and "missing tables" not in str(e.value)
        # the same connection still answers, and correctly
        got = wb.query("good", metrics=["revenue"]).df["revenue"].iloc[0]
        assert got == pytest.approx(sum(o[4] for o in ORDERS))
    finally:
        wb.close()


def test_sql_over_an_absent_table_is_missing_tables(tmp_path, shop_file):
    f = _model_file(tmp_path, "select customer_id from no_such_table")
    wb = workbench.connect(
        warehouse=shop_file,
        models_dir=f.parent,
        cache="none",
        principals_file=tmp_path / "none.yml",
    )
    try:
        with pytest.raises(EngineError, match=r"missing tables: no_such_table\)"):
            _ = wb.query("bad", metrics=["revenue"]).df
    finally:
        wb.close()


def test_the_model_query_is_not_run_to_learn_its_columns(tmp_path, shop_file):
    """Binding asks DuckDB to DESCRIBE the query: a query that would take minutes binds at once."""
    f = _model_file(tmp_path, "select count(*) as n_rows from range(100000000000) a")
    wb = workbench.connect(
        warehouse=shop_file,
        models_dir=f.parent,
        cache="none",
        principals_file=tmp_path / "none.yml",
    )
    try:
        t0 = time.perf_counter()
        sql = wb.query("bad", metrics=["revenue"]).sql()
        assert time.perf_counter() - t0 < 5
        assert "orders" in sql
        assert wb.engine.schema_of(
            wb.engine.sql_table("select count(*) as n_rows from range(100000000000) a")
        ) == {"n_rows": "int64"}
    finally:
        wb.close()
