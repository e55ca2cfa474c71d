"""Streaming benchmark: events/s through bronze, silver and gold; commit->gold latency; one
incremental gold refresh vs a full recompute at the same silver size; per path (embedded, Redis
broker, PostgreSQL).

    python benchmarks/streaming.py [--quick]
"""
from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import REPO_ROOT, emit_final, timed_median, write_results  # noqa: E402
from ruamel.yaml import YAML  # noqa: E402

from workbench.streaming import envelope, pipeline_from_dict  # noqa: E402
from workbench.streaming.events import RawEvent, dumps  # noqa: E402
from workbench.streaming.simulator import OrderSimulator  # noqa: E402


def demo_spec(source: dict) -> dict:
    spec = YAML(typ="safe").load((REPO_ROOT / "pipelines" / "demo_orders.yml").read_text())
    spec = copy.deepcopy(spec)
    spec["source"] = source
    spec["batch"] = {"max_events": 50_000, "max_latency_ms": 100, "max_queue": 400_000}
    return spec


def drain(p, expected: int, timeout: float = 120) -> float:
    stop = threading.Event()
    t = threading.Thread(target=p.run, args=(stop,), daemon=True)
    t0 = time.perf_counter()
    t.start()
    while p.stats["events_total"] < expected and time.perf_counter() - t0 < timeout and t.is_alive():
        time.sleep(0.01)
    el = time.perf_counter() - t0
    stop.set()
    t.join(30)
    return el


def exactness(p, produced: int) -> tuple[int, int]:
    n, distinct = p.cursor().execute("SELECT count(*), count(DISTINCT (pos_hi, pos_lo)) FROM bronze_events").fetchone()
    return max(0, produced - distinct), n - distinct


def steady_latency(spec, wh, publish, rate: float, seconds: float, sim) -> dict:
    """Producer at `rate` events/s; p50/p99 of source commit -> gold committed."""
    p = pipeline_from_dict("bench_latency", spec, wh)
    stop = threading.Event()
    t = threading.Thread(target=p.run, args=(stop,), daemon=True)
    t.start()
    time.sleep(1.0)
    t0 = time.monotonic()
    sent = 0
    while time.monotonic() - t0 < seconds:
        pl = [dumps(envelope(tb, op, b, a)) for tx in sim.transactions(int(rate / 10 / 2.2)) for tb, op, b, a in tx]
        publish(pl)
        sent += len(pl)
        time.sleep(max(0, 0.1 - (time.monotonic() - t0) % 0.1))
    time.sleep(1.0)
    st = p.status()
    stop.set()
    t.join(30)
    p.close()
    return {"rate": round(sent / seconds), "p50_s": st["latency_p50_s"], "p99_s": st["latency_p99_s"]}


def bench_broker(quick: bool, tmp: Path) -> dict:
    from workbench.streaming.sources.redis_streams import publish
    import redis
    url = "redis://127.0.0.1:6379/0"
    key = f"wbbench:{uuid.uuid4().hex[:8]}"
    try:
        redis.Redis.from_url(url).ping()
    except Exception as e:
        return {"error": f"redis unavailable: {e}"}
    sim = OrderSimulator(seed=1)
    n_tx = 10_000 if quick else 200_000
    pl = [dumps(envelope(t, op, b, a)) for tx in sim.transactions(n_tx) for t, op, b, a in tx]
    publish(url, key, pl)
    spec = demo_spec({"kind": "redis", "url": url, "stream": key})
    p = pipeline_from_dict("bench_redis", spec, tmp / "redis.duckdb")
    p._open_warehouse()
    el = drain(p, len(pl))
    lost, dup = exactness(p, len(pl))
    p.close()
    key2 = key + ":lat"
    lat = steady_latency(demo_spec({"kind": "redis", "url": url, "stream": key2}), tmp / "redis_lat.duckdb",
                         lambda x: publish(url, key2, x), 5000, 4 if quick else 20, sim)
    redis.Redis.from_url(url).delete(key, key2)
    return {"events": len(pl), "seconds": round(el, 2), "events_per_s": round(len(pl) / el), "lost": lost,
            "duplicated": dup, "latency": lat}


