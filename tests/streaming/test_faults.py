"""kill -9 the ingester repeatedly under sustained load; afterwards silver equals the source and
gold equals a full recompute (PostgreSQL and Redis Streams)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from workbench.streaming import envelope, pipeline_from_dict
from workbench.streaming.events import dumps
from workbench.streaming.simulator import LINES_COLUMNS, ORDERS_COLUMNS, OrderSimulator

from .conftest import ROOT, assert_gold_matches_recompute, spec_with_source

pytestmark = [pytest.mark.services, pytest.mark.slow]
KILLS = 3


def _spawn(spec_path: Path, wh: Path, log) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workbench.streaming.cli",
            str(spec_path),
            "--warehouse",
            str(wh),
            "--status-every",
            "0",
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _kill_loop(spec_path, wh, producing: threading.Event, tmp_path):
    log = open(tmp_path / "ingest.log", "ab")
    kills = 0
    while kills < KILLS:
        proc = _spawn(spec_path, wh, log)
        time.sleep(2.5 + kills)  # let it start, snapshot/resume and commit some batches
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
    while producing.is_set():
        time.sleep(0.1)
    return kills


def _drain(spec, wh, quiet_s=2.0, timeout=90):
    p = pipeline_from_dict("fault_test", spec, wh)
    stop = threading.Event()
    t = threading.Thread(target=p.run, args=(stop,), daemon=True)
    t.start()
    last, since, deadline = -1, time.monotonic(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.2)
        n = p.stats["events_total"]
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since > quiet_s and p.status()["state"] == "running":
            break
    stop.set()
    t.join(20)
    return p


def _write_spec(tmp_path, spec) -> Path:
    path = tmp_path / "fault_test.yml"
    with open(path, "w") as f:
        YAML().dump(spec, f)
    return path


def test_postgres_kill9_under_load(pg_env_factory, postgres_dsn, tmp_path):
    import psycopg2

    from workbench.streaming.sources.postgres import create_tables, write_transactions

    schema, slot = pg_env_factory
    spec = spec_with_source(
        {
            "kind": "postgres",
            "dsn": postgres_dsn,
            "slot": slot,
            "plugin": "pgoutput",
            "schema": schema,
        }
    )
    spec["batch"] = {"max_events": 2000, "max_latency_ms": 100, "max_queue": 20000}
    wh = tmp_path / "wh.duckdb"
    con = psycopg2.connect(postgres_dsn)
    p0 = pipeline_from_dict("fault_test", spec, wh)
    create_tables(con, schema, p0.spec.tables)
    sim = OrderSimulator(seed=77)
    write_transactions(con, schema, sim.transactions(300), p0.spec.tables)  # snapshot part
    producing = threading.Event()
    producing.set()

    def produce():
        try:
            for _ in range(40):
                write_transactions(con, schema, sim.transactions(60), p0.spec.tables)
                time.sleep(0.2)
        finally:
            producing.clear()

    spec_path = _write_spec(tmp_path, spec)
    prod = threading.Thread(target=produce, daemon=True)
    prod.start()
    assert _kill_loop(spec_path, wh, producing, tmp_path) == KILLS
    prod.join()
    p = _drain(spec, wh)
    c = p.cursor()
    for table, cols in (("orders", ORDERS_COLUMNS), ("order_lines", LINES_COLUMNS)):
        cur = con.cursor()
        cur.execute(f'SELECT {", ".join(cols)} FROM "{schema}"."{table}"')
        assert sorted(
            c.execute(f"SELECT {', '.join(cols)} FROM silver_{table}").fetchall()
        ) == sorted(cur.fetchall())
    assert (
        c.execute(
            "SELECT count(*) - count(DISTINCT (pos_hi, pos_lo)) FROM bronze_events"
        ).fetchone()[0]
        == 0
    )
    assert c.execute("SELECT count(*) FROM stream_dead_letters").fetchone()[0] == 0
    assert_gold_matches_recompute(c)
    con.close()


def test_redis_kill9_under_load(redis_url, tmp_path):
    import redis

    from workbench.streaming.sources.redis_streams import publish

    key = f"wbtest:fault:{uuid.uuid4().hex[:8]}"
    spec = spec_with_source({"kind": "redis", "url": redis_url, "stream": key})
    spec["batch"] = {"max_events": 2000, "max_latency_ms": 100, "max_queue": 20000}
    wh = tmp_path / "wh.duckdb"
    sim = OrderSimulator(seed=78)
    total = 0
    producing = threading.Event()
    producing.set()

    def produce():
        nonlocal total
        try:
            for i in range(40):
                pl = [
                    dumps(envelope(t, op, b, a, tx_id=i))
                    for tx in sim.transactions(150)
                    for t, op, b, a in tx
                ]
                publish(redis_url, key, pl)
                total += len(pl)
                time.sleep(0.2)
        finally:
            producing.clear()

    try:
        prod = threading.Thread(target=produce, daemon=True)
        prod.start()
        assert _kill_loop(_write_spec(tmp_path, spec), wh, producing, tmp_path) == KILLS
        prod.join()
        p = _drain(spec, wh)
        c = p.cursor()
        assert c.execute(
            "SELECT count(*), count(DISTINCT (pos_hi, pos_lo)) FROM bronze_events"
        ).fetchone() == (total, total)  # none lost, none twice
        got = sorted(
            tuple(str(x) for x in r)
            for r in c.execute(f"SELECT {', '.join(ORDERS_COLUMNS)} FROM silver_orders").fetchall()
        )
        assert got == sorted(
            tuple(str(v[k]) for k in ORDERS_COLUMNS) for v in sim.state["orders"].values()
        )
        assert c.execute("SELECT count(*) FROM silver_order_lines").fetchone()[0] == len(
            sim.state["order_lines"]
        )
        assert_gold_matches_recompute(c)
    finally:
        redis.Redis.from_url(redis_url).delete(key)
