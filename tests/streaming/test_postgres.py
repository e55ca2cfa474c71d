"""PostgreSQL logical decoding against the real server: snapshot + streaming, every plugin,
commit order (including interleaved multi-table transactions), exactly once."""

from __future__ import annotations

import uuid

import duckdb
import pytest

from workbench.streaming import pipeline_from_dict
from workbench.streaming.simulator import LINES_COLUMNS, ORDERS_COLUMNS, OrderSimulator
from workbench.streaming.sources.postgres import create_tables, write_transactions

from .conftest import assert_gold_matches_recompute, spec_with_source

pytestmark = pytest.mark.services


def pg_rows(dsn, schema, table, columns):
    import psycopg2

    con = psycopg2.connect(dsn)
    cur = con.cursor()
    cur.execute(f'SELECT {", ".join(columns)} FROM "{schema}"."{table}"')
    rows = cur.fetchall()
    con.close()
    return sorted(rows)


def silver(p, table, columns):
    return sorted(p.cursor().execute(f"SELECT {', '.join(columns)} FROM silver_{table}").fetchall())


@pytest.fixture()
def pg_env(postgres_dsn):
    import psycopg2

    tag = uuid.uuid4().hex[:8]
    schema, slot = f"wbtest_{tag}", f"wbtest_{tag}"
    con = psycopg2.connect(postgres_dsn)
    yield con, schema, slot
    con.rollback()
    cur = con.cursor()
    con.autocommit = True
    cur.execute(
        "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = %s "
        "AND active_pid IS NOT NULL",
        [slot],
    )
    import time

    time.sleep(0.2)
    cur.execute(
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s",
        [slot],
    )
    cur.execute(f'DROP PUBLICATION IF EXISTS "{slot}_pub"')
    cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    con.close()


def _pipeline(dsn, schema, slot, plugin, warehouse, **batch):
    spec = spec_with_source(
        {"kind": "postgres", "dsn": dsn, "slot": slot, "plugin": plugin, "schema": schema}
    )
    spec["batch"] = {**spec["batch"], "max_latency_ms": 50, **batch}
    return pipeline_from_dict("pg_test", spec, warehouse)


def _run_until(p, n_events, timeout=60):
    import threading
    import time

    stop = threading.Event()
    t = threading.Thread(target=p.run, args=(stop,), daemon=True)
    t.start()
    deadline = time.monotonic() + timeout
    while p.stats["events_total"] < n_events and time.monotonic() < deadline and t.is_alive():
        time.sleep(0.05)
    stop.set()
    t.join(20)
    assert p.stats["events_total"] >= n_events, p.status()


@pytest.mark.parametrize("plugin", ["pgoutput", "test_decoding", "wal2json"])
def test_snapshot_then_stream_exactly_once(pg_env, postgres_dsn, plugin, tmp_path):
    if plugin == "wal2json":
        import subprocess

        if (
            "wal2json"
            not in subprocess.run(
                ["bash", "-c", "ls /usr/lib/postgresql/*/lib/"], capture_output=True, text=True
            ).stdout
        ):
            from tests.support.prerequisites import skip_or_fail

            skip_or_fail("wal2json is not installed (apt-get install postgresql-15-wal2json)")
    con, schema, slot = pg_env
    p = _pipeline(postgres_dsn, schema, slot, plugin, tmp_path / "wh.duckdb")
    create_tables(con, schema, p.spec.tables)
    sim = OrderSimulator(seed=21)
    before = sim.transactions(150)  # exist before the pipeline: the snapshot
    write_transactions(con, schema, before, p.spec.tables)
    n_snapshot = len(sim.state["orders"]) + len(sim.state["order_lines"])
    p._open_warehouse()
    _run_until(p, n_snapshot)
    after = sim.transactions(250)  # streamed
    write_transactions(con, schema, after, p.spec.tables)
    n_stream = sum(len(tx) for tx in after)
    _run_until(p, n_snapshot + n_stream)
    assert p.stats["events_total"] == n_snapshot + n_stream  # nothing twice
    for table, cols in (("orders", list(ORDERS_COLUMNS)), ("order_lines", list(LINES_COLUMNS))):
        assert silver(p, table, cols) == pg_rows(postgres_dsn, schema, table, cols), table
    c = p.cursor()
    assert c.execute("SELECT count(*) FROM stream_dead_letters").fetchone()[0] == 0
    # bronze holds the streamed changes in commit order: the same sequence as executed
    got = c.execute(
        "SELECT source_table, op, payload->>'$.after.order_id', payload->>'$.before.order_id' "
        "FROM bronze_events WHERE op <> 'r' ORDER BY pos_hi, pos_lo"
    ).fetchall()
    want = [
        (
            t,
            op,
            None if a is None else str(a["order_id"]),
            None if b is None else str(b["order_id"]),
        )
        for tx in after
        for t, op, b, a in tx
    ]
    assert [(g[0], g[1], g[2] or g[3]) for g in got] == [(w[0], w[1], w[2] or w[3]) for w in want]
    assert_gold_matches_recompute(c)