def bench_embedded(quick: bool, tmp: Path) -> dict:
    from workbench.streaming.sources.embedded import OperationalStore
    spec = demo_spec({"kind": "embedded", "path": str(tmp / "op.sqlite")})
    p = pipeline_from_dict("bench_embedded", spec, tmp / "emb.duckdb")
    p._open_warehouse()
    store = OperationalStore(tmp / "op.sqlite", p.spec.tables)
    sim = OrderSimulator(seed=2)
    n_tx = 2_000 if quick else 60_000
    txs = sim.transactions(n_tx)
    t0 = time.perf_counter()
    for i in range(0, len(txs), 200):   # the simulator groups orders into larger SQLite transactions
        store.write([[op for tx in txs[i:i + 200] for op in tx]])
    write_s = time.perf_counter() - t0
    n = store.con.execute("SELECT count(*) FROM _cdc_outbox").fetchone()[0]
    el = drain(p, n)
    lost, dup = exactness(p, n)
    p.close()
    return {"events": n, "seconds": round(el, 2), "events_per_s": round(n / el), "lost": lost, "duplicated": dup,
            "source_write_events_per_s": round(n / write_s)}


def bench_postgres(quick: bool, tmp: Path) -> dict:
    try:
        import psycopg2
        from workbench.streaming.sources.postgres import create_tables, write_transactions
        dsn = "host=127.0.0.1 user=postgres dbname=postgres"
        con = psycopg2.connect(dsn)
    except Exception as e:
        return {"error": f"postgres unavailable: {e}"}
    tag = uuid.uuid4().hex[:8]
    schema = slot = f"wbbench_{tag}"
    spec = demo_spec({"kind": "postgres", "dsn": dsn, "slot": slot, "plugin": "pgoutput", "schema": schema})
    try:
        p = pipeline_from_dict("bench_pg", spec, tmp / "pg.duckdb")
        create_tables(con, schema, p.spec.tables)
        p._open_warehouse()
        # start once on an empty schema (slot created), then measure streaming
        p.start()
        t_open = time.monotonic()
        while p._source is None and time.monotonic() - t_open < 30:   # slot created
            time.sleep(0.05)
        p.stop()
        p.close()
        sim = OrderSimulator(seed=3)
        txs = sim.transactions(800 if quick else 20_000)
        n = sum(len(t) for t in txs)
        t0 = time.perf_counter()
        write_transactions(con, schema, txs, p.spec.tables)
        write_s = time.perf_counter() - t0
        p2 = pipeline_from_dict("bench_pg", spec, tmp / "pg.duckdb")
        el = drain(p2, n)
        lost, dup = exactness(p2, n)
        st = p2.status()
        p2.close()
        return {"events": n, "seconds": round(el, 2), "events_per_s": round(n / el), "lost": lost,
                "duplicated": dup, "source_write_events_per_s": round(n / write_s),
                "latency_backlog_p99_s": st["latency_p99_s"]}
    finally:
        con.rollback()
        con.autocommit = True
        cur = con.cursor()
        time.sleep(0.5)
        cur.execute("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = %s "
                    "AND active_pid IS NOT NULL", [slot])
        time.sleep(0.3)
        cur.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s", [slot])
        cur.execute(f'DROP PUBLICATION IF EXISTS "{slot}_pub"')
        cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        con.close()


