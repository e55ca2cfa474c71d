"""Redis Streams and RabbitMQ Streams carrying Debezium JSON: offsets, restarts, dead letters."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from workbench.streaming import envelope, pipeline_from_dict
from workbench.streaming.events import dumps
from workbench.streaming.simulator import ORDERS_COLUMNS, OrderSimulator

from .conftest import assert_gold_matches_recompute, spec_with_source

pytestmark = pytest.mark.services


def payloads(sim, n):
    return [
        dumps(envelope(t, op, b, a, tx_id=i))
        for i, tx in enumerate(sim.transactions(n))
        for t, op, b, a in tx
    ]


def run_until(p, n, timeout=60):
    stop = threading.Event()
    t = threading.Thread(target=p.run, args=(stop,), daemon=True)
    t.start()
    deadline = time.monotonic() + timeout
    while p.stats["events_total"] < n and time.monotonic() < deadline and t.is_alive():
        time.sleep(0.05)
    stop.set()
    t.join(20)
    assert p.stats["events_total"] >= n, p.status()


def check_state(p, sim):
    c = p.cursor()
    got = sorted(
        tuple(str(x) for x in r)
        for r in c.execute(f"SELECT {', '.join(ORDERS_COLUMNS)} FROM silver_orders").fetchall()
    )
    want = sorted(tuple(str(v[k]) for k in ORDERS_COLUMNS) for v in sim.state["orders"].values())
    assert got == want
    assert c.execute("SELECT count(*) FROM silver_order_lines").fetchone()[0] == len(
        sim.state["order_lines"]
    )
    assert_gold_matches_recompute(c)


def _broker_roundtrip(source, publish, tmp_path):
    wh = tmp_path / "wh.duckdb"
    spec = spec_with_source(source)
    spec["batch"] = {**spec["batch"], "max_latency_ms": 50}
    sim = OrderSimulator(seed=13)
    first = payloads(sim, 200)
    publish(first[:50] + ["{not json", dumps(envelope("nope", "c", None, {"x": 1}))] + first[50:])
    p = pipeline_from_dict("broker_test", spec, wh)
    run_until(p, len(first) + 2)
    p.close()
    second = payloads(sim, 150)
    publish(second)
    p2 = pipeline_from_dict("broker_test", spec, wh)
    run_until(p2, len(second))
    assert p2.stats["events_total"] == len(second)  # resumed after the stored offset
    check_state(p2, sim)
    reasons = [
        r[0]
        for r in p2.cursor()
        .execute("SELECT reason FROM stream_dead_letters ORDER BY pos_hi")
        .fetchall()
    ]
    assert reasons == ["malformed JSON", "unknown table nope"]


def test_redis_streams(redis_url, tmp_path):
    import redis

    from workbench.streaming.sources.redis_streams import publish

    key = f"wbtest:{uuid.uuid4().hex[:8]}"
    try:
        _broker_roundtrip(
            {"kind": "redis", "url": redis_url, "stream": key},
            lambda pl: publish(redis_url, key, pl),
            tmp_path,
        )
    finally:
        redis.Redis.from_url(redis_url).delete(key)


def test_rabbitmq_streams(rabbitmq_stream, tmp_path):
    from workbench.streaming.sources.rabbitmq import delete_stream, publish

    stream = f"wbtest-{uuid.uuid4().hex[:8]}"
    try:
        _broker_roundtrip(
            {"kind": "rabbitmq", "stream": stream}, lambda pl: publish(stream, pl), tmp_path
        )
    finally:
        delete_stream(stream)


def test_redis_lag_counts_unread_entries_without_scanning(redis_url):
    import redis

    from workbench.streaming.sources.redis_streams import RedisOptions, RedisStreamSource, publish

    key = f"wbtest:{uuid.uuid4().hex[:8]}"
    r = redis.Redis.from_url(redis_url)
    try:
        publish(redis_url, key, [f'{{"n": {i}}}' for i in range(50)])
        src = RedisStreamSource(RedisOptions(url=redis_url, stream=key), "lag_test", {})
        src.open(None)
        assert src.lag() == 50
        first = src.poll(20, 0.1)
        assert len(first) == 20 and src.lag() == 30
        publish(redis_url, key, ['{"n": 50}'] * 5)
        assert src.lag() == 35
        rest = src.poll(100, 0.1)
        assert len(rest) == 35 and src.lag() == 0
        src.close()
        # resuming after a position: unknown until caught up, then counted again
        resumed = RedisStreamSource(RedisOptions(url=redis_url, stream=key), "lag_test", {})
        resumed.open((first[-1][0], first[-1][1]))
        assert resumed.lag() is None
        assert len(resumed.poll(100, 0.1)) == 35 and resumed.lag() == 0
        publish(redis_url, key, ['{"n": 60}'] * 3)
        assert resumed.lag() == 3
        resumed.close()
    finally:
        r.delete(key)
        r.close()