def test_interleaved_multi_table_transactions_apply_in_commit_order(pg_env, postgres_dsn, tmp_path):
    import psycopg2

    con, schema, slot = pg_env
    p = _pipeline(postgres_dsn, schema, slot, "pgoutput", tmp_path / "wh.duckdb")
    create_tables(con, schema, p.spec.tables)
    p._open_warehouse()
    p.start()
    import time

    deadline = time.monotonic() + 30
    while (
        p._source is None and time.monotonic() < deadline
    ):  # the slot exists once the source is open
        time.sleep(0.05)
    c1, c2 = psycopg2.connect(postgres_dsn), psycopg2.connect(postgres_dsn)
    k1, k2 = c1.cursor(), c2.cursor()
    ins = (
        f'INSERT INTO "{schema}".orders (order_id, status, net_amount, ordered_at, region_id, channel_id) '
        "VALUES (%s, %s, %s, now(), 1, 1)"
    )
    line = (
        f'INSERT INTO "{schema}".order_lines (order_id, line_no, product_id, quantity, line_amount) '
        "VALUES (%s, 1, 5, 1, %s)"
    )
    # T1 starts first and writes row 1; T2 updates the same row later but commits first.
    k2.execute(ins, [1, "processing", 10])
    c2.commit()
    k1.execute(ins, [2, "processing", 20])  # T1 (commits last)
    k1.execute(line, [2, 20])
    k2.execute(f'UPDATE "{schema}".orders SET status = %s WHERE order_id = 1', ["completed"])  # T2
    k2.execute(line, [1, 10])
    c2.commit()
    k1.execute(f'UPDATE "{schema}".orders SET status = %s WHERE order_id = 2', ["cancelled"])
    k1.execute(f'DELETE FROM "{schema}".order_lines WHERE order_id = 2')
    c1.commit()
    c1.close()
    c2.close()
    while p.stats["events_total"] < 7 and time.monotonic() < deadline + 30:
        time.sleep(0.05)
    p.stop()
    c = p.cursor()
    seq = c.execute(
        "SELECT tx_id, source_table, op FROM bronze_events ORDER BY pos_hi, pos_lo"
    ).fetchall()
    txs = [s[0] for s in seq]
    assert txs[1] == txs[2] and txs[3] == txs[4] == txs[5] == txs[6] and txs[1] != txs[3]
    assert [s[1:] for s in seq[1:3]] == [
        ("orders", "u"),
        ("order_lines", "c"),
    ]  # T2 first: it committed first
    assert c.execute("SELECT order_id, status FROM silver_orders ORDER BY 1").fetchall() == [
        (1, "completed"),
        (2, "cancelled"),
    ]
    assert c.execute("SELECT order_id FROM silver_order_lines").fetchall() == [(1,)]
    assert_gold_matches_recompute(c)


def test_restart_resumes_from_slot_without_duplicates(pg_env, postgres_dsn, tmp_path):
    con, schema, slot = pg_env
    wh = tmp_path / "wh.duckdb"
    p = _pipeline(postgres_dsn, schema, slot, "test_decoding", wh)
    create_tables(con, schema, p.spec.tables)
    sim = OrderSimulator(seed=4)
    write_transactions(con, schema, sim.transactions(50), p.spec.tables)
    p._open_warehouse()
    n0 = len(sim.state["orders"]) + len(sim.state["order_lines"])
    _run_until(p, n0)
    p.close()
    txs = sim.transactions(100)
    write_transactions(con, schema, txs, p.spec.tables)
    p2 = _pipeline(postgres_dsn, schema, slot, "test_decoding", wh)
    p2._open_warehouse()
    _run_until(p2, sum(len(t) for t in txs))
    for table, cols in (("orders", list(ORDERS_COLUMNS)), ("order_lines", list(LINES_COLUMNS))):
        assert silver(p2, table, cols) == pg_rows(postgres_dsn, schema, table, cols), table
    b = duckdb.connect()
    del b
    assert (
        p2.cursor()
        .execute("SELECT count(*) - count(DISTINCT (pos_hi, pos_lo)) FROM bronze_events")
        .fetchone()[0]
        == 0
    )
    assert_gold_matches_recompute(p2.cursor())
