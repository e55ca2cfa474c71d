"""Fixtures for the streaming tests: temporary warehouses, the demo spec, comparisons that are
computed independently of the pipeline (plain SQL over silver and over the source)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.support.prerequisites import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]


def demo_spec() -> dict:
    return YAML(typ="safe").load((ROOT / "pipelines" / "demo_orders.yml").read_text())


def spec_with_source(source: dict, **extra) -> dict:
    spec = copy.deepcopy(demo_spec())
    spec["source"] = source
    spec.update(extra)
    return spec


# gold, recomputed with hand-written SQL (not the pipeline's own SQL generator); the dimensions are
# those of pipelines/demo_orders.yml (the dashboard drills region -> store -> category)
RECOMPUTE = {
    "live_sales_minute": """SELECT date_trunc('minute', ordered_at) AS minute, region_id, channel_id, store_id,
        coalesce(sum(net_amount) FILTER (WHERE status <> 'cancelled'), 0) AS revenue,
        count(*) FILTER (WHERE status <> 'cancelled') AS orders, count(*) AS all_orders, count(*) AS _rows
        FROM silver_orders GROUP BY ALL""",
    "live_sales_hour": """SELECT date_trunc('hour', ordered_at) AS hour, region_id,
        coalesce(sum(net_amount) FILTER (WHERE status <> 'cancelled'), 0) AS revenue,
        count(*) FILTER (WHERE status <> 'cancelled') AS orders, count(*) AS _rows
        FROM silver_orders GROUP BY ALL""",
    "live_sales_day": """SELECT date_trunc('day', ordered_at) AS day, region_id,
        coalesce(sum(net_amount) FILTER (WHERE status <> 'cancelled'), 0) AS revenue,
        count(*) FILTER (WHERE status <> 'cancelled') AS orders, count(*) AS _rows
        FROM silver_orders GROUP BY ALL""",
    "live_category_minute": """SELECT date_trunc('minute', o.ordered_at) AS minute, p.category_id, o.region_id,
        o.store_id,
        coalesce(sum(l.line_amount) FILTER (WHERE o.status <> 'cancelled'), 0) AS line_revenue,
        coalesce(sum(l.quantity) FILTER (WHERE o.status <> 'cancelled'), 0) AS units, count(*) AS _rows
        FROM silver_order_lines l JOIN silver_orders o USING (order_id) JOIN products p USING (product_id)
        GROUP BY ALL""",
}


# the demo spec's quality gate quarantines failing orders, and gold skips them: so does the oracle
# (the quarantine's row key of an order is the JSON array of its key, e.g. '[42]')
VISIBLE_ORDERS = (
    "(SELECT * FROM silver_orders WHERE '[' || order_id || ']' NOT IN (SELECT row_key FROM "
    "stream_quarantine WHERE released_at IS NULL AND silver_table = 'silver_orders'))"
)


def assert_gold_matches_recompute(con) -> None:
    gated = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'stream_quarantine'"
    ).fetchone()[0]
    for name, sql in RECOMPUTE.items():
        gold = con.execute(f"SELECT * FROM {name}").fetchall()
        full = con.execute(
            sql.replace("FROM silver_orders", f"FROM {VISIBLE_ORDERS} silver_orders").replace(
                "JOIN silver_orders o", f"JOIN {VISIBLE_ORDERS} o"
            )
            if gated
            else sql
        ).fetchall()

        def norm(rows):
            return sorted(tuple(float(v) if hasattr(v, "as_tuple") else v for v in r) for r in rows)

        assert norm(gold) == norm(full), f"{name}: gold differs from a full recompute"


def silver_rows(con, table: str, columns: list[str]) -> list[tuple]:
    cols = ", ".join(columns)
    return sorted(con.execute(f"SELECT {cols} FROM silver_{table}").fetchall())


@pytest.fixture()
def warehouse(tmp_path):
    return tmp_path / "wh.duckdb"


@pytest.fixture(scope="session")
def postgres_dsn():
    try:
        import psycopg2

        con = psycopg2.connect("host=127.0.0.1 user=postgres dbname=postgres connect_timeout=3")
        cur = con.cursor()
        cur.execute("show wal_level")
        level = cur.fetchone()[0]
        con.close()
    except Exception as e:
        skip_or_fail(f"PostgreSQL not reachable on 127.0.0.1:5432: {e}")
    if level != "logical":
        skip_or_fail(
            f"PostgreSQL wal_level is {level}, needs logical (scripts/prepare_services.sh)"
        )
    return "host=127.0.0.1 user=postgres dbname=postgres"


@pytest.fixture(scope="session")
def redis_url():
    try:
        import redis

        r = redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=3)
        r.ping()
    except Exception as e:
        skip_or_fail(f"Redis not reachable on 127.0.0.1:6379: {e}")
    return "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def rabbitmq_stream():
    import socket

    try:
        socket.create_connection(("127.0.0.1", 5552), timeout=3).close()
    except OSError as e:
        skip_or_fail(
            f"RabbitMQ streams not reachable on 127.0.0.1:5552 (rabbitmq_stream plugin): {e}"
        )
    return {"host": "127.0.0.1", "port": 5552, "username": "guest", "password": "guest"}


@pytest.fixture()
def pg_env_factory(postgres_dsn):
    """A fresh schema and slot name; the slot, publication and schema are dropped afterwards."""
    import time
    import uuid

    import psycopg2

    tag = uuid.uuid4().hex[:8]
    schema = slot = f"wbtest_{tag}"
    yield schema, slot
    con = psycopg2.connect(postgres_dsn)
    con.autocommit = True
    cur = con.cursor()
    for _ in range(50):
        cur.execute("SELECT active_pid FROM pg_replication_slots WHERE slot_name = %s", [slot])
        row = cur.fetchone()
        if row is None or row[0] is None:
            break
        cur.execute("SELECT pg_terminate_backend(%s)", [row[0]])
        time.sleep(0.1)
    cur.execute(
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s",
        [slot],
    )
    cur.execute(f'DROP PUBLICATION IF EXISTS "{slot}_pub"')
    cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    con.close()