def bench_incremental(quick: bool, tmp: Path) -> dict:
    """Silver with N order lines (N/2.2 orders); one batch of changes: incremental vs full recompute."""
    from workbench.streaming.apply import BatchApplier
    n_lines = 1_000_000 if quick else 10_000_000
    n_orders = int(n_lines / 2.2)
    spec = demo_spec({"kind": "embedded", "path": str(tmp / "unused.sqlite")})
    p = pipeline_from_dict("bench_incr", spec, tmp / "incr.duckdb")
    p._open_warehouse()
    c = p.cursor()
    c.execute(f"""INSERT INTO silver_orders SELECT i, 1 + i % 80000, 1 + i % 44, 1 + i % 4, 1 + i % 5,
        TIMESTAMP '2026-01-01' + INTERVAL (i) SECOND, CASE WHEN i % 50 = 0 THEN 'cancelled' ELSE 'completed' END,
        i % 7 = 0, 2, 100, 0, 100, i, 0 FROM range(1, {n_orders + 1}) t(i)""")
    c.execute(f"""INSERT INTO silver_order_lines SELECT 1 + (i // 2.2)::BIGINT, (i % 3) + 1, 1 + i % 602, 1, 50, 0, 50, i, 0
        FROM range(0, {n_lines}) t(i) WHERE 1 + (i // 2.2)::BIGINT <= {n_orders}
        QUALIFY row_number() OVER (PARTITION BY 1 + (i // 2.2)::BIGINT, (i % 3) + 1) = 1""")
    silver_rows = c.execute("SELECT (SELECT count(*) FROM silver_orders) + (SELECT count(*) FROM silver_order_lines)").fetchone()[0]
    for v in p.views:
        v.recompute(c)
    applier = BatchApplier(p.con, p.spec, p.name, p.views)
    sim = OrderSimulator(seed=4, first_order_id=n_orders + 1)
    state = {"pos": 10**12}

    def one_batch():
        evs = []
        for tx in sim.transactions(1000):
            for t, op, b, a in tx:
                state["pos"] += 1
                evs.append(RawEvent(state["pos"], 0, str(state["pos"]), dumps(envelope(t, op, b, a))))
        applier.apply(evs, None)

    def recompute():
        for v in p.views:
            c.execute(f"CREATE OR REPLACE TEMP TABLE _recompute AS {v.recompute_sql()}")

    inc_s, _ = timed_median(one_batch, 5)
    full_s, _ = timed_median(recompute, 3)
    p.close()
    return {"silver_rows": int(silver_rows), "incremental_batch_s": round(inc_s, 4), "batch_events": "~2300",
            "full_recompute_s": round(full_s, 4), "speedup": round(full_s / inc_s, 1)}


def first_render() -> float | None:
    try:
        from workbench.ui import live_dashboard  # part B; optional
        fn = getattr(live_dashboard, "first_render_seconds", None)
        return float(fn()) if fn else None
    except Exception:
        return None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="wb-stream-bench-"))
    res = {}
    for name, fn in (("embedded", bench_embedded), ("broker_redis", bench_broker), ("postgres", bench_postgres),
                     ("incremental", bench_incremental)):
        t0 = time.perf_counter()
        try:
            res[name] = fn(args.quick, tmp)
        except Exception as e:
            res[name] = {"error": f"{type(e).__name__}: {e}"}
        print(f"{name}: {res[name]}  ({time.perf_counter() - t0:.1f}s)", flush=True)
    rates = [res[k].get("events_per_s") for k in ("embedded", "broker_redis") if res[k].get("events_per_s")]
    paths = [res[k] for k in ("embedded", "broker_redis", "postgres") if "events" in res[k]]
    figures = {
        "events_per_s": max(rates) if rates else None,
        "p99_latency_s": res["broker_redis"].get("latency", {}).get("p99_s"),
        "incremental_speedup": res["incremental"].get("speedup"),
        "first_render_s": first_render(),
        "lost": sum(r["lost"] for r in paths) if paths else None,
        "duplicated": sum(r["duplicated"] for r in paths) if paths else None,
    }
    write_results("streaming", {**figures, "quick": args.quick, "paths": res})
    emit_final(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
